"""The org profile's UNCONFIRMED `upsert_extra_per_record_ms`: what an upserted record costs beyond an
updated one (docs/org-profile.md). Its default (0) keeps update's figures; set, the emulator and the cost
model both read it through `OrgProfile.for_operation`.

The emulator's reading is checked through the Bulk attempt clock, which counts profile time, not wall
time: with 100 ms a record a 1,000-record internal batch (100 s) fits its 300 s limit as an update, while
300 ms more per upserted record (400 s: three 200-record transactions fit, the fourth would end past the
limit) passes it, so the same records upserted are retried once. Profiles run
1,000 times faster than real time.
"""

from __future__ import annotations

import pytest

from emulator.profiles import ProfileError, get_profile, profile_from_document
from harness.costmodel import predict, unit_attempts

TIMED = {
    "time_scale": 1000,
    "bulk_queue_median_s": 0.0,
    "bulk_queue_p90_s": 0.0,
    "bulk_batch_overhead_s": 0.0,
    "bulk_chunk_overhead_ms": 0.0,
    "bulk_per_record_ms": 100.0,
    "bulk2_records_per_batch": 1000,
    "bulk_batch_time_limit_s": 300.0,
    "upsert_extra_per_record_ms": 300.0,
}


def test_the_default_keeps_updates_figures() -> None:
    realistic = get_profile("realistic")
    assert realistic.timings.upsert_extra_per_record_ms == 0.0
    assert realistic.for_operation("upsert") is realistic
    for strategy in ("rest", "composite", "bulk1-xml", "bulk2-csv"):
        update = predict(strategy, 5_000, realistic)
        upsert = predict(strategy, 5_000, realistic, operation="upsert")
        assert upsert.seconds >= update.seconds  # only the result downloads an upsert reads are added
        assert upsert.seconds - update.seconds < 2.0, strategy


def test_the_field_is_part_of_the_profile_format() -> None:
    doc = get_profile("realistic").to_document()
    assert doc["timings"]["upsert_extra_per_record_ms"] == 0.0
    doc["timings"]["upsert_extra_per_record_ms"] = 4.5
    profile = profile_from_document(doc)
    assert profile.timings.upsert_extra_per_record_ms == 4.5
    assert profile_from_document(profile.to_document()) == profile  # written and read back unchanged
    timed = profile.for_operation("upsert").timings
    t = profile.timings
    assert (timed.sync_per_record_ms, timed.bulk1_per_record_ms, timed.bulk2_per_record_ms) == (
        t.sync_per_record_ms + 4.5,
        t.bulk1_per_record_ms + 4.5,
        t.bulk2_per_record_ms + 4.5,
    )
    assert profile.for_operation("update") is profile
    doc["timings"]["upsert_extra_per_record_ms"] = -1
    with pytest.raises(ProfileError, match="upsert_extra_per_record_ms: must be at least 0"):
        profile_from_document(doc)


def test_the_cost_model_times_an_upsert_with_the_extra() -> None:
    base = get_profile("realistic")
    slower = base.with_overrides(upsert_extra_per_record_ms=10.0)
    for strategy in ("rest", "collections", "composite"):  # one request at a time: the extra adds up per record
        update = predict(strategy, 1_000, slower, concurrency=1)
        upsert = predict(strategy, 1_000, slower, concurrency=1, operation="upsert")
        assert upsert.seconds - update.seconds == pytest.approx(1_000 * 0.010), strategy
        assert upsert.calls == update.calls
    profile = get_profile("instant", **TIMED)
    assert unit_attempts(profile, "bulk2", 1000) == ([(0.1, 1000)], 0)
    assert unit_attempts(profile.for_operation("upsert"), "bulk2", 1000) == ([(0.3, 600), (0.16, 400)], 0)
    assert predict("bulk2-csv", 1000, profile, operation="upsert").retries == 1
    assert predict("bulk2-csv", 1000, profile).retries == 0


def _finished(api, wait, job: str) -> dict:
    return wait(
        lambda: (i := api.bulk2("GET", f"/ingest/{job}").json())["state"] in ("JobComplete", "Failed") and i,
        timeout=120,
    )


def test_the_emulator_times_upserted_records_with_the_extra(api, seeded, wait) -> None:
    ids = seeded(1000)
    keys = {r["Id"]: r["Url__c"] for r in api.org.admin.records("Byline__c", ["Id", "Url__c"])}
    api.org.admin.configure(profile="instant", profile_overrides=TIMED)
    retries = {}
    for operation, header, names, value in (
        ("update", "Id", ids, 1201),
        ("upsert", "Url__c", [keys[i] for i in ids], 1202),
    ):
        key = {"externalIdFieldName": "Url__c"} if operation == "upsert" else {}
        job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": operation, **key}).json()["id"]
        data = f"{header},Tweets__c\n" + "".join(f"{n},{value}\n" for n in names)
        api.bulk2("PUT", f"/ingest/{job}/batches", data=data.encode(), headers={"Content-Type": "text/csv"})
        api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"})
        info = _finished(api, wait, job)
        assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 1000, 0)
        assert all(r["Tweets__c"] == value for r in api.records().values())
        retries[operation] = info["retries"]
    assert retries == {"update": 0, "upsert": 1}  # the upserted batch passed its limit once, as predicted


def test_a_synchronous_upsert_waits_the_extra_per_record(api, seeded, monkeypatch) -> None:
    """The REST family's wait after a write, as the emulator asks asyncio for it (not a wall-clock check):
    10 records updated wait 10 x 1.7 ms, the same 10 upserted 10 x (1.7 + 5.3) ms, time-scaled."""
    import emulator.api.app as app_module

    asked: list[float] = []
    real_sleep = app_module.asyncio.sleep

    async def recording(delay: float, *args: object, **kwargs: object) -> object:
        asked.append(delay)
        return await real_sleep(delay, *args, **kwargs)

    ids = seeded(10)
    keys = {r["Id"]: r["Url__c"] for r in api.org.admin.records("Byline__c", ["Id", "Url__c"])}
    overrides = {"time_scale": 1000, "sync_per_record_ms": 1.7, "upsert_extra_per_record_ms": 5.3}
    api.org.admin.configure(profile="instant", profile_overrides=overrides)
    monkeypatch.setattr(app_module.asyncio, "sleep", recording)
    records = [{"attributes": {"type": "Byline__c"}, "id": i, "Tweets__c": 5} for i in ids]
    assert api.rest("PATCH", "/composite/sobjects", json={"records": records}).status_code == 200
    updated = list(asked)
    asked.clear()
    records = [{"attributes": {"type": "Byline__c"}, "Url__c": keys[i], "Tweets__c": 6} for i in ids]
    assert api.rest("PATCH", "/composite/sobjects/Byline__c/Url__c", json={"records": records}).status_code == 200
    upserted = list(asked)
    monkeypatch.undo()
    seconds = 1 / 1000 / 1000  # a millisecond, 1,000 times faster
    assert pytest.approx(10 * 1.7 * seconds) in updated
    assert pytest.approx(10 * 7.0 * seconds) in upserted and pytest.approx(10 * 1.7 * seconds) not in upserted
