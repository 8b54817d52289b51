"""simple-salesforce 1.12.10, unmodified, against the emulator over HTTPS; stored data checked afterwards.

simple-salesforce keeps the host and port of `instance_url` and forces https, which suits the emulator's
TLS endpoint. Its login helpers build `https://{domain}.salesforce.com` URLs, except SOAP login, which
takes `scratch_url` (meant for scratch orgs whose DNS is not yet live): that is how it reaches the
emulator with username, password and security token, without patching the library.
"""

from __future__ import annotations

import csv

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin

from emulator.org import _sequence_of


def _session(org) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = org.ca_file
    return s


@pytest.fixture
def sf(org) -> Salesforce:
    return Salesforce(instance_url=org.instance_url, session_id=org.access_token, session=_session(org), version="62.0")


def test_urls_keep_host_and_port(sf, org):
    assert sf.base_url == org.instance_url + "/services/data/v62.0/"
    assert sf.bulk_url == org.instance_url + "/services/async/62.0/"


def test_per_record_update(sf, api, seeded):
    ids = seeded(5)
    for n, rid in enumerate(ids):
        assert sf.Byline__c.update(rid, {"Tweets__c": 100 + n, "Name": f"renamed {n}"}) == 204
    stored = api.records()
    for n, rid in enumerate(ids):
        assert stored[rid]["Tweets__c"] == 100 + n
        assert stored[rid]["Name"] == f"renamed {n}"
    assert api.used() == 5
    # A record of the object read back through the library agrees with the store.
    assert sf.Byline__c.get(ids[0])["Tweets__c"] == 100.0
    # A 15-character id is accepted and resolves to the same record.
    assert sf.Byline__c.update(ids[1][:15], {"Likes__c": 3}) == 204
    assert api.records()[ids[1]]["Likes__c"] == 3


def test_per_record_update_of_missing_record_raises_not_found(sf, seeded):
    ids = seeded(1)
    other_object_id = seeded(1, "Account")[0]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Byline__c.update(other_object_id, {"Tweets__c": 1})
    with pytest.raises(SalesforceResourceNotFound):
        sf.Byline__c.update(ids[0][:-3] + "XYZ", {"Tweets__c": 1})  # bad checksum


def test_collections_update_via_restful(sf, api, seeded):
    ids = seeded(250)
    before = api.records()
    body = {
        "allOrNone": False,
        "records": [{"attributes": {"type": "Byline__c"}, "id": rid, "Likes__c": 7} for rid in ids[:200]],
    }
    results = sf.restful("composite/sobjects", method="PATCH", json=body)
    assert len(results) == 200 and all(r["success"] for r in results)
    assert [r["id"] for r in results] == ids[:200]
    stored = api.records()
    assert all(stored[rid]["Likes__c"] == 7 for rid in ids[:200])
    assert all(stored[rid] == before[rid] for rid in ids[200:])
    assert api.used() == 1
    # simple-salesforce records Sforce-Limit-Info for calls made through Salesforce._call_salesforce.
    assert sf.api_usage["api-usage"].used == 1
    assert sf.api_usage["api-usage"].total == 15000


def test_query_all_pages_past_2000_rows(sf, api, seeded):
    ids = seeded(4500)
    result = sf.query_all("SELECT Id, Name FROM Byline__c")
    assert result["totalSize"] == 4500 and result["done"] is True
    assert sorted(r["Id"] for r in result["records"]) == sorted(ids)
    assert result["records"][0]["attributes"]["type"] == "Byline__c"
    # First page plus two queryMore pages: 2000 + 2000 + 500 rows, three calls.
    assert api.used() == 3
    by_endpoint = api.org.admin.usage()["by_endpoint"]
    assert by_endpoint["GET /services/data/vXX.X/query"] == 1


def test_bulk1_json_update(sf, api, seeded):
    ids = seeded(1200)
    data = [{"Id": rid, "LinkedIn_Shares__c": n % 50} for n, rid in enumerate(ids)]
    data[3]["LinkedIn_Shares__c"] = -5  # validation rule: negative counts are rejected
    results = sf.bulk.Byline__c.update(data, batch_size=500)
    assert len(results) == 1200
    assert sum(1 for r in results if r["success"]) == 1199
    bad = [r for r in results if not r["success"]]
    assert bad[0]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    stored = api.records()
    for n, rid in enumerate(ids):
        if n != 3:
            assert stored[rid]["LinkedIn_Shares__c"] == n % 50
    assert stored[ids[3]]["LinkedIn_Shares__c"] != -5
    usage = api.org.admin.usage()
    assert usage["DailyBulkApiBatches"]["used"] == 3  # 500 + 500 + 200


def test_bulk2_update_records(sf, api, seeded):
    ids = seeded(25_000)
    records = [{"Id": rid, "Tweets__c": 9} for rid in ids]
    result = sf.bulk2.Byline__c.update(records=records, wait=0.05)
    assert result == [
        {
            "numberRecordsFailed": 0,
            "numberRecordsProcessed": 25_000,
            "numberRecordsTotal": 25_000,
            "job_id": result[0]["job_id"],
        }
    ]
    stored = api.records(fields=["Id", "Tweets__c"])
    assert all(r["Tweets__c"] == 9 for r in stored.values())
    # 25,000 records are three internal batches of the daily batch allocation.
    assert api.org.admin.usage()["DailyBulkApiBatches"]["used"] == 3
    job_id = result[0]["job_id"]
    ok = list(csv.DictReader(sf.bulk2.Byline__c.get_successful_records(job_id).splitlines()))
    assert len(ok) == 25_000 and {r["sf__Id"] for r in ok} == set(ids)
    # simple-salesforce orders the columns of `records=` by a set, so compare them as sets.
    header, *rows = list(csv.reader(sf.bulk2.Byline__c.get_failed_records(job_id).splitlines()))
    assert header[:2] == ["sf__Id", "sf__Error"] and set(header[2:]) == {"Id", "Tweets__c"} and rows == []
    # simple-salesforce asks for `unprocessedRecords` (the documented spelling is lower case).
    header, *rows = sf.bulk2.Byline__c.get_unprocessed_records(job_id).splitlines()
    assert set(header.split(",")) == {"Id", "Tweets__c"} and rows == []


def test_bulk2_update_csv_file_with_failures(sf, api, seeded, tmp_path):
    ids = seeded(30)
    path = tmp_path / "update.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Id", "Likes__c", "Name"])
        for n, rid in enumerate(ids):
            w.writerow([rid, -1 if n == 7 else n, f'Byline, "quoted" {n}'])
    result = sf.bulk2.Byline__c.update(csv_file=str(path), wait=0.05)
    assert result[0]["numberRecordsProcessed"] == 30 and result[0]["numberRecordsFailed"] == 1
    failed = list(csv.DictReader(sf.bulk2.Byline__c.get_failed_records(result[0]["job_id"]).splitlines()))
    assert len(failed) == 1
    assert failed[0]["Id"] == ids[7] and failed[0]["sf__Id"] == ids[7]
    assert failed[0]["sf__Error"].startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION:")
    stored = api.records()
    assert stored[ids[3]]["Name"] == 'Byline, "quoted" 3' and stored[ids[3]]["Likes__c"] == 3
    assert stored[ids[7]]["Name"] != 'Byline, "quoted" 7'


def test_soap_login_via_scratch_url(org, seeded):
    session = _session(org)
    session_id, instance = SalesforceLogin(
        username=org.username,
        password=org.password,
        security_token=org.security_token,
        scratch_url=org.instance_url,
        session=session,
        sf_version="62.0",
    )
    assert instance == org.instance_url.split("://", 1)[1]
    sf = Salesforce(session_id=session_id, instance=instance, session=session, version="62.0")
    rid = seeded(1)[0]
    assert sf.Byline__c.update(rid, {"Tweets__c": 77}) == 204
    assert org.admin.records("Byline__c", ["Id", "Tweets__c"])[0]["Tweets__c"] == 77
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        SalesforceLogin(
            username=org.username,
            password="wrong",
            security_token=org.security_token,
            scratch_url=org.instance_url,
            session=session,
        )
    assert err.value.code == "INVALID_LOGIN"


# -- upsert by external id ------------------------------------------------------------------------------
def _by_url(org) -> dict:
    return {r["Url__c"]: r for r in org.admin.records("Byline__c", ["Id", "Url__c", "Name", "Tweets__c"])}


def test_rest_upsert_creates_then_updates(sf, api):
    assert sf.Byline__c.upsert("Url__c/wadewegner-bulk-api", {"Name": "Bulk API post", "Tweets__c": 3}) == 201
    created = _by_url(api.org)["wadewegner-bulk-api"]
    assert (created["Name"], created["Tweets__c"]) == ("Bulk API post", 3)
    response = sf.Byline__c.upsert("Url__c/WADEWEGNER-BULK-API", {"Tweets__c": 9}, raw_response=True)
    assert response.status_code == 200
    assert response.json() == {"id": created["Id"], "success": True, "errors": [], "created": False}
    assert _by_url(api.org) == {"wadewegner-bulk-api": {**created, "Tweets__c": 9}}
    assert api.used() == 2


def test_rest_upsert_of_a_shared_key_raises_more_than_one_record(sf, api):
    for name in ("a", "b"):
        sf.Contact.create({"LastName": name, "Email": "shared@example.com"})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.upsert("Email/shared@example.com", {"LastName": "c"})
    assert sorted(r["LastName"] for r in api.org.admin.records("Contact", ["LastName"])) == ["a", "b"]


def test_bulk1_upsert(sf, api, seeded):
    ids = seeded(300)
    before = {r["Id"]: r for r in api.org.admin.records("Byline__c", ["Id", "Url__c", "Tweets__c"])}
    keys = {rid: r["Url__c"] for rid, r in before.items()}
    data = [{"Url__c": keys[rid], "Tweets__c": 5} for rid in ids[:200]]
    data += [{"Url__c": f"https://example.com/new/{n}", "Name": f"new {n}", "Tweets__c": 6} for n in range(150)]
    results = sf.bulk.Byline__c.upsert(data, "Url__c", batch_size=100)
    assert len(results) == 350 and all(r["success"] for r in results)
    assert [r["created"] for r in results] == [False] * 200 + [True] * 150
    assert [r["id"] for r in results[:200]] == ids[:200]
    stored = _by_url(api.org)
    assert len(stored) == 450
    assert all(stored[keys[rid]]["Tweets__c"] == 5 for rid in ids[:200])
    assert all(stored[keys[rid]]["Tweets__c"] == before[rid]["Tweets__c"] for rid in ids[200:])  # not in the upsert
    assert all(stored[f"https://example.com/new/{n}"]["Tweets__c"] == 6 for n in range(150))
    assert api.org.admin.usage()["DailyBulkApiBatches"]["used"] == 4


def test_bulk2_upsert_csv_file(sf, api, seeded, tmp_path):
    ids = seeded(20)
    keys = {r["Id"]: r["Url__c"] for r in api.org.admin.records("Byline__c", ["Id", "Url__c"])}
    path = tmp_path / "upsert.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Url__c", "Name", "Likes__c"])
        for rid in ids[:10]:
            w.writerow([keys[rid], "", 70])
        for n in range(10):
            w.writerow([f"https://example.com/b2/{n}", f'new, "{n}"', 80])
    result = sf.bulk2.Byline__c.upsert(csv_file=str(path), external_id_field="Url__c", wait=0.05)
    assert result[0]["numberRecordsProcessed"] == 20 and result[0]["numberRecordsFailed"] == 0
    ok = list(csv.DictReader(sf.bulk2.Byline__c.get_successful_records(result[0]["job_id"]).splitlines()))
    assert sorted((r["sf__Created"], r["Url__c"]) for r in ok) == sorted(
        [("false", keys[rid]) for rid in ids[:10]] + [("true", f"https://example.com/b2/{n}") for n in range(10)]
    )
    stored = _by_url(api.org)
    assert len(stored) == 30
    # Empty CSV values leave a field as it was: the updated records keep their seeded names.
    assert all(stored[keys[rid]]["Name"] == f"Byline {_sequence_of(rid)}" for rid in ids[:10])
    assert stored["https://example.com/b2/3"]["Name"] == 'new, "3"'
    likes = {r["Url__c"]: r["Likes__c"] for r in api.org.admin.records("Byline__c", ["Url__c", "Likes__c"])}
    assert [likes[keys[rid]] for rid in ids[:10]] == [70] * 10
    assert [likes[f"https://example.com/b2/{n}"] for n in range(10)] == [80] * 10
