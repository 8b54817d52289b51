"""Helpers every API family's routes share: versions, request bodies, error rendering per family."""

from __future__ import annotations

import io
import json
import re
from typing import Any
from xml.sax.saxutils import XMLGenerator

from starlette.requests import Request
from starlette.responses import Response

from ..constants import BULK1_NS, MAX_API_VERSION
from ..errors import (
    JsonParserError,
    OAuthError,
    SalesforceError,
    UnsupportedApiVersion,
    UnsupportedMediaType,
)

#: Oldest version the emulator serves. REST features check their own minimum (Collections: 42.0).
OLDEST_VERSION = 20.0
_VERSION_RE = re.compile(r"^v?(\d{2})\.0$")

JSON_TYPE = "application/json;charset=UTF-8"
XML_TYPE = "application/xml"


def api_version(text: str) -> float:
    m = _VERSION_RE.match(text)
    if not m or not (OLDEST_VERSION <= float(m.group(1)) <= MAX_API_VERSION):
        raise UnsupportedApiVersion("The requested resource does not exist")
    return float(m.group(1))


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def media_type(content_type: str | None) -> str:
    """`application/json; charset=UTF-8` -> `application/json` ("" when there is no Content-Type)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def body_format(content_type: str | None, *, xml: bool = False) -> str:
    """"json" or "xml": how the REST framework (REST and Bulk 2.0 job documents) reads a request body.

    Salesforce documents Content-Type as optional, with application/json or application/xml as the
    choices; a missing header therefore means JSON here. Any other type is refused before the body is
    read, with 415 UNSUPPORTED_MEDIA_TYPE "Content-Type header specified in HTTP request is not
    supported: <type>" (the code and message are what Salesforce is reported to answer, UNCONFIRMED in
    the fact sheet), so a JSON-looking body sent as text/plain never changes data. `xml` says whether
    the resource takes XML (sObject rows do; Bulk 2.0 job documents are JSON only).
    """
    media = media_type(content_type)
    if media in ("", "application/json"):
        return "json"
    if xml and media == "application/xml":
        return "xml"
    raise UnsupportedMediaType(f"Content-Type header specified in HTTP request is not supported: {media}")


async def read_json(request: Request) -> Any:
    """The JSON body of a REST-framework request (Bulk 2.0 job documents, the admin API)."""
    body_format(request.headers.get("content-type"))
    raw = await request.body()
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise JsonParserError("The request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise JsonParserError(f"Unexpected character in JSON: {err}") from None


def batch_retry_disabled(request: Request) -> bool:
    """`Sforce-Disable-Batch-Retry: TRUE` on a job-creation request: its batches are not retried after
    their time limit (fact sheet 2.2; documented for Bulk 1.0, taken to apply to Bulk 2.0 alike)."""
    return request.headers.get("sforce-disable-batch-retry", "").strip().lower() == "true"


def rest_error(err: SalesforceError) -> Response:
    return json_response(err.rest_body(), status=err.status)


def bulk2_error(err: SalesforceError) -> Response:
    return json_response([{"errorCode": err.code, "message": err.message}], status=err.status)


def bulk1_error(err: SalesforceError, *, json_format: bool = False) -> Response:
    status = err.async_status or err.status
    if status >= 500 and err.async_code not in ("InternalServerError", "Timeout"):
        status = 400
    if json_format:
        return json_response({"exceptionCode": err.async_code, "exceptionMessage": err.message}, status=status)
    buf = io.StringIO()
    x = XMLGenerator(buf, encoding="UTF-8")
    x.startDocument()
    x.startElement("error", {"xmlns": BULK1_NS})
    for name, text in (("exceptionCode", err.async_code), ("exceptionMessage", err.message)):
        x.startElement(name, {})
        x.characters(text)
        x.endElement(name)
    x.endElement("error")
    x.endDocument()
    return Response(buf.getvalue().encode("utf-8"), status_code=status, media_type=XML_TYPE)


def family_error(family: str, err: SalesforceError, content_type: str | None, accept: str | None) -> Response:
    """`err` in the wire format of the API family a request belongs to (see gate.classify).

    Bulk 1.0 answers in JSON when the request speaks JSON (its Content-Type or Accept), else in XML.
    """
    if family == "bulk1":
        return bulk1_error(err, json_format="json" in (content_type or "").lower() or "json" in (accept or "").lower())
    if family == "bulk2":
        return bulk2_error(err)
    return rest_error(err)


def oauth_error(err: OAuthError) -> Response:
    return json_response({"error": err.error, "error_description": err.description}, status=err.status)


def with_and_without_slash(routes: list) -> list:
    """Serve `/path` and `/path/` alike: clients differ, and a redirect would cost an extra API call."""
    from starlette.routing import Route

    out = []
    for r in routes:
        out.append(r)
        out.append(Route(r.path + "/", r.endpoint, methods=[m for m in (r.methods or []) if m != "HEAD"]))
    return out
