"""API usage counted as Salesforce counts it (fact sheet 1.5, 1.6, 2.1, 2.6; emulator/usage.py docstring).

Each test starts from zero (the `org` fixture resets usage) and compares the admin API's exact counters
with the documented rule for one API family.
"""

from __future__ import annotations

import json
import re

import pytest

NS = "http://www.force.com/2009/06/asyncapi/dataload"
XML = "application/xml; charset=UTF-8"


def _limit_info(resp) -> tuple[int, int]:
    m = re.fullmatch(r"api-usage=(\d+)/(\d+)", resp.headers["Sforce-Limit-Info"])
    assert m, resp.headers["Sforce-Limit-Info"]
    return int(m.group(1)), int(m.group(2))


def _id_of(resp) -> str:
    return re.search(r"<id>([^<]+)</id>", resp.text).group(1)


def test_rest_calls_count_one_each_and_report_usage(api, seeded):
    ids = seeded(3)
    for n, rid in enumerate(ids):
        resp = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": n})
        assert _limit_info(resp) == (n + 1, 15000)
    assert _limit_info(api.rest("GET", f"/sobjects/Byline__c/{ids[0]}")) == (4, 15000)
    assert _limit_info(api.rest("GET", "/sobjects/Byline__c/describe")) == (5, 15000)
    assert _limit_info(api.rest("GET", "/query", params={"q": "SELECT Id FROM Byline__c"})) == (6, 15000)
    assert _limit_info(api.rest("GET", "/limits")) == (7, 15000)
    # Failed calls count too, and carry the header.
    assert _limit_info(api.rest("GET", "/query", params={"q": "SELECT"})) == (8, 15000)
    assert _limit_info(api.rest("PATCH", f"/sobjects/Byline__c/{ids[0]}", json={"Likes__c": -1})) == (9, 15000)
    # The versions list is free and carries no header.
    free = api.s.get(api.base + "/services/data/")
    assert "Sforce-Limit-Info" not in free.headers
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 9
    assert usage["by_family"] == {"rest": 9, "versions (free)": 1}
    assert usage["by_endpoint"]["PATCH /services/data/vXX.X/sobjects/Byline__c/{id}"] == 4


def test_query_more_counts_per_page(api, seeded):
    seeded(4_001)
    page = api.rest("GET", "/query", params={"q": "SELECT Id FROM Byline__c"}).json()
    while not page["done"]:
        page = api.s.get(api.base + page["nextRecordsUrl"]).json()
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 3
    assert usage["by_endpoint"] == {"GET /services/data/vXX.X/query": 1, "GET /services/data/vXX.X/query/{locator}": 2}


def test_collections_and_composite_count_one(api, seeded):
    ids = seeded(1000)
    body = {"records": [{"attributes": {"type": "Byline__c"}, "id": r, "Likes__c": 1} for r in ids[:200]]}
    assert _limit_info(api.rest("PATCH", "/composite/sobjects", json=body)) == (1, 15000)
    # Composite: five Collections subrequests (1,000 records) and 20 row PATCHes are one call.
    subs = [
        {
            "referenceId": f"c{n}",
            "method": "PATCH",
            "url": "/services/data/v62.0/composite/sobjects",
            "body": {
                "records": [
                    {"attributes": {"type": "Byline__c"}, "id": r, "Likes__c": 2} for r in ids[n * 200 : (n + 1) * 200]
                ]
            },
        }
        for n in range(5)
    ]
    subs += [
        {
            "referenceId": f"p{n}",
            "method": "PATCH",
            "url": f"/services/data/v62.0/sobjects/Byline__c/{ids[n]}",
            "body": {"Tweets__c": 3},
        }
        for n in range(20)
    ]
    resp = api.rest("POST", "/composite", json={"compositeRequest": subs})
    assert resp.status_code == 200 and _limit_info(resp) == (2, 15000)
    assert all(r["Likes__c"] == 2 for r in api.records().values())
    assert api.used() == 2


def test_composite_batch_counts_each_subrequest(api, seeded):
    ids = seeded(25)
    subs = [{"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{r}", "richInput": {"Tweets__c": 1}} for r in ids]
    resp = api.rest("POST", "/composite/batch", json={"batchRequests": subs})
    assert _limit_info(resp) == (25, 15000)
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 25 and usage["by_family"] == {"rest": 25}


def test_every_bulk1_request_counts_and_batches_are_allocated(api, wait, seeded):
    ids = seeded(5)
    job_doc = f'<?xml version="1.0"?><jobInfo xmlns="{NS}"><operation>update</operation><object>Byline__c</object><contentType>CSV</contentType></jobInfo>'
    job = _id_of(api.bulk1("POST", "/job", body=job_doc))  # 1
    batches = [
        _id_of(api.bulk1("POST", f"/job/{job}/batch", body=f"Id,Tweets__c\n{r},1\n", content_type="text/csv"))
        for r in ids[:3]
    ]  # 2, 3, 4
    polls = 0
    for b in batches:
        while True:
            polls += 1
            if "<state>Completed</state>" in api.bulk1("GET", f"/job/{job}/batch/{b}").text:
                break
    api.bulk1("GET", f"/job/{job}/batch")
    api.bulk1("GET", f"/job/{job}")
    for b in batches:
        api.bulk1("GET", f"/job/{job}/batch/{b}/result")
    api.bulk1("GET", f"/job/{job}/batch/{batches[0]}/request")
    api.bulk1("POST", f"/job/{job}", body=f'<jobInfo xmlns="{NS}"><state>Closed</state></jobInfo>')
    refused = api.bulk1("POST", f"/job/{job}/batch", body=f"Id,Tweets__c\n{ids[4]},1\n", content_type="text/csv")
    assert refused.status_code == 400
    expected = 1 + 3 + polls + 1 + 1 + 3 + 1 + 1 + 1
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == expected
    assert usage["by_family"] == {"bulk1": expected}
    # Three batches, plus the one refused by the closed job: it still counts against the allocation.
    assert usage["DailyBulkApiBatches"]["used"] == 4
    assert "Sforce-Limit-Info" not in refused.headers


def test_every_bulk2_request_counts_and_chunks_are_allocated(api, wait, seeded):
    ids = seeded(10_001)
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"})
    assert _limit_info(job) == (1, 15000)
    job_id = job.json()["id"]
    put = api.bulk2(
        "PUT",
        f"/ingest/{job_id}/batches",
        data="Id,Tweets__c\n" + "".join(f"{r},1\n" for r in ids),
        headers={"Content-Type": "text/csv"},
    )
    assert _limit_info(put) == (2, 15000)
    api.bulk2("PATCH", f"/ingest/{job_id}", json={"state": "UploadComplete"})
    polls = 0
    while True:
        polls += 1
        if api.bulk2("GET", f"/ingest/{job_id}").json()["state"] == "JobComplete":
            break
    for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
        resp = api.bulk2("GET", f"/ingest/{job_id}/{kind}/")
    assert _limit_info(resp) == (3 + polls + 3, 15000)
    listing = api.bulk2("GET", "/ingest")
    deleted = api.bulk2("DELETE", f"/ingest/{job_id}")
    assert deleted.status_code == 204 and _limit_info(deleted) == (3 + polls + 5, 15000)
    usage = api.org.admin.usage()
    assert usage["by_family"] == {"bulk2": 3 + polls + 5}
    # Each results resource is filed under its own name, the 18-letter `unprocessedrecords` included.
    for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
        assert usage["by_endpoint"][f"GET /services/data/vXX.X/jobs/ingest/{{id}}/{kind}"] == 1
    assert usage["DailyBulkApiBatches"]["used"] == 2  # ceil(10,001 / 10,000)
    assert usage["DailyBulkV2QueryJobs"]["used"] == 0
    assert listing.status_code == 200


def test_bulk2_query_jobs_are_counted_separately(api, wait, seeded):
    seeded(10)
    for _ in range(2):
        job = api.bulk2("POST", "/query", json={"operation": "query", "query": "SELECT Id FROM Byline__c"}).json()
        wait(lambda: api.bulk2("GET", f"/query/{job['id']}").json()["state"] == "JobComplete")  # noqa: B023 - waited on at once
    usage = api.org.admin.usage()
    assert usage["DailyBulkV2QueryJobs"]["used"] == 2 and usage["DailyBulkApiBatches"]["used"] == 0
    limits = api.rest("GET", "/limits").json()
    assert limits["DailyBulkV2QueryJobs"] == {"Max": 10000, "Remaining": 9998}


@pytest.mark.parametrize("edition, limit", [("developer", 15_000), ("enterprise", 100_000), ("sandbox", 5_000_000)])
def test_edition_presets(api, edition, limit):
    api.org.admin.configure(edition=edition)
    resp = api.rest("GET", "/limits")
    assert _limit_info(resp) == (1, limit)
    assert resp.json()["DailyApiRequests"] == {"Max": limit, "Remaining": limit - 1}


def test_request_limit_exceeded(api, seeded):
    rid = seeded(1)[0]
    api.org.admin.configure(daily_api_max=3)
    for n in range(3):
        assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": n}).status_code == 204
    before = api.records()
    refused = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 99})
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert _limit_info(refused) == (3, 3)
    bulk2 = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"})
    assert bulk2.status_code == 403 and bulk2.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    bulk1 = api.bulk1("GET", "/job/750000000000000AAA")
    assert bulk1.status_code == 400 and b"<exceptionCode>ExceededQuota</exceptionCode>" in bulk1.content
    assert api.s.get(api.base + "/services/data/").status_code == 200  # the free versions list still answers
    assert api.records() == before
    assert api.used() == 3  # refusals are not counted


def test_composite_batch_stops_counting_at_the_limit(api, seeded):
    ids = seeded(4)
    api.org.admin.configure(daily_api_max=2)
    subs = [{"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{r}", "richInput": {"Tweets__c": 500}} for r in ids]
    body = api.rest("POST", "/composite/batch", json={"batchRequests": subs}).json()
    assert [r["statusCode"] for r in body["results"]] == [204, 204, 403, 403]
    assert body["results"][2]["result"][0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    stored = api.records()
    assert [stored[r]["Tweets__c"] == 500 for r in ids] == [True, True, False, False]
    assert api.used() == 2


def test_admin_and_auth_are_never_counted(api, org):
    org.admin.usage()
    org.admin.config()
    org.admin.jobs()
    api.s.post(
        api.base + "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": org.client_id, "client_secret": org.client_secret},
    )
    assert api.used() == 0
    assert json.loads(json.dumps(org.admin.usage()["by_family"])) == {"login (free)": 1}
