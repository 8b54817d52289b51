"""Record-level rules of the org: insert, update, delete and retrieve, with Salesforce's per-record errors.

Every API family (REST rows, Collections, Composite, Bulk 1.0, Bulk 2.0) funnels its writes through
`DmlEngine`, so a record fails the same way whichever API carried it. A call takes a list of records and
returns one `SaveResult` per record, in order; with `all_or_none` nothing is written when anything fails.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import ids
from .errors import RecordError
from .profiles import FaultConfig
from .schema import Schema, SObjectDef, now_stamp
from .store import RecordStore

#: Marker a bulk text value uses to set a field to null ("#N/A" in Bulk CSV; xsi:nil in XML).
NULL = None
_IGNORED_KEYS = {"attributes"}


@dataclass
class SaveResult:
    id: str | None
    success: bool
    errors: list[RecordError] = field(default_factory=list)
    created: bool = False

    def to_json(self) -> dict:
        return {"id": self.id, "success": self.success, "errors": [e.as_save_error() for e in self.errors]}


ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


class ParentLocks:
    """Row locks on parent records held by in-flight bulk transactions (lock contention model)."""

    def __init__(self) -> None:
        self._owners: dict[str, object] = {}
        self._cond = threading.Condition()

    def acquire(self, parents: Iterable[str], owner: object, timeout: float) -> set[str]:
        """Lock what can be locked within `timeout`; returns the parents that stayed locked by others."""
        wanted = set(p for p in parents if p)
        deadline = None
        with self._cond:
            import time

            deadline = time.monotonic() + max(timeout, 0.0)
            while True:
                blocked = {p for p in wanted if self._owners.get(p, owner) is not owner}
                if not blocked or time.monotonic() >= deadline:
                    for p in wanted - blocked:
                        self._owners[p] = owner
                    return blocked
                self._cond.wait(max(deadline - time.monotonic(), 0.0))

    def release(self, owner: object) -> None:
        with self._cond:
            for key in [k for k, v in self._owners.items() if v is owner]:
                del self._owners[key]
            self._cond.notify_all()


class DmlEngine:
    def __init__(self, schema: Schema, store: RecordStore, id_factory: ids.IdFactory, user_id: str, faults: Callable[[], FaultConfig]) -> None:
        self.schema = schema
        self.store = store
        self.ids = id_factory
        self.user_id = user_id
        self._faults = faults
        self.parent_locks = ParentLocks()

    # -- update -----------------------------------------------------------------------------------
    def update(
        self,
        obj: SObjectDef,
        records: Sequence[tuple[Any, Mapping[str, Any]]],
        *,
        all_or_none: bool = False,
        conn: sqlite3.Connection | None = None,
        lock_owner: object | None = None,
        lock_timeout: float = 0.0,
    ) -> list[SaveResult]:
        """Update `(raw id, {field: value})` pairs. Values are JSON-typed or text; None sets null."""
        results: list[SaveResult | None] = [None] * len(records)
        canon: list[str | None] = []
        for i, (raw_id, _) in enumerate(records):
            rid = ids.to_18(raw_id) if isinstance(raw_id, str) else None
            if rid is None or rid[:3] != obj.key_prefix:
                shown = raw_id if raw_id not in (None, "") else ""
                results[i] = SaveResult(None, False, [RecordError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {shown}", ["Id"])])
                canon.append(None)
            else:
                canon.append(rid)
        existing = self.store.get_many(obj, [c for c in canon if c], conn, obj.rule_columns)
        changes_by_row: dict[int, dict[str, Any]] = {}
        for i, (_, values) in enumerate(records):
            rid = canon[i]
            if rid is None:
                continue
            row = existing.get(rid)
            if row is None or row.get("isdeleted"):
                results[i] = SaveResult(rid, False, [RecordError("ENTITY_IS_DELETED", "entity is deleted", [])])
                continue
            try:
                changes = self._coerce_fields(obj, values, for_insert=False)
                merged = {**row, **changes}
                self._check_required(obj, merged)
                for rule in obj.rules:
                    rule.check(merged)
            except RecordError as err:
                results[i] = SaveResult(rid, False, [err])
                continue
            changes_by_row[i] = changes
        self._check_references(obj, changes_by_row, results, canon, conn)
        self._inject_lock_failures(obj, changes_by_row, results, canon, existing, lock_owner, lock_timeout)
        if all_or_none and any(r is not None and not r.success for r in results):
            return [r if (r is not None and not r.success) else SaveResult(canon[i], False, [ROLLED_BACK]) for i, r in enumerate(results)]
        stamp = now_stamp()
        writes = []
        for i, changes in changes_by_row.items():
            if results[i] is not None:
                continue
            full = dict(changes)
            if obj.computed_fields:
                self._apply_computed(obj, full, existing[canon[i]])
            full.update({"lastmodifieddate": stamp, "systemmodstamp": stamp, "lastmodifiedbyid": self.user_id})
            writes.append((canon[i], full))
            results[i] = SaveResult(canon[i], True)
        self._write_updates(obj, writes, conn)
        return [r for r in results if r is not None]

    def _write_updates(self, obj: SObjectDef, writes: list[tuple[str, dict[str, Any]]], conn: sqlite3.Connection | None) -> None:
        if not writes:
            return
        groups: dict[tuple[str, ...], list[tuple]] = {}
        for rid, changes in writes:
            key = tuple(changes)
            groups.setdefault(key, []).append((*changes.values(), rid))

        def run(c: sqlite3.Connection) -> None:
            for cols, rows in groups.items():
                sets = ", ".join(f'"{col}" = ?' for col in cols)
                c.executemany(f'UPDATE "{obj.table}" SET {sets} WHERE id = ?', rows)

        if conn is not None:
            run(conn)
        else:
            with self.store.transaction() as c:
                run(c)

    # -- insert -----------------------------------------------------------------------------------
    def insert(self, obj: SObjectDef, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False, conn: sqlite3.Connection | None = None) -> list[SaveResult]:
        results: list[SaveResult | None] = [None] * len(records)
        prepared: dict[int, dict[str, Any]] = {}
        for i, values in enumerate(records):
            try:
                if any(k.lower() == "id" and v for k, v in values.items()):
                    raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
                row = self._coerce_fields(obj, values, for_insert=True)
                self._check_required(obj, row)
                for rule in obj.rules:
                    rule.check(row)
            except RecordError as err:
                results[i] = SaveResult(None, False, [err])
                continue
            prepared[i] = row
        self._check_references(obj, prepared, results, [None] * len(records), conn)
        if all_or_none and any(r is not None and not r.success for r in results):
            return [r if (r is not None and not r.success) else SaveResult(None, False, [ROLLED_BACK]) for r in results]
        stamp = now_stamp()
        rows = []
        for i, row in prepared.items():
            if results[i] is not None:
                continue
            rid = self.ids.next_id(obj.key_prefix)
            self._apply_computed(obj, row, {})
            row.update({"id": rid, "createddate": stamp, "createdbyid": self.user_id, "lastmodifieddate": stamp,
                        "lastmodifiedbyid": self.user_id, "systemmodstamp": stamp, "isdeleted": 0})
            rows.append(row)
            results[i] = SaveResult(rid, True, created=True)

        def run(c: sqlite3.Connection) -> None:
            for row in rows:
                cols = list(row)
                c.execute(f'INSERT INTO "{obj.table}" ({", ".join(chr(34) + k + chr(34) for k in cols)}) VALUES ({", ".join("?" * len(cols))})', list(row.values()))

        if rows:
            if conn is not None:
                run(conn)
            else:
                with self.store.transaction() as c:
                    run(c)
        return [r for r in results if r is not None]

    # -- delete / retrieve ------------------------------------------------------------------------
    def delete(self, obj: SObjectDef | None, raw_ids: Sequence[str], *, all_or_none: bool = False, conn: sqlite3.Connection | None = None) -> list[SaveResult]:
        results: list[SaveResult] = []
        targets: list[tuple[SObjectDef, str]] = []
        for raw in raw_ids:
            rid = ids.to_18(raw) if isinstance(raw, str) else None
            target = obj or (self.schema.by_prefix(rid[:3]) if rid else None)
            if rid is None or target is None or rid[:3] != target.key_prefix:
                results.append(SaveResult(None, False, [RecordError("MALFORMED_ID", f"malformed id {raw}", [])]))
                continue
            if not self.store.get_many(target, [rid], conn):
                results.append(SaveResult(rid, False, [RecordError("ENTITY_IS_DELETED", "entity is deleted", [])]))
                continue
            results.append(SaveResult(rid, True))
            targets.append((target, rid))
        if all_or_none and any(not r.success for r in results):
            return [r if not r.success else SaveResult(r.id, False, [ROLLED_BACK]) for r in results]
        if conn is not None:
            for target, rid in targets:
                self.store.delete_row(target, rid, conn)
        elif targets:
            with self.store.transaction() as c:
                for target, rid in targets:
                    self.store.delete_row(target, rid, c)
        return results

    def retrieve(self, obj: SObjectDef, raw_id: str) -> dict[str, Any] | None:
        rid = ids.to_18(raw_id)
        if rid is None or rid[:3] != obj.key_prefix:
            return None
        return self.store.get(obj, rid)

    # -- rules ------------------------------------------------------------------------------------
    def _coerce_fields(self, obj: SObjectDef, values: Mapping[str, Any], *, for_insert: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name in _IGNORED_KEYS or name.lower() == "id":
                continue
            fd = obj.field(name)
            if fd is None:
                raise RecordError("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name])
            if fd.read_only:
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fd.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    [fd.name],
                )
            out[fd.column] = fd.coerce(value)
        return out

    def _check_required(self, obj: SObjectDef, merged: Mapping[str, Any]) -> None:
        missing = [f.name for f in obj.required_fields if merged.get(f.column) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)

    def _check_references(self, obj, changes_by_row, results, canon, conn) -> None:
        wanted: dict[str, set[str]] = {}
        ref_fields = obj.reference_fields
        if not ref_fields:
            return
        for i, changes in changes_by_row.items():
            for f in ref_fields:
                value = changes.get(f.column)
                if value:
                    wanted.setdefault(f.reference_to, set()).add(value)
        found: dict[str, set[str]] = {}
        for target_name, values in wanted.items():
            target = self.schema.get(target_name)
            found[target_name] = set(self.store.get_many(target, list(values), conn)) if target else set()
        for i, changes in changes_by_row.items():
            if results[i] is not None:
                continue
            for f in ref_fields:
                value = changes.get(f.column)
                if not value:
                    continue
                target = self.schema.get(f.reference_to)
                if target is not None and value[:3] != target.key_prefix:
                    results[i] = SaveResult(canon[i], False, [RecordError("FIELD_INTEGRITY_EXCEPTION", f"{f.label} ID: id value of incorrect type: {value}", [f.name])])
                    break
                if value not in found.get(f.reference_to, set()):
                    results[i] = SaveResult(canon[i], False, [RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])])
                    break

    def _inject_lock_failures(self, obj, changes_by_row, results, canon, existing, lock_owner, lock_timeout) -> None:
        faults = self._faults()
        if faults.lock_error_rate > 0:
            for i in changes_by_row:
                if results[i] is None and faults.roll(faults.lock_error_rate):
                    results[i] = SaveResult(canon[i], False, [_lock_error(canon[i])])
        if lock_owner is None or not faults.parent_lock_contention:
            return
        parent_fields = [f.column for f in obj.fields.values() if f.type == "reference" and f.reference_to and not f.read_only]
        if not parent_fields:
            return
        parent_of: dict[int, set[str]] = {}
        for i, changes in changes_by_row.items():
            if results[i] is not None:
                continue
            row = existing.get(canon[i], {})
            parent_of[i] = {changes.get(c, row.get(c)) for c in parent_fields} - {None, ""}
        blocked = self.parent_locks.acquire(set().union(*parent_of.values()) if parent_of else set(), lock_owner, lock_timeout)
        for i, parents in parent_of.items():
            if parents & blocked:
                results[i] = SaveResult(canon[i], False, [_lock_error(sorted(parents & blocked)[0])])

    def prelock_parents(self, obj: SObjectDef, records: Sequence[tuple[Any, Mapping[str, Any]]], owner: object, timeout: float) -> None:
        """Take the parent-record locks an update of `records` will need, waiting up to `timeout`.

        Called outside any write transaction; `update(..., lock_owner=owner)` then finds the parents it
        got already held by `owner` and fails only the records whose parents stayed locked by others.
        """
        ref_fields = obj.reference_fields
        if not ref_fields:
            return
        canon = [ids.to_18(raw) if isinstance(raw, str) else None for raw, _ in records]
        existing = self.store.get_many(obj, [c for c in canon if c])
        parents: set[str] = set()
        for rid, (_, values) in zip(canon, records):
            row = existing.get(rid or "", {})
            lowered = {k.lower(): v for k, v in values.items()}
            for f in ref_fields:
                value = lowered[f.column] if f.column in lowered else row.get(f.column)
                parent = ids.to_18(value.strip()) if isinstance(value, str) and value.strip() else None
                if parent:
                    parents.add(parent)
        if parents:
            self.parent_locks.acquire(parents, owner, timeout)

    def _apply_computed(self, obj: SObjectDef, changes: dict[str, Any], row: Mapping[str, Any]) -> None:
        for f in obj.computed_fields:
            if any(src.lower() in changes for src in f.computed_from):
                parts = [changes.get(src.lower(), row.get(src.lower())) for src in f.computed_from]
                changes[f.column] = " ".join(p for p in parts if p)


def _lock_error(record_id: str) -> RecordError:
    return RecordError("UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record or 1 records: {record_id}", [])
