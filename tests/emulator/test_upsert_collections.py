"""Upsert through sObject Collections (`PATCH /composite/sobjects/{Object}/{Field}`) and Composite subrequests.

Each answer is checked record by record against the stored data, and each request against the org's
counters: a Collections upsert is one API request, a Composite request one, a Composite Batch one per
subrequest, exactly as their update counterparts.
"""

from __future__ import annotations

import pytest

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]
URL = "/composite/sobjects/Byline__c/Url__c"


def _rec(**fields) -> dict:
    return {"attributes": {"type": "Byline__c"}, **fields}


def _ok(rid: str, created: bool) -> dict:
    return {"id": rid, "success": True, "errors": [], "created": created}


def _failed(code: str, message: str, rid: str | None = None) -> dict:
    return {
        "id": rid,
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": []}],
        "created": False,
    }


def _stored(api) -> dict[str, tuple]:
    return {
        r["Url__c"]: (r["Id"], r["Name"], r["Tweets__c"])
        for r in api.org.admin.records("Byline__c", ["Id", "Url__c", "Name", "Tweets__c"])
    }


def test_collections_upsert_creates_updates_and_refuses_record_by_record(api, seeded):
    existing = seeded(2)
    keys = {r["Id"]: r["Url__c"] for r in api.org.admin.records("Byline__c", ["Id", "Url__c"])}
    body = {
        "allOrNone": False,
        "records": [
            _rec(Url__c=keys[existing[0]], Tweets__c=100),  # updated
            _rec(Url__c="https://example.com/new", Name="new", Tweets__c=1),  # created
            _rec(Url__c="https://example.com/twice", Name="a"),  # the same key twice:
            _rec(Url__c="HTTPS://EXAMPLE.COM/TWICE", Name="b"),  # both fail
            _rec(Name="no key"),  # created, key null
            _rec(Url__c=keys[existing[1]].upper(), Tweets__c=-5),  # matched, fails the rule
            {"attributes": {"type": "Account"}, "Name": "other object"},
            {"Name": "no type", "Url__c": "x"},
        ],
    }
    resp = api.rest("PATCH", URL, json=body)
    assert resp.status_code == 200
    results = resp.json()
    new_id, no_key_id = results[1]["id"], results[4]["id"]
    assert results == [
        _ok(existing[0], False),
        _ok(new_id, True),
        _failed("DUPLICATE_VALUE", "Duplicate external id specified: https://example.com/twice"),
        _failed("DUPLICATE_VALUE", "Duplicate external id specified: HTTPS://EXAMPLE.COM/TWICE"),
        _ok(no_key_id, True),
        _failed("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Social counts cannot be negative.", existing[1]),
        _failed("INVALID_TYPE", "sObject type 'Account' is not the type named in the request URI: Byline__c"),
        _failed("INVALID_TYPE", "When creating or updating records, the attributes.type field is required"),
    ]
    stored = _stored(api)
    assert stored[keys[existing[0]]][0::2] == (existing[0], 100)
    assert stored["https://example.com/new"] == (new_id, "new", 1)
    assert stored[None] == (no_key_id, "no key", None)
    assert stored[keys[existing[1]]][2] != -5
    assert len(stored) == 4 and not any(k and "twice" in k.lower() for k in stored)
    assert api.used() == 1
    assert api.org.admin.usage()["by_endpoint"] == {"PATCH /services/data/vXX.X/composite/sobjects/Byline__c/Url__c": 1}


def test_all_or_none_rolls_back_creates_and_updates(api, seeded):
    rid = seeded(1)[0]
    key = api.org.admin.records("Byline__c", ["Url__c"])[0]["Url__c"]
    before = api.records()
    body = {
        "allOrNone": True,
        "records": [
            _rec(Url__c=key, Tweets__c=7),
            _rec(Url__c="k-new", Name="n"),
            _rec(Url__c="k-bad", Name="b", Likes__c=-1),
        ],
    }
    results = api.rest("PATCH", URL, json=body).json()
    assert results == [
        {"id": rid, "success": False, "errors": [ROLLED_BACK], "created": False},
        {"id": None, "success": False, "errors": [ROLLED_BACK], "created": False},  # its record no longer exists
        _failed("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Social counts cannot be negative."),
    ]
    assert api.records() == before


def test_a_field_upsert_cannot_match_on_fails_every_record(api):
    body = {"records": [_rec(Name="a", Tweets__c=1), _rec(Name="b")]}
    message = "Field name provided, Name does not match an External ID, Salesforce Id, or indexed field for Byline__c"
    assert (
        api.rest("PATCH", "/composite/sobjects/Byline__c/Name", json=body).json()
        == [_failed("INVALID_FIELD", message)] * 2
    )
    assert api.records() == {}


def test_id_is_a_key_here_null_creates_and_a_known_id_updates(api, seeded):
    """CumulusCI's recordings upsert on /composite/sobjects/Account/Id with "Id": null to create."""
    rid = seeded(1)[0]
    account = seeded(1, "Account")[0]
    body = {
        "records": [_rec(Id=None, Name="created"), _rec(Id=rid, Name="updated"), _rec(Id=account, Name="wrong object")]
    }
    results = api.rest("PATCH", "/composite/sobjects/Byline__c/Id", json=body).json()
    assert results[:2] == [_ok(results[0]["id"], True), _ok(rid, False)]
    assert results[2]["success"] is False and results[2]["errors"][0]["statusCode"] == "MALFORMED_ID"
    names = {r["Id"]: r["Name"] for r in api.org.admin.records("Byline__c", ["Id", "Name"])}
    assert names == {results[0]["id"]: "created", rid: "updated"}


def test_a_key_several_records_hold_fails_with_duplicate_external_id(api):
    ids = sorted(
        api.rest("POST", "/sobjects/Contact", json={"LastName": n, "Email": "same@example.com"}).json()["id"]
        for n in "ab"
    )
    body = {"records": [{"attributes": {"type": "Contact"}, "Email": "Same@Example.com", "LastName": "c"}]}
    results = api.rest("PATCH", "/composite/sobjects/Contact/Email", json=body).json()
    assert results == [
        _failed(
            "DUPLICATE_EXTERNAL_ID", f"Email: more than one record found for external id field: [{ids[0]}, {ids[1]}]"
        )
    ]
    assert sorted(r["LastName"] for r in api.org.admin.records("Contact", ["LastName"])) == ["a", "b"]


def test_collections_upsert_limits_and_versions(api):
    assert api.rest("PATCH", URL, version="v45.0", json={"records": [_rec(Name="x")]}).status_code == 404
    too_many = api.rest("PATCH", URL, json={"records": [_rec(Name=str(n)) for n in range(201)]})
    assert too_many.status_code == 400 and too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert api.rest("PATCH", URL, json={"records": []}).status_code == 400
    assert (
        api.rest("PATCH", "/composite/sobjects/Nope__c/Url__c", json={"records": [_rec(Name="x")]}).status_code == 404
    )
    assert api.records() == {}


# -- Composite --------------------------------------------------------------------------------------
def test_composite_upserts_by_row_url_and_collections_and_references_the_result(api):
    sub = "/services/data/v62.0"
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "PATCH",
                "url": f"{sub}/sobjects/Byline__c/Url__c/composite-one",
                "referenceId": "one",
                "body": {"Name": "one"},
            },
            {
                "method": "PATCH",
                "url": f"{sub}/sobjects/Byline__c/Url__c/composite%20two",
                "referenceId": "two",
                "body": {"Name": "two"},
            },
            {
                "method": "PATCH",
                "url": f"{sub}/composite/sobjects/Byline__c/Url__c",
                "referenceId": "many",
                "body": {
                    "records": [_rec(Url__c="composite-one", Tweets__c=5), _rec(Url__c="composite-three", Name="three")]
                },
            },
            {
                "method": "GET",
                "url": f"{sub}/sobjects/Byline__c/@{{one.id}}?fields=Name,Tweets__c,Url__c",
                "referenceId": "read",
            },
        ],
    }
    resp = api.rest("POST", "/composite", json=body)
    assert resp.status_code == 200
    out = {r["referenceId"]: r for r in resp.json()["compositeResponse"]}
    one = out["one"]["body"]["id"]
    assert out["one"]["httpStatusCode"] == 201 and out["one"]["body"] == _ok(one, True)
    assert out["one"]["httpHeaders"] == {"Location": f"{sub}/sobjects/Byline__c/{one}"}
    assert out["two"]["httpStatusCode"] == 201
    assert out["many"]["httpStatusCode"] == 200
    assert [r["created"] for r in out["many"]["body"]] == [False, True] and out["many"]["body"][0]["id"] == one
    assert out["read"]["body"]["Tweets__c"] == 5.0 and out["read"]["body"]["Url__c"] == "composite-one"
    assert sorted(_stored(api)) == ["composite two", "composite-one", "composite-three"]
    assert api.used() == 1


def test_an_upsert_matching_several_records_halts_an_all_or_none_composite(api):
    for name in "ab":
        api.rest("POST", "/sobjects/Contact", json={"LastName": name, "Email": "dup@example.com"})
    before = api.records("Contact")
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "PATCH",
                "url": "/services/data/v62.0/sobjects/Byline__c/Url__c/halted",
                "referenceId": "first",
                "body": {"Name": "x"},
            },
            {
                "method": "PATCH",
                "url": "/services/data/v62.0/sobjects/Contact/Email/dup@example.com",
                "referenceId": "several",
                "body": {"LastName": "c"},
            },
        ],
    }
    out = {r["referenceId"]: r for r in api.rest("POST", "/composite", json=body).json()["compositeResponse"]}
    assert out["several"]["httpStatusCode"] == 300 and len(out["several"]["body"]) == 2
    assert out["first"] == {"body": HALTED, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "first"}
    assert api.records() == {} and api.records("Contact") == before


@pytest.mark.parametrize("halt", [False, True])
def test_composite_batch_counts_each_upsert_subrequest(api, halt):
    body = {
        "haltOnError": halt,
        "batchRequests": [
            {"method": "PATCH", "url": "v62.0/sobjects/Byline__c/Url__c/batch-1", "richInput": {"Name": "b1"}},
            {"method": "PATCH", "url": "v62.0/sobjects/Byline__c/Name/batch-2", "richInput": {"Name": "b2"}},
            {"method": "PATCH", "url": "v62.0/sobjects/Byline__c/Url__c/batch-1", "richInput": {"Tweets__c": 3}},
        ],
    }
    resp = api.rest("POST", "/composite/batch", json=body).json()
    assert resp["hasErrors"] is True
    assert [r["statusCode"] for r in resp["results"]] == ([201, 404, 412] if halt else [201, 404, 200])
    assert _stored(api)["batch-1"][1:] == ("b1", None if halt else 3)
    assert api.used() == (2 if halt else 3)  # a halted subrequest never ran, so it is not counted
