"""Per-record outcomes and the sinks that receive them.

Every input record ends in exactly one outcome: ``succeeded``, ``failed`` (Salesforce judged the record and
said no, with an error code) or ``unprocessed`` (Salesforce never judged it: the job was aborted or failed,
the run was interrupted, the org refused the request itself, e.g. for its daily limit, or the request
carrying it could not be completed). Strategies hand outcomes to a sink as soon as they are known, so
memory does not grow with the number of records.

Sinks are called from the strategy's main thread only; they need no locking.

Successes may also arrive many at once (`write_succeeded`): a Bulk job whose info says nothing failed has
every uploaded row succeeded, and building one `RecordOutcome` per row of a million-row job costs more
than the rest of the client's work on it. A sink that can write a page of ``(row, Id)`` pairs in one call
has a ``write_succeeded(rows)`` method; `write_successes` falls back to `write` for one that has not.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

Status = Literal["succeeded", "failed", "unprocessed"]
SUCCEEDED: Status = "succeeded"
FAILED: Status = "failed"
UNPROCESSED: Status = "unprocessed"


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to one input row.

    `row` is the 1-based input row number (None only when a job is resumed without its local ledger);
    `fields` lists the fields an error names (empty for successes). `created` is an upsert's answer for a
    success: True when the org created the record, False when it updated one, None for an update, or for
    an upsert whose answer was lost and whose record was read back (see `strategies.operation`).
    """

    row: int | None
    id: str | None
    status: Status
    error_code: str = ""
    message: str = ""
    fields: tuple[str, ...] = ()
    created: bool | None = None


def created_cell(created: bool | None) -> str:
    """An outcome's `created` as a success file writes it: ``true``, ``false``, or empty when unknown."""
    return "" if created is None else ("true" if created else "false")


class ResultSink(Protocol):
    """Receives one outcome per input row."""

    def write(self, outcome: RecordOutcome) -> None: ...

    def close(self) -> None: ...


SuccessRows = Sequence[tuple["int | None", "str | None"]]
"""A page of successful rows, as ``(row, Id)`` pairs (a ledger page: rows in upload order)."""


def write_successes(sink: ResultSink, rows: SuccessRows) -> None:
    """Hand `rows` to `sink` as successes: in one call when the sink takes pages, else one outcome each."""
    many = getattr(sink, "write_succeeded", None)
    if many is not None:
        many(rows)
        return
    for row, record_id in rows:
        sink.write(RecordOutcome(row, record_id, SUCCEEDED))


class MemorySink:
    """Keeps every outcome in a list: for tests and small runs only."""

    def __init__(self) -> None:
        self.outcomes: list[RecordOutcome] = []

    def write(self, outcome: RecordOutcome) -> None:
        self.outcomes.append(outcome)

    def close(self) -> None:
        pass

    def by_status(self, status: Status) -> list[RecordOutcome]:
        return [o for o in self.outcomes if o.status == status]

    def by_row(self) -> dict[int | None, RecordOutcome]:
        return {o.row: o for o in self.outcomes}

    @property
    def succeeded(self) -> list[RecordOutcome]:
        return self.by_status(SUCCEEDED)

    @property
    def failed(self) -> list[RecordOutcome]:
        return self.by_status(FAILED)

    @property
    def unprocessed(self) -> list[RecordOutcome]:
        return self.by_status(UNPROCESSED)


class CountingSink:
    """Counts outcomes by status and error code and keeps nothing else: for benchmarks."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.error_codes: Counter = Counter()

    def write(self, outcome: RecordOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.error_code:
            self.error_codes[outcome.error_code] += 1

    def write_succeeded(self, rows: SuccessRows) -> None:
        self.counts[SUCCEEDED] += len(rows)

    def close(self) -> None:
        pass

    @property
    def total(self) -> int:
        return sum(self.counts.values())


SUCCESS_COLUMNS = ("row", "Id")
UPSERT_SUCCESS_COLUMNS = ("row", "Id", "created")
"""An upsert's success file adds ``created`` (``true``/``false``, as Bulk 2.0's ``sf__Created``; empty when
the answer was lost and the record read back)."""
FAILURE_COLUMNS = ("row", "Id", "error_code", "message", "fields")


@dataclass
class CsvResultSink:
    """Writes ``success.csv``, ``failed.csv`` and ``unprocessed.csv`` into `directory`, row by row.

    All three files are created with their header up front, so a consumer always finds them. `fields`
    are joined with ``;``. Rows appear in the order outcomes arrive (sort by ``row`` for input order).
    `upsert` adds the ``created`` column to ``success.csv``.
    """

    directory: str | os.PathLike[str]
    upsert: bool = False
    _files: dict[str, IO[str]] = field(default_factory=dict, init=False, repr=False)
    _writers: dict[str, csv._writer] = field(default_factory=dict, init=False, repr=False)  # type: ignore[name-defined]

    def __post_init__(self) -> None:
        path = Path(self.directory)
        path.mkdir(parents=True, exist_ok=True)
        for status, name, columns in (
            (SUCCEEDED, "success.csv", UPSERT_SUCCESS_COLUMNS if self.upsert else SUCCESS_COLUMNS),
            (FAILED, "failed.csv", FAILURE_COLUMNS),
            (UNPROCESSED, "unprocessed.csv", FAILURE_COLUMNS),
        ):
            handle = open(path / name, "w", encoding="utf-8", newline="")  # noqa: SIM115 - held open for the run; close() closes it
            writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(columns)
            self._files[status] = handle
            self._writers[status] = writer

    def paths(self) -> dict[str, Path]:
        base = Path(self.directory)
        return {SUCCEEDED: base / "success.csv", FAILED: base / "failed.csv", UNPROCESSED: base / "unprocessed.csv"}

    def write(self, outcome: RecordOutcome) -> None:
        row = "" if outcome.row is None else outcome.row
        if outcome.status == SUCCEEDED:
            cells: tuple[Any, ...] = (row, outcome.id or "")
            self._writers[SUCCEEDED].writerow((*cells, created_cell(outcome.created)) if self.upsert else cells)
        else:
            self._writers[outcome.status].writerow(
                (row, outcome.id or "", outcome.error_code, outcome.message, ";".join(outcome.fields))
            )

    def write_succeeded(self, rows: SuccessRows) -> None:
        """A page of successes in one call (csv writes the rows at C speed; None is written as an empty cell).

        A page says nothing of `created`: an upsert's page leaves it empty (unknown)."""
        self._writers[SUCCEEDED].writerows(((*r, "") for r in rows) if self.upsert else rows)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def __enter__(self) -> CsvResultSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
