"""Which input rows went into which Bulk batch or job: kept on disk, in SQLite.

Bulk results do not carry our row numbers. Bulk 1.0 returns one result per input row *in order*, so a
batch's results are zipped with the batch's ledger rows. Bulk 2.0 returns only failed and unprocessed
rows, in no promised order, each with the columns we uploaded; they are matched on the uploaded ``Id``
value plus its occurrence number (the k-th failed row with Id X is the k-th row with Id X in that job), so
even a duplicated Id is counted exactly once. Nothing is added to the CSV we send.

`journal.RunJournal` extends the ledger into the write-ahead journal of a resumable run.

Why SQLite rather than a dict: a Bulk 2.0 job may hold millions of rows; a dict of them would make memory
grow with the input, which the bulk strategies promise not to do. The file also lets a later process
`resume` a job by id (pass the same `state_dir`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any, cast

from .sinks import Status

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (chunk TEXT NOT NULL, seq INTEGER NOT NULL, row INTEGER, id TEXT,
                                    PRIMARY KEY (chunk, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (chunk TEXT PRIMARY KEY, job_id TEXT, batch_id TEXT, position INTEGER,
                                   records INTEGER DEFAULT 0, sobject TEXT, meta TEXT);
CREATE INDEX IF NOT EXISTS chunks_by_job ON chunks (job_id, position);
"""

_MATCH_SCHEMA = """
CREATE TEMP TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY, id TEXT, status TEXT, code TEXT, message TEXT,
                                         fields TEXT, record TEXT);
CREATE TEMP TABLE IF NOT EXISTS result_keys (id TEXT, k INTEGER, seq INTEGER, PRIMARY KEY (id, k)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS entry_keys (seq INTEGER PRIMARY KEY, id TEXT, k INTEGER);
CREATE INDEX IF NOT EXISTS temp.entry_keys_by_key ON entry_keys (id, k);
"""
"""Scratch tables of one `Ledger.match`: the result rows as downloaded, and both sides keyed by (Id,
occurrence number). Every join below is a primary-key or index lookup, so matching n rows costs
O(n log n) B-tree steps and no full scan per row."""

_RANK_ENTRIES = """
INSERT INTO entry_keys (seq, id, k)
SELECT seq, id, ROW_NUMBER() OVER (PARTITION BY id ORDER BY seq) FROM entries WHERE chunk = ?
"""
_RANK_RESULTS = (
    "INSERT INTO result_keys (id, k, seq) SELECT id, ROW_NUMBER() OVER (PARTITION BY id ORDER BY seq), seq FROM results"
)
_MATCHED = """
SELECT e.row, e.id, r.status, r.code, r.message, r.fields, r.record
FROM entries AS e
JOIN entry_keys AS ek ON ek.seq = e.seq
LEFT JOIN result_keys AS rk ON rk.id = ek.id AND rk.k = ek.k
LEFT JOIN results AS r ON r.seq = rk.seq
WHERE e.chunk = ?
ORDER BY e.seq
"""
_UNMATCHED = """
SELECT r.id, r.status, r.code, r.message, r.fields
FROM result_keys AS rk JOIN results AS r ON r.seq = rk.seq
WHERE NOT EXISTS (SELECT 1 FROM entry_keys AS ek WHERE ek.id = rk.id AND ek.k = rk.k)
ORDER BY rk.seq
"""
_PAGE = 5000

ResultRow = tuple[str, Status, str, str, tuple[str, ...], "dict[str, Any] | None"]
"""A downloaded result row: (Id, status, code, message, fields, record to retry or None)."""
MatchedResult = tuple[Status, str, str, tuple[str, ...], "dict[str, Any] | None"]
"""A result as matched to a ledger row: (status, code, message, fields, record or None)."""


class Ledger:
    """Rows per chunk (a Bulk 1.0 batch, or a Bulk 2.0 job's upload), their job and batch ids."""

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        # A scratch ledger (no state directory: nothing can resume from it) trades crash safety for speed, as
        # journalling would double the disk work of every row. A durable one (the run journal) uses WAL: a
        # killed process never leaves a half-written transaction, and a watcher can read it meanwhile.
        self._db.execute("PRAGMA journal_mode=WAL" if durable else "PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA temp_store=FILE")  # match()'s scratch tables spill to disk, not to memory
        self._db.executescript(_SCHEMA + _MATCH_SCHEMA)
        self._buffer: list[tuple[str, int, int | None, str | None]] = []
        self._seq: dict[str, int] = {}

    def close(self) -> None:
        self.flush()
        self._db.close()

    # -- writing ------------------------------------------------------------------------------------
    def add(self, chunk: str, row: int | None, record_id: str | None) -> None:
        seq = self._seq.get(chunk, 0)
        self._seq[chunk] = seq + 1
        self._buffer.append((chunk, seq, row, record_id))
        if len(self._buffer) >= _PAGE:
            self.flush()

    def add_page(self, chunk: str, rows: list[int], ids: list[Any]) -> None:
        """`add` for consecutive rows of one chunk, in one call."""
        seq = self._seq.get(chunk, 0)
        self._seq[chunk] = seq + len(rows)
        self._buffer.extend(zip(repeat(chunk), range(seq, seq + len(rows)), rows, ids))
        if len(self._buffer) >= _PAGE:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?)", self._buffer)
            self._db.execute("COMMIT")
            self._buffer.clear()

    def assign(
        self,
        chunk: str,
        *,
        job_id: str,
        batch_id: str | None = None,
        position: int = 0,
        records: int = 0,
        sobject: str = "",
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Record that `chunk` was sent as batch `batch_id` (Bulk 1.0) or as job `job_id` (Bulk 2.0)."""
        self.flush()
        self._db.execute(
            "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (chunk, job_id, batch_id, position, records, sobject, json.dumps(meta or {})),
        )

    def done(self, chunk: str) -> None:
        """Every row of `chunk` has its outcome: its job or batch record goes (a job resumed by id later is
        one this ledger does not know), its row entries stay. Deleting a million entries costs more than the
        rest of a job's bookkeeping, and nothing reads them again: a scratch ledger's file goes with its
        run, and a journal's rows have their outcomes (`RunJournal.open_chunks` releases such chunks, the
        next run's `reset` empties the table)."""
        self.flush()
        self._db.execute("DELETE FROM chunks WHERE chunk = ?", (chunk,))

    def forget(self, chunk: str) -> None:
        self.flush()
        self._db.execute("DELETE FROM entries WHERE chunk = ?", (chunk,))
        self._db.execute("DELETE FROM chunks WHERE chunk = ?", (chunk,))

    # -- reading ------------------------------------------------------------------------------------
    def rows(self, chunk: str) -> Iterator[tuple[int | None, str | None]]:
        """(row, Id) of `chunk` in the order they were written (= upload order)."""
        self.flush()
        yield from _pages(self._db.execute("SELECT row, id FROM entries WHERE chunk = ? ORDER BY seq", (chunk,)))

    def row_pages(self, chunk: str) -> Iterator[list[tuple[int | None, str | None]]]:
        """`rows` a page at a time (for outcomes written a page per call)."""
        self.flush()
        cursor = self._db.execute("SELECT row, id FROM entries WHERE chunk = ? ORDER BY seq", (chunk,))
        while page := cursor.fetchmany(_PAGE):
            yield page

    def count(self, chunk: str) -> int:
        self.flush()
        return int(self._db.execute("SELECT COUNT(*) FROM entries WHERE chunk = ?", (chunk,)).fetchone()[0])

    def chunks_of_job(self, job_id: str) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT chunk, batch_id, position, records, sobject, meta FROM chunks WHERE job_id = ? ORDER BY position",
            (job_id,),
        )
        return [
            {
                "chunk": chunk,
                "batch_id": batch_id,
                "position": position,
                "records": records,
                "sobject": sobject,
                "meta": json.loads(meta or "{}"),
            }
            for chunk, batch_id, position, records, sobject, meta in cursor.fetchall()
        ]

    # -- matching Bulk 2.0 results ------------------------------------------------------------------
    def match(
        self, chunk: str, results: Iterable[ResultRow]
    ) -> Iterator[tuple[int | None, str | None, MatchedResult | None]]:
        """Join result rows to `chunk`'s rows on (Id, occurrence number).

        Yields every ledger row once, in upload order, with its matched result or None (no result means
        the row succeeded). Result rows that match no ledger row are yielded last with row None. Memory
        stays flat: the result rows are streamed into scratch tables on disk and read back a page at a
        time; the work grows as n log n (see `_MATCH_SCHEMA`), where a join on ranks computed on the fly
        scanned every result row for each ledger row.
        """
        self.flush()
        db = self._db
        self._clear_match_tables()
        try:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO results (seq, id, status, code, message, fields, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        seq,
                        rid,
                        status,
                        code,
                        message,
                        json.dumps(list(fields)),
                        None if record is None else json.dumps(record),
                    )
                    for seq, (rid, status, code, message, fields, record) in enumerate(results)
                ),
            )
            db.execute(_RANK_RESULTS)
            db.execute(_RANK_ENTRIES, (chunk,))
            db.execute("COMMIT")
            for row, rid, status, code, message, fields, record in _pages(db.execute(_MATCHED, (chunk,))):
                yield row, rid, None if status is None else _matched(status, code, message, fields, record)
            for rid, status, code, message, fields in _pages(db.execute(_UNMATCHED)):
                yield None, rid, _matched(status, code, message, fields, None)
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._clear_match_tables()

    def _clear_match_tables(self) -> None:
        for table in ("results", "result_keys", "entry_keys"):
            self._db.execute(f"DELETE FROM temp.{table}")


def _pages(cursor: sqlite3.Cursor) -> Iterator[Any]:
    """The rows of `cursor`, fetched a page at a time (never all at once)."""
    while page := cursor.fetchmany(_PAGE):
        yield from page
        del page  # before the next fetch, so only one page is ever held


def _matched(
    status: str, code: str | None, message: str | None, fields: str | None, record: str | None
) -> MatchedResult:
    return (
        cast(Status, status),
        code or "",
        message or "",
        tuple(json.loads(fields or "[]")),
        json.loads(record) if record else None,
    )
