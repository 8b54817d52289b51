"""The write-ahead run journal: what a run was asked to do, what it was about to do, and what it knows.

A run given a state directory keeps one SQLite file there, ``journal.sqlite``. It is the bulk `Ledger`
(which rows went into which chunk, job and batch) generalised to every strategy, plus:

* ``meta``: the strategy, object, options and input columns, so `resume_run` can rebuild the run from
  the directory alone;
* ``rows``: every validated input row (its record, pickled) and, once known, its outcome. The outcome
  files are a projection of this table: `resume_run` rewrites them from it, so a row can be neither lost
  nor reported twice, whatever moment the previous process died at;
* ``steps``: before each request that changes state (create a job, upload, close, add a batch, a
  Collections or Composite write), an *intent*; after the answer, its settlement (``done`` with the job or
  batch id, or ``failed``). An intent with no settlement is a request whose outcome is unknown.

Rows of a chunk are written to ``entries`` before the chunk's first request is sent (every `intend`
commits them), so "in flight" is exact: a row with no final outcome is either in ``entries`` (sent, or
about to be: its chunk's steps say how far it got) or not (never sent; `unsent` yields it).

How an unknown outcome is resolved, per request kind (calls are those of the resolution alone):

================================  ==========================================================  ===========
request                           resolution                                                  calls
================================  ==========================================================  ===========
Bulk 2.0 create job               list the org's jobs (`strategies.orphans`): the one Open    1 + pages,
                                  update job on the object that this run does not know,       +1 abort,
                                  created since the request, is the orphan: aborted (it       +1 create
                                  holds no data); then one more job is created
Bulk 2.0 create with data        list the org's jobs as above, among those past Open (the     1 + pages,
(multipart)                       org closed it itself): one is the run's job, collected;      +1 create
                                  none, sent once more; several, each is waited for and the
                                  one whose results hold the chunk's first row is ours;
                                  undecided: rows OUTCOME_UNKNOWN, looked up again on resume
Bulk 2.0 upload (PUT)             the job is still Open, so nothing was processed: abort it     1 abort
                                  and upload the chunk into a new job
Bulk 2.0 close (UploadComplete)   read the job: any state but Open means the close was          1
                                  applied (wait and collect, never abort); Open means it
                                  was not; unreadable leaves the job pending for resume
Bulk 2.0 / 1.0 abort              no lookup: a job that was never closed processes nothing,     0
                                  so its rows are unprocessed whichever way the abort went
Bulk 1.0 create job               as Bulk 2.0's create; the job list shows Bulk 1.0 jobs as     1 + pages,
                                  ``Classic``                                                   +1 abort,
                                                                                                +1 create
Bulk 1.0 add batch                the job's batch count, then the batch list: a batch we do     1 or 2
                                  not know is the one we sent (batches are added one at a
                                  time); none means it was not added, and it is sent again;
                                  the job unreadable too: rows in doubt (OUTCOME_UNKNOWN),
                                  matched to the batch list by `resume_run`
Bulk 1.0 close                    read the job: Closed means applied                             1
REST PATCH, Collections,          read the records back (SOQL by Id, 200 per query; an          ceil(n/200)
Composite                         upsert's by its key) and compare with the values sent:
                                  equal is succeeded; any difference is not applied, and
                                  the rows are sent again
================================  ==========================================================  ===========

A request the org refused (an expired session, the daily limit) was not executed: nothing to look up.
A process killed between intent and answer leaves the same questions; `resume_run` asks them the same
way (plus: an Open Bulk 2.0 job is aborted and its rows sent again; an Open Bulk 1.0 job holding batches
is closed so they run; rows in no job are sent).

Durability: WAL mode with ``synchronous=OFF``: a killed process (kill -9) loses nothing the journal
committed (the operating system keeps the written pages); only a power cut can. Outcomes are buffered and
committed with the next step, a chunk's release, or every 5,000 rows; an outcome lost with a killed
process only makes its row in doubt again, and in-doubt rows are resolved, never guessed.
"""

from __future__ import annotations

import csv
import json
import pickle
import shutil
import sqlite3
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .ledger import Ledger
from .records import Row
from .sinks import RecordOutcome, Status

JOURNAL_FILE = "journal.sqlite"

OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (row INTEGER PRIMARY KEY, id TEXT, record BLOB NOT NULL, status TEXT, code TEXT,
                                 message TEXT, fields TEXT, created INTEGER);
CREATE TABLE IF NOT EXISTS steps (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, state TEXT NOT NULL,
                                  chunk TEXT, job_id TEXT, batch_id TEXT, detail TEXT, at REAL NOT NULL);
"""
_ROW_INDEX = "CREATE INDEX IF NOT EXISTS entries_by_row ON entries (row)"
"""Only `unsent` looks entries up by row: the index is made when it first does (a first pass that put
every row in a chunk while validating never does), not kept up to date for every row entered."""


def _final(alias: str = "") -> str:
    """SQL: the row has an outcome a resumed run keeps: succeeded or failed, i.e. the org judged it.

    An unprocessed row (never judged: not sent, refused with its request, in a job that failed or was
    aborted, or of unknown outcome) is sent again by a resumed run; `alias` qualifies the rows table."""
    prefix = f"{alias}." if alias else ""
    return f"COALESCE({prefix}status, '') IN ('succeeded', 'failed')"


_FINAL = _final()
_PAGE = 5000


class RunJournal(Ledger):
    """The journal of one run in `directory` (created if needed); see the module docstring."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        super().__init__(self.directory / JOURNAL_FILE, durable=True)
        self._db.executescript(_SCHEMA)
        if "created" not in {column[1] for column in self._db.execute("PRAGMA table_info(rows)")}:
            self._db.execute("ALTER TABLE rows ADD COLUMN created INTEGER")  # a journal written before upserts
        self._outcomes: list[tuple[str, str, str, str, str | None, int | None, int]] = []
        self._rows_page: list[tuple[int, str | None, bytes | str]] = []
        self._line_format: tuple[list[str], str | None] | None = None

    @classmethod
    def exists(cls, directory: str | Path) -> bool:
        return (Path(directory) / JOURNAL_FILE).is_file()

    # -- the run --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget any earlier run kept in this directory: a new run starts."""
        self._buffer.clear()
        self._seq.clear()
        self._outcomes.clear()
        self._rows_page.clear()
        self._line_format = None
        for table in ("meta", "rows", "steps", "entries", "chunks"):
            self._db.execute(f"DELETE FROM {table}")

    def describe(self, **values: Any) -> None:
        """Record facts about the run (strategy, sobject, options...), JSON-encoded."""
        self.flush()
        self._db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(key, json.dumps(value)) for key, value in values.items()]
        )

    def meta(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self._db.execute("SELECT key, value FROM meta")}

    # -- input ----------------------------------------------------------------------------------------
    def spool(self, rows: Iterable[Row]) -> int:
        """Store every input row before anything is sent (a resumed run sends from here); returns the count.

        Committed a page at a time (the write-ahead log stays small); ``input_rows`` in `meta`, written
        last, says the input is complete: a run killed before that sent nothing and cannot be resumed.
        """
        count = 0
        for number, record in rows:
            self.spool_row(number, record)
            count += 1
        self.spooled(count)
        return count

    def spool_row(self, number: int, record: dict[str, Any]) -> None:
        """Store one input row (committed a page at a time); `spooled` ends the input."""
        record_id = record.get("Id")
        page = self._rows_page
        page.append((number, record_id if isinstance(record_id, str) else None, pickle.dumps(record, 5)))
        if len(page) >= _PAGE:
            self._insert_rows(page)
            page.clear()

    def spool_lines(self, rows: list[int], ids: list[Any], lines: list[str]) -> None:
        """Store input rows as the CSV lines they were rendered to, under the ``line_columns`` and
        ``line_null`` this journal's meta names (no pickling: text read back by `_record_of`)."""
        self._insert_rows(list(zip(rows, ids, lines, strict=True)))

    def spooled(self, count: int) -> None:
        """Every one of the `count` input rows is stored (`spool_row`): the input is complete."""
        self._insert_rows(self._rows_page)
        self._rows_page.clear()
        self.describe(input_rows=count)

    def _insert_rows(self, page: list[tuple[int, str | None, bytes | str]]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT INTO rows (row, id, record) VALUES (?, ?, ?)", page)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def total_rows(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])

    def unsent(self) -> Iterator[Row]:
        """Rows with no outcome to keep and in no chunk, in input order, read a page at a time.

        Rows the caller puts into chunks while iterating are skipped by later pages (keyset paging).
        """
        self.flush()
        self._db.execute(_ROW_INDEX)
        last = 0
        while True:
            self.flush()
            page = self._db.execute(
                f"SELECT row, record FROM rows WHERE row > ? AND NOT ({_FINAL}) "
                "AND NOT EXISTS (SELECT 1 FROM entries AS e WHERE e.row = rows.row) ORDER BY row LIMIT ?",
                (last, _PAGE),
            ).fetchall()
            if not page:
                return
            for number, blob in page:
                last = number
                yield number, self._record_of(blob)

    def records(self, rows: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The input records of `rows` (a few hundred at a time: callers resolve in small groups)."""
        wanted = list(rows)
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for number, blob in self._db.execute(f"SELECT row, record FROM rows WHERE row IN ({marks})", part):
                found[number] = self._record_of(blob)
        return found

    def _record_of(self, stored: bytes | str) -> dict[str, Any]:
        """A stored input row: pickled (`spool_row`), or a CSV line under the meta's columns (`spool_lines`):
        an empty cell is a field the record does not have, the null marker is None."""
        if isinstance(stored, bytes):
            return pickle.loads(stored)
        if self._line_format is None:
            meta = self.meta()
            self._line_format = (list(meta["line_columns"]), meta.get("line_null"))
        columns, null = self._line_format
        cells = next(csv.reader([stored]), [])
        return {name: None if cell == null else cell for name, cell in zip(columns, cells, strict=False) if cell != ""}

    # -- outcomes -------------------------------------------------------------------------------------
    def record(self, outcome: RecordOutcome) -> None:
        """Keep `outcome` (committed with the next step or chunk release, or every 5,000 outcomes)."""
        if outcome.row is None:
            return
        created = None if outcome.created is None else int(outcome.created)
        self._outcomes.append(
            (
                outcome.status,
                outcome.error_code,
                outcome.message,
                json.dumps(list(outcome.fields)),
                outcome.id,
                created,
                outcome.row,
            )
        )
        if len(self._outcomes) >= _PAGE:
            self.flush()

    def record_succeeded(self, chunk: str) -> None:
        """Keep ``succeeded`` for every row of `chunk` in one statement (a Bulk job that reported no failure
        and no unprocessed row), equal to `record` of a success for each."""
        self.flush()
        db = self._db
        db.execute("BEGIN")
        db.execute(
            "UPDATE rows SET status = 'succeeded', code = '', message = '', fields = '[]' "
            "WHERE row IN (SELECT row FROM entries WHERE chunk = ?)",
            (chunk,),
        )
        db.execute("COMMIT")

    def reported(self, row: int) -> bool:
        """Whether `row` already has an outcome a resumed run keeps."""
        self.flush()
        found = self._db.execute(f"SELECT 1 FROM rows WHERE row = ? AND {_FINAL}", (row,)).fetchone()
        return found is not None

    def outcomes(self) -> Iterator[RecordOutcome]:
        """Every kept outcome, in input order."""
        self.flush()
        last = 0
        while True:
            page = self._db.execute(
                f"SELECT row, id, status, code, message, fields, created FROM rows WHERE row > ? AND {_FINAL} "
                "ORDER BY row LIMIT ?",
                (last, _PAGE),
            ).fetchall()
            if not page:
                return
            for number, record_id, status, code, message, fields, created in page:
                last = number
                yield RecordOutcome(
                    number,
                    record_id,
                    _status(status),
                    code or "",
                    message or "",
                    _fields(fields),
                    None if created is None else bool(created),
                )

    def in_doubt(self, chunk: str) -> list[tuple[int, str | None]]:
        """(row, Id) of `chunk`'s rows with no outcome to keep, in upload order (for the small chunks of
        synchronous requests: a Bulk chunk is resolved through its job, never listed)."""
        self.flush()
        return [
            (number, record_id)
            for number, record_id in self._db.execute(
                f"SELECT e.row, e.id FROM entries AS e JOIN rows AS r ON r.row = e.row WHERE e.chunk = ? "
                f"AND NOT ({_final('r')}) ORDER BY e.seq",
                (chunk,),
            )
        ]

    def _has_doubt(self, chunk: str) -> bool:
        found = self._db.execute(
            f"SELECT 1 FROM entries AS e JOIN rows AS r ON r.row = e.row WHERE e.chunk = ? AND NOT ({_final('r')}) "
            "LIMIT 1",
            (chunk,),
        ).fetchone()
        return found is not None

    def open_chunks(self) -> list[dict[str, Any]]:
        """Chunks that still hold rows with no outcome to keep, first written first; each with its job and
        batch ids when known. Chunks whose rows all have kept outcomes are released here."""
        self.flush()
        db = self._db
        names = [name for (name,) in db.execute("SELECT chunk FROM entries GROUP BY chunk ORDER BY MIN(row)")]
        found: list[dict[str, Any]] = []
        for name in names:
            if not self._has_doubt(name):
                self.forget(name)
                continue
            row = db.execute(
                "SELECT job_id, batch_id, position, records, sobject FROM chunks WHERE chunk = ?", (name,)
            ).fetchone()
            job_id, batch_id, position, records, sobject = row or (None, None, 0, 0, "")
            found.append(
                {
                    "chunk": name,
                    "job_id": job_id,
                    "batch_id": batch_id,
                    "position": position,
                    "records": records or self.count(name),
                    "sobject": sobject,
                }
            )
        return found

    def flush(self) -> None:
        """Commit buffered chunk entries and outcomes, in one transaction."""
        if not self._buffer and not self._outcomes:
            return
        db = self._db
        db.execute("BEGIN")
        if self._buffer:
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", self._buffer)
            self._buffer.clear()
        if self._outcomes:
            db.executemany(
                "UPDATE rows SET status = ?, code = ?, message = ?, fields = ?, id = COALESCE(?, id), created = ? "
                "WHERE row = ?",
                self._outcomes,
            )
            self._outcomes.clear()
        db.execute("COMMIT")

    # -- steps ----------------------------------------------------------------------------------------
    def intend(self, kind: str, *, chunk: str | None = None, job_id: str | None = None, detail: Any = None) -> int:
        """Before a request that changes state: commit the chunk's rows and outcomes so far, then the intent."""
        self.flush()
        cursor = self._db.execute(
            "INSERT INTO steps (kind, state, chunk, job_id, detail, at) VALUES (?, 'intent', ?, ?, ?, ?)",
            (kind, chunk, job_id, None if detail is None else json.dumps(detail), time.time()),
        )
        return int(cursor.lastrowid or 0)

    def settle(self, step: int, state: str = "done", *, job_id: str | None = None, batch_id: str | None = None) -> None:
        """After the answer (``done``), or after the request certainly failed (``failed``)."""
        self.flush()
        self._db.execute(
            "UPDATE steps SET state = ?, job_id = COALESCE(?, job_id), batch_id = COALESCE(?, batch_id) WHERE seq = ?",
            (state, job_id, batch_id, step),
        )

    def mark(self, kind: str, *, job_id: str | None = None) -> None:
        """A phase with no state change (polling, downloading results), recorded so a watcher sees it."""
        self.flush()
        self._db.execute(
            "INSERT INTO steps (kind, state, job_id, at) VALUES (?, 'done', ?, ?)", (kind, job_id, time.time())
        )

    def steps(self, kind: str | None = None, *, chunk: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT seq, kind, state, chunk, job_id, batch_id, detail, at FROM steps"
        clauses, params = [], []
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if chunk is not None:
            clauses.append("chunk = ?")
            params.append(chunk)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        return [_step(row) for row in self._db.execute(query + " ORDER BY seq", params)]

    def last_step(self) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT seq, kind, state, chunk, job_id, batch_id, detail, at FROM steps ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return _step(row) if row else None


class ScratchState:
    """A strategy's state directory: the run journal when the caller gives one, else a scratch ledger.

    With a `directory`, the ledger is the `RunJournal` there (durable, resumable by `resume_run`) and is
    never removed. With none, a temporary directory holding a scratch `Ledger` is made when a Bulk strategy
    first needs one and removed by `close()` or garbage collection, unless a job is still pending (then it
    is kept and its path is in the run's notes, because `resume` by job id needs it). Synchronous
    strategies with no directory keep nothing on disk.
    """

    def __init__(self, directory: str | Path | None, *, prefix: str) -> None:
        self._given = Path(directory) if directory is not None else None
        self._prefix = prefix
        self._directory: Path | None = self._given
        self._ledger: Ledger | None = None
        self.pending_jobs: set[str] = set()
        self._finalizer: weakref.finalize | None = None

    @property
    def directory(self) -> Path:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=self._prefix))
            self._finalizer = weakref.finalize(self, _remove_unless_pending, str(self._directory), self.pending_jobs)
        return self._directory

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            if self._given is not None:
                self._ledger = RunJournal(self._given)
            else:
                self._ledger = Ledger(self.directory / "ledger.sqlite")
        return self._ledger

    @property
    def journal(self) -> RunJournal | None:
        """The run journal, or None when the caller gave no state directory."""
        if self._given is None:
            return None
        ledger = self.ledger
        assert isinstance(ledger, RunJournal)
        return ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._finalizer is not None:
            self._finalizer()


def _remove_unless_pending(directory: str, pending_jobs: set[str]) -> None:
    if not pending_jobs:
        shutil.rmtree(directory, ignore_errors=True)


def plain_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options that JSON can keep (a poll policy or a callback is the resuming caller's to give again)."""
    kept: dict[str, Any] = {}
    for key, value in options.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


def read_last_step(directory: str | Path) -> dict[str, Any] | None:
    """The newest step of the journal in `directory`, read-only (for a watcher in another process)."""
    path = Path(directory) / JOURNAL_FILE
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute(
                "SELECT seq, kind, state, chunk, job_id, batch_id, detail, at FROM steps ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet, or being created
        return None
    return _step(row) if row else None


def _step(row: tuple[Any, ...]) -> dict[str, Any]:
    seq, kind, state, chunk, job_id, batch_id, detail, at = row
    return {
        "seq": seq,
        "kind": kind,
        "state": state,
        "chunk": chunk,
        "job_id": job_id,
        "batch_id": batch_id,
        "detail": json.loads(detail) if detail else None,
        "at": at,
    }


def _status(text: str) -> Status:
    if text not in ("succeeded", "failed", "unprocessed"):
        raise ValueError(f"journal holds an unknown status {text!r}")
    return text  # type: ignore[return-value]


def _fields(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


__all__ = [
    "JOURNAL_FILE",
    "OUTCOME_UNKNOWN",
    "RunJournal",
    "ScratchState",
    "plain_options",
    "read_last_step",
]
