"""Bulk API 2.0 ingest and query jobs: state, limits and processing (no HTTP here).

Ingest: Open -> (one CSV upload) -> UploadComplete -> InProgress -> JobComplete | Failed | Aborted. The
upload is split into internal batches (10,000 records; the profile's `bulk2_records_per_batch`) that run in parallel; each writes its own
success / failed / unprocessed part files, which the results resources stream back in order.
Query: UploadComplete -> InProgress -> JobComplete; results are paged with opaque locators that encode a
byte offset into the result file, so any page is served without an index held in memory.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import IO, Any

from .. import soql
from ..constants import BULK2_MAX_UPLOAD_BYTES, BULK2_MULTIPART_MAX_CHARS, BULK_TRANSACTION_SIZE
from ..dml import AllSaved, SaveResult
from ..errors import (
    ClientInputError,
    ExceededQuota,
    InvalidJob,
    InvalidJobState,
    JobNotComplete,
    NotFound,
    SalesforceError,
)
from ..schema import FieldDef, now_stamp
from .formats import (
    DELIMITERS,
    LINE_ENDINGS,
    CsvOut,
    Row,
    error_text,
    quoted,
    read_csv,
    read_spool,
    width_problem,
    write_spool,
)
from .transactions import (
    OPERATIONS,
    AttemptTimer,
    BulkContext,
    CsvRows,
    UnitTimedOut,
    job_upsert_key,
    missing_key_column,
    run_transactions,
    start_attempt,
)

TERMINAL = ("JobComplete", "Failed", "Aborted")
MULTIPLE_UPLOADS = (
    "Found multiple contents for job: {id}, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job "
    "and make sure you only do 'PUT' once on a given Job."
)


@dataclass
class _Part:
    """One internal batch's output files."""

    index: int
    success: str
    failed: str
    unprocessed: str


@dataclass
class IngestJob:
    id: str
    operation: str
    object: str
    api_version: float
    created_by: str
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id_field: str | None = None
    assignment_rule_id: str | None = None
    state: str = "Open"
    created_date: str = field(default_factory=now_stamp)
    systemmodstamp: str = field(default_factory=now_stamp)
    upload_path: str | None = None
    header: list[str] = field(default_factory=list)
    records_total: int = 0
    records_processed: int = 0
    records_failed: int = 0
    retries: int = 0
    retry_disabled: bool = False  # Sforce-Disable-Batch-Retry: TRUE when the job was created
    processing_ms: int = 0
    error_message: str = ""
    parts: list[_Part] = field(default_factory=list)
    pending_rows: Any = field(default=None, repr=False)  # rows of the upload not yet split (while splitting)
    ack: dict[str, Any] | None = field(default=None, repr=False)  # job info as of the last state change by a client
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def delimiter(self) -> str:
        return DELIMITERS[self.column_delimiter]

    @property
    def newline(self) -> str:
        return LINE_ENDINGS[self.line_ending]

    def info(self, *, brief: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.systemmodstamp,
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.api_version,
            "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        if self.state == "Open":
            info["contentUrl"] = f"services/data/v{self.api_version:.1f}/jobs/ingest/{self.id}/batches"
        if brief:
            return info
        info.update(
            {
                "numberRecordsProcessed": self.records_processed,
                "numberRecordsFailed": self.records_failed,
                "retries": self.retries,
                "totalProcessingTime": self.processing_ms,
                "apiActiveProcessingTime": self.processing_ms,
                "apexProcessingTime": 0,
            }
        )
        if self.assignment_rule_id:
            info["assignmentRuleId"] = self.assignment_rule_id
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


@dataclass
class QueryJob:
    id: str
    operation: str
    query: str
    compiled: Any
    api_version: float
    created_by: str
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "UploadComplete"
    created_date: str = field(default_factory=now_stamp)
    systemmodstamp: str = field(default_factory=now_stamp)
    result_path: str = ""
    records_processed: int = 0
    processing_ms: int = 0
    error_message: str = ""
    ack: dict[str, Any] | None = field(default=None, repr=False)  # job info as created (before workers ran)

    def info(self) -> dict[str, Any]:
        info = {
            "id": self.id,
            "operation": self.operation,
            "object": self.compiled.sobject.name,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.systemmodstamp,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.api_version,
            "jobType": "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": self.records_processed,
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
        }
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


class Bulk2Service:
    def __init__(self, ctx: BulkContext, workdir: str) -> None:
        self.ctx = ctx
        self.workdir = workdir
        self.ingest: dict[str, IngestJob] = {}
        self.queries: dict[str, QueryJob] = {}
        self._lock = threading.Lock()

    # -- ingest jobs ------------------------------------------------------------------------------
    def create_ingest(self, body: dict[str, Any], api_version: float, *, retry_disabled: bool = False) -> IngestJob:
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise InvalidJob(f"InvalidJob : Invalid or unsupported operation: {operation}")
        obj = self.ctx.schema.get(str(body.get("object") or ""))
        if obj is None:
            raise InvalidJob(f"InvalidJob : Unable to find object: {body.get('object')}")
        external_id_field = body.get("externalIdFieldName")
        key = job_upsert_key(obj, operation, None if external_id_field is None else str(external_id_field))
        if key is not None:
            external_id_field = key.name
        if body.get("contentType", "CSV") != "CSV":
            raise InvalidJob(f"InvalidJob : Invalid content type: {body.get('contentType')}")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise InvalidJob(f"InvalidJob : Invalid column delimiter: {delimiter}")
        ending = body.get("lineEnding", "LF")
        if ending not in LINE_ENDINGS:
            raise InvalidJob(f"InvalidJob : Invalid line ending: {ending}")
        job = IngestJob(
            self.ctx.ids.next_id("750"),
            operation,
            obj.name,
            api_version,
            self.ctx.user_id,
            delimiter,
            ending,
            external_id_field,
            body.get("assignmentRuleId"),
            retry_disabled=retry_disabled,
        )
        with self._lock:
            self.ingest[job.id] = job
        return job

    def create_ingest_with_data(
        self, body: dict[str, Any], api_version: float, data: bytes, *, retry_disabled: bool = False
    ) -> IngestJob:
        """A multipart create: job, data and close in one request; the job is UploadComplete when it returns.

        Documented for data under 100,000 characters (the 220.0 docs said 20,000); larger data is refused
        before any job exists, as is a job document `create_ingest` refuses.
        """
        chars = len(data.decode("utf-8", errors="replace"))
        if chars > BULK2_MULTIPART_MAX_CHARS:
            raise ClientInputError(
                f"ClientInputError : The job data of a multipart request is limited to {BULK2_MULTIPART_MAX_CHARS} "
                f"characters; this one has {chars}. Upload larger data with PUT to the job's contentUrl"
            )
        job = self.create_ingest(body, api_version, retry_disabled=retry_disabled)
        path = os.path.join(self.workdir, f"upload-{uuid.uuid4().hex}.csv")
        with open(path, "wb") as fh:
            fh.write(data)
        self.accept_upload(job.id, path, len(data))
        return self.set_ingest_state(job.id, "UploadComplete")

    def get_ingest(self, job_id: str) -> IngestJob:
        job = self.ingest.get(job_id)
        if job is None:
            raise NotFound("The requested resource does not exist")
        return job

    def list_ingest(self) -> list[IngestJob]:
        with self._lock:
            return list(self.ingest.values())

    def accept_upload(self, job_id: str, upload_path: str, size: int) -> None:
        job = self.get_ingest(job_id)
        with job.lock:
            if job.state != "Open":
                os.remove(upload_path)
                raise InvalidJobState(f"Job {job.id} is not open for upload; its state is {job.state}")
            if job.upload_path is not None:
                os.remove(upload_path)
                raise InvalidJobState(MULTIPLE_UPLOADS.format(id=job.id))
            if size > BULK2_MAX_UPLOAD_BYTES:
                os.remove(upload_path)
                raise ClientInputError(f"Exceeded max size limit of {BULK2_MAX_UPLOAD_BYTES} bytes for a job's data")
            job.upload_path = upload_path

    def set_ingest_state(self, job_id: str, state: str) -> IngestJob:
        job = self.get_ingest(job_id)
        with job.lock:
            if state == "UploadComplete":
                if job.state != "Open":
                    raise InvalidJobState(f"Job {job.id} is {job.state}; only an Open job can be closed")
                job.state = "UploadComplete"
                job.systemmodstamp = now_stamp()
                # The answer to this request shows UploadComplete, as Salesforce's does, even when a
                # worker of the instant profile moves the job on before the response is written.
                job.ack = job.info(brief=True)
                self.ctx.engine.submit_driver(lambda: self._drive(job))
            elif state == "Aborted":
                if job.state in TERMINAL:
                    raise InvalidJobState(f"Job {job.id} is {job.state}; it cannot be aborted")
                was_open = job.state == "Open"
                job.state = "Aborted"
                job.systemmodstamp = now_stamp()
                if was_open:
                    self._all_unprocessed(job)
                job.ack = job.info(brief=True)
            else:
                raise InvalidJobState(f"Invalid state transition: {state}")
        return job

    def delete_ingest(self, job_id: str) -> None:
        job = self.get_ingest(job_id)
        if job.state not in ("UploadComplete", *TERMINAL):
            raise InvalidJobState(
                f"Job {job.id} is {job.state}; only a closed, completed, aborted or failed job can be deleted"
            )
        with self._lock:
            self.ingest.pop(job.id, None)

    def results(self, job_id: str, kind: str) -> Iterator[bytes]:
        """Stream successfulResults / failedResults / unprocessedrecords as CSV bytes."""
        job = self.get_ingest(job_id)
        if job.state not in TERMINAL:
            raise JobNotComplete(f"Job {job.id} is not complete; its state is {job.state}")
        prefix = {"success": ["sf__Id", "sf__Created"], "failed": ["sf__Id", "sf__Error"], "unprocessed": []}[kind]
        header = io.StringIO()
        if prefix:
            # `"sf__Id","sf__Error",Id,Name`: the sf__ columns are quoted, the upload's own are not
            # unless they need to be (fact sheet 3.2).
            header.write(quoted(prefix, job.delimiter) + (job.delimiter if job.header else ""))
        CsvOut(header, job.delimiter, job.newline).writerow(job.header)
        yield header.getvalue().encode("utf-8")
        for part in list(job.parts):
            path = getattr(part, kind)
            if os.path.exists(path):
                with open(path, "rb") as fh:
                    while block := fh.read(1 << 16):
                        yield block

    # -- ingest processing ------------------------------------------------------------------------
    def _drive(self, job: IngestJob) -> None:
        ctx = self.ctx
        if ctx.engine.sleep(ctx.engine.queue_delay("bulk2")):
            return
        started = time.monotonic()
        with job.lock:
            if job.state == "Aborted":
                self._all_unprocessed(job)
            if job.state != "UploadComplete":
                return
            job.state = "InProgress"
            job.systemmodstamp = now_stamp()
        futures: list[Future] = []
        try:
            self._split_and_submit(job, futures)
        except SalesforceError as err:
            # Nothing after this point is processed: stop the internal batches already running (their
            # unread rows become unprocessed) and keep every row not yet split as unprocessed too.
            with job.lock:
                job.error_message = job.error_message or err.message
            wait(futures)
            self._rest_unprocessed(job)
            self._finish(job, "Failed", job.error_message, started)
            return
        wait(futures)
        failure = next((f.exception() for f in futures if f.exception() is not None), None)
        if failure is not None and not job.error_message:
            # A worker must never leave a job InProgress for ever.
            job.error_message = f"InternalServerError : {failure}"
        self._finish(
            job,
            "Aborted" if job.state == "Aborted" else ("Failed" if job.error_message else "JobComplete"),
            job.error_message,
            started,
        )

    def _rest_unprocessed(self, job: IngestJob) -> None:
        """After a failure while splitting: rows never handed to an internal batch are unprocessed."""
        rows = job.pending_rows
        job.pending_rows = None
        if not job.parts:
            self._all_unprocessed(job)
            return
        if rows is None:
            return
        self._unprocessed_part(job, f"{job.id}.rest", lambda: rows)

    def _all_unprocessed(self, job: IngestJob) -> None:
        """A job that never started processing (aborted, or failed up front): every uploaded record is unprocessed."""
        upload_path = job.upload_path
        if not upload_path or job.parts:
            return

        def upload_rows() -> Iterator[list[str]]:
            header, rows = read_csv(upload_path, job.delimiter)
            job.header = header
            return rows

        self._unprocessed_part(job, f"{job.id}.p00000", upload_rows)

    def _unprocessed_part(self, job: IngestJob, name: str, rows: Callable[[], Iterator[list[str]]]) -> None:
        """A result part holding only unprocessed rows; a malformed tail keeps what could be read."""
        base = os.path.join(self.workdir, name)
        part = _Part(len(job.parts), base + ".ok", base + ".err", base + ".unp")
        try:
            with open(part.unprocessed, "w", encoding="utf-8", newline="") as fh:
                writer = CsvOut(fh, job.delimiter, job.newline)
                for row in rows():
                    writer.writerow(row)
                    job.records_total += 1
        except SalesforceError:
            pass
        job.parts.append(part)

    def _finish(self, job: IngestJob, state: str, message: str, started: float) -> None:
        with job.lock:
            if job.state != "Aborted":
                job.state = state
            job.error_message = message
            job.processing_ms = int((time.monotonic() - started) * 1000)
            job.systemmodstamp = now_stamp()

    def _split_and_submit(self, job: IngestJob, futures: list[Future]) -> None:
        """Cut the upload into internal batches and submit each (appended to `futures`).

        Each internal batch counts one DailyBulkApiBatches, and the job's empty parent batch as many as
        the profile's `bulk2_parent_batches` (none, as documented)."""
        ctx = self.ctx
        if not job.upload_path:
            raise ClientInputError("InvalidBatch : No data was uploaded to the job")
        _check_line_ending(job, job.upload_path)
        header, rows = read_csv(job.upload_path, job.delimiter)
        job.header = header
        job.pending_rows = rows
        obj = ctx.sobject(job.object)
        for name in header:
            if obj.field(name) is None:
                raise ClientInputError(f"InvalidBatch : Field name not found : {name}")
        if job.operation in ("update", "delete", "hardDelete") and not any(h.lower() == "id" for h in header):
            raise ClientInputError("InvalidBatch : Field name not found : Id")
        missing = missing_key_column(self._key(job), header)
        if missing:
            raise ClientInputError(f"InvalidBatch : Field name not found : {missing}")
        counting = ctx.profile.counting
        per_batch = counting.bulk2_records_per_batch
        if counting.bulk2_parent_batches and not ctx.usage.consume_batches(counting.bulk2_parent_batches):
            raise ExceededQuota("ExceededQuota : The daily Bulk API batch or record allocation is exhausted")
        index = 0
        while True:
            chunk_path = os.path.join(self.workdir, f"{job.id}.in{index:05d}.rows")
            count = write_spool(chunk_path, rows, per_batch)
            if count == 0:
                os.remove(chunk_path)
                break
            if not ctx.usage.consume_batches(1) or not ctx.usage.consume_bulk2_records(count):
                self._chunk_unprocessed(job, chunk_path, index)
                raise ExceededQuota("ExceededQuota : The daily Bulk API batch or record allocation is exhausted")
            job.records_total += count
            base = os.path.join(self.workdir, f"{job.id}.p{index:05d}")
            part = _Part(index, base + ".ok", base + ".err", base + ".unp")
            job.parts.append(part)
            futures.append(ctx.engine.submit_unit(_InternalBatch(ctx, job, part, chunk_path).attempt, delay=0.0))
            index += 1
            if count < per_batch:
                break
        job.pending_rows = None

    def _chunk_unprocessed(self, job: IngestJob, chunk_path: str, index: int) -> None:
        """A chunk that will never run (the allocation ran out): its rows are unprocessed."""
        base = os.path.join(self.workdir, f"{job.id}.p{index:05d}")
        part = _Part(index, base + ".ok", base + ".err", base + ".unp")
        with open(part.unprocessed, "w", encoding="utf-8", newline="") as fh:
            writer = CsvOut(fh, job.delimiter, job.newline)
            for row in read_spool(chunk_path):
                writer.writerow(row)
                job.records_total += 1
        job.parts.append(part)
        os.remove(chunk_path)

    def _key(self, job: IngestJob) -> FieldDef | None:
        """An upsert job's key field (checked when the job was created)."""
        return job_upsert_key(self.ctx.sobject(job.object), job.operation, job.external_id_field)

    # -- query jobs -------------------------------------------------------------------------------
    def create_query(self, body: dict[str, Any], api_version: float) -> QueryJob:
        operation = body.get("operation", "query")
        if operation not in ("query", "queryAll"):
            raise InvalidJob(f"InvalidJob : Invalid operation: {operation}")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise InvalidJob("InvalidJob : A query is required")
        compiled = soql.compile_query(soql.parse(text), self.ctx.schema)
        if compiled.is_count:
            raise InvalidJob("InvalidJob : Aggregate queries are not supported by Bulk API 2.0 query jobs")
        delimiter = body.get("columnDelimiter", "COMMA")
        ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or ending not in LINE_ENDINGS:
            raise InvalidJob("InvalidJob : Invalid column delimiter or line ending")
        if not self.ctx.usage.consume_query_job():
            raise ExceededQuota("ExceededQuota : The daily Bulk API 2.0 query job allocation is exhausted")
        job = QueryJob(
            self.ctx.ids.next_id("750"), operation, text, compiled, api_version, self.ctx.user_id, delimiter, ending
        )
        job.result_path = os.path.join(self.workdir, f"{job.id}.query.csv")
        with self._lock:
            self.queries[job.id] = job
        job.ack = job.info()  # the create response says UploadComplete even if a worker starts at once
        self.ctx.engine.submit_driver(lambda: self._run_query(job))
        return job

    def get_query(self, job_id: str) -> QueryJob:
        job = self.queries.get(job_id)
        if job is None:
            raise NotFound("The requested resource does not exist")
        return job

    def delete_query(self, job_id: str) -> None:
        job = self.get_query(job_id)
        with self._lock:
            self.queries.pop(job.id, None)
        with contextlib.suppress(OSError):
            os.remove(job.result_path)

    def abort_query(self, job_id: str) -> QueryJob:
        job = self.get_query(job_id)
        if job.state in TERMINAL:
            raise InvalidJobState(f"Job {job.id} is {job.state}; it cannot be aborted")
        job.state = "Aborted"
        return job

    def _run_query(self, job: QueryJob) -> None:
        ctx = self.ctx
        if ctx.engine.sleep(ctx.engine.queue_delay("bulk2")) or job.state != "UploadComplete":
            return
        started = time.monotonic()
        job.state = "InProgress"
        cq = job.compiled
        names = [".".join(c.path) for c in cq.columns]
        count = 0
        with open(job.result_path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(
                fh,
                delimiter=DELIMITERS[job.column_delimiter],
                lineterminator=LINE_ENDINGS[job.line_ending],
                quoting=csv.QUOTE_ALL,
            )
            writer.writerow(names)
            for row in cq.rows(ctx.store):
                writer.writerow([c.field.to_text(row.get(n)) for c, n in zip(cq.columns, names, strict=True)])
                count += 1
                if count % 10_000 == 0 and job.state == "Aborted":
                    return
        ctx.engine.sleep(ctx.profile.batch_seconds("bulk2", count) if count else 0)
        job.records_processed = count
        job.processing_ms = int((time.monotonic() - started) * 1000)
        if job.state == "InProgress":
            job.state = "JobComplete"
        job.systemmodstamp = now_stamp()

    def query_page(self, job_id: str, locator: str | None, max_records: int) -> tuple[bytes, int, str]:
        """One page of results: (CSV bytes with header, rows in page, next locator or 'null')."""
        job = self.get_query(job_id)
        if job.state != "JobComplete":
            raise JobNotComplete(f"Job {job.id} is not complete; its state is {job.state}")
        with open(job.result_path, "rb") as fh:
            header = _read_record(fh)
            start = fh.tell()
            if locator:
                start = _decode_locator(locator)
            fh.seek(start)
            out = bytearray(header)
            rows = 0
            while rows < max_records:
                record = _read_record(fh)
                if not record:
                    break
                out += record
                rows += 1
            more = bool(fh.read(1))
            next_locator = _encode_locator(fh.tell() - 1) if more else "null"
        return bytes(out), rows, next_locator


class _Midway(Exception):
    pass


class _InternalBatch:
    """One internal batch, run as the engine's unit one attempt at a time.

    An attempt pays the batch overhead, then runs 200-record transactions until the rows run out or the
    next transaction would pass the profile's `bulk2_batch_time_limit_s`. Then the batch is retried: it
    goes back to the queue with the rows it has not committed (committed transactions stay committed),
    and the job's `retries` grows. After `bulk2_max_retries` retries (none with Sforce-Disable-Batch-Retry)
    the job fails: this batch's remaining rows, and those of every batch still running, are unprocessed.
    The result files stay open between attempts; they are opened by the first one.
    """

    def __init__(self, ctx: BulkContext, job: IngestJob, part: _Part, chunk_path: str) -> None:
        self.ctx, self.job, self.part, self.chunk_path = ctx, job, part, chunk_path
        self.attempts = 0
        self.pending: list[Row] = []  # rows read but not committed: the transaction being filled or run
        self.leftover: list[Row] | None = None  # the transaction a timed-out attempt did not run
        self._files: list[IO[str]] = []

    def _open(self) -> None:
        job = self.job
        self.ok_fh, self.err_fh, self.unp_fh = (
            open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115  (open across attempts)
            for path in (self.part.success, self.part.failed, self.part.unprocessed)
        )
        self._files = [self.ok_fh, self.err_fh, self.unp_fh]
        self.out = CsvOut(self.err_fh, job.delimiter, job.newline)  # the upload's own columns, as in every result file
        self.rows_iter = read_spool(self.chunk_path)
        self.chunks = self._transactions()

    def _transactions(self) -> Iterator[list[Row]]:
        """200-row transactions; a row whose column count disagrees with the header fails on its own as
        it is read (before the transaction it sits in runs), as on Salesforce."""
        job = self.job
        width = len(job.header)
        for row in self.rows_iter:
            if len(row) != width:
                error = error_text("INVALID_FIELD", f"Malformed row: {width_problem(job.header, row)}", [])
                self.err_fh.write(quoted(["", error], job.delimiter) + job.delimiter)
                self.out.writerow(row)
                with job.lock:
                    job.records_processed += 1
                    job.records_failed += 1
                continue
            self.pending.append(row)
            if len(self.pending) == BULK_TRANSACTION_SIZE:
                yield self.pending
        if self.pending:
            yield self.pending

    def _before(self, n: int) -> None:
        job, fail_after = self.job, self.ctx.faults.bulk_fail_after_records
        self.ctx.engine.sleep(0)
        with job.lock:
            if fail_after and job.records_processed + n > fail_after and not job.error_message:
                job.error_message = "InternalServerError : The job failed midway (injected fault); the remaining records were not processed"
            if job.error_message:
                raise _Midway(job.error_message)

    def _on_results(self, chunk: list[Row], results: Sequence[SaveResult]) -> None:
        job = self.job
        delimiter, newline = job.delimiter, job.newline
        ok_lines: list[str] = []
        failed_lines: list[str] = []
        if isinstance(results, AllSaved) and len(results):  # every record updated: its ids alone
            # Success lines of updated records: `"<sf__Id>","false",<the row>` (sf__Id is a canonical id:
            # base-62, nothing to escape), each record's pair joined in C.
            id_to_row = f'"{delimiter}"false"{delimiter}'.join
            between_lines = f'{newline}"'.join
            ok_lines = [
                '"',
                between_lines(map(id_to_row, zip(results.ids, self.out.lines(chunk), strict=True))),
                newline,
            ]
        else:
            for text, res in zip(self.out.lines(chunk), results, strict=True):
                if res.success:
                    # sf__Id is a canonical id (base-62, nothing to escape): quoted without quoted()'s work.
                    ok_lines.append(
                        f'"{res.id}"{delimiter}"{"true" if res.created else "false"}"{delimiter}{text}{newline}'
                    )
                else:
                    e = res.errors[0]
                    error = quoted([res.id or "", error_text(e.status_code, e.message, e.fields)], delimiter)
                    failed_lines.append(f"{error}{delimiter}{text}{newline}")
        self.ok_fh.write("".join(ok_lines))
        self.err_fh.write("".join(failed_lines))
        with job.lock:
            job.records_processed += len(chunk)
            job.records_failed += len(failed_lines)
        self.pending = []  # committed: the next transaction starts a list of its own

    def attempt(self) -> float | None:
        """One attempt; the seconds to wait in the queue before the next one, or None when done."""
        ctx, job = self.ctx, self.job
        profile = ctx.profile
        if self.attempts == 0:
            self._open()
        self.attempts += 1
        timer = AttemptTimer(profile.scaled(profile.timings.bulk2_batch_time_limit_s))
        obj = ctx.sobject(job.object)
        try:
            chunks = start_attempt(ctx, "bulk2", timer, self.leftover, self.chunks)
            self.leftover = None
            run_transactions(
                ctx,
                obj,
                job.operation,
                chunks,
                self._on_results,
                family="bulk2",
                form=CsvRows(obj, job.header),
                should_stop=lambda: job.state == "Aborted",
                before_transaction=self._before,
                timer=timer,
                key=job_upsert_key(obj, job.operation, job.external_id_field),
            )
        except _Midway:
            pass
        except UnitTimedOut as timed_out:
            self.leftover = timed_out.chunk or None
            retries = 0 if job.retry_disabled else profile.timings.bulk2_max_retries
            if self.attempts <= retries:
                with job.lock:
                    job.retries += 1
                return ctx.engine.queue_delay("bulk2")
            with job.lock:
                job.error_message = job.error_message or (
                    f"InternalServerError : An internal batch was not processed within its time limit "
                    f"({profile.timings.bulk2_batch_time_limit_s:g} s) after {self.attempts} attempt(s); "
                    "the remaining records were not processed"
                )
        self._finish()
        return None

    def _finish(self) -> None:
        """Whatever was read but not committed, and whatever was never read, is unprocessed."""
        unp = CsvOut(self.unp_fh, self.job.delimiter, self.job.newline)
        for row in self.pending:
            unp.writerow(row)
        for row in self.rows_iter:
            unp.writerow(row)
        for fh in self._files:
            fh.close()
        os.remove(self.chunk_path)


def _check_line_ending(job: IngestJob, upload_path: str) -> None:
    """Salesforce refuses data whose line ending differs from the job's `lineEnding` (the job fails)."""
    with open(upload_path, "rb") as fh:
        first = fh.readline(1 << 20)
    if not first.endswith(b"\n"):
        return  # a single line without a terminator: nothing to compare
    crlf = first.endswith(b"\r\n")
    if crlf != (job.line_ending == "CRLF"):
        raise ClientInputError(
            f"ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {job.line_ending}"
        )


def _read_record(fh) -> bytes:
    """One CSV record (which may span lines inside quotes) from a binary file."""
    record = bytearray()
    quotes = 0
    while True:
        line = fh.readline()
        if not line:
            return bytes(record)
        record += line
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            return bytes(record)


def _encode_locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    try:
        padded = locator + "=" * (-len(locator) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ClientInputError(f"Invalid locator: {locator}") from None
