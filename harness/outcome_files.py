"""The outcome files of `update` and `resume`, written so a user can act on them.

``success.csv`` lists ``row,Id`` of every record the org updated (an upsert's adds ``created``: ``true``
for a record the org created, ``false`` for one it updated, empty when the answer was lost and the record
read back: see `strategies.operation`). ``failed.csv`` and ``unprocessed.csv``
(``.jsonl`` for a JSON Lines input) hold the input's own rows, with its columns and values as written,
plus the error columns ``sfh__row``, ``sfh__error_code``, ``sfh__error`` and ``sfh__fields``: correct the
values and pass the file straight back to ``update --input`` (which ignores ``sfh__`` columns). They use
the input's delimiter and line ending.

Memory stays flat whatever the volume: a success is written as it arrives; a failure goes to an SQLite
spool on disk, and `close` merges the spool (ordered by row) with one streamed pass over the input, so
the files list rows in input order. Rows a resumed job reports without a row number (no local ledger)
come last, with only their Id.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from strategies.sinks import (
    FAILED,
    SUCCEEDED,
    UNPROCESSED,
    UPSERT_SUCCESS_COLUMNS,
    RecordOutcome,
    SuccessRows,
    created_cell,
)

from .input_file import RESULT_PREFIX, InputFile

ERROR_COLUMNS = (f"{RESULT_PREFIX}row", f"{RESULT_PREFIX}error_code", f"{RESULT_PREFIX}error", f"{RESULT_PREFIX}fields")
SUCCESS_COLUMNS = ("row", "Id")
SUCCESS_FILE = "success.csv"


class OutcomeFiles:
    """A `strategies.sinks.ResultSink` that writes the three outcome files into `folder`.

    `append` adds to files an earlier run left in the folder (what `resume` does in the run's folder).
    `counts` (by status) and `codes` (error code of failed and unprocessed rows) are kept as outcomes arrive.
    """

    def __init__(self, folder: Path, source: InputFile | None, *, append: bool = False, upsert: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.source = source
        self.append = append
        self.counts: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self._line_ending = source.line_ending if source else "\n"
        self.upsert = upsert
        columns = UPSERT_SUCCESS_COLUMNS if upsert else SUCCESS_COLUMNS
        self._success, self._success_writer = self._open(self.folder / SUCCESS_FILE, columns, ",")
        fd, self._spool_path = tempfile.mkstemp(prefix="sfh-outcomes-", suffix=".sqlite")
        os.close(fd)
        self._db = sqlite3.connect(self._spool_path)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE outcome (status TEXT, row INTEGER, id TEXT, code TEXT, message TEXT, fields TEXT)"
        )
        self._closed = False

    # -- the sink ------------------------------------------------------------------------------------------
    def write(self, outcome: RecordOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status == SUCCEEDED:
            cells = ("" if outcome.row is None else outcome.row, outcome.id or "")
            self._success_writer.writerow((*cells, created_cell(outcome.created)) if self.upsert else cells)
            return
        self.codes[outcome.error_code] += 1
        self._db.execute(
            "INSERT INTO outcome VALUES (?, ?, ?, ?, ?, ?)",
            (outcome.status, outcome.row, outcome.id, outcome.error_code, outcome.message, ";".join(outcome.fields)),
        )

    def write_succeeded(self, rows: SuccessRows) -> None:
        """A page of successes at once (`strategies.sinks.write_successes`)."""
        self.counts[SUCCEEDED] += len(rows)
        self._success_writer.writerows(((*r, "") for r in rows) if self.upsert else rows)  # created: unknown

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._success.close()
            for status in (FAILED, UNPROCESSED):
                self._write_rows(status)
        finally:
            self._db.close()
            with contextlib.suppress(OSError):
                os.unlink(self._spool_path)

    # -- where things are ----------------------------------------------------------------------------------
    def path(self, status: str) -> Path:
        if status == SUCCEEDED:
            return self.folder / SUCCESS_FILE
        name = "failed" if status == FAILED else "unprocessed"
        return self.folder / (f"{name}.jsonl" if self.source is not None and self.source.is_jsonl else f"{name}.csv")

    def files(self) -> dict[str, dict[str, Any]]:
        """Each file's path and how many records this run (or resume) wrote to it."""
        return {
            status: {"path": str(self.path(status)), "records": self.counts[status]}
            for status in (SUCCEEDED, FAILED, UNPROCESSED)
        }

    # -- writing -------------------------------------------------------------------------------------------
    def _open(self, path: Path, columns: tuple[str, ...] | list[str], delimiter: str) -> tuple[IO[str], Any]:
        fresh = not (self.append and path.exists() and path.stat().st_size > 0)
        handle = open(path, "w" if fresh else "a", encoding="utf-8", newline="")  # noqa: SIM115 - closed by close()
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=self._line_ending)
        if fresh:
            writer.writerow(columns)
        return handle, writer

    def _spooled(self, status: str) -> Iterator[tuple[int | None, str | None, str, str, str]]:
        yield from self._db.execute(
            "SELECT row, id, code, message, fields FROM outcome WHERE status = ? AND row IS NOT NULL ORDER BY row",
            (status,),
        )
        yield from self._db.execute(
            "SELECT row, id, code, message, fields FROM outcome WHERE status = ? AND row IS NULL", (status,)
        )

    def _write_rows(self, status: str) -> None:
        path = self.path(status)
        if self.source is not None and self.source.is_jsonl:
            self._write_jsonl(path, status)
            return
        readable = self.source is not None and self.source.path.is_file()
        header = self.source.header() if readable and self.source is not None else ["Id"]
        keep = [i for i, name in enumerate(header) if not name.startswith(RESULT_PREFIX)]
        columns = [header[i] for i in keep]
        id_column = next((n for n, name in enumerate(columns) if name.lower() == "id"), None)
        handle, writer = self._open(path, [*columns, *ERROR_COLUMNS], self.source.delimiter if self.source else ",")
        with handle:
            if not self.counts[status]:
                return
            rows = self.source.raw_rows() if readable and self.source is not None else iter(())
            current = next(rows, None)
            for row, record_id, code, message, fields in self._spooled(status):
                while current is not None and row is not None and current[0] < row:
                    current = next(rows, None)
                if current is not None and row is not None and current[0] == row and isinstance(current[1], list):
                    cells = current[1]
                    values = [cells[i] if i < len(cells) else "" for i in keep]
                else:
                    values = [""] * len(columns)
                    if id_column is not None:
                        values[id_column] = record_id or ""
                writer.writerow([*values, "" if row is None else row, code, message, fields])

    def _write_jsonl(self, path: Path, status: str) -> None:
        assert self.source is not None
        mode = "a" if self.append and path.exists() else "w"
        with open(path, mode, encoding="utf-8", newline="") as handle:
            if not self.counts[status]:
                return
            rows = self.source.raw_rows() if self.source.path.is_file() else iter(())
            current = next(rows, None)
            for row, record_id, code, message, fields in self._spooled(status):
                while current is not None and row is not None and current[0] < row:
                    current = next(rows, None)
                if current is not None and row is not None and current[0] == row and isinstance(current[1], dict):
                    record = {k: v for k, v in current[1].items() if not k.startswith(RESULT_PREFIX)}
                else:
                    record = {"Id": record_id}
                record.update(zip(ERROR_COLUMNS, ("" if row is None else row, code, message, fields), strict=True))
                handle.write(json.dumps(record, ensure_ascii=False) + self._line_ending)
