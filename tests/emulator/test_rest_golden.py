"""REST shapes against the fact sheet (sections 4.1-4.7 and 6): rows, errors, query, Collections, Composite.

Every write test also reads the store through the admin API: a refused or rolled-back request must
leave the data exactly as it was.
"""

from __future__ import annotations

import pytest

SESSION_ERROR = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
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


def _row(rid: str) -> str:
    return f"/sobjects/Byline__c/{rid}"


# -- versions, sessions, rows ----------------------------------------------------------------------
def test_versions_list_is_free_and_covers_42_to_64(api):
    resp = api.s.get(api.base + "/services/data/")
    assert resp.status_code == 200 and "Sforce-Limit-Info" not in resp.headers
    versions = [v["version"] for v in resp.json()]
    assert {"42.0", "62.0", "64.0"} <= set(versions)
    assert resp.json()[-1] == {"label": "API 64.0", "url": "/services/data/v64.0", "version": "64.0"}
    assert api.used() == 0
    assert api.rest("GET", "/limits", version="v65.0").status_code == 404


def test_resources_list_gives_an_absolute_identity_url(api):
    """As Salesforce does (jsforce's identity() requests the URL as given)."""
    resources = api.rest("GET", "").json()
    assert resources["identity"] == f"{api.base}/id/{api.org.org.org_id}/{api.org.org.user_id}"
    assert resources["query"] == "/services/data/v62.0/query"
    identity = api.s.get(resources["identity"]).json()
    assert (identity["organization_id"], identity["user_id"]) == (api.org.org.org_id, api.org.org.user_id)


@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic abc"])
def test_invalid_session_is_401_and_not_counted(api, seeded, auth):
    rid = seeded(1)[0]
    before = api.records()
    headers = {"Authorization": auth} if auth else {}
    s = api.org.session()
    if auth is None:
        del s.headers["Authorization"]
    resp = s.patch(f"{api.base}/services/data/v62.0{_row(rid)}", json={"Tweets__c": 5}, headers=headers)
    assert resp.status_code == 401
    assert resp.json() == SESSION_ERROR
    assert api.used() == 0
    assert api.records() == before


def test_row_get_create_patch_delete(api, seeded):
    account = seeded(1, "Account")[0]
    created = api.rest("POST", "/sobjects/Byline__c", json={"Name": "new", "Tweets__c": 3, "Account__c": account})
    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], "success": True, "errors": []}
    rid = body["id"]
    assert rid.startswith("a01") and len(rid) == 18
    got = api.rest("GET", _row(rid)).json()
    assert got["attributes"] == {"type": "Byline__c", "url": f"/services/data/v62.0/sobjects/Byline__c/{rid}"}
    assert got["Name"] == "new" and got["Tweets__c"] == 3.0 and got["Account__c"] == account
    assert api.rest("GET", _row(rid) + "?fields=Name,Tweets__c").json() == {
        "attributes": got["attributes"],
        "Name": "new",
        "Tweets__c": 3.0,
    }
    assert api.rest("PATCH", _row(rid), json={"Tweets__c": 4}).status_code == 204
    # Clients that cannot send PATCH use POST with ?_HttpMethod=PATCH.
    override = api.rest("POST", _row(rid) + "?_HttpMethod=PATCH", json={"Likes__c": 8})
    assert override.status_code == 204 and override.content == b""
    assert api.records()[rid]["Tweets__c"] == 4 and api.records()[rid]["Likes__c"] == 8
    # Object and field names are case-insensitive; 15-character ids are accepted.
    assert api.rest("PATCH", f"/sobjects/byline__C/{rid[:15]}", json={"tweets__c": 6}).status_code == 204
    assert api.records()[rid]["Tweets__c"] == 6
    assert api.rest("DELETE", _row(rid)).status_code == 204
    assert rid not in api.records()
    again = api.rest("DELETE", _row(rid))
    assert again.status_code == 404 and again.json()[0]["errorCode"] == "NOT_FOUND"
    assert api.used() == 8


@pytest.mark.parametrize("bad", ["001000000000000AAA", "a015g0000000001XYZ", "not-an-id", "a015g00000"])
def test_bad_ids_are_404_not_found(api, seeded, bad):
    seeded(1)
    for method, kw in (("GET", {}), ("PATCH", {"json": {"Tweets__c": 1}}), ("DELETE", {})):
        resp = api.rest(method, _row(bad), **kw)
        assert resp.status_code == 404, (method, resp.text)
        assert resp.json() == [
            {
                "message": f"Provided external ID field does not exist or is not accessible: {bad}",
                "errorCode": "NOT_FOUND",
            }
        ]


def test_missing_record_and_unknown_object(api, seeded):
    rid = seeded(1)[0]
    api.rest("DELETE", _row(rid))
    for method, kw in (("GET", {}), ("PATCH", {"json": {"Tweets__c": 1}})):
        resp = api.rest(method, _row(rid), **kw)
        assert resp.status_code == 404
        assert resp.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    resp = api.rest("GET", "/sobjects/No_Such__c/describe")
    assert resp.status_code == 404 and resp.json()[0]["errorCode"] == "NOT_FOUND"
    resp = api.rest("GET", "/no/such/resource")
    assert resp.status_code == 404 and resp.json()[0]["errorCode"] == "NOT_FOUND"
    # Every one of those calls was an API request, and each error carried the usage header.
    assert resp.headers["Sforce-Limit-Info"] == f"api-usage={api.used()}/15000"


def test_record_level_errors_on_patch(api, seeded):
    rid = seeded(1)[0]
    before = api.records()[rid]
    cases = [
        ({"No_Such__c": 1}, "INVALID_FIELD", ["No_Such__c"]),
        ({"Likes__c": -1}, "FIELD_CUSTOM_VALIDATION_EXCEPTION", None),
        ({"Tweets__c": "lots"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", ["Tweets__c"]),
        ({"Name": "x" * 81}, "STRING_TOO_LONG", ["Name"]),
        ({"Name": None}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ({"CreatedDate": "2020-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"]),
        ({"Account__c": "001000000000000"}, "INVALID_CROSS_REFERENCE_KEY", ["Account__c"]),
        ({"Account__c": "003000000000000"}, "FIELD_INTEGRITY_EXCEPTION", ["Account__c"]),
        ({"Account__c": "garbage"}, "MALFORMED_ID", ["Account__c"]),
        ({"Date_Published__c": "2024-02-30"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", ["Date_Published__c"]),
    ]
    for body, code, fields in cases:
        resp = api.rest("PATCH", _row(rid), json=body)
        assert resp.status_code == 400, body
        err = resp.json()
        assert isinstance(err, list) and err[0]["errorCode"] == code, (body, err)
        assert err[0].get("fields") == fields, (body, err)
    assert api.records()[rid] == before


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
def test_malformed_json_body(api, seeded, raw):
    rid = seeded(1)[0]
    before = api.records()[rid]
    resp = api.rest("PATCH", _row(rid), data=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert api.records()[rid] == before


# -- query ------------------------------------------------------------------------------------------
def test_query_shapes_and_paging(api, seeded):
    ids = seeded(2300)
    first = api.rest("GET", "/query", params={"q": "SELECT Id, Name, Account__r.Name FROM Byline__c ORDER BY Name"})
    assert first.status_code == 200
    page = first.json()
    assert page["totalSize"] == 2300 and page["done"] is False and len(page["records"]) == 2000
    assert list(page) == ["totalSize", "done", "nextRecordsUrl", "records"]
    assert page["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    rec = page["records"][0]
    assert rec["attributes"]["type"] == "Byline__c" and rec["attributes"]["url"].endswith(rec["Id"])
    assert rec["Account__r"]["attributes"] == {"type": "Account"} and rec["Account__r"]["Name"].startswith("Account")
    more = api.s.get(api.base + page["nextRecordsUrl"]).json()
    assert more["done"] is True and len(more["records"]) == 300 and "nextRecordsUrl" not in more
    assert sorted(r["Id"] for r in page["records"] + more["records"]) == sorted(ids)
    small = api.rest(
        "GET", "/query", params={"q": "SELECT Id FROM Byline__c"}, headers={"Sforce-Query-Options": "batchSize=500"}
    ).json()
    assert len(small["records"]) == 500
    count = api.rest("GET", "/query", params={"q": "SELECT COUNT() FROM Byline__c WHERE Tweets__c >= 0"}).json()
    assert count == {"totalSize": 2300, "done": True, "records": []}
    aggregate = api.rest("GET", "/query", params={"q": "SELECT COUNT(Id) FROM Byline__c"}).json()
    assert aggregate == {
        "totalSize": 1,
        "done": True,
        "records": [{"attributes": {"type": "AggregateResult"}, "expr0": 2300}],
    }
    aliased = api.rest("GET", "/query", params={"q": "SELECT COUNT(Id) n FROM Byline__c WHERE Tweets__c < 0"}).json()
    assert aliased["records"] == [{"attributes": {"type": "AggregateResult"}, "n": 0}]
    bad = api.rest("GET", "/query/01gBOGUS-2000")
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_column_metadata(api, seeded):
    """`columns=true` answers the query's column layout (as Salesforce's own tools ask for it), not its rows."""
    seeded(3)
    resp = api.rest(
        "GET",
        "/query",
        params={"q": "SELECT Id, Name, Tweets__c, Account__r.Name, Account__r.Phone FROM Byline__c", "columns": "true"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["columnMetadata", "entityName", "groupBy", "idSelected", "keyPrefix"]
    assert (body["entityName"], body["groupBy"], body["idSelected"], body["keyPrefix"]) == (
        "Byline__c",
        False,
        True,
        "a01",
    )
    cols = body["columnMetadata"]
    assert [c["columnName"] for c in cols] == ["Id", "Name", "Tweets__c", "Account__r"]
    assert cols[0] == {
        "aggregate": False,
        "apexType": "Id",
        "booleanType": False,
        "columnName": "Id",
        "custom": False,
        "displayName": "Id",
        "foreignKeyName": None,
        "insertable": False,
        "joinColumns": [],
        "numberType": False,
        "textType": False,
        "updatable": False,
    }
    assert (cols[1]["apexType"], cols[1]["textType"], cols[1]["insertable"], cols[1]["updatable"]) == (
        "String",
        True,
        True,
        True,
    )
    assert (cols[2]["apexType"], cols[2]["numberType"], cols[2]["custom"]) == ("Double", True, True)
    parent = cols[3]
    assert (parent["foreignKeyName"], parent["apexType"], parent["custom"]) == ("Account__c", None, True)
    assert [j["columnName"] for j in parent["joinColumns"]] == ["Name", "Phone"]
    aggregate = api.rest("GET", "/query", params={"q": "SELECT COUNT(Id) FROM Byline__c", "columns": "true"}).json()
    assert aggregate["idSelected"] is False
    assert [(c["columnName"], c["displayName"], c["aggregate"]) for c in aggregate["columnMetadata"]] == [
        ("expr0", "COUNT(Id)", True)
    ]
    plain = api.rest("GET", "/query", params={"q": "SELECT Id FROM Byline__c", "columns": "false"}).json()
    assert plain["totalSize"] == 3
    bad = api.rest("GET", "/query", params={"q": "SELECT Id FROM Byline__c", "columns": "maybe"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "ILLEGAL_QUERY_PARAMETER_VALUE"
    assert api.used() == 4


def test_repeated_slashes_in_the_path_are_one(api, seeded):
    """Salesforce's CLI keeps the instance URL with a trailing slash and asks for `//services/data/...`."""
    rid = seeded(1)[0]
    assert api.s.get(api.base + "//services/data").status_code == 200
    resp = api.s.patch(api.base + f"//services/data/v62.0//sobjects/Byline__c/{rid}", json={"Tweets__c": 12})
    assert resp.status_code == 204
    assert api.records()[rid]["Tweets__c"] == 12
    usage = api.org.admin.usage()
    assert usage["by_endpoint"] == {
        "GET /services/data (free)": 1,
        "PATCH /services/data/vXX.X/sobjects/Byline__c/{id}": 1,
    }


@pytest.mark.parametrize(
    "soql, code",
    [
        ("SELECT Id FROM", "MALFORMED_QUERY"),
        ("SELEC Id FROM Byline__c", "MALFORMED_QUERY"),
        ("SELECT Id FROM Byline__c WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Byline__c", "INVALID_FIELD"),
        ("SELECT Id FROM Byline__c WHERE Nope__c = 1", "INVALID_FIELD"),
        ("SELECT Id FROM No_Such__c", "INVALID_TYPE"),
    ],
)
def test_query_errors(api, soql, code):
    resp = api.rest("GET", "/query", params={"q": soql})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"]


# -- sObject Collections ----------------------------------------------------------------------------
def _coll(records, all_or_none=False):
    return {"allOrNone": all_or_none, "records": records}


def _upd(rid, **fields):
    return {"attributes": {"type": "Byline__c"}, "id": rid, **fields}


def test_collections_cap_is_200(api, seeded):
    ids = seeded(201)
    before = api.records()
    resp = api.rest("PATCH", "/composite/sobjects", json=_coll([_upd(r, Tweets__c=1) for r in ids]))
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert api.records() == before
    ok = api.rest("PATCH", "/composite/sobjects", json=_coll([_upd(r, Tweets__c=1) for r in ids[:200]]))
    assert ok.status_code == 200 and len(ok.json()) == 200
    # Collections arrived in API 42.0.
    assert (
        api.rest("PATCH", "/composite/sobjects", version="v41.0", json=_coll([_upd(ids[0], Tweets__c=2)])).status_code
        == 404
    )
    assert api.used() == 3


def test_collections_partial_success(api, seeded):
    ids = seeded(4)
    records = [
        _upd(ids[0], Tweets__c=10),
        _upd(ids[1], Tweets__c=-1),
        _upd("001000000000000AAA", Tweets__c=1),
        _upd(ids[3], Tweets__c=13),
    ]
    resp = api.rest("PATCH", "/composite/sobjects", json=_coll(records))
    assert resp.status_code == 200
    out = resp.json()
    assert out[0] == {"id": ids[0], "success": True, "errors": []}
    assert out[1]["success"] is False and out[1]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert out[2]["success"] is False and out[2]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert out[3] == {"id": ids[3], "success": True, "errors": []}
    stored = api.records()
    assert stored[ids[0]]["Tweets__c"] == 10 and stored[ids[3]]["Tweets__c"] == 13 and stored[ids[1]]["Tweets__c"] != -1


def test_collections_all_or_none_really_rolls_back(api, seeded):
    ids = seeded(5)
    before = api.records()
    records = [_upd(r, Tweets__c=50 + n) for n, r in enumerate(ids)]
    records[2]["Likes__c"] = -7
    resp = api.rest("PATCH", "/composite/sobjects", json=_coll(records, all_or_none=True))
    assert resp.status_code == 200
    out = resp.json()
    assert out[2]["success"] is False and out[2]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    for n in (0, 1, 3, 4):
        assert out[n] == {"id": ids[n], "success": False, "errors": [ROLLED_BACK]}
    assert api.records() == before
    # The same under allOrNone for inserts: nothing is created.
    new = [{"attributes": {"type": "Byline__c"}, "Name": "a"}, {"attributes": {"type": "Byline__c"}}]
    out = api.rest("POST", "/composite/sobjects", json=_coll(new, all_or_none=True)).json()
    assert out[0] == {"id": None, "success": False, "errors": [ROLLED_BACK]}
    assert out[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert api.records() == before


def test_collections_create_get_delete(api, seeded):
    new = [{"attributes": {"type": "Byline__c"}, "Name": f"n{n}", "Tweets__c": n} for n in range(3)]
    out = api.rest("POST", "/composite/sobjects", json=_coll(new)).json()
    ids = [r["id"] for r in out]
    assert all(r["success"] for r in out) and len(set(ids)) == 3
    got = api.rest(
        "GET",
        "/composite/sobjects/Byline__c",
        params={"ids": ",".join([*ids, "a015g00000000zzAAA"]), "fields": "Name,Tweets__c"},
    ).json()
    assert [g["Name"] for g in got[:3]] == ["n0", "n1", "n2"] and got[3] is None
    gone = api.rest("DELETE", "/composite/sobjects", params={"ids": ",".join(ids[:2]), "allOrNone": "false"}).json()
    assert gone == [{"id": ids[0], "success": True, "errors": []}, {"id": ids[1], "success": True, "errors": []}]
    assert set(api.records()) == {ids[2]}
    missing_type = api.rest("POST", "/composite/sobjects", json=_coll([{"Name": "no type"}])).json()
    assert missing_type[0]["success"] is False and missing_type[0]["errors"][0]["statusCode"] == "INVALID_TYPE"


# -- Composite --------------------------------------------------------------------------------------
def _sub(ref, method, url, body=None):
    out = {"referenceId": ref, "method": method, "url": "/services/data/v62.0" + url}
    if body is not None:
        out["body"] = body
    return out


def test_composite_references_and_one_call(api, seeded):
    ids = seeded(3)
    subs = [
        _sub("acct", "POST", "/sobjects/Account", {"Name": "Parent"}),
        _sub("line", "PATCH", _row(ids[0]), {"Account__c": "@{acct.id}", "Name": "child of @{acct.id}"}),
        _sub("read", "GET", "/sobjects/Account/@{acct.id}"),
        _sub("q", "GET", "/query?q=SELECT+Id,Name+FROM+Account+WHERE+Name='Parent'"),
        _sub(
            "coll",
            "PATCH",
            "/composite/sobjects",
            {"allOrNone": False, "records": [_upd(r, Likes__c=2) for r in ids[1:]]},
        ),
    ]
    resp = api.rest("POST", "/composite", json={"allOrNone": False, "compositeRequest": subs})
    assert resp.status_code == 200
    out = resp.json()["compositeResponse"]
    assert [r["referenceId"] for r in out] == ["acct", "line", "read", "q", "coll"]
    assert [r["httpStatusCode"] for r in out] == [201, 204, 200, 200, 200]
    account = out[0]["body"]["id"]
    assert out[0]["httpHeaders"] == {"Location": f"/services/data/v62.0/sobjects/Account/{account}"}
    assert out[1]["body"] is None
    assert out[2]["body"]["Name"] == "Parent"
    assert out[3]["body"]["totalSize"] == 1 and out[3]["body"]["records"][0]["Id"] == account
    assert all(r["success"] for r in out[4]["body"])
    stored = api.records()
    assert stored[ids[0]]["Account__c"] == account and stored[ids[0]]["Name"] == f"child of {account}"
    assert stored[ids[1]]["Likes__c"] == 2
    assert api.used() == 1
    assert api.org.admin.usage()["by_family"] == {"rest": 1}


def test_composite_all_or_none_rolls_back(api, seeded):
    ids = seeded(2)
    before = api.records()
    accounts_before = api.records("Account")
    subs = [
        _sub("acct", "POST", "/sobjects/Account", {"Name": "Rolled back"}),
        _sub("ok", "PATCH", _row(ids[0]), {"Tweets__c": 99, "Account__c": "@{acct.id}"}),
        _sub("bad", "PATCH", _row(ids[1]), {"Likes__c": -1}),
        _sub("after", "PATCH", _row(ids[1]), {"Tweets__c": 98}),
    ]
    out = api.rest("POST", "/composite", json={"allOrNone": True, "compositeRequest": subs}).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in out] == [400, 400, 400, 400]
    assert out[0]["body"] == HALTED and out[1]["body"] == HALTED and out[3]["body"] == HALTED
    assert out[2]["body"][0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert api.records() == before
    assert api.records("Account") == accounts_before


def test_composite_failed_reference_halts_dependents_only(api, seeded):
    ids = seeded(2)
    subs = [
        _sub("bad", "POST", "/sobjects/Account", {"Name": None}),
        _sub("dep", "PATCH", _row(ids[0]), {"Account__c": "@{bad.id}"}),
        _sub("indep", "PATCH", _row(ids[1]), {"Tweets__c": 7}),
    ]
    out = api.rest("POST", "/composite", json={"compositeRequest": subs}).json()["compositeResponse"]
    assert out[0]["httpStatusCode"] == 400 and out[0]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert out[1]["httpStatusCode"] == 400 and out[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "@{bad.id}" not in out[1]["body"][0]["message"] and "bad.id" in out[1]["body"][0]["message"]
    assert out[2]["httpStatusCode"] == 204
    assert api.records()[ids[1]]["Tweets__c"] == 7


def test_composite_limits(api, seeded):
    ids = seeded(1)
    before = api.records()
    too_many = [_sub(f"r{n}", "PATCH", _row(ids[0]), {"Tweets__c": n}) for n in range(26)]
    resp = api.rest("POST", "/composite", json={"compositeRequest": too_many})
    assert resp.status_code == 400 and resp.json()[0]["errorCode"]
    six_heavy = [_sub(f"q{n}", "GET", "/query?q=SELECT+Id+FROM+Byline__c") for n in range(3)]
    six_heavy += [
        _sub(f"c{n}", "PATCH", "/composite/sobjects", {"records": [_upd(ids[0], Tweets__c=n)]}) for n in range(3)
    ]
    resp = api.rest("POST", "/composite", json={"compositeRequest": six_heavy})
    assert resp.status_code == 400
    assert api.records() == before
    five_heavy = six_heavy[:5] + [_sub(f"p{n}", "PATCH", _row(ids[0]), {"Likes__c": n}) for n in range(20)]
    resp = api.rest("POST", "/composite", json={"compositeRequest": five_heavy})
    assert resp.status_code == 200 and len(resp.json()["compositeResponse"]) == 25
    assert api.records()[ids[0]]["Likes__c"] == 19
    assert api.used() == 3


# -- Composite Batch --------------------------------------------------------------------------------
def test_composite_batch_counts_each_subrequest(api, seeded):
    ids = seeded(3)
    subs = [{"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{r}", "richInput": {"Tweets__c": 21}} for r in ids]
    subs.append({"method": "GET", "url": f"v62.0/sobjects/Byline__c/{ids[0]}?fields=Tweets__c"})
    resp = api.rest("POST", "/composite/batch", json={"batchRequests": subs})
    assert resp.status_code == 200
    body = resp.json()
    assert body["hasErrors"] is False
    assert [r["statusCode"] for r in body["results"]] == [204, 204, 204, 200]
    assert body["results"][0]["result"] is None and body["results"][3]["result"]["Tweets__c"] == 21.0
    assert api.used() == 4
    assert resp.headers["Sforce-Limit-Info"] == "api-usage=4/15000"


def test_composite_batch_halt_on_error_keeps_earlier_commits(api, seeded):
    ids = seeded(3)
    before = api.records()
    subs = [
        {"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{ids[0]}", "richInput": {"Tweets__c": 31}},
        {"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{ids[1]}", "richInput": {"Tweets__c": -1}},
        {"method": "PATCH", "url": f"v62.0/sobjects/Byline__c/{ids[2]}", "richInput": {"Tweets__c": 33}},
    ]
    body = api.rest("POST", "/composite/batch", json={"batchRequests": subs, "haltOnError": True}).json()
    assert body["hasErrors"] is True
    assert [r["statusCode"] for r in body["results"]] == [204, 400, 412]
    assert body["results"][2]["result"] == [
        {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}
    ]
    stored = api.records()
    assert stored[ids[0]]["Tweets__c"] == 31 and stored[ids[2]] == before[ids[2]]
    too_many = api.rest("POST", "/composite/batch", json={"batchRequests": subs * 9})
    assert too_many.status_code == 400


# -- sObject Tree ------------------------------------------------------------------------------------
def _tree_record(sobject: str, ref: str, **values) -> dict:
    return {"attributes": {"type": sobject, "referenceId": ref}, **values}


def test_sobject_tree_creates_nested_records_in_one_call(api):
    body = {
        "records": [
            _tree_record(
                "Account",
                "acme",
                Name="Acme",
                Contacts={
                    "records": [
                        _tree_record("Contact", "ann", LastName="Ng", FirstName="Ann"),
                        _tree_record("Contact", "li", LastName="Li"),
                    ]
                },
            ),
            _tree_record(
                "Account",
                "globex",
                Name="Globex",
                Opportunities={
                    "records": [
                        _tree_record(
                            "Opportunity", "deal", Name="Deal", StageName="Prospecting", CloseDate="2026-01-31"
                        )
                    ]
                },
            ),
        ]
    }
    resp = api.rest("POST", "/composite/tree/Account", json=body)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["hasErrors"] is False
    assert [r["referenceId"] for r in out["results"]] == ["acme", "globex", "ann", "li", "deal"]  # level by level
    ids = {r["referenceId"]: r["id"] for r in out["results"]}
    contacts = api.records("Contact", ["Id", "LastName", "AccountId"])
    assert {c["LastName"]: c["AccountId"] for c in contacts.values()} == {"Ng": ids["acme"], "Li": ids["acme"]}
    assert api.records("Opportunity", ["Id", "AccountId"])[ids["deal"]]["AccountId"] == ids["globex"]
    assert api.used() == 1  # the whole tree is one call


def test_sobject_tree_failure_creates_nothing(api):
    body = {
        "records": [
            _tree_record(
                "Account",
                "ok",
                Name="Fine",
                Contacts={"records": [_tree_record("Contact", "nameless", FirstName="No")]},
            ),
            _tree_record("Account", "alsook", Name="Also fine"),
        ]
    }
    resp = api.rest("POST", "/composite/tree/Account", json=body)
    assert resp.status_code == 400
    assert resp.json() == {
        "hasErrors": True,
        "results": [
            {
                "referenceId": "nameless",
                "errors": [
                    {
                        "statusCode": "REQUIRED_FIELD_MISSING",
                        "message": "Required fields are missing: [LastName]",
                        "fields": ["LastName"],
                    }
                ],
            }
        ],
    }
    assert api.records("Account") == {} and api.records("Contact") == {}
    duplicate = api.rest(
        "POST",
        "/composite/tree/Account",
        json={"records": [_tree_record("Account", "same", Name="One"), _tree_record("Account", "same", Name="Two")]},
    )
    assert duplicate.status_code == 400
    assert [r["errors"][0]["message"] for r in duplicate.json()["results"]] == [
        "Duplicate ReferenceId provided in the request."
    ] * 2
    assert api.records("Account") == {}


@pytest.mark.parametrize(
    "body, code",
    [
        ({"records": [_tree_record("Account", f"r{n}", Name=str(n)) for n in range(201)]}, "INVALID_BATCH_SIZE"),
        ({"records": [{"Name": "no attributes"}]}, "JSON_PARSER_ERROR"),
        ({"records": [_tree_record("Contact", "wrong", LastName="Wrong type")]}, "JSON_PARSER_ERROR"),
        ({"rows": []}, "JSON_PARSER_ERROR"),
    ],
)
def test_sobject_tree_refuses_bodies_it_cannot_take(api, body, code):
    resp = api.rest("POST", "/composite/tree/Account", json=body)
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == code
    assert api.records("Account") == {} and api.records("Contact") == {}


def test_describe_lists_child_relationships_and_field_details(api):
    account = api.rest("GET", "/sobjects/Account/describe").json()
    assert [(r["relationshipName"], r["childSObject"], r["field"]) for r in account["childRelationships"]] == [
        ("Contacts", "Contact", "AccountId"),
        ("Opportunities", "Opportunity", "AccountId"),
        ("Bylines__r", "Byline__c", "Account__c"),
    ]
    assert account["labelPlural"] == "Accounts"
    fields = {f["name"]: f for f in account["fields"]}
    assert fields["Name"]["nameField"] is True and fields["Phone"]["nameField"] is False
    assert (fields["Description"]["filterable"], fields["Description"]["sortable"]) == (False, False)
    assert (fields["Id"]["createable"], fields["Name"]["createable"], fields["Name"]["updateable"]) == (
        False,
        True,
        True,
    )
    assert api.rest("GET", "/sobjects/Opportunity/describe").json()["labelPlural"] == "Opportunities"


def test_limits_resource(api):
    body = api.rest("GET", "/limits").json()
    assert body["DailyApiRequests"] == {"Max": 15000, "Remaining": 14999}
    assert body["DailyBulkApiBatches"] == {"Max": 15000, "Remaining": 15000}
    assert body["DailyBulkV2QueryJobs"] == {"Max": 10000, "Remaining": 10000}
