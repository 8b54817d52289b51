"""heroku/salesforce-bulk 2.2.0, unmodified, against the emulator over HTTPS (XML and CSV update jobs).

The library calls module-level `requests.post/get` (no session), so the emulator's CA is trusted through
`REQUESTS_CA_BUNDLE` (the CA bundle = system CAs + the emulator's CA). Its default API version is 40.0;
its bulk_states.py checks the not-processed batch state as `NotProcessed`, the XML schema's spelling.

Known bugs of the client are asserted as they are (peer-clients.md section 3.1) rather than hidden:
- XML results: `getid` has no `return`, so every UploadResult.id is None;
- CSV results keep 'true'/'false' as strings, JSON results are booleans;
- `wait_for_batch` returns silently on timeout.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from salesforce_bulk import SalesforceBulk
from salesforce_bulk.salesforce_bulk import BulkApiError, BulkBatchFailed

NS = "http://www.force.com/2009/06/asyncapi/dataload"


@pytest.fixture
def bulk(org, monkeypatch) -> SalesforceBulk:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return SalesforceBulk(sessionId=org.access_token, host=org.instance_url)


def _xml_batch(rows: list[dict]) -> bytes:
    body = "".join(
        "<sObject>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in row.items()) + "</sObject>" for row in rows
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><sObjects xmlns="{NS}">{body}</sObjects>'.encode()


def test_xml_update_job(bulk, api, seeded):
    ids = seeded(40)
    job = bulk.create_update_job("Byline__c", contentType="XML")
    rows = [{"Id": rid, "Tweets__c": n, "Name": f"<b>&{n}"} for n, rid in enumerate(ids[:20])]
    rows[5]["Tweets__c"] = -3  # rejected by the validation rule
    batch = bulk.post_batch(job, _xml_batch(rows))
    second = bulk.post_batch(job, _xml_batch([{"Id": rid, "Likes__c": 1} for rid in ids[20:]]))
    bulk.close_job(job)
    for b in (batch, second):
        bulk.wait_for_batch(job, b, timeout=30, sleep_interval=0.05)
    results = bulk.get_batch_results(batch, job)
    assert len(results) == 20
    # Client bug (XML): `getid` lacks a return statement, so every id is None even though the emulator's
    # result document carries <id>...</id> for each row.
    assert all(r.id is None for r in results)
    assert [r.success for r in results] == [n != 5 for n in range(20)]
    assert all(r.created is False for r in results)
    assert results[5].error == [
        {
            "fields": [],
            "message": "Social counts cannot be negative.",
            "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        }
    ]
    stored = api.records()
    for n, rid in enumerate(ids[:20]):
        if n != 5:
            assert stored[rid]["Tweets__c"] == n and stored[rid]["Name"] == f"<b>&{n}"
    assert stored[ids[5]]["Name"] != "<b>&5"
    assert all(stored[rid]["Likes__c"] == 1 for rid in ids[20:])
    status = bulk.job_status(job)
    assert status["state"] == "Closed" and status["contentType"] == "XML" and status["apiVersion"] == "40.0"
    assert status["numberBatchesCompleted"] == "2" and status["numberRecordsProcessed"] == "40"
    assert status["numberRecordsFailed"] == "1"


def test_csv_update_job(bulk, api, seeded):
    ids = seeded(30)
    account = seeded(1, "Account")[0]
    job = bulk.create_update_job("Byline__c", contentType="CSV", concurrency="Serial")
    lines = ["Id,Likes__c,Name"] + [f'{rid},{n},"Name, with comma {n}"' for n, rid in enumerate(ids)]
    lines.append(f"{account},3,wrong object")  # an Account id in a Byline__c job
    batch = bulk.post_batch(job, "\n".join(lines) + "\n")
    bulk.close_job(job)
    bulk.wait_for_batch(job, batch, timeout=30, sleep_interval=0.05)
    results = bulk.get_batch_results(batch, job)
    assert len(results) == 31
    # Client quirk (CSV): values stay strings.
    assert results[0] == (ids[0], "true", "false", "")
    assert [r.id for r in results[:30]] == ids
    assert results[30].id == "" and results[30].success == "false"
    assert results[30].error.startswith("MALFORMED_ID:")
    stored = api.records()
    assert all(
        stored[rid]["Likes__c"] == n and stored[rid]["Name"] == f"Name, with comma {n}" for n, rid in enumerate(ids)
    )
    assert bulk.job_status(job)["concurrencyMode"] == "Serial"
    batches = bulk.get_batch_list(job)
    assert [b["id"] for b in batches] == [batch] and batches[0]["state"] == "Completed"


def test_json_update_job_results_are_typed(bulk, api, seeded):
    ids = seeded(3)
    job = bulk.create_update_job("Byline__c", contentType="JSON")
    import json

    batch = bulk.post_batch(job, json.dumps([{"Id": rid, "Tweets__c": 4} for rid in ids]))
    bulk.close_job(job)
    bulk.wait_for_batch(job, batch, timeout=30, sleep_interval=0.05)
    results = bulk.get_batch_results(batch, job)
    assert [(r.id, r.success, r.created, r.error) for r in results] == [(rid, True, False, []) for rid in ids]
    assert all(r["Tweets__c"] == 4 for r in api.records().values())


def test_failed_batch_raises_and_errors_surface(bulk, api, seeded):
    ids = seeded(2)
    before = api.records()
    job = bulk.create_update_job("Byline__c", contentType="CSV")
    batch = bulk.post_batch(job, f"Id,No_Such_Field__c\n{ids[0]},1\n")
    with pytest.raises(BulkBatchFailed) as err:
        bulk.wait_for_batch(job, batch, timeout=30, sleep_interval=0.05)
    assert "Field name not found : No_Such_Field__c" in err.value.state_message
    bulk.abort_job(job)
    assert bulk.job_status(job)["state"] == "Aborted"
    with pytest.raises(BulkApiError) as err:
        bulk.post_batch(job, f"Id,Likes__c\n{ids[0]},1\n")
    assert err.value.status_code == 400 and "InvalidJobState" in str(err.value)
    assert api.records() == before


def test_a_batch_left_by_an_aborted_job_is_reported_not_processed(bulk, api, seeded):
    ids = seeded(2)
    before = api.records()
    api.org.admin.configure(profile_overrides={"bulk_queue_median_s": 120, "bulk_queue_p90_s": 120})
    job = bulk.create_update_job("Byline__c", contentType="CSV")
    batch = bulk.post_batch(job, f"Id,Tweets__c\n{ids[0]},1\n")
    bulk.abort_job(job)
    with pytest.raises(BulkBatchFailed) as err:
        bulk.wait_for_batch(job, batch, timeout=30, sleep_interval=0.05)
    assert err.value.state == "NotProcessed"
    assert api.records() == before


def test_invalid_session_is_a_400_bulk_error(org, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle)
    bulk = SalesforceBulk(sessionId="not-a-session", host=org.instance_url)
    with pytest.raises(BulkApiError) as err:
        bulk.create_update_job("Byline__c", contentType="CSV")
    assert err.value.status_code == 400
    assert "<exceptionCode>InvalidSessionId</exceptionCode>" in str(err.value)


def test_csv_upsert_job(bulk, api, seeded):
    ids = seeded(5)
    keys = {r["Id"]: r["Url__c"] for r in api.org.admin.records("Byline__c", ["Id", "Url__c"])}
    job = bulk.create_upsert_job("Byline__c", external_id_name="Url__c", contentType="CSV")
    assert bulk.job_status(job)["externalIdFieldName"] == "Url__c"
    lines = ["Url__c,Name,Tweets__c"] + [f"{keys[rid]},,{n}" for n, rid in enumerate(ids[:3])]
    lines += ["https://example.com/sb/1,First new,10", "https://example.com/sb/2,Second new,11"]
    batch = bulk.post_batch(job, "\n".join(lines) + "\n")
    bulk.close_job(job)
    bulk.wait_for_batch(job, batch, timeout=30, sleep_interval=0.05)
    results = bulk.get_batch_results(batch, job)
    stored = {r["Url__c"]: r for r in api.org.admin.records("Byline__c", ["Id", "Url__c", "Name", "Tweets__c"])}
    # Client quirk (CSV): values stay strings.
    assert [(r.id, r.success, r.created) for r in results] == [(rid, "true", "false") for rid in ids[:3]] + [
        (stored["https://example.com/sb/1"]["Id"], "true", "true"),
        (stored["https://example.com/sb/2"]["Id"], "true", "true"),
    ]
    assert [stored[keys[rid]]["Tweets__c"] for rid in ids[:3]] == [0, 1, 2]
    assert (stored["https://example.com/sb/2"]["Name"], stored["https://example.com/sb/2"]["Tweets__c"]) == (
        "Second new",
        11,
    )
    assert len(stored) == 7


def test_upsert_job_on_a_field_that_is_not_a_key_is_refused(bulk, api):
    with pytest.raises(BulkApiError) as err:
        bulk.create_upsert_job("Byline__c", external_id_name="Name", contentType="CSV")
    assert err.value.status_code == 400 and "does not match an External ID for Byline__c" in str(err.value)
