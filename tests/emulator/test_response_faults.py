"""Response faults: the org processes a request and the answer is lost or late, or the upload is cut.

Each rule fires on the Nth request of one kind only; the stored data (ground truth through the admin API)
shows whether the org did the work.
"""

from __future__ import annotations

import time

import pytest
import requests

from emulator.profiles import FaultConfig, ResponseFault

REST_PATCH = "PATCH /services/data/vXX.X/sobjects/Byline__c/{id}"
BULK2_JOB = "PATCH /services/data/vXX.X/jobs/ingest/{id}"
BULK2_UPLOAD = "PUT /services/data/vXX.X/jobs/ingest/{id}/batches"


def test_lost_response_after_the_org_applied_the_change(api, seeded):
    rid = seeded(1)[0]
    api.org.admin.configure(faults={"response_faults": [f"lose:2:{REST_PATCH}"]})
    assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 11}).status_code == 204
    with pytest.raises(requests.exceptions.RequestException):
        api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 22})
    assert api.records()[rid]["Tweets__c"] == 22  # applied, though the client never heard
    assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 33}).status_code == 204  # only the 2nd
    assert api.used() == 3


def test_stalled_response_arrives_after_the_client_gave_up(api, seeded):
    rid = seeded(1)[0]
    api.org.admin.configure(faults={"response_faults": [f"stall:1:{REST_PATCH}"], "stall_seconds": 1.5})
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.s.patch(
            f"{api.base}/services/data/v62.0/sobjects/Byline__c/{rid}", json={"Tweets__c": 44}, timeout=(5, 0.3)
        )
    assert api.records()[rid]["Tweets__c"] == 44


def test_cut_upload_stores_nothing(api, seeded):
    ids = seeded(50)
    before = api.records()
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.org.admin.configure(faults={"response_faults": [f"cut:1:{BULK2_UPLOAD}"], "cut_after_bytes": 64})
    body = ("Id,Tweets__c\n" + "".join(f"{i},55\n" for i in ids)).encode()
    with pytest.raises(requests.exceptions.RequestException):
        api.bulk2("PUT", f"/ingest/{job['id']}/batches", data=body, headers={"Content-Type": "text/csv"})
    api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "UploadComplete"})
    for _ in range(200):
        info = api.bulk2("GET", f"/ingest/{job['id']}").json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            break
        time.sleep(0.05)
    assert int(info.get("numberRecordsProcessed") or 0) == 0  # the cut upload never reached the job
    assert api.records() == before  # (a seeded value may be 55 already: it follows the org's id sequence)


def test_rules_parse_and_refuse_nonsense():
    config = FaultConfig.parse(f"response_faults=lose:1:{BULK2_JOB}|stall:2:{REST_PATCH},stall_seconds=2")
    assert [r.action for r in config._rules] == ["lose", "stall"] and config.stall_seconds == 2.0
    assert ResponseFault.parse(f"cut:3:{BULK2_UPLOAD}") == ResponseFault("cut", 3, BULK2_UPLOAD)
    for bad in ("drop:1:GET /x", "lose:0:GET /x", "lose:one:GET /x", "lose:1:nothing"):
        with pytest.raises(ValueError):
            ResponseFault.parse(bad)
