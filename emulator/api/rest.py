"""REST API: sObject rows (by Id and by external id), describe, query/queryMore, sObject Collections and /limits.

Handlers are plain functions of a `RestCall` returning a `RestResult`, so the same code serves a top-level
HTTP request and a Composite subrequest (emulator/api/composite.py dispatches through `dispatch`).
Upsert's record rules live in emulator/upsert.py; the handlers here only read requests and render answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from defusedxml.ElementTree import fromstring

from .. import soql
from ..bulk.formats import is_nil
from ..client_documents import UNREADABLE_XML
from ..constants import COLLECTIONS_MAX_RECORDS, QUERY_PAGE_MIN, QUERY_PAGE_SIZE
from ..dml import SaveResult
from ..errors import (
    ExceededIdLimit,
    InvalidBatchSize,
    InvalidField,
    InvalidQueryLocator,
    InvalidXml,
    JsonParserError,
    MalformedQuery,
    MethodNotAllowed,
    NotFound,
    RecordError,
    UnsupportedMediaType,
)
from ..ids import to_18
from ..org import Org
from ..schema import FieldDef, SObjectDef, describe_global_entry
from ..soql.columns import column_metadata
from ..upsert import UpsertRows, keyed_ids, rows_of, upsert
from .common import flag_param
from .error_responses import rest_item


@dataclass
class RestCall:
    org: Org
    method: str
    version: float
    path: str  # path below /services/data/vXX.X, starting with "/" (or "")
    query: dict[str, list[str]]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    conn: Any = None  # the enclosing transaction (Composite allOrNone), or None
    media: str = "json"  # "json" (body parsed) or "xml" (body still bytes: read by the resources that take XML)
    origin: str = ""  # scheme://host:port the request was sent to, for the absolute URLs some resources give

    @property
    def base(self) -> str:
        return f"/services/data/v{self.version:.1f}"

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class RestResult:
    status: int
    body: Any = None
    records: int = 0  # records written, for the profile's per-record latency
    upserted: int = 0  # how many of them were upserts (the profile may time those apart: `for_operation`)
    subrequests: int = 0
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RestCall], RestResult]
#: Routes by the first path segment (literal in every pattern), so a request tries only its resource's few.
_ROUTES: dict[str, list[tuple[re.Pattern[str], dict[str, Handler]]]] = {}


def _first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0]


def route(pattern: str, **methods: Handler) -> None:
    _ROUTES.setdefault(_first_segment(pattern), []).append((re.compile("^" + pattern + "/?$"), methods))


def dispatch(call: RestCall) -> RestResult:
    for pattern, methods in _ROUTES.get(_first_segment(call.path), ()):
        m = pattern.match(call.path)
        if m:
            handler = methods.get(call.method)
            if handler is None:
                raise MethodNotAllowed(
                    f"HTTP Method '{call.method}' not allowed. Allowed are {', '.join(sorted(methods))}"
                )
            call.params = {k: v for k, v in m.groupdict().items() if v is not None}
            return handler(call)
    raise NotFound("The requested resource does not exist")


def split_query(raw: str) -> dict[str, list[str]]:
    return parse_qs(raw, keep_blank_values=True) if raw else {}


# -- rendering helpers ----------------------------------------------------------------------------
def record_json(call: RestCall, obj, row: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{call.base}/sobjects/{obj.name}/{row['id']}"}}
    wanted = [obj.field(f) for f in fields] if fields else list(obj.fields.values())
    for fd in wanted:
        if fd is None:
            continue
        out[fd.name] = row["id"] if fd.name == "Id" else fd.to_json(row.get(fd.column))
    return out


def save_results_json(results: list[SaveResult]) -> list[dict]:
    return [r.to_json() for r in results]


# -- resources ------------------------------------------------------------------------------------
def resources(call: RestCall) -> RestResult:
    names = ["sobjects", "query", "queryAll", "composite", "limits", "jobs"]
    # The identity URL is absolute, on the login host (which is the instance here), as Salesforce gives it;
    # jsforce's identity() requests it as it is.
    identity = f"{call.origin}/id/{call.org.org_id}/{call.org.user_id}"
    return RestResult(200, {n: f"{call.base}/{n}" for n in names} | {"identity": identity})


def limits(call: RestCall) -> RestResult:
    return RestResult(200, call.org.usage.limits_resource())


def describe_global(call: RestCall) -> RestResult:
    return RestResult(
        200,
        {
            "encoding": "UTF-8",
            "maxBatchSize": COLLECTIONS_MAX_RECORDS,
            "sobjects": [describe_global_entry(o, call.base) for o in call.org.schema.objects()],
        },
    )


def sobject_basic(call: RestCall) -> RestResult:
    obj = call.org.sobject(call.params["sobject"])
    return RestResult(200, {"objectDescribe": describe_global_entry(obj, call.base), "recentItems": []})


def sobject_describe(call: RestCall) -> RestResult:
    obj = call.org.sobject(call.params["sobject"])
    return RestResult(200, obj.describe(call.base))


def sobject_create(call: RestCall) -> RestResult:
    obj = call.org.sobject(call.params["sobject"])
    body = _object_body(call)
    result = call.org.dml.insert(obj, [body], conn=call.conn)[0]
    if not result.success:
        return RestResult(400, [rest_item(e.status_code, e.message, e.fields) for e in result.errors], records=1)
    return RestResult(201, {"id": result.id, "success": True, "errors": []}, records=1)


def _row_target(call: RestCall):
    obj = call.org.sobject(call.params["sobject"])
    raw = call.params["id"]
    rid = to_18(raw)
    if rid is None or rid[:3] != obj.key_prefix:
        raise NotFound(f"Provided external ID field does not exist or is not accessible: {raw}")
    return obj, rid


def row_get(call: RestCall) -> RestResult:
    obj, rid = _row_target(call)
    row = call.org.store.get(obj, rid)
    if row is None:
        raise NotFound("The requested resource does not exist")
    fields = [f.strip() for f in (call.arg("fields") or "").split(",") if f.strip()]
    for f in fields:
        if obj.field(f) is None:
            raise InvalidField(f"No such column '{f}' on sobject of type {obj.name}")
    return RestResult(200, record_json(call, obj, row, fields or None))


def row_patch(call: RestCall) -> RestResult:
    if call.params["id"] == "Id":
        # Salesforce answers so (jsforce #667): `/sobjects/{Object}/Id` creates with POST, it never updates.
        raise MethodNotAllowed("HTTP Method 'PATCH' not allowed. Allowed are GET,HEAD,POST")
    obj, rid = _row_target(call)
    body = _object_body(call)
    result = call.org.dml.update(obj, [(rid, body)], conn=call.conn)[0]
    if not result.success:
        if result.errors[0].status_code == "ENTITY_IS_DELETED":  # no such row: REST answers 404
            raise NotFound("The requested resource does not exist")
        return RestResult(400, [rest_item(e.status_code, e.message, e.fields) for e in result.errors], records=1)
    return RestResult(204, None, records=1)


def row_post(call: RestCall) -> RestResult:
    """`POST /sobjects/{Object}/Id`: create a record, Id being the key and null its value (API 37.0+).

    Documented as upsert's special case for code that upserts by several keys through one resource; the
    answer is upsert's (`created` from API 46.0). Any other segment takes no POST.
    """
    if call.params["id"] != "Id" or call.version < 37.0:
        raise MethodNotAllowed("HTTP Method 'POST' not allowed. Allowed are DELETE,GET,HEAD,PATCH")
    obj = call.org.sobject(call.params["sobject"])
    body = _object_body(call)
    result = call.org.dml.insert(obj, [body], conn=call.conn)[0]
    if not result.success:
        return RestResult(400, [rest_item(e.status_code, e.message, e.fields) for e in result.errors], records=1)
    return RestResult(201, _upsert_body(call, result), records=1)


def row_delete(call: RestCall) -> RestResult:
    obj, rid = _row_target(call)
    result = call.org.dml.delete(obj, [rid], conn=call.conn)[0]
    if not result.success:
        if result.errors and result.errors[0].status_code == "ENTITY_IS_DELETED":
            raise NotFound("The requested resource does not exist")
        return RestResult(400, [rest_item(e.status_code, e.message, e.fields) for e in result.errors], records=1)
    return RestResult(204, None, records=1)


# -- sObject rows by external id ---------------------------------------------------------------------
def _external_target(call: RestCall) -> tuple[SObjectDef, FieldDef, str]:
    """The object, key field and key value of `/sobjects/{Object}/{Field}/{value}`.

    A field upsert cannot match on answers 404 NOT_FOUND "The requested resource does not exist", as
    documented for an incorrect external id field. So does Id: "In REST API, upsert uses external ids, not
    record ids" (REST API guide). The value is one path segment, decoded: a value holding "/" (sent raw or
    as %2F) makes more segments and so no such resource (404), which is what users report from Salesforce
    (simple-salesforce #22; texei-sfdx-plugin #111: still NOT_FOUND once encoded). UNCONFIRMED beyond
    those reports.
    """
    obj = call.org.sobject(call.params["sobject"])
    key = obj.upsert_key(call.params["field"])
    if key is None or key.name == "Id":
        raise NotFound("The requested resource does not exist")
    return obj, key, call.params["value"]


def _matching_urls(call: RestCall, obj: SObjectDef, found: list[str]) -> RestResult:
    """300 Multiple Choices: the key matches several records; the body lists them (their row URLs).

    Documented as "a list of the records that matched"; the list's shape (row URLs) is UNCONFIRMED.
    """
    return RestResult(300, [f"{call.base}/sobjects/{obj.name}/{rid}" for rid in found])


def external_get(call: RestCall) -> RestResult:
    """A record by its key: 404 when none holds it, 300 when several do."""
    obj, key, value = _external_target(call)
    try:
        found = keyed_ids(call.org.store, obj, key, value)
    except RecordError:
        found = []  # a value the field cannot hold is held by no record
    if not found:
        raise NotFound("The requested resource does not exist")
    if len(found) > 1:
        return _matching_urls(call, obj, found)
    row_call = RestCall(
        call.org, call.method, call.version, call.path, call.query, params={"sobject": obj.name, "id": found[0]}
    )
    return row_get(row_call)


def external_upsert(call: RestCall) -> RestResult:
    """PATCH `/sobjects/{Object}/{Field}/{value}`: upsert one record by its key.

    Created: 201 `{"id", "success", "errors", "created": true}`. Updated: 200 with `"created": false`
    from API 46.0, 204 and no body before (where `created` is not given either). Several matches: 300.
    Record errors: 400 with the error array, as an update's. The body must not set Id or the key field
    ("Do not specify Id or an external ID field in the request body or an error is generated", REST API
    guide, Spring '22 to Summer '22 editions; the error's code is UNCONFIRMED, INVALID_FIELD here).
    """
    obj, key, value = _external_target(call)
    body = _object_body(call)
    named = [name for name in body if name.lower() in ("id", key.column)]
    if named:
        raise InvalidField(f"Do not specify {named[0]} in the body of an upsert by {key.name}: the URL gives the key")
    rows = UpsertRows([value], [call.org.dml.layout(obj, tuple(body))], [tuple(body.values())])
    result = upsert(call.org.dml, obj, key, rows, conn=call.conn)[0]
    if not result.success:
        if result.errors[0].status_code == "DUPLICATE_EXTERNAL_ID":
            return _matching_urls(call, obj, keyed_ids(call.org.store, obj, key, value))
        return RestResult(
            400, [rest_item(e.status_code, e.message, e.fields) for e in result.errors], records=1, upserted=1
        )
    if result.created:
        return RestResult(201, _upsert_body(call, result), records=1, upserted=1)
    if call.version < 46.0:
        return RestResult(204, None, records=1, upserted=1)
    return RestResult(200, _upsert_body(call, result), records=1, upserted=1)


def _upsert_body(call: RestCall, result: SaveResult) -> dict[str, Any]:
    """An upsert's success body; `created` appears from API 46.0 ("It doesn't appear in earlier versions")."""
    return result.to_upsert_json() if call.version >= 46.0 else result.to_json()


def _object_body(call: RestCall) -> dict[str, Any]:
    """The field values of one sObject row, sent as JSON or as XML."""
    if call.media == "xml":
        return _xml_record(call.body)
    if not isinstance(call.body, dict):
        raise JsonParserError(
            "Cannot deserialize instance of the sObject from the request body: expected a JSON object"
        )
    return call.body


def _xml_record(raw: bytes) -> dict[str, Any]:
    """An XML sObject body (`<Byline__c><Tweets__c>5</Tweets__c></Byline__c>`) -> {field: text or None}.

    Salesforce takes XML bodies for sObject rows: the root element names the record, each child is one
    field, `xsi:nil="true"` sets null. Responses stay JSON. A malformed document, or one declaring
    entities (an entity bomb, XXE), is 400 INVALID_XML (the code REST uses for malformed XML is
    UNCONFIRMED; the fact sheet says only "400 (malformed JSON/XML)").
    """
    try:
        root = fromstring(raw)
    except UNREADABLE_XML as err:
        raise InvalidXml(f"Unable to parse the XML request body: {err}") from None
    record: dict[str, Any] = {}
    for child in root:
        name = child.tag.rsplit("}", 1)[-1]
        if len(child):
            raise InvalidXml(f"Unable to parse the XML request body: element {name} must hold a field value")
        record[name] = None if is_nil(child) else (child.text or "")
    return record


def json_document(call: RestCall) -> Any:
    """The body of a resource the emulator reads as JSON only (Collections, Composite, Composite Batch).

    Salesforce also takes XML there; the emulator reads XML for single sObject rows alone and refuses
    it elsewhere with 415 rather than misreading it.
    """
    if call.media != "json":
        raise UnsupportedMediaType(
            "Content-Type header specified in HTTP request is not supported by this emulator for this resource: application/xml"
        )
    return call.body


# -- query ------------------------------------------------------------------------------------------
def _page_size(call: RestCall) -> int:
    options = call.headers.get("sforce-query-options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", options)
    if not m:
        return QUERY_PAGE_SIZE
    return min(max(int(m.group(1)), QUERY_PAGE_MIN), QUERY_PAGE_SIZE)


def query(call: RestCall) -> RestResult:
    text = call.arg("q")
    if not text:
        raise MalformedQuery("A query string (q) is required")
    cq = soql.compile_query(soql.parse(text), call.org.schema)
    if flag_param("columns", call.arg("columns")):
        return RestResult(200, column_metadata(cq))  # the query's column layout only; no rows are read
    if cq.is_count:
        sql, params = cq.count_sql()
        total = call.org.store.execute(sql, params).fetchone()[0]
        if cq.count_alias:
            # COUNT(field) is an aggregate query: one AggregateResult row, not a bare totalSize.
            row = {"attributes": {"type": "AggregateResult"}, cq.count_alias: total}
            return RestResult(200, {"totalSize": 1, "done": True, "records": [row]})
        return RestResult(200, {"totalSize": total, "done": True, "records": []})
    return _query_page(call, cq, 0)


def query_more(call: RestCall) -> RestResult:
    found = call.org.cursor(call.params["locator"])
    if found is None:
        raise InvalidQueryLocator("invalid query locator")
    cq, offset = found
    return _query_page(call, cq, offset)


def _query_page(call: RestCall, cq, offset: int) -> RestResult:
    size = _page_size(call)
    sql, params = cq.count_sql()
    total = call.org.store.execute(sql, params).fetchone()[0]
    rows = list(cq.rows(call.org.store, offset=offset, limit=size))
    records = [_query_record(call, cq, row) for row in rows]
    body: dict[str, Any] = {"totalSize": total, "done": offset + len(rows) >= total}
    if not body["done"]:
        body["nextRecordsUrl"] = f"{call.base}/query/{call.org.open_cursor(cq, offset + len(rows))}"
    body["records"] = records
    return RestResult(200, body)


def _query_record(call: RestCall, cq, row: dict[str, Any]) -> dict[str, Any]:
    obj = cq.sobject
    out: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{call.base}/sobjects/{obj.name}/{row['__id']}"}}
    for col in cq.columns:
        key = ".".join(col.path)
        value = col.field.to_json(row.get(key))
        if len(col.path) == 1:
            out[col.field.name if col.path[0].lower() == col.field.name.lower() else col.path[0]] = value
        else:
            rel = col.path[0]
            parent = out.get(rel)
            if parent is None and rel not in out:
                parent = {"attributes": {"type": col.target.name}}
                out[rel] = parent
            if isinstance(parent, dict):
                parent[col.field.name] = value
    # A parent whose fields are all null is rendered as null, as Salesforce does for an empty lookup.
    for key, value in list(out.items()):
        if (
            key != "attributes"
            and isinstance(value, dict)
            and all(v is None for k, v in value.items() if k != "attributes")
        ):
            out[key] = None
    return out


# -- sObject Collections ----------------------------------------------------------------------------
def _collection_records(call: RestCall) -> tuple[bool, list[dict[str, Any]]]:
    if call.version < 42.0:
        raise NotFound("The requested resource does not exist")
    body = json_document(call)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise JsonParserError("The request body must be an object with a records array")
    records = body["records"]
    if len(records) > COLLECTIONS_MAX_RECORDS:
        raise _too_many_records(len(records))
    if not records:
        raise InvalidField("The records array is empty")
    return bool(body.get("allOrNone", False)), records


def _too_many_records(n: int) -> ExceededIdLimit:
    return ExceededIdLimit(f"The number of records in the request ({n}) exceeds the limit of {COLLECTIONS_MAX_RECORDS}")


def _type_of(record: dict[str, Any]) -> str | None:
    attributes = record.get("attributes")
    if isinstance(attributes, dict) and isinstance(attributes.get("type"), str):
        return attributes["type"]
    return None


def _by_type_runs(call: RestCall, records: list[dict[str, Any]]):
    """Consecutive records of one type form a chunk (Salesforce allows at most 10 chunks)."""
    runs: list[tuple[str | None, list[int]]] = []
    for i, rec in enumerate(records):
        t = _type_of(rec) if isinstance(rec, dict) else None
        if runs and runs[-1][0] == t:
            runs[-1][1].append(i)
        else:
            runs.append((t, [i]))
    if len(runs) > 10:
        raise InvalidBatchSize(
            "Records of more than 10 consecutive object types (chunks) in one request are not allowed"
        )
    return runs


def _bad(code: str, message: str, fields: list[str] | None = None) -> SaveResult:
    return SaveResult(None, False, [RecordError(code, message, fields or [])])


_TYPE_REQUIRED = "When creating or updating records, the attributes.type field is required"


def collections_update(call: RestCall) -> RestResult:
    all_or_none, records = _collection_records(call)
    return _collections_write(call, records, all_or_none, "update")


def collections_create(call: RestCall) -> RestResult:
    all_or_none, records = _collection_records(call)
    return _collections_write(call, records, all_or_none, "insert")


class _RollBack(Exception):
    def __init__(self, results: list[SaveResult]) -> None:
        self.results = results


def _collections_write(call: RestCall, records: list[Any], all_or_none: bool, op: str) -> RestResult:
    """Write each run of same-type records."""
    results = _all_or_none(call, all_or_none, lambda conn: _write_runs(call, records, op, conn))
    return RestResult(200, save_results_json(results), records=len(records))


def _all_or_none(call: RestCall, all_or_none: bool, write: Callable[[Any], list[SaveResult]]) -> list[SaveResult]:
    """`write(conn)`'s results; with allOrNone, in one transaction that is really rolled back when any
    record fails, every other record then reporting ALL_OR_NONE_OPERATION_ROLLED_BACK."""
    if not all_or_none:
        return write(call.conn)
    try:
        with call.org.store.atomic(call.conn) as conn:
            results = write(conn)
            if any(not r.success for r in results):
                raise _RollBack(results)
    except _RollBack as rb:
        return [r if not r.success else r.rolled_back() for r in rb.results]
    return results


def _write_runs(call: RestCall, records: list[Any], op: str, conn) -> list[SaveResult]:
    org = call.org
    results: list[SaveResult | None] = [None] * len(records)
    for type_name, idx in _by_type_runs(call, records):
        obj = org.schema.get(type_name) if type_name else None
        if obj is None:
            for i in idx:
                msg = _TYPE_REQUIRED if not type_name else f"sObject type '{type_name}' is not supported."
                results[i] = _bad("INVALID_TYPE", msg)
            continue
        if op == "update":
            pairs = []
            for i in idx:
                rec = records[i] if isinstance(records[i], dict) else {}
                rid = next((v for k, v in rec.items() if k.lower() == "id"), None)
                pairs.append((rid, {k: v for k, v in rec.items() if k.lower() != "id"}))
            part = org.dml.update(obj, pairs, conn=conn)
        else:
            part = org.dml.insert(obj, [records[i] for i in idx], conn=conn)
        for i, res in zip(idx, part, strict=True):
            results[i] = res
    return [r for r in results if r is not None]


def collections_upsert(call: RestCall) -> RestResult:
    """PATCH `/composite/sobjects/{Object}/{Field}`: upsert up to 200 records of one object (API 46.0+).

    Results are UpsertResults (`created` each), in order. Per-record refusals, each UNCONFIRMED in its code
    and message: a record without attributes.type (INVALID_TYPE, as Collections updates answer it), a
    record of another object than the URL's ("The list can contain objects only of the type indicated in
    the request URI"; INVALID_TYPE), and a field upsert cannot match on (INVALID_FIELD, with the message
    clients were seen to receive: "Field name provided, X does not match an External ID, Salesforce Id, or
    indexed field for Obj"). Unlike REST rows, Id is a key here (CumulusCI's recordings upsert on
    `/composite/sobjects/Account/Id` with `"Id": null` to create).
    """
    if call.version < 46.0:
        raise NotFound("The requested resource does not exist")
    all_or_none, records = _collection_records(call)
    obj = call.org.sobject(call.params["sobject"])
    key = obj.upsert_key(call.params["field"])
    refused: dict[int, SaveResult] = {}
    for i, rec in enumerate(records):
        type_name = _type_of(rec) if isinstance(rec, dict) else None
        if type_name is None:
            refused[i] = _bad("INVALID_TYPE", _TYPE_REQUIRED)
        elif type_name.lower() != obj.name.lower():
            refused[i] = _bad(
                "INVALID_TYPE", f"sObject type '{type_name}' is not the type named in the request URI: {obj.name}"
            )
        elif key is None:
            refused[i] = _bad(
                "INVALID_FIELD",
                f"Field name provided, {call.params['field']} does not match an External ID, "
                f"Salesforce Id, or indexed field for {obj.name}",
            )
    accepted = [i for i in range(len(records)) if i not in refused]

    def write(conn: Any) -> list[SaveResult]:
        written = (
            upsert(call.org.dml, obj, key, rows_of(call.org.dml, obj, key, [records[i] for i in accepted]), conn=conn)
            if (accepted and key is not None)
            else []
        )
        out = dict(refused)
        out.update(zip(accepted, written, strict=True))
        return [out[i] for i in range(len(records))]

    results = _all_or_none(call, all_or_none, write)
    return RestResult(200, [r.to_upsert_json() for r in results], records=len(records), upserted=len(records))


def collections_get(call: RestCall) -> RestResult:
    if call.method == "GET":
        ids = [i for i in (call.arg("ids") or "").split(",") if i]
        fields = [f for f in (call.arg("fields") or "").split(",") if f]
        obj = call.org.sobject(call.params.get("sobject", ""))
        out: list[Any] = []
        for raw in ids:
            rid = to_18(raw)
            row = call.org.store.get(obj, rid) if rid else None
            out.append(record_json(call, obj, row, fields or None) if row else None)
        return RestResult(200, out)
    raise MethodNotAllowed("GET requires /composite/sobjects/{sObject}")


def collections_delete(call: RestCall) -> RestResult:
    ids = [i for i in (call.arg("ids") or "").split(",") if i]
    if len(ids) > COLLECTIONS_MAX_RECORDS:
        raise _too_many_records(len(ids))
    all_or_none = (call.arg("allOrNone") or "false").lower() == "true"
    results = call.org.dml.delete(None, ids, all_or_none=all_or_none, conn=call.conn)
    return RestResult(200, save_results_json(results), records=len(ids))


route("", GET=resources)
route("/limits", GET=limits)
route("/sobjects", GET=describe_global)
route("/sobjects/(?P<sobject>[^/]+)", GET=sobject_basic, POST=sobject_create)
route("/sobjects/(?P<sobject>[^/]+)/describe", GET=sobject_describe)
route("/sobjects/(?P<sobject>[^/]+)/(?P<id>[^/]+)", GET=row_get, PATCH=row_patch, DELETE=row_delete, POST=row_post)
route("/sobjects/(?P<sobject>[^/]+)/(?P<field>[^/]+)/(?P<value>[^/]+)", GET=external_get, PATCH=external_upsert)
route("/query", GET=query)
route("/queryAll", GET=query)
route("/query/(?P<locator>[^/]+)", GET=query_more)
route("/queryAll/(?P<locator>[^/]+)", GET=query_more)
route("/composite/sobjects", PATCH=collections_update, POST=collections_create, DELETE=collections_delete)
route("/composite/sobjects/(?P<sobject>[^/]+)", GET=collections_get)
route("/composite/sobjects/(?P<sobject>[^/]+)/(?P<field>[^/]+)", PATCH=collections_upsert)
