"""The emulator counts as the org profile's counting rules say (docs/org-profile.md, `counting`).

Each test switches the shared org to a non-default rule through the admin API and checks the exact
counters (ground truth) and what the org reports (Sforce-Limit-Info, /limits).
"""

from __future__ import annotations

import re
import time

from emulator.profiles import get_profile


def _limit_info(resp) -> int:
    m = re.fullmatch(r"api-usage=(\d+)/(\d+)", resp.headers["Sforce-Limit-Info"])
    assert m, resp.headers["Sforce-Limit-Info"]
    return int(m.group(1))


def _bulk2_job(api, ids, wait):
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()["id"]
    api.bulk2(
        "PUT",
        f"/ingest/{job}/batches",
        data="Id,Tweets__c\n" + "".join(f"{r},1\n" for r in ids),
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"})
    return job


def test_free_bulk2_polls_and_results(api, seeded, wait):
    ids = seeded(30)
    api.org.admin.configure(
        profile_overrides={"bulk2.status": 0, "bulk2.successful_results": 0, "bulk2.failed_results": 2}
    )
    job = _bulk2_job(api, ids, wait)
    polls = 0
    while True:
        polls += 1
        status = api.bulk2("GET", f"/ingest/{job}")
        assert _limit_info(status) == 3  # create, upload, close: the polls are free
        if status.json()["state"] == "JobComplete":
            break
    assert _limit_info(api.bulk2("GET", f"/ingest/{job}/successfulResults")) == 3
    assert _limit_info(api.bulk2("GET", f"/ingest/{job}/failedResults")) == 5
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 5
    assert usage["by_family"] == {"bulk2": 5, "bulk2 (free)": polls + 1}


def test_composite_batch_n_plus_one_and_one(api, seeded):
    ids = seeded(3)
    subs = [{"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{r}", "richInput": {"Tweets__c": 1}} for r in ids]
    api.org.admin.configure(profile_overrides={"composite_batch_calls": "N+1"})
    assert _limit_info(api.rest("POST", "/composite/batch", json={"batchRequests": subs})) == 4
    api.org.admin.configure(profile_overrides={"composite_batch_calls": "1"})
    assert _limit_info(api.rest("POST", "/composite/batch", json={"batchRequests": subs})) == 5
    # A malformed batch request still costs its own call.
    assert api.rest("POST", "/composite/batch", json={"nothing": []}).status_code == 400
    assert api.used() == 6


def test_composite_batch_n_plus_one_stops_at_the_limit(api, seeded):
    ids = seeded(3)
    api.org.admin.configure(profile_overrides={"composite_batch_calls": "N+1"}, daily_api_max=3)
    subs = [{"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{r}", "richInput": {"Tweets__c": 7}} for r in ids]
    body = api.rest("POST", "/composite/batch", json={"batchRequests": subs}).json()
    assert [r["statusCode"] for r in body["results"]] == [204, 204, 403]
    assert [api.records()[r]["Tweets__c"] == 7 for r in ids] == [True, True, False]
    assert api.used() == 3


def test_free_and_multiple_call_kinds(api, seeded):
    rid = seeded(1)[0]
    api.org.admin.configure(profile_overrides={"rest.limits": 0, "rest.sobject_write": 2})
    assert _limit_info(api.rest("GET", "/limits")) == 0
    assert _limit_info(api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 1})) == 2
    api.org.admin.configure(daily_api_max=2)
    # Spent: a counted kind is refused, a free one still answers.
    assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 2}).status_code == 403
    assert api.rest("GET", "/limits").status_code == 200
    assert api.records()[rid]["Tweets__c"] == 1


def test_login_counts_when_the_profile_says_so(api, org):
    api.org.admin.configure(profile_overrides={"login": 1}, daily_api_max=0)
    form = {"grant_type": "client_credentials", "client_id": org.client_id, "client_secret": org.client_secret}
    assert api.s.post(api.base + "/services/oauth2/token", data=form).status_code == 200  # never refused
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 1 and usage["by_family"] == {"login": 1}


def test_bulk2_batches_per_job(api, seeded, wait):
    ids = seeded(2_500)
    api.org.admin.configure(profile_overrides={"bulk2_records_per_batch": 1000, "bulk2_parent_batches": 1})
    job = _bulk2_job(api, ids, wait)
    info = wait(lambda: (i := api.bulk2("GET", f"/ingest/{job}").json())["state"] == "JobComplete" and i)
    assert info["numberRecordsProcessed"] == 2_500
    assert api.org.admin.usage()["DailyBulkApiBatches"]["used"] == 3 + 1
    assert (
        get_profile("instant", bulk2_records_per_batch=1000, bulk2_parent_batches=1).counting.bulk2_batches(2_500) == 4
    )


def test_reported_usage_lags(api, seeded, wait):
    rid = seeded(1)[0]
    api.org.admin.configure(profile_overrides={"usage_report_lag_s": 2.0})
    first = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 1})
    second = api.rest("GET", "/limits")
    assert _limit_info(first) == 0 and _limit_info(second) == 0  # the report is two seconds behind
    assert second.json()["DailyApiRequests"]["Remaining"] == 15_000
    assert api.used() == 2  # the ground truth is exact
    time.sleep(2.0)
    caught_up = wait(lambda: (n := _limit_info(api.rest("GET", "/limits"))) >= 2 and n)
    assert caught_up >= 2


def test_a_whole_profile_document_over_the_admin_api(api):
    doc = get_profile("instant", **{"bulk1.status": 0}).to_document()
    cfg = api.org.admin.configure(profile_document=doc)
    assert cfg["profile"]["counting"]["requests"]["bulk1.status"] == 0
    refused = api.org.admin.http.post(
        api.base + "/_emulator/config", json={"profile": "/etc/passwd"}, verify=api.org.verify
    )
    assert refused.status_code == 400 and "profile_document" in refused.json()["message"]
