"""Bulk API 2.0 on the wire (fact sheet 2.5-2.7, 3.2, 3.3): ingest and query jobs, results, paging, errors."""

from __future__ import annotations

import csv
import io

import pytest

DELIMS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
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


def create(api, **body):
    payload = {"object": "Byline__c", "operation": "update", **body}
    resp = api.bulk2("POST", "/ingest", json=payload)
    assert resp.status_code == 200, resp.text
    return resp.json()


def upload(api, job_id, data, content_type="text/csv"):
    return api.bulk2(
        "PUT",
        f"/ingest/{job_id}/batches",
        data=data.encode() if isinstance(data, str) else data,
        headers={"Content-Type": content_type},
    )


def close(api, job_id, state="UploadComplete"):
    return api.bulk2("PATCH", f"/ingest/{job_id}", json={"state": state})


def finished(api, wait, job_id, kind="ingest"):
    def done():
        info = api.bulk2("GET", f"/{kind}/{job_id}").json()
        return info if info["state"] in ("JobComplete", "Failed", "Aborted") else None

    return wait(done, what=f"job {job_id}")


def run_job(api, wait, data, **body):
    job = create(api, **body)
    assert upload(api, job["id"], data).status_code == 201
    assert close(api, job["id"]).status_code == 200
    return finished(api, wait, job["id"])


def results(api, job_id, kind):
    resp = api.bulk2("GET", f"/ingest/{job_id}/{kind}/")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    return resp.content.decode("utf-8")  # no charset in the content type: requests would guess ISO-8859-1


# -- ingest -------------------------------------------------------------------------------------------
def test_create_upload_close_shapes(api, wait, seeded):
    ids = seeded(3)
    before = api.records()
    job = create(api)
    assert list(job) == [*INFO_KEYS, "contentUrl"]
    assert job["state"] == "Open" and job["jobType"] == "V2Ingest" and job["apiVersion"] == 62.0
    assert job["contentType"] == "CSV" and job["concurrencyMode"] == "Parallel"
    assert (job["lineEnding"], job["columnDelimiter"]) == ("LF", "COMMA")
    assert job["contentUrl"] == f"services/data/v62.0/jobs/ingest/{job['id']}/batches"
    assert job["createdDate"][-5:] == "+0000" and job["id"].startswith("750")
    put = api.s.put(
        f"{api.base}/{job['contentUrl']}",
        data=f"Id,Tweets__c\n{ids[0]},1\n{ids[1]},2\n",
        headers={"Content-Type": "text/csv"},
    )
    assert put.status_code == 201 and put.content == b""
    second = upload(api, job["id"], f"Id,Tweets__c\n{ids[2]},3\n")
    assert second.status_code == 400
    assert second.json()[0]["message"].startswith(f"Found multiple contents for job: {job['id']}")
    closed = close(api, job["id"])
    assert (
        closed.status_code == 200 and closed.json()["state"] == "UploadComplete" and "contentUrl" not in closed.json()
    )
    assert list(closed.json()) == INFO_KEYS
    info = finished(api, wait, job["id"])
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 2 and info["numberRecordsFailed"] == 0
    for key in ("retries", "totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime"):
        assert isinstance(info[key], int)
    stored = api.records()
    assert stored[ids[0]]["Tweets__c"] == 1 and stored[ids[1]]["Tweets__c"] == 2 and stored[ids[2]] == before[ids[2]]
    late = upload(api, job["id"], f"Id,Tweets__c\n{ids[2]},3\n")
    assert late.status_code == 400 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_states_move_over_time(api, wait, seeded):
    ids = seeded(400)
    api.org.admin.configure(
        profile_overrides={"bulk_queue_median_s": 0.3, "bulk_queue_p90_s": 0.3, "bulk_batch_overhead_s": 0.3}
    )
    job = create(api)
    upload(api, job["id"], "Id,Likes__c\n" + "".join(f"{r},5\n" for r in ids))
    assert close(api, job["id"]).json()["state"] == "UploadComplete"
    seen = ["UploadComplete"]

    def progressed():
        state = api.bulk2("GET", f"/ingest/{job['id']}").json()["state"]
        if state != seen[-1]:
            seen.append(state)
        return state == "JobComplete"

    wait(progressed, interval=0.02)
    assert seen == ["UploadComplete", "InProgress", "JobComplete"]
    assert all(r["Likes__c"] == 5 for r in api.records().values())


def test_result_sets_columns(api, wait, seeded):
    ids = seeded(4)
    data = f'Id,Likes__c,Name\n{ids[0]},1,one\n{ids[1]},-1,two\n{ids[2]},3,"th,ree"\n001000000000000AAA,4,four\n'
    info = run_job(api, wait, data)
    assert info["numberRecordsProcessed"] == 4 and info["numberRecordsFailed"] == 2
    raw_ok = results(api, info["id"], "successfulResults")
    # The sf__ columns are always quoted; the upload's own only when they need it (fact sheet 3.2).
    assert raw_ok.startswith('"sf__Id","sf__Created",Id,Likes__c,Name\n')
    assert f'"{ids[2]}","false",{ids[2]},3,"th,ree"\n' in raw_ok
    ok = list(csv.reader(io.StringIO(raw_ok)))
    assert ok[0] == ["sf__Id", "sf__Created", "Id", "Likes__c", "Name"]
    assert sorted(ok[1:]) == sorted([[ids[0], "false", ids[0], "1", "one"], [ids[2], "false", ids[2], "3", "th,ree"]])
    raw_bad = results(api, info["id"], "failedResults")
    assert raw_bad.startswith('"sf__Id","sf__Error",Id,Likes__c,Name\n')
    bad = list(csv.reader(io.StringIO(raw_bad)))
    assert bad[0] == ["sf__Id", "sf__Error", "Id", "Likes__c", "Name"]
    by_input = {row[2]: row for row in bad[1:]}
    assert by_input[ids[1]][1] == "FIELD_CUSTOM_VALIDATION_EXCEPTION:Social counts cannot be negative.:--"
    assert by_input["001000000000000AAA"][1].startswith("MALFORMED_ID:")
    assert results(api, info["id"], "unprocessedrecords") == "Id,Likes__c,Name\n"
    stored = api.records()
    assert stored[ids[2]]["Name"] == "th,ree" and stored[ids[1]]["Name"] != "two"


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize("delimiter", list(DELIMS))
def test_every_delimiter_and_line_ending(api, wait, seeded, delimiter, ending):
    ids = seeded(3)
    d, nl = DELIMS[delimiter], ENDINGS[ending]
    rows = [["Id", "Tweets__c", "Name"]] + [[r, str(n + 10), f"name {n}"] for n, r in enumerate(ids)]
    rows[2][1] = "-4"
    data = nl.join(d.join(row) for row in rows) + nl
    info = run_job(api, wait, data, columnDelimiter=delimiter, lineEnding=ending)
    assert (info["columnDelimiter"], info["lineEnding"]) == (delimiter, ending)
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 3 and info["numberRecordsFailed"] == 1
    ok = results(api, info["id"], "successfulResults")
    assert ok.startswith(d.join(['"sf__Id"', '"sf__Created"', "Id", "Tweets__c", "Name"]) + nl)
    assert f'"{ids[0]}"{d}"false"{d}{ids[0]}{d}10{d}name 0{nl}' in ok
    assert ok.count(nl) == 3 and (ending == "CRLF" or "\r" not in ok)
    failed = results(api, info["id"], "failedResults")
    assert (
        failed.startswith(d.join(['"sf__Id"', '"sf__Error"', "Id", "Tweets__c", "Name"]) + nl) and failed.count(nl) == 2
    )
    stored = api.records()
    assert (
        stored[ids[0]]["Tweets__c"] == 10 and stored[ids[0]]["Name"] == "name 0" and stored[ids[1]]["Tweets__c"] != -4
    )


def test_line_ending_mismatch_fails_the_job(api, wait, seeded):
    ids = seeded(2)
    before = api.records()
    data = f"Id,Tweets__c\r\n{ids[0]},1\r\n{ids[1]},2\r\n"
    info = run_job(api, wait, data)  # the job says LF (the default)
    assert info["state"] == "Failed"
    assert (
        info["errorMessage"]
        == "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
    )
    assert results(api, info["id"], "unprocessedrecords").splitlines()[1:] == [f"{ids[0]},1", f"{ids[1]},2"]
    assert api.records() == before


def test_unknown_field_fails_the_job_and_leaves_everything_unprocessed(api, wait, seeded):
    ids = seeded(3)
    before = api.records()
    info = run_job(api, wait, "Id,No_Such__c\n" + "".join(f"{r},1\n" for r in ids))
    assert info["state"] == "Failed" and "No_Such__c" in info["errorMessage"]
    assert results(api, info["id"], "unprocessedrecords") == "Id,No_Such__c\n" + "".join(f"{r},1\n" for r in ids)
    assert api.records() == before


def test_internal_batches_of_10000(api, wait, seeded):
    ids = seeded(20_001)
    info = run_job(api, wait, "Id,Tweets__c\n" + "".join(f"{r},2\n" for r in ids))
    assert (
        info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 20_001 and info["numberRecordsFailed"] == 0
    )
    usage = api.org.admin.usage()
    assert usage["DailyBulkApiBatches"]["used"] == 3  # ceil(20,001 / 10,000); the empty parent batch is free
    assert usage["Bulk2RecordsProcessed"]["used"] == 20_001
    ok = results(api, info["id"], "successfulResults").splitlines()
    assert len(ok) == 20_002 and {line.split(",")[0].strip('"') for line in ok[1:]} == set(ids)
    stored = api.records(fields=["Id", "Tweets__c"])
    assert all(r["Tweets__c"] == 2 for r in stored.values())


def test_abort_open_job_and_delete(api, wait, seeded):
    ids = seeded(2)
    before = api.records()
    job = create(api)
    upload(api, job["id"], f"Id,Tweets__c\n{ids[0]},1\n{ids[1]},2\n")
    delete_open = api.bulk2("DELETE", f"/ingest/{job['id']}")
    assert delete_open.status_code == 400 and delete_open.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    aborted = close(api, job["id"], "Aborted")
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert close(api, job["id"]).status_code == 400  # Aborted -> UploadComplete is illegal
    assert close(api, job["id"], "Aborted").status_code == 400
    assert close(api, job["id"], "JobComplete").status_code == 400
    assert results(api, job["id"], "unprocessedrecords") == f"Id,Tweets__c\n{ids[0]},1\n{ids[1]},2\n"
    assert api.bulk2("DELETE", f"/ingest/{job['id']}").status_code == 204
    gone = api.bulk2("GET", f"/ingest/{job['id']}")
    assert gone.status_code == 404 and gone.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]
    assert api.records() == before


def test_results_before_completion_and_unknown_job(api, seeded):
    ids = seeded(1)
    api.org.admin.configure(profile_overrides={"bulk_queue_median_s": 120, "bulk_queue_p90_s": 120})
    job = create(api)
    upload(api, job["id"], f"Id,Tweets__c\n{ids[0]},1\n")
    close(api, job["id"])
    early = api.bulk2("GET", f"/ingest/{job['id']}/successfulResults/")
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    close(api, job["id"], "Aborted")
    assert api.bulk2("GET", "/ingest/750000000000000AAA").status_code == 404
    assert api.bulk2("GET", "/ingest/750000000000000AAA/failedResults/").status_code == 404


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"object": "No_Such__c", "operation": "update"}, "No_Such__c"),
        ({"object": "Byline__c", "operation": "merge"}, "merge"),
        ({"object": "Byline__c", "operation": "update", "columnDelimiter": "SPACE"}, "SPACE"),
        ({"object": "Byline__c", "operation": "update", "lineEnding": "CR"}, "CR"),
        ({"object": "Byline__c", "operation": "update", "contentType": "JSON"}, "JSON"),
    ],
)
def test_create_errors(api, body, fragment):
    resp = api.bulk2("POST", "/ingest", json=body)
    assert resp.status_code == 400
    err = resp.json()
    assert isinstance(err, list) and set(err[0]) == {"errorCode", "message"} and fragment in err[0]["message"]


def test_bad_input_on_upload(api, seeded):
    ids = seeded(1)
    job = create(api)
    wrong_type = upload(api, job["id"], f'{{"Id": "{ids[0]}"}}', content_type="application/json")
    assert wrong_type.status_code in (400, 415) and wrong_type.json()[0]["errorCode"]
    malformed = api.bulk2("PATCH", f"/ingest/{job['id']}", data=b"{state", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert api.bulk2("GET", f"/ingest/{job['id']}").json()["state"] == "Open"


def test_list_jobs_pages(api, monkeypatch):
    import emulator.api.bulk2 as bulk2_routes

    monkeypatch.setattr(bulk2_routes, "LIST_PAGE", 2)
    made = [create(api)["id"] for _ in range(5)]
    jobs = api.org.admin.jobs()
    total = len(jobs["bulk2_ingest"]) + len(jobs["bulk1"])  # Get All Jobs lists Bulk 1.0 jobs too
    seen, url, pages = [], f"{api.base}/services/data/v62.0/jobs/ingest", 0
    while url:
        page = api.s.get(url).json()
        assert set(page) == {"done", "records", "nextRecordsUrl"}
        seen += [j["id"] for j in page["records"]]
        pages += 1
        url = None if page["done"] else api.base + page["nextRecordsUrl"]
        assert page["done"] == (page["nextRecordsUrl"] is None)
    assert set(made) <= set(seen) and len(seen) == len(set(seen)) == total
    assert pages == -(-len(seen) // 2)


def test_list_jobs_shows_bulk1_jobs_as_classic(api):
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
        "<operation>update</operation><object>Byline__c</object><contentType>XML</contentType></jobInfo>"
    )
    classic = api.bulk1("POST", "/job", body=xml)
    job_id = classic.text.split("<id>")[1].split("</id>")[0]
    v2 = create(api)["id"]
    only = api.bulk2("GET", "/ingest?jobType=Classic").json()["records"]
    assert {j["jobType"] for j in only} == {"Classic"} and job_id in {j["id"] for j in only}
    listed = {j["id"]: j for j in api.bulk2("GET", "/ingest").json()["records"]}
    assert listed[job_id]["state"] == "Open" and listed[job_id]["object"] == "Byline__c" and v2 in listed


# -- query jobs ---------------------------------------------------------------------------------------
def test_query_job_paging(api, wait, seeded):
    ids = seeded(2_500)
    created = api.bulk2(
        "POST", "/query", json={"operation": "query", "query": "SELECT Id, Name, Tweets__c FROM Byline__c"}
    )
    assert created.status_code == 200
    job = created.json()
    assert job["state"] == "UploadComplete" and job["jobType"] == "V2Query" and job["operation"] == "query"
    info = finished(api, wait, job["id"], "query")
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 2_500
    got, locator, pages = [], None, 0
    while True:
        params = {"maxRecords": 1_000} | ({"locator": locator} if locator else {})
        resp = api.bulk2("GET", f"/query/{job['id']}/results", params=params)
        assert resp.status_code == 200
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert int(resp.headers["Sforce-NumberOfRecords"]) == len(rows)
        got += rows
        pages += 1
        locator = resp.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert pages == 3 and sorted(r["Id"] for r in got) == sorted(ids)
    assert list(got[0]) == ["Id", "Name", "Tweets__c"]
    whole = api.bulk2("GET", f"/query/{job['id']}/results")
    assert whole.headers["Sforce-Locator"] == "null" and whole.headers["Sforce-NumberOfRecords"] == "2500"
    other_version = api.bulk2("GET", f"/query/{job['id']}/results", version="v61.0")
    assert other_version.status_code == 409
    usage = api.org.admin.usage()
    assert usage["DailyBulkV2QueryJobs"]["used"] == 1 and usage["DailyBulkApiBatches"]["used"] == 0
    assert api.bulk2("DELETE", f"/query/{job['id']}").status_code == 204
    assert api.bulk2("GET", f"/query/{job['id']}").status_code == 404


def test_query_job_errors(api, seeded):
    seeded(1)
    bad = api.bulk2("POST", "/query", json={"operation": "query", "query": "SELECT FROM Byline__c"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"
    bad = api.bulk2("POST", "/query", json={"operation": "query", "query": "SELECT Nope__c FROM Byline__c"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    api.org.admin.configure(profile_overrides={"bulk_queue_median_s": 120, "bulk_queue_p90_s": 120})
    job = api.bulk2("POST", "/query", json={"operation": "query", "query": "SELECT Id FROM Byline__c"}).json()
    early = api.bulk2("GET", f"/query/{job['id']}/results")
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    aborted = api.bulk2("PATCH", f"/query/{job['id']}", json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert api.bulk2("PATCH", f"/query/{job['id']}", json={"state": "Aborted"}).status_code == 400


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_awkward_values_round_trip(api, wait, seeded, ending):
    """Quoted values holding a bare CR, LF, CRLF, quotes and delimiters survive the internal batches."""
    ids = seeded(6)
    values = ["bare\rcr", "line\nfeed", "both\r\nends", 'say "hi", ok', "\U0001f680 ünï漢", "trailing\r"]
    buf = io.StringIO()
    # Quote every value: Python's csv writer leaves a bare CR unquoted when the line ending is LF.
    writer = csv.writer(buf, lineterminator=ENDINGS[ending], quoting=csv.QUOTE_ALL)
    writer.writerow(["Id", "Name"])
    for rid, value in zip(ids, values, strict=True):
        writer.writerow([rid, value])
    info = run_job(api, wait, buf.getvalue(), lineEnding=ending)
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 6 and info["numberRecordsFailed"] == 0
    stored = api.records()
    assert [stored[rid]["Name"] for rid in ids] == values
    ok = list(csv.reader(io.StringIO(results(api, info["id"], "successfulResults"), newline="")))
    assert sorted(row[3] for row in ok[1:]) == sorted(values)
