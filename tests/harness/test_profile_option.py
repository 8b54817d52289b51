"""`--profile FILE|NAME` on plan, compare and emulator serve, and a cost model that counts as the profile says."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from emulator.profiles import get_profile, save_profile
from harness.cli import app
from harness.costmodel import plan, predict
from harness.orgs import embedded_emulator

runner = CliRunner()


def _profile_file(tmp_path: Path, **overrides) -> Path:
    return save_profile(get_profile("instant", **overrides), tmp_path / "org.json")


def _no_org_env(monkeypatch) -> None:
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)


def test_cost_model_applies_the_counting_rules():
    realistic = get_profile("realistic")
    free_polls = get_profile("realistic", **{"bulk2.status": 0, "bulk1.status": 0, "rest.collections": 2})
    bulk2, bulk2_free = predict("bulk2-csv", 50_000, realistic), predict("bulk2-csv", 50_000, free_polls)
    assert bulk2.polls == bulk2_free.polls > 0
    assert bulk2.calls == bulk2.requests == 3 + bulk2.polls
    assert bulk2_free.calls == 3 and bulk2_free.requests == bulk2.requests and bulk2_free.calls_by_phase["poll"] == 0
    assert predict("bulk1-xml", 25_000, free_polls).calls == 2 + 3
    assert predict("collections", 1_000, free_polls).calls == 10
    parent = get_profile("realistic", bulk2_parent_batches=1, bulk2_records_per_batch=5_000)
    assert predict("bulk2-csv", 12_000, parent).batches == 3 + 1


def test_bulk2_jobs_per_100_mb_of_csv():
    profile = get_profile("realistic")
    one = predict("bulk2-csv", 1_000_000, profile)  # about 43 bytes a row: one job
    three = predict("bulk2-csv", 2_500_000, profile, row_bytes=100)  # 250 MB: 999,999 + 999,999 + 500,002 rows
    assert one.jobs == 1 and three.jobs == 3
    assert three.calls_by_phase["create"] == three.calls_by_phase["upload"] == three.calls_by_phase["close"] == 3
    assert three.batches == 100 + 100 + 51 and "3 jobs of up to 999,999 records" in three.notes[0]


def test_plan_flags_strategies_over_the_budget():
    predictions, choice, _ = plan(20_000, "realistic", api_remaining=60)
    flags = {p.strategy: p.exceeds_budget for p in predictions}
    assert flags == {"rest": True, "collections": True, "composite": False, "bulk1-xml": False, "bulk2-csv": False}
    assert choice == "bulk2-csv"


def test_plan_cli_reads_a_profile_file(tmp_path, monkeypatch):
    _no_org_env(monkeypatch)
    path = _profile_file(tmp_path, **{"bulk2.status": 0})
    result = runner.invoke(
        app, ["plan", "--records", "50000", "--profile", str(path), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["result"]
    by_name = {p["strategy"]: p for p in data["predictions"]}
    assert data["profile"] == "instant" and data["profile_source"] == str(path)
    assert by_name["bulk2-csv"]["calls"] == 3 and by_name["bulk2-csv"]["requests"] == 3 + by_name["bulk2-csv"]["polls"]
    assert data["profile_document"]["counting"]["requests"]["bulk2.status"] == 0
    table = runner.invoke(app, ["plan", "--records", "5000", "--profile", str(path)], catch_exceptions=False)
    assert "profile: instant" in table.output and "budget" in table.output


def test_a_bad_profile_is_one_clear_line(tmp_path, monkeypatch):
    _no_org_env(monkeypatch)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "sfharness-org-profile", "version": 1, "timings": {"rtt_ms": "far"}}))
    for args in (["plan", "--records", "10"], ["compare", "--records", "10"]):
        result = runner.invoke(app, [*args, "--profile", str(bad)])
        assert result.exit_code == 2
        assert "timings.rtt_ms: expected a number, got 'far'" in result.output.replace("\n", "")
    serve = runner.invoke(app, ["emulator", "serve", "--profile", str(bad)])
    assert serve.exit_code == 2 and "timings.rtt_ms" in serve.output


def test_emulator_serve_and_compare_run_on_a_profile_file(tmp_path, monkeypatch):
    _no_org_env(monkeypatch)
    path = _profile_file(tmp_path, **{"bulk2.status": 0, "rest.collections": 2})
    with embedded_emulator(profile=str(path)) as conn:
        config = conn.admin.config()
        assert config["profile"]["counting"]["requests"]["bulk2.status"] == 0
    result = runner.invoke(
        app,
        [
            "compare",
            "--records",
            "300",
            "--strategies",
            "collections,bulk2-csv",
            "--profile",
            str(path),
            "--reports-dir",
            str(tmp_path / "reports"),
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = {m["strategy"]: m for m in json.loads(result.output.strip().splitlines()[-1])["result"]["measurements"]}
    predicted = {p.strategy: p for p in plan(300, str(path), strategies=("collections", "bulk2-csv"))[0]}
    assert (
        rows["collections"]["calls_client"] == 2
        and rows["collections"]["calls_org"] == 4 == predicted["collections"].calls
    )
    assert rows["bulk2-csv"]["calls_org"] == 1 == predicted["bulk2-csv"].calls  # one create with its data
    assert rows["bulk2-csv"]["calls_client"] > 1  # its polls were made, and not counted
