"""Every refused request as the wire response of its API family: the emulator's one error path.

Models and routes only raise (`emulator.errors`); this module alone turns an exception into a response.
The Starlette app sends every exception to `handle` (api/app.py); `RestApp`, the gate and Composite
subrequests, which run outside Starlette, call `error_response` / `rest_body` themselves. The request
path decides the family (`common.classify`), and the family decides the body:

| family | body |
|---|---|
| REST, Composite, versions, identity | `[{"message", "errorCode", "fields"?}]` |
| Bulk 2.0 | `[{"errorCode", "message"}]` |
| Bulk 1.0 | `<error><exceptionCode/><exceptionMessage/></error>`, or its JSON twin for JSON jobs and requests |
| OAuth (`OAuthError`, any path) | `{"error", "error_description"}` |
| SOAP login | a SOAP fault, HTTP 500 as SOAP 1.1 requires |
| admin (`/_emulator`) | `{"error", "message"}`, 400: malformed control requests included |

Anything that is not a `SalesforceError` (a bug) is answered as the family's 500 UNKNOWN_EXCEPTION, so a
client sees what Salesforce's own failures look like; its traceback is logged where it was caught
(`handle`, uvicorn or `RestApp`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..constants import BULK1_NS
from ..errors import InternalError, InvalidLogin, MethodNotAllowed, NotFound, OAuthError, SalesforceError
from .common import NO_ATTRIBUTES, XSI, classify, json_response, soap_response, text_element, xml_response

log = logging.getLogger(__name__)

FAULT_NS = "urn:fault.partner.soap.sforce.com"

#: What a malformed control request raises in the admin API (a missing key, a value of the wrong type):
#: bad input from the caller there, where in any other family it is a bug.
ADMIN_INPUT_ERRORS = (ValueError, KeyError, TypeError)

#: The classes `handle` is registered for one by one, which Starlette answers in place. It also takes
#: `Exception` (every other bug), but that from its outermost middleware, which re-raises the error
#: after the answer: uvicorn logs it and closes the connection. Registering the admin input errors here
#: keeps a malformed control request from closing the caller's keep-alive connection.
ANSWERED_IN_PLACE = (SalesforceError, OAuthError, HTTPException, *ADMIN_INPUT_ERRORS)

_UNEXPECTED = "An unexpected error occurred in the emulator; its log has the details."


def error_response(
    exc: Exception, method: str, path: str, headers: Mapping[str, str], *, bulk1_job_json: bool | None = None
) -> Response:
    """`exc` as the response of the API family `path` belongs to.

    `headers` are the request's (lower-case names); `bulk1_job_json` is the format of the Bulk 1.0 job
    the request addresses, when it addresses an existing one (None otherwise).
    """
    family = classify(path)
    if isinstance(exc, HTTPException):
        if family not in ("versions", "bulk1", "bulk2"):
            return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)
        exc = _routing_error(family, exc, method, path)
    if isinstance(exc, OAuthError):
        return json_response({"error": exc.error, "error_description": exc.description}, status=exc.status)
    if family == "admin" and isinstance(exc, (SalesforceError, *ADMIN_INPUT_ERRORS)):
        return json_response({"error": type(exc).__name__, "message": str(exc)}, status=400)
    if not isinstance(exc, SalesforceError):
        exc = InternalError(_UNEXPECTED)
    if family == "bulk1":
        as_json = bulk1_job_json if bulk1_job_json is not None else _speaks_json(headers)
        return _bulk1_error(exc, as_json=as_json)
    if family == "bulk2":
        return json_response([{"errorCode": exc.code, "message": exc.message}], status=exc.status)
    if family == "login" and path.startswith("/services/Soap/"):
        return _soap_fault(exc)
    if family == "admin":
        return json_response({"error": type(exc).__name__, "message": exc.message}, status=exc.status)
    return json_response(rest_body(exc), status=exc.status)


async def handle(request: Request, exc: Exception) -> Response:
    """The Starlette exception handler: every route's errors go through `error_response`.

    A bug Starlette answers in place (a ValueError outside the admin API) is logged here, with its
    traceback; any other bug is logged by uvicorn, to which Starlette re-raises it.
    """
    expected = isinstance(exc, (SalesforceError, OAuthError, HTTPException))
    if not expected and isinstance(exc, ADMIN_INPUT_ERRORS) and classify(request.url.path) != "admin":
        log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    job_json = _bulk1_job_json(request)
    return error_response(exc, request.method, request.url.path, request.headers, bulk1_job_json=job_json)


def rest_item(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    """One error of a REST-framework error array (fields only when there are some)."""
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields:
        item["fields"] = fields
    return item


def rest_body(err: SalesforceError) -> list[dict[str, Any]]:
    """The REST and Composite error body: also each failed Composite subrequest's body."""
    return [rest_item(err.code, err.message, err.fields)]


def _speaks_json(headers: Mapping[str, str]) -> bool:
    """Bulk 1.0 answers in JSON when the request speaks JSON (its Content-Type or Accept), else in XML."""
    return "json" in (headers.get("content-type") or "").lower() or "json" in (headers.get("accept") or "").lower()


def _bulk1_job_json(request: Request) -> bool | None:
    """Bulk 1.0 errors about an existing job use the job's format, whatever the request's headers."""
    job_id = request.path_params.get("job_id")
    if not job_id or classify(request.url.path) != "bulk1":
        return None
    job = request.app.state.org.bulk1.jobs.get(job_id)
    return None if job is None else job.content_type == "JSON"


def _bulk1_error(err: SalesforceError, *, as_json: bool) -> Response:
    status = err.async_status or err.status
    if status >= 500 and err.async_code not in ("InternalServerError", "Timeout"):
        status = 400
    if as_json:
        return json_response({"exceptionCode": err.async_code, "exceptionMessage": err.message}, status=status)

    def write(x: XMLGenerator) -> None:
        x.startElement("error", AttributesImpl({"xmlns": BULK1_NS}))
        text_element(x, "exceptionCode", err.async_code)
        text_element(x, "exceptionMessage", err.message)
        x.endElement("error")

    return xml_response(write, status=status)


def _soap_fault(err: SalesforceError) -> Response:
    """A SOAP 1.1 fault (always HTTP 500); a refused login carries the `LoginFault` detail clients read."""
    login_fault = isinstance(err, InvalidLogin)
    if login_fault:
        faultcode = f"sf:{err.code}"
    else:
        faultcode = "soapenv:Client" if err.status < 500 else "soapenv:Server"

    def write(x: XMLGenerator) -> None:
        x.startElement("soapenv:Fault", NO_ATTRIBUTES)
        text_element(x, "faultcode", faultcode)
        text_element(x, "faultstring", err.message)
        if login_fault:
            x.startElement("detail", NO_ATTRIBUTES)
            x.startElement("sf:LoginFault", AttributesImpl({"xsi:type": "sf:LoginFault"}))
            text_element(x, "sf:exceptionCode", err.code)
            text_element(x, "sf:exceptionMessage", err.message.split(": ", 1)[-1])
            x.endElement("sf:LoginFault")
            x.endElement("detail")
        x.endElement("soapenv:Fault")

    return soap_response({"xmlns:sf": FAULT_NS, "xmlns:xsi": XSI}, write, status=500)


def _routing_error(family: str, exc: HTTPException, method: str, path: str) -> SalesforceError:
    """Starlette's "no route" (404) and "wrong method" (405) as the family's error.

    Bulk 1.0 documents HTTP 405 for any method other than GET or POST, whatever the URI.
    """
    if exc.status_code == 405 or (family == "bulk1" and method not in ("GET", "POST")):
        allow = (exc.headers or {}).get("Allow", "") if exc.status_code == 405 else "GET, POST"
        allowed = ", ".join(sorted(m.strip() for m in allow.split(",") if m.strip() not in ("", "HEAD")))
        prefix = "InvalidUrl : " if family == "bulk1" else ""
        return MethodNotAllowed(f"{prefix}HTTP Method '{method}' not allowed. Allowed are {allowed}")
    if family == "bulk1":
        return NotFound(f"InvalidUrl : {method} {path} is not a Bulk API resource")
    return NotFound("The requested resource does not exist")
