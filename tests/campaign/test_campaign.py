"""The accounting campaign at CI volume: every strategy, every fault kind, kill -9 at each phase, resume.

`campaign.py` beside this file is the same campaign as a script (100,000 records); see its docstring for
what each count means. Here every scenario must count 0 lost, 0 duplicated, 0 applied-but-not-reported
and 0 reported-but-not-applied, with an exit code that matches the outcome files.
"""

from __future__ import annotations

from typing import Any

import campaign
import pytest

RECORDS = 300
STRATEGIES = ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv", "auto"]
SCENARIOS = list(campaign.scenarios(RECORDS, STRATEGIES))


@pytest.fixture(scope="module")
def runner(campaign_org: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return campaign.Campaign(campaign_org, RECORDS, tmp_path_factory.mktemp("campaign"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.strategy}: {s.label}" for s in SCENARIOS])
def test_every_record_is_accounted_for(runner: Any, scenario: Any) -> None:
    tally = runner.run(scenario)
    assert (tally.lost, tally.duplicated, tally.applied_not_reported, tally.reported_not_applied) == (0, 0, 0, 0)
    assert tally.exit_code_matches, tally
    if scenario.kill is not None:
        assert tally.killed, "the client finished before the watcher saw the phase"
