"""Record-level rules of the org: insert, update, delete and retrieve, with Salesforce's per-record errors.

Every API family (REST rows, Collections, Composite, Bulk 1.0, Bulk 2.0) funnels its writes through
`DmlEngine`, so a record fails the same way whichever API carried it. A call takes a list of records and
returns one `SaveResult` per record, in order; with `all_or_none` nothing is written when anything fails.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, overload

from . import ids
from .errors import RecordError
from .profiles import FaultConfig
from .schema import FieldDef, Schema, SObjectDef, now_stamp
from .store import RecordStore

_IGNORED_KEYS = {"attributes"}
_LAYOUT_CACHE_SIZE = 512


@dataclass(slots=True)
class SaveResult:
    id: str | None
    success: bool
    errors: Sequence[RecordError] = ()  # not a list per success: bulk jobs make a million of these
    created: bool = False

    def to_json(self) -> dict:
        return {"id": self.id, "success": self.success, "errors": [e.as_save_error() for e in self.errors]}

    def to_upsert_json(self) -> dict:
        """An UpsertResult: a SaveResult that also says whether the record was created."""
        return {**self.to_json(), "created": self.created}

    def rolled_back(self) -> SaveResult:
        """This result once its transaction was rolled back: a record it created no longer exists."""
        return SaveResult(None if self.created else self.id, False, [ROLLED_BACK])


class AllSaved(Sequence[SaveResult]):
    """The results of an update whose every record succeeded, held as the records' ids.

    A bulk job's clean transactions make a million results; a writer of result files reads `ids` and
    builds no object per record. Anyone else gets each `SaveResult` on demand.
    """

    __slots__ = ("ids",)

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> SaveResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[SaveResult]: ...

    def __getitem__(self, index: int | slice) -> SaveResult | list[SaveResult]:
        if isinstance(index, slice):
            return [SaveResult(rid, True) for rid in self.ids[index]]
        return SaveResult(self.ids[index], True)

    def __iter__(self) -> Iterator[SaveResult]:
        return (SaveResult(rid, True) for rid in self.ids)


ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


class FieldLayout:
    """Which field each position of a record's values sets, resolved once for every record of that shape.

    The field rules that do not depend on a value live here, in one place for every API family: names
    are matched case-insensitively, `Id` and `attributes` are not written, an unknown or read-only field
    fails a record that carries a value for it. Those failures are raised in column order among the
    value errors, so a record with several problems reports the same first one whichever API carried it.

    REST bodies and Bulk XML/JSON records are mappings: one layout per distinct key order (cached by
    `DmlEngine.layout`). Bulk CSV rows are positional under one header, one layout per job, with Bulk's
    text conventions: `null_text` sets null and an empty value leaves the field unchanged.
    """

    __slots__ = ("_fields", "_raw_positions", "_refuses", "columns", "null_text")

    def __init__(self, obj: SObjectDef, names: Sequence[str], *, null_text: str | None = None) -> None:
        self.null_text = null_text
        #: (position, column, coerce): `coerce` turns the value into the stored form or raises RecordError.
        #: A field that cannot be written has no column (""): its `coerce` always raises.
        self.columns: list[tuple[int, str, Callable[[Any], Any]]] = []
        self._fields: list[FieldDef | None] = []  # each column's field, None for one that refuses its values
        self._raw_positions: dict[str, int] = {}  # column -> position of its (last) value, for prelock
        for position, name in enumerate(names):
            if name in _IGNORED_KEYS or name.lower() == "id":
                continue
            fd = obj.field(name)
            if fd is None:
                self.columns.append(
                    (
                        position,
                        "",
                        _refuse("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", name),
                    )
                )
                self._fields.append(None)
            elif fd.read_only:
                message = (
                    f"Unable to create/update fields: {fd.name}. Please check the security settings of this field and "
                    "verify that it is read/write for your profile or permission set."
                )
                self.columns.append((position, "", _refuse("INVALID_FIELD_FOR_INSERT_UPDATE", message, fd.name)))
                self._fields.append(None)
            else:
                self.columns.append((position, fd.column, fd.coerce))
                self._fields.append(fd)
                self._raw_positions[fd.column] = position
        self._refuses = any(fd is None for fd in self._fields)

    def changes(self, row: Sequence[Any]) -> dict[str, Any]:
        """{column: stored value} for one record's values; raises the record's first RecordError."""
        out: dict[str, Any] = {}
        null = self.null_text
        if null is None:
            for position, column, coerce in self.columns:
                out[column] = coerce(row[position])
        else:
            for position, column, coerce in self.columns:
                value = row[position]
                if value != "":
                    out[column] = coerce(None if value == null else value)
        return out

    def sets(self, column: str) -> bool:
        """Whether records of this layout give `column` a value (possibly null)."""
        return column in self._raw_positions

    def clean_columns(self, rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]] | None:
        """{column: each record's stored value} for bulk text rows (`null_text` set) that give every column
        of the layout a valid value; None when any row leaves a field unchanged (empty), sets it null,
        or holds a value that is not valid, or the layout has a column that refuses values.

        `changes` a column at a time: a transaction's values are transposed and coerced in C. It never
        decides an error: on None, `changes` takes the records one by one and reports each one's first.
        """
        null = self.null_text
        if null is None or not rows or self._refuses or len(set(map(len, rows))) != 1:
            return None
        by_position = list(zip(*rows, strict=True))  # rows of one width (checked above)
        out: dict[str, list[Any]] = {}
        for (position, _, _), fd in zip(self.columns, self._fields, strict=True):
            texts = by_position[position]
            if fd is None or fd.column in out or "" in texts or null in texts:
                return None
            values = fd.coerce_texts(texts)
            if values is None:
                return None
            out[fd.column] = values
        return out

    def raw_value(self, row: Sequence[Any], column: str, default: Any) -> Any:
        """The record's uncoerced value for `column` (None for null), or `default` when it leaves it unchanged."""
        position = self._raw_positions.get(column)
        if position is None:
            return default
        value = row[position]
        if self.null_text is not None:
            if value == "":
                return default
            if value == self.null_text:
                return None
        return value


def _refuse(code: str, message: str, name: str) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        raise RecordError(code, message, [name])

    return coerce


@dataclass
class UpdateRows:
    """Records to update: each one's raw id, and its values laid out as its `FieldLayout` says.

    `shared` is the layout every record has, when they all have one (the rows of one CSV header): such a
    transaction may be applied a column at a time (`DmlEngine.update_rows`).
    """

    raw_ids: Sequence[Any]
    layouts: Sequence[FieldLayout]
    rows: Sequence[Sequence[Any]]
    shared: FieldLayout | None = None

    def __len__(self) -> int:
        return len(self.raw_ids)


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
        if not self._owners:
            return  # nothing is locked (the usual case), so `owner` holds nothing: no one to wake
        with self._cond:
            for key in [k for k, v in self._owners.items() if v is owner]:
                del self._owners[key]
            self._cond.notify_all()


class DmlEngine:
    def __init__(
        self,
        schema: Schema,
        store: RecordStore,
        id_factory: ids.IdFactory,
        user_id: str,
        faults: Callable[[], FaultConfig],
    ) -> None:
        self.schema = schema
        self.store = store
        self.ids = id_factory
        self.user_id = user_id
        self._faults = faults
        self.parent_locks = ParentLocks()
        self._layouts: dict[tuple[str, tuple[str, ...]], FieldLayout] = {}
        self._sql: dict[tuple, str] = {}  # statement texts and conditions, by the shape they were built for

    def layout(self, obj: SObjectDef, names: tuple[str, ...]) -> FieldLayout:
        """The layout of mapping records with these keys (cached: a call's records mostly share one shape)."""
        key = (obj.name, names)
        found = self._layouts.get(key)
        if found is None:
            if len(self._layouts) >= _LAYOUT_CACHE_SIZE:
                self._layouts.clear()
            found = self._layouts[key] = FieldLayout(obj, names)
        return found

    def rows_of(self, obj: SObjectDef, records: Sequence[tuple[Any, Mapping[str, Any]]]) -> UpdateRows:
        """`(raw id, {field: value})` pairs as `UpdateRows`."""
        return UpdateRows(
            [raw_id for raw_id, _ in records],
            [self.layout(obj, tuple(values)) for _, values in records],
            [tuple(values.values()) for _, values in records],
        )

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
        return list(
            self.update_rows(
                obj,
                self.rows_of(obj, records),
                all_or_none=all_or_none,
                conn=conn,
                lock_owner=lock_owner,
                lock_timeout=lock_timeout,
            )
        )

    def update_rows(
        self,
        obj: SObjectDef,
        records: UpdateRows,
        *,
        all_or_none: bool = False,
        conn: sqlite3.Connection | None = None,
        lock_owner: object | None = None,
        lock_timeout: float = 0.0,
    ) -> Sequence[SaveResult]:
        """Update records given positionally; every update, whatever API carried it, ends here.

        Per record, in this order: a malformed or wrong-object id, a record not found, the values (in
        column order), required fields and validation rules on the record as it would be stored, then
        references (checked for the whole transaction in one query per target), then injected lock
        failures. Successful records are written with one statement per set of columns written.
        """
        clean = self._update_clean(obj, records, conn, lock_owner)
        if clean is not None:
            return clean
        results: list[SaveResult | None] = [None] * len(records)
        canon, existing = self._stored_rows(obj, records.raw_ids, conn)
        names = ("id", *obj.rule_columns)
        deleted = names.index("isdeleted")
        check = self._check_record
        changes_by_row: dict[int, dict[str, Any]] = {}
        merged_by_row: dict[int, dict[str, Any]] = {}  # each record as it would be stored
        for i, (rid, layout, row) in enumerate(zip(canon, records.layouts, records.rows, strict=True)):
            if rid is None:
                raw_id = records.raw_ids[i]
                shown = raw_id if raw_id not in (None, "") else ""
                results[i] = SaveResult(
                    None,
                    False,
                    [RecordError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {shown}", ["Id"])],
                )
                continue
            current = existing.get(rid)
            if current is None or current[deleted]:
                results[i] = SaveResult(rid, False, [RecordError("ENTITY_IS_DELETED", "entity is deleted", [])])
                continue
            try:
                changes = layout.changes(row)
                merged = dict(zip(names, current, strict=True))
                merged.update(changes)
                check(obj, merged)
            except RecordError as err:
                results[i] = SaveResult(rid, False, [err])
                continue
            changes_by_row[i] = changes
            merged_by_row[i] = merged
        self._check_references(obj, changes_by_row, results, canon, conn)
        self._check_unique(obj, changes_by_row, results, canon, conn, records.layouts)
        self._inject_lock_failures(obj, changes_by_row, merged_by_row, results, canon, lock_owner, lock_timeout)
        if all_or_none and any(r is not None and not r.success for r in results):
            return [
                r if (r is not None and not r.success) else SaveResult(canon[i], False, [ROLLED_BACK])
                for i, r in enumerate(results)
            ]
        groups: dict[tuple[str, ...], dict[str, tuple]] = {}
        computed = obj.computed_fields
        for i, changes in changes_by_row.items():
            if results[i] is not None:
                continue
            rid = canon[i]
            assert rid is not None  # a malformed id already has its result
            if computed:
                self._apply_computed(obj, changes, merged_by_row[i])
            columns = tuple(changes)
            group = groups.get(columns)
            if group is None:
                group = groups[columns] = {}
            group[rid] = (
                rid,
                *changes.values(),
            )  # a record named twice takes its later values, as when written one by one
            results[i] = SaveResult(rid, True)
        self._write_updates(obj, groups, conn)
        return results  # type: ignore[return-value]  # every record has its result by now

    def _update_clean(
        self, obj: SObjectDef, records: UpdateRows, conn: sqlite3.Connection | None, lock_owner: object | None
    ) -> AllSaved | None:
        """A transaction whose every record succeeds, applied a column at a time; None (nothing written)
        when success is not certain for each record, which then goes through the per-record rules.

        For bulk CSV transactions (one layout): a million-record job spent most of its time reading each
        record's stored row and checking it in Python. Here the values are coerced per column
        (`FieldLayout.clean_columns`), the record rules screened on the new values (`_values_pass`),
        and the stored rows screened by the write itself: its WHERE clause only updates a record found
        under the exact id sent, not deleted, whose untouched columns pass the rules. When it updates
        fewer records than were sent, a savepoint undoes it. So no record ever fails here: every error
        comes from the per-record path, the one place that reports it. Lock faults, references and
        computed fields take the per-record path too.
        """
        layout = records.shared
        faults = self._faults()
        if layout is None or conn is None or not records.raw_ids or faults.lock_error_rate > 0:
            return None
        if lock_owner is not None and faults.parent_lock_contention and obj.reference_fields:
            return None
        raw_ids = records.raw_ids
        if len(set(raw_ids)) != len(raw_ids):
            return None  # the later values of a record named twice win: the per-record path groups them
        updated = layout.clean_columns(records.rows)
        if updated is None or any(f.column in updated for f in obj.reference_fields):
            return None
        if any(source.lower() in updated for f in obj.computed_fields for source in f.computed_from):
            return None
        if not self._values_pass(obj, updated):
            return None
        cols = tuple(updated)
        conn.execute("SAVEPOINT clean_update")
        written = self._write_values(
            conn, obj, cols, [raw_ids, *updated.values()], now_stamp(), self._stored_screen(obj, cols)
        )
        if written != len(raw_ids):
            conn.execute("ROLLBACK TO clean_update")
        conn.execute("RELEASE clean_update")
        if written != len(raw_ids):
            return None
        return AllSaved(raw_ids)

    @staticmethod
    def _values_pass(obj: SObjectDef, updated: Mapping[str, Sequence[Any]]) -> bool:
        """`_check_record` on a whole transaction's new values (column -> each record's value): False when
        one fails it. `_stored_screen` checks the stored columns the update leaves."""
        for required in obj.required_fields:
            values = updated.get(required.column)
            if values is not None and (None in values or "" in values):
                return False
        return all(rule.passes_all(updated) for rule in obj.rules)

    def _stored_screen(self, obj: SObjectDef, updated: tuple[str, ...]) -> str:
        """SQL that holds for a stored row whose record, updated in the columns `updated`, passes the rules
        of `_check_record` in the columns the update leaves, and is not deleted (cached per column set)."""
        key = ("screen", obj.name, updated)
        found = self._sql.get(key)
        if found is None:
            table = obj.table
            conditions = [f'"{table}".isdeleted = 0']
            conditions += [
                f'"{table}"."{f.column}" IS NOT NULL AND "{table}"."{f.column}" <> \'\''
                for f in obj.required_fields
                if f.column not in updated
            ]
            conditions += [c for rule in obj.rules if (c := rule.stored_condition(updated, obj.rule_columns, table))]
            found = self._remember(key, " AND ".join(conditions))
        return found

    def _remember(self, key: tuple, sql: str) -> str:
        """Keep a piece of SQL built for `key` (a bounded cache: its texts are rebuilt only for new shapes)."""
        if len(self._sql) >= _LAYOUT_CACHE_SIZE:
            self._sql.clear()
        self._sql[key] = sql
        return sql

    def _stored_rows(
        self, obj: SObjectDef, raw_ids: Sequence[Any], conn: sqlite3.Connection | None
    ) -> tuple[list[str | None], dict[str, tuple]]:
        """Each raw id's canonical form (None when malformed or of another object), and the stored rows
        (`(id, *obj.rule_columns)`) of those that exist.

        Stored ids are canonical and SQLite compares them exactly, so an 18-character id found as sent
        is its own canonical form: its checksum is only computed when the lookup misses. Bulk ids come
        from queries, so a million-record job skips a million checksums; a wrong-case suffix, a 15-character
        id or a malformed one still takes `ids.to_18`, and so gets the same answer as before.
        """
        prefix = obj.key_prefix
        columns = obj.rule_columns
        found = self.store.get_rows(
            obj, [r for r in raw_ids if isinstance(r, str) and len(r) == 18 and r[:3] == prefix], conn, columns
        )
        canon: list[str | None] = []
        missed: list[str] = []
        for raw in raw_ids:
            if isinstance(raw, str) and raw in found:
                canon.append(raw)
                continue
            rid = ids.to_18(raw)
            if rid is None or rid[:3] != prefix:
                canon.append(None)
                continue
            canon.append(rid)
            if rid not in found:
                missed.append(rid)
        if missed:
            found.update(self.store.get_rows(obj, missed, conn, columns))
        return canon, found

    def _write_updates(
        self, obj: SObjectDef, groups: dict[tuple[str, ...], dict[str, tuple]], conn: sqlite3.Connection | None
    ) -> None:
        """Write `groups` (written columns -> {id: (id, their values...)}), stamping the system fields.

        Ids are unique within a group, so no two rows of one `_write_values` statement update the same
        record. A few records (fewer than `_VALUES_MIN_ROWS`), a REST PATCH above all, take one plain
        UPDATE each instead: the VALUES statement has a fixed cost of its own (about 50 us, measured).
        """
        if not groups:
            return
        stamp = now_stamp()
        table = obj.table

        def run(c: sqlite3.Connection) -> None:
            for cols, by_id in groups.items():
                rows = list(by_id.values())
                if len(rows) < _VALUES_MIN_ROWS:
                    plain = ", ".join(f'"{col}" = ?' for col in (*cols, *_SYSTEM_UPDATE_COLUMNS))
                    c.executemany(
                        f'UPDATE "{table}" SET {plain} WHERE id = ?',
                        [(*values, stamp, stamp, self.user_id, rid) for rid, *values in rows],
                    )
                    continue
                self._write_values(c, obj, cols, list(zip(*rows, strict=True)), stamp)

        if conn is not None:
            run(conn)
        else:
            with self.store.transaction() as c:
                run(c)

    def _write_values(
        self,
        conn: sqlite3.Connection,
        obj: SObjectDef,
        cols: tuple[str, ...],
        columns: Sequence[Sequence[Any]],
        stamp: str,
        screen: str = "",
    ) -> int:
        """Set `cols` of some records, stamping the system fields, where the stored row meets `screen`
        (SQL); returns how many records were updated. `columns` holds the records' ids (unique), then
        each of `cols` for every record.

        One `WITH v AS (VALUES ...) UPDATE ... FROM v` statement per block of records: SQLite applies a
        200-record block of it about five times as fast as executemany of one UPDATE per record.
        """
        count = len(columns[0])
        step = max(1, _MAX_SQL_VARIABLES // (len(cols) + 1))
        system = (stamp, stamp, self.user_id)
        before = conn.total_changes  # a statement that starts with WITH has no rowcount in sqlite3
        for start in range(0, count, step):
            block = columns if count <= step else [column[start : start + step] for column in columns]
            rows = min(step, count - start)
            conn.execute(
                self._values_update(obj, cols, rows, screen), [*chain.from_iterable(zip(*block, strict=True)), *system]
            )
        return conn.total_changes - before

    def _values_update(self, obj: SObjectDef, cols: tuple[str, ...], rows: int, screen: str) -> str:
        """The text of `_write_values`' statement for `rows` records (cached per shape)."""
        key = ("update", obj.name, cols, rows, screen)
        found = self._sql.get(key)
        if found is None:
            table = obj.table
            names = ", ".join(["id", *(f'"{col}"' for col in cols)])
            sets = ", ".join(
                [*(f'"{col}" = v."{col}"' for col in cols), *(f'"{col}" = ?' for col in _SYSTEM_UPDATE_COLUMNS)]
            )
            where = f'"{table}".id = v.id' + (f" AND {screen}" if screen else "")
            marks = ", ".join(["(" + ", ".join("?" * (len(cols) + 1)) + ")"] * rows)
            found = self._remember(
                key, f'WITH v({names}) AS (VALUES {marks}) UPDATE "{table}" SET {sets} FROM v WHERE {where}'
            )
        return found

    # -- insert -----------------------------------------------------------------------------------
    def insert(
        self,
        obj: SObjectDef,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> list[SaveResult]:
        """Insert `{field: value}` records. Values are JSON-typed or text; None sets null."""
        results: list[SaveResult | None] = [None] * len(records)
        prepared: dict[int, dict[str, Any]] = {}
        for i, values in enumerate(records):
            try:
                if any(k.lower() == "id" and v for k, v in values.items()):
                    raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
                prepared[i] = self.layout(obj, tuple(values)).changes(tuple(values.values()))
            except RecordError as err:
                results[i] = SaveResult(None, False, [err])
        return self.insert_prepared(obj, prepared, results, all_or_none=all_or_none, conn=conn)

    def insert_prepared(
        self,
        obj: SObjectDef,
        prepared: dict[int, dict[str, Any]],
        results: list[SaveResult | None],
        *,
        all_or_none: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> list[SaveResult]:
        """Insert records already laid out as `{column: stored value}`, every insert ends here.

        `prepared` maps a record's position to its values; `results` has one slot per position, holding the
        result of each record that failed before (every position is in one or the other). Per record, in
        this order: required fields and validation rules, references, unique fields.
        """
        for i in list(prepared):
            try:
                self._check_record(obj, prepared[i])
            except RecordError as err:
                results[i] = SaveResult(None, False, [err])
                del prepared[i]
        self._check_references(obj, prepared, results, [None] * len(results), conn)
        self._check_unique(obj, prepared, results, [None] * len(results), conn)
        if all_or_none and any(r is not None and not r.success for r in results):
            return [r if (r is not None and not r.success) else SaveResult(None, False, [ROLLED_BACK]) for r in results]
        stamp = now_stamp()
        rows = []
        for i, row in prepared.items():
            if results[i] is not None:
                continue
            rid = self.ids.next_id(obj.key_prefix)
            self._apply_computed(obj, row, {})
            row.update(
                {
                    "id": rid,
                    "createddate": stamp,
                    "createdbyid": self.user_id,
                    "lastmodifieddate": stamp,
                    "lastmodifiedbyid": self.user_id,
                    "systemmodstamp": stamp,
                    "isdeleted": 0,
                }
            )
            rows.append(row)
            results[i] = SaveResult(rid, True, created=True)

        def run(c: sqlite3.Connection) -> None:
            for row in rows:
                cols = list(row)
                c.execute(
                    f'INSERT INTO "{obj.table}" ({", ".join(chr(34) + k + chr(34) for k in cols)}) VALUES ({", ".join("?" * len(cols))})',
                    list(row.values()),
                )

        if rows:
            if conn is not None:
                run(conn)
            else:
                with self.store.transaction() as c:
                    run(c)
        return [r for r in results if r is not None]

    # -- delete / retrieve ------------------------------------------------------------------------
    def delete(
        self,
        obj: SObjectDef | None,
        raw_ids: Sequence[str],
        *,
        all_or_none: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> list[SaveResult]:
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
    @staticmethod
    def _check_record(obj: SObjectDef, merged: Mapping[str, Any]) -> None:
        """Required fields, then validation rules, on the record as it would be stored (lower-case keys)."""
        for required in obj.required_fields:
            if merged.get(required.column) in (None, ""):
                missing = [f.name for f in obj.required_fields if merged.get(f.column) in (None, "")]
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
        for rule in obj.rules:
            rule.check(merged)

    def _check_references(self, obj, changes_by_row, results, canon, conn) -> None:
        wanted: dict[str, set[str]] = {}
        ref_fields = obj.reference_fields
        if not ref_fields:
            return
        for changes in changes_by_row.values():
            for f in ref_fields:
                value = changes.get(f.column)
                if value:
                    wanted.setdefault(f.reference_to, set()).add(value)
        if not wanted:
            return
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
                    results[i] = SaveResult(
                        canon[i],
                        False,
                        [
                            RecordError(
                                "FIELD_INTEGRITY_EXCEPTION",
                                f"{f.label} ID: id value of incorrect type: {value}",
                                [f.name],
                            )
                        ],
                    )
                    break
                if value not in found.get(f.reference_to, set()):
                    results[i] = SaveResult(
                        canon[i],
                        False,
                        [RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])],
                    )
                    break

    def _check_unique(
        self,
        obj: SObjectDef,
        changes_by_row: dict[int, dict[str, Any]],
        results: list[SaveResult | None],
        canon: Sequence[str | None],
        conn: sqlite3.Connection | None,
        layouts: Sequence[FieldLayout] = (),
    ) -> None:
        """Unique fields: a value another record holds, or one an earlier record of this call sets, fails the
        record with DUPLICATE_VALUE and Salesforce's message ("duplicate value found: <field> duplicates value
        on record with id: <id>"; the id is blank when that record is being inserted by this call, as no
        source shows what Salesforce names then). Values collide as the field folds case; null never does.

        `layouts`, when every record shares one (a Bulk CSV transaction), settles at once that no record
        sets a unique field: a bulk update of counts then costs no per-record look at its changes.
        """
        shared = layouts[0] if layouts and layouts.count(layouts[0]) == len(layouts) else None
        for fd in obj.unique_fields:
            column = fd.column
            if shared is not None and not shared.sets(column):
                continue
            claims = [
                (i, changes[column])
                for i, changes in changes_by_row.items()
                if results[i] is None and changes.get(column) not in (None, "")
            ]
            if not claims:
                continue
            holders = self.store.ids_by_value(obj, fd, [value for _, value in claims], conn)
            claimed: dict[Any, str | None] = {}
            for i, value in claims:
                key = fd.match_key(value)
                own = canon[i]
                other: str | None
                if key in claimed:
                    other = claimed[key] or ""
                else:
                    other = next((rid for rid in holders.get(key, ()) if rid != own), None)
                    if other is None:
                        claimed[key] = own
                        continue
                message = f"duplicate value found: {fd.name} duplicates value on record with id: {other}"
                results[i] = SaveResult(own, False, [RecordError("DUPLICATE_VALUE", message, [])])

    def _inject_lock_failures(
        self, obj, changes_by_row, merged_by_row, results, canon, lock_owner, lock_timeout
    ) -> None:
        faults = self._faults()
        if faults.lock_error_rate > 0:
            for i in changes_by_row:
                if results[i] is None and faults.roll(faults.lock_error_rate):
                    results[i] = SaveResult(canon[i], False, [_lock_error(canon[i])])
        if lock_owner is None or not faults.parent_lock_contention:
            return
        parent_fields = [f.column for f in obj.reference_fields]
        if not parent_fields:
            return
        parent_of: dict[int, set[str]] = {}
        for i in changes_by_row:
            if results[i] is not None:
                continue
            parent_of[i] = {merged_by_row[i].get(c) for c in parent_fields} - {None, ""}
        blocked = self.parent_locks.acquire(
            set().union(*parent_of.values()) if parent_of else set(), lock_owner, lock_timeout
        )
        for i, parents in parent_of.items():
            if parents & blocked:
                results[i] = SaveResult(canon[i], False, [_lock_error(sorted(parents & blocked)[0])])

    def prelock_parents(self, obj: SObjectDef, records: UpdateRows, owner: object, timeout: float) -> None:
        """Take the parent-record locks an update of `records` will need, waiting up to `timeout`.

        Called outside any write transaction; `update_rows(..., lock_owner=owner)` then finds the parents
        it got already held by `owner` and fails only the records whose parents stayed locked by others.
        """
        ref_fields = obj.reference_fields
        if not ref_fields:
            return
        canon = [ids.to_18(raw) if isinstance(raw, str) else None for raw in records.raw_ids]
        existing = self.store.get_many(obj, [c for c in canon if c], columns=[f.column for f in ref_fields])
        parents: set[str] = set()
        for rid, layout, row in zip(canon, records.layouts, records.rows, strict=True):
            current = existing.get(rid or "", {})
            for f in ref_fields:
                value = layout.raw_value(row, f.column, current.get(f.column))
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


_VALUES_MIN_ROWS = 10  # below this many records, one plain UPDATE each beats one UPDATE ... FROM (VALUES ...)
#: Set by every update, after the record's own columns (`_write_updates`).
_SYSTEM_UPDATE_COLUMNS = ("lastmodifieddate", "systemmodstamp", "lastmodifiedbyid")
_MAX_SQL_VARIABLES = 30_000  # SQLite allows 32,766 bound parameters per statement


def _lock_error(record_id: str) -> RecordError:
    return RecordError(
        "UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record or 1 records: {record_id}", []
    )
