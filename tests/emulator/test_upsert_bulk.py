"""Upsert through Bulk API 1.0 (XML, CSV, JSON) and Bulk API 2.0 ingest jobs (`operation: upsert`).

Golden job documents and result files, each checked against the stored data; job-level refusals (no key,
a key upsert cannot match on, a file without the key column); and the counters, which move exactly as
for the same job with `operation: update`.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from defusedxml.ElementTree import fromstring

from .conftest import job_xml, state_xml

NS = "http://www.force.com/2009/06/asyncapi/dataload"
CSV = "text/csv; charset=UTF-8"
UPSERT_JOB_ORDER = [
    "id",
    "operation",
    "object",
    "createdById",
    "createdDate",
    "systemModstamp",
    "state",
    "externalIdFieldName",
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


def _children(content: bytes) -> tuple[str, list[tuple[str, str]]]:
    root = fromstring(content)
    return root.tag.split("}")[1], [(c.tag.split("}")[1], c.text or "") for c in root]


def _info(resp) -> dict:
    """A Bulk 1.0 jobInfo or batchInfo, in the format of the job (JSON jobs answer in JSON)."""
    if resp.headers["content-type"].startswith("application/json"):
        return resp.json()
    return dict(_children(resp.content)[1])


def _keys(api) -> dict[str, str]:
    """Seeded records' keys by id."""
    return {r["Id"]: r["Url__c"] for r in api.org.admin.records("Byline__c", ["Id", "Url__c"])}


def _by_key(api) -> dict[str | None, dict]:
    return {r["Url__c"]: r for r in api.org.admin.records("Byline__c", ["Id", "Url__c", "Name", "Tweets__c"])}


# -- Bulk 1.0 --------------------------------------------------------------------------------------------
def _bulk1_batch(api, wait, content_type: str, body, media: str) -> tuple[str, str]:
    resp = api.bulk1("POST", "/job", body=job_xml("upsert", content_type=content_type, external_id="Url__c"))
    assert resp.status_code == 201, resp.text
    job = _info(resp)["id"]
    batch = api.bulk1("POST", f"/job/{job}/batch", body=body, content_type=media)
    assert batch.status_code == 201, batch.text
    batch_id = _info(batch)["id"]

    def done():
        info = _info(api.bulk1("GET", f"/job/{job}/batch/{batch_id}"))
        return info if info["state"] not in ("Queued", "InProgress") else None

    assert wait(done, what="batch")["state"] == "Completed"
    assert api.bulk1("POST", f"/job/{job}", body=state_xml("Closed")).status_code == 200
    return job, batch_id


def test_bulk1_upsert_job_document_names_its_key(api):
    resp = api.bulk1("POST", "/job", body=job_xml("upsert", content_type="CSV", external_id="url__c"))
    assert resp.status_code == 201
    tag, children = _children(resp.content)
    assert tag == "jobInfo" and [name for name, _ in children] == UPSERT_JOB_ORDER
    info = dict(children)
    assert (info["operation"], info["externalIdFieldName"], info["state"]) == ("upsert", "Url__c", "Open")
    as_json = api.bulk1(
        "POST",
        "/job",
        body=json.dumps(
            {"operation": "upsert", "object": "Byline__c", "contentType": "JSON", "externalIdFieldName": "Url__c"}
        ),
        content_type="application/json",
    )
    assert list(as_json.json()) == UPSERT_JOB_ORDER and as_json.json()["externalIdFieldName"] == "Url__c"


def test_bulk1_xml_upsert_results(api, wait, seeded):
    ids = seeded(2)
    keys = _keys(api)
    rows = [
        f"<sObject><Url__c>{keys[ids[0]]}</Url__c><Tweets__c>50</Tweets__c></sObject>",  # updated
        "<sObject><Url__c>https://example.com/x1</Url__c><Name>x1</Name></sObject>",  # created
        "<sObject><Url__c>same</Url__c><Name>a</Name></sObject>",  # the same key twice:
        "<sObject><Url__c>SAME</Url__c><Name>b</Name></sObject>",  # both fail
        "<sObject><Name>no key</Name></sObject>",  # created, no key
    ]
    body = f'<?xml version="1.0" encoding="UTF-8"?><sObjects xmlns="{NS}">{"".join(rows)}</sObjects>'.encode()
    job, batch = _bulk1_batch(api, wait, "XML", body, "application/xml")
    result = api.bulk1("GET", f"/job/{job}/batch/{batch}/result")
    parsed = [{c.tag.split("}")[1]: c for c in r} for r in fromstring(result.content)]
    outcomes = [(r["success"].text, r["created"].text, r["id"].text) for r in parsed]
    stored = _by_key(api)
    assert outcomes == [
        ("true", "false", ids[0]),
        ("true", "true", stored["https://example.com/x1"]["Id"]),
        ("false", "false", None),
        ("false", "false", None),
        ("true", "true", stored[None]["Id"]),
    ]
    assert parsed[2]["errors"].find(f"{{{NS}}}statusCode").text == "DUPLICATE_VALUE"
    assert parsed[3]["errors"].find(f"{{{NS}}}message").text == "Duplicate external id specified: SAME"
    assert stored[keys[ids[0]]]["Tweets__c"] == 50 and len(stored) == 4


def test_bulk1_csv_and_json_upsert_results(api, wait, seeded):
    ids = seeded(1)
    key = _keys(api)[ids[0]]
    job, batch = _bulk1_batch(
        api, wait, "CSV", f"Url__c,Name,Tweets__c\n{key},,7\ncsv-new,New,1\ncsv-neg,Neg,-1\n", CSV
    )
    created = _by_key(api)["csv-new"]["Id"]
    assert api.bulk1("GET", f"/job/{job}/batch/{batch}/result").text == (
        '"Id","Success","Created","Error"\n'
        f'"{ids[0]}","true","false",""\n'
        f'"{created}","true","true",""\n'
        '"","false","false","FIELD_CUSTOM_VALIDATION_EXCEPTION:Social counts cannot be negative.:--"\n'
    )
    body = json.dumps([{"Url__c": "csv-new", "Tweets__c": 2}, {"Url__c": "json-new", "Name": "J"}])
    job, batch = _bulk1_batch(api, wait, "JSON", body, "application/json")
    results = api.bulk1("GET", f"/job/{job}/batch/{batch}/result").json()
    assert results == [
        {"success": True, "created": False, "id": created, "errors": []},
        {"success": True, "created": True, "id": _by_key(api)["json-new"]["Id"], "errors": []},
    ]
    assert _by_key(api)["csv-new"]["Tweets__c"] == 2


@pytest.mark.parametrize(
    "external_id, message",
    [
        (None, "InvalidJob : External ID was blank for Byline__c. An External ID must be specified for upsert."),
        ("Name", "InvalidJob : Field name provided, Name does not match an External ID for Byline__c"),
        ("Nope__c", "InvalidJob : Field name provided, Nope__c does not match an External ID for Byline__c"),
    ],
)
def test_bulk1_upsert_job_needs_a_key_field(api, external_id, message):
    resp = api.bulk1("POST", "/job", body=job_xml("upsert", content_type="CSV", external_id=external_id))
    assert resp.status_code == 400
    assert _children(resp.content) == ("error", [("exceptionCode", "InvalidJob"), ("exceptionMessage", message)])


def test_bulk1_csv_batch_without_the_key_column_fails(api, wait, seeded):
    seeded(1)
    before = _by_key(api)
    job = dict(
        _children(api.bulk1("POST", "/job", body=job_xml("upsert", content_type="CSV", external_id="Url__c")).content)[
            1
        ]
    )["id"]
    batch = dict(
        _children(api.bulk1("POST", f"/job/{job}/batch", body="Name\nno key column\n", content_type=CSV).content)[1]
    )["id"]

    def done():
        info = dict(_children(api.bulk1("GET", f"/job/{job}/batch/{batch}").content)[1])
        return info if info["state"] not in ("Queued", "InProgress") else None

    info = wait(done, what="batch")
    assert (info["state"], info["stateMessage"]) == ("Failed", "InvalidBatch : Field name not found : Url__c")
    assert _by_key(api) == before


# -- Bulk 2.0 --------------------------------------------------------------------------------------------
def _bulk2_job(api, wait, data: str, **body) -> dict:
    created = api.bulk2(
        "POST", "/ingest", json={"object": "Byline__c", "operation": "upsert", "externalIdFieldName": "Url__c", **body}
    )
    assert created.status_code == 200, created.text
    job = created.json()["id"]
    assert (
        api.bulk2("PUT", f"/ingest/{job}/batches", data=data.encode(), headers={"Content-Type": "text/csv"}).status_code
        == 201
    )
    assert api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"}).status_code == 200

    def done():
        info = api.bulk2("GET", f"/ingest/{job}").json()
        return info if info["state"] in ("JobComplete", "Failed", "Aborted") else None

    return wait(done, what="job")


def _result_rows(api, job: str, kind: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(api.bulk2("GET", f"/ingest/{job}/{kind}/").content.decode())))


def test_bulk2_upsert_results_say_created(api, wait, seeded):
    ids = seeded(2)
    keys = _keys(api)
    data = (
        "Url__c,Name,Tweets__c\n"
        f"{keys[ids[0]]},,11\n"  # updated
        "https://example.com/b2,B2,2\n"  # created
        "twice,a,1\nTWICE,b,1\n"  # the same key twice: both fail
        ",no key,3\n"  # created, no key
        f"{keys[ids[1]]},,-1\n"
    )  # matched, fails the rule
    info = _bulk2_job(api, wait, data)
    assert (info["state"], info["operation"], info["externalIdFieldName"]) == ("JobComplete", "upsert", "Url__c")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (6, 3)
    stored = _by_key(api)
    ok = _result_rows(api, info["id"], "successfulResults")
    assert [(r["sf__Id"], r["sf__Created"], r["Url__c"]) for r in ok] == [
        (ids[0], "false", keys[ids[0]]),
        (stored["https://example.com/b2"]["Id"], "true", "https://example.com/b2"),
        (stored[None]["Id"], "true", ""),
    ]
    failed = _result_rows(api, info["id"], "failedResults")
    assert [(r["sf__Id"], r["sf__Error"]) for r in failed] == [
        ("", "DUPLICATE_VALUE:Duplicate external id specified: twice:--"),
        ("", "DUPLICATE_VALUE:Duplicate external id specified: TWICE:--"),
        (ids[1], "FIELD_CUSTOM_VALIDATION_EXCEPTION:Social counts cannot be negative.:--"),
    ]
    assert stored[keys[ids[0]]]["Tweets__c"] == 11 and len(stored) == 4


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            {"externalIdFieldName": None},
            "InvalidJob : External ID was blank for Byline__c. An External ID must be specified for upsert.",
        ),
        (
            {"externalIdFieldName": "Likes__c"},
            "InvalidJob : Field name provided, Likes__c does not match an External ID for Byline__c",
        ),
    ],
)
def test_bulk2_upsert_job_needs_a_key_field(api, extra, message):
    body = {"object": "Byline__c", "operation": "upsert", **extra}
    if body["externalIdFieldName"] is None:
        del body["externalIdFieldName"]
    resp = api.bulk2("POST", "/ingest", json=body)
    assert resp.status_code == 400 and resp.json() == [{"errorCode": "INVALIDJOB", "message": message}]


def test_bulk2_file_without_the_key_column_fails_the_job(api, wait):
    info = _bulk2_job(api, wait, "Name,Tweets__c\nno key,1\nnone,2\n")
    assert (info["state"], info["errorMessage"]) == ("Failed", "InvalidBatch : Field name not found : Url__c")
    assert len(_result_rows(api, info["id"], "unprocessedrecords")) == 2
    assert _by_key(api) == {}


def test_bulk2_multipart_upsert(api, wait):
    files = {
        "job": (
            None,
            json.dumps({"object": "Byline__c", "operation": "upsert", "externalIdFieldName": "Url__c"}),
            "application/json",
        ),
        "content": ("content", "Url__c,Name\nmp-1,One\nmp-2,Two\n", "text/csv"),
    }
    resp = api.bulk2("POST", "/ingest", files=files)
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "UploadComplete" and resp.json()["externalIdFieldName"] == "Url__c"

    def done():
        info = api.bulk2("GET", f"/ingest/{resp.json()['id']}").json()
        return info if info["state"] == "JobComplete" else None

    wait(done, what="job")
    assert {k: r["Name"] for k, r in _by_key(api).items()} == {"mp-1": "One", "mp-2": "Two"}


def test_bulk2_upsert_of_several_internal_batches_keeps_one_record_per_key(api, wait, seeded):
    """25,000 rows: the first 12,000 keys exist, the rest are new; three internal batches run in parallel."""
    seeded(12_000)
    existing = sorted(_keys(api).values())
    new = [f"https://example.com/new/{n}" for n in range(13_000)]
    data = (
        "Url__c,Name,Tweets__c\n"
        + "".join(f"{k},,1\n" for k in existing)
        + "".join(f"{k},N{n},1\n" for n, k in enumerate(new))
    )
    info = _bulk2_job(api, wait, data)
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 25_000, 0)
    created = [r["sf__Created"] for r in _result_rows(api, info["id"], "successfulResults")]
    assert (created.count("false"), created.count("true")) == (12_000, 13_000)
    stored = api.org.admin.records("Byline__c", ["Url__c", "Tweets__c"])
    assert len(stored) == 25_000 and {r["Url__c"] for r in stored} == set(existing + new)
    assert all(r["Tweets__c"] == 1 for r in stored)
    assert api.org.admin.usage()["DailyBulkApiBatches"]["used"] == 3


# -- counted as the update counterpart ---------------------------------------------------------------
def test_upsert_jobs_cost_what_update_jobs_cost(api, wait, seeded):
    """The same requests with operation update and operation upsert move every counter alike (jobs are
    awaited through the free admin API, so no status poll blurs the count)."""
    ids = seeded(3)
    keys = _keys(api)

    def counters() -> tuple[int, int]:
        usage = api.org.admin.usage()
        return usage["DailyApiRequests"]["used"], usage["DailyBulkApiBatches"]["used"]

    def settled(family: str, job: str, done) -> None:
        wait(lambda: any(j["id"] == job and done(j) for j in api.org.admin.jobs()[family]), what=f"job {job}")

    spent = {}
    for operation, data in (
        ("update", "Id,Tweets__c\n" + "".join(f"{r},1\n" for r in ids)),
        ("upsert", "Url__c,Tweets__c\n" + "".join(f"{keys[r]},2\n" for r in ids)),
    ):
        start = counters()
        key = {"externalIdFieldName": "Url__c"} if operation == "upsert" else {}
        job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": operation, **key}).json()["id"]
        api.bulk2("PUT", f"/ingest/{job}/batches", data=data.encode(), headers={"Content-Type": "text/csv"})
        api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"})
        settled("bulk2_ingest", job, lambda j: j["state"] == "JobComplete")
        assert len(api.bulk2("GET", f"/ingest/{job}/successfulResults/").text.splitlines()) == 4
        document = job_xml(operation, content_type="CSV", external_id=key.get("externalIdFieldName"))
        job = dict(_children(api.bulk1("POST", "/job", body=document).content)[1])["id"]
        batch = dict(_children(api.bulk1("POST", f"/job/{job}/batch", body=data, content_type=CSV).content)[1])["id"]
        api.bulk1("POST", f"/job/{job}", body=state_xml("Closed"))
        settled("bulk1", job, lambda j: j["numberBatchesCompleted"] == 1)
        assert len(api.bulk1("GET", f"/job/{job}/batch/{batch}/result").text.splitlines()) == 4
        end = counters()
        spent[operation] = (end[0] - start[0], end[1] - start[1])
    assert spent["upsert"] == spent["update"] == (8, 2)
    assert all(r["Tweets__c"] == 2 for r in api.org.admin.records("Byline__c", ["Tweets__c"]))
