"""`bulk1-xml`: Bulk API 1.0 with XML batches, one job per run, polled by job rather than by batch.

Calls, for N records in B batches (B = ceil(N/10,000) unless bytes or characters cut earlier) and P polls::

    create 1  +  upload B  +  close 1  +  poll P  +  results R     (N = 0: no call at all)

P counts *job* status checks (``GET /job/{id}``, done when numberBatchesCompleted + numberBatchesFailed =
numberBatchesTotal): one call per poll whatever B is, unlike per-batch polling. R is 0 when the final job
info says every record was processed and none failed: then every record succeeded (an update's result
Id is the Id we sent), and downloading B result files would only confirm it. Otherwise R = 1 (the batch
list, ``GET /job/{id}/batch``, which says which batches hold failures) + one result download per batch
with a failed record or fewer records processed than sent. ``fetch_successes=True`` downloads every
batch's results anyway, for users who want the org's own per-record confirmation: R = B on a clean job
(the batch ids are ours already), 1 + B at most otherwise.

How it works: records are rendered one by one to ``<sObject>`` XML by `XMLGenerator` (with one change:
a carriage return is written as ``&#13;`` because every XML parser turns a literal CR into LF, which would
alter the value), then `Chunker` cuts batches at 10,000 records, 10,000,000 bytes and 10,000,000
characters, measured on exactly the text it writes. Batch files live in temporary files on disk; the row
numbers and Ids of each batch live in the `Ledger`; memory does not grow with N. Results (one per input
row, in input order) are zipped with the batch's ledger rows. A null value, or an empty string (which
Salesforce stores as null), is sent as ``<Field xsi:nil="true"/>``.

Upsert (``operation="upsert"``): the job is created with ``operation`` upsert and ``externalIdFieldName``;
records carry their key among their fields. Every batch's results are downloaded (R = B on a clean job, as
with ``fetch_successes``), because only they say which records were created (``<created>true</created>``)
and give the Ids of new records.

Failure handling: an add-batch POST is never blindly re-sent after it may have reached the server (it
would create a second batch): after a 5xx, a dropped connection or a read timeout the job's batch count
and list say whether the batch exists (`_Job._post_batch`); a batch that cannot be added leaves its
records unprocessed and the job is still closed so the batches already added run. A close whose answer
is lost is checked against the job's state (`_Job.close`). On an error or Ctrl-C an open job is closed
when it holds batches (they run; their rows are *pending* and the job can be resumed by id) and aborted
when it holds none. A client-side poll timeout leaves the job running and returns its rows as pending.
The second pass for retryable failures (``UNABLE_TO_LOCK_ROW``) runs as a new job in Serial mode. With a
`state_dir`, every step is journaled first (`strategies.journal`) and `resume_run` completes a run killed
at any point (`_resolve`).
"""

from __future__ import annotations

import io
import re
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, ClassVar
from xml.sax.saxutils import XMLGenerator, escape
from xml.sax.xmlreader import AttributesImpl

import defusedxml.ElementTree as SafeET

from .base import CallEstimate, RunContext, UpdateStrategy, ceil_div
from .errors import ConfigurationError, JobError, RunInterrupted, ServerError, TransportError
from .journal import OUTCOME_UNKNOWN
from .meter import FAMILY_BULK1
from .operation import UPDATE_BY_ID, UPSERT, Operation
from .orphans import listed_candidates
from .polling import DEFAULT_POLL_POLICY, PollPolicy, poll
from .records import Chunk, Chunker, ChunkLimits, RecordTooLarge, Row, ValueCheck, text_of
from .sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome, ResultSink, Status

BULK1_NS = "http://www.force.com/2009/06/asyncapi/dataload"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_BATCH_RECORDS = 10_000
MAX_BATCH_BYTES = 10_000_000
MAX_BATCH_CHARS = 10_000_000
XML_CONTENT_TYPE = "application/xml; charset=UTF-8"
_XML_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DONE_STATES = ("Aborted", "Failed")
_NO_ATTRS: AttributesImpl = AttributesImpl({})
_NIL: AttributesImpl = AttributesImpl({"xsi:nil": "true"})


def xml_value_problem(_name: str, value: Any) -> str | None:
    """Characters XML 1.0 cannot carry at all (control characters, lone surrogates) make a record unsendable."""
    if isinstance(value, str):
        bad = _XML_ILLEGAL.search(value)
        if bad:
            return f"character U+{ord(bad.group()):04X} cannot be sent in an XML batch"
    return None


class _RecordXmlGenerator(XMLGenerator):
    """`XMLGenerator` that also escapes CR (as ``&#13;``) in text, so the parser gives back what we sent."""

    def characters(self, content: str) -> None:
        if content:
            self._finish_pending_start_element()  # type: ignore[attr-defined]
            self._write(escape(content, {"\r": "&#13;"}))  # type: ignore[attr-defined]


class SObjectXml:
    """Renders batch documents: `header`, one `render(record)` per record, then `footer`."""

    def __init__(self) -> None:
        head = io.StringIO()
        gen = XMLGenerator(head, encoding="UTF-8", short_empty_elements=False)
        gen.startDocument()
        gen.startElement("sObjects", AttributesImpl({"xmlns": BULK1_NS, "xmlns:xsi": XSI_NS}))
        self.header = head.getvalue()
        self.footer = "</sObjects>"
        self._buffer = io.StringIO()
        self._gen = _RecordXmlGenerator(self._buffer, encoding="UTF-8", short_empty_elements=True)

    def render(self, record: Mapping[str, Any]) -> str:
        """One ``<sObject>`` element; ``Id`` first, then the other fields in the record's order."""
        self._buffer.seek(0)
        self._buffer.truncate()
        gen = self._gen
        gen.startElement("sObject", _NO_ATTRS)
        ordered = [("Id", record["Id"])] if "Id" in record else []
        ordered += [(k, v) for k, v in record.items() if k != "Id"]
        for name, value in ordered:
            if value is None or value == "":
                gen.startElement(name, _NIL)
            else:
                gen.startElement(name, _NO_ATTRS)
                gen.characters(text_of(value))
            gen.endElement(name)
        gen.endElement("sObject")
        return self._buffer.getvalue()


def job_xml(**children: str) -> bytes:
    """A small ``jobInfo`` document (create, close, abort), serialised by ElementTree."""
    root = ET.Element("jobInfo", {"xmlns": BULK1_NS})
    for name, value in children.items():
        ET.SubElement(root, name).text = value
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_fields(content: bytes) -> dict[str, str]:
    """The direct children of a ``jobInfo``/``batchInfo`` document as a name -> text mapping."""
    root = SafeET.fromstring(content)
    return {_local(child.tag): (child.text or "") for child in root}


def _local_children(element: Any) -> dict[str, str]:
    return {_local(child.tag): (child.text or "") for child in element}


def _int(info: Mapping[str, str], name: str) -> int:
    try:
        return int(float(info.get(name) or 0))
    except ValueError:
        return 0


class _BatchInDoubt(TransportError):
    """A batch POST got no answer and the job could not be read to see whether the batch exists."""


@dataclass
class _Batch:
    chunk: str
    position: int
    records: int
    batch_id: str = ""
    file: IO[bytes] | None = None
    reported: bool = False


class Bulk1Strategy(UpdateStrategy):
    """Bulk API 1.0, XML. See the module docstring for the formula and the failure rules."""

    name: ClassVar[str] = "bulk1-xml"
    family: ClassVar[str] = FAMILY_BULK1
    supports_resume: ClassVar[bool] = True

    def __init__(
        self,
        session: Any,
        *,
        serial: bool = False,
        batch_records: int = MAX_BATCH_RECORDS,
        batch_bytes: int = MAX_BATCH_BYTES,
        batch_chars: int = MAX_BATCH_CHARS,
        poll_policy: PollPolicy = DEFAULT_POLL_POLICY,
        sleep: Callable[[float], None] | None = None,
        fetch_successes: bool = False,
        **common: Any,
    ) -> None:
        super().__init__(session, **common)
        self.fetch_successes = fetch_successes
        if (
            not 1 <= batch_records <= MAX_BATCH_RECORDS
            or batch_bytes > MAX_BATCH_BYTES
            or batch_chars > MAX_BATCH_CHARS
        ):
            raise ConfigurationError(
                "Bulk 1.0 batches hold at most 10,000 records, 10,000,000 bytes and 10,000,000 characters"
            )
        self.serial = serial
        self.limits = ChunkLimits(batch_records, batch_bytes, batch_chars)
        self.poll_policy = poll_policy
        self.sleep = sleep or session.sleep

    # -- formula --------------------------------------------------------------------------------------
    @classmethod
    def api_calls(
        cls,
        n_records: int,
        *,
        polls: int = 1,
        batches: int | None = None,
        batch_records: int = MAX_BATCH_RECORDS,
        failed_batches: int = 0,
        batches_with_failures: int = 0,
        fetch_successes: bool = False,
        operation: str = "update",
        **_options: Any,
    ) -> CallEstimate:
        """``create 1 + upload B + close 1 + poll P + results R`` (nothing for N = 0); see the module doc.

        `batches` overrides B = ceil(N/batch_records) when bytes or characters cut batches earlier.
        `batches_with_failures` counts batches that completed with at least one failed record (one
        result download each); `failed_batches` those that ended Failed or Not Processed with nothing
        processed (no download: their rows are unprocessed). Either makes the batch list cost 1.
        """
        if n_records <= 0:
            return CallEstimate({})
        n_batches = batches if batches is not None else ceil_div(n_records, batch_records)
        troubled = failed_batches + batches_with_failures
        every_batch = fetch_successes or operation == UPSERT  # an upsert's results say what it created
        downloads = (n_batches - failed_batches) if every_batch else batches_with_failures
        results = downloads + (1 if troubled else 0)
        phases = {"create": 1, "upload": n_batches, "close": 1, "poll": polls}
        if results:
            phases["results"] = results
        return CallEstimate(phases, batches=n_batches)

    def _formula_options(self) -> dict[str, Any]:
        return {
            "batch_records": self.limits.max_records,
            "fetch_successes": self.fetch_successes,
            "operation": self.operation.name,
        }

    @property
    def reads_every_result(self) -> bool:
        """Whether every batch's results are downloaded, clean or not (see the module docstring)."""
        return self.fetch_successes or self.operation.is_upsert

    def _value_check(self) -> ValueCheck | None:
        return xml_value_problem

    # -- submission -----------------------------------------------------------------------------------
    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        job = _Job(self, sobject, run, mode="Serial" if (self.serial or second_pass) else "Parallel")
        writer = SObjectXml()
        chunker = Chunker(self.limits, header=writer.header, footer=writer.footer)
        try:
            with self.session.phase("upload"):
                for number, record in rows:
                    try:
                        finished = chunker.add(writer.render(record))
                    except RecordTooLarge as exc:
                        run.outcome(RecordOutcome(number, record.get("Id"), FAILED, "RECORD_TOO_LARGE", str(exc)))
                        continue
                    self.ledger.add(job.chunk_key(chunker.index), number, run.row_key(record))
                    if finished is not None:
                        job.add_batch(finished)
                last = chunker.flush()
                if last is not None:
                    job.add_batch(last)
        except BaseException as exc:
            if chunker.open_records:
                job.report_rows(
                    job.chunk_key(chunker.index),
                    UNPROCESSED,
                    "NOT_SENT",
                    "not sent: the run stopped before this batch was added",
                )
            chunker.discard()
            job.stop(exc)
            raise
        if job.job_id is None:
            return
        job.finish()

    def _resume_options(self) -> dict[str, Any]:
        return {
            **super()._resume_options(),
            "serial": self.serial,
            "batch_records": self.limits.max_records,
            "batch_bytes": self.limits.max_bytes,
            "batch_chars": self.limits.max_chars,
            "fetch_successes": self.fetch_successes,
        }

    def _resolve(self, sobject: str, run: RunContext) -> None:
        """Resume: per job with rows in flight, match batches whose add got no answer to the job's batch list
        (a batch we never learnt the id of is the one we sent), close an Open job that holds batches (abort
        one that holds none), then wait for it and collect. Rows in no batch are sent again."""
        journal = run.journal
        assert journal is not None
        for create in journal.steps("create"):
            if create["state"] == "intent":  # the process died waiting for this answer
                _Job(self, sobject, run, mode="Parallel").abort_orphans(float(create["at"]))
        jobs: dict[str, list[dict[str, Any]]] = {}
        for chunk in journal.open_chunks():
            job_id = chunk["job_id"]
            if not chunk["batch_id"]:  # the add's answer may be journaled though the chunk was not assigned yet
                adds = journal.steps("upload", chunk=chunk["chunk"])
                job_id = adds[-1]["job_id"] if adds else None
                chunk["batch_id"] = adds[-1]["batch_id"] if adds else None
            if not job_id:
                journal.forget(chunk["chunk"])
                continue
            jobs.setdefault(job_id, []).append(chunk)
        for job_id, chunks in jobs.items():
            job = _Job(self, sobject, run, mode="Parallel", job_id=job_id)
            run.job(job_id)
            state = job._info(phase="resolve").get("state")
            doubtful = [c for c in chunks if not c["batch_id"]]
            if doubtful:
                self._match_lost_batches(job, doubtful)
            for chunk in chunks:
                if chunk["batch_id"]:
                    records = journal.count(chunk["chunk"])
                    job.batches.append(_Batch(chunk["chunk"], chunk["position"], records, chunk["batch_id"]))
            if state == "Open" and not job.batches:
                job.stop(RuntimeError("resumed"))  # aborts the empty job
                continue
            if state == "Open":
                job.close()
            job.finish(closed=True)

    def _match_lost_batches(self, job: _Job, doubtful: list[dict[str, Any]]) -> None:
        journal = job.run.journal
        assert journal is not None and job.job_id is not None
        known = {step["batch_id"] for step in journal.steps("upload") if step["job_id"] == job.job_id}
        with self.session.phase("resolve"):
            response = self.session.request(
                "GET", self.session.async_url(f"job/{job.job_id}/batch"), family=FAMILY_BULK1
            )
        listed = [_local_children(element) for element in SafeET.fromstring(response.content)]
        unknown = sorted(
            (b for b in listed if b.get("id") and b["id"] not in known), key=lambda b: b.get("createdDate", "")
        )
        for chunk in doubtful:  # in the order they were filled, as their batches were added
            if not unknown:
                journal.forget(chunk["chunk"])  # never added: its rows are sent again
                continue
            batch_id = unknown.pop(0)["id"]
            chunk["batch_id"] = batch_id
            journal.assign(
                chunk["chunk"],
                job_id=job.job_id,
                batch_id=batch_id,
                position=chunk["position"],
                records=journal.count(chunk["chunk"]),
                sobject=job.sobject,
            )
            job.run.note(f"job {job.job_id}: batch {batch_id}, whose add got no answer, holds resumed rows")

    def resume(self, job_id: str, sink: ResultSink) -> Any:
        """Wait for a job started earlier (by this strategy, with the same `state_dir`) and collect it."""
        chunks = self.ledger.chunks_of_job(job_id)
        if not chunks:
            raise ConfigurationError(
                f"no local ledger for job {job_id} in {self.state_dir}; pass the state_dir of the run that started it"
            )
        sobject = chunks[0]["sobject"]
        run = RunContext(self, sobject, sink, second_pass_allowed=False)
        job = _Job(self, sobject, run, mode="Parallel", job_id=job_id)
        for chunk in chunks:
            job.batches.append(_Batch(chunk["chunk"], chunk["position"], chunk["records"], chunk["batch_id"]))
            run.submitted(chunk["records"])
        run.note(f"resumed job {job_id}; retryable failures are reported, not retried (their values are not kept)")
        self._pending_jobs.discard(job_id)
        try:
            job.finish(closed=True)
        except KeyboardInterrupt:
            run.summary.interrupted = True
            raise RunInterrupted(run.finish()) from None
        return run.finish()


class _Job:
    """One Bulk 1.0 job of one `_submit` (or `resume`) call."""

    def __init__(
        self, strategy: Bulk1Strategy, sobject: str, run: RunContext, *, mode: str, job_id: str | None = None
    ) -> None:
        self.strategy = strategy
        self.session = strategy.session
        self.ledger = strategy.ledger
        self.sobject = sobject
        self.run = run
        self.mode = mode
        self.job_id = job_id
        self.batches: list[_Batch] = []
        self._prefix = uuid.uuid4().hex[:12]

    def chunk_key(self, index: int) -> str:
        return f"{self._prefix}-{index}"

    # -- requests -------------------------------------------------------------------------------------
    def _create(self) -> None:
        """Create the job. After a lost answer the org may hold an empty Open job whose id we never learnt:
        `abort_orphans` looks for it, then one more job is created."""
        operation = self.strategy.operation
        key = {"externalIdFieldName": operation.key} if operation.is_upsert else {}
        body = job_xml(
            operation=operation.name, object=self.sobject, **key, concurrencyMode=self.mode, contentType="XML"
        )
        for attempt in (1, 2):
            step = self.run.intend("create")
            asked_at = time.time()
            try:
                with self.session.phase("create"):
                    response = self.session.request(
                        "POST",
                        self.session.async_url("job"),
                        family=FAMILY_BULK1,
                        data=body,
                        headers={"Content-Type": XML_CONTENT_TYPE},
                        ok=(200, 201),
                    )
            except (ServerError, TransportError) as exc:
                self.run.settle(step, "failed")
                if attempt == 2:
                    raise
                self.run.note(f"creating a job got no answer ({type(exc).__name__}); looking for it, then again")
                self.abort_orphans(asked_at)
                continue
            info = xml_fields(response.content)
            self.job_id = info.get("id") or ""
            if not self.job_id:
                self.run.settle(step, "failed")
                raise JobError(response.status_code, "InvalidJob", "job creation returned no id", family=FAMILY_BULK1)
            self.run.settle(step, job_id=self.job_id)
            self.run.job(self.job_id)
            return

    def abort_orphans(self, asked_at: float) -> None:
        """Abort the job a create request whose answer was lost may have made (`strategies.orphans`; Bulk 2.0's
        job list shows Bulk 1.0 jobs as ``Classic``)."""
        candidates = listed_candidates(
            self.session, self.run, sobject=self.sobject, job_type="Classic", asked_at=asked_at
        )
        if candidates is None:
            return
        if len(candidates) != 1:
            if candidates:
                self.run.note(
                    f"{len(candidates)} open jobs could be the one whose creation answer was lost; none aborted"
                )
            return
        step = self.run.intend("abort", job_id=candidates[0])
        try:
            self._set_state("Aborted", "abort", candidates[0])
        except Exception as exc:
            self.run.settle(step, "failed")
            self.run.note(f"could not abort job {candidates[0]} ({type(exc).__name__}); it holds no data")
            return
        self.run.settle(step)
        self.run.note(f"job {candidates[0]} aborted: a create request whose answer was lost made it; it holds no data")

    def add_batch(self, chunk: Chunk) -> None:
        key = self.chunk_key(chunk.index)
        step = None
        try:
            if self.job_id is None:
                self._create()
            step = self.run.intend("upload", chunk=key, job_id=self.job_id)
            batch_id = self._post_batch(chunk)
        except BaseException as exc:
            self.run.settle(step, "failed")
            chunk.file.close()
            if isinstance(exc, _BatchInDoubt):  # its rows stay in the journal's flight: resume matches the batch
                self.report_rows(key, UNPROCESSED, OUTCOME_UNKNOWN, f"outcome unknown: {exc}")
            else:
                self.report_rows(key, UNPROCESSED, "NOT_SENT", "not sent: adding this batch failed")
            raise
        self.run.settle(step, batch_id=batch_id)
        batch = _Batch(key, chunk.index, chunk.records, batch_id, chunk.file)
        self.batches.append(batch)
        self.run.summary.batches += 1
        assert self.job_id is not None
        self.ledger.assign(
            key,
            job_id=self.job_id,
            batch_id=batch_id,
            position=chunk.index,
            records=chunk.records,
            sobject=self.sobject,
        )

    def _post_batch(self, chunk: Chunk) -> str:
        """POST one batch; after a 5xx or a dropped connection, check before trying again.

        Adding a batch is not idempotent, so it is never simply re-sent. Instead the job's batch count
        (one ``GET /job/{id}``, phase ``resolve``) tells whether the failed POST created the batch: if it
        did, its id is taken from the batch list (one more call); if not, the POST is safely repeated.
        Nobody else adds batches to a job we created, so the count is unambiguous. After a read timeout
        the check waits one backoff first, so an answer still being written has landed.
        """
        assert self.job_id is not None
        attempts = self.session.retry.max_attempts
        for attempt in range(1, attempts + 1):
            chunk.file.seek(0)
            try:
                response = self.session.request(
                    "POST",
                    self.session.async_url(f"job/{self.job_id}/batch"),
                    family=FAMILY_BULK1,
                    phase="upload",
                    data=chunk.file,
                    headers={"Content-Type": XML_CONTENT_TYPE},
                    ok=(200, 201),
                )
                return xml_fields(response.content).get("id", "")
            except (ServerError, TransportError) as exc:
                self.session.sleep(self.session.retry.delay(attempt))
                try:
                    created = self._created_batch()
                except Exception as check_error:
                    raise _BatchInDoubt(
                        f"a batch POST failed ({type(exc).__name__}) and checking whether the batch exists failed "
                        f"too ({type(check_error).__name__})",
                        method="POST",
                        path=f"job/{self.job_id}/batch",
                    ) from exc
                if created:
                    self.run.note(
                        f"job {self.job_id}: a batch POST failed ({type(exc).__name__}) "
                        "but the batch was created; kept it"
                    )
                    return created
                if attempt == attempts:
                    raise
                self.run.note(
                    f"job {self.job_id}: a batch POST failed ({type(exc).__name__}) "
                    "before the batch was created; sent it again"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _created_batch(self) -> str | None:
        """The id of a batch the job holds that we do not know (the one a failed POST created), or None."""
        known = {b.batch_id for b in self.batches}
        if _int(self._info(phase="resolve"), "numberBatchesTotal") > len(known):
            return self._new_batch_id(known)
        return None

    def _new_batch_id(self, known: set[str]) -> str | None:
        assert self.job_id is not None
        response = self.session.request(
            "GET", self.session.async_url(f"job/{self.job_id}/batch"), family=FAMILY_BULK1, phase="resolve"
        )
        ids = [_local_children(element).get("id", "") for element in SafeET.fromstring(response.content)]
        fresh = [i for i in ids if i and i not in known]
        return fresh[-1] if len(fresh) == 1 else None

    def close(self) -> None:
        """Close the job. When the answer is lost or refused, the job's state says whether it was applied."""
        assert self.job_id is not None
        step = self.run.intend("close", job_id=self.job_id)
        try:
            self._set_state("Closed", "close")
        except BaseException as exc:
            try:
                state = self._info(phase="resolve").get("state")
            except Exception:
                state = None
            if state not in ("Closed",):
                self.run.settle(step, "failed")
                raise
            self.run.note(f"job {self.job_id}: the answer to closing it was lost ({type(exc).__name__}); it is Closed")
            if not isinstance(exc, Exception):
                self.run.settle(step)
                raise
        self.run.settle(step)

    def _set_state(self, state: str, phase: str, job_id: str | None = None) -> None:
        job_id = job_id or self.job_id
        assert job_id is not None
        with self.session.phase(phase):
            self.session.request(
                "POST",
                self.session.async_url(f"job/{job_id}"),
                family=FAMILY_BULK1,
                data=job_xml(state=state),
                headers={"Content-Type": XML_CONTENT_TYPE},
                idempotent=True,  # setting the same state twice changes nothing
            )

    def _info(self, phase: str = "poll") -> dict[str, str]:
        assert self.job_id is not None
        response = self.session.request(
            "GET", self.session.async_url(f"job/{self.job_id}"), family=FAMILY_BULK1, phase=phase
        )
        return xml_fields(response.content)

    # -- lifecycle ------------------------------------------------------------------------------------
    def stop(self, exc: BaseException) -> None:
        """The submission loop failed or was interrupted: never leave the job open."""
        if self.job_id is None:
            return
        if not self.batches:
            step = self.run.intend("abort", job_id=self.job_id)
            try:
                self._set_state("Aborted", "abort")
                self.run.settle(step)
                self.run.note(f"job {self.job_id} aborted: no batch had been added")
            except Exception as err:
                self.run.note(f"could not abort job {self.job_id}: {err}")
            return
        try:
            self.close()
        except Exception as err:
            self.run.note(f"could not close job {self.job_id}: {err}; its batches may stay queued")
        if isinstance(exc, KeyboardInterrupt):
            self._leave_pending("the run was interrupted after its batches were queued")
            return
        try:
            self.finish(closed=True)
        except BaseException:
            self._leave_pending("its results could not be collected after the error")

    def finish(self, *, closed: bool = False) -> None:
        try:
            if not closed:
                self.close()
            expected = len(self.batches)

            def done(info: dict[str, str]) -> bool:
                if info.get("state") in _DONE_STATES:
                    return True
                finished = _int(info, "numberBatchesCompleted") + _int(info, "numberBatchesFailed")
                total = _int(info, "numberBatchesTotal")
                return total >= expected and finished >= total

            total = sum(b.records for b in self.batches)
            self.run.mark("poll", job_id=self.job_id)
            with self.session.phase("poll"):
                waited = poll(
                    self._info,
                    done,
                    self.strategy.poll_policy,
                    progress=lambda info: (_int(info, "numberRecordsProcessed"), total),
                    sleep=self.strategy.sleep,
                )
            if not waited.done:
                self._leave_pending(f"it was still processing after {waited.waited:.0f} s of polling")
                return
            self._collect(waited.value or {})
        except BaseException:
            self._leave_pending("the run stopped while waiting for it")
            raise

    def _leave_pending(self, why: str) -> None:
        open_batches = [b for b in self.batches if not b.reported]
        if not open_batches:
            return
        n = sum(b.records for b in open_batches)
        for batch in open_batches:
            batch.reported = True
            if batch.file is not None:
                batch.file.close()
        self.run.pending(n)
        assert self.job_id is not None
        self.strategy._pending_jobs.add(self.job_id)
        self.run.note(
            f"job {self.job_id}: {n} record(s) pending because {why}; the job keeps running. "
            f"Collect with resume({self.job_id!r}) (state_dir={self.strategy.state_dir})"
        )

    # -- results --------------------------------------------------------------------------------------
    def _collect(self, info: dict[str, str]) -> None:
        """Report every batch's rows from the final job info, the batch list and, only where needed,
        the batch's result file (see the module docstring for when each is read)."""
        assert self.job_id is not None
        self.run.mark("results", job_id=self.job_id)
        sent = sum(b.records for b in self.batches)
        clean = (
            info.get("state") not in _DONE_STATES
            and _int(info, "numberBatchesFailed") == 0
            and _int(info, "numberBatchesCompleted") >= len(self.batches)
            and _int(info, "numberRecordsFailed") == 0
            and _int(info, "numberRecordsProcessed") == sent
        )
        states: dict[str, dict[str, str]] = {}
        if not clean:  # a clean job's batches all Completed with every record: nothing to look up
            with self.session.phase("results"):
                response = self.session.request(
                    "GET", self.session.async_url(f"job/{self.job_id}/batch"), family=FAMILY_BULK1
                )
            for element in SafeET.fromstring(response.content):
                batch_info = _local_children(element)
                states[batch_info.get("id", "")] = batch_info
        for batch in self.batches:
            if batch.reported:
                continue
            state = states.get(
                batch.batch_id, {"state": "Completed", "numberRecordsFailed": "-1"}
            )  # unlisted: read its results
            name = state.get("state", "")
            all_succeeded = clean or (
                name == "Completed"
                and _int(state, "numberRecordsFailed") == 0
                and _int(state, "numberRecordsProcessed") == batch.records
            )
            if all_succeeded and not self.strategy.reads_every_result:
                self.run.succeeded_chunk(self.ledger, batch.chunk)
                batch.reported = True
            elif name == "Completed" or (name == "Failed" and _int(state, "numberRecordsProcessed") > 0):
                self._batch_results(batch)
            else:
                code = "BATCH_FAILED" if name == "Failed" else "BATCH_NOT_PROCESSED"
                message = state.get("stateMessage") or f"batch {batch.batch_id} ended {name}"
                self.report_rows(batch.chunk, UNPROCESSED, code, message)
                batch.reported = True
            if batch.file is not None:
                batch.file.close()
                batch.file = None
            self.ledger.done(batch.chunk)

    def _batch_results(self, batch: _Batch) -> None:
        assert self.job_id is not None
        spool = tempfile.TemporaryFile(prefix="sfh-result-")  # noqa: SIM115 - closed by `with spool` below, once downloaded
        with self.session.phase("results"):
            self.session.download(
                self.session.async_url(f"job/{self.job_id}/batch/{batch.batch_id}/result"), spool, family=FAMILY_BULK1
            )
        with spool:
            retry_positions = self._retryable_positions(spool, batch)
            records = self._records_at(batch, retry_positions) if retry_positions else {}
            spool.seek(0)
            ledger_rows = self.ledger.rows(batch.chunk)
            for position, result in enumerate(_iter_results(spool)):
                entry = next(ledger_rows, None)
                if entry is None:
                    self.run.note(f"batch {batch.batch_id}: more results than records sent; extra results ignored")
                    break
                row, record_id = entry
                self.run.outcome(_outcome(row, record_id, result, self.run.operation), records.get(position))
            missing = 0
            for row, record_id in ledger_rows:
                missing += 1
                self.run.outcome(
                    RecordOutcome(
                        row,
                        record_id,
                        UNPROCESSED,
                        "NO_RESULT",
                        f"batch {batch.batch_id} returned no result for this record",
                    )
                )
            if missing:
                self.run.note(f"batch {batch.batch_id}: {missing} record(s) without a result")
        batch.reported = True

    def _retryable_positions(self, spool: IO[bytes], batch: _Batch) -> set[int]:
        if not self.run.retry_enabled or batch.file is None:
            return set()
        codes = self.strategy.retryable_codes
        spool.seek(0)
        return {i for i, result in enumerate(_iter_results(spool)) if not result["success"] and result["code"] in codes}

    def _records_at(self, batch: _Batch, positions: set[int]) -> dict[int, dict[str, Any]]:
        """Parse our own batch file back for the records at `positions` (the second pass re-sends them)."""
        if batch.file is None:
            return {}
        batch.file.seek(0)
        found: dict[int, dict[str, Any]] = {}
        index = 0
        nil = f"{{{XSI_NS}}}nil"
        for _event, element in SafeET.iterparse(batch.file, events=("end",)):
            if _local(element.tag) != "sObject":
                continue
            if index in positions:
                found[index] = {_local(f.tag): (None if f.get(nil) == "true" else (f.text or "")) for f in element}
            element.clear()
            index += 1
        return found

    def report_rows(self, chunk: str, status: Status, code: str, message: str) -> None:
        for row, record_id in self.ledger.rows(chunk):
            self.run.outcome(RecordOutcome(row, record_id, status, code, message))


def _iter_results(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Stream ``<result>`` elements of a batch result document as small dicts."""
    for _event, element in SafeET.iterparse(stream, events=("end",)):
        if _local(element.tag) != "result":
            continue
        out: dict[str, Any] = {"id": "", "success": False, "created": False, "code": "", "message": "", "fields": ()}
        for child in element:
            name = _local(child.tag)
            if name == "id":
                out["id"] = child.text or ""
            elif name == "success":
                out["success"] = (child.text or "").strip().lower() == "true"
            elif name == "created":
                out["created"] = (child.text or "").strip().lower() == "true"
            elif name == "errors" and not out["code"]:
                parts = {_local(e.tag): e for e in child}
                out["code"] = (parts["statusCode"].text or "") if "statusCode" in parts else "UNKNOWN_ERROR"
                out["message"] = (parts["message"].text or "") if "message" in parts else ""
                out["fields"] = tuple((e.text or "") for e in child if _local(e.tag) == "fields" and e.text)
        element.clear()
        yield out


def _outcome(
    row: int | None, record_id: str | None, result: Mapping[str, Any], operation: Operation = UPDATE_BY_ID
) -> RecordOutcome:
    if result["success"]:
        if operation.is_upsert:  # the ledger holds the key; the result, the record's Id
            return RecordOutcome(row, result["id"] or None, SUCCEEDED, created=result["created"])
        return RecordOutcome(row, result["id"] or record_id, SUCCEEDED)
    return RecordOutcome(row, record_id, FAILED, result["code"], result["message"], result["fields"])


__all__ = ["Bulk1Strategy", "SObjectXml", "job_xml", "xml_fields", "xml_value_problem"]
