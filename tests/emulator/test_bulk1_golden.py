"""Bulk API 1.0 on the wire (fact sheet 2.2-2.4, 3.1): documents, element order, limits, states, errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from defusedxml.ElementTree import fromstring

from .conftest import job_xml, state_xml

NS = "http://www.force.com/2009/06/asyncapi/dataload"
XML = "application/xml; charset=UTF-8"
CSV = "text/csv; charset=UTF-8"
JSON = "application/json"

JOB_ORDER = [
    "id",
    "operation",
    "object",
    "createdById",
    "createdDate",
    "systemModstamp",
    "state",
    "concurrencyMode",
    "contentType",
    "numberBatchesQueued",
    "numberBatchesInProgress",
    "numberBatchesCompleted",
    "numberBatchesFailed",
    "numberBatchesTotal",
    "numberRecordsProcessed",
    "numberRetries",
    "apiVersion",
    "numberRecordsFailed",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
]
BATCH_ORDER = [
    "id",
    "jobId",
    "state",
    "createdDate",
    "systemModstamp",
    "numberRecordsProcessed",
    "numberRecordsFailed",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
]


def _doc(resp) -> tuple[str, list[tuple[str, str]]]:
    root = fromstring(resp.content)
    assert root.tag.startswith("{" + NS + "}"), root.tag
    return root.tag.split("}")[1], [(c.tag.split("}")[1], c.text or "") for c in root]


def _fields(resp) -> dict[str, str]:
    return dict(_doc(resp)[1])


def sobjects_xml(rows) -> bytes:
    body = "".join("<sObject>" + "".join(f"<{k}>{v}</{k}>" for k, v in r.items()) + "</sObject>" for r in rows)
    return f'<?xml version="1.0" encoding="UTF-8"?><sObjects xmlns="{NS}">{body}</sObjects>'.encode()


def create_job(api, **kw) -> str:
    resp = api.bulk1("POST", "/job", body=job_xml(**kw))
    assert resp.status_code == 201, resp.text
    return _fields(resp)["id"]


def wait_batch(api, wait, job, batch, version="62.0"):
    def done():
        info = _fields(api.bulk1("GET", f"/job/{job}/batch/{batch}", version=version))
        return info if info["state"] not in ("Queued", "InProgress") else None

    return wait(done, what=f"batch {batch}")


def assert_error(resp, code: str, status: int = 400, fragment: str | None = None):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/xml")
    tag, children = _doc(resp)
    assert tag == "error"
    assert [name for name, _ in children] == ["exceptionCode", "exceptionMessage"]
    assert children[0][1] == code, resp.text
    if fragment:
        assert fragment in children[1][1], resp.text


# -- documents ----------------------------------------------------------------------------------------
def test_job_and_batch_documents_in_order(api, wait, seeded):
    ids = seeded(3)
    resp = api.bulk1("POST", "/job", body=job_xml())
    assert resp.status_code == 201
    tag, children = _doc(resp)
    assert tag == "jobInfo" and [n for n, _ in children] == JOB_ORDER
    info = dict(children)
    job = info["id"]
    assert job.startswith("750") and len(job) == 18
    assert (
        info["operation"],
        info["object"],
        info["state"],
        info["concurrencyMode"],
        info["contentType"],
        info["apiVersion"],
    ) == ("update", "Byline__c", "Open", "Parallel", "XML", "62.0")
    assert info["createdDate"].endswith("Z") or info["createdDate"][-5] in "+-"
    batch_resp = api.bulk1("POST", f"/job/{job}/batch", body=sobjects_xml([{"Id": r, "Tweets__c": 1} for r in ids]))
    assert batch_resp.status_code == 201
    tag, children = _doc(batch_resp)
    assert tag == "batchInfo" and [n for n, _ in children] == BATCH_ORDER
    batch = dict(children)["id"]
    assert batch.startswith("751") and dict(children)["jobId"] == job and dict(children)["state"] == "Queued"
    done = wait_batch(api, wait, job, batch)
    assert done["state"] == "Completed" and done["numberRecordsProcessed"] == "3" and done["numberRecordsFailed"] == "0"
    listing = api.bulk1("GET", f"/job/{job}/batch")
    tag, children = _doc(listing)
    assert tag == "batchInfoList" and [n for n, _ in children] == ["batchInfo"]
    closed = api.bulk1("POST", f"/job/{job}", body=state_xml("Closed"))
    assert closed.status_code == 200
    tag, children = _doc(closed)
    assert [n for n, _ in children] == JOB_ORDER and dict(children)["state"] == "Closed"
    info = _fields(api.bulk1("GET", f"/job/{job}"))
    assert (
        info["numberBatchesTotal"] == "1"
        and info["numberBatchesCompleted"] == "1"
        and info["numberRecordsProcessed"] == "3"
    )
    request = api.bulk1("GET", f"/job/{job}/batch/{batch}/request")
    assert request.status_code == 200 and request.content == sobjects_xml([{"Id": r, "Tweets__c": 1} for r in ids])


def test_result_formats(api, wait, seeded):
    ids = seeded(2)
    rows = [{"Id": ids[0], "Tweets__c": "5"}, {"Id": ids[1], "Tweets__c": "-5"}]
    # XML
    job = create_job(api)
    batch = _fields(api.bulk1("POST", f"/job/{job}/batch", body=sobjects_xml(rows)))["id"]
    wait_batch(api, wait, job, batch)
    res = api.bulk1("GET", f"/job/{job}/batch/{batch}/result")
    assert res.headers["content-type"] == "application/xml"
    tag, children = _doc(res)
    assert tag == "results" and [n for n, _ in children] == ["result", "result"]
    root = fromstring(res.content)
    first, second = list(root)

    def get(el, name):
        return el.find(f"{{{NS}}}{name}")

    assert (
        get(first, "id").text == ids[0]
        and get(first, "success").text == "true"
        and get(first, "created").text == "false"
    )
    # A failed row carries no id, updates included (simple-salesforce #627 sees exactly that).
    assert get(second, "success").text == "false" and get(second, "id").text is None
    assert get(second, "id").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    err = get(second, "errors")
    assert (
        get(err, "statusCode").text == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        and get(err, "message").text == "Social counts cannot be negative."
    )
    # CSV
    job = create_job(api, content_type="CSV")
    batch = _fields(
        api.bulk1("POST", f"/job/{job}/batch", body=f"Id,Tweets__c\n{ids[0]},6\n{ids[1]},-6\n", content_type=CSV)
    )["id"]
    wait_batch(api, wait, job, batch)
    res = api.bulk1("GET", f"/job/{job}/batch/{batch}/result")
    assert res.headers["content-type"] == "text/csv"  # exactly: salesforce-bulk compares it verbatim
    assert res.text == (
        '"Id","Success","Created","Error"\n'
        f'"{ids[0]}","true","false",""\n'
        '"","false","false","FIELD_CUSTOM_VALIDATION_EXCEPTION:Social counts cannot be negative.:--"\n'
    )
    # JSON (job and batch documents in JSON too)
    resp = api.bulk1(
        "POST",
        "/job",
        body=json.dumps({"operation": "update", "object": "Byline__c", "contentType": "JSON"}),
        content_type=JSON,
    )
    assert resp.status_code == 201 and resp.headers["content-type"] == "application/json"
    info = resp.json()
    assert list(info) == JOB_ORDER and info["apiVersion"] == 62.0 and info["numberBatchesTotal"] == 0
    batch_info = api.bulk1(
        "POST",
        f"/job/{info['id']}/batch",
        body=json.dumps([{"Id": ids[0], "Tweets__c": 7}, {"Id": ids[1], "Tweets__c": -7}]),
        content_type=JSON,
    ).json()
    assert list(batch_info) == BATCH_ORDER

    def done():
        b = api.bulk1("GET", f"/job/{info['id']}/batch/{batch_info['id']}").json()
        return b["state"] == "Completed"

    wait(done)
    out = api.bulk1("GET", f"/job/{info['id']}/batch/{batch_info['id']}/result").json()
    assert out[0] == {"success": True, "created": False, "id": ids[0], "errors": []}
    assert out[1]["success"] is False and out[1]["id"] is None
    assert out[1]["errors"] == [
        {
            "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "message": "Social counts cannot be negative.",
            "fields": [],
        }
    ]
    listing = api.bulk1("GET", f"/job/{info['id']}/batch").json()
    assert list(listing) == ["batchInfo"] and listing["batchInfo"][0]["id"] == batch_info["id"]
    assert api.records()[ids[0]]["Tweets__c"] == 7


def test_csv_null_and_blank_semantics(api, wait, seeded):
    ids = seeded(2)
    api.rest("PATCH", f"/sobjects/Byline__c/{ids[0]}", json={"Tweets__c": 3, "Likes__c": 4})
    job = create_job(api, content_type="CSV")
    body = f"Id,Tweets__c,Likes__c\n{ids[0]},#N/A,\n"  # #N/A sets null; an empty value leaves the field alone
    batch = _fields(api.bulk1("POST", f"/job/{job}/batch", body=body, content_type=CSV))["id"]
    wait_batch(api, wait, job, batch)
    row = api.records()[ids[0]]
    assert row["Tweets__c"] is None and row["Likes__c"] == 4


# -- limits -------------------------------------------------------------------------------------------
def test_batch_record_limit(api, seeded):
    ids = seeded(10_001)
    job = create_job(api, content_type="CSV")
    body = "Id,Tweets__c\n" + "".join(f"{r},1\n" for r in ids)
    assert_error(api.bulk1("POST", f"/job/{job}/batch", body=body, content_type=CSV), "InvalidBatch", fragment="10000")
    ok = api.bulk1(
        "POST", f"/job/{job}/batch", body="Id,Tweets__c\n" + "".join(f"{r},1\n" for r in ids[:10_000]), content_type=CSV
    )
    assert ok.status_code == 201
    # Both batches count against the daily batch allocation, the refused one too.
    assert api.org.admin.usage()["DailyBulkApiBatches"]["used"] == 2


def test_batch_size_limits(api, seeded):
    rid = seeded(1)[0]
    job = create_job(api, content_type="CSV")
    filler = "x" * 9_990
    # ~10,000,100 bytes in 1,000 rows of ASCII: over 10,000,000 bytes and 10,000,000 characters.
    body = "Id,Name\n" + "".join(f"{rid},{filler}\n" for _ in range(1_001))
    assert len(body.encode()) > 10_000_000
    assert_error(
        api.bulk1("POST", f"/job/{job}/batch", body=body.encode(), content_type=CSV),
        "InvalidBatch",
        fragment="10000000",
    )
    # Multi-byte text: fewer than 10,000,000 characters but more than 10,000,000 bytes is still too big.
    wide = "Id,Name\n" + "".join(f"{rid},{'é' * 4_990}\n" for _ in range(1_001))
    assert len(wide) < 10_000_000 < len(wide.encode())
    assert_error(api.bulk1("POST", f"/job/{job}/batch", body=wide.encode(), content_type=CSV), "InvalidBatch")
    assert_error(api.bulk1("POST", f"/job/{job}/batch", body=b"", content_type=CSV), "InvalidBatch")
    assert api.records()[rid]["Name"] != filler


# -- states -------------------------------------------------------------------------------------------
def test_close_and_abort_transitions(api, wait, seeded):
    ids = seeded(2)
    before = api.records()
    job = create_job(api)
    closed = _fields(api.bulk1("POST", f"/job/{job}", body=state_xml("Closed")))
    assert closed["state"] == "Closed"
    assert_error(
        api.bulk1("POST", f"/job/{job}/batch", body=sobjects_xml([{"Id": ids[0], "Tweets__c": 1}])), "InvalidJobState"
    )
    assert_error(api.bulk1("POST", f"/job/{job}", body=state_xml("Closed")), "InvalidJobState")
    assert_error(api.bulk1("POST", f"/job/{job}", body=state_xml("Open")), "InvalidJobState")
    assert _fields(api.bulk1("POST", f"/job/{job}", body=state_xml("Aborted")))["state"] == "Aborted"
    assert_error(api.bulk1("POST", f"/job/{job}", body=state_xml("Closed")), "InvalidJobState")
    assert api.records() == before


@pytest.mark.parametrize("version", ["30.0", "40.0", "62.0"])
def test_abort_leaves_queued_batches_not_processed(api, seeded, version):
    """`NotProcessed` at every version, as the XML schema spells it (emulator/bulk/bulk1_jobs.py says why)."""
    spelling = "NotProcessed"
    ids = seeded(2)
    before = api.records()
    api.org.admin.configure(profile_overrides={"bulk_queue_median_s": 120, "bulk_queue_p90_s": 120})
    resp = api.bulk1("POST", "/job", body=job_xml(), version=version)
    job = _fields(resp)["id"]
    batch = _fields(
        api.bulk1("POST", f"/job/{job}/batch", body=sobjects_xml([{"Id": ids[0], "Tweets__c": 1}]), version=version)
    )["id"]
    assert _fields(api.bulk1("GET", f"/job/{job}/batch/{batch}", version=version))["state"] == "Queued"
    aborted = _fields(api.bulk1("POST", f"/job/{job}", body=state_xml("Aborted"), version=version))
    assert aborted["state"] == "Aborted"
    assert _fields(api.bulk1("GET", f"/job/{job}/batch/{batch}", version=version))["state"] == spelling
    assert_error(api.bulk1("GET", f"/job/{job}/batch/{batch}/result", version=version), "InvalidBatch")
    assert api.records() == before


def test_serial_mode_avoids_parent_lock_contention(api, wait, org):
    """Parallel batches whose records share one parent contend for its lock; Serial ones never do."""
    # Each 200-record transaction keeps its parent locked for 500 ms after committing.
    api.org.admin.configure(
        profile_overrides={"bulk_chunk_overhead_ms": 500, "bulk_parallelism": 4},
        faults={"parent_lock_contention": True},
    )
    ids = org.admin.seed("Byline__c", 800, return_ids=True, parents=1)["ids"]
    outcome = {}
    for mode in ("Parallel", "Serial"):
        job = create_job(api, content_type="CSV", concurrency=mode)
        batches = []
        for n in range(4):
            body = "Id,Tweets__c\n" + "".join(f"{r},{n}\n" for r in ids[n * 200 : (n + 1) * 200])
            batches.append(_fields(api.bulk1("POST", f"/job/{job}/batch", body=body, content_type=CSV))["id"])
        errors = []
        for b in batches:
            wait_batch(api, wait, job, b)
            rows = list(csv.DictReader(io.StringIO(api.bulk1("GET", f"/job/{job}/batch/{b}/result").text)))
            errors += [r["Error"] for r in rows if r["Success"] == "false"]
        outcome[mode] = errors
    assert outcome["Parallel"], "parallel batches sharing a parent should have hit UNABLE_TO_LOCK_ROW"
    assert all(e.startswith("UNABLE_TO_LOCK_ROW:") for e in outcome["Parallel"])
    assert outcome["Serial"] == []


# -- errors -------------------------------------------------------------------------------------------
def test_error_bodies(api, seeded):
    ids = seeded(1)
    before = api.records()
    assert_error(api.bulk1("POST", "/job", body=job_xml(operation="frobnicate")), "InvalidJob")
    assert_error(api.bulk1("POST", "/job", body=job_xml(obj="No_Such__c")), "InvalidJob", fragment="No_Such__c")
    assert_error(api.bulk1("POST", "/job", body=job_xml(content_type="YAML")), "InvalidJob")
    assert_error(api.bulk1("POST", "/job", body=job_xml(concurrency="Sideways")), "InvalidJob")
    assert_error(api.bulk1("POST", "/job", body=b"<jobInfo><unclosed>"), "InvalidXML")
    assert_error(api.bulk1("GET", "/job/750000000000000AAA"), "InvalidJob")
    job = create_job(api)
    assert_error(api.bulk1("GET", f"/job/{job}/batch/751000000000000AAA"), "InvalidBatch")
    assert_error(api.bulk1("POST", f"/job/{job}/batch", body=b"<sObjects><sObject><Id>"), "InvalidBatch")
    assert_error(api.bulk1("POST", f"/job/{job}/batch", body=f"Id\n{ids[0]}\n", content_type=CSV), "InvalidBatch")
    assert_error(api.bulk1("POST", f"/job/{job}/batch", body=b'<?xml version="1.0"?><jobInfo/>'), "InvalidBatch")
    # JSON jobs answer errors in JSON.
    bad = api.bulk1("POST", "/job", body=json.dumps({"operation": "update", "object": "Nope"}), content_type=JSON)
    assert bad.status_code == 400 and bad.json()["exceptionCode"] == "InvalidJob"
    malformed = api.bulk1("POST", "/job", body="{nope", content_type=JSON)
    assert malformed.status_code == 400 and set(malformed.json()) == {"exceptionCode", "exceptionMessage"}
    assert api.records() == before


def test_invalid_session_is_400_invalid_session_id(api):
    resp = api.bulk1("POST", "/job", body=job_xml(), token="expired-or-bogus")
    assert_error(resp, "InvalidSessionId", status=400)
    assert _doc(resp)[1][1][1] == "Invalid session id"
    resp = api.bulk1("GET", "/job/750000000000000AAA", send_session=False)
    assert_error(resp, "InvalidSessionId", status=400)
    assert api.used() == 0


def test_failed_rows_are_per_record_not_whole_batch(api, wait, seeded):
    ids = seeded(3)
    account = seeded(1, "Account")[0]
    job = create_job(api, content_type="CSV")
    body = f"Id,Tweets__c,Date_Published__c\n{ids[0]},1,2024-01-31\n{account},1,\n{ids[1]},abc,\n,1,\n{ids[2]},2,2024-13-01\n"
    batch = _fields(api.bulk1("POST", f"/job/{job}/batch", body=body, content_type=CSV))["id"]
    info = wait_batch(api, wait, job, batch)
    assert info["state"] == "Completed" and info["numberRecordsProcessed"] == "5" and info["numberRecordsFailed"] == "4"
    rows = list(csv.DictReader(io.StringIO(api.bulk1("GET", f"/job/{job}/batch/{batch}/result").text)))
    assert [r["Success"] for r in rows] == ["true", "false", "false", "false", "false"]
    assert rows[1]["Error"].startswith("MALFORMED_ID:")
    assert rows[2]["Error"].startswith("INVALID_TYPE_ON_FIELD_IN_RECORD:")
    assert rows[3]["Error"].startswith("MALFORMED_ID:")
    assert api.records()[ids[0]]["Date_Published__c"] == "2024-01-31"


def test_parallel_batches_wait_for_a_locked_parent(api, wait, org):
    """With a lock wait longer than the parent is held, parallel batches queue for it and all succeed."""
    api.org.admin.configure(
        profile_overrides={"bulk_chunk_overhead_ms": 100, "lock_wait_s": 5.0, "bulk_parallelism": 4},
        faults={"parent_lock_contention": True},
    )
    ids = org.admin.seed("Byline__c", 400, return_ids=True, parents=1)["ids"]
    job = create_job(api, content_type="CSV")
    batches = [
        _fields(
            api.bulk1(
                "POST",
                f"/job/{job}/batch",
                body="Id,Tweets__c\n" + "".join(f"{r},{n}\n" for r in ids[n * 200 : (n + 1) * 200]),
                content_type=CSV,
            )
        )["id"]
        for n in range(2)
    ]
    # A REST write while the batches run is not held up behind a batch waiting for the parent's lock.
    assert api.rest("PATCH", f"/sobjects/Byline__c/{ids[0]}", json={"Likes__c": 1}).status_code == 204
    for b in batches:
        assert wait_batch(api, wait, job, b)["numberRecordsFailed"] == "0"
    stored = api.records()
    assert all(stored[r]["Tweets__c"] == n // 200 for n, r in enumerate(ids))


def test_unknown_paths_and_methods_get_an_error_body(api):
    job = create_job(api)
    # An unknown URI is 404; a method other than GET or POST is 405, as the Bulk API documents.
    for method, path, status in (
        ("GET", "/nothing/here", 404),
        ("DELETE", f"/job/{job}", 405),
        ("PUT", f"/job/{job}/batch", 405),
    ):
        resp = api.bulk1(method, path)
        assert_error(resp, "InvalidUrl", status=status)
