"""The interrupted runs issue #16 names, each killed with SIGKILL in a child process and resumed from its
state directory alone: every input row ends in exactly one outcome file, and the org holds every value."""

from __future__ import annotations

from typing import Any

import campaign
import pytest

RECORDS = 1000


@pytest.fixture(scope="module")
def runner(campaign_org: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return campaign.Campaign(campaign_org, RECORDS, tmp_path_factory.mktemp("killed"))


def held(kind: str, nth: int) -> dict[str, Any]:
    return {"response_faults": [f"stall:{nth}:{kind}"], "stall_seconds": campaign.KILL_STALL_SECONDS}


def test_bulk1_killed_while_adding_batch_3_of_10(runner: Any) -> None:
    """Was: "resumed" as complete with the rows of the 7 batches never added in no file, exit 0."""
    scenario = campaign.Scenario(
        "bulk1-xml",
        "kill -9 adding batch 3 of 10",
        held(campaign.WRITES["bulk1-xml"]["batch"], 3),
        kill=("upload", 3),
        options={"batch_records": 100},
    )
    tally = runner.run(scenario)
    assert tally.killed and tally.resumed == 1
    assert (tally.lost, tally.duplicated, tally.applied_not_reported, tally.reported_not_applied) == (0, 0, 0, 0)
    assert tally.succeeded == RECORDS and tally.exit_code == 0


def test_bulk2_killed_after_creating_its_job_before_the_upload_finished(runner: Any) -> None:
    """Was: `resume` waited for the Open job until its timeout and wrote nothing."""
    scenario = campaign.Scenario(
        "bulk2-csv",
        "kill -9 during the upload",
        held(campaign.WRITES["bulk2-csv"]["upload"], 1),
        kill=("upload", 1),
        options={"multipart": False},
    )
    tally = runner.run(scenario)
    assert tally.killed and tally.resumed == 1
    assert (tally.lost, tally.duplicated, tally.applied_not_reported, tally.reported_not_applied) == (0, 0, 0, 0)
    assert tally.succeeded == RECORDS and tally.exit_code == 0
    jobs = runner.org.admin.jobs()["bulk2_ingest"]
    assert not [j for j in jobs if j["state"] == "Open"]  # the interrupted job was aborted, not left open
