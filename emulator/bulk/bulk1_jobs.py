"""Bulk API 1.0 jobs and batches: state, limits and processing (no HTTP here).

Batches start processing as soon as they are added (Salesforce queues them at once; closing a job only
stops new batches). Batch states: Queued -> InProgress -> Completed | Failed, or NotProcessed when their
job is aborted first. `NotProcessed` is spelled as the API's XML schema (AsyncApi.xsd, BatchStateEnum)
spells it, for every API version: older guides wrote "Not Processed" in prose, but no source shows a
version sending that, Salesforce's own Java client (WSC's generated BatchStateEnum) could not read it,
and salesforce-bulk 2.2.0 (bulk_states.py) and jsforce expect `NotProcessed`. CumulusCI compares with
"Not Processed" (peer-clients.md 4.2): against this spelling it reads such a batch as still waiting.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from ..constants import BULK1_MAX_BYTES_PER_BATCH, BULK1_MAX_CHARS_PER_BATCH, BULK1_MAX_RECORDS_PER_BATCH
from ..dml import SaveResult
from ..errors import ExceededQuota, InvalidBatch, InvalidJob, InvalidJobState
from ..schema import FieldDef, now_stamp
from .formats import Bulk1ResultWriter, read_csv, read_json_records, read_xml_records, width_problem
from .transactions import (
    MAPPINGS,
    OPERATIONS,
    AttemptTimer,
    BulkContext,
    CsvRows,
    RecordForm,
    UnitTimedOut,
    job_upsert_key,
    missing_key_column,
    run_transactions,
    start_attempt,
    transactions,
)

CONTENT_TYPES = {"XML", "CSV", "JSON"}
NOT_PROCESSED = "NotProcessed"
_MEDIA = {"XML": ("application/xml", "text/xml"), "CSV": ("text/csv",), "JSON": ("application/json",)}


@dataclass
class Bulk1Batch:
    id: str
    job_id: str
    request_path: str
    result_path: str
    record_count: int
    state: str = "Queued"
    state_message: str = ""
    created_date: str = field(default_factory=now_stamp)
    systemmodstamp: str = field(default_factory=now_stamp)
    records_processed: int = 0
    records_failed: int = 0
    total_processing_ms: int = 0
    api_active_ms: int = 0
    has_result: bool = False
    ack: dict[str, Any] | None = field(default=None, repr=False)  # batchInfo as accepted (state Queued)


@dataclass
class Bulk1Job:
    id: str
    operation: str
    object: str
    content_type: str
    concurrency_mode: str
    api_version: str
    created_by: str
    external_id_field: str | None = None
    state: str = "Open"
    created_date: str = field(default_factory=now_stamp)
    systemmodstamp: str = field(default_factory=now_stamp)
    batches: dict[str, Bulk1Batch] = field(default_factory=dict)
    retries: int = 0  # numberRetries: batch attempts that passed their time limit and were queued again
    retry_disabled: bool = False  # Sforce-Disable-Batch-Retry: TRUE when the job was created
    lane: threading.Lock = field(default_factory=threading.Lock, repr=False)
    records_seen: int = 0  # for the fail-midway fault

    def count(self, state: str) -> int:
        return sum(1 for b in self.batches.values() if b.state == state)

    def listed(self) -> dict[str, Any]:
        """This job as Bulk 2.0's Get All Jobs lists a Bulk 1.0 job (``jobType`` ``Classic``)."""
        return {
            **self._identity(),
            "concurrencyMode": self.concurrency_mode,
            "contentType": self.content_type,
            "apiVersion": float(self.api_version),
            "jobType": "Classic",
        }

    def _identity(self) -> dict[str, Any]:
        """The fields every view of a job opens with, up to its state (jobInfo's and the job list's order)."""
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.systemmodstamp,
            "state": self.state,
        }

    def info(self) -> dict[str, Any]:
        """JobInfo fields in the documented order; an upsert job's externalIdFieldName follows its state (as
        CumulusCI's recordings of Salesforce's jobInfo show it)."""
        batches = list(self.batches.values())
        key: dict[str, Any] = {"externalIdFieldName": self.external_id_field} if self.operation == "upsert" else {}
        return {
            **self._identity(),
            **key,
            "concurrencyMode": self.concurrency_mode,
            "contentType": self.content_type,
            "numberBatchesQueued": self.count("Queued"),
            "numberBatchesInProgress": self.count("InProgress"),
            "numberBatchesCompleted": self.count("Completed"),
            "numberBatchesFailed": self.count("Failed") + self.count(NOT_PROCESSED),
            "numberBatchesTotal": len(batches),
            "numberRecordsProcessed": sum(b.records_processed for b in batches),
            "numberRetries": self.retries,
            "apiVersion": self.api_version,
            "numberRecordsFailed": sum(b.records_failed for b in batches),
            "totalProcessingTime": sum(b.total_processing_ms for b in batches),
            "apiActiveProcessingTime": sum(b.api_active_ms for b in batches),
            "apexProcessingTime": 0,
        }


def batch_info(batch: Bulk1Batch) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": batch.id,
        "jobId": batch.job_id,
        "state": batch.state,
    }
    if batch.state_message:
        info["stateMessage"] = batch.state_message
    info.update(
        {
            "createdDate": batch.created_date,
            "systemModstamp": batch.systemmodstamp,
            "numberRecordsProcessed": batch.records_processed,
            "numberRecordsFailed": batch.records_failed,
            "totalProcessingTime": batch.total_processing_ms,
            "apiActiveProcessingTime": batch.api_active_ms,
            "apexProcessingTime": 0,
        }
    )
    return info


class Bulk1Service:
    def __init__(self, ctx: BulkContext, workdir: str) -> None:
        self.ctx = ctx
        self.workdir = workdir
        self.jobs: dict[str, Bulk1Job] = {}
        self._lock = threading.Lock()

    # -- jobs -------------------------------------------------------------------------------------
    def create_job(
        self,
        *,
        operation: str,
        object_name: str,
        content_type: str | None,
        concurrency_mode: str | None,
        api_version: str,
        external_id_field: str | None = None,
        retry_disabled: bool = False,
    ) -> Bulk1Job:
        if operation not in OPERATIONS:
            raise InvalidJob(
                f"InvalidJob : Invalid operation: {operation}"
                if operation not in ("upsert", "query", "queryAll")
                else f"InvalidJob : Operation {operation} is not supported by this emulator"
            )
        obj = self.ctx.schema.get(object_name or "")
        if obj is None:
            raise InvalidJob(f"InvalidJob : Unable to find object: {object_name}")
        key = job_upsert_key(obj, operation, external_id_field)
        if key is not None:
            external_id_field = key.name
        ctype = (content_type or "XML").upper()
        if ctype not in CONTENT_TYPES:
            raise InvalidJob(f"InvalidJob : Invalid content type: {content_type}")
        mode = concurrency_mode or "Parallel"
        if mode not in ("Parallel", "Serial"):
            raise InvalidJob(f"InvalidJob : Invalid concurrency mode: {concurrency_mode}")
        job = Bulk1Job(
            self.ctx.ids.next_id("750"),
            operation,
            obj.name,
            ctype,
            mode,
            api_version,
            self.ctx.user_id,
            external_id_field,
            retry_disabled=retry_disabled,
        )
        with self._lock:
            self.jobs[job.id] = job
        return job

    def list_jobs(self) -> list[Bulk1Job]:
        with self._lock:
            return list(self.jobs.values())

    def get_job(self, job_id: str) -> Bulk1Job:
        job = self.jobs.get(job_id) or self.jobs.get(_canon(job_id))
        if job is None:
            raise InvalidJob(f"InvalidJob : Unable to find job: {job_id}")
        return job

    def set_state(self, job_id: str, state: str) -> Bulk1Job:
        job = self.get_job(job_id)
        if state not in ("Closed", "Aborted"):
            raise InvalidJobState(f"InvalidJobState : Invalid state: {state}")
        with self._lock:
            if job.state != "Open" and not (state == "Aborted" and job.state == "Closed"):
                raise InvalidJobState(f"InvalidJobState : Job {job.id} is {job.state}; cannot change it to {state}")
            job.state = state
            job.systemmodstamp = now_stamp()
            if state == "Aborted":
                for batch in job.batches.values():
                    if batch.state == "Queued":
                        batch.state = NOT_PROCESSED
                        batch.systemmodstamp = now_stamp()
        return job

    # -- batches ----------------------------------------------------------------------------------
    def add_batch(self, job_id: str, upload_path: str, media_type: str) -> Bulk1Batch:
        job = self.get_job(job_id)
        # A batch sent to a closed job is refused but still counts against the daily allocation (fact 2.1).
        if not self.ctx.usage.consume_batches(1):
            _remove(upload_path)
            raise ExceededQuota("ExceededQuota : Exceeded the daily Bulk API batch allocation (15000)")
        if job.state != "Open":
            _remove(upload_path)
            raise InvalidJobState(f"InvalidJobState : Job {job.id} is not open")
        if not any(media_type.startswith(m) for m in _MEDIA[job.content_type]):
            _remove(upload_path)
            raise InvalidBatch(
                f"InvalidBatch : Content type of the batch ({media_type or 'none'}) does not match the job's content type {job.content_type}"
            )
        size = os.path.getsize(upload_path)
        if size == 0:
            _remove(upload_path)
            raise InvalidBatch("InvalidBatch : Empty batch")
        if size > BULK1_MAX_BYTES_PER_BATCH:
            _remove(upload_path)
            raise InvalidBatch(f"InvalidBatch : Exceeded max size limit of {BULK1_MAX_BYTES_PER_BATCH} bytes")
        chars = _count_chars(upload_path)
        if chars > BULK1_MAX_CHARS_PER_BATCH:
            _remove(upload_path)
            raise InvalidBatch(f"InvalidBatch : Exceeded max size limit of {BULK1_MAX_CHARS_PER_BATCH} characters")
        try:
            # Counting parses the file (malformed files and oversized batches are refused at once); field
            # names are checked when the batch runs, so an unknown CSV column fails the batch
            # ("InvalidBatch : Field name not found : X" in its stateMessage), as on Salesforce.
            count = sum(1 for _ in self._records(job, upload_path, check_fields=False)[1])
        except InvalidBatch:
            _remove(upload_path)
            raise
        if count > BULK1_MAX_RECORDS_PER_BATCH:
            _remove(upload_path)
            raise InvalidBatch(
                f"InvalidBatch : Records in a batch cannot exceed {BULK1_MAX_RECORDS_PER_BATCH}; found {count}"
            )
        batch_id = self.ctx.ids.next_id("751")
        batch = Bulk1Batch(batch_id, job.id, upload_path, os.path.join(self.workdir, f"{batch_id}.result"), count)
        with self._lock:
            job.batches[batch.id] = batch
        batch.ack = batch_info(batch)  # the add-batch response says Queued, whatever a worker does next
        lane = job.lane if job.concurrency_mode == "Serial" else None
        self.ctx.engine.submit_unit(self._process(job, batch), delay=self.ctx.engine.queue_delay("bulk1"), lane=lane)
        return batch

    def get_batch(self, job_id: str, batch_id: str) -> Bulk1Batch:
        job = self.get_job(job_id)
        batch = job.batches.get(batch_id) or job.batches.get(_canon(batch_id))
        if batch is None:
            raise InvalidBatch(f"InvalidBatch : Unable to find batch: {batch_id}")
        return batch

    def result_path(self, job_id: str, batch_id: str) -> str:
        batch = self.get_batch(job_id, batch_id)
        if not batch.has_result:
            raise InvalidBatch(f"InvalidBatch : Batch {batch.id} not completed")
        return batch.result_path

    # -- processing -------------------------------------------------------------------------------
    def _records(self, job: Bulk1Job, path: str, *, check_fields: bool = True) -> tuple[RecordForm, Iterator[Any]]:
        """The batch's records and their form: CSV rows as read (checked for width), else one mapping each."""
        if job.content_type == "CSV":
            header, rows = read_csv(path)
            if not header:
                raise InvalidBatch("InvalidBatch : Empty batch")
            obj = self.ctx.sobject(job.object)
            for name in header if check_fields else ():
                if obj.field(name) is None:
                    raise InvalidBatch(f"InvalidBatch : Field name not found : {name}")
            missing = missing_key_column(self._key(job), header) if check_fields else None
            if missing:
                raise InvalidBatch(f"InvalidBatch : Field name not found : {missing}")

            def checked() -> Iterator[list[str]]:
                for n, row in enumerate(rows, start=2):
                    problem = width_problem(header, row)
                    if problem:
                        raise InvalidBatch(f"InvalidBatch : Malformed CSV row {n}: {problem}")
                    yield row

            return CsvRows(obj, header), checked()
        if job.content_type == "XML":
            return MAPPINGS, read_xml_records(path)
        return MAPPINGS, iter(read_json_records(path))

    def _key(self, job: Bulk1Job) -> FieldDef | None:
        """An upsert job's key field (checked when the job was created)."""
        return job_upsert_key(self.ctx.sobject(job.object), job.operation, job.external_id_field)

    def _process(self, job: Bulk1Job, batch: Bulk1Batch) -> Callable[[], float | None]:
        """The batch as the engine's unit (one call per attempt, see `_BatchRun`)."""
        return _BatchRun(self, job, batch).attempt


class _BatchRun:
    """One batch, run one attempt at a time.

    An attempt pays the batch overhead, then runs 200-record transactions until the records run out or
    the next transaction would pass the profile's `bulk1_batch_time_limit_s`. Then, as documented, the
    rest of the batch goes back to the queue (the batch shows Queued; committed transactions stay
    committed) and the job's numberRetries grows; after `bulk1_max_retries` retries (none with
    Sforce-Disable-Batch-Retry) the batch is Failed, the records it processed keep their results and the
    rest are not processed. The result file stays open between attempts.
    """

    def __init__(self, service: Bulk1Service, job: Bulk1Job, batch: Bulk1Batch) -> None:
        self.service, self.job, self.batch = service, job, batch
        self.attempts = 0
        self.leftover: list[Any] | None = None  # the transaction a timed-out attempt did not run
        self.fh: IO[str] | None = None

    def _before(self, n: int) -> None:
        job, fail_after = self.job, self.service.ctx.faults.bulk_fail_after_records
        with self.service._lock:  # parallel batches of one job share the count
            if fail_after and job.records_seen + n > fail_after:
                raise _FailMidway()
            job.records_seen += n

    def _on_results(self, chunk: list[Any], results: Sequence[SaveResult]) -> None:
        batch = self.batch
        for res in results:
            errors = [(e.status_code, e.message, e.fields) for e in res.errors]
            # Salesforce leaves the id of a failed row empty in Bulk 1.0 results, updates included
            # (simple-salesforce #627 reports exactly this: failed update rows come back with id None).
            self.writer.write(res.id if res.success else None, res.success, res.created, errors)
            batch.records_processed += 1
            if not res.success:
                batch.records_failed += 1

    def attempt(self) -> float | None:
        """One attempt; the seconds to wait in the queue before the next one, or None when done."""
        job, batch, ctx = self.job, self.batch, self.service.ctx
        if batch.state != "Queued":  # aborted while it waited (it is Not Processed) or already done
            self._close()
            return None
        if job.state == "Aborted":
            batch.state = NOT_PROCESSED
            self._close()
            return None
        started = time.monotonic()
        batch.state = "InProgress"
        batch.systemmodstamp = now_stamp()
        profile = ctx.profile
        timer = AttemptTimer(profile.scaled(profile.timings.bulk1_batch_time_limit_s))
        self.attempts += 1
        final, message = "Completed", ""
        try:
            if self.fh is None:
                self.fh = open(batch.result_path, "w", encoding="utf-8", newline="")  # noqa: SIM115  (open across attempts; _close)
                self.writer = Bulk1ResultWriter(self.fh, job.content_type)
                self.form, records = self.service._records(job, batch.request_path)
                self.chunks = transactions(records)
            chunks = start_attempt(ctx, "bulk1", timer, self.leftover, self.chunks)
            self.leftover = None
            run_transactions(
                ctx,
                ctx.sobject(job.object),
                job.operation,
                chunks,
                self._on_results,
                family="bulk1",
                form=self.form,
                before_transaction=self._before,
                timer=timer,
                key=self.service._key(job),
            )
        except InvalidBatch as err:
            final, message = "Failed", err.message
        except _FailMidway:
            final, message = (
                "Failed",
                "InternalServerError : The batch failed midway (injected fault); some records were not processed",
            )
        except UnitTimedOut as timed_out:
            self.leftover = timed_out.chunk or None
            batch.total_processing_ms += int((time.monotonic() - started) * 1000)
            retries = 0 if job.retry_disabled else profile.timings.bulk1_max_retries
            if self.attempts <= retries:
                with self.service._lock:
                    job.retries += 1
                batch.state = "Queued"  # the rest of the batch is back in the queue
                batch.systemmodstamp = now_stamp()
                return ctx.engine.queue_delay("bulk1")
            final = "Failed"
            message = (
                f"InternalServerError : The batch was not processed within its time limit "
                f"({profile.timings.bulk1_batch_time_limit_s:g} s) in {self.attempts} attempt(s); "
                "the remaining records were not processed"
            )
        else:
            batch.total_processing_ms += int((time.monotonic() - started) * 1000)
        self._close()
        batch.has_result = final == "Completed" or batch.records_processed > 0
        batch.api_active_ms = batch.total_processing_ms
        batch.state_message = message
        batch.state = final
        batch.systemmodstamp = now_stamp()
        return None

    def _close(self) -> None:
        if self.fh is not None:
            self.writer.close()
            self.fh.close()


class _FailMidway(Exception):
    pass


def _count_chars(path: str) -> int:
    total = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        while True:
            block = fh.read(1 << 20)
            if not block:
                return total
            total += len(block)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _canon(record_id: str) -> str:
    from ..ids import to_18

    return to_18(record_id) or record_id
