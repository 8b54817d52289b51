"""`bulk2-csv`: Bulk API 2.0 ingest with CSV written in a stream and exact byte accounting.

Calls, for N records in J jobs (J = 1 unless a job's upload would pass `max_job_bytes`), P polls::

    create J  +  upload T  +  close T  +  poll P  +  results (F + U)        (N = 0: no call at all)

where T is the number of jobs sent in three steps. A job whose CSV (header included, counted exactly as
written) is under 100,000 characters (`MULTIPART_MAX_CHARS`, Salesforce's documented limit for data sent
with the create request) is created with its data in one ``multipart/form-data`` request: a ``job`` part
(the job document) and a ``content`` part (the CSV); Salesforce closes it itself (UploadComplete), so it
costs 1 call plus polls instead of 3. Larger jobs, or every job with ``multipart=False``, take the
three-step path (create, PUT the CSV, PATCH UploadComplete); then T = J.

where F is the number of jobs with at least one failed record (one ``failedResults/`` download each) and
U the number of jobs with unprocessed records (one ``unprocessedrecords/`` download each). Successes cost
nothing: they are the uploaded rows that are neither failed nor unprocessed (``successfulResults/`` is
fetched only with ``fetch_successes=True``, +1 call per job). Batches consumed: ceil(rows/10,000) per job.

Size: Salesforce's 150 MB upload limit applies to the *base64-encoded* body; its docs advise at most
100 MB of raw CSV. `max_job_bytes` (default 100,000,000) bounds the raw bytes we PUT per job, measured
exactly: header, quotes, escaped quotes and LF line endings are all counted, because the measured text is
the text written. Larger inputs become several jobs, run one after another, or `parallel_jobs` at once.

Row mapping: nothing is added to the CSV. The `Ledger` keeps (row, Id) per job on disk; failed and
unprocessed result rows are matched back on the uploaded Id column plus its occurrence number.

Upsert (``operation="upsert"``): the job document names ``operation`` upsert and ``externalIdFieldName``;
the key column comes first instead of Id, and the ledger matches result rows on it. ``successfulResults/``
is downloaded for every job with a success (+1 call per job), because only its ``sf__Created`` says which
records were created, and its ``sf__Id`` gives their Ids.

One pass (issue #14): the client's work per record is done while the input is read for validation, not
in passes of its own. For a CSV file (its columns known from the header) each valid row is stored in the
run journal (as its CSV line), rendered, placed in its job's upload and entered in the ledger as it is
validated (`_Pipeline`, a page of rows at a time); the finished uploads wait on disk until the last row
has passed, so a refused row still costs no call. A job whose info says nothing failed and nothing is
unprocessed reports its rows succeeded a ledger page at a time (`RunContext.succeeded_chunk`: one journal
UPDATE, the sink's ``write_succeeded``), with no outcome object per record. Other inputs (a list, JSON
Lines) are validated first and sent in a pass of their own, through the same `_Pipeline`.

Values: None and the empty string are sent as ``#N/A`` (Bulk's "set to null"; Salesforce stores an empty
text as null anyway); a field a record does not have is an empty cell (Bulk's "leave unchanged"). The
literal text ``#N/A`` is therefore rejected by validation: it would silently mean null.

Failure handling: an upload that fails with a 5xx or a dropped connection is never re-PUT into the same
job (a second upload could double its data); the job is aborted and the chunk, still on disk, is uploaded
once more into a fresh job (`upload_attempts`). An upload refused for the request's sake (the daily
limit, ``REQUEST_LIMIT_EXCEEDED``, or a session that cannot be renewed) leaves its rows unprocessed with
that code and stops the run, as every strategy does; an upload whose data the org refuses (an unknown
column, say) fails its rows with the org's error. On an error or Ctrl-C, a job that was not closed is
aborted (its rows are unprocessed); a closed job keeps running and its rows are pending, resumable by id.
A client-side poll timeout never aborts or deletes: the job's rows are pending and its id is reported.

Lost answers (`strategies.journal` tables them all): a close whose answer is lost or refused is checked
against the job's state, so a job the org closed is waited for, never aborted; a create whose answer is
lost is followed by a look for the orphan job (`_Submission.abort_orphans`) and one more create. A create
with data whose answer is lost is looked for the same way among the jobs past Open (it closed itself and
may have run): one found is the run's job, waited for and collected; none, the request is sent once more;
several (another client made the same kind of job at that moment) cannot be told apart, and the rows are
reported unprocessed with ``OUTCOME_UNKNOWN`` (a resumed run looks again). With a `state_dir`, every step
is journaled first and `resume_run` completes a run killed at any point.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import IO, Any, ClassVar

from urllib3 import encode_multipart_formdata
from urllib3.fields import RequestField

from .base import CallEstimate, RunContext, UpdateStrategy, ceil_div
from .errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    RequestLimitError,
    RunInterrupted,
    ServerError,
    TransportError,
)
from .journal import OUTCOME_UNKNOWN
from .ledger import ResultRow
from .meter import FAMILY_BULK2
from .operation import UPSERT
from .orphans import listed_candidates
from .polling import DEFAULT_POLL_POLICY, PollPolicy, poll
from .records import (
    Chunk,
    Chunker,
    ChunkLimits,
    PreparedRecords,
    RecordTooLarge,
    Row,
    ValueCheck,
    ValueScreen,
    csv_line,
    file_columns,
    text_of,
)
from .sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome, ResultSink, Status

DEFAULT_MAX_JOB_BYTES = 100_000_000
MULTIPART_MAX_CHARS = 100_000
"""A job's CSV must be under this many characters to travel with its create request (multipart)."""
_CLOSED_STATES = ("UploadComplete", "InProgress", "JobComplete", "Failed")
"""The states a job created with its data can be in: it was never Open to the client."""
INTERNAL_BATCH_RECORDS = 10_000
NULL_MARKER = "#N/A"
_FINAL_STATES = ("JobComplete", "Failed", "Aborted")


def fits_one_request(csv_chars: float) -> bool:
    """A job's CSV of this many characters (header included) may be sent with its create request."""
    return csv_chars < MULTIPART_MAX_CHARS


def csv_value_problem(_name: str, value: Any) -> str | None:
    """Text a Bulk 2.0 CSV cannot carry as given (called for every value of every record: keep it lean)."""
    if not isinstance(value, str):
        return None
    if value == NULL_MARKER:
        return "the text '#N/A' means null in a Bulk 2.0 CSV; send None to clear a field"
    if "\x00" in value:
        return "text contains a NUL character"
    if not value.isascii():  # only non-ASCII text can hold a lone surrogate
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text contains a lone surrogate and cannot be encoded as UTF-8"
    return None


def csv_values_pass(values: list[Any]) -> bool:
    """True when `csv_value_problem` certainly finds nothing in any of `values` (all text, ASCII, no NUL,
    none the null marker), tested once for the row; False: check each."""
    try:
        text = "\x01".join(values)  # TypeError unless every value is text
    except TypeError:
        return False
    return text.isascii() and "\x00" not in text and NULL_MARKER not in values


class CsvRowWriter:
    """Renders records as CSV lines under one header, with Bulk 2.0's conventions (see the module doc).

    Called once per record, so the common record (every cell non-empty text needing no quotes) is
    rendered with one join and a few scans of the whole line at C speed; anything else (a null, an absent
    field, a non-text value, a comma, quote, line break, a character that is not printable, or a space at
    a cell's edge) goes cell by cell through `csv_cell`, which is the reference behaviour.
    """

    _ABSENT = object()

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.header = csv_line(self.columns)
        self._commas = len(self.columns) - 1
        self._cells = itemgetter(*self.columns) if len(self.columns) > 1 else lambda r: (r[self.columns[0]],)

    def line(self, record: Mapping[str, Any]) -> str:
        try:
            cells = self._cells(record)  # KeyError when the record lacks a field
            line = ",".join(cells)  # TypeError unless every cell is text
        except (KeyError, TypeError):
            absent = self._ABSENT
            return self._careful([record.get(c, absent) for c in self.columns])
        if (
            not line
            or "" in cells
            or line.count(",") != self._commas
            or '"' in line
            or not line.isprintable()  # CR, LF, tabs and every other whitespace but the ASCII space
            or line[0] == " "
            or line[-1] == " "
            or " ," in line
            or ", " in line
        ):
            return self._careful(cells)
        return line + "\n"

    def page(self, records: Sequence[Mapping[str, Any]]) -> str | None:
        """The lines of `records` joined, when every record is one `line` renders with its one join: the
        same tests, made once on the page's whole text (no Python code runs per record). None when any
        record is not (render each with `line`)."""
        try:
            text = "\n".join(map(",".join, map(self._cells, records)))
        except (KeyError, TypeError):  # an absent field, or a value that is not text
            return None
        if (
            not text
            or text.count(",") != len(records) * self._commas  # no line has fewer: each has exactly its own
            or text.count("\n") != len(records) - 1  # the only line breaks are the separators
            or '"' in text
            or not text.replace("\n", " ").isprintable()
            or text[0] in ",\n "
            or text[-1] in ",\n "
            or ",," in text
            or "\n\n" in text
            or ",\n" in text
            or "\n," in text
            or " ," in text
            or ", " in text
            or " \n" in text
            or "\n " in text
        ):
            return None
        return text + "\n"

    def _careful(self, cells: Sequence[Any]) -> str:
        absent = self._ABSENT
        return csv_line("" if v is absent else NULL_MARKER if v is None or v == "" else text_of(v) for v in cells)


def csv_columns(known: Sequence[str], key: str = "Id") -> list[str]:
    """The CSV's columns for records with fields `known`: the key (Id, or an upsert's external id, as the
    records spell it) first, then the others in first-seen order."""
    spelled = next((c for c in known if c.lower() == key.lower()), key)
    return [spelled] + [c for c in known if c != spelled]


def csv_chars(rows: Iterable[Row], known: Sequence[str], *, limit: int = MULTIPART_MAX_CHARS, key: str = "Id") -> int:
    """Characters of the one-job CSV `bulk2-csv` writes for `rows` (header included), counted until `limit`
    is reached (the count returned is then at least `limit`): how `auto` learns whether the job would be
    sent with its create request."""
    writer = CsvRowWriter(csv_columns(known, key))
    total = len(writer.header)
    for _number, record in rows:
        if total >= limit:
            break
        total += len(writer.line(record))
    return total


def first_row(data: bytes) -> dict[str, str]:
    """The first data row of a CSV as {column: cell text}."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader, [])
    return dict(zip(header, next(reader, []), strict=False))


def parse_sf_error(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``CODE:message:field1,field2 --`` (Bulk's ``sf__Error``) as (code, message, fields)."""
    body = text.strip()
    if body.endswith("--"):
        body = body[:-2].rstrip()
    code, _, rest = body.partition(":")
    message, fields_text = rest, ""
    if ":" in rest:
        message, _, fields_text = rest.rpartition(":")
    fields = tuple(f.strip() for f in fields_text.split(",") if f.strip())
    return code.strip() or "UNKNOWN_ERROR", message.strip(), fields


@dataclass
class _IngestJob:
    chunk: str
    records: int
    file: IO[bytes] | None
    job_id: str = ""
    info: dict[str, Any] | None = None
    reported: bool = False
    closed: bool = False
    """The org accepted UploadComplete (or says the job is past Open): its rows are the job's to report."""


class Bulk2Strategy(UpdateStrategy):
    """Bulk API 2.0 ingest, CSV. See the module docstring for the formula and the failure rules."""

    name: ClassVar[str] = "bulk2-csv"
    family: ClassVar[str] = FAMILY_BULK2
    supports_resume: ClassVar[bool] = True

    def __init__(
        self,
        session: Any,
        *,
        max_job_bytes: int = DEFAULT_MAX_JOB_BYTES,
        max_job_records: int | None = None,
        parallel_jobs: int = 1,
        poll_policy: PollPolicy = DEFAULT_POLL_POLICY,
        sleep: Callable[[float], None] | None = None,
        fetch_successes: bool = False,
        upload_attempts: int = 2,
        multipart: bool = True,
        **common: Any,
    ) -> None:
        """`multipart`: send a job whose CSV is under `MULTIPART_MAX_CHARS` characters with its create request
        (1 call instead of 3); False always takes the three-step path (create, upload, close)."""
        super().__init__(session, **common)
        if max_job_bytes > 150_000_000 or max_job_bytes < 1024:
            raise ConfigurationError("max_job_bytes must be between 1 KiB and 150,000,000")
        if parallel_jobs < 1 or upload_attempts < 1:
            raise ConfigurationError("parallel_jobs and upload_attempts must be at least 1")
        self.limits = ChunkLimits(max_records=max_job_records, max_bytes=max_job_bytes)
        self.parallel_jobs = parallel_jobs
        self.poll_policy = poll_policy
        self.sleep = sleep or session.sleep
        self.fetch_successes = fetch_successes
        self.upload_attempts = upload_attempts
        self.multipart = multipart
        self._first_pass: _Pipeline | None = None
        """The first pass's rows, rendered and held during the validation pass (`_during_validation`)."""

    # -- formula --------------------------------------------------------------------------------------
    @classmethod
    def api_calls(
        cls,
        n_records: int,
        *,
        polls: int = 1,
        job_sizes: Sequence[int] | None = None,
        max_job_records: int | None = None,
        jobs_with_failures: int = 0,
        jobs_with_unprocessed: int = 0,
        fetch_successes: bool = False,
        row_chars: float | None = None,
        multipart: bool = True,
        operation: str = "update",
        **_options: Any,
    ) -> CallEstimate:
        """`row_chars`: characters per CSV row (the header counted as one more row); with it, a job under
        `MULTIPART_MAX_CHARS` is counted as one create-with-data call. Unknown (None), every job is counted
        in three steps: the estimate is then an upper bound."""
        if n_records <= 0:
            return CallEstimate({})
        if job_sizes is None:
            if max_job_records:
                full, rest = divmod(n_records, max_job_records)
                job_sizes = [max_job_records] * full + ([rest] if rest else [])
            else:
                job_sizes = [n_records]
        jobs = len(job_sizes)
        three_step = jobs
        if multipart and row_chars is not None:
            three_step = sum(1 for n in job_sizes if not fits_one_request((n + 1) * row_chars))
        successes = fetch_successes or operation == UPSERT  # an upsert's sf__Created is only in successfulResults
        results = jobs_with_failures + jobs_with_unprocessed + (jobs if successes else 0)
        phases = {"create": jobs, "poll": polls}
        if three_step:
            phases.update(upload=three_step, close=three_step)
        if results:
            phases["results"] = results
        return CallEstimate(phases, batches=sum(ceil_div(n, INTERNAL_BATCH_RECORDS) for n in job_sizes))

    def _formula_options(self) -> dict[str, Any]:
        return {
            "max_job_records": self.limits.max_records,
            "fetch_successes": self.fetch_successes,
            "multipart": self.multipart,
            "operation": self.operation.name,
        }

    def _value_check(self) -> ValueCheck | None:
        return csv_value_problem

    def _value_screen(self) -> ValueScreen | None:
        return csv_values_pass

    # -- submission -----------------------------------------------------------------------------------
    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        pipeline, self._first_pass = self._first_pass, None
        if pipeline is None or second_pass:
            if pipeline is not None:
                pipeline.abandon()
            known = run.columns if not second_pass else None
            pipeline = _Pipeline(
                self, _Submission(self, sobject, run), csv_columns(known, run.operation.key) if known else None
            )
        submission = pipeline.submission
        try:
            pipeline.release()
            for number, record in rows:
                if submission.stopped:
                    run.unprocessed(number, run.row_key(record), "NOT_SENT", submission.stopped)
                    continue
                pipeline.add(number, record)
            pipeline.finish()
        except BaseException:
            pipeline.stop()
            raise

    def _during_validation(
        self, sobject: str, records: Iterable[Mapping[str, Any]], run: RunContext
    ) -> Callable[[int, dict[str, Any]], None] | None:
        """A CSV file's columns are known before its first row: each valid row is rendered, placed in its
        job's upload and entered in the ledger as it is validated, and the finished uploads are held until
        the whole input has passed (`_Pipeline`'s held mode: no request before that)."""
        header = file_columns(records)
        if header is None:
            return None
        columns = csv_columns(["Id" if name.lower() == "id" else name for name in header], run.operation.key)
        self._first_pass = _Pipeline(self, _Submission(self, sobject, run), columns, held=True)
        return self._first_pass.add

    def _after_validation(self, prepared: PreparedRecords | None, run: RunContext) -> None:
        pipeline = self._first_pass
        if pipeline is None:
            return
        if prepared is not None:
            pipeline.end_of_input()
        if prepared is None or set(prepared.columns or ()) != set(pipeline.columns):
            # Refused, or a header column no row fills (sent as the rows' fields, never as an empty column):
            # the rows are rendered again by the first pass, from the journal or the input.
            pipeline.abandon()
            self._first_pass = None
            return
        prepared.columns = list(pipeline.columns)
        prepared.taken = True

    def _resume_options(self) -> dict[str, Any]:
        return {
            **super()._resume_options(),
            "max_job_bytes": self.limits.max_bytes,
            "max_job_records": self.limits.max_records,
            "parallel_jobs": self.parallel_jobs,
            "fetch_successes": self.fetch_successes,
            "upload_attempts": self.upload_attempts,
            "multipart": self.multipart,
        }

    def _resolve(self, sobject: str, run: RunContext) -> None:
        """Resume: per chunk in flight, read its job. Open (the upload may be partial, never processed):
        aborted, its rows sent again. Closed, processing or finished: waited for and collected. Aborted with
        nothing processed, or no job at all (after looking for an orphan of a lost create): rows sent again.
        A create with data whose answer never came: the job it made, found past Open, is waited for and
        collected; none found, the rows are sent again; several, they stay unprocessed (OUTCOME_UNKNOWN)."""
        journal = run.journal
        assert journal is not None
        submission = _Submission(self, sobject, run)
        try:
            for chunk in journal.open_chunks():
                key, job_id = chunk["chunk"], chunk["job_id"]
                creates = journal.steps("create", chunk=key)
                if not job_id and creates:  # journaled, though the chunk was not assigned yet
                    job_id = creates[-1]["job_id"]
                if not job_id:
                    last = creates[-1] if creates else None
                    if last and last["state"] == "intent" and (last["detail"] or {}).get("with_data"):
                        found = submission.created_with_data(float(last["at"]), self._first_row_of(journal, key, run))
                        if found is None or len(found) > 1:
                            submission.report_rows(
                                key, UNPROCESSED, OUTCOME_UNKNOWN, "the job's creation answer was lost"
                            )
                            continue
                        if found:
                            job = _IngestJob(key, journal.count(key), None)
                            submission._adopt(job, found[0])
                            journal.settle(int(last["seq"]), job_id=found[0])
                            submission.inflight.append(job)
                            continue
                    elif last and last["state"] == "intent":
                        submission.abort_orphans(float(last["at"]))
                    journal.forget(key)
                    continue
                info = submission.info_of(job_id, phase="resolve")
                state = str(info.get("state"))
                if state == "Open":
                    submission._abort(job_id, "resumed with its upload unfinished; its rows are sent again")
                    journal.forget(key)
                elif state == "Aborted" and not int(info.get("numberRecordsProcessed") or 0):
                    journal.forget(key)
                else:
                    run.job(job_id)
                    job = _IngestJob(key, journal.count(key), None, job_id, info=info, closed=True)
                    submission.inflight.append(job)
            submission.wait(all_jobs=True)
        except BaseException:
            submission.stop()
            raise

    @staticmethod
    def _first_row_of(journal: Any, chunk: str, run: RunContext) -> dict[str, str]:
        """The first data row of `chunk`'s CSV as uploaded, rendered again from the journaled record."""
        row = next((number for number, _id in journal.rows(chunk) if number is not None), None)
        record = journal.records([row]).get(row, {}) if row is not None else {}
        writer = CsvRowWriter(csv_columns(run.columns or list(record), run.operation.key))
        return first_row((writer.header + writer.line(record)).encode("utf-8"))

    def resume(self, job_id: str, sink: ResultSink) -> Any:
        """Wait for a job started earlier and collect its outcomes.

        With this strategy's ledger (same instance, or the same `state_dir`) outcomes carry input row
        numbers and successes cost no call; without it, all three result sets are downloaded (3 calls)
        and rows are reported with row None.
        """
        chunks = self.ledger.chunks_of_job(job_id)
        sobject = chunks[0]["sobject"] if chunks else ""
        run = RunContext(self, sobject, sink, second_pass_allowed=False)
        submission = _Submission(self, sobject, run)
        self._pending_jobs.discard(job_id)
        try:
            if chunks:
                job = _IngestJob(chunks[0]["chunk"], chunks[0]["records"], None, job_id)
                run.submitted(job.records)
                run.job(job_id)
                submission.inflight.append(job)
                run.note(f"resumed job {job_id}")
                submission.wait(all_jobs=True)
            else:
                submission.collect_without_ledger(job_id)
        except KeyboardInterrupt:
            submission.stop()
            run.summary.interrupted = True
            raise RunInterrupted(run.finish()) from None
        return run.finish()


_FIRST, _SECOND = itemgetter(0), itemgetter(1)


class _Pipeline:
    """Rows into jobs, one pass: each row is rendered to its CSV line, placed in a chunk (one job's upload,
    within the job limits) and entered in the ledger; a finished chunk goes to `_Submission.submit`.

    Rows are taken a page at a time (`PAGE` rows): a page whose rows all fit in the open chunk is written
    with one write and entered in the ledger with one call; the page that crosses a job limit, or holds a
    row with new columns, goes row by row. The per-row work is then the rendering alone.

    While `held` (during the validation pass, when the input may yet be refused) finished chunks stay on
    disk, unsent, and rows too large for any job wait for their outcome; with a run journal the pipeline
    also stores each row in it (as its CSV line: `RunJournal.spool_lines`). `release` sends what was held,
    first thing once the input has passed. `abandon` drops it (the rows then go through a pass of their
    own). `stop` reports every row it holds that was not sent, after an error or Ctrl-C.
    """

    PAGE = 2000

    def __init__(
        self, strategy: Bulk2Strategy, submission: _Submission, columns: list[str] | None, *, held: bool = False
    ) -> None:
        self.strategy = strategy
        self.submission = submission
        self.run = submission.run
        self.upsert = self.run.operation.is_upsert
        self.ledger = strategy.ledger
        self.columns: tuple[str, ...] = tuple(columns or ())
        self.writer = CsvRowWriter(columns) if columns else None
        self.chunker = Chunker(strategy.limits, header=self.writer.header if self.writer else "")
        self._column_set = set(self.columns)
        self._key_index, self._key = -2, ""
        self._page: list[Row] = []
        self._held: list[Chunk] | None = [] if held else None
        self._deferred: list[RecordOutcome] = []
        self._taken = 0
        self._placed = False
        self.journal = strategy.journal if held else None
        if self.journal is not None:
            self.journal.describe(line_columns=list(self.columns), line_null=NULL_MARKER)

    def add(self, number: int, record: dict[str, Any]) -> None:
        page = self._page
        page.append((number, record))
        if len(page) >= self.PAGE:
            self._place()

    def _place(self) -> None:
        page, self._page = self._page, []
        if not page:
            return
        self._taken += len(page)
        writer, column_set = self.writer, self._column_set
        records = list(map(_SECOND, page))
        if writer is not None and all(map(column_set.issuperset, records)):
            text = writer.page(records)
            if text is None:
                text = "".join(map(writer.line, records))
            if self.chunker.add_text(text, len(records)):
                numbers = list(map(_FIRST, page))
                if self.upsert:  # the ledger names a row by its key; the journal's Id is the org's answer
                    keys: list[Any] = list(map(self.run.row_key, records))
                    ids: list[Any] = [None] * len(records)
                else:
                    keys = ids = [record.get("Id") for record in records]
                self.ledger.add_page(self._key, numbers, keys)
                if self.journal is not None:
                    self.journal.spool_lines(numbers, ids, text.splitlines())
                return
        for at, (number, record) in enumerate(page):
            try:
                self._place_one(number, record)
            except BaseException:
                # Rows not placed are `stop`'s to report; a placed row is in the open chunk's ledger entries.
                self._page = page[at + 1 :] if self._placed else page[at:]
                raise

    def _place_one(self, number: int, record: dict[str, Any]) -> None:
        self._placed = False
        writer = self.writer
        if writer is None or not self._column_set.issuperset(record):
            self.columns = tuple(csv_columns(list(record), self.run.operation.key))
            self._column_set = set(self.columns)
            writer = self.writer = CsvRowWriter(self.columns)
            finished = self.chunker.set_header(writer.header)
            if finished is not None:
                self._send(finished)
        if self.journal is not None:
            self.journal.spool_row(number, record)
        chunker = self.chunker
        try:
            finished = chunker.add(writer.line(record))
        except RecordTooLarge as exc:
            outcome = RecordOutcome(number, record.get("Id"), FAILED, "RECORD_TOO_LARGE", str(exc))
            if self._held is not None:
                self._deferred.append(outcome)
            else:
                self.run.outcome(outcome)
            return
        if chunker.index != self._key_index:
            self._key_index, self._key = chunker.index, self.submission.chunk_key(chunker.index)
        self.ledger.add(self._key, number, self.run.row_key(record))
        self._placed = True
        if finished is not None:
            self._send(finished)

    def _send(self, chunk: Chunk) -> None:
        if self._held is not None:
            self._held.append(chunk)
        elif self.submission.stopped:  # a page's rows are placed together: the stop may come within one
            self._not_sent(chunk, self.submission.stopped)
        else:
            self.submission.submit(chunk)

    def end_of_input(self) -> None:
        """The validation pass is over: place the last page."""
        self._place()

    def release(self) -> None:
        """Send what was held (its rows are counted as submitted now); from here on chunks go out as they
        finish."""
        held, self._held = self._held, None
        if held is None:
            return
        self.journal = None
        self.run.submitted(self._taken)
        try:
            for outcome in self._deferred:
                self.run.outcome(outcome)
            self._deferred.clear()
            while held:
                self._send(held.pop(0))
        except BaseException:
            for rest in held:
                self._not_sent(rest, "not sent: the run stopped before this job was created")
            held.clear()
            raise

    def finish(self) -> None:
        self._place()
        last = self.chunker.flush()
        if last is not None:
            self._send(last)
        self.submission.wait(all_jobs=True)

    def stop(self) -> None:
        why = "not sent: the run stopped before this job was created"
        for number, record in self._page:
            self.run.unprocessed(number, self.run.row_key(record), "NOT_SENT", why)
        self._page = []
        if self.chunker.open_records:
            self.submission.report_rows(self.submission.chunk_key(self.chunker.index), UNPROCESSED, "NOT_SENT", why)
        self.chunker.discard()
        self.submission.stop()

    def abandon(self) -> None:
        """Forget everything placed so far (nothing was sent): chunks, ledger entries, deferred outcomes."""
        for chunk in self._held or ():
            chunk.file.close()
        self._held = []
        self._page = []
        self._deferred.clear()
        self.chunker.discard()
        for index in range(self.chunker.index + 1):
            self.ledger.forget(self.submission.chunk_key(index))

    def _not_sent(self, chunk: Chunk, why: str) -> None:
        chunk.file.close()
        self.submission.report_rows(self.submission.chunk_key(chunk.index), UNPROCESSED, "NOT_SENT", why)


class _Submission:
    """The jobs of one `_submit` (or `resume`) call: create, upload, close, wait, collect."""

    def __init__(self, strategy: Bulk2Strategy, sobject: str, run: RunContext) -> None:
        self.strategy = strategy
        self.session = strategy.session
        self.ledger = strategy.ledger
        self.sobject = sobject
        self.run = run
        self.inflight: list[_IngestJob] = []
        self.stopped = ""
        self._prefix = uuid.uuid4().hex[:12]
        self._deadline: float | None = None

    def chunk_key(self, index: int) -> str:
        return f"{self._prefix}-{index}"

    # -- one job --------------------------------------------------------------------------------------
    def submit(self, chunk: Chunk) -> None:
        job = _IngestJob(self.chunk_key(chunk.index), chunk.records, chunk.file)
        try:
            if self.strategy.multipart and fits_one_request(chunk.chars):
                sent = self._create_with_data(job)
            else:
                sent = self._send_in_three_steps(job)
            if not sent:
                return
        except BaseException:
            if not job.reported and not job.closed:
                self.report_rows(job.chunk, UNPROCESSED, "NOT_SENT", "not sent: this job's upload did not complete")
                job.reported = True
            raise
        finally:
            if job.file is not None:
                job.file.close()
                job.file = None
        self.run.summary.batches += ceil_div(job.records, INTERNAL_BATCH_RECORDS)
        self.inflight.append(job)
        if len(self.inflight) >= self.strategy.parallel_jobs:
            self.wait(all_jobs=False)

    def _send_in_three_steps(self, job: _IngestJob) -> bool:
        """Create, upload, close. False when the org refused the data (its rows are reported failed)."""
        for attempt in range(1, self.strategy.upload_attempts + 1):
            job.job_id = self._create(job)
            step = self.run.intend("upload", chunk=job.chunk, job_id=job.job_id)
            try:
                self._upload(job)
            except (ServerError, TransportError) as exc:
                self.run.settle(step, "failed")
                self._abort(job.job_id, f"upload failed ({exc.__class__.__name__}); nothing was processed")
                if attempt < self.strategy.upload_attempts:
                    self.run.note(f"retrying the upload of {job.records} record(s) in a new job")
                    continue
                raise
            except (RequestLimitError, AuthenticationError) as exc:
                # The org refused the request, not the records: they were never processed, and every
                # further call would be refused the same way, so the run stops here.
                self.run.settle(step, "failed")
                self._abort(job.job_id, f"upload refused: {exc.error_code}")
                self.report_rows(job.chunk, UNPROCESSED, exc.error_code, exc.message)
                job.reported = True
                raise
            except ApiError as exc:  # the org refused the data itself (e.g. a column it does not know)
                self.run.settle(step, "failed")
                self._abort(job.job_id, f"upload refused: {exc.error_code}")
                self.report_rows(job.chunk, FAILED, exc.error_code, exc.message)
                job.reported = True
                return False
            except BaseException:
                self.run.settle(step, "failed")
                self._abort(job.job_id, "the run stopped during the upload")
                raise
            self.run.settle(step)
            break
        self._close(job)
        return True

    def _job_document(self) -> dict[str, Any]:
        operation = self.run.operation
        key = {"externalIdFieldName": operation.key} if operation.is_upsert else {}
        return {
            "object": self.sobject,
            "operation": operation.name,
            **key,
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }

    def _create_with_data(self, job: _IngestJob) -> bool:
        """Create the job with its CSV in one multipart request; the org closes it. False when the org
        refused the data or the request's outcome cannot be told (its rows are reported either way).

        A lost answer (5xx, dropped connection, timeout) may have made a job that holds the data and has
        run: `created_with_data` looks for it; one found is this job, none means the request did nothing
        and it is sent once more."""
        assert job.file is not None
        job.file.seek(0)
        document = RequestField("job", json.dumps(self._job_document()))
        document.make_multipart(content_type="application/json")
        data = job.file.read()
        sample = first_row(data)
        content = RequestField("content", data, filename="content")
        content.make_multipart(content_type="text/csv")
        body, content_type = encode_multipart_formdata([document, content])
        for attempt in (1, 2):
            step = self.run.intend("create", chunk=job.chunk, detail={"with_data": True})
            asked_at = time.time()
            try:
                with self.session.phase("create"):
                    info = self.session.request(
                        "POST",
                        self.session.rest_url("jobs/ingest"),
                        family=FAMILY_BULK2,
                        data=body,
                        headers={"Content-Type": content_type},
                    ).json()
            except (ServerError, TransportError) as exc:
                self.run.note(f"creating a job with its data got no answer ({type(exc).__name__}); looking for it")
                found = self.created_with_data(asked_at, sample)
                if found is None or len(found) > 1:  # the intent stays open: a resumed run looks again
                    self.report_rows(job.chunk, UNPROCESSED, OUTCOME_UNKNOWN, "the job's creation answer was lost")
                    job.reported = True
                    return False
                if found:
                    self.run.settle(step, job_id=found[0])
                    self._adopt(job, found[0])
                    self.run.note(f"job {found[0]} was created with this chunk's data; its answer was lost")
                    return True
                self.run.settle(step, "failed")
                if attempt == 2:
                    raise
                continue
            except (RequestLimitError, AuthenticationError) as exc:  # refused: nothing was created
                self.run.settle(step, "failed")
                self.report_rows(job.chunk, UNPROCESSED, exc.error_code, exc.message)
                job.reported = True
                raise
            except ApiError as exc:  # the org refused the job or its data (nothing was created)
                self.run.settle(step, "failed")
                self.report_rows(job.chunk, FAILED, exc.error_code, exc.message)
                job.reported = True
                return False
            except BaseException:  # Ctrl-C in flight: the job may exist and run; the intent stays open
                self.report_rows(
                    job.chunk, UNPROCESSED, OUTCOME_UNKNOWN, "the run stopped while the job was being created"
                )
                job.reported = True
                raise
            self.run.settle(step, job_id=str(info["id"]))
            self._adopt(job, str(info["id"]))
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    def _adopt(self, job: _IngestJob, job_id: str) -> None:
        """`job_id` is `job`'s job, closed by the org."""
        job.job_id = job_id
        job.closed = True
        self.ledger.assign(job.chunk, job_id=job_id, records=job.records, sobject=self.sobject)
        self.run.job(job_id)

    def created_with_data(self, asked_at: float, sample: Mapping[str, str]) -> list[str] | None:
        """The jobs a create-with-data request sent at `asked_at` may have made (`strategies.orphans`), or
        None when the org's job list cannot be read.

        A Bulk 2.0 job carries no tag of ours, and the list's time window is a few seconds wide (whole-second
        clocks), so a job another run finished just before can be in it too, alone or beside ours. So the
        data decides, for every candidate: each is waited for and only one whose results list `sample` (the
        chunk's first data row, cells as uploaded: a run's values differ from another's) is kept. Adopting
        another run's job would report rows as applied that never were."""
        found = listed_candidates(
            self.session, self.run, sobject=self.sobject, job_type="V2Ingest", asked_at=asked_at, states=_CLOSED_STATES
        )
        if found is None:
            return None
        if found:  # even a single candidate: it may be another run's job from the same few seconds
            try:
                found = [job_id for job_id in found if self._lists_row(job_id, sample)]
            except Exception as exc:
                self.run.note(f"could not read the results of the jobs that could be ours ({type(exc).__name__})")
                return None
        if len(found) > 1:
            self.run.note(
                f"{len(found)} jobs could be the one created with this run's data ({', '.join(found)}); "
                "their rows are reported unprocessed (OUTCOME_UNKNOWN)"
            )
        return found

    def _lists_row(self, job_id: str, sample: Mapping[str, str]) -> bool:
        """Whether the finished job's results (successful, failed or unprocessed) hold `sample`'s row."""
        with self.session.phase("resolve"):
            waited = poll(
                lambda: self.info_of(job_id),
                lambda info: info.get("state") in _FINAL_STATES,
                self.strategy.poll_policy,
                sleep=self.strategy.sleep,
            )
        if not waited.done:
            raise TimeoutError(f"job {job_id} did not finish")
        for resource in ("successfulResults/", "failedResults/", "unprocessedrecords/"):
            spool = tempfile.TemporaryFile(prefix="sfh-bulk2-result-")  # noqa: SIM115 - closed below
            with spool:
                with self.session.phase("resolve"):
                    url = self.session.rest_url(f"jobs/ingest/{job_id}/{resource}")
                    self.session.download(url, spool, family=FAMILY_BULK2)
                spool.seek(0)
                reader = csv.reader(_lines_keeping_newlines(spool))
                header = next(reader, None) or []
                if not set(sample) <= set(header):
                    continue
                where = [(header.index(name), value) for name, value in sample.items()]
                if any(all(i < len(cells) and cells[i] == value for i, value in where) for cells in reader):
                    return True
        return False

    def _create(self, job: _IngestJob) -> str:
        """Create the job for `job`'s chunk. A lost answer (5xx, dropped connection, timeout) may have created
        a job we cannot see: `abort_orphans` looks for it, then one more job is created."""
        body = self._job_document()
        for attempt in (1, 2):
            step = self.run.intend("create", chunk=job.chunk)
            asked_at = time.time()
            try:
                with self.session.phase("create"):
                    info = self.session.request(
                        "POST", self.session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body=body
                    ).json()
            except (ServerError, TransportError) as exc:
                self.run.settle(step, "failed")
                if attempt == 2:
                    raise
                self.run.note(f"creating a job got no answer ({type(exc).__name__}); looking for it, then again")
                self.abort_orphans(asked_at)
                continue
            job_id = str(info["id"])
            self.run.settle(step, job_id=job_id)
            self.ledger.assign(job.chunk, job_id=job_id, records=job.records, sobject=self.sobject)
            self.run.job(job_id)
            return job_id
        raise AssertionError("unreachable")  # pragma: no cover

    def abort_orphans(self, asked_at: float) -> None:
        """Abort the job a create request whose answer was lost may have made (`strategies.orphans`)."""
        candidates = listed_candidates(
            self.session, self.run, sobject=self.sobject, job_type="V2Ingest", asked_at=asked_at
        )
        if candidates is None:
            return
        if len(candidates) == 1:
            self._abort(candidates[0], "it was created by a request whose answer was lost; it holds no data")
        elif candidates:
            self.run.note(
                f"{len(candidates)} open jobs could be the one whose creation answer was lost "
                f"({', '.join(candidates)}); none was aborted. They hold no data of this run"
            )

    def _upload(self, job: _IngestJob) -> None:
        assert job.file is not None
        job.file.seek(0)
        with self.session.phase("upload"):
            response = self.session.request(
                "PUT",
                self.session.rest_url(f"jobs/ingest/{job.job_id}/batches"),
                family=FAMILY_BULK2,
                data=job.file,
                headers={"Content-Type": "text/csv"},
                ok=(200, 201),
            )
            response.close()

    def _close(self, job: _IngestJob) -> None:
        """Close the job. When the answer is lost or refused, the job's state says what happened: past Open,
        the close was applied (its records are processing: never abort it); Open, it was not (aborted); not
        readable either, the job is left pending for `resume_run`."""
        step = self.run.intend("close", chunk=job.chunk, job_id=job.job_id)
        try:
            with self.session.phase("close"):
                self.session.request(
                    "PATCH",
                    self.session.rest_url(f"jobs/ingest/{job.job_id}"),
                    family=FAMILY_BULK2,
                    json_body={"state": "UploadComplete"},
                    idempotent=True,  # setting the same state twice changes nothing
                ).close()
        except BaseException as exc:
            state = self.job_state(job.job_id)
            if state is None:
                self.run.settle(step, "failed")
                job.closed = True  # may be: its rows are pending, never reported unsent
                self.inflight.append(job)
                self.run.note(f"job {job.job_id}: closing it got no answer and its state could not be read")
                raise
            if state == "Open":
                self.run.settle(step, "failed")
                self._abort(job.job_id, "closing it failed")
                raise
            self.run.settle(step)
            job.closed = True
            self.run.note(f"job {job.job_id}: the answer to closing it was lost ({type(exc).__name__}); it is {state}")
            if not isinstance(exc, Exception):
                self.inflight.append(job)  # Ctrl-C: its rows are pending
                raise
            return
        self.run.settle(step)
        job.closed = True

    def job_state(self, job_id: str) -> str | None:
        """The job's state (1 call, phase ``resolve``), or None when it cannot be read."""
        try:
            info = self.info_of(job_id, phase="resolve")
        except Exception:
            return None
        return str(info.get("state"))

    def _abort(self, job_id: str, why: str) -> None:
        step = self.run.intend("abort", job_id=job_id)
        try:
            with self.session.phase("abort"):
                self.session.request(
                    "PATCH",
                    self.session.rest_url(f"jobs/ingest/{job_id}"),
                    family=FAMILY_BULK2,
                    json_body={"state": "Aborted"},
                    idempotent=True,
                ).close()
            self.run.settle(step)
            self.run.note(f"job {job_id} aborted: {why}")
        except Exception as err:
            self.run.settle(step, "failed")
            self.run.note(f"could not abort job {job_id} after '{why}' ({err}); check it in Setup")

    # -- waiting --------------------------------------------------------------------------------------
    def _info(self, job: _IngestJob) -> dict[str, Any]:
        return self.info_of(job.job_id, phase="poll")

    def info_of(self, job_id: str, *, phase: str | None = None) -> dict[str, Any]:
        """The job's info (1 call; in the caller's phase unless `phase` is given)."""
        url = self.session.rest_url(f"jobs/ingest/{job_id}")
        return self.session.request("GET", url, family=FAMILY_BULK2, phase=phase).json()

    def wait(self, *, all_jobs: bool) -> None:
        """Poll the open jobs until one (or all) reach a final state; collect those."""
        while self.inflight:
            if self._deadline is None:
                self._deadline = time.monotonic() + self.strategy.poll_policy.timeout
            remaining = self._deadline - time.monotonic()
            policy = replace(self.strategy.poll_policy, timeout=max(remaining, 0.0))

            def check() -> list[_IngestJob]:
                for job in self.inflight:
                    if job.info is None or job.info.get("state") not in _FINAL_STATES:
                        job.info = self._info(job)
                return [j for j in self.inflight if j.info and j.info.get("state") in _FINAL_STATES]

            self.run.mark("poll")
            with self.session.phase("poll"):
                waited = poll(
                    check,
                    lambda done: bool(done),
                    policy,
                    progress=lambda _done: self._progress(),
                    sleep=self.strategy.sleep,
                )
            if not waited.done:
                self._leave_pending(
                    f"still processing when polling timed out after {self.strategy.poll_policy.timeout:.0f} s"
                )
                self.stopped = "not sent: polling timed out on an earlier job"
                return
            for job in waited.value or []:
                self.inflight.remove(job)
                self._collect(job)
            if not all_jobs and len(self.inflight) < self.strategy.parallel_jobs:
                return

    def _progress(self) -> tuple[int, int]:
        """Records processed so far over records uploaded, across the jobs being waited for."""
        done = sum(int((job.info or {}).get("numberRecordsProcessed") or 0) for job in self.inflight)
        return done, sum(job.records for job in self.inflight)

    def _leave_pending(self, why: str) -> None:
        for job in self.inflight:
            if job.reported:
                continue
            job.reported = True
            self.run.pending(job.records)
            self.strategy._pending_jobs.add(job.job_id)
            self.run.note(
                f"job {job.job_id}: {job.records} record(s) pending ({why}); the job keeps running. "
                f"Collect with resume({job.job_id!r}) (state_dir={self.strategy.state_dir})"
            )
        self.inflight.clear()

    def stop(self) -> None:
        """After an error or Ctrl-C: jobs already closed keep running, so their rows are pending (a job
        still open was aborted by `submit` before the error reached here)."""
        self._leave_pending("the run stopped before its results were collected")

    # -- results --------------------------------------------------------------------------------------
    def _collect(self, job: _IngestJob) -> None:
        self.run.mark("results", job_id=job.job_id)
        info = job.info or {}
        state = str(info.get("state"))
        processed = int(info.get("numberRecordsProcessed") or 0)
        failed = int(info.get("numberRecordsFailed") or 0)
        job_code = f"JOB_{state.upper()}"
        job_message = str(info.get("errorMessage") or f"job {job.job_id} ended {state}")
        if state != "JobComplete":
            self.run.note(f"job {job.job_id} ended {state}: {job_message}")
        upsert = self.run.operation.is_upsert
        if self.strategy.fetch_successes and not upsert:
            self._check_successes(job, processed - failed)
        if failed == 0 and processed >= job.records and not upsert:
            self.run.succeeded_chunk(self.ledger, job.chunk)
        elif processed == 0:
            self.report_rows(job.chunk, UNPROCESSED, job_code, job_message)
        else:
            results: list[Iterable[ResultRow]] = []
            if upsert and processed > failed:
                results.append(self._download(job.job_id, "successfulResults/", SUCCEEDED, "", ""))
            if failed:
                results.append(self._download(job.job_id, "failedResults/", FAILED, "", ""))
            if processed < job.records:
                results.append(self._download(job.job_id, "unprocessedrecords/", UNPROCESSED, job_code, job_message))
            matched = self.ledger.match(job.chunk, (item for part in results for item in part))
            listed_unprocessed = listed_failed = 0
            for row, record_id, result in matched:
                if result is None:
                    self.run.outcome(RecordOutcome(row, None if upsert else record_id, SUCCEEDED))
                    continue
                status, code, message, fields, record = result
                if status == SUCCEEDED:  # an upsert's successfulResults row: the org's Id and sf__Created
                    if row is not None:
                        answer = record or {}
                        created = str(answer.get("sf__Created", "")).lower() == "true"
                        self.run.outcome(RecordOutcome(row, answer.get("sf__Id") or None, SUCCEEDED, created=created))
                    continue
                if row is None:
                    self.run.note(f"job {job.job_id}: a result row for Id {record_id!r} matched no uploaded row")
                    continue
                if status == UNPROCESSED:
                    listed_unprocessed += 1
                else:
                    listed_failed += 1
                self.run.outcome(RecordOutcome(row, record_id, status, code, message, fields), record)
            if listed_failed != failed:
                self.run.note(
                    f"INCONSISTENT JOB COUNTS: job {job.job_id} reports {failed} failed record(s) but "
                    f"failedResults matched {listed_failed} uploaded row(s)"
                )
            if processed < job.records and processed + listed_unprocessed != job.records:
                # Salesforce's numbers must add up: processed (failures included) + unprocessed = uploaded.
                # When they do not, rows reported "succeeded" above are only "not listed as failed".
                self.run.note(
                    f"INCONSISTENT JOB COUNTS: job {job.job_id} reports {processed} processed and lists "
                    f"{listed_unprocessed} unprocessed for {job.records} uploaded record(s)"
                )
        job.reported = True
        self.ledger.done(job.chunk)

    def _download(self, job_id: str, resource: str, status: Status, code: str, message: str) -> Iterator[ResultRow]:
        """Stream one result CSV to disk, then yield its rows as ledger match tuples."""
        spool = self._fetch(job_id, resource)
        with spool:
            reader = csv.reader(_lines_keeping_newlines(spool))
            header = next(reader, None)
            if not header:
                return
            operation = self.run.operation
            if operation.is_upsert:
                id_at = next((i for i, name in enumerate(header) if name.lower() == operation.key.lower()), None)
            else:
                id_at = (
                    header.index("Id") if "Id" in header else (header.index("sf__Id") if "sf__Id" in header else None)
                )
            error_at = header.index("sf__Error") if "sf__Error" in header else None
            answer_at = [(i, name) for i, name in enumerate(header) if name in ("sf__Id", "sf__Created")]
            data_columns = [(i, name) for i, name in enumerate(header) if not name.startswith("sf__")]
            retry_codes = self.strategy.retryable_codes
            for cells in reader:
                if not cells:
                    continue
                record_id = cells[id_at] if id_at is not None and id_at < len(cells) else ""
                row_code, row_message = code, message
                fields: tuple[str, ...] = ()
                if error_at is not None and error_at < len(cells):
                    row_code, row_message, fields = parse_sf_error(cells[error_at])
                record: dict[str, Any] | None = None
                if status == SUCCEEDED:
                    record = {name: cells[i] for i, name in answer_at if i < len(cells)}
                elif status == FAILED and row_code in retry_codes:
                    record = {
                        name: (None if cells[i] == NULL_MARKER else cells[i])
                        for i, name in data_columns
                        if i < len(cells) and cells[i] != ""
                    }
                yield record_id, status, row_code, row_message, fields, record

    def _fetch(self, job_id: str, resource: str) -> IO[bytes]:
        spool = tempfile.TemporaryFile(prefix="sfh-bulk2-result-")  # noqa: SIM115 - returned; the caller closes it
        with self.session.phase("results"):
            self.session.download(self.session.rest_url(f"jobs/ingest/{job_id}/{resource}"), spool, family=FAMILY_BULK2)
        return spool

    def _check_successes(self, job: _IngestJob, expected: int) -> None:
        with self._fetch(job.job_id, "successfulResults/") as spool:
            count = sum(1 for cells in csv.reader(_lines_keeping_newlines(spool)) if cells) - 1
        if count != expected:
            self.run.note(f"job {job.job_id}: successfulResults lists {count} row(s), job info says {expected}")

    def collect_without_ledger(self, job_id: str) -> None:
        """Resume a job this machine has no ledger for: all three result sets, rows unnumbered."""
        job = _IngestJob(f"{self._prefix}-resume", 0, None, job_id)
        self.run.job(job_id)
        with self.session.phase("poll"):
            waited = poll(
                lambda: self._info(job),
                lambda info: info.get("state") in _FINAL_STATES,
                self.strategy.poll_policy,
                sleep=self.strategy.sleep,
            )
        info = waited.value or {}
        if not waited.done:
            self.run.note(f"job {job_id} still processing; nothing collected")
            self.strategy._pending_jobs.add(job_id)
            return
        self.run.note(f"resumed job {job_id} without a local ledger: row numbers are unknown")
        for resource, status in (
            ("successfulResults/", SUCCEEDED),
            ("failedResults/", FAILED),
            ("unprocessedrecords/", UNPROCESSED),
        ):
            code = "" if status != UNPROCESSED else f"JOB_{str(info.get('state')).upper()}"
            job_message = str(info.get("errorMessage") or "")
            for record_id, row_status, row_code, row_message, fields, record in self._download(
                job_id, resource, status, code, job_message
            ):
                self.run.submitted()
                answer = record or {} if row_status == SUCCEEDED else {}
                created = str(answer["sf__Created"]).lower() == "true" if "sf__Created" in answer else None
                self.run.outcome(
                    RecordOutcome(
                        None,
                        answer.get("sf__Id") or record_id,
                        row_status,
                        row_code,
                        row_message,
                        fields,
                        created if self.run.operation.is_upsert else None,
                    )
                )

    def report_rows(self, chunk: str, status: Status, code: str, message: str) -> None:
        for row, record_id in self.ledger.rows(chunk):
            self.run.outcome(RecordOutcome(row, record_id, status, code, message))


def _lines_keeping_newlines(spool: IO[bytes]) -> Iterator[str]:
    """Decoded lines of a binary CSV file for `csv.reader` (which needs the newlines kept as they are)."""
    yield from io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
