"""`sfharness resume --run DIR`: an interrupted update is completed from its --out folder alone (#16)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()


@pytest.fixture
def org(sf_org: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    sf_org.admin.reset()
    monkeypatch.setenv("SF_INSTANCE_URL", sf_org.instance_url)
    monkeypatch.setenv("SF_ACCESS_TOKEN", sf_org.access_token)
    monkeypatch.setenv("SF_CA_FILE", sf_org.ca_file)
    monkeypatch.delenv("SFHARNESS_STRATEGY", raising=False)
    return sf_org


def _input(tmp_path: Path, ids: list[str], tweets: int) -> Path:
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "Tweets__c"])
        for i, rid in enumerate(ids):
            writer.writerow([rid, tweets + i])
    return path


def _rows(folder: Path) -> dict[str, list[int]]:
    """Input row numbers per outcome file (success.csv has `row`; the failure files the input's columns
    plus `sfh__row`)."""
    found = {}
    for name in ("success.csv", "failed.csv", "unprocessed.csv"):
        with open(folder / name, encoding="utf-8") as fh:
            found[name] = sorted(int(r.get("row") or r["sfh__row"]) for r in csv.DictReader(fh))
    return found


def _stored(org: Any, ids: list[str]) -> list[Any]:
    tweets = {r["Id"]: r["Tweets__c"] for r in org.admin.records("Byline__c", ["Id", "Tweets__c"])}
    return [tweets[rid] for rid in ids]


def test_a_run_stopped_by_a_broken_connection_is_completed_from_its_folder(org: Any, tmp_path: Path) -> None:
    ids = org.admin.seed("Byline__c", 500, return_ids=True)["ids"]
    out = tmp_path / "out"
    # every attempt of the 2nd Collections request is cut mid-body: the run stops, 300 rows not applied
    cut = [f"cut:{n}:PATCH /services/data/vXX.X/composite/sobjects" for n in range(2, 6)]
    org.admin.configure(faults={"response_faults": cut})
    first = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "collections",
            "--sobject",
            "Byline__c",
            "--input",
            str(_input(tmp_path, ids, 900)),
            "--concurrency",
            "1",
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert first.exit_code != 0, first.output
    folder = (out / "latest").resolve()  # the run's own folder
    assert len(_rows(folder)["success.csv"]) == 200 and len(_rows(folder)["unprocessed.csv"]) == 300
    org.admin.configure(faults={})
    second = runner.invoke(app, ["resume", "--run", str(folder), "--json"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    summary = json.loads(second.output.strip().splitlines()[-1])["result"]["summary"]
    assert summary["submitted"] == summary["succeeded"] == 500
    assert _rows(folder) == {"success.csv": list(range(1, 501)), "failed.csv": [], "unprocessed.csv": []}
    assert _stored(org, ids) == [900 + i for i in range(500)]


def test_a_pending_bulk_job_is_collected_from_the_folder_alone(org: Any, tmp_path: Path, fast_polls: Any) -> None:
    ids = org.admin.seed("Byline__c", 40, return_ids=True)["ids"]
    out = tmp_path / "out"
    first = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "bulk2-csv",
            "--sobject",
            "Byline__c",
            "--input",
            str(_input(tmp_path, ids, 700)),
            "--out",
            str(out),
            "--wait",
            "0",
        ],
        catch_exceptions=False,
    )
    assert first.exit_code == 5, first.output  # a bulk job left processing: resume it
    folder = (out / "latest").resolve()
    second = runner.invoke(app, ["resume", "--run", str(folder), "--json"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert _rows(folder) == {"success.csv": list(range(1, 41)), "failed.csv": [], "unprocessed.csv": []}
    assert _stored(org, ids) == [700 + i for i in range(40)]


def test_resume_without_a_journal_says_so(org: Any, tmp_path: Path) -> None:
    result = runner.invoke(app, ["resume", "--run", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code != 0 and "no run journal" in result.output
