"""Injected faults (deterministic under a seed) and bad input: documented statuses, data never corrupted."""

from __future__ import annotations

import csv
import io

import pytest
import requests

NS = "http://www.force.com/2009/06/asyncapi/dataload"


def _statuses(api, n: int, path: str = "/limits") -> list[int]:
    return [api.rest("GET", path).status_code for _ in range(n)]


# -- transport faults ---------------------------------------------------------------------------------
def test_transient_5xx_are_deterministic_under_a_seed(api):
    faults = {"http_500_rate": 0.25, "http_503_rate": 0.25, "seed": 7}
    api.org.admin.configure(faults=faults)
    first = _statuses(api, 40)
    api.org.admin.configure(faults=faults)
    second = _statuses(api, 40)
    api.org.admin.configure(faults={**faults, "seed": 8})
    third = _statuses(api, 40)
    assert first == second != third
    assert {500, 503, 200} == set(first)
    # Faulted requests never reached the API: only the 200s were counted.
    assert api.used() == first.count(200) + second.count(200) + third.count(200)


def test_5xx_bodies_per_family_and_no_side_effects(api, seeded):
    rid = seeded(1)[0]
    before = api.records()
    api.org.admin.configure(faults={"http_503_rate": 1.0})
    rest = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 1234})
    assert rest.status_code == 503 and rest.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    bulk2 = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"})
    assert bulk2.status_code == 503 and bulk2.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    bulk1 = api.bulk1("GET", "/job/750000000000000AAA")
    assert bulk1.status_code == 503 and b"<exceptionCode>" in bulk1.content
    api.org.admin.configure(faults={"http_500_rate": 1.0})
    rest = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 1234})
    assert rest.status_code == 500 and rest.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert api.records() == before and api.used() == 0
    # Logins and the admin API are never faulted.
    token = api.s.post(
        api.base + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": api.org.client_id,
            "client_secret": api.org.client_secret,
        },
    )
    assert token.status_code == 200


def test_dropped_connections(api, seeded):
    rid = seeded(1)[0]
    before = api.records()
    api.org.admin.configure(faults={"drop_rate": 1.0})
    with pytest.raises(requests.exceptions.RequestException):
        api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 4321})
    with pytest.raises(requests.exceptions.RequestException):
        api.bulk1("GET", "/job/750000000000000AAA")
    api.org.admin.configure(faults={})
    assert api.records() == before and api.used() == 0
    assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 4321}).status_code == 204


def test_faults_limited_to_paths(api, seeded):
    rid = seeded(1)[0]
    api.org.admin.configure(faults={"http_503_rate": 1.0, "paths": ["/services/async/"]})
    assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 5}).status_code == 204
    assert api.bulk1("GET", "/job/750000000000000AAA").status_code == 503


# -- record-level faults ------------------------------------------------------------------------------
def test_lock_errors_are_per_record_and_deterministic(api, seeded):
    ids = seeded(200)
    body = {"records": [{"attributes": {"type": "Byline__c"}, "id": r, "Tweets__c": 600} for r in ids]}
    outcomes = []
    for _ in range(2):
        api.org.admin.configure(faults={"lock_error_rate": 0.3, "seed": 11})
        before = api.records()
        out = api.rest("PATCH", "/composite/sobjects", json=body).json()
        outcomes.append([r["success"] for r in out])
        locked = [r for r in out if not r["success"]]
        assert locked and all(r["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW" for r in locked)
        stored = api.records()
        for rid, res in zip(ids, out, strict=True):
            assert stored[rid]["Tweets__c"] == (600 if res["success"] else before[rid]["Tweets__c"])
        api.rest(
            "PATCH",
            "/composite/sobjects",
            json={"records": [{"attributes": {"type": "Byline__c"}, "id": r, "Tweets__c": 1} for r in ids]},
        )
    assert outcomes[0] == outcomes[1]
    assert 20 < outcomes[0].count(False) < 100


def test_bulk2_job_failing_midway_leaves_unprocessed_records(api, wait, seeded):
    ids = seeded(1_000)
    before = api.records()
    api.org.admin.configure(faults={"bulk_fail_after_records": 300})
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.bulk2(
        "PUT",
        f"/ingest/{job['id']}/batches",
        data="Id,Tweets__c\n" + "".join(f"{r},700\n" for r in ids),
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = wait(
        lambda: (i := api.bulk2("GET", f"/ingest/{job['id']}").json())["state"] in ("JobComplete", "Failed") and i
    )
    assert info["state"] == "Failed" and "midway" in info["errorMessage"]
    ok = list(csv.DictReader(io.StringIO(api.bulk2("GET", f"/ingest/{job['id']}/successfulResults/").text)))
    bad = list(csv.DictReader(io.StringIO(api.bulk2("GET", f"/ingest/{job['id']}/failedResults/").text)))
    unprocessed = list(csv.DictReader(io.StringIO(api.bulk2("GET", f"/ingest/{job['id']}/unprocessedrecords/").text)))
    assert len(ok) == info["numberRecordsProcessed"] - info["numberRecordsFailed"] and bad == []
    assert 0 < len(ok) <= 300 and len(unprocessed) == 1_000 - len(ok)
    assert sorted([r["Id"] for r in ok] + [r["Id"] for r in unprocessed]) == sorted(ids)
    stored = api.records()
    done = {r["Id"] for r in ok}
    for rid in ids:
        assert stored[rid]["Tweets__c"] == (700 if rid in done else before[rid]["Tweets__c"])


def test_bulk1_batch_failing_midway(api, wait, seeded):
    ids = seeded(1_000)
    before = api.records()
    api.org.admin.configure(faults={"bulk_fail_after_records": 400})
    doc = f'<jobInfo xmlns="{NS}"><operation>update</operation><object>Byline__c</object><contentType>CSV</contentType></jobInfo>'
    job = api.bulk1("POST", "/job", body=doc).text.split("<id>")[1].split("<")[0]
    batch = (
        api.bulk1(
            "POST",
            f"/job/{job}/batch",
            body="Id,Tweets__c\n" + "".join(f"{r},800\n" for r in ids),
            content_type="text/csv",
        )
        .text.split("<id>")[1]
        .split("<")[0]
    )

    def state():
        text = api.bulk1("GET", f"/job/{job}/batch/{batch}").text
        return text if "<state>Failed</state>" in text or "<state>Completed</state>" in text else None

    info = wait(state)
    assert "<state>Failed</state>" in info and "<stateMessage>" in info
    rows = list(csv.DictReader(io.StringIO(api.bulk1("GET", f"/job/{job}/batch/{batch}/result").text)))
    assert len(rows) == 400 and all(r["Success"] == "true" for r in rows)
    stored = api.records()
    assert all(stored[rid]["Tweets__c"] == 800 for rid in ids[:400])
    assert all(stored[rid] == before[rid] for rid in ids[400:])


# -- bad input ----------------------------------------------------------------------------------------
def test_wrong_object_ids_everywhere(api, wait, seeded):
    ids = seeded(2)
    accounts = seeded(2, "Account")
    before, accounts_before = api.records(), api.records("Account")
    coll = api.rest(
        "PATCH",
        "/composite/sobjects",
        json={"records": [{"attributes": {"type": "Byline__c"}, "id": a, "Tweets__c": 1} for a in accounts]},
    ).json()
    assert [r["errors"][0]["statusCode"] for r in coll] == ["MALFORMED_ID", "MALFORMED_ID"]
    row = api.rest("PATCH", f"/sobjects/Byline__c/{accounts[0]}", json={"Tweets__c": 1})
    assert row.status_code == 404 and row.json()[0]["errorCode"] == "NOT_FOUND"
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.bulk2(
        "PUT",
        f"/ingest/{job['id']}/batches",
        data="Id,Tweets__c\n" + "".join(f"{a},1\n" for a in accounts),
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = wait(lambda: (i := api.bulk2("GET", f"/ingest/{job['id']}").json())["state"] == "JobComplete" and i)
    assert info["numberRecordsFailed"] == 2
    assert api.records() == before and api.records("Account") == accounts_before
    assert ids  # the Byline__c rows were never touched


def test_bad_bulk_input_never_corrupts_data(api, wait, seeded):
    ids = seeded(3)
    before = api.records()
    doc = f'<jobInfo xmlns="{NS}"><operation>update</operation><object>Byline__c</object><contentType>XML</contentType></jobInfo>'
    job = api.bulk1("POST", "/job", body=doc).text.split("<id>")[1].split("<")[0]
    # A CSV body for an XML job, JSON garbage, an unterminated XML document: all refused with InvalidBatch.
    for body, ctype in (
        (f"Id,Tweets__c\n{ids[0]},1\n", "text/csv"),
        ("[{", "application/json"),
        (f'<sObjects xmlns="{NS}"><sObject><Id>{ids[0]}</Id>', "application/xml"),
    ):
        resp = api.bulk1("POST", f"/job/{job}/batch", body=body, content_type=ctype)
        assert resp.status_code == 400 and b"<exceptionCode>InvalidBatch</exceptionCode>" in resp.content, resp.text
    # Bulk 2.0: a row with too many columns fails on its own; an unterminated quote fails the job.
    job2 = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.bulk2(
        "PUT",
        f"/ingest/{job2['id']}/batches",
        data=f"Id,Tweets__c\n{ids[0]},1,extra\n{ids[1]},2\n",
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job2['id']}", json={"state": "UploadComplete"})
    info = wait(
        lambda: (i := api.bulk2("GET", f"/ingest/{job2['id']}").json())["state"] in ("JobComplete", "Failed") and i
    )
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 2 and info["numberRecordsFailed"] == 1
    assert api.records()[ids[1]]["Tweets__c"] == 2 and api.records()[ids[0]] == before[ids[0]]
    job3 = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.bulk2(
        "PUT",
        f"/ingest/{job3['id']}/batches",
        data=f'Id,Name\n{ids[2]},"never closed\n',
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job3['id']}", json={"state": "UploadComplete"})
    info = wait(
        lambda: (i := api.bulk2("GET", f"/ingest/{job3['id']}").json())["state"] in ("JobComplete", "Failed") and i
    )
    assert info["state"] == "Failed"
    assert api.records()[ids[2]] == before[ids[2]]


def test_unknown_objects_and_illegal_transitions(api):
    doc = f'<jobInfo xmlns="{NS}"><operation>update</operation><object>Nope__c</object></jobInfo>'
    assert b"InvalidJob" in api.bulk1("POST", "/job", body=doc).content
    assert api.bulk2("POST", "/ingest", json={"object": "Nope__c", "operation": "update"}).status_code == 400
    assert api.rest("POST", "/sobjects/Nope__c", json={"Name": "x"}).status_code == 404
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    for state in ("JobComplete", "InProgress", "Open", "Failed"):
        resp = api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": state})
        assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "INVALIDJOBSTATE", state
    assert api.bulk2("GET", f"/ingest/{job['id']}").json()["state"] == "Open"
