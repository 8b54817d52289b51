"""The CLI end to end against a running emulator (the `org` fixture is in conftest.py): every command, and bad
input that must not touch the org."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.comparison import CompareRun

runner = CliRunner()


def _input(tmp_path: Path, ids: list[str], *, tweets: int = 5) -> Path:
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Id", "Tweets__c", "Likes__c"])
        for i, rid in enumerate(ids):
            w.writerow([rid, tweets + i, 7])
    return path


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _api_used(org) -> int:
    return org.admin.usage()["DailyApiRequests"]["used"]


def test_update_writes_outcome_files_and_data(org, tmp_path):
    ids = org.admin.seed("Byline__c", 30, return_ids=True)["ids"]
    out = tmp_path / "out"
    result = _invoke(
        "update",
        "--strategy",
        "collections",
        "--sobject",
        "Byline__c",
        "--input",
        str(_input(tmp_path, ids)),
        "--out",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.stdout)
    assert envelope["status"] == 0 and envelope["warnings"] == []
    data = envelope["result"]
    assert data["summary"]["succeeded"] == 30
    folder = Path(data["outcome_folder"])
    assert folder.parent == out and (out / "latest").resolve() == folder.resolve()
    assert data["outcome_files"]["succeeded"] == {"path": str(folder / "success.csv"), "records": 30}
    with open(folder / "success.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 30
    stored = {r["Id"]: r for r in org.admin.records("Byline__c", ["Id", "Tweets__c", "Likes__c"])}
    assert all(stored[rid]["Tweets__c"] == 5 + i and stored[rid]["Likes__c"] == 7 for i, rid in enumerate(ids))


def test_update_strategy_from_environment_and_failures_exit_nonzero(org, tmp_path, monkeypatch):
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    path = tmp_path / "neg.csv"
    path.write_text(f"Id,Tweets__c\n{ids[0]},1\n{ids[1]},-4\n{ids[2]},3\n", encoding="utf-8")
    monkeypatch.setenv("SFHARNESS_STRATEGY", "composite")
    result = _invoke("update", "--sobject", "Byline__c", "--input", str(path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    with open(tmp_path / "o" / "latest" / "failed.csv", encoding="utf-8") as fh:
        failed = list(csv.DictReader(fh))
    assert [(f["sfh__row"], f["Id"], f["Tweets__c"], f["sfh__error_code"]) for f in failed] == [
        ("2", ids[1], "-4", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    ]


def test_dry_run_validates_and_writes_nothing(org, tmp_path):
    ids = org.admin.seed("Byline__c", 10, return_ids=True)["ids"]
    before = org.admin.records("Byline__c", ["Id", "Tweets__c"])
    jobs_before = len(org.admin.jobs()["bulk2_ingest"])
    result = _invoke(
        "update",
        "--strategy",
        "bulk2-csv",
        "--sobject",
        "Byline__c",
        "--input",
        str(_input(tmp_path, ids, tweets=900)),
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "dry run: 10 valid records" in result.output
    assert org.admin.records("Byline__c", ["Id", "Tweets__c"]) == before
    assert len(org.admin.jobs()["bulk2_ingest"]) == jobs_before


@pytest.mark.parametrize(
    "case, args_of, message",
    [
        ("missing file", lambda p, ids: ["--strategy", "rest", "--input", str(p / "nope.csv")], "input file not found"),
        (
            "no Id column",
            lambda p, ids: ["--strategy", "rest", "--input", str(_write(p / "x.csv", "Name,Tweets__c\na,1\n"))],
            "has no Id column",
        ),
        (
            "unknown strategy",
            lambda p, ids: ["--strategy", "bulk3", "--input", str(_input(p, ids))],
            "unknown strategy 'bulk3'",
        ),
        (
            "bad Id",
            lambda p, ids: ["--strategy", "rest", "--input", str(_write(p / "b.csv", "Id,Tweets__c\n001xyz,1\n"))],
            "row 1",
        ),
        (
            "unknown field",
            lambda p, ids: ["--strategy", "rest", "--input", str(_write(p / "f.csv", f"Id,Nope__c\n{ids[0]},1\n"))],
            "Nope__c",
        ),
    ],
)
def test_bad_input_is_refused_before_any_write(org, tmp_path, case, args_of, message):
    ids = org.admin.seed("Byline__c", 2, return_ids=True)["ids"]
    before = org.admin.records("Byline__c")
    result = runner.invoke(app, ["update", "--sobject", "Byline__c", *args_of(tmp_path, ids)])
    assert result.exit_code != 0
    assert message in result.output.replace("\n", " ")
    assert org.admin.records("Byline__c") == before


def test_unknown_object_is_one_clear_line(org, tmp_path):
    ids = org.admin.seed("Byline__c", 1, return_ids=True)["ids"]
    result = runner.invoke(
        app, ["update", "--strategy", "rest", "--sobject", "Nope__c", "--input", str(_input(tmp_path, ids))]
    )
    assert result.exit_code == 2
    assert "unknown object 'Nope__c' on this org (404 NOT_FOUND)" in result.output


def test_budget_guard_refuses_and_writes_nothing(org, tmp_path):
    ids = org.admin.seed("Byline__c", 60, return_ids=True)["ids"]
    before = org.admin.records("Byline__c")
    # 15,000 per day minus a 99.9 % reserve leaves 15 calls: 60 per-record PATCHes do not fit.
    result = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "rest",
            "--sobject",
            "Byline__c",
            "--input",
            str(_input(tmp_path, ids)),
            "--api-reserve",
            "99.9",
        ],
    )
    assert result.exit_code == 3
    assert "budget guard" in result.output
    assert org.admin.records("Byline__c") == before


def test_api_version_from_the_environment_reaches_the_org(org, tmp_path, monkeypatch):
    """SF_API_VERSION (read by typer, like every org flag) is the version in the request paths the org sees."""
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    monkeypatch.setenv("SF_API_VERSION", "58.0")
    path = str(_input(tmp_path, ids))
    args = ["update", "--strategy", "bulk2-csv", "--sobject", "Byline__c", "--input", path, "--wait", "0"]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "env")])
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "flag"), "--api-version", "59.0"])  # the flag wins
    versions = {job["id"]: job["apiVersion"] for job in org.admin.jobs()["bulk2_ingest"]}
    assert [versions[_job_id(result.output)] for result in (first, second)] == [58.0, 59.0]


def test_help_never_shows_a_secret_from_the_environment(org, monkeypatch):
    monkeypatch.setenv("SF_PASSWORD", "hunter2-never-printed")
    result = _invoke("update", "--help")
    assert result.exit_code == 0
    assert "SF_ACCESS_TOKEN" in result.output and "SF_PASSWORD" in result.output
    assert org.access_token not in result.output and "hunter2-never-printed" not in result.output


def _job_id(output: str) -> str:
    return next(word for word in output.split() if word.startswith("750"))


def test_limits_json(org):
    result = _invoke("limits", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)["result"]
    assert data["limits"]["DailyApiRequests"]["Max"] == 15000
    assert data["org"]["kind"] == "developer"


def test_plan_json_recommends_bulk_for_large_volumes():
    result = _invoke("plan", "--records", "1,000,000", "--json")
    data = json.loads(result.stdout)["result"]
    assert data["recommendation"] == "bulk2-csv"
    by_name = {p["strategy"]: p for p in data["predictions"]}
    assert (
        by_name["rest"]["calls"] == 1_000_000
        and by_name["collections"]["calls"] == 5000
        and by_name["composite"]["calls"] == 1000
    )


def test_plan_concurrency_shortens_synchronous_predictions_only():
    def predictions(concurrency: str) -> dict:
        result = _invoke("plan", "--records", "20000", "--concurrency", concurrency, "--json")
        return {p["strategy"]: p for p in json.loads(result.output)["result"]["predictions"]}

    one, eight = predictions("1"), predictions("8")
    for name in ("rest", "collections", "composite"):
        assert (one[name]["concurrency"], eight[name]["concurrency"]) == (1, 8)
        assert one[name]["calls"] == eight[name]["calls"]
        assert eight[name]["seconds"] < one[name]["seconds"] / 4
    for name in ("bulk1-xml", "bulk2-csv"):
        assert one[name] == eight[name]


def test_update_sends_with_the_concurrency_flag(org, tmp_path):
    ids = org.admin.seed("Byline__c", 2500, return_ids=True)["ids"]
    args = (
        "update",
        "--strategy",
        "composite",
        "--concurrency",
        "2",
        "--sobject",
        "Byline__c",
        "--input",
        str(_input(tmp_path, ids)),
    )
    result = _invoke(*args, "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])["result"]["summary"]
    assert summary["succeeded"] == 2500 and summary["calls_by_phase"]["dml"] == 3
    stored = {r["Id"]: r["Tweets__c"] for r in org.admin.records("Byline__c", ["Id", "Tweets__c"])}
    assert all(stored[rid] == 5 + i for i, rid in enumerate(ids))
    used = _api_used(org)
    refused = runner.invoke(app, [*args[:4], "0", *args[5:]])  # fewer than one request at once
    assert refused.exit_code == 2 and _api_used(org) == used


def test_compare_on_embedded_emulator_writes_reports(tmp_path, monkeypatch, fast_polls):
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    result = _invoke(
        "compare",
        "--records",
        "50,250",
        "--strategies",
        "collections,composite,bulk2-csv",
        "--reports-dir",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["result"]
    folder = Path(data["report_dir"])
    assert {p.name for p in folder.iterdir()} >= {"results.json", "results.csv", "report.md", "report.html"}
    rows = {(m["strategy"], m["records"]): m for m in data["measurements"]}
    assert rows[("collections", 250)]["calls_org"] == rows[("collections", 250)]["calls_client"] == 2
    assert rows[("composite", 250)]["calls_org"] == 1
    assert all(m["verified"] == m["records"] and m["mismatched"] == 0 for m in data["measurements"])
    assert (tmp_path / "latest").resolve() == folder.resolve()
    # The recorded advice is the one rule's answer for these figures (harness.recommendation).
    expected = [r.to_dict() for r in CompareRun.from_dict(data).recommend()]
    assert data["recommendations"] == expected
    assert expected[-1]["strategy"] == "composite"  # 1 call for 250 records (at 50, collections ties it on calls)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_update_prints_job_id_then_resume_collects_the_pending_job(org, tmp_path, fast_polls):
    ids = org.admin.seed("Byline__c", 40, return_ids=True)["ids"]
    out = tmp_path / "out"
    first = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "bulk2-csv",
            "-s",
            "Byline__c",
            "-f",
            str(_input(tmp_path, ids, tweets=300)),
            "--out",
            str(out),
            "--async",
        ],
    )
    assert first.exit_code == 5  # the job is left processing: resume it
    job_id = _job_id(first.output)
    assert f"sfharness resume --job-id {job_id} --out {out}" in first.output.replace("\n", "")
    second = _invoke("resume", "--job-id", job_id, "--out", str(out), "--json")  # the strategy comes from run.json
    assert second.exit_code == 0, second.output
    result = json.loads(second.stdout)["result"]
    summary = result["summary"]
    assert summary["succeeded"] == 40 and summary["pending"] == 0
    folder = Path(result["outcome_folder"])
    assert folder == (out / "latest").resolve()  # the run's own folder: no new one
    with open(folder / "success.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["row"]) for r in rows) == list(range(1, 41))  # mapped back to input rows via the ledger
    stored = {r["Id"]: r["Tweets__c"] for r in org.admin.records("Byline__c", ["Id", "Tweets__c"])}
    assert all(stored[rid] == 300 + i for i, rid in enumerate(ids))
