"""Upsert: each record is matched on a key field, then updated, or created when nothing matches.

One rule set for every API family (REST rows by external id, sObject Collections, Composite subrequests,
Bulk 1.0 and Bulk 2.0): a family says which records and which key; this module decides each record's
fate and hands the writes to `DmlEngine` (`update_rows` for a match, `insert_prepared` for a new record),
so an upserted record meets exactly the field rules, validation rules and uniqueness of an update or an
insert. Upsert may match on Id, an external id or an idLookup field (schema.py).

Per record, in this order:
- its key is its value for the key field (REST: the value in the URL). A record with no key value
  (absent, null or empty) is created: no key matches no record (with Id as the key this is documented;
  for an external id it is what jsforce #589 ("you could have a blank value as an External Id") and
  Salesforce's Mobile SDK ("upsert with external id null ... does a create") report, UNCONFIRMED by
  Salesforce's guides);
- a key value the field cannot hold fails as the field fails it (STRING_TOO_LONG, INVALID_TYPE_ON_FIELD...);
- records of one call naming the same key (as the field folds case) all fail with DUPLICATE_VALUE
  "Duplicate external id specified: <value>", the code and message clients parse (castled's
  SalesforceErrorParser; a loader noting that "Salesforce rejects every row sharing a key within one
  request"). With Id as the key the rule of update holds instead: a record named twice takes its later
  values;
- a key that several stored records hold (a key field that is not unique) fails with
  DUPLICATE_EXTERNAL_ID "<field label>: more than one record found for external id field: [<ids>]", the
  message seen in client code and error logs; REST answers that case 300 (api/rest.py);
- one match: the record is updated (`created` false); none: it is created (`created` true), its key
  field set to the key when its own values do not set it (REST keeps the key in the URL, not the body).
With `all_or_none`, any failure rolls the whole call back and every other record reports
ALL_OR_NONE_OPERATION_ROLLED_BACK.

A call is one REST request, one Collections request, or one 200-record transaction of a Bulk job. The
duplicate rule's scope in Bulk jobs is UNCONFIRMED: here, the same key in two transactions of a job
creates the record in the first and updates it in the second.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dml import DmlEngine, FieldLayout, SaveResult, UpdateRows
from .errors import RecordError
from .schema import FieldDef, SObjectDef
from .store import RecordStore


@dataclass
class UpsertRows:
    """Records to upsert: each one's raw key value (None or "" when it names none), and its values as its
    `FieldLayout` lays them out (the key field among them or not)."""

    keys: Sequence[Any]
    layouts: Sequence[FieldLayout]
    rows: Sequence[Sequence[Any]]

    def __len__(self) -> int:
        return len(self.keys)


def rows_of(dml: DmlEngine, obj: SObjectDef, key: FieldDef, records: Sequence[Mapping[str, Any]]) -> UpsertRows:
    """`{field: value}` records (JSON bodies, Bulk XML and JSON records) as `UpsertRows`: each one's key is
    its value for the key field, whatever the case of the name."""
    return UpsertRows(
        [value_named(values, key.name) for values in records],
        [dml.layout(obj, tuple(values)) for values in records],
        [tuple(values.values()) for values in records],
    )


def value_named(values: Mapping[str, Any], name: str) -> Any:
    """The value a record gives the field `name` (names compare case-insensitively), None when it gives none."""
    found = values.get(name)
    if found is not None or name in values:
        return found
    lowered = name.lower()
    return next((v for k, v in values.items() if k.lower() == lowered), None)


def keyed_ids(store: RecordStore, obj: SObjectDef, key: FieldDef, raw: Any) -> list[str]:
    """The ids of the stored records a raw key value matches, in id order (raises the field's RecordError
    for a value it cannot hold)."""
    value = key.coerce(raw)
    if value is None or value == "":
        return []
    return store.ids_by_value(obj, key, [value]).get(key.match_key(value), [])


def upsert(
    dml: DmlEngine,
    obj: SObjectDef,
    key: FieldDef,
    records: UpsertRows,
    *,
    all_or_none: bool = False,
    conn: sqlite3.Connection | None = None,
    lock_owner: object | None = None,
) -> list[SaveResult]:
    """Upsert `records` on `key`; one result per record, in order (`created` says which were created).

    Matching and writing share one transaction (a savepoint inside `conn`'s), so no other writer can
    create a key between the lookup and the insert. Parent records locked by another bulk transaction
    fail the records that need them at once (`lock_owner`, as `DmlEngine.update_rows` takes it).
    """
    try:
        with dml.store.atomic(conn) as c:
            results = _decide_and_write(dml, obj, key, records, c, lock_owner)
            if all_or_none and any(not r.success for r in results):
                raise _RolledBack(results)
    except _RolledBack as rolled:
        return [r if not r.success else r.rolled_back() for r in rolled.results]
    return results


class _RolledBack(Exception):
    def __init__(self, results: list[SaveResult]) -> None:
        self.results = results


def _decide_and_write(
    dml: DmlEngine,
    obj: SObjectDef,
    key: FieldDef,
    records: UpsertRows,
    conn: sqlite3.Connection,
    lock_owner: object | None,
) -> list[SaveResult]:
    results: list[SaveResult | None] = [None] * len(records)
    by_id = key.name == "Id"
    values: list[Any] = [None] * len(records)  # each record's key as the field stores it; None: create
    named: dict[Any, list[int]] = {}  # match key -> positions naming it
    for i, raw in enumerate(records.keys):
        if raw is None or raw == "":
            continue
        if by_id:
            values[i] = raw  # update_rows checks the id: malformed, another object's, or no such record
            continue
        try:
            value = key.coerce(raw)
        except RecordError as err:
            results[i] = SaveResult(None, False, [err])
            continue
        if value is not None and value != "":
            values[i] = value
            named.setdefault(key.match_key(value), []).append(i)
    for positions in named.values():
        if len(positions) > 1:
            for i in positions:
                error = RecordError("DUPLICATE_VALUE", f"Duplicate external id specified: {records.keys[i]}", [])
                results[i] = SaveResult(None, False, [error])
    held = (
        {} if by_id else dml.store.ids_by_value(obj, key, [values[p[0]] for p in named.values() if len(p) == 1], conn)
    )
    updates: list[int] = []
    targets: list[Any] = []
    creates: list[int] = []
    for i, value in enumerate(values):
        if results[i] is not None:
            continue
        if value is None:
            creates.append(i)
            continue
        found = [value] if by_id else held.get(key.match_key(value), [])
        if len(found) > 1:
            message = f"{key.label}: more than one record found for external id field: [{', '.join(found)}]"
            results[i] = SaveResult(None, False, [RecordError("DUPLICATE_EXTERNAL_ID", message, [])])
        elif found:
            updates.append(i)
            targets.append(found[0])
        else:
            creates.append(i)
    if updates:
        updated = dml.update_rows(
            obj,
            UpdateRows(targets, [records.layouts[i] for i in updates], [records.rows[i] for i in updates]),
            conn=conn,
            lock_owner=lock_owner,
        )
        for i, result in zip(updates, updated, strict=True):
            results[i] = result
    if creates:
        prepared: dict[int, dict[str, Any]] = {}
        failed: list[SaveResult | None] = [None] * len(creates)
        for j, i in enumerate(creates):
            try:
                prepared[j] = records.layouts[i].changes(records.rows[i])
            except RecordError as err:
                failed[j] = SaveResult(None, False, [err])
                continue
            if values[i] is not None:
                prepared[j].setdefault(key.column, values[i])
        for i, result in zip(creates, dml.insert_prepared(obj, prepared, failed, conn=conn), strict=True):
            results[i] = result
    return results  # type: ignore[return-value]  # every record has its result by now
