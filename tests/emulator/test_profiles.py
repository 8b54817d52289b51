"""The realistic profile, run much faster than real time: every API family still works and counts."""

from __future__ import annotations


def test_realistic_profile_time_scaled(api, wait, seeded):
    ids = seeded(600)
    cfg = api.org.admin.configure(profile="realistic", profile_overrides={"time_scale": 200})
    assert cfg["profile"]["name"] == "realistic" and cfg["profile"]["time_scale"] == 200
    assert api.rest("PATCH", f"/sobjects/Byline__c/{ids[0]}", json={"Tweets__c": 1}).status_code == 204
    body = {"records": [{"attributes": {"type": "Byline__c"}, "id": r, "Likes__c": 2} for r in ids[:200]]}
    assert all(r["success"] for r in api.rest("PATCH", "/composite/sobjects", json=body).json())
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    api.bulk2(
        "PUT",
        f"/ingest/{job['id']}/batches",
        data="Id,Tweets__c\n" + "".join(f"{r},3\n" for r in ids[200:]),
        headers={"Content-Type": "text/csv"},
    )
    assert (
        api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "UploadComplete"}).json()["state"] == "UploadComplete"
    )
    info = wait(lambda: (i := api.bulk2("GET", f"/ingest/{job['id']}").json())["state"] == "JobComplete" and i)
    assert info["numberRecordsProcessed"] == 400 and info["totalProcessingTime"] > 0
    stored = api.records()
    assert stored[ids[0]]["Tweets__c"] == 1 and stored[ids[1]]["Likes__c"] == 2 and stored[ids[599]]["Tweets__c"] == 3
    usage = api.org.admin.usage()
    assert usage["by_family"]["rest"] == 2 and usage["DailyBulkApiBatches"]["used"] == 1
