"""Hostile request bodies get each family's documented bad-input error, change nothing, and count as usual.

A deeply nested JSON body, an XML entity bomb ("billion laughs") and an external-entity (XXE) document
used to crash the emulator (500). Each is now refused like any malformed body of its family: same
status and error code, no stored change, and the usage counters move exactly as they do for a control
request with a plainly malformed body sent to the same resource (one API request for REST, Composite
and the Bulk APIs, plus the Bulk 1.0 batch allocation for an add-batch request; nothing for login).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import requests
from defusedxml.ElementTree import fromstring

from emulator.client_documents import JSON_MAX_DEPTH

from .conftest import BULK_NS, V, job_xml

#: Deeper than Python's recursion limit: the decoder itself gives up.
TOO_DEEP_TO_DECODE = "[" * 100_000 + "]" * 100_000
#: Decodable, but deeper than the emulator reads (Composite's resolver used to overflow on such a body).
DEEP_BUT_DECODABLE = "[" * 960 + "]" * 960
JUST_TOO_DEEP = "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH  # one level more inside any object or array
DEEP_JSON = {"undecodable": TOO_DEEP_TO_DECODE, "decodable": DEEP_BUT_DECODABLE, "limit + 1": JUST_TOO_DEEP}

_LAUGHS = "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
BOMB_DTD = f'<!DOCTYPE lolz [<!ENTITY lol0 "lol">{_LAUGHS}]>'
XXE_DTD = '<!DOCTYPE doc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
HOSTILE_XML = {"entity bomb": (BOMB_DTD, "&lol9;"), "XXE": (XXE_DTD, "&xxe;")}
XML = {"Content-Type": "application/xml; charset=UTF-8"}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

Send = Callable[[], requests.Response]


def _xml(dtd: str, root: str) -> str:
    """A document whose prolog holds `dtd`, then the root element `root` (which may use its entities)."""
    return f'<?xml version="1.0" encoding="UTF-8"?>{dtd}{root}'


def _counters(api) -> dict[str, Any]:
    usage = api.org.admin.usage()
    used = {name: value["used"] for name, value in usage.items() if isinstance(value, dict) and "used" in value}
    return {**used, "by_family": usage["by_family"], "by_endpoint": usage["by_endpoint"]}


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            out[key] = {k: v - before[key].get(k, 0) for k, v in value.items() if v != before[key].get(k, 0)}
        else:
            out[key] = value - before[key]
    return out


def _counted(api, send: Send) -> tuple[requests.Response, dict[str, Any]]:
    """The response of `send()` and how it moved every usage counter."""
    before = _counters(api)
    resp = send()
    return resp, _delta(before, _counters(api))


def _json_request(api, method: str, path: str, body: str) -> Send:
    """A REST-framework request (REST, Composite, Bulk 2.0) with a JSON body, ready to send."""
    return partial(api.rest, method, path, data=body.encode(), headers={"Content-Type": "application/json"})


def _assert_refused_like_control(
    api, hostile: Send, control: Send, status: int, api_requests: int
) -> tuple[requests.Response, requests.Response]:
    """Both refused with `status`; the hostile request moved every counter exactly as the control did."""
    refused, moved = _counted(api, hostile)
    plain, control_moved = _counted(api, control)
    assert refused.status_code == status, refused.text[:300]
    assert plain.status_code == status, plain.text[:300]
    assert moved == control_moved
    assert moved["DailyApiRequests"] == api_requests
    return refused, plain


def _stored(api) -> dict[str, dict]:
    return api.records()


# -- REST: one sObject row ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(DEEP_JSON))
def test_rest_row_deep_json_is_json_parser_error(api, seeded, kind):
    rid = seeded(1)[0]
    before = _stored(api)
    body = '{"Tweets__c": ' + DEEP_JSON[kind] + "}"
    for method, path in (("PATCH", f"/sobjects/Byline__c/{rid}"), ("POST", "/sobjects/Byline__c")):
        refused, _ = _assert_refused_like_control(
            api,
            _json_request(api, method, path, body),
            _json_request(api, method, path, '{"Tweets__c": '),
            status=400,
            api_requests=1,
        )
        assert refused.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert _stored(api) == before


def test_a_body_nested_to_the_limit_is_read(api, seeded):
    rid = seeded(1)[0]
    at_limit = "[" * (JSON_MAX_DEPTH - 1) + "]" * (JSON_MAX_DEPTH - 1)  # with the object around it: the limit
    resp = api.rest(
        "PATCH",
        f"/sobjects/Byline__c/{rid}",
        data=('{"No_Such__c": ' + at_limit + "}").encode(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "INVALID_FIELD"  # decoded, then checked


@pytest.mark.parametrize("kind", list(HOSTILE_XML))
def test_rest_row_hostile_xml_is_invalid_xml(api, seeded, kind):
    rid = seeded(1)[0]
    before = _stored(api)
    dtd, entity = HOSTILE_XML[kind]
    body = _xml(dtd, f"<Byline__c><Name>{entity}</Name></Byline__c>")
    for method, path in (("PATCH", f"/sobjects/Byline__c/{rid}"), ("POST", "/sobjects/Byline__c")):
        refused, _ = _assert_refused_like_control(
            api,
            partial(api.rest, method, path, data=body.encode(), headers=XML),
            partial(api.rest, method, path, data=b"<Byline__c><Name>x</Name>", headers=XML),
            status=400,
            api_requests=1,
        )
        assert refused.json()[0]["errorCode"] == "INVALID_XML"
        assert "root:" not in refused.text  # the external file was never read
    assert _stored(api) == before


# -- sObject Collections and Composite ------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(DEEP_JSON))
def test_collections_deep_json_is_json_parser_error(api, seeded, kind):
    ids = seeded(2)
    before = _stored(api)
    record = '{"attributes": {"type": "Byline__c"}, "Id": "%s", "Tweets__c": %s}'
    records = [record % (ids[0], "1"), record % (ids[1], DEEP_JSON[kind])]
    body = '{"allOrNone": false, "records": [' + ", ".join(records) + "]}"
    refused, _ = _assert_refused_like_control(
        api,
        _json_request(api, "PATCH", "/composite/sobjects", body),
        _json_request(api, "PATCH", "/composite/sobjects", body[:40]),
        status=400,
        api_requests=1,
    )
    assert refused.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert _stored(api) == before  # not even the well-formed first record was written


@pytest.mark.parametrize("kind", list(DEEP_JSON))
def test_composite_deep_json_is_json_parser_error(api, seeded, kind):
    ids = seeded(1)
    before = _stored(api)
    sub = '{"method": "PATCH", "url": "/services/data/%s/sobjects/Byline__c/%s", "referenceId": "r%d", "body": %s}'
    body = (
        '{"allOrNone": false, "compositeRequest": ['
        + sub % (V, ids[0], 1, '{"Tweets__c": 5}')
        + ", "
        + sub % (V, ids[0], 2, DEEP_JSON[kind])
        + "]}"
    )
    refused, _ = _assert_refused_like_control(
        api,
        _json_request(api, "POST", "/composite", body),
        _json_request(api, "POST", "/composite", body[:60]),
        status=400,
        api_requests=1,
    )
    assert refused.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert _stored(api) == before


# -- Bulk API 1.0 ---------------------------------------------------------------------------------------
def _bulk1_error(resp: requests.Response) -> str:
    root = fromstring(resp.content)
    assert root.tag == f"{{{BULK_NS}}}error", resp.text
    return root.find(f"{{{BULK_NS}}}exceptionCode").text


@pytest.mark.parametrize("kind", list(HOSTILE_XML))
def test_bulk1_hostile_job_document_is_invalid_xml(api, kind):
    jobs_before = api.org.admin.jobs()["bulk1"]
    dtd, entity = HOSTILE_XML[kind]
    body = _xml(
        dtd,
        f'<jobInfo xmlns="{BULK_NS}"><operation>update</operation><object>{entity}</object>'
        "<contentType>XML</contentType></jobInfo>",
    )
    refused, plain = _assert_refused_like_control(
        api,
        lambda: api.bulk1("POST", "/job", body=body.encode()),
        lambda: api.bulk1("POST", "/job", body=b"<jobInfo><unclosed>"),
        status=400,
        api_requests=1,
    )
    assert _bulk1_error(refused) == _bulk1_error(plain) == "InvalidXML"
    assert "root:" not in refused.text
    assert api.org.admin.jobs()["bulk1"] == jobs_before


@pytest.mark.parametrize("kind", list(DEEP_JSON))
def test_bulk1_deep_json_job_document_is_client_input_error(api, kind):
    jobs_before = api.org.admin.jobs()["bulk1"]
    body = '{"operation": "update", "object": "Byline__c", "contentType": "JSON", "extra": ' + DEEP_JSON[kind] + "}"
    refused, _ = _assert_refused_like_control(
        api,
        lambda: api.bulk1("POST", "/job", body=body.encode(), content_type="application/json"),
        lambda: api.bulk1("POST", "/job", body=b'{"operation": ', content_type="application/json"),
        status=400,
        api_requests=1,
    )
    assert refused.json()["exceptionCode"] == "ClientInputError"
    assert api.org.admin.jobs()["bulk1"] == jobs_before


@pytest.mark.parametrize("kind", list(HOSTILE_XML))
def test_bulk1_hostile_xml_batch_is_refused_and_counted_like_a_malformed_batch(api, seeded, kind):
    ids = seeded(1)
    before = _stored(api)
    created = api.bulk1("POST", "/job", body=job_xml(content_type="XML"))
    job = fromstring(created.content).find(f"{{{BULK_NS}}}id").text
    dtd, entity = HOSTILE_XML[kind]
    record = f"<sObject><Id>{ids[0]}</Id><Name>{entity}</Name></sObject>"
    batch = _xml(dtd, f'<sObjects xmlns="{BULK_NS}">{record}</sObjects>')
    malformed = f'<sObjects xmlns="{BULK_NS}"><sObject><Id>{ids[0]}</Id>'
    refused, plain = _assert_refused_like_control(
        api,
        lambda: api.bulk1("POST", f"/job/{job}/batch", body=batch.encode()),
        lambda: api.bulk1("POST", f"/job/{job}/batch", body=malformed.encode()),
        status=400,
        api_requests=1,
    )
    assert _bulk1_error(refused) == _bulk1_error(plain) == "InvalidBatch"
    listed = api.bulk1("GET", f"/job/{job}/batch")
    assert f"{{{BULK_NS}}}batchInfo" not in {child.tag for child in fromstring(listed.content)}  # no batch was created
    assert _stored(api) == before


# -- Bulk API 2.0 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(DEEP_JSON))
def test_bulk2_deep_json_job_document_is_json_parser_error(api, kind):
    jobs_before = api.org.admin.jobs()["bulk2_ingest"]
    body = '{"object": "Byline__c", "operation": "update", "extra": ' + DEEP_JSON[kind] + "}"
    refused, _ = _assert_refused_like_control(
        api,
        _json_request(api, "POST", "/jobs/ingest", body),
        _json_request(api, "POST", "/jobs/ingest", '{"object": '),
        status=400,
        api_requests=1,
    )
    assert refused.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert api.org.admin.jobs()["bulk2_ingest"] == jobs_before


# -- SOAP login -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(HOSTILE_XML))
def test_soap_login_hostile_xml_is_a_client_fault(api, org, kind):
    """A SOAP fault is HTTP 500 (SOAP 1.1 binding), as for a malformed envelope; login is never counted."""
    dtd, entity = HOSTILE_XML[kind]
    envelope = (
        f'<env:Envelope xmlns:env="{SOAP_ENV}"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{entity}</n1:username><n1:password>{org.password}</n1:password></n1:login></env:Body>"
        "</env:Envelope>"
    )
    plain = requests.Session()
    plain.trust_env = False

    def post(body: bytes) -> requests.Response:
        return plain.post(
            f"{org.login_url}/services/Soap/u/62.0",
            data=body,
            verify=org.verify,
            headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        )

    before = _stored(api)
    refused, malformed = _assert_refused_like_control(
        api, lambda: post(_xml(dtd, envelope).encode()), lambda: post(b"<env:Envelope>"), status=500, api_requests=0
    )
    for resp in (refused, malformed):
        fault = fromstring(resp.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
        assert fault.find("faultcode").text == "soapenv:Client"
    assert "root:" not in refused.text
    assert _stored(api) == before
