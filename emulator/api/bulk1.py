"""Bulk API 1.0 routes under /services/async/{version}/: XML (default) or JSON job documents.

Parse the request, call `org.bulk1`, render jobInfo / batchInfo in the job's format. Batch uploads are
streamed to disk. Failures are raised; api/error_responses.py renders them as the documented `<error>`
element (or its JSON twin), unknown URLs and methods included.

Request checks made here, before the model sees anything:
- a job document (create, close, abort) is application/xml or application/json; anything else is
  HTTP 400 ClientInputError "Unsupported content type: <type>" (the message Salesforce was seen to give
  for text/xml; the exception code is an assumption);
- every batch operation's URI carries the job's API version, as documented; a different version is
  HTTP 400 InvalidBatch (the exception code is an assumption; the rule is documented).
A batch whose Content-Type does not match the job's contentType is refused by the model (InvalidBatch).
"""

from __future__ import annotations

import io
import os
import uuid
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from defusedxml.ElementTree import fromstring
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..bulk.bulk1_jobs import Bulk1Job, batch_info
from ..client_documents import UNREADABLE_XML, load_json
from ..constants import BULK1_NS
from ..errors import (
    InvalidBatch,
    InvalidJob,
    InvalidXml,
    JsonParserError,
    UnsupportedMediaType,
)
from ..org import Org
from .common import NO_ATTRIBUTES, api_version, batch_retry_disabled, dumps, media_type, spool, with_and_without_slash

_MEDIA = {"XML": "application/xml", "CSV": "text/csv", "JSON": "application/json"}


def _org(request: Request) -> Org:
    return request.app.state.org


def _is_json_request(request: Request) -> bool:
    return media_type(request.headers.get("content-type")) == "application/json"


def _render(doc: str, data: dict[str, Any] | list[dict[str, Any]], as_json: bool, status: int = 200) -> Response:
    if as_json:
        body = {"batchInfo": data} if doc == "batchInfoList" else data
        return Response(dumps(body), status_code=status, media_type="application/json")
    buf = io.StringIO()
    x = XMLGenerator(buf, encoding="UTF-8")
    x.startDocument()
    x.startElement(doc, AttributesImpl({"xmlns": BULK1_NS}))
    items = data if isinstance(data, list) else [data]
    for item in items:
        if doc == "batchInfoList":
            x.startElement("batchInfo", NO_ATTRIBUTES)
        for key, value in item.items():
            if value is None:
                continue
            x.startElement(key, NO_ATTRIBUTES)
            x.characters(_xml_text(value))
            x.endElement(key)
        if doc == "batchInfoList":
            x.endElement("batchInfo")
    x.endElement(doc)
    x.endDocument()
    return Response(buf.getvalue().encode("utf-8"), status_code=status, media_type="application/xml")


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _json_job(job: Bulk1Job) -> dict[str, Any]:
    info = job.info()
    info["apiVersion"] = float(job.api_version)
    return info


def _job_response(job: Bulk1Job, as_json: bool, status: int = 200) -> Response:
    return _render("jobInfo", _json_job(job) if as_json else job.info(), as_json, status)


async def _job_document(request: Request) -> dict[str, Any]:
    media = media_type(request.headers.get("content-type"))
    if media not in ("application/xml", "application/json"):
        raise UnsupportedMediaType(f"Unsupported content type: {media or 'none'}")
    raw = await request.body()
    if media == "application/json":
        try:
            data = load_json(raw)
        except ValueError as err:  # malformed, not UTF-8, or nested too deep: 400 ClientInputError
            raise JsonParserError(f"Unable to parse JSON: {err}") from None
        if not isinstance(data, dict):
            raise JsonParserError("The job document must be a JSON object")
        return data
    try:
        root = fromstring(raw)
    except UNREADABLE_XML as err:  # malformed, or declaring entities (a bomb, XXE): 400 InvalidXML
        raise InvalidXml(f"Unable to parse XML: {err}") from None
    if root.tag.rsplit("}", 1)[-1] != "jobInfo":
        raise InvalidXml("Unable to parse XML: the root element must be jobInfo")
    return {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in root}


def _concurrency(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (bool, int)):
        return "Serial" if value else "Parallel"  # lenient: simple-salesforce sends booleans
    return str(value)


def _batch_job(request: Request) -> Bulk1Job:
    """The job a batch operation addresses, at the API version the job was created with."""
    version = f"{api_version(request.path_params['version']):.1f}"
    job = _org(request).bulk1.get_job(request.path_params["job_id"])
    if version != job.api_version:
        raise InvalidBatch(
            f"InvalidBatch : The API version in the URI ({version}) must match the API version of the job ({job.api_version})"
        )
    return job


async def create_job(request: Request) -> Response:
    version = api_version(request.path_params["version"])
    doc = await _job_document(request)
    job = _org(request).bulk1.create_job(
        operation=str(doc.get("operation") or ""),
        object_name=str(doc.get("object") or ""),
        content_type=doc.get("contentType") or None,
        concurrency_mode=_concurrency(doc.get("concurrencyMode")),
        api_version=f"{version:.1f}",
        external_id_field=doc.get("externalIdFieldName") or None,
        retry_disabled=batch_retry_disabled(request),
    )
    # The job document comes back in the format it was sent in: salesforce-bulk creates JSON jobs with an
    # XML jobInfo and parses the answer as XML. Later GETs use the job's own format.
    return _job_response(job, _is_json_request(request), status=201)


async def job(request: Request) -> Response:
    org = _org(request)
    api_version(request.path_params["version"])
    job_id = request.path_params["job_id"]
    if request.method == "GET":
        found = org.bulk1.get_job(job_id)
    else:
        doc = await _job_document(request)
        state = str(doc.get("state") or "")
        if not state:
            raise InvalidJob("InvalidJob : The job document must set state")
        found = org.bulk1.set_state(job_id, state)
        return _job_response(found, _is_json_request(request))
    return _job_response(found, found.content_type == "JSON")


async def batches(request: Request) -> Response:
    org = _org(request)
    found = _batch_job(request)
    as_json = found.content_type == "JSON"
    if request.method == "GET":
        return _render("batchInfoList", [batch_info(b) for b in list(found.batches.values())], as_json)
    path = os.path.join(org.bulk1.workdir, f"upload-{uuid.uuid4().hex}")
    await spool(request, path)
    batch = org.bulk1.add_batch(found.id, path, media_type(request.headers.get("content-type")))
    return _render("batchInfo", batch.ack or batch_info(batch), as_json, status=201)


async def batch(request: Request) -> Response:
    org = _org(request)
    found = _batch_job(request)
    b = org.bulk1.get_batch(found.id, request.path_params["batch_id"])
    return _render("batchInfo", batch_info(b), found.content_type == "JSON")


async def batch_request(request: Request) -> Response:
    org = _org(request)
    found = _batch_job(request)
    b = org.bulk1.get_batch(found.id, request.path_params["batch_id"])
    return _file(b.request_path, found.content_type)


async def batch_result(request: Request) -> Response:
    org = _org(request)
    found = _batch_job(request)
    path = org.bulk1.result_path(found.id, request.path_params["batch_id"])
    return _file(path, found.content_type)


def _file(path: str, content_type: str) -> Response:
    # An explicit header keeps Starlette from appending "; charset=utf-8" to text/csv: clients such as
    # salesforce-bulk compare the content type exactly.
    return FileResponse(path, headers={"content-type": _MEDIA[content_type]})


_P = "/services/async/{version}"
routes = with_and_without_slash(
    [
        Route(_P + "/job", create_job, methods=["POST"]),
        Route(_P + "/job/{job_id}", job, methods=["GET", "POST"]),
        Route(_P + "/job/{job_id}/batch", batches, methods=["GET", "POST"]),
        Route(_P + "/job/{job_id}/batch/{batch_id}", batch, methods=["GET"]),
        Route(_P + "/job/{job_id}/batch/{batch_id}/request", batch_request, methods=["GET"]),
        Route(_P + "/job/{job_id}/batch/{batch_id}/result", batch_result, methods=["GET"]),
    ]
)
