"""`sfharness calibrate` recovers a hidden org profile from the emulator, over the wire, as from a real org.

Each hidden profile is a non-default org (counting rules and timings differ from `realistic`), run 8
times faster than real time; calibrate connects to it with an access token like to any org and is told
the time scale. Stated tolerances (README, "Calibrate against your sandbox"): counting rules exactly;
each timing within 25 % of the hidden value, or within a floor for the emulator's own work, which the
time scale multiplies (2-8 ms per request and about 0.1 ms per record on a shared 2-core machine under
load): 8 ms per request-level figure, 0.3 ms per record, 0.05 s per queue wait or batch overhead, each
times the scale; the usage report's lag within two counter-read intervals (1 s). The hidden orgs' fixed
costs per request are a few hundred ms (a slow org's), so that 25 % is what is tested.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulator.profiles import get_profile, save_profile
from harness.cli import app
from harness.orgs import embedded_emulator

SCALE = 8.0
RECORDS = 250  # enough for a queryMore page; Bulk jobs of 25 and 250 records
runner = CliRunner()

HIDDEN = {
    # Bulk 2.0 polls free, Composite Batch N+1, a lagging usage figure; a slow, automation-heavy org.
    "polls-free": {
        "bulk2.status": 0,
        "composite_batch_calls": "N+1",
        "usage_report_lag_s": 1.0,
        "rtt_ms": 120.0,
        "write_fixed_ms": 500.0,
        "read_fixed_ms": 200.0,
        "sync_per_record_ms": 20.0,
        "composite_subrequest_ms": 60.0,
        "bulk2_queue_median_s": 8.0,
        "bulk2_queue_p90_s": 8.0,
        "bulk1_queue_median_s": 5.0,
        "bulk1_queue_p90_s": 5.0,
        "bulk2_per_record_ms": 20.0,
        "bulk1_per_record_ms": 15.0,
        "bulk_chunk_overhead_ms": 0.0,
        "bulk_batch_overhead_s": 2.0,
    },
    # Results downloads, /limits and queryMore free, Composite Batch counted once, a parent batch that counts.
    "results-free": {
        "bulk2.successful_results": 0,
        "bulk2.failed_results": 0,
        "bulk2.unprocessed_records": 0,
        "rest.limits": 0,
        "rest.query_more": 0,
        "composite_batch_calls": "1",
        "bulk2_parent_batches": 1,
        "rtt_ms": 100.0,
        "write_fixed_ms": 300.0,
        "read_fixed_ms": 150.0,
        "sync_per_record_ms": 10.0,
        "composite_subrequest_ms": 30.0,
        "bulk_queue_median_s": 3.0,
        "bulk_queue_p90_s": 3.0,
        "bulk_per_record_ms": 10.0,
        "bulk_chunk_overhead_ms": 0.0,
        "bulk_batch_overhead_s": 1.0,
    },
    # Bulk 1.0 polls and batch lists free, describe free, a Bulk 2.0 upload costing 2; slow Bulk 1.0 queue.
    "bulk1-polls-free": {
        "bulk1.status": 0,
        "bulk1.batch_list": 0,
        "rest.describe": 0,
        "bulk2.upload": 2,
        "rtt_ms": 150.0,
        "write_fixed_ms": 600.0,
        "read_fixed_ms": 250.0,
        "sync_per_record_ms": 12.0,
        "composite_subrequest_ms": 90.0,
        "bulk1_queue_median_s": 10.0,
        "bulk1_queue_p90_s": 10.0,
        "bulk2_queue_median_s": 2.0,
        "bulk2_queue_p90_s": 2.0,
        "bulk1_per_record_ms": 25.0,
        "bulk2_per_record_ms": 8.0,
        "bulk_chunk_overhead_ms": 0.0,
        "bulk1_batch_overhead_s": 0.5,
        "bulk2_batch_overhead_s": 3.0,
    },
}
MEASURED_KINDS = (
    "rest.sobject_read",
    "rest.sobject_write",
    "rest.describe",
    "rest.query",
    "rest.query_more",
    "rest.collections",
    "rest.composite",
    "rest.limits",
    "bulk2.create",
    "bulk2.upload",
    "bulk2.close",
    "bulk2.status",
    "bulk2.successful_results",
    "bulk2.failed_results",
    "bulk2.unprocessed_records",
    "bulk1.create",
    "bulk1.upload",
    "bulk1.close",
    "bulk1.status",
    "bulk1.batch_list",
    "bulk1.result",
)


def _floor(name: str) -> float:
    if name.endswith("_s"):
        return 0.05 * SCALE
    if "per_record" in name:
        return 0.3 * SCALE
    return 8.0 * SCALE


def _calibrate(running, out: Path, *args: str, scale: float = SCALE):
    """`sfharness calibrate` against a running org (a `RunningOrg` or an `OrgConnection`), by access token."""
    token = running.access_token if hasattr(running, "access_token") else running.token().reveal()
    env: dict[str, str | None] = {
        "SF_INSTANCE_URL": running.instance_url,
        "SF_ACCESS_TOKEN": token,
        "SF_CA_FILE": running.ca_file,
        **dict.fromkeys(("SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID")),  # unset for the call (CliRunner)
    }
    return runner.invoke(
        app,
        [
            "calibrate",
            "--sobject",
            "Byline__c",
            "--records",
            str(RECORDS),
            "--repeat",
            "5",
            "--time-scale",
            str(scale),
            "--out",
            str(out),
            "--json",
            *args,
        ],
        env=env,
        catch_exceptions=False,
    )


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """name -> (hidden profile, a connection to the emulator running it, calibrate's JSON output, the profile
    file it wrote); each hidden org is started (in a process of its own, as a remote org would be: its
    work does not compete with the client's) and calibrated once per module, on the worker that asks for it
    (the parallel run spreads the slow tests over workers: the plan test calibrates `polls-free` again on its
    own worker, which takes no longer than waiting for that profile's test to end)."""
    done: dict[str, tuple] = {}
    with ExitStack() as stack:

        def get(name: str) -> tuple:
            if name not in done:
                hidden = get_profile("realistic", SCALE, **HIDDEN[name])
                folder = tmp_path_factory.mktemp("calibrate")
                running = stack.enter_context(
                    embedded_emulator(profile=str(save_profile(hidden, folder / "hidden.json")))
                )
                out = folder / f"{name}.json"
                result = _calibrate(running, out)
                assert result.exit_code == 0, result.output
                done[name] = (hidden, running, json.loads(result.output.strip().splitlines()[-1])["result"], out)
            return done[name]

        yield get


@pytest.mark.slow
@pytest.mark.parametrize("name", list(HIDDEN))
def test_calibrate_recovers_a_hidden_profile(calibrated, name):
    hidden, running, data, out = calibrated(name)
    calibrated_profile = get_profile(str(out))
    assert data["profile"] == calibrated_profile.to_document()
    assert out.with_suffix(".md").read_text().startswith(f"# Org profile `{name}`")

    # Counting rules: exactly the hidden ones.
    for kind in MEASURED_KINDS:
        assert calibrated_profile.counting.calls(kind) == hidden.counting.calls(kind), kind
    assert calibrated_profile.counting.composite_batch_calls == hidden.counting.composite_batch_calls
    assert calibrated_profile.counting.bulk2_parent_batches == hidden.counting.bulk2_parent_batches
    assert abs(calibrated_profile.counting.usage_report_lag_s - hidden.counting.usage_report_lag_s) <= 1.0

    # Timings: within the stated tolerance (a Bulk per-record figure includes the per-transaction cost).
    for field, measured in data["timings"].items():
        expected = getattr(hidden.timings, field)
        if field.startswith("bulk") and field.endswith("per_record_ms"):
            expected += getattr(hidden.timings, field.replace("per_record", "chunk_overhead")) / 200
        value = measured["value"]
        assert abs(value - expected) <= max(0.25 * expected, _floor(field)), (field, value, expected)
    assert set(data["timings"]) >= {
        "rtt_ms",
        "read_fixed_ms",
        "write_fixed_ms",
        "sync_per_record_ms",
        "composite_subrequest_ms",
        "bulk2_queue_median_s",
        "bulk2_per_record_ms",
        "bulk1_queue_median_s",
        "bulk1_per_record_ms",
    }

    # It kept to its budget, left no records of its own behind, and changed nothing else.
    assert data["requests"] <= 250 and data["records"] == RECORDS
    assert running.admin.records("Byline__c") == []


@pytest.mark.slow
def test_plan_with_the_calibrated_profile_predicts_a_compare_run(calibrated, tmp_path):
    """plan --profile CALIBRATED against compare on the hidden org: sync calls exact, bulk within one poll."""
    hidden, _running, _data, out = calibrated("polls-free")
    hidden_file = save_profile(hidden, tmp_path / "hidden.json")
    env = {k: "" for k in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID")}
    strategies = "rest,collections,composite,bulk1-xml,bulk2-csv"
    result = runner.invoke(
        app,
        [
            "compare",
            "--records",
            "100",
            "--strategies",
            strategies,
            "--profile",
            str(hidden_file),
            "--reports-dir",
            str(tmp_path / "reports"),
            "--json",
        ],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    measured = {m["strategy"]: m for m in json.loads(result.output.strip().splitlines()[-1])["result"]["measurements"]}
    planned = runner.invoke(
        app, ["plan", "--records", "100", "--profile", str(out), "--time-scale", str(SCALE), "--json"], env=env
    )
    predicted = {p["strategy"]: p for p in json.loads(planned.output)["result"]["predictions"]}
    for name in ("rest", "collections", "composite"):
        assert measured[name]["calls_org"] == predicted[name]["calls"], name
    bulk1 = predicted["bulk1-xml"]
    assert abs(measured["bulk1-xml"]["calls_org"] - bulk1["calls"]) <= 1, (
        measured["bulk1-xml"]["calls_by_phase"],
        bulk1,
    )
    # one create that carries the data (100 short rows), and its polls are free
    assert measured["bulk2-csv"]["calls_org"] == predicted["bulk2-csv"]["calls"] == 1
    assert measured["bulk2-csv"]["calls_client"] > 1


def test_dry_run_spends_nothing_and_production_is_refused(sf_org_factory, tmp_path):
    running = sf_org_factory(edition="enterprise")  # an Enterprise Edition that is no sandbox: production
    dry = _calibrate(running, tmp_path / "p.json", "--dry-run")
    assert dry.exit_code == 0
    plan_doc = json.loads(dry.output.strip().splitlines()[-1])["result"]
    assert plan_doc["dry_run"] and 0 < plan_doc["requests"] <= 250 and plan_doc["batches"] > 0
    assert running.admin.usage()["DailyApiRequests"]["used"] == 0
    refused = _calibrate(running, tmp_path / "p.json")
    assert refused.exit_code == 2 and "production org" in refused.output
    assert running.admin.usage()["DailyApiRequests"]["used"] == 1  # the org-kind query, nothing else
    over = _calibrate(running, tmp_path / "p.json", "--max-calls", "50")
    assert over.exit_code == 2 and "more than --max-calls 50" in over.output
    assert not (tmp_path / "p.json").exists()


def test_named_records_are_written_back_unchanged(sf_org_factory, tmp_path):
    running = sf_org_factory()
    running.admin.seed("Byline__c", 300)
    before = {r["Id"]: r for r in running.admin.records("Byline__c")}
    # What is checked here is the records, not the timings: told the (instant) org runs 40 times faster,
    # calibration waits a fifth as long between its counter reads.
    result = _calibrate(
        running, tmp_path / "named.json", "--fields", "Tweets__c,Likes__c", "--where", "Likes__c >= 0", scale=40
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])["result"]
    assert data["records_mode"] == "named" and data["records"] == RECORDS
    after = {r["Id"]: r for r in running.admin.records("Byline__c")}
    assert set(after) == set(before)
    for rid, rec in before.items():
        for field in ("Name", "Tweets__c", "Likes__c", "LinkedIn_Shares__c"):
            assert after[rid][field] == rec[field], (rid, field)
