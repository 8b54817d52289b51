"""SQLite storage for one org: one table per sObject, columns named after lower-case field names.

Every thread uses its own connection (the HTTP loop and each bulk worker); worker threads hand theirs
back when their unit of work ends, for the next one. WAL mode lets readers run beside a writer; writes
serialize in SQLite itself. Durability is traded for speed (synchronous=OFF): the emulator's data is
disposable by design.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from .schema import FieldDef, Schema, SObjectDef


class RecordStore:
    def __init__(self, path: str, schema: Schema) -> None:
        self.path = path
        self.schema = schema
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []  # released by threads that finished their work
        self._all_lock = threading.Lock()
        self._write_lock = threading.Lock()
        with self.connection() as conn:
            for obj in schema.objects():
                self.ensure_table(obj, conn)

    # -- connections ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._all_lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute("PRAGMA temp_store=MEMORY")
                conn.execute("PRAGMA cache_size=-16384")  # 16 MB per connection
                with self._all_lock:
                    self._all.append(conn)
            self._local.conn = conn
        return conn

    def release_thread_connection(self) -> None:
        """Hand this thread's connection to the next thread that needs one (worker threads call it when
        a unit of work ends).

        Bulk units run on whichever of the engine's many pool threads is free. Opening and closing a
        connection per unit allocated a fresh page cache each time in that thread's malloc arena, where
        the freed memory stayed: the server grew by ~60 MB over a million-record job. Reused connections
        keep their warm caches, and memory is bounded by how many units ever ran at once.
        """
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._all_lock:
            self._idle.append(conn)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        yield self._conn()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        Writers queue on a Python lock first: all writers live in this process, and SQLite's own busy
        handler would make a waiting writer sleep in growing steps (up to 100 ms) instead of taking the
        lock the moment it is free.
        """
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    @contextmanager
    def atomic(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint nested in the caller's transaction when `conn` is given."""
        if conn is None:
            with self.transaction() as c:
                yield c
            return
        name = f"sp{id(object())}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
            self._idle.clear()
        self._local = threading.local()

    # -- DDL --------------------------------------------------------------------------------------
    def ensure_table(self, obj: SObjectDef, conn: sqlite3.Connection | None = None) -> None:
        """The object's table, its key indexes, and any column a `--db` file from an older schema lacks."""
        conn = conn or self._conn()
        cols = ", ".join(f'"{f.column}" {f.sql_type}' for f in obj.fields.values() if f.name != "Id")
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{obj.table}" (id TEXT PRIMARY KEY, {cols})')
        present = {row[1] for row in conn.execute(f'PRAGMA table_info("{obj.table}")')}
        for f in obj.fields.values():
            if f.name != "Id" and f.column not in present:
                conn.execute(f'ALTER TABLE "{obj.table}" ADD COLUMN "{f.column}" {f.sql_type}')
        for f in obj.fields.values():
            if f.name != "Id" and (f.keys_records or f.unique):
                # Upsert looks records up by these: a million-record job must not scan the table per transaction.
                collate = " COLLATE NOCASE" if f.folds_case else ""
                conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{obj.table}__{f.column}" ON "{obj.table}" ("{f.column}"{collate})'
                )

    # -- reads ------------------------------------------------------------------------------------
    def get(self, obj: SObjectDef, record_id: str) -> dict[str, Any] | None:
        cur = self._conn().execute(f'SELECT * FROM "{obj.table}" WHERE id = ?', (record_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip((d[0] for d in cur.description), row, strict=True))

    def get_many(
        self,
        obj: SObjectDef,
        record_ids: Sequence[str],
        conn: sqlite3.Connection | None = None,
        columns: Sequence[str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Rows by id (only `columns`, plus id, when given: updates read just what their rules need)."""
        names, rows = self._select(obj, record_ids, conn, columns)
        return {row[0]: dict(zip(names, row, strict=True)) for row in rows}

    def get_rows(
        self, obj: SObjectDef, record_ids: Sequence[str], conn: sqlite3.Connection | None, columns: Sequence[str]
    ) -> dict[str, tuple]:
        """Rows by id as `(id, *columns)` tuples: a bulk update reads 200 rows per transaction, and
        building a dict for each cost more than the query."""
        _, rows = self._select(obj, record_ids, conn, columns)
        return {row[0]: row for row in rows}

    def _select(
        self, obj: SObjectDef, record_ids: Sequence[str], conn: sqlite3.Connection | None, columns: Sequence[str] | None
    ) -> tuple[list[str], list[tuple]]:
        conn = conn or self._conn()
        unique = list(dict.fromkeys(record_ids))
        select = "*" if columns is None else ", ".join(["id", *(f'"{c}"' for c in columns)])
        names: list[str] = ["id", *(columns or ())]
        rows: list[tuple] = []
        for start in range(0, len(unique), 900):
            part = unique[start : start + 900]
            marks = ",".join("?" * len(part))
            cur = conn.execute(f'SELECT {select} FROM "{obj.table}" WHERE id IN ({marks})', part)
            names = [d[0] for d in cur.description]
            rows.extend(cur)
        return names, rows

    def ids_by_value(
        self, obj: SObjectDef, fd: FieldDef, values: Iterable[Any], conn: sqlite3.Connection | None = None
    ) -> dict[Any, list[str]]:
        """The ids of the records holding each of `values` in field `fd`, keyed by `fd.match_key(value)`
        (so case-folded for a field that folds case), in id order. Uses the field's index."""
        conn = conn or self._conn()
        compare = f'"{fd.column}" COLLATE NOCASE' if fd.folds_case else f'"{fd.column}"'
        unique = list({fd.match_key(v): v for v in values}.values())  # one value per key: no row is found twice
        found: dict[Any, list[str]] = {}
        for start in range(0, len(unique), 900):
            part = unique[start : start + 900]
            marks = ",".join("?" * len(part))
            cur = conn.execute(
                f'SELECT id, "{fd.column}" FROM "{obj.table}" WHERE {compare} IN ({marks}) ORDER BY id', part
            )
            for rid, stored in cur:
                found.setdefault(fd.match_key(stored), []).append(rid)
        return found

    def exists(self, obj: SObjectDef, record_ids: Iterable[str]) -> set[str]:
        return set(self.get_many(obj, list(record_ids)))

    def count(self, obj: SObjectDef) -> int:
        return self._conn().execute(f'SELECT COUNT(*) FROM "{obj.table}"').fetchone()[0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn().execute(sql, params)

    # -- writes -----------------------------------------------------------------------------------
    def insert_rows(
        self,
        obj: SObjectDef,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        conn: sqlite3.Connection | None = None,
    ) -> None:
        conn = conn or self._conn()
        cols = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        conn.executemany(f'INSERT INTO "{obj.table}" ({cols}) VALUES ({marks})', rows)

    def update_row(
        self, obj: SObjectDef, record_id: str, changes: dict[str, Any], conn: sqlite3.Connection | None = None
    ) -> None:
        conn = conn or self._conn()
        sets = ", ".join(f'"{c}" = ?' for c in changes)
        conn.execute(f'UPDATE "{obj.table}" SET {sets} WHERE id = ?', (*changes.values(), record_id))

    def delete_row(self, obj: SObjectDef, record_id: str, conn: sqlite3.Connection | None = None) -> None:
        conn = conn or self._conn()
        conn.execute(f'DELETE FROM "{obj.table}" WHERE id = ?', (record_id,))

    def truncate(self, obj: SObjectDef) -> None:
        self._conn().execute(f'DELETE FROM "{obj.table}"')
