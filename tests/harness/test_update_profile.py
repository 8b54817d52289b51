"""`update --profile`: the org's profile (as `calibrate` writes it) drives the budget guard's prediction and
the Bulk 2.0 polls `auto` weighs, so auto's choice follows the org it runs on."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from emulator.profiles import get_profile, save_profile
from harness.cli import app


def _input(org: Any, path: Path, n: int) -> Path:
    ids = org.admin.seed("Byline__c", n, return_ids=True)["ids"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "Tweets__c"])
        writer.writerows([record_id, i % 100] for i, record_id in enumerate(ids))
    return path


def _run(path: Path, out: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["update", "-s", "Byline__c", "-f", str(path), "--out", str(out), "--strategy", "auto", "--json", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])["result"]


def test_auto_follows_the_polls_the_org_profile_predicts(org: Any, tmp_path: Path) -> None:
    # The real poll schedule (no fast_polls): the prediction replays it, and the instant org's job is done at
    # the first check, 2.5 s in.
    # 3,000 narrow rows: one multipart Bulk 2.0 job (under 100,000 characters) against 3 Composite requests.
    path = _input(org, tmp_path / "in.csv", 3_000)
    calibrated = save_profile(get_profile("instant"), tmp_path / "my-org.json")  # an org that finishes at once

    guessed = _run(path, tmp_path / "a")  # the default, realistic: a job needs several polls
    assert guessed["plan"]["runs_as"] == "composite"
    assert guessed["summary"]["succeeded"] == 3_000

    measured = _run(path, tmp_path / "b", "--profile", str(calibrated))
    assert measured["plan"]["runs_as"] == "bulk2-csv" and measured["plan"]["predicted_calls"] == 2
    assert measured["summary"]["delegate"] == "bulk2-csv" and measured["summary"]["succeeded"] == 3_000
    # auto's budget look, then the job: its create with the data and one poll (the prediction's 2)
    assert measured["summary"]["calls_by_phase"] == {"limits": 1, "create": 1, "poll": 1}
    stored = {r["Id"]: r["Tweets__c"] for r in org.admin.records("Byline__c", ["Id", "Tweets__c"])}
    with open(path, encoding="utf-8") as fh:
        assert all(stored[row["Id"]] == float(row["Tweets__c"]) for row in csv.DictReader(fh))
