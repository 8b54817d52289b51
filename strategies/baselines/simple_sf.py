"""Baselines that call simple-salesforce (1.12.x), unmodified, with its defaults, as its users do.

Every baseline builds ``Salesforce(instance_url=..., session_id=<token>, session=<metered session>,
version=<the OrgSession's API version>)``: the "direct" auth mode, and a `requests.Session` whose adapter
records each request into the `OrgSession`'s `Meter` (`metering.library_session`), so the same counter
measures the library and our strategies. simple-salesforce keeps the host and port of `instance_url` and
forces https (peer-clients.md 2.1), which suits real orgs and the emulator alike.

* ``simple-salesforce:rest``: ``sf.<Object>.update(id, data)`` per record. Calls: N.
* ``simple-salesforce:collections``: ``sf.restful('composite/sobjects', method='PATCH', json={'allOrNone':
  False, 'records': [...]})`` per 200 records (the library has no wrapper). Calls: ceil(N/200).
* ``simple-salesforce:bulk``: ``sf.bulk.<Object>.update(list_of_dicts)``: Bulk 1.0 JSON, batch_size
  10,000, each batch polled by its own thread every 5 s. Calls: 2 + 2B + P.
* ``simple-salesforce:bulk2``: ``sf.bulk2.<Object>.update(csv_file=path)`` (wait=5), then
  ``get_failed_records`` / ``get_unprocessed_records`` where the job's counts say there are any.
  Calls: 4J + P + F + U.

Upsert (``operation="upsert"``, ``external_id`` F), through the library's own calls:

* `rest`: ``sf.<Object>.upsert(f"{F}/{key}", data)`` (data without the key); it returns the status code:
  201 created, 200 (or 204 before API 46.0) updated. The library joins the key into the URL unencoded, so a
  key holding ``/`` (never addressable, see `strategies.rest`), ``?``, ``#`` or ``%`` would reach another
  URL: such a row fails with `NOT_SENDABLE_BY_LIBRARY` before any call. Calls: N.
* `collections`: ``sf.restful('composite/sobjects/<Object>/F', method='PATCH', json=...)``; every save
  result says ``created``. Calls: ceil(N/200).
* `bulk`: ``sf.bulk.<Object>.upsert(data, external_id_field=F)``; each result says ``created``. Same calls.
* `bulk2`: ``sf.bulk2.<Object>.upsert(csv_file=path, external_id_field=F)``, which returns counts only;
  ``get_successful_records`` (``sf__Created``) is fetched for every job, as a user who needs to know what
  was created must: 5J + P + F + U. Rows are matched to results by key.

B = ceil(N/10,000) Bulk 1.0 batches; J = Bulk 2.0 jobs (one per ~99 MiB of CSV by the library's estimate);
P = status GETs: for `bulk`, per batch 1 + ceil(t_b/5) (every batch is polled by its own thread, so P is
at least B); for `bulk2`, the GETs of ``wait_for_job`` (first after 5 s, then about every 5 s), and the
formula's 4th call per job is the library's final ``get_job``. F / U = jobs with failed / unprocessed
records (the results are fetched only when the job's counts say there are any; a successful record costs
nothing, as in our `bulk2-csv`). Per-record results, as far as the library reports them:

* `rest`: the return value (204) or the exception of each call; 400/404 responses are the record's error.
* `collections`: one save result per record, in order.
* `bulk`: the result list, mapped by position (failed rows have ``id: None``; peer-clients.md 2.4). A
  record without a result (e.g. the ``batch_size='auto'`` bug drops a trailing 1-record batch; the default
  used here does not) is ``unprocessed`` / `NOT_REPORTED_BY_LIBRARY`.
* `bulk2`: ``update()`` returns counts per job only. Failed and unprocessed rows come from the library's
  result calls, matched on Id; the other rows of a job are successes only when the job's own counts agree
  (processed - failed == rows not listed); otherwise ``get_successful_records`` decides, and a row in no
  list is `NOT_REPORTED_BY_LIBRARY`.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
import tempfile
from array import array
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from ..base import CallEstimate, RunContext, ceil_div, send_in_batches
from ..bulk2_csv import CsvRowWriter, parse_sf_error
from ..meter import FAMILY_BULK1, FAMILY_BULK2, FAMILY_REST
from ..operation import Operation
from ..records import CsvRecords, PreparedRecords, Row
from ..rest import rest_key_problem
from ..sinks import FAILED, UNPROCESSED, RecordOutcome
from ..sobject_collections import collection_record, collections_path, report_chunk, report_refused, report_unknown
from ..transport import OrgSession
from .common import (
    LibraryBaseline,
    access_token,
    created_flag,
    error_outcome,
    fields_of,
    library_error,
    not_reported,
    not_sendable,
    require,
    success,
)
from .metering import library_session, scaled_sleep

PACKAGE = "simple-salesforce"
BULK1_BATCH = 10_000
"""simple-salesforce's default ``batch_size`` for Bulk 1.0 DML."""
BULK2_INTERNAL_BATCH = 10_000
COLLECTION_SIZE = 200


class _SimpleSalesforceBaseline(LibraryBaseline):
    library: ClassVar[str] = PACKAGE

    def _connect(self) -> tuple[Any, Any]:
        """(Salesforce, its requests.Session); close the session when done."""
        simple_salesforce = require("simple_salesforce", PACKAGE)
        http = library_session(self.session)
        sf = simple_salesforce.Salesforce(
            instance_url=self.session.instance_url,
            session_id=access_token(self.session),
            session=http,
            version=self.session.api_version,
        )
        return sf, http


def _salesforce_error_class() -> type[BaseException]:
    return require("simple_salesforce.exceptions", PACKAGE).SalesforceError


# -- per-record REST ---------------------------------------------------------------------------------------
def unencoded_key_problem(text: str) -> str | None:
    """Why simple-salesforce's REST upsert cannot send key `text` (it puts the key in the URL as it is)."""
    problem = rest_key_problem(text)
    if problem:
        return problem
    raw = sorted({c for c in text if c in "?#%"})
    if raw:
        return (
            f"holds {' '.join(raw)}, which simple-salesforce puts in the upsert URL unencoded (read as a query, a "
            "fragment or an escape, not as the key)"
        )
    return None


class SimpleSalesforceRest(_SimpleSalesforceBaseline):
    """``sf.<Object>.update(id, data)``, one PATCH per record (an upsert: ``sf.<Object>.upsert(f"{F}/{key}",
    data)``)."""

    name: ClassVar[str] = "simple-salesforce:rest"
    family: ClassVar[str] = FAMILY_REST
    call: ClassVar[str] = "sf.<Object>.update(id, data) per record (upsert: sf.<Object>.upsert('F/key', data))"

    @classmethod
    def api_calls(cls, n_records: int, **_options: Any) -> CallEstimate:
        return CallEstimate({"dml": n_records} if n_records > 0 else {})

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        SalesforceError = _salesforce_error_class()
        operation = self.operation
        sf, http = self._connect()
        try:
            for number, record in rows:
                record_id = record.get("Id")
                created: bool | None = None
                try:
                    if operation.is_upsert:
                        key = operation.key_text(record) or ""
                        problem = unencoded_key_problem(key)
                        if problem:
                            run.outcome(not_sendable(number, f"{operation.key} {key!r} {problem}"))
                            continue
                        # a new SFType per call, as users write it; the answer is the status code
                        status = getattr(sf, sobject).upsert(f"{operation.key}/{key}", fields_of(record, operation.key))
                        created = status == 201
                    else:
                        getattr(sf, sobject).update(record_id, fields_of(record))
                except SalesforceError as exc:
                    status = getattr(exc, "status", 0)
                    if status in (300, 400, 404):  # Salesforce judged this record and refused it
                        run.outcome(error_outcome(number, record_id, getattr(exc, "content", None), f"HTTP_{status}"))
                        continue
                    run.outcome(library_error(number, record_id, exc))
                    raise
                except BaseException as exc:
                    run.outcome(library_error(number, record_id, exc))
                    raise
                run.outcome(success(number, record_id, created))
        finally:
            http.close()


# -- sObject Collections through restful() ------------------------------------------------------------------
class SimpleSalesforceCollections(_SimpleSalesforceBaseline):
    """``sf.restful('composite/sobjects', method='PATCH', json=...)`` in slices of 200 (there is no wrapper; an
    upsert PATCHes ``composite/sobjects/<Object>/<F>``)."""

    name: ClassVar[str] = "simple-salesforce:collections"
    family: ClassVar[str] = FAMILY_REST
    call: ClassVar[str] = "sf.restful('composite/sobjects', method='PATCH', json=...) per 200 records"

    @classmethod
    def api_calls(cls, n_records: int, **_options: Any) -> CallEstimate:
        return CallEstimate({"dml": ceil_div(n_records, COLLECTION_SIZE)} if n_records > 0 else {})

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        SalesforceError = _salesforce_error_class()
        operation = self.operation
        path = collections_path(sobject, operation)
        sf, http = self._connect()

        def send(batch: list[Row]) -> None:
            records = [collection_record(sobject, record, operation) for _n, record in batch]
            body = {"allOrNone": False, "records": records}
            try:
                results = sf.restful(path, method="PATCH", json=body)
            except SalesforceError as exc:
                status = getattr(exc, "status", 0)
                if status == 400:  # the whole request was refused: every record failed with its error
                    content = getattr(exc, "content", None)
                    report_refused(
                        run, batch, status, content if isinstance(content, list) else [{"message": str(content)[:500]}]
                    )
                    return
                report_unknown(run, batch, exc)
                raise
            except BaseException as exc:
                report_unknown(run, batch, exc)
                raise
            report_chunk(run, batch, results)

        try:
            send_in_batches(rows, COLLECTION_SIZE, send, run)
        finally:
            http.close()


# -- Bulk API 1.0 (JSON) ----------------------------------------------------------------------------------------
class SimpleSalesforceBulk(_SimpleSalesforceBaseline):
    """``sf.bulk.<Object>.update(data)`` (an upsert: ``.upsert(data, external_id_field)``): Bulk 1.0, JSON,
    default batch_size 10,000, per-batch 5 s polling."""

    name: ClassVar[str] = "simple-salesforce:bulk"
    family: ClassVar[str] = FAMILY_BULK1
    call: ClassVar[str] = "sf.bulk.<Object>.update(list_of_dicts) (upsert: .upsert(list_of_dicts, F))"

    @classmethod
    def api_calls(
        cls, n_records: int, *, polls: int | None = None, batch_size: int = BULK1_BATCH, **_options: Any
    ) -> CallEstimate:
        """create 1 + upload B + poll P + results B + close 1, with P >= B (one status GET per batch at
        least: each batch's thread checks it at once, then every 5 s until it is done)."""
        if n_records <= 0:
            return CallEstimate({})
        batches = ceil_div(n_records, min(batch_size, BULK1_BATCH))
        polled = batches if polls is None else max(polls, batches)
        return CallEstimate(
            {"create": 1, "upload": batches, "poll": polled, "results": batches, "close": 1}, batches=batches
        )

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        bulk_module = require("simple_salesforce.bulk", PACKAGE)
        numbers = array("q")
        data: list[Mapping[str, Any]] = []  # the library takes the whole list in memory, as its users build it
        try:
            for number, record in rows:
                numbers.append(number)
                data.append(record)
        except BaseException:
            for i, taken in enumerate(data):
                run.unprocessed(numbers[i], taken.get("Id"), "NOT_SENT", "not sent: the input could not be read")
            raise
        if not data:
            return
        sf, http = self._connect()
        try:
            handler = getattr(sf.bulk, sobject)
            with scaled_sleep(bulk_module, self.time_scale):
                if self.operation.is_upsert:
                    results = handler.upsert(data, self.operation.key)
                else:
                    results = handler.update(data)
        except BaseException as exc:
            for i, sent in enumerate(data):
                run.outcome(library_error(numbers[i], sent.get("Id"), exc))
            raise
        finally:
            http.close()
        run.summary.batches += ceil_div(len(data), BULK1_BATCH)  # the library's slices of batch_size=10,000
        results = list(results or [])
        for i, sent in enumerate(data):
            record_id = sent.get("Id")
            if i >= len(results):
                run.outcome(
                    not_reported(
                        numbers[i],
                        record_id,
                        f"the library returned {len(results):,} results for {len(data):,} records",
                    )
                )
                continue
            result = results[i]
            if isinstance(result, Mapping) and result.get("success"):
                created = created_flag(result.get("created")) if self.operation.is_upsert else None
                run.outcome(success(numbers[i], result.get("id") or record_id, created))
            elif isinstance(result, Mapping):
                run.outcome(error_outcome(numbers[i], record_id, result.get("errors"), "UNKNOWN_ERROR"))
            else:
                run.outcome(not_reported(numbers[i], record_id, f"unexpected result {result!r:.200}"))
        if len(results) > len(data):
            run.note(f"the library returned {len(results) - len(data):,} more results than records")


# -- Bulk API 2.0 ---------------------------------------------------------------------------------------------------
class SimpleSalesforceBulk2(_SimpleSalesforceBaseline):
    """``sf.bulk2.<Object>.update(csv_file=...)`` (wait=5), then its failed/unprocessed record calls.

    Input: when the records come from a plain CSV file the library can read as it is (`CsvRecords`, comma
    separated, LF line endings, an ``Id`` column), that file is passed as ``csv_file``, as a user with a CSV
    file would; otherwise the records are written to a temporary CSV first (Bulk 2.0 conventions: ``#N/A``
    for null, an empty cell for "leave unchanged"), which a user would have to do too.
    """

    name: ClassVar[str] = "simple-salesforce:bulk2"
    family: ClassVar[str] = FAMILY_BULK2
    call: ClassVar[str] = (
        "sf.bulk2.<Object>.update(csv_file=...) + get_failed_records/get_unprocessed_records "
        "(upsert: .upsert(csv_file=..., external_id_field=F) + get_successful_records)"
    )

    def __init__(self, session: OrgSession, **options: Any) -> None:
        super().__init__(session, **options)
        self._csv_path: str | None = None

    @classmethod
    def api_calls(
        cls,
        n_records: int,
        *,
        polls: int | None = None,
        jobs: int = 1,
        job_sizes: list[int] | None = None,
        jobs_with_failures: int = 0,
        jobs_with_unprocessed: int = 0,
        operation: str = "update",
        **_options: Any,
    ) -> CallEstimate:
        """Per job: create + upload + close + the final get_job, plus P status GETs (P >= J) and one
        result download per job with failed (F) or unprocessed (U) records: 4J + P + F + U; an upsert
        also downloads every job's successful records (its created flags): 5J + P + F + U."""
        if n_records <= 0:
            return CallEstimate({})
        if job_sizes is None:
            per_job = ceil_div(n_records, max(jobs, 1))
            job_sizes = [min(per_job, n_records - k * per_job) for k in range(max(jobs, 1))]
        sizes = [size for size in job_sizes if size > 0]
        count = len(sizes)
        polled = count if polls is None else max(polls, count)
        phases = {"create": count, "upload": count, "close": count, "poll": polled + count}
        results = jobs_with_failures + jobs_with_unprocessed + (count if operation == "upsert" else 0)
        if results:
            phases["results"] = results
        return CallEstimate(phases, batches=sum(ceil_div(n, BULK2_INTERNAL_BATCH) for n in sizes))

    # The template's validation pass is off (library defaults); but a generic iterable needs its columns
    # known before a CSV header can be written, so the records are counted (and their columns collected)
    # in one pass unless the input already is a CSV file the library can take.
    def _prepare(
        self, sobject: str, records: Iterable[Mapping[str, Any]], run: RunContext, expected: int | None
    ) -> PreparedRecords:
        self._csv_path = _plain_csv_file(records, self.operation)
        return super()._prepare(sobject, records, run, expected)

    def _needs_count(self, expected: int | None) -> bool:
        return self._csv_path is None

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        bulk2_module = require("simple_salesforce.bulk2", PACKAGE)
        rows = iter(rows)
        sf, http = self._connect()
        temp: str | None = None
        try:
            path = self._csv_path
            if path is None:
                temp, written, rows = _write_temp_csv(rows, run.columns, run, self.operation)
                if not written:
                    return
                path = temp
            try:
                handler = getattr(sf.bulk2, sobject)
                with scaled_sleep(bulk2_module, self.time_scale):  # default wait=5, batch_size=None, as users call it
                    if self.operation.is_upsert:
                        jobs = handler.upsert(csv_file=path, external_id_field=self.operation.key)
                    else:
                        jobs = handler.update(csv_file=path)
                for job in jobs:
                    run.job(str(job.get("job_id")))
                    run.summary.batches += ceil_div(int(job.get("numberRecordsTotal") or 0), BULK2_INTERNAL_BATCH)
                job_results = [self._job_results(handler, job) for job in jobs]
                self._report(rows, jobs, job_results, handler, run)
            except BaseException as exc:
                for number, record in rows:
                    run.outcome(library_error(number, record.get("Id"), exc))
                raise
        finally:
            http.close()
            if temp is not None:
                os.unlink(temp)

    def _row_key(self, record: Mapping[str, Any]) -> str:
        """What names a row among a job's results: its Id, or an upsert's key (folded as the field folds
        case; the result files echo the input's columns)."""
        operation = self.operation
        if operation.is_upsert:
            return operation.match_key(operation.key_text(record) or "")
        return str(record.get("Id") or record.get("sf__Id") or "")

    def _job_results(self, handler: Any, job: Mapping[str, Any]) -> dict[str, Any]:
        """The failed and unprocessed rows of one job, fetched only when its counts say there are any; an
        upsert's successful rows too (their ``sf__Created`` is the only place the library reports it)."""
        job_id = job["job_id"]
        total = int(job.get("numberRecordsTotal") or 0)
        processed = int(job.get("numberRecordsProcessed") or 0)
        failed_count = int(job.get("numberRecordsFailed") or 0)
        failed: dict[str, deque[tuple[str, str, tuple[str, ...]]]] = defaultdict(deque)
        unprocessed: dict[str, int] = defaultdict(int)
        if failed_count:
            for row in _csv_rows(handler.get_failed_records(job_id)):
                failed[self._row_key(row)].append(parse_sf_error(row.get("sf__Error") or ""))
        if processed < total:
            for row in _csv_rows(handler.get_unprocessed_records(job_id)):
                unprocessed[self._row_key(row)] += 1
        return {
            "failed": failed,
            "unprocessed": unprocessed,
            "successes": self._successes(handler, job_id) if self.operation.is_upsert else None,
            "expected_successes": processed - failed_count,
            "total": total,
        }

    def _successes(self, handler: Any, job_id: str) -> dict[str, deque[bool | None]]:
        """The job's successful rows by key, each with its ``sf__Created`` (None for an update)."""
        successes: dict[str, deque[bool | None]] = defaultdict(deque)
        upsert = self.operation.is_upsert
        for row in _csv_rows(handler.get_successful_records(job_id)):
            successes[self._row_key(row)].append(created_flag(row.get("sf__Created")) if upsert else None)
        return successes

    def _report(
        self,
        rows: Iterator[Row],
        jobs: list[Mapping[str, Any]],
        job_results: list[dict[str, Any]],
        handler: Any,
        run: RunContext,
    ) -> None:
        """Walk the input once: job k holds the next numberRecordsTotal rows (the library cuts the file in
        order and, for update, runs the jobs one after another)."""
        for job, result in zip(jobs, job_results, strict=True):
            total = result["total"]
            failed, unprocessed = result["failed"], result["unprocessed"]
            successes: dict[str, deque[bool | None]] | None = result["successes"]
            if successes is None:
                listed = sum(len(v) for v in failed.values()) + sum(unprocessed.values())
                if result["expected_successes"] != total - listed:
                    successes = self._successes(handler, job["job_id"])
                    run.note(
                        f"job {job['job_id']}: counts disagree with the result lists; successes read from the library"
                    )
            for _ in range(total):
                item = next(rows, None)
                if item is None:
                    run.note(f"job {job['job_id']} reported {total:,} records; the input ended sooner")
                    break
                number, record = item
                record_id = record.get("Id") or ""
                key = self._row_key(record)
                if failed.get(key):
                    code, message, fields = failed[key].popleft()
                    run.outcome(RecordOutcome(number, record_id, FAILED, code, message, fields))
                elif unprocessed.get(key):
                    unprocessed[key] -= 1
                    run.outcome(
                        RecordOutcome(
                            number, record_id, UNPROCESSED, "NOT_PROCESSED", "listed by get_unprocessed_records"
                        )
                    )
                elif successes is None:
                    run.outcome(success(number, record_id))
                elif successes.get(key):
                    run.outcome(success(number, record_id, successes[key].popleft()))
                else:
                    run.outcome(not_reported(number, record_id, "in no result list of the job"))
        for number, record in rows:
            run.outcome(not_reported(number, record.get("Id"), "the library reported no job for this row"))


def _csv_rows(text: Any) -> Iterator[dict[str, str]]:
    if not text:
        return iter(())
    return csv.DictReader(io.StringIO(text if isinstance(text, str) else text.decode("utf-8"), newline=""))


def _plain_csv_file(records: Any, operation: Operation) -> str | None:
    """The path of a CSV file the library can upload as it is (a column for the Id, or the upsert's key), or
    None."""
    if type(records) is not CsvRecords or records.delimiter != "," or records.null_marker != "#N/A":
        return None
    try:
        with open(records.path, "rb") as fh:
            head = fh.readline()
    except OSError:
        return None
    if not head.endswith(b"\n") or head.endswith(b"\r\n") or head.startswith(b"\xef\xbb\xbf"):
        return None
    header = next(csv.reader([head.decode("utf-8", "replace").rstrip("\n")]), [])
    named = operation.key_name_in(header) is not None
    return str(records.path) if named and len(set(header)) == len(header) else None


def _write_temp_csv(
    rows: Iterator[Row], columns: list[str] | None, run: RunContext, operation: Operation
) -> tuple[str, int, Iterator[Row]]:
    """Write every row to a temporary CSV (Id, or an upsert's key, first); return its path, the row count and
    a replay of the rows.

    The rows are spooled with their row numbers beside the CSV, so the mapping pass after the job reads
    them back instead of holding them in memory. If reading the input fails, the rows already taken are
    reported unprocessed (they were never sent) and the temporary files are removed.
    """
    lead = operation.key_name_in(columns or []) or operation.key
    names = [lead] + [c for c in (columns or []) if c != lead]
    fd, path = tempfile.mkstemp(prefix="sfh-baseline-", suffix=".csv")
    spool = tempfile.TemporaryFile(prefix="sfh-baseline-rows-")  # noqa: SIM115 - read lazily by replay(), which closes it
    written = 0

    def replay() -> Iterator[Row]:
        try:
            spool.seek(0)
            while True:
                try:
                    yield pickle.load(spool)
                except EOFError:
                    return
        finally:
            spool.close()

    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            writer = CsvRowWriter(names)
            out.write(writer.header)
            for number, record in rows:
                out.write(writer.line(record))
                pickle.dump((number, record), spool, protocol=pickle.HIGHEST_PROTOCOL)
                written += 1
    except BaseException:
        for number, record in replay():
            run.unprocessed(number, record.get("Id"), "NOT_SENT", "not sent: the input could not be read")
        os.unlink(path)
        raise
    return path, written, replay()
