"""A budget-aware compare: runs predicted to exceed what the org has left are skipped with a note in every
output, and the calls outside the runs (checks before, read-backs after) are lines of their own, so the
table adds up to the org's own counter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()


@pytest.fixture
def embedded(monkeypatch):
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID", "SF_CA_FILE"):
        monkeypatch.delenv(var, raising=False)


def test_over_budget_runs_are_skipped_and_the_table_adds_up(embedded, tmp_path, fast_polls):
    # 15,000 a day on the developer edition; a 99.5 % reserve leaves about 73 calls to spend:
    # rest x 100 (about 101 calls with its read-back) cannot fit, composite and collections can.
    args = [
        "compare",
        "--records",
        "100",
        "--strategies",
        "rest,composite,collections",
        "--api-reserve",
        "99.5",
        "--reports-dir",
        str(tmp_path),
    ]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.stdout)
    data = envelope["result"]
    assert [(k["strategy"], k["records"]) for k in data["skipped"]] == [("rest", 100)]
    assert data["skipped"][0]["predicted_calls"] == 101 and "over budget" in data["skipped"][0]["reason"]
    assert any("skipped rest x 100" in w for w in envelope["warnings"])
    assert sorted(m["strategy"] for m in data["measurements"]) == ["collections", "composite"]

    prechecks, readback = data["other_calls"]
    assert prechecks["calls_client"] == prechecks["calls_org"] == 2  # describe and /limits (no look-up on the emulator)
    assert (
        readback["calls_org"] == readback["calls_client"] == sum(m["readback_calls"] for m in data["measurements"]) == 2
    )
    runs = sum(m["calls_org"] for m in data["measurements"])
    assert data["org_calls_total"] == runs + prechecks["calls_org"] + readback["calls_org"]

    folder = Path(data["report_dir"])
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "## Skipped" in markdown and "rest x 100 skipped: over budget" in markdown
    assert "| pre-run checks | 2 | 2 |" in markdown and "| whole compare |" in markdown
    assert "Skipped</h2>" in (folder / "report.html").read_text(encoding="utf-8")

    text = runner.invoke(app, args)
    assert text.exit_code == 0
    assert "rest x 100" in text.output and "~101" in text.output and "pre-run checks" in text.output
    assert "warning: skipped rest x 100" in text.output


def test_nothing_fits_is_the_budget_exit(embedded, tmp_path):
    result = runner.invoke(
        app,
        [
            "compare",
            "--records",
            "5000",
            "--strategies",
            "rest",
            "--api-reserve",
            "90",
            "--json",
            "--reports-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 3
    envelope = json.loads(result.stdout)
    assert envelope["name"] == "BudgetGuard" and envelope["result"]["skipped"][0]["strategy"] == "rest"


def test_unknown_field_is_refused_before_any_run(embedded, tmp_path):
    result = runner.invoke(
        app, ["compare", "--records", "10", "--fields", "Tweet__c", "--json", "--reports-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    envelope = json.loads(result.stdout)
    assert envelope["name"] == "UnknownField" and "'Tweet__c' -> 'Tweets__c'" in envelope["hint"]


def test_plan_flags_strategies_over_budget():
    result = runner.invoke(app, ["plan", "--records", "20,000", "--json"])
    assert result.exit_code == 0
    envelope = json.loads(result.stdout)
    over = {p["strategy"]: p["over_budget"] for p in envelope["result"]["predictions"]}
    assert over == {"rest": True, "collections": False, "composite": False, "bulk1-xml": False, "bulk2-csv": False}
    assert any("over budget: rest" in w for w in envelope["warnings"])
