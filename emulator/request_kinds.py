"""The kinds of API request an org profile counts separately, and which kind a request is.

Salesforce documents what counts against DailyApiRequests for some requests and is silent on others
(Bulk API 2.0, `/limits`, login). An org profile therefore says, kind by kind, how many calls a request
costs (`profiles.CountingRules`); `sfharness calibrate` measures the same kinds on a real org. The names
here are the vocabulary both share: `family.kind`, where the family is `emulator.api.gate.classify`'s.
Only the request line is read (method and path), so a kind is known before the body is.
"""

from __future__ import annotations

import re

REQUEST_KINDS: dict[str, str] = {
    "rest.sobject_write": "POST, PATCH, PUT or DELETE of one record under /sobjects (per-record PATCH)",
    "rest.sobject_read": "GET of one record under /sobjects/{Object}/{Id}",
    "rest.describe": "GET /sobjects, /sobjects/{Object} and /sobjects/{Object}/describe",
    "rest.query": "GET /query or /queryAll (the first page)",
    "rest.query_more": "GET /query/{locator} (each further page)",
    "rest.collections": "any request under /composite/sobjects (sObject Collections)",
    "rest.composite": "POST /composite",
    "rest.composite_batch": "POST /composite/batch (its cost is counting.composite_batch_calls)",
    "rest.limits": "GET /limits",
    "rest.other": "any other request under /services/data/vXX.X/",
    "bulk1.create": "Bulk 1.0 POST /job",
    "bulk1.upload": "Bulk 1.0 POST /job/{id}/batch (add a batch)",
    "bulk1.close": "Bulk 1.0 POST /job/{id} (close or abort)",
    "bulk1.status": "Bulk 1.0 GET /job/{id} or /job/{id}/batch/{id} (job or batch info)",
    "bulk1.batch_list": "Bulk 1.0 GET /job/{id}/batch",
    "bulk1.result": "Bulk 1.0 GET /job/{id}/batch/{id}/result",
    "bulk1.other": "any other Bulk 1.0 request (e.g. a batch's request file)",
    "bulk2.create": "Bulk 2.0 POST /jobs/ingest",
    "bulk2.upload": "Bulk 2.0 PUT /jobs/ingest/{id}/batches",
    "bulk2.close": "Bulk 2.0 PATCH /jobs/ingest/{id} (UploadComplete or Aborted)",
    "bulk2.status": "Bulk 2.0 GET /jobs/ingest/{id} (a status poll)",
    "bulk2.successful_results": "Bulk 2.0 GET /jobs/ingest/{id}/successfulResults",
    "bulk2.failed_results": "Bulk 2.0 GET /jobs/ingest/{id}/failedResults",
    "bulk2.unprocessed_records": "Bulk 2.0 GET /jobs/ingest/{id}/unprocessedrecords",
    "bulk2.query": "any Bulk 2.0 query-job request under /jobs/query",
    "bulk2.other": "any other Bulk 2.0 request (job list, delete)",
    "login": "OAuth token requests and SOAP login() (never refused: they fall under the login rate limit)",
}
"""Every kind, with the requests it covers (docs/org-profile.md lists them with their defaults)."""

FAMILIES = ("rest", "bulk1", "bulk2", "login")

_VERSIONED = re.compile(r"^/services/(?:data|async)/[^/]+")


def request_kind(family: str, method: str, path: str) -> str:
    """The kind of a request of `family` ("rest", "bulk1", "bulk2" or "login") to `path`."""
    if family == "login":
        return "login"
    rest = _VERSIONED.sub("", path).rstrip("/")
    parts = [p for p in rest.split("/") if p]
    if family == "bulk2":
        return _bulk2(method, parts[1:])  # after "jobs"
    if family == "bulk1":
        return _bulk1(method, parts)
    return _rest(method, parts)


def _rest(method: str, parts: list[str]) -> str:
    head = parts[0] if parts else ""
    if head == "sobjects":
        if method != "GET":
            return "rest.sobject_write"
        if len(parts) <= 2 or parts[-1] == "describe":
            return "rest.describe"
        return "rest.sobject_read"
    if head in ("query", "queryAll"):
        return "rest.query" if len(parts) == 1 else "rest.query_more"
    if head == "composite":
        if len(parts) == 1:
            return "rest.composite"
        if parts[1] == "sobjects":
            return "rest.collections"
        if parts[1] == "batch" and len(parts) == 2:
            return "rest.composite_batch"
        return "rest.other"
    if head == "limits" and len(parts) == 1:
        return "rest.limits"
    return "rest.other"


def _bulk2(method: str, parts: list[str]) -> str:
    if not parts or parts[0] != "ingest":
        return "bulk2.query" if parts and parts[0] == "query" else "bulk2.other"
    if len(parts) == 1:
        return "bulk2.create" if method == "POST" else "bulk2.other"
    if len(parts) == 2:
        return {"GET": "bulk2.status", "PATCH": "bulk2.close"}.get(method, "bulk2.other")
    leaf = parts[2].lower()
    return {
        "batches": "bulk2.upload",
        "successfulresults": "bulk2.successful_results",
        "failedresults": "bulk2.failed_results",
        "unprocessedrecords": "bulk2.unprocessed_records",
    }.get(leaf, "bulk2.other")


def _bulk1(method: str, parts: list[str]) -> str:
    if not parts or parts[0] != "job":
        return "bulk1.other"
    if len(parts) == 1:
        return "bulk1.create" if method == "POST" else "bulk1.other"
    if len(parts) == 2:
        return "bulk1.close" if method == "POST" else "bulk1.status"
    if parts[2] != "batch":
        return "bulk1.other"
    if len(parts) == 3:
        return "bulk1.upload" if method == "POST" else "bulk1.batch_list"
    if len(parts) == 4:
        return "bulk1.status"
    return "bulk1.result" if parts[4] == "result" else "bulk1.other"
