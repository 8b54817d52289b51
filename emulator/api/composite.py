"""Composite (`/composite`), Composite Batch (`/composite/batch`) and sObject Tree (`/composite/tree`): one HTTP call.

Subrequests are dispatched to the same handlers as top-level REST requests (upserts by external id and
sObject Collections upserts included). Composite with allOrNone runs inside one SQLite transaction that is
really rolled back; Composite Batch commits each subrequest on its own and, as documented, counts each
subrequest against the daily allocation (N calls for N subrequests by default; the org profile's
`composite_batch_calls` can make it N+1 or 1). A subrequest fails when its status is 300 or more: an upsert
whose key matches several records (300) wrote nothing, so it halts an allOrNone request like an error
(UNCONFIRMED: the guides speak of errors without naming statuses).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from ..constants import (
    COMPOSITE_BATCH_MAX_SUBREQUESTS,
    COMPOSITE_MAX_COLLECTIONS_OR_QUERIES,
    COMPOSITE_MAX_SUBREQUESTS,
)
from ..errors import InvalidApiInput, JsonParserError, RequestLimitExceeded, SalesforceError
from ..sobject_tree import create_trees, parse_trees
from .common import api_version
from .error_responses import rest_body
from .rest import RestCall, RestResult, dispatch, json_document, route, split_query

_REF = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_HALTED = "The transaction was rolled back since another operation in the same transaction failed."


def _subcall(parent: RestCall, method: str, url: str, body: Any, conn: Any) -> RestCall:
    parts = urlsplit(url)
    path = unquote(parts.path)  # as a top-level request's path reaches the router: decoded
    m = re.match(r"^/?(?:services/data/)?(v\d{2}\.0)(/.*)?$", path)
    if not m:
        raise InvalidApiInput(f"The subrequest URL is not a supported resource: {url}")
    version = api_version(m.group(1))
    return RestCall(
        parent.org,
        method.upper(),
        version,
        (m.group(2) or "").rstrip("/"),
        split_query(parts.query),
        body,
        parent.headers,
        conn=conn,
        origin=parent.origin,
    )


# -- /composite ---------------------------------------------------------------------------------------
def _subrequests(call: RestCall, key: str, limit: int, kind: str) -> tuple[dict[str, Any], list[Any]]:
    """The request body and its list of subrequests under `key`, refused unless it holds 1 to `limit`."""
    body = json_document(call)
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise JsonParserError(f"The request body must contain a {key} array")
    subs = body[key]
    if not subs or len(subs) > limit:
        raise InvalidApiInput(f"A {kind} request must contain between 1 and {limit} subrequests; found {len(subs)}")
    return body, subs


def composite(call: RestCall) -> RestResult:
    body, subs = _subrequests(call, "compositeRequest", COMPOSITE_MAX_SUBREQUESTS, "composite")
    heavy = sum(1 for s in subs if isinstance(s, dict) and _is_collection_or_query(str(s.get("url", ""))))
    if heavy > COMPOSITE_MAX_COLLECTIONS_OR_QUERIES:
        raise InvalidApiInput(
            f"A composite request may contain at most {COMPOSITE_MAX_COLLECTIONS_OR_QUERIES} sObject Collections or query subrequests; found {heavy}"
        )
    all_or_none = bool(body.get("allOrNone", False))
    store = call.org.store
    if all_or_none:
        with store.transaction() as conn:
            responses, failed = _run_subrequests(call, subs, conn, stop_on_failure=True)
            if failed is not None:
                conn.execute("ROLLBACK")
                conn.execute("BEGIN")  # let the context manager's COMMIT close an empty transaction
                responses = _halt_all(subs, responses, failed)
    else:
        responses, _ = _run_subrequests(call, subs, None, stop_on_failure=False)
    records = sum(r.pop("_records", 0) for r in responses)
    upserted = sum(r.pop("_upserted", 0) for r in responses)
    return RestResult(200, {"compositeResponse": responses}, records=records, upserted=upserted, subrequests=len(subs))


def _is_collection_or_query(url: str) -> bool:
    path = urlsplit(url).path
    return bool(re.search(r"/composite/sobjects|/query|/queryAll", path))


def _run_subrequests(call: RestCall, subs: list[Any], conn: Any, *, stop_on_failure: bool):
    results: dict[str, Any] = {}
    responses: list[dict[str, Any]] = []
    failed: int | None = None
    for i, sub in enumerate(subs):
        ref = sub.get("referenceId") if isinstance(sub, dict) else None
        try:
            if not isinstance(sub, dict) or not sub.get("method") or not sub.get("url") or not ref:
                raise JsonParserError("Each subrequest needs method, url and referenceId")
            url = _resolve(str(sub["url"]), results, encode=True)
            payload = _resolve_body(sub.get("body"), results)
            res = dispatch(_subcall(call, str(sub["method"]), url, payload, conn))
        except _Unresolved as err:
            res = RestResult(
                400,
                [
                    {
                        "errorCode": "PROCESSING_HALTED",
                        "message": f"Invalid reference specified. No value for {err} found in the previous results.",
                    }
                ],
            )
        except SalesforceError as err:
            res = RestResult(err.status, rest_body(err))
        headers = {}
        if res.status == 201 and isinstance(res.body, dict) and res.body.get("id"):
            headers["Location"] = f"{call.base}/sobjects/{_object_of(sub)}/{res.body['id']}"
        responses.append(
            {
                "body": res.body,
                "httpHeaders": headers,
                "httpStatusCode": res.status,
                "referenceId": ref,
                "_records": res.records,
                "_upserted": res.upserted,
            }
        )
        if ref and not _failed(res.status):
            results[ref] = res.body
        if _failed(res.status) and failed is None:
            failed = i
            if stop_on_failure:
                break
    return responses, failed


def _failed(status: int) -> bool:
    """Whether a subrequest failed: an error, or an upsert that matched several records (300)."""
    return status >= 300


def _halt_all(subs: list[Any], responses: list[dict[str, Any]], failed: int) -> list[dict[str, Any]]:
    out = []
    for i, sub in enumerate(subs):
        ref = sub.get("referenceId") if isinstance(sub, dict) else None
        if i == failed:
            kept = dict(responses[i])
            kept["_records"] = kept["_upserted"] = 0
            out.append(kept)
        else:
            out.append(
                {
                    "body": [{"errorCode": "PROCESSING_HALTED", "message": _HALTED}],
                    "httpHeaders": {},
                    "httpStatusCode": 400,
                    "referenceId": ref,
                    "_records": 0,
                    "_upserted": 0,
                }
            )
    return out


def _object_of(sub: dict[str, Any]) -> str:
    m = re.search(r"/sobjects/([^/?]+)", str(sub.get("url", "")))
    return m.group(1) if m else ""


class _Unresolved(Exception):
    pass


def _lookup(results: dict[str, Any], ref: str, path: str) -> Any:
    if ref not in results:
        raise _Unresolved(f"{ref}{path}")
    value = results[ref]
    for token in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        name, index = token
        try:
            if name:
                value = value[name] if name in value else next(v for k, v in value.items() if k.lower() == name.lower())
            else:
                value = value[int(index)]
        except (KeyError, IndexError, TypeError, StopIteration):
            raise _Unresolved(f"{ref}{path}") from None
    return value


def _resolve(text: str, results: dict[str, Any], *, encode: bool = False) -> str:
    def sub(m: re.Match[str]) -> str:
        value = _lookup(results, m.group(1), m.group(2))
        return value if isinstance(value, str) else json.dumps(value)

    return _REF.sub(sub, text)


def _resolve_body(body: Any, results: dict[str, Any]) -> Any:
    if isinstance(body, str):
        whole = _REF.fullmatch(body)
        if whole:
            return _lookup(results, whole.group(1), whole.group(2))
        return _resolve(body, results)
    if isinstance(body, list):
        return [_resolve_body(v, results) for v in body]
    if isinstance(body, dict):
        return {k: _resolve_body(v, results) for k, v in body.items()}
    return body


# -- /composite/batch -------------------------------------------------------------------------------------
def composite_batch(call: RestCall) -> RestResult:
    body, subs = _subrequests(call, "batchRequests", COMPOSITE_BATCH_MAX_SUBREQUESTS, "batch")
    halt = bool(body.get("haltOnError", False))
    results = []
    has_errors = False
    halted = False
    records = upserted = 0
    for i, sub in enumerate(subs):
        if halted:
            results.append(
                {
                    "statusCode": 412,
                    "result": [
                        {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}
                    ],
                }
            )
            continue
        # The gate counted the batch request once; the profile says what each subrequest adds (N or N+1).
        calls = call.org.profile.counting.subrequest_calls(i)
        if calls:
            allowed, _ = call.org.usage.try_consume(
                "rest", "POST /services/data/vXX.X/composite/batch (subrequest)", calls
            )
            if not allowed:
                err = RequestLimitExceeded("TotalRequests Limit exceeded.")
                results.append({"statusCode": err.status, "result": rest_body(err)})
                has_errors = True
                halted = halt
                continue
        try:
            if not isinstance(sub, dict) or not sub.get("method") or not sub.get("url"):
                raise JsonParserError("Each batch subrequest needs method and url")
            res = dispatch(_subcall(call, str(sub["method"]), str(sub["url"]), sub.get("richInput"), None))
        except SalesforceError as err:
            res = RestResult(err.status, rest_body(err))
        records += res.records
        upserted += res.upserted
        results.append({"statusCode": res.status, "result": res.body})
        if _failed(res.status):
            has_errors = True
            halted = halt
    return RestResult(
        200,
        {"hasErrors": has_errors, "results": results},
        records=records,
        upserted=upserted,
        subrequests=len(subs),
    )


# -- /composite/tree/{sObject} ------------------------------------------------------------------------------
def sobject_tree(call: RestCall) -> RestResult:
    """Nested records in one call: 201 with every record's id, or 400 with only the failing records' errors."""
    roots = parse_trees(call.org.schema, call.org.sobject(call.params["sobject"]), json_document(call))
    outcome = create_trees(call.org.dml, call.org.store, roots)
    if outcome.has_errors:
        results = [
            {"referenceId": ref, "errors": [e.as_save_error() for e in errors]} for ref, errors in outcome.failed
        ]
        return RestResult(400, {"hasErrors": True, "results": results})
    created = [{"referenceId": ref, "id": rid} for ref, rid in outcome.created]
    return RestResult(201, {"hasErrors": False, "results": created}, records=len(created))


route("/composite", POST=composite)
route("/composite/batch", POST=composite_batch)
route("/composite/tree/(?P<sobject>[^/]+)", POST=sobject_tree)
