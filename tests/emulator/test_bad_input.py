"""Bad input gets the documented status and error code and never changes stored data (issue 2, "Bad input").

Covers what the golden tests and test_faults.py do not: request content types (REST, Bulk 1.0 job
documents and batches, Bulk 2.0 job documents and uploads), API versions that disagree with a Bulk 1.0
job's, wrong methods and unknown URLs in every family, a finished Bulk 2.0 job, and an internal error.
Every refusal is checked against the stored records afterwards.
"""

from __future__ import annotations

import json

import pytest
from defusedxml.ElementTree import fromstring

from .conftest import BULK_NS, V, job_xml, state_xml

NOT_SUPPORTED = "Content-Type header specified in HTTP request is not supported: "


def _row(rid: str, sobject: str = "Byline__c") -> str:
    return f"/sobjects/{sobject}/{rid}"


def _bulk1_error(resp) -> tuple[str, str]:
    root = fromstring(resp.content)
    assert root.tag == f"{{{BULK_NS}}}error", resp.text
    return tuple(child.text or "" for child in root)  # (exceptionCode, exceptionMessage)


def _bulk1_job(api, content_type: str = "CSV", version: str = "62.0") -> str:
    resp = api.bulk1("POST", "/job", body=job_xml(content_type=content_type), version=version)
    assert resp.status_code == 201, resp.text
    return fromstring(resp.content).find(f"{{{BULK_NS}}}id").text


# -- REST: content types ------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/csv; charset=UTF-8"])
def test_rest_refuses_a_json_body_sent_as_another_type(api, seeded, content_type):
    rid = seeded(1)[0]
    before = api.records()
    media = content_type.split(";")[0]
    for method, path, body in (
        ("PATCH", _row(rid), b'{"Tweets__c": 99}'),
        ("POST", "/sobjects/Byline__c", b'{"Name": "new"}'),
    ):
        resp = api.rest(method, path, data=body, headers={"Content-Type": content_type})
        assert resp.status_code == 415
        assert resp.json() == [{"message": NOT_SUPPORTED + media, "errorCode": "UNSUPPORTED_MEDIA_TYPE"}]
        assert resp.headers["Sforce-Limit-Info"] == f"api-usage={api.used()}/15000"  # still an API request
    assert api.records() == before


def test_rest_content_type_is_optional_and_defaults_to_json(api, seeded):
    rid = seeded(1)[0]
    resp = api.rest("PATCH", _row(rid), data=b'{"Tweets__c": 42}')
    assert "Content-Type" not in resp.request.headers
    assert resp.status_code == 204, resp.text
    assert api.records()[rid]["Tweets__c"] == 42


def test_rest_reads_xml_sobject_bodies(api, seeded):
    rid = seeded(1)[0]
    xml = {"Content-Type": "application/xml; charset=UTF-8"}
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Byline__c xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<Tweets__c>7</Tweets__c><Likes__c xsi:nil="true"/></Byline__c>'
    )
    assert api.rest("PATCH", _row(rid), data=body, headers=xml).status_code == 204
    stored = api.records()[rid]
    assert stored["Tweets__c"] == 7 and stored["Likes__c"] is None
    created = api.rest("POST", "/sobjects/Byline__c", data="<Byline__c><Name>From XML</Name></Byline__c>", headers=xml)
    assert created.status_code == 201, created.text
    assert api.records()[created.json()["id"]]["Name"] == "From XML"


def test_rest_malformed_or_nested_xml_is_refused(api, seeded):
    rid = seeded(1)[0]
    before = api.records()
    xml = {"Content-Type": "application/xml"}
    for body in (
        "<Byline__c><Tweets__c>7</Tweets__c>",
        "<Byline__c><Tweets__c><n>7</n></Tweets__c></Byline__c>",
        '{"Tweets__c": 7}',
    ):
        resp = api.rest("PATCH", _row(rid), data=body, headers=xml)
        assert resp.status_code == 400, body
        assert resp.json()[0]["errorCode"] == "INVALID_XML"
    # XML where the emulator reads JSON only (Collections, Composite) is refused, never misread.
    payload = f"<SObjectCollection><records><Id>{rid}</Id><Tweets__c>1</Tweets__c></records></SObjectCollection>"
    for path, method in (("/composite/sobjects", "PATCH"), ("/composite", "POST"), ("/composite/batch", "POST")):
        resp = api.rest(method, path, data=payload, headers=xml)
        assert resp.status_code == 415 and resp.json()[0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE", path
    assert api.records() == before


# -- REST: methods, URLs, ids of the wrong object -------------------------------------------------------
def test_rest_wrong_methods_are_405_with_a_json_body(api, seeded):
    rid = seeded(1)[0]
    before = api.records()
    for method, path in (
        ("PUT", _row(rid)),
        ("POST", _row(rid)),
        ("DELETE", "/query?q=SELECT+Id+FROM+Byline__c"),
        ("POST", ""),
        ("PATCH", "/limits"),
    ):
        resp = api.rest(method, path, json={"Tweets__c": 1})
        assert resp.status_code == 405, (method, path, resp.text)
        err = resp.json()
        assert err[0]["errorCode"] == "METHOD_NOT_ALLOWED" and f"'{method}'" in err[0]["message"]
        assert "Sforce-Limit-Info" in resp.headers
    assert api.records() == before


def test_rest_unknown_version_and_object(api, seeded):
    rid = seeded(1)[0]
    before = api.records()
    for version, path in (
        ("v10.0", _row(rid)),
        ("v99.0", _row(rid)),
        ("banana", _row(rid)),
        (V, _row(rid, "No_Such__c")),
    ):
        resp = api.rest("PATCH", path, version=version, json={"Tweets__c": 1})
        assert resp.status_code == 404 and resp.json()[0]["errorCode"] == "NOT_FOUND", (version, path)
    assert api.records() == before


def test_an_internal_error_is_a_json_500_and_the_server_keeps_serving(api, seeded, monkeypatch):
    import emulator.api.app as app_module

    rid = seeded(1)[0]

    def broken(call):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app_module, "dispatch", broken)
    resp = api.rest("GET", _row(rid))
    assert resp.status_code == 500 and resp.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    monkeypatch.undo()
    assert api.rest("GET", _row(rid)).status_code == 200


# -- Bulk API 1.0 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "text/csv", "text/xml"])
def test_bulk1_job_documents_must_be_xml_or_json(api, content_type):
    jobs_before = api.org.admin.jobs()["bulk1"]
    resp = api.bulk1("POST", "/job", body=job_xml(content_type="CSV"), content_type=content_type)
    assert resp.status_code == 400
    assert _bulk1_error(resp) == ("ClientInputError", f"Unsupported content type: {content_type}")
    assert api.org.admin.jobs()["bulk1"] == jobs_before


def test_bulk1_close_with_the_wrong_content_type_leaves_the_job_open(api):
    job = _bulk1_job(api)
    resp = api.bulk1("POST", f"/job/{job}", body=state_xml("Closed"), content_type="text/plain")
    assert resp.status_code == 400 and _bulk1_error(resp)[0] == "ClientInputError"
    assert {j["id"]: j["state"] for j in api.org.admin.jobs()["bulk1"]}[job] == "Open"


def test_bulk1_batch_operations_need_the_jobs_api_version(api, seeded):
    ids = seeded(2)
    before = api.records()
    job = _bulk1_job(api, version="62.0")
    csv_body = f"Id,Tweets__c\n{ids[0]},1\n"
    resp = api.bulk1("POST", f"/job/{job}/batch", body=csv_body, content_type="text/csv", version="61.0")
    assert resp.status_code == 400
    code, message = _bulk1_error(resp)
    assert code == "InvalidBatch" and "61.0" in message and "62.0" in message
    listed = api.bulk1("GET", f"/job/{job}/batch", version="61.0")
    assert listed.status_code == 400 and _bulk1_error(listed)[0] == "InvalidBatch"
    usage = api.org.admin.usage()
    assert usage["DailyBulkApiBatches"]["used"] == 0  # refused before a batch was created
    assert api.records() == before
    # The job itself is fine at its own version.
    ok = api.bulk1("POST", f"/job/{job}/batch", body=csv_body, content_type="text/csv", version="62.0")
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    "job_type, body_type",
    [("CSV", "application/xml"), ("CSV", "application/json"), ("JSON", "text/csv"), ("XML", "application/json")],
)
def test_bulk1_batch_content_type_must_match_the_job(api, seeded, job_type, body_type):
    ids = seeded(1)
    before = api.records()
    job = _bulk1_job(api, content_type=job_type)
    bodies = {
        "text/csv": f"Id,Tweets__c\n{ids[0]},1\n",
        "application/json": json.dumps([{"Id": ids[0], "Tweets__c": 1}]),
        "application/xml": f'<sObjects xmlns="{BULK_NS}"><sObject><Id>{ids[0]}</Id><Tweets__c>1</Tweets__c></sObject></sObjects>',
    }
    resp = api.bulk1("POST", f"/job/{job}/batch", body=bodies[body_type], content_type=body_type)
    assert resp.status_code == 400
    if job_type == "JSON":
        assert resp.json()["exceptionCode"] == "InvalidBatch"  # a JSON job answers in JSON
    else:
        assert _bulk1_error(resp)[0] == "InvalidBatch"
    assert api.records() == before


def test_bulk1_wrong_methods_are_405_and_unknown_urls_404(api):
    job = _bulk1_job(api)
    for method, path, status in (
        ("PATCH", f"/job/{job}", 405),
        ("DELETE", f"/job/{job}/batch", 405),
        ("POST", f"/job/{job}/batch/751000000000000AAA", 405),
        ("GET", "/jobs", 404),
        ("POST", "/job/extra/parts/here", 404),
    ):
        resp = api.bulk1(method, path)
        assert resp.status_code == status, (method, path, resp.text)
        assert _bulk1_error(resp)[0] == "InvalidUrl"
    as_json = api.bulk1("PUT", "/job", content_type="application/json")
    assert as_json.status_code == 405 and as_json.json()["exceptionCode"] == "InvalidUrl"


# -- Bulk API 2.0 ---------------------------------------------------------------------------------------
def _bulk2_job(api) -> str:
    resp = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def test_bulk2_upload_must_be_csv(api, seeded, wait):
    ids = seeded(1)
    before = api.records()
    job = _bulk2_job(api)
    data = f"Id,Tweets__c\n{ids[0]},8\n"
    for content_type in ("application/json", "text/plain", None):
        headers = {"Content-Type": content_type} if content_type else {}
        resp = api.bulk2("PUT", f"/ingest/{job}/batches", data=data.encode(), headers=headers)
        assert resp.status_code == 415, resp.text
        assert resp.json() == [
            {"errorCode": "UNSUPPORTED_MEDIA_TYPE", "message": NOT_SUPPORTED + (content_type or "none")}
        ]
    assert api.records() == before
    # The refused uploads left the job Open and empty: a correct upload still goes through.
    assert (
        api.bulk2("PUT", f"/ingest/{job}/batches", data=data.encode(), headers={"Content-Type": "text/csv"}).status_code
        == 201
    )
    api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"})
    info = wait(lambda: (i := api.bulk2("GET", f"/ingest/{job}").json())["state"] == "JobComplete" and i)
    assert info["numberRecordsProcessed"] == 1 and api.records()[ids[0]]["Tweets__c"] == 8


def test_bulk2_job_documents_must_be_json(api):
    body = json.dumps({"object": "Byline__c", "operation": "update"})
    jobs_before = api.org.admin.jobs()["bulk2_ingest"]
    resp = api.bulk2("POST", "/ingest", data=body, headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415 and resp.json()[0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"
    assert api.org.admin.jobs()["bulk2_ingest"] == jobs_before
    job = _bulk2_job(api)
    close = api.bulk2(
        "PATCH", f"/ingest/{job}", data=json.dumps({"state": "Aborted"}), headers={"Content-Type": "application/xml"}
    )
    assert close.status_code == 415
    assert api.bulk2("GET", f"/ingest/{job}").json()["state"] == "Open"


def test_bulk2_wrong_methods_and_unknown_urls_get_json_errors(api):
    job = _bulk2_job(api)
    for method, path in (
        ("POST", f"/ingest/{job}"),
        ("PUT", "/ingest"),
        ("POST", f"/ingest/{job}/batches"),
        ("DELETE", f"/ingest/{job}/successfulResults"),
        ("PUT", "/query"),
    ):
        resp = api.bulk2(method, path)
        assert resp.status_code == 405, (method, path, resp.text)
        err = resp.json()
        assert err[0]["errorCode"] == "METHOD_NOT_ALLOWED" and f"'{method}'" in err[0]["message"]
        assert "Sforce-Limit-Info" in resp.headers
    for path in (f"/ingest/{job}/nothing", "/nothing", ""):
        resp = api.bulk2("GET", path)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json() == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    # An ingest job is not a query job.
    assert api.bulk2("GET", f"/query/{job}").json()[0]["errorCode"] == "NOT_FOUND"
    assert api.bulk2("GET", f"/ingest/{job}").json()["state"] == "Open"


def test_bulk2_a_finished_job_takes_no_more_data_or_state_changes(api, seeded, wait):
    ids = seeded(1)
    job = _bulk2_job(api)
    api.bulk2(
        "PUT",
        f"/ingest/{job}/batches",
        data=f"Id,Tweets__c\n{ids[0]},3\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"})
    wait(lambda: api.bulk2("GET", f"/ingest/{job}").json()["state"] == "JobComplete")
    before = api.records()
    late = api.bulk2(
        "PUT",
        f"/ingest/{job}/batches",
        data=f"Id,Tweets__c\n{ids[0]},4\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert late.status_code == 400 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    for state in ("UploadComplete", "Aborted", "Open"):
        resp = api.bulk2("PATCH", f"/ingest/{job}", json={"state": state})
        assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "INVALIDJOBSTATE", state
    assert api.bulk2("GET", f"/ingest/{job}").json()["state"] == "JobComplete"
    assert api.records() == before


def test_bulk2_resources_do_not_exist_before_their_api_version(api):
    jobs_before = api.org.admin.jobs()
    ingest = api.bulk2("POST", "/ingest", version="v40.0", json={"object": "Byline__c", "operation": "update"})
    query = api.bulk2(
        "POST", "/query", version="v46.0", json={"operation": "query", "query": "SELECT Id FROM Byline__c"}
    )
    for resp in (ingest, query):
        assert resp.status_code == 404
        assert resp.json() == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert api.org.admin.jobs() == jobs_before
    assert api.bulk2("GET", "/ingest", version="v41.0").status_code == 200
    assert api.bulk2("GET", "/query", version="v47.0").status_code == 200


@pytest.mark.parametrize(
    "path, params",
    [
        ("/query", {"q": "SELECT Id FROM Byline__c", "columns": "maybe"}),
        ("/jobs/ingest", {"queryLocator": "not-a-number"}),
        ("/jobs/ingest", {"queryLocator": "-5"}),
    ],
    ids=["columns", "queryLocator", "negative-queryLocator"],
)
def test_a_query_parameter_value_a_resource_cannot_use_is_refused(api, seeded, path, params):
    seeded(2)
    before = api.records()
    resp = api.rest("GET", path, params=params)
    assert resp.status_code == 400, resp.text
    error = resp.json()[0]
    assert (
        error["errorCode"] == "ILLEGAL_QUERY_PARAMETER_VALUE" and next(iter(params.keys() - {"q"})) in error["message"]
    )
    assert api.records() == before


def test_bulk2_query_results_refuse_a_page_size_they_cannot_use(api, seeded, wait):
    seeded(3)
    job = api.bulk2("POST", "/query", json={"operation": "query", "query": "SELECT Id FROM Byline__c"}).json()["id"]
    wait(lambda: api.bulk2("GET", f"/query/{job}").json()["state"] == "JobComplete")
    for value in ("0", "ten", "-1"):
        resp = api.bulk2("GET", f"/query/{job}/results", params={"maxRecords": value})
        assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "ILLEGAL_QUERY_PARAMETER_VALUE", value
    page = api.bulk2("GET", f"/query/{job}/results", params={"maxRecords": "2"})
    assert page.status_code == 200 and page.headers["Sforce-NumberOfRecords"] == "2"


def test_query_parameters_a_resource_does_not_read_are_ignored(api, seeded):
    """The emulator's choice where no source says otherwise: an unknown parameter changes nothing about the call."""
    rid = seeded(1)[0]
    assert api.rest("GET", "/query", params={"q": "SELECT Id FROM Byline__c", "nonsense": "1"}).json()["totalSize"] == 1
    assert api.rest("PATCH", _row(rid), params={"nonsense": "1"}, json={"Tweets__c": 5}).status_code == 204
    assert api.records()[rid]["Tweets__c"] == 5
