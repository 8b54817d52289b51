"""Bulk units past their time limit are retried, then fail (docs/org-profile.md, "Time limits and retries").

Profiles here run 1,000 times faster than real time: a 1,000-record internal batch at 400 ms a record
(400 s of work) passes a 300 s limit after three 200-record transactions (240 s), so its first attempt
commits 600 records and a retry does the other 400. The attempt clock counts the profile's time, not the
emulator's CPU, so the retry counts are exact. New values are above 999, which no seeded record holds.
"""

from __future__ import annotations

import csv
import io

from emulator.profiles import get_profile
from harness.costmodel import predict, unit_attempts

from .conftest import job_xml, state_xml

SLOW = {
    "time_scale": 1000,
    "bulk_queue_median_s": 0.0,
    "bulk_queue_p90_s": 0.0,
    "bulk_batch_overhead_s": 0.0,
    "bulk_chunk_overhead_ms": 0.0,
    "bulk_per_record_ms": 400.0,
    "bulk2_records_per_batch": 1000,
    "bulk_batch_time_limit_s": 300.0,
    "bulk_parallelism": 4,
}


def _bulk2_job(api, ids, value, headers=None):
    job = api.bulk2(
        "POST", "/ingest", json={"object": "Byline__c", "operation": "update"}, headers=headers or {}
    ).json()["id"]
    api.bulk2(
        "PUT",
        f"/ingest/{job}/batches",
        data="Id,Tweets__c\n" + "".join(f"{r},{value}\n" for r in ids),
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"})
    return job


def _done(api, wait, job):
    return wait(
        lambda: (i := api.bulk2("GET", f"/ingest/{job}").json())["state"] in ("JobComplete", "Failed") and i,
        timeout=120,
    )


def test_bulk2_internal_batches_are_retried_then_complete(api, seeded, wait):
    ids = seeded(2_500)
    api.org.admin.configure(profile="instant", profile_overrides=SLOW)
    info = _done(api, wait, _bulk2_job(api, ids, 1007))
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 2_500
    assert info["retries"] == 2  # the two 1,000-record batches, once each; the 500-record one fits
    assert all(r["Tweets__c"] == 1007 for r in api.records().values())
    profile = get_profile("instant", **SLOW)
    assert unit_attempts(profile, "bulk2", 1000) == ([(0.3, 600), (0.16, 400)], 0)
    assert predict("bulk2-csv", 2_500, profile).retries == 2


def test_bulk2_job_fails_when_retries_run_out(api, seeded, wait):
    ids = seeded(2_500)
    api.org.admin.configure(profile="instant", profile_overrides={**SLOW, "bulk2_max_retries": 0})
    job = _bulk2_job(api, ids, 1008)
    info = _done(api, wait, job)
    assert info["state"] == "Failed" and "time limit" in info["errorMessage"] and info["retries"] == 0
    unprocessed = list(csv.DictReader(io.StringIO(api.bulk2("GET", f"/ingest/{job}/unprocessedrecords").text)))
    updated = [r for r in api.records().values() if r["Tweets__c"] == 1008]
    assert 600 <= info["numberRecordsProcessed"] == len(updated) < 2_500
    assert len(unprocessed) + info["numberRecordsProcessed"] == 2_500
    assert not {r["Id"] for r in unprocessed} & {r["Id"] for r in updated}
    assert predict("bulk2-csv", 2_500, get_profile("instant", **SLOW, bulk2_max_retries=0)).unprocessed > 0


def test_sforce_disable_batch_retry_fails_at_the_first_limit(api, seeded, wait):
    ids = seeded(1_000)
    api.org.admin.configure(profile="instant", profile_overrides=SLOW)
    info = _done(api, wait, _bulk2_job(api, ids, 1009, headers={"Sforce-Disable-Batch-Retry": "TRUE"}))
    assert info["state"] == "Failed" and info["retries"] == 0 and info["numberRecordsProcessed"] == 600


def _bulk1_batch(api, ids, value, headers=None):
    job = (
        api.bulk1("POST", "/job", body=job_xml(content_type="CSV"), headers=headers or {})
        .text.split("<id>")[1]
        .split("<")[0]
    )
    api.bulk1(
        "POST",
        f"/job/{job}/batch",
        body="Id,Tweets__c\n" + "".join(f"{r},{value}\n" for r in ids),
        content_type="text/csv",
    )
    api.bulk1("POST", f"/job/{job}", body=state_xml("Closed"))
    return job


def _bulk1_done(api, wait, job):
    def check():
        text = api.bulk1("GET", f"/job/{job}").text
        return (
            "<numberBatchesInProgress>0</numberBatchesInProgress>" in text
            and "<numberBatchesQueued>0</numberBatchesQueued>" in text
            and text
        )

    return wait(check, timeout=120)


def test_bulk1_batch_goes_back_to_the_queue_then_completes(api, seeded, wait):
    ids = seeded(1_000)
    api.org.admin.configure(profile="instant", profile_overrides=SLOW)
    info = _bulk1_done(api, wait, _bulk1_batch(api, ids, 1005))
    assert "<numberRetries>1</numberRetries>" in info and "<numberBatchesCompleted>1</numberBatchesCompleted>" in info
    assert "<numberRecordsProcessed>1000</numberRecordsProcessed>" in info
    assert all(r["Tweets__c"] == 1005 for r in api.records().values())


def test_bulk1_batch_without_retries_fails_with_what_it_did(api, seeded, wait):
    ids = seeded(1_000)
    api.org.admin.configure(profile="instant", profile_overrides=SLOW)
    job = _bulk1_batch(api, ids, 1006, headers={"Sforce-Disable-Batch-Retry": "TRUE"})
    info = _bulk1_done(api, wait, job)
    assert "<numberRetries>0</numberRetries>" in info and "<numberBatchesFailed>1</numberBatchesFailed>" in info
    batch = api.bulk1("GET", f"/job/{job}/batch").text
    assert "<state>Failed</state>" in batch and "time limit" in batch
    batch_id = batch.split("<id>")[1].split("<")[0]
    results = list(csv.DictReader(io.StringIO(api.bulk1("GET", f"/job/{job}/batch/{batch_id}/result").text)))
    assert len(results) == 600 and all(r["Success"] == "true" for r in results)
    assert sum(r["Tweets__c"] == 1006 for r in api.records().values()) == 600


def test_heavy_automation_retries_a_100000_record_job_and_moves_the_recommendation(api, seeded, wait):
    """The built-in heavy-automation profile (40 ms a record): every 10,000-record internal batch takes
    about 400 s, past the 5-minute limit, and is retried once; plan then recommends smaller Bulk 1.0
    batches instead of Bulk 2.0's fixed 10,000 (as the docs advise for batches over 5 minutes)."""
    api.org.admin.seed("Byline__c", 100_000)
    ids = [r["Id"] for r in api.org.admin.iter_records("Byline__c", ["Id"])]
    api.org.admin.configure(profile="heavy-automation", profile_overrides={"time_scale": 4000, "bulk_queue_p90_s": 5.0})
    info = _done(api, wait, _bulk2_job(api, ids, 1003))
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 100_000
    assert info["retries"] == 10
    heavy = predict("bulk2-csv", 100_000, get_profile("heavy-automation"))
    assert heavy.retries == 10 and heavy.at_risk
    from harness.costmodel import plan

    assert plan(100_000, "realistic")[1] == "bulk2-csv"
    predictions, choice, reason = plan(100_000, "heavy-automation")
    best = next(p for p in predictions if p.recommended)
    assert choice == "bulk1-xml" and best.options == {"batch_records": 7_400} and not best.at_risk
    assert "bulk2-csv would need" in reason and "retried past the 300 s limit" in reason
