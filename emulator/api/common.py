"""Helpers every API family's routes share: the family of a path, versions, request bodies, JSON responses."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from starlette.requests import Request
from starlette.responses import Response

from ..client_documents import NestingTooDeep, load_json
from ..constants import MAX_API_VERSION
from ..errors import (
    IllegalQueryParameterValue,
    JsonParserError,
    UnsupportedApiVersion,
    UnsupportedMediaType,
)

#: Oldest version the emulator serves. REST features check their own minimum (Collections: 42.0).
OLDEST_VERSION = 20.0
_VERSION_RE = re.compile(r"^v?(\d{2})\.0$")

JSON_TYPE = "application/json;charset=UTF-8"
XML_TYPE = "application/xml"

_BULK2 = re.compile(r"^/services/data/[^/]+/jobs(?:/|$)")


def classify(path: str) -> str:
    """The API family of a request path: what counts it, who may call it, how its errors look."""
    if path.startswith("/services/data"):
        if path in ("/services/data", "/services/data/"):
            return "versions"
        if _BULK2.match(path):
            return "bulk2"
        return "rest"
    if path.startswith("/services/async/"):
        return "bulk1"
    if path.startswith(("/services/oauth2/", "/services/Soap/")):
        return "login"
    if path.startswith("/id/"):
        return "identity"
    if path.startswith("/_emulator"):
        return "admin"
    return "other"


def api_version(text: str) -> float:
    m = _VERSION_RE.match(text)
    if not m or not (OLDEST_VERSION <= float(m.group(1)) <= MAX_API_VERSION):
        raise UnsupportedApiVersion("The requested resource does not exist")
    return float(m.group(1))


def flag_param(name: str, raw: str | None) -> bool:
    """A true/false query parameter; any other value is 400 ILLEGAL_QUERY_PARAMETER_VALUE (the code Salesforce
    gives for a query parameter value it cannot use, restforce issue #602). Parameters a resource does not
    read are ignored, as they are by Salesforce's resources (UNCONFIRMED: no source says either way)."""
    value = (raw or "false").strip().lower()
    if value not in ("true", "false"):
        raise IllegalQueryParameterValue(f"Illegal value for query parameter '{name}': {raw}")
    return value == "true"


def count_param(name: str, raw: str | None, default: int, minimum: int) -> int:
    """A whole-number query parameter of at least `minimum`; anything else is 400 ILLEGAL_QUERY_PARAMETER_VALUE."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise IllegalQueryParameterValue(
            f"Illegal value for query parameter '{name}': {raw} (a whole number of at least {minimum})"
        )
    return value


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def media_type(content_type: str | None) -> str:
    """`application/json; charset=UTF-8` -> `application/json` ("" when there is no Content-Type)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def body_format(content_type: str | None, *, xml: bool = False) -> str:
    """ "json" or "xml": how the REST framework (REST and Bulk 2.0 job documents) reads a request body.

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


async def spool(request: Request, path: str) -> int:
    """Stream the request body into the file `path` and return its size; no file is left if the body fails.

    A body fails when the client goes away or a compressed body does not decompress (the error is re-raised
    for the route to render).
    """
    size = 0
    try:
        with open(path, "wb") as fh:  # small blocking writes between awaited chunks
            async for block in request.stream():
                size += len(block)
                fh.write(block)
    except BaseException:
        os.remove(path)
        raise
    return size


def parse_json(raw: bytes) -> Any:
    """A REST-framework JSON body; malformed, empty or too deeply nested is 400 JSON_PARSER_ERROR."""
    if not raw.strip():
        raise JsonParserError("The request body is empty")
    try:
        return load_json(raw)
    except NestingTooDeep as err:
        raise JsonParserError(str(err)) from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise JsonParserError(f"Unexpected character in JSON: {err}") from None


SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_TYPE = "text/xml; charset=utf-8"
NO_ATTRIBUTES = AttributesImpl({})


def batch_retry_disabled(request: Request) -> bool:
    """`Sforce-Disable-Batch-Retry: TRUE` on a job-creation request: its batches are not retried after
    their time limit (fact sheet 2.2; documented for Bulk 1.0, taken to apply to Bulk 2.0 alike)."""
    return request.headers.get("sforce-disable-batch-retry", "").strip().lower() == "true"


def xml_response(write: Callable[[XMLGenerator], None], *, status: int = 200, media_type: str = XML_TYPE) -> Response:
    """An XML document written by `write` (through the serializer, so every value is escaped)."""
    buf = io.StringIO()
    x = XMLGenerator(buf, encoding="UTF-8")
    x.startDocument()
    write(x)
    x.endDocument()
    return Response(buf.getvalue().encode("utf-8"), status_code=status, media_type=media_type)


def soap_response(
    namespaces: dict[str, str], write_body: Callable[[XMLGenerator], None], *, status: int = 200
) -> Response:
    """A SOAP 1.1 envelope around what `write_body` writes: login's answer, and every SOAP fault."""

    def write(x: XMLGenerator) -> None:
        x.startElement("soapenv:Envelope", AttributesImpl({"xmlns:soapenv": SOAP_ENV, **namespaces}))
        x.startElement("soapenv:Body", NO_ATTRIBUTES)
        write_body(x)
        x.endElement("soapenv:Body")
        x.endElement("soapenv:Envelope")

    return xml_response(write, status=status, media_type=SOAP_TYPE)


def text_element(x: XMLGenerator, name: str, text: str) -> None:
    """`<name>text</name>`."""
    x.startElement(name, NO_ATTRIBUTES)
    x.characters(text)
    x.endElement(name)


def with_and_without_slash(routes: list) -> list:
    """Serve `/path` and `/path/` alike: clients differ, and a redirect would cost an extra API call."""
    from starlette.routing import Route

    out = []
    for r in routes:
        out.append(r)
        out.append(Route(r.path + "/", r.endpoint, methods=[m for m in (r.methods or []) if m != "HEAD"]))
    return out
