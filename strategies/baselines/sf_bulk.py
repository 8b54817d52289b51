"""`salesforce-bulk:xml`: the seed's approach through heroku/salesforce-bulk (2.2.0), unmodified.

The seed article creates one Bulk API 1.0 update job with ``contentType`` XML, adds ``<sObjects>`` batches it
builds as strings, and closes the job. With the library, as a user writes it::

    bulk = SalesforceBulk(sessionId=token, host=instance_url)          # API_version '40.0' (its default)
    job = bulk.create_update_job("Byline__c", contentType="XML")
    for each 10,000 records: batch = bulk.post_batch(job, xml_string)  # the caller splits; no helper exists
    bulk.close_job(job)
    for batch in batches: bulk.wait_for_batch(job, batch)              # timeout=600, sleep_interval=10
                          results = bulk.get_batch_results(batch, job)

API calls, for N records in B = ceil(N/10,000) batches and P batch-status GETs::

    create 1  +  upload B  +  close 1  +  poll P  +  results B          (P >= B)

``wait_for_batch`` checks a batch before it first sleeps, so every batch costs at least one status GET; the
batches are waited for in order, so the first costs about 1 + ceil(t/10) and the later ones usually 1.

Results: ``get_batch_results`` returns ``UploadResult(id, success, created, error)`` in input order, but its
XML parser's ``getid`` has no ``return`` (peer-clients.md 3.1), so every id is None: results are mapped by
position and the outcome's Id is taken from the input. A batch that ends Failed makes ``wait_for_batch``
raise `BulkBatchFailed`: its rows are ``unprocessed`` with that batch's state message. ``wait_for_batch``
returns silently at its timeout; the results call then fails or returns fewer rows, and those rows are
``unprocessed`` / `NOT_REPORTED_BY_LIBRARY`. A result of None (the library's answer to an unexpected
Content-Type) reports nothing either.

Upsert (``operation="upsert"``, ``external_id`` F): ``bulk.create_upsert_job("Byline__c", external_id_name=F,
contentType="XML")``, the batches without an Id element (each record names itself by F); the same calls.
The library parses each result's ``created`` correctly, so every success says whether it was created.

Transport: the library calls module-level ``requests.get/post``, so it is metered (and its TLS bundle set)
by wrapping ``HTTPAdapter.send`` for the duration of the run (`metering.patched_requests`). Its fixed waits
are parameters here (``sleep_interval``, ``timeout``), so a time-scaled profile scales them directly.

Memory: each batch's XML is built as one string (what the library's ``post_batch`` takes); the row numbers
and Ids needed to map results back are spooled to a temporary file, so our wrapper does not add a list of
N records to the figure being measured.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, ClassVar
from xml.sax.saxutils import escape

from ..base import CallEstimate, RunContext, ceil_div, send_in_batches
from ..bulk1_xml import BULK1_NS, XSI_NS
from ..meter import FAMILY_BULK1
from ..records import Row, text_of
from ..sinks import UNPROCESSED, RecordOutcome
from .common import (
    LibraryBaseline,
    access_token,
    created_flag,
    error_outcome,
    library_error,
    not_reported,
    require,
    success,
)
from .metering import patched_requests

PACKAGE = "salesforce-bulk"
BATCH_RECORDS = 10_000
WAIT_TIMEOUT = 600.0
"""``wait_for_batch``'s default timeout (seconds)."""
WAIT_INTERVAL = 10.0
"""``wait_for_batch``'s default sleep between status checks (seconds)."""


def batch_xml(rows: list[Row], *, with_id: bool = True) -> bytes:
    """One ``<sObjects>`` batch document as the seed builds it, string by string (values escaped; Id first,
    none for an upsert (`with_id` False); None as ``xsi:nil``)."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><sObjects xmlns="{BULK1_NS}" xmlns:xsi="{XSI_NS}">']
    for _number, record in rows:
        parts.append("<sObject>")
        ordered = [("Id", record.get("Id"))] if with_id else []
        ordered += [(k, v) for k, v in record.items() if k != "Id"]
        for name, value in ordered:
            if value is None:
                parts.append(f'<{name} xsi:nil="true"/>')
            else:
                parts.append(f"<{name}>{escape(text_of(value))}</{name}>")
        parts.append("</sObject>")
    parts.append("</sObjects>")
    return "".join(parts).encode("utf-8")


class _RowSpool:
    """(row number, Id) of every row sent, on disk, read back in the same order."""

    def __init__(self) -> None:
        self._file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="sfh-baseline-ids-")  # noqa: SIM115 - owned; close() closes it
        self._reading = False

    def add(self, rows: list[Row]) -> None:
        self._file.writelines(f"{number}\t{record.get('Id') or ''}\n" for number, record in rows)

    def take(self, count: int) -> Iterator[tuple[int, str | None]]:
        if not self._reading:
            self._file.flush()
            self._file.seek(0)
            self._reading = True
        for _ in range(count):
            line = self._file.readline()
            if not line:
                return
            number, _, record_id = line.rstrip("\n").partition("\t")
            yield int(number), (record_id or None)

    def close(self) -> None:
        self._file.close()


class SalesforceBulkXml(LibraryBaseline):
    """One Bulk 1.0 XML update job through `salesforce_bulk.SalesforceBulk` (see the module docstring)."""

    name: ClassVar[str] = "salesforce-bulk:xml"
    family: ClassVar[str] = FAMILY_BULK1
    library: ClassVar[str] = PACKAGE
    call: ClassVar[str] = (
        "SalesforceBulk.create_update_job(contentType='XML') + post_batch per 10,000 + wait_for_batch "
        "(upsert: create_upsert_job(external_id_name=F, contentType='XML'))"
    )

    def __init__(self, session: Any, *, api_version: str | None = None, **options: Any) -> None:
        super().__init__(session, **options)
        self.api_version = api_version
        """None: the library's default (40.0), as a user who does not pass ``API_version`` gets."""

    @classmethod
    def api_calls(cls, n_records: int, *, polls: int | None = None, **_options: Any) -> CallEstimate:
        if n_records <= 0:
            return CallEstimate({})
        batches = ceil_div(n_records, BATCH_RECORDS)
        polled = batches if polls is None else max(polls, batches)
        return CallEstimate(
            {"create": 1, "upload": batches, "close": 1, "poll": polled, "results": batches}, batches=batches
        )

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        module = require("salesforce_bulk", PACKAGE)
        failed_batch = require("salesforce_bulk.salesforce_bulk", PACKAGE).BulkBatchFailed
        options = {"API_version": self.api_version} if self.api_version else {}
        operation = self.operation
        spool = _RowSpool()
        posted: list[tuple[str, int]] = []  # (batch id, rows whose outcome is still to be reported), in order
        job: list[str] = []
        try:
            with patched_requests(self.session):
                bulk = module.SalesforceBulk(
                    sessionId=access_token(self.session), host=self.session.instance_url, **options
                )

                def send(chunk: list[Row]) -> None:
                    try:
                        if not job:
                            if operation.is_upsert:
                                new_job = bulk.create_upsert_job(
                                    sobject, external_id_name=operation.key, contentType="XML"
                                )
                            else:
                                new_job = bulk.create_update_job(sobject, contentType="XML")
                            job.append(new_job)
                            run.job(str(job[0]))
                        batch_id = bulk.post_batch(job[0], batch_xml(chunk, with_id=not operation.is_upsert))
                    except BaseException as exc:
                        for number, record in chunk:
                            run.outcome(library_error(number, record.get("Id"), exc))
                        raise
                    spool.add(chunk)
                    posted.append((batch_id, len(chunk)))
                    run.summary.batches += 1

                send_in_batches(rows, BATCH_RECORDS, send, run)
                if not job:
                    return
                bulk.close_job(job[0])
                for index, (batch_id, count) in enumerate(posted):
                    posted[index] = (batch_id, 0)
                    self._collect(bulk, job[0], batch_id, spool.take(count), count, failed_batch, run)
        except BaseException as exc:
            for _batch_id, count in posted:  # batches sent whose results were never read
                for number, record_id in spool.take(count):
                    run.outcome(library_error(number, record_id, exc))
            raise
        finally:
            spool.close()

    def _collect(
        self,
        bulk: Any,
        job: str,
        batch_id: str,
        rows: Iterator[tuple[int, str | None]],
        count: int,
        failed_batch: type[BaseException],
        run: RunContext,
    ) -> None:
        """Wait for one batch, read its results and report its rows (by position)."""
        try:
            bulk.wait_for_batch(
                job, batch_id, timeout=WAIT_TIMEOUT / self.time_scale, sleep_interval=WAIT_INTERVAL / self.time_scale
            )
        except failed_batch as exc:
            message = (
                f"batch {batch_id} ended {getattr(exc, 'state', None) or 'Failed'}: {getattr(exc, 'state_message', '')}"
            )
            for number, record_id in rows:
                run.outcome(RecordOutcome(number, record_id, UNPROCESSED, "BATCH_FAILED", message))
            return
        except BaseException as exc:
            for number, record_id in rows:
                run.outcome(library_error(number, record_id, exc))
            raise
        try:
            results = bulk.get_batch_results(batch_id, job)
        except Exception as exc:  # e.g. a batch still running after wait_for_batch's silent timeout
            for number, record_id in rows:
                run.outcome(
                    not_reported(number, record_id, f"get_batch_results raised {type(exc).__name__}: {str(exc)[:200]}")
                )
            return
        except BaseException as exc:
            for number, record_id in rows:
                run.outcome(library_error(number, record_id, exc))
            raise
        self._report(results, rows, count, batch_id, run)

    def _report(
        self, results: Any, rows: Iterator[tuple[int, str | None]], count: int, batch_id: str, run: RunContext
    ) -> None:
        results = list(results) if results is not None else []
        for position, (number, record_id) in enumerate(rows):
            if position >= len(results):
                why = (
                    "get_batch_results returned None"
                    if not results
                    else f"{len(results):,} results for {count:,} records"
                )
                run.outcome(not_reported(number, record_id, f"batch {batch_id}: {why}"))
                continue
            result = results[position]
            if result.success in (True, "true"):
                created = created_flag(result.created) if self.operation.is_upsert else None
                run.outcome(success(number, result.id or record_id, created))
            else:
                run.outcome(error_outcome(number, record_id, result.error, "UNKNOWN_ERROR"))
