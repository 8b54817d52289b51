"""Bulk API 2.0 jobs created with their data in one multipart request (fact sheet 2.5: under 100,000 characters).

The job document is the `job` part, the CSV the `content` part; the job closes itself (UploadComplete).
Every refusal leaves no job behind and the data as it was.
"""

from __future__ import annotations

import json

import pytest

INFO_KEYS = [
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
    "apiVersion",
    "jobType",
    "lineEnding",
    "columnDelimiter",
]
JOB = {"object": "Byline__c", "contentType": "CSV", "operation": "update", "lineEnding": "LF"}


def multipart_body(job: dict | str | None, content: str | None, boundary: str = "BOUNDARY") -> bytes:
    """A body laid out as in Salesforce's walkthrough (LF line breaks, a `filename` on the content part)."""
    parts = []
    if job is not None:
        text = job if isinstance(job, str) else json.dumps(job)
        parts.append(
            f'--{boundary}\nContent-Type: application/json\nContent-Disposition: form-data; name="job"\n\n{text}\n'
        )
    if content is not None:
        parts.append(
            f'--{boundary}\nContent-Type: text/csv\nContent-Disposition: form-data; name="content"; '
            f'filename="content"\n\n{content}\n'
        )
    return ("".join(parts) + f"--{boundary}--\n").encode()


def post(api, body: bytes, content_type: str = "multipart/form-data; boundary=BOUNDARY"):
    return api.bulk2("POST", "/ingest", data=body, headers={"Content-Type": content_type})


def job_ids(api) -> set[str]:
    """Every Bulk 2.0 ingest job the org holds (jobs outlive the per-test reset of data and counters)."""
    return {j["id"] for j in api.org.admin.jobs()["bulk2_ingest"]}


def finished(api, wait, job_id: str) -> dict:
    def done():
        info = api.bulk2("GET", f"/ingest/{job_id}").json()
        return info if info["state"] in ("JobComplete", "Failed", "Aborted") else None

    return wait(done, what=f"job {job_id}")


def csv_of(ids: list[str], value: int) -> str:
    return "Id,Tweets__c\n" + "".join(f"{rid},{value}\n" for rid in ids)


def test_multipart_create_closes_the_job_and_runs_it(api, wait, seeded):
    ids = seeded(30)
    before = api.records()  # seeded values follow the org's id sequence: whatever ran before decides them
    resp = post(api, multipart_body(JOB, csv_of(ids[:20], 7)))
    assert resp.status_code == 200, resp.text
    job = resp.json()
    assert list(job) == INFO_KEYS  # no contentUrl: the job is closed
    assert (job["state"], job["operation"], job["object"], job["jobType"]) == (
        "UploadComplete",
        "update",
        "Byline__c",
        "V2Ingest",
    )
    info = finished(api, wait, job["id"])
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 20, 0)
    stored = api.records()
    assert [stored[r]["Tweets__c"] for r in ids[:20]] == [7] * 20
    assert [stored[r] for r in ids[20:]] == [before[r] for r in ids[20:]]  # the rows not sent: untouched
    late = api.bulk2(
        "PUT", f"/ingest/{job['id']}/batches", data=csv_of(ids[20:], 8), headers={"Content-Type": "text/csv"}
    )
    assert late.status_code == 400 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_multipart_is_charged_as_one_request_and_the_same_bulk_allocations(api, wait, seeded):
    """One HTTP request instead of create + PUT + close; the same internal batches and records as that job."""
    data = csv_of(seeded(4100), 2)
    multi = post(api, multipart_body(JOB, data))
    requests_multi = api.org.admin.usage()
    finished(api, wait, multi.json()["id"])
    multi_usage = api.org.admin.usage()
    api.org.admin.reset_usage()
    plain = api.bulk2("POST", "/ingest", json=JOB).json()
    api.bulk2("PUT", f"/ingest/{plain['id']}/batches", data=data, headers={"Content-Type": "text/csv"})
    api.bulk2("PATCH", f"/ingest/{plain['id']}", json={"state": "UploadComplete"})
    requests_plain = api.org.admin.usage()
    finished(api, wait, plain["id"])
    plain_usage = api.org.admin.usage()
    assert requests_multi["DailyApiRequests"]["used"] == 1 and requests_plain["DailyApiRequests"]["used"] == 3
    assert requests_multi["by_endpoint"] == {"POST /services/data/vXX.X/jobs/ingest": 1}
    assert (multi_usage["DailyBulkApiBatches"]["used"], multi_usage["Bulk2RecordsProcessed"]["used"]) == (1, 4100)
    assert (plain_usage["DailyBulkApiBatches"]["used"], plain_usage["Bulk2RecordsProcessed"]["used"]) == (1, 4100)


def test_multipart_data_is_limited_to_100000_characters(api, wait, seeded):
    ids = seeded(4762)
    rows = csv_of(ids[:4761], 3)
    exact = rows[:-2] + "0" * (100_000 - len(rows)) + "3\n"  # leading zeros on the last value: still 3
    assert len(exact) == 100_000
    accepted = post(api, multipart_body(JOB, exact))
    assert accepted.status_code == 200, accepted.text
    assert finished(api, wait, accepted.json()["id"])["numberRecordsProcessed"] == 4761
    before, jobs = api.records(), job_ids(api)
    over = exact[:-2] + "03\n"
    refused = post(api, multipart_body(JOB, over))
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "CLIENTINPUTERROR" and "100000 characters" in refused.json()[0]["message"]
    # Far over the limit the body is refused without being read whole.
    huge = post(api, multipart_body(JOB, csv_of(ids, 4) * 40))
    assert huge.status_code == 400 and huge.json()[0]["errorCode"] == "CLIENTINPUTERROR"
    assert job_ids(api) == jobs
    assert api.records() == before


@pytest.mark.parametrize(
    "body, content_type, code, fragment",
    [
        (multipart_body(JOB, "Id,Tweets__c\n"), "multipart/form-data; boundary=OTHER", "CLIENTINPUTERROR", "malformed"),
        (multipart_body(JOB, "Id,Tweets__c\n"), "multipart/form-data", "CLIENTINPUTERROR", "malformed"),
        (
            multipart_body(JOB, "Id,Tweets__c\n")[:-12],
            "multipart/form-data; boundary=BOUNDARY",
            "CLIENTINPUTERROR",
            "malformed",
        ),
        (
            multipart_body(None, "Id,Tweets__c\n"),
            "multipart/form-data; boundary=BOUNDARY",
            "CLIENTINPUTERROR",
            "no 'job' part",
        ),
        (multipart_body(JOB, None), "multipart/form-data; boundary=BOUNDARY", "CLIENTINPUTERROR", "no 'content' part"),
        (
            multipart_body("{not json", "Id,Tweets__c\n"),
            "multipart/form-data; boundary=BOUNDARY",
            "JSON_PARSER_ERROR",
            "",
        ),
        (
            multipart_body({**JOB, "object": "Nope__c"}, "Id\n"),
            "multipart/form-data; boundary=BOUNDARY",
            "INVALIDJOB",
            "Nope__c",
        ),
    ],
    ids=["wrong-boundary", "no-boundary", "truncated", "no-job-part", "no-content-part", "bad-json", "unknown-object"],
)
def test_bad_multipart_requests_create_nothing(api, seeded, body, content_type, code, fragment):
    seeded(3)
    before, jobs = api.records(), job_ids(api)
    resp = post(api, body, content_type)
    assert resp.status_code == 400, resp.text
    error = resp.json()[0]
    assert error["errorCode"] == code and fragment in error["message"]
    assert job_ids(api) == jobs
    assert api.records() == before
