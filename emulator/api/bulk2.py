"""Bulk API 2.0 routes under /services/data/vXX.X/jobs/: JSON job documents, CSV data and results.

Bulk 2.0 runs on the REST framework, so it takes content types the way REST does: job documents are
JSON (application/json, or no Content-Type), job data is text/csv, and anything else is refused with
415 UNSUPPORTED_MEDIA_TYPE before the body is read. A job may also be created with its data in one
multipart/form-data request (parts `job` and `content`), which closes it at once. Failures are raised and
rendered, unknown URLs and methods included, by api/error_responses.py.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..constants import BULK2_MULTIPART_MAX_CHARS, BULK2_QUERY_DEFAULT_PAGE
from ..errors import (
    ClientInputError,
    InvalidJob,
    NotFound,
    UnsupportedMediaType,
)
from ..org import Org
from . import multipart
from .common import (
    api_version,
    batch_retry_disabled,
    count_param,
    json_response,
    media_type,
    parse_json,
    read_json,
    spool,
    with_and_without_slash,
)

LIST_PAGE = 1000
#: The most a multipart create may send: its CSV at 4 bytes a character, and room for the job part and headers.
_MULTIPART_CAP = BULK2_MULTIPART_MAX_CHARS * 4 + 64 * 1024
#: The API versions that introduced ingest and query jobs (fact sheet 2.6); below them the resources do
#: not exist, so they answer 404 like any unknown URL.
INGEST_SINCE = 41.0
QUERY_SINCE = 47.0


def _org(request: Request) -> Org:
    return request.app.state.org


def _version(request: Request, since: float) -> float:
    version = api_version(request.path_params["version"])
    if version < since:
        raise NotFound("The requested resource does not exist")
    return version


async def _job_document(request: Request) -> dict[str, Any]:
    """The JSON object that creates a job, read from the request body."""
    return _as_job_document(await read_json(request))


def _as_job_document(body: object) -> dict[str, Any]:
    """A job document must be a JSON object (a JSON value of another kind is InvalidJob)."""
    if not isinstance(body, dict):
        raise InvalidJob("InvalidJob : The job document must be a JSON object")
    return body


async def ingest_jobs(request: Request) -> Response:
    org = _org(request)
    version = _version(request, INGEST_SINCE)
    if request.method == "POST":
        if media_type(request.headers.get("content-type")) == multipart.MEDIA_TYPE:
            return await _create_with_data(request, org, version)
        job = org.bulk2.create_ingest(
            await _job_document(request), version, retry_disabled=batch_retry_disabled(request)
        )
        return json_response(job.info(brief=True))
    # Get All Jobs lists Bulk 1.0 jobs too, as jobType Classic; ?jobType= keeps one kind
    wanted = request.query_params.get("jobType")
    listed = [(j.created_date, j.id, j.info(brief=True)) for j in org.bulk2.list_ingest()]
    listed += [(j.created_date, j.id, j.listed()) for j in org.bulk1.list_jobs()]
    jobs = sorted((entry for entry in listed if not wanted or entry[2]["jobType"] == wanted), key=lambda e: e[:2])
    start = count_param("queryLocator", request.query_params.get("queryLocator"), 0, 0)
    page = jobs[start : start + LIST_PAGE]
    done = start + LIST_PAGE >= len(jobs)
    body = {
        "done": done,
        "records": [info for _date, _id, info in page],
        "nextRecordsUrl": None
        if done
        else f"/services/data/v{version:.1f}/jobs/ingest?queryLocator={start + LIST_PAGE}"
        + (f"&jobType={wanted}" if wanted else ""),
    }
    return json_response(body)


async def _create_with_data(request: Request, org: Org, version: float) -> Response:
    """A multipart create: the `job` part is the job document, the `content` part its CSV data."""
    too_large = (
        f"ClientInputError : The job data of a multipart request is limited to {BULK2_MULTIPART_MAX_CHARS} characters; "
        "upload larger data with PUT to the job's contentUrl"
    )
    body = await multipart.read_capped(request.stream(), _MULTIPART_CAP, too_large)
    parts = multipart.form_parts(request.headers["content-type"], body)
    missing = [name for name in ("job", "content") if name not in parts]
    if missing:
        raise ClientInputError(
            f"ClientInputError : The multipart request has no '{missing[0]}' part; it needs a 'job' part "
            "(the job document, JSON) and a 'content' part (the CSV data)"
        )
    job = org.bulk2.create_ingest_with_data(
        _as_job_document(parse_json(parts["job"].data)),
        version,
        parts["content"].data,
        retry_disabled=batch_retry_disabled(request),
    )
    return json_response(job.ack or job.info(brief=True))


async def ingest_job(request: Request) -> Response:
    org = _org(request)
    _version(request, INGEST_SINCE)
    job_id = request.path_params["job_id"]
    if request.method == "GET":
        return json_response(org.bulk2.get_ingest(job_id).info())
    if request.method == "DELETE":
        org.bulk2.delete_ingest(job_id)
        return Response(status_code=204)
    body = await read_json(request)
    state = body.get("state") if isinstance(body, dict) else None
    if not state:
        raise InvalidJob("InvalidJob : The request must set state")
    job = org.bulk2.set_ingest_state(job_id, state)
    return json_response(job.ack or job.info(brief=True))


async def upload(request: Request) -> Response:
    org = _org(request)
    _version(request, INGEST_SINCE)
    media = media_type(request.headers.get("content-type"))
    if media != "text/csv":
        raise UnsupportedMediaType(f"Content-Type header specified in HTTP request is not supported: {media or 'none'}")
    job = org.bulk2.get_ingest(request.path_params["job_id"])
    path = os.path.join(org.bulk2.workdir, f"upload-{uuid.uuid4().hex}.csv")
    org.bulk2.accept_upload(job.id, path, await spool(request, path))
    return Response(status_code=201)


def _results(kind: str):
    async def handler(request: Request) -> Response:
        org = _org(request)
        _version(request, INGEST_SINCE)
        stream = org.bulk2.results(request.path_params["job_id"], kind)
        first = next(stream)  # raises before the response starts when the job is not complete

        def body():
            yield first
            yield from stream

        return StreamingResponse(body(), headers={"content-type": "text/csv"})

    return handler


async def query_jobs(request: Request) -> Response:
    org = _org(request)
    version = _version(request, QUERY_SINCE)
    if request.method == "POST":
        job = org.bulk2.create_query(await _job_document(request), version)
        return json_response(job.ack or job.info())
    jobs = list(org.bulk2.queries.values())
    return json_response({"done": True, "records": [j.info() for j in jobs], "nextRecordsUrl": None})


async def query_job(request: Request) -> Response:
    org = _org(request)
    _version(request, QUERY_SINCE)
    job_id = request.path_params["job_id"]
    if request.method == "GET":
        return json_response(org.bulk2.get_query(job_id).info())
    if request.method == "DELETE":
        org.bulk2.delete_query(job_id)
        return Response(status_code=204)
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("state") != "Aborted":
        raise InvalidJob("InvalidJob : Only state Aborted can be set on a query job")
    return json_response(org.bulk2.abort_query(job_id).info())


async def query_results(request: Request) -> Response:
    org = _org(request)
    version = _version(request, QUERY_SINCE)
    job = org.bulk2.get_query(request.path_params["job_id"])
    if abs(job.api_version - version) > 1e-9:
        raise ClientInputError(
            f"The job was created with API version {job.api_version:.1f}; request its results with the same version",
            status=409,
        )
    max_records = count_param("maxRecords", request.query_params.get("maxRecords"), BULK2_QUERY_DEFAULT_PAGE, 1)
    locator = request.query_params.get("locator") or None
    if locator == "null":
        locator = None
    body, rows, next_locator = org.bulk2.query_page(job.id, locator, max_records)
    return Response(
        body, headers={"content-type": "text/csv", "Sforce-NumberOfRecords": str(rows), "Sforce-Locator": next_locator}
    )


_P = "/services/data/{version}/jobs"
routes = with_and_without_slash(
    [
        Route(_P + "/ingest", ingest_jobs, methods=["GET", "POST"]),
        Route(_P + "/ingest/{job_id}", ingest_job, methods=["GET", "PATCH", "DELETE"]),
        Route(_P + "/ingest/{job_id}/batches", upload, methods=["PUT"]),
        Route(_P + "/ingest/{job_id}/successfulResults", _results("success"), methods=["GET"]),
        Route(_P + "/ingest/{job_id}/failedResults", _results("failed"), methods=["GET"]),
        Route(_P + "/ingest/{job_id}/unprocessedrecords", _results("unprocessed"), methods=["GET"]),
        # The documented spelling is all lower case; simple-salesforce asks for `unprocessedRecords`.
        Route(_P + "/ingest/{job_id}/unprocessedRecords", _results("unprocessed"), methods=["GET"]),
        Route(_P + "/query", query_jobs, methods=["GET", "POST"]),
        Route(_P + "/query/{job_id}", query_job, methods=["GET", "PATCH", "DELETE"]),
        Route(_P + "/query/{job_id}/results", query_results, methods=["GET"]),
    ]
)
