"""The update interface every strategy implements and the run template they share.

`UpdateStrategy.update` is a template method; a strategy fills in `_submit` (send rows, report outcomes)
and the class-level formula `api_calls`. The template owns everything that must behave the same way for
every strategy:

1. validation before any call (`records.prepare`), optionally against the object's describe;
2. routing of outcomes: counted in the summary, written to the sink, or set aside for the second pass;
3. the one bounded second pass for retryable per-record failures (``UNABLE_TO_LOCK_ROW`` and friends),
   serial where the API allows;
4. turning an error or Ctrl-C into a summary that accounts for every record (`RunFailed`,
   `RunInterrupted`), after the strategy has closed or aborted its open jobs;
5. metering: the run's own share of the session `Meter`, and the first and last ``Sforce-Limit-Info``.

Accounting invariant (tested for every strategy): ``submitted == succeeded + failed + unprocessed +
pending``. ``pending`` is non-zero only when a Bulk job was left *processing* on the server (a client-side
poll timeout, or an interrupt after its batches were queued); `job_ids` and `notes` say how to resume it.

With a `state_dir` the run keeps a write-ahead journal there (`strategies.journal`), and `resume_run`
completes it after any stop, a kill -9 included: every row ends in the sink exactly once.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, ClassVar

from .errors import BudgetError, ConfigurationError, RecordValidationError, RunFailed, RunInterrupted, StrategyError
from .journal import RunJournal, ScratchState
from .ledger import Ledger
from .meter import FAMILY_REST, LimitInfo, MeterSnapshot
from .operation import Operation
from .readback import resolve_open_chunks
from .records import PreparedRecords, Row, Validator, ValueCheck, ValueScreen, prepare, spool_dump
from .sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome, ResultSink, write_successes
from .summary import RunSummary
from .transport import OrgSession

RETRYABLE_RECORD_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",  # lock wait > 10 s; the documented fix is to retry, serially
        "TooManyLockFailure",  # Bulk 1.0's name for the same thing
        "SERVER_UNAVAILABLE",
        "REQUEST_RUNNING_TOO_LONG",
    }
)
"""Per-record error codes worth one more attempt. Validation errors, bad Ids and the like are not: the same
record would fail the same way. ``ALL_OR_NONE_OPERATION_ROLLED_BACK`` is not retried either, because the
caller asked for all-or-nothing."""


@dataclass(frozen=True)
class CallEstimate:
    """API calls a strategy will make, by phase, and the Bulk batches it will consume.

    The harness cost model and the tests use the same numbers; for Bulk strategies the number of status
    polls is an input, because it depends on how long the org takes.
    """

    by_phase: Mapping[str, int]
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_phase.values())

    def to_dict(self) -> dict[str, Any]:
        return {"by_phase": dict(self.by_phase), "batches": self.batches, "total": self.total}

    def __add__(self, other: CallEstimate) -> CallEstimate:
        phases = dict(self.by_phase)
        for key, value in other.by_phase.items():
            phases[key] = phases.get(key, 0) + value
        return CallEstimate(phases, self.batches + other.batches)


class RunContext:
    """The state of one run: the summary being built, the sink, and the second-pass spool.

    Strategies report through `outcome()`; they never touch the sink directly, so counting and retry
    routing cannot be forgotten.
    """

    def __init__(self, strategy: UpdateStrategy, sobject: str, sink: ResultSink, *, second_pass_allowed: bool) -> None:
        self.strategy = strategy
        self.session = strategy.session
        self.sobject = sobject
        self.sink = sink
        self.summary = RunSummary(
            strategy=strategy.name,
            sobject=sobject,
            operation=strategy.operation.name,
            external_id=strategy.operation.external_id,
        )
        self.second_pass = False
        self._retry_allowed = second_pass_allowed
        self._retry_spool: IO[bytes] | None = None
        self._retry_count = 0
        self._started = time.perf_counter()
        self._meter_start: MeterSnapshot = self.session.meter.snapshot()
        self._limit_first: LimitInfo | None = None
        self._limit_last: LimitInfo | None = None
        self.session.meter.observers.append(self._observe_limit)
        self.input_iter: Iterator[Row] | None = None
        """The first-pass rows not yet pulled by the strategy (drained as unprocessed if the run stops)."""
        self.retry_iter: Iterator[tuple[Row, RecordOutcome]] | None = None
        self.columns: list[str] | None = None
        """Every field name of the input, when a validation pass saw them all (Bulk 2.0's CSV header)."""
        self.journal: RunJournal | None = strategy.journal
        """The write-ahead journal when the strategy has a state directory (see `strategies.journal`)."""
        self.dedupe = False
        """Set by `resume_run`: an outcome for a row the journal already holds a kept outcome for is dropped."""
        self._chunks = 0

    @property
    def operation(self) -> Operation:
        """The strategy's operation (read each time: a describe may refine the key's case rule mid-run)."""
        return self.strategy.operation

    # -- reporting ----------------------------------------------------------------------------------
    def submitted(self, n: int = 1) -> None:
        self.summary.submitted += n

    def outcome(self, outcome: RecordOutcome, retry_record: Mapping[str, Any] | None = None) -> None:
        """Record one row's outcome; a retryable failure with its record goes to the second pass instead."""
        if (
            outcome.status == FAILED
            and self._retry_allowed
            and not self.second_pass
            and retry_record is not None
            and outcome.error_code in self.strategy.retryable_codes
            and outcome.row is not None
        ):
            if self._retry_spool is None:
                self._retry_spool = tempfile.TemporaryFile(prefix="sfh-retry-")  # noqa: SIM115 - outlives this call; closed by the retry pass
            spool_dump(self._retry_spool, (outcome.row, dict(retry_record), outcome))
            self._retry_count += 1
            return
        if self.operation.is_upsert and outcome.status != SUCCEEDED and outcome.id is not None:
            outcome = replace(outcome, id=None)  # an upsert row's Id is the org's answer; a failure has none
        journal = self.journal
        if journal is not None and outcome.row is not None:
            if self.dedupe and journal.reported(outcome.row):
                return
            journal.record(outcome)
        self.replay(outcome)

    def replay(self, outcome: RecordOutcome) -> None:
        """Count `outcome` and write it to the sink (`resume_run` replays the journal's outcomes this way)."""
        if outcome.status == SUCCEEDED:
            summary = self.summary
            summary.succeeded += 1
            if outcome.created:
                summary.created += 1
            elif outcome.created is False or not self.operation.is_upsert:
                summary.updated += 1
            else:
                summary.created_unknown += 1
        elif outcome.status == FAILED:
            self.summary.failed += 1
        else:
            self.summary.unprocessed += 1
        self.sink.write(outcome)

    def succeeded_chunk(self, ledger: Ledger, chunk: str) -> None:
        """Every row of `chunk` succeeded (a Bulk job or batch whose info lists no failure): counted, journaled
        and written to the sink a ledger page at a time, with no `RecordOutcome` per row. The same as
        `outcome` of a success for each row; a resumed run (which drops rows already reported) takes that
        path."""
        if self.dedupe:
            for row, record_id in ledger.rows(chunk):
                self.outcome(RecordOutcome(row, record_id, SUCCEEDED))
            return
        if self.journal is not None:
            self.journal.record_succeeded(chunk)
        summary, upsert = self.summary, self.operation.is_upsert  # (an upsert reads its results: not this path)
        for page in ledger.row_pages(chunk):
            summary.succeeded += len(page)
            if upsert:
                summary.created_unknown += len(page)
            else:
                summary.updated += len(page)
            write_successes(self.sink, page)

    def unprocessed(self, row: int | None, record_id: str | None, code: str, message: str) -> None:
        self.outcome(RecordOutcome(row, record_id, UNPROCESSED, code, message))

    def pending(self, n: int) -> None:
        self.summary.pending += n

    def note(self, text: str) -> None:
        self.summary.notes.append(text)

    def job(self, job_id: str) -> None:
        if job_id not in self.summary.job_ids:
            self.summary.job_ids.append(job_id)
            if self.strategy.on_job is not None:
                self.strategy.on_job(job_id)  # e.g. the CLI prints it before waiting, for `resume`

    # -- the journal's steps (no-ops without a journal) -----------------------------------------------
    def intend(
        self, kind: str, *, chunk: str | None = None, job_id: str | None = None, detail: Any = None
    ) -> int | None:
        """Before a request that changes state; returns the step to `settle` (`detail`: JSON kept with it)."""
        return None if self.journal is None else self.journal.intend(kind, chunk=chunk, job_id=job_id, detail=detail)

    def settle(
        self, step: int | None, state: str = "done", *, job_id: str | None = None, batch_id: str | None = None
    ) -> None:
        if self.journal is not None and step is not None:
            self.journal.settle(step, state, job_id=job_id, batch_id=batch_id)

    def mark(self, kind: str, *, job_id: str | None = None) -> None:
        if self.journal is not None:
            self.journal.mark(kind, job_id=job_id)

    def track(self, kind: str, rows: Iterable[Row]) -> tuple[str | None, int | None]:
        """Before a synchronous request carrying `rows`: put them in a chunk of their own and record the
        intent, so a process that dies before the answer leaves them in doubt, not lost. Returns (chunk,
        step), both None without a journal."""
        journal = self.journal
        if journal is None:
            return None, None
        self._chunks += 1
        chunk = f"{kind}-{time.time_ns():x}-{self._chunks}"
        for number, record in rows:
            journal.add(chunk, number, self.row_key(record))
        return chunk, journal.intend(kind, chunk=chunk)

    def row_key(self, record: Mapping[str, Any]) -> str | None:
        """What names `record` in the ledger and the journal: its Id, or an upsert's key as text."""
        return self.operation.key_text(record) if self.operation.is_upsert else _record_id(record)

    def release(self, chunk: str | None) -> None:
        """The rows of `chunk` have their outcomes: they are no longer in flight."""
        if self.journal is not None and chunk is not None:
            self.journal.forget(chunk)

    # -- second pass --------------------------------------------------------------------------------
    @property
    def retry_enabled(self) -> bool:
        """Whether a retryable failure reported now would go to the second pass."""
        return self._retry_allowed and not self.second_pass

    @property
    def retry_count(self) -> int:
        return self._retry_count

    def take_retry_rows(self) -> Iterator[tuple[Row, RecordOutcome]]:
        """The rows set aside for the second pass (each with its first-pass failure), once."""
        spool = self._retry_spool
        self._retry_spool = None
        if spool is None:
            return
        try:
            spool.seek(0)
            while True:
                try:
                    row, record, first = pickle.load(spool)
                except EOFError:
                    return
                yield (row, record), first
        finally:
            spool.close()

    def drain(self, code: str, message: str) -> None:
        """After a stop: report every row nobody will send. Rows never pulled from the input become
        unprocessed; rows waiting for (or in) the second pass keep their first-pass failure."""
        self._retry_allowed = False
        if self.input_iter is not None:
            remaining, self.input_iter = self.input_iter, None
            for row, record in remaining:
                self.unprocessed(row, _record_id(record), code, message)
        if self.retry_iter is not None:
            waiting, self.retry_iter = self.retry_iter, None
            for _row, first in waiting:
                self.outcome(first)
        for _row, first in self.take_retry_rows():
            self.outcome(first)

    # -- end ----------------------------------------------------------------------------------------
    def _observe_limit(self, info: LimitInfo) -> None:
        if self._limit_first is None:
            self._limit_first = info
        self._limit_last = info

    def finish(self) -> RunSummary:
        meter = self.session.meter
        if self._observe_limit in meter.observers:
            meter.observers.remove(self._observe_limit)
        used = meter.snapshot().since(self._meter_start)
        summary = self.summary
        summary.calls_by_phase = used.by_phase()
        summary.calls_by_family = used.by_family()
        summary.total_calls = used.total
        summary.api_calls = used.api_total()
        summary.http_retries = used.retries
        summary.reauthentications = used.reauths
        summary.seconds_by_phase = {k: round(v, 6) for k, v in used.seconds.items()}
        summary.wall_seconds = round(time.perf_counter() - self._started, 6)
        summary.limit_info_before = self._limit_first.to_dict() if self._limit_first else None
        summary.limit_info_after = self._limit_last.to_dict() if self._limit_last else None
        if summary.accounted != summary.submitted:  # a bug, never expected: say so loudly rather than hide it
            summary.notes.append(f"ACCOUNTING MISMATCH: submitted {summary.submitted}, accounted {summary.accounted}")
        return summary


class UpdateStrategy(ABC):
    """Update records of one sObject from an iterable of mappings (each with ``Id``), streamed.

    Options every strategy accepts:

    * `validate` (default True): reject records with no Id, a malformed Id, an invalid field name, or
      (with `known_fields` or `describe=True`) a field the object lacks, before any call. With False,
      records are sent as they are and the org judges them.
    * `known_fields`: the object's field names, for validation without a describe call.
    * `describe`: fetch ``sobjects/{Object}/describe`` once (1 call, phase ``describe``) for validation.
    * `retry_pass` (default True): one second pass for records that failed with a retryable code.
    * `on_job`: called with each Bulk job id as soon as the job exists (before any waiting), so a caller
      can show or store it and resume the run if this process dies.
    * `state_dir`: keep the run's write-ahead journal there (`strategies.journal`): every input row, each
      state-changing request before it is sent, and every outcome. A run killed at any moment is then
      completed by `resume_run` (or `strategies.resume.resume_run(state_dir, ...)`) from that folder alone.
    * `operation` ("update", the default, or "upsert") and `external_id` (the field an upsert matches
      records on): read and checked once, by `strategies.operation.Operation.parse`, for every strategy.
      An upsert's successes say whether the org created the record (`RecordOutcome.created`).
    """

    name: ClassVar[str]
    family: ClassVar[str] = FAMILY_REST
    supports_resume: ClassVar[bool] = False
    default_concurrency: ClassVar[int | None] = None
    """Requests sent at once unless the `concurrency` option says otherwise; None for a strategy that takes
    no such option (the Bulk strategies send their few requests one after another)."""

    def __init__(
        self,
        session: OrgSession,
        *,
        validate: bool = True,
        known_fields: Collection[str] | None = None,
        describe: bool = False,
        retry_pass: bool = True,
        retryable_codes: Collection[str] = RETRYABLE_RECORD_CODES,
        on_job: Callable[[str], None] | None = None,
        state_dir: str | Path | None = None,
        operation: str | None = None,
        external_id: str | None = None,
    ) -> None:
        self.operation = Operation.parse(operation, external_id)
        self.session = session
        self.on_job = on_job
        self._state = ScratchState(state_dir, prefix=f"sfh-{self.name}-")
        self.validate = validate
        self.known_fields = known_fields
        self.describe = describe
        self.retry_pass = retry_pass
        self.retryable_codes = frozenset(retryable_codes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(session={self.session!r})"

    # -- the interface ------------------------------------------------------------------------------
    def update(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]],
        sink: ResultSink,
        *,
        expected_records: int | None = None,
    ) -> RunSummary:
        """Update `records` of `sobject`; one outcome per input row goes to `sink`.

        Raises `RecordValidationError` (nothing sent), `RunFailed` (stopped early for any reason, the
        original exception chained; `.summary` accounts for every record) or `RunInterrupted` (Ctrl-C;
        same). Otherwise returns the summary.
        """
        journal = self.journal
        if journal is not None:
            journal.reset()
            journal.describe(strategy=self.name, sobject=sobject, options=self._resume_options(), status="running")
        run = RunContext(self, sobject, sink, second_pass_allowed=self.retry_pass)
        prepared: PreparedRecords | None = None

        def body() -> None:
            nonlocal prepared
            prepared = self._prepare(sobject, records, run, expected_records)
            self._execute(sobject, prepared, run, expected_records)

        try:
            return self._guarded(run, body)
        finally:
            if prepared is not None:
                prepared.close()

    def resume_run(self, sink: ResultSink) -> RunSummary:
        """Complete the run journaled in this strategy's `state_dir`, whatever moment it stopped at.

        The outcome files are rebuilt: every outcome the journal keeps is written to `sink` again, then the
        rows in doubt are resolved (`_resolve`: open jobs finished or aborted, lost answers looked up),
        then the rows never sent are sent. Every input row ends in `sink` exactly once.
        """
        journal = self.journal
        if journal is None:
            raise ConfigurationError("resume_run needs the state_dir of the run to resume")
        meta = journal.meta()
        if "input_rows" not in meta:
            raise ConfigurationError(
                f"the run in {journal.directory} stopped before its input was stored (nothing was sent): start it again"
            )
        sobject = str(meta["sobject"])
        run = RunContext(self, sobject, sink, second_pass_allowed=self.retry_pass)
        run.columns = meta.get("columns")
        run.summary.submitted = journal.total_rows()
        kept = 0
        for outcome in journal.outcomes():
            run.replay(outcome)
            kept += 1
        run.note(f"resumed the run in {journal.directory}: {kept} outcome(s) were already known")
        run.dedupe = True
        journal.describe(status="resuming")

        def body() -> None:
            self._resolve(sobject, run)
            self._send_rows(sobject, journal.unsent(), run)

        return self._guarded(run, body)

    def _guarded(self, run: RunContext, body: Callable[[], None]) -> RunSummary:
        """Run `body`; turn an error or Ctrl-C into a summary that accounts for every record."""
        try:
            body()
        except KeyboardInterrupt:
            run.summary.interrupted = True
            run.drain("INTERRUPTED", "not sent: the run was interrupted")
            run.note("interrupted by the user (Ctrl-C)")
            raise RunInterrupted(run.finish()) from None
        except Exception as exc:  # any cause (Salesforce, network, disk, a failing sink): account, then say so
            if isinstance(exc, RunFailed):
                raise
            if run.summary.submitted == 0 and isinstance(exc, StrategyError) and _is_pre_call(exc):
                run.finish()  # detaches from the meter; nothing was sent, so the error itself says it all
                raise
            try:
                run.drain("NOT_SENT", f"not sent: the run stopped early ({type(exc).__name__})")
            except Exception as drain_error:  # e.g. the sink itself is what failed
                run.note(f"could not report the remaining rows: {type(drain_error).__name__}: {drain_error}")
            run.summary.error = f"{type(exc).__name__}: {exc}"
            raise RunFailed(f"{self.name} run stopped early: {exc}", run.finish()) from exc
        if run.journal is not None:
            run.journal.describe(status="finished" if not run.summary.pending else "pending")
        return run.finish()

    @classmethod
    @abstractmethod
    def api_calls(cls, n_records: int, **options: Any) -> CallEstimate:
        """The documented call formula for `n_records` records with no failures, retries or re-auth."""

    def estimate(self, n_records: int, **options: Any) -> CallEstimate:
        """`api_calls` with this instance's options (and the describe call, when enabled)."""
        estimate = type(self).api_calls(n_records, **{**self._formula_options(), **options})
        if self.describe and self.validate:
            estimate = estimate + CallEstimate({"describe": 1})
        return estimate

    def _formula_options(self) -> dict[str, Any]:
        return {}

    def _resume_options(self) -> dict[str, Any]:
        """Constructor options (JSON) that `resume_run` needs to rebuild this strategy as it ran."""
        return {
            "retry_pass": self.retry_pass,
            "retryable_codes": sorted(self.retryable_codes),
            **self.operation.options(),
        }

    # -- state on disk ------------------------------------------------------------------------------
    @property
    def journal(self) -> RunJournal | None:
        """The run journal in `state_dir`, or None when the caller gave no state directory."""
        return self._state.journal

    @property
    def ledger(self) -> Ledger:
        """Rows per chunk: the journal, or a scratch ledger in a temporary directory."""
        return self._state.ledger

    @property
    def state_dir(self) -> Path:
        return self._state.directory

    @property
    def _pending_jobs(self) -> set[str]:
        return self._state.pending_jobs

    def close(self) -> None:
        """Close the journal or ledger; remove a scratch directory unless a job is pending. Safe twice."""
        self._state.close()

    def __enter__(self) -> UpdateStrategy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the template -------------------------------------------------------------------------------
    def _prepare(
        self, sobject: str, records: Iterable[Mapping[str, Any]], run: RunContext, expected: int | None
    ) -> PreparedRecords:
        validator = None
        if self.validate:
            fields = self.known_fields
            if self.describe and (fields is None or self.operation.is_upsert):
                described = self.describe_object(sobject)
                fields = [f["name"] for f in described]
                self.use_describe(sobject, described)
            validator = Validator(
                known_fields=fields,
                value_check=self._value_check(),
                value_screen=self._value_screen(),
                operation=self.operation,
            )
        if validator is None:
            return prepare(records, validator=None, need_count=self._needs_count(expected))
        # The validation pass reads every row once anyway: the row's journal entry and the strategy's own
        # first-pass work (`_during_validation`) are done in it, not in passes of their own.
        journal = self.journal
        on_clean = self._during_validation(sobject, records, run)
        if on_clean is None and journal is not None:
            on_clean = journal.spool_row
        try:
            prepared = prepare(records, validator=validator, need_count=self._needs_count(expected), on_clean=on_clean)
        except BaseException:
            self._after_validation(None, run)
            raise
        self._after_validation(prepared, run)  # may still store rows: before the input is declared complete
        if journal is not None:
            journal.spooled(prepared.count or 0)
            prepared.journaled = True
        return prepared

    def _during_validation(
        self, sobject: str, records: Iterable[Mapping[str, Any]], run: RunContext
    ) -> Callable[[int, dict[str, Any]], None] | None:
        """Work the strategy does on each valid row during the validation pass, or None (the default: with a
        run journal, each row is stored in it). The work stores each row in the run journal itself, when
        there is one (`RunJournal.spool_row`); no request may be sent from it, as the input may still be
        refused. `_after_validation` follows."""
        return None

    def _after_validation(self, prepared: PreparedRecords | None, run: RunContext) -> None:  # noqa: B027 - an optional hook
        """After the validation pass: `prepared` (set ``prepared.taken`` if `_during_validation` took every
        row into the first pass), or None when the input was refused or reading it failed."""

    def use_describe(self, sobject: str, fields: list[dict[str, Any]]) -> None:
        """Take the key field's rules from the object's describe `fields` (an upsert's case rule), or raise
        `ConfigurationError` before any write when the org cannot upsert on it."""
        problem = self.operation.key_field_problem(sobject, fields)
        if problem:
            raise ConfigurationError(problem)
        self.operation = self.operation.described(fields)

    def _needs_count(self, expected: int | None) -> bool:
        return False

    def _value_check(self) -> ValueCheck | None:
        """A strategy-specific check of one field value, or None."""
        return None

    def _value_screen(self) -> ValueScreen | None:
        """A quick whole-row test that `_value_check` would pass every value (`records.ValueScreen`), or None."""
        return None

    def _execute(self, sobject: str, prepared: PreparedRecords, run: RunContext, expected: int | None) -> None:
        """First pass over every row, then the second pass for retryable failures. With a journal, every
        row is stored in it first (during the validation pass, when there is one), and sent from there."""
        run.columns = prepared.columns
        source: Iterable[Row] = () if prepared.taken else prepared
        if run.journal is not None:
            run.journal.describe(columns=prepared.columns, runs_as=self.name)
            if not prepared.journaled:
                run.journal.spool(prepared)
            if not prepared.taken:
                source = run.journal.unsent()
        self._send_rows(sobject, _counted(source, run), run)

    def _send_rows(self, sobject: str, rows: Iterator[Row], run: RunContext) -> None:
        run.input_iter = rows
        self._submit(sobject, run.input_iter, run)
        run.input_iter = None
        if run.retry_count:
            run.summary.retried += run.retry_count
            run.second_pass = True
            run.note(f"second pass for {run.retry_count} record(s) with retryable errors")
            run.retry_iter = run.take_retry_rows()
            self._submit(sobject, (row for row, _first in run.retry_iter), run, second_pass=True)
            run.retry_iter = None

    @abstractmethod
    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        """Send `rows` and report one outcome per row through `run.outcome`.

        On any exception or interrupt the strategy closes or aborts what it opened and reports the rows it
        was holding (unprocessed, or pending when a job keeps running) before re-raising.
        """

    def _resolve(self, sobject: str, run: RunContext) -> None:
        """Resume: settle the rows the journal has in flight. Synchronous strategies read the records back
        (`readback`); Bulk strategies override this to finish or abort their jobs."""
        resolve_open_chunks(self.session, sobject, run)

    # -- helpers for strategies ---------------------------------------------------------------------
    def describe_fields(self, sobject: str) -> list[str]:
        return [f["name"] for f in self.describe_object(sobject)]

    def describe_object(self, sobject: str) -> list[dict[str, Any]]:
        """The object's fields as its describe lists them (1 call, phase ``describe``)."""
        with self.session.phase("describe"):
            body = self.session.get_json(self.session.rest_url(f"sobjects/{sobject}/describe"))
        return [f for f in body.get("fields", []) if isinstance(f, dict)]


def _counted(rows: Iterable[Row], run: RunContext) -> Iterator[Row]:
    """Count rows as the strategy pulls them, so `submitted` is right even if the run stops early."""
    for row in rows:
        run.submitted()
        yield row


def _record_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("Id")
    return value if isinstance(value, str) else None


def _is_pre_call(exc: StrategyError) -> bool:
    return isinstance(exc, (RecordValidationError, ConfigurationError, BudgetError))


def chunks_of(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Consecutive lists of at most `size` rows; the last, short list is always yielded."""
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def input_batches(rows: Iterable[Row], size: int, run: RunContext) -> Iterator[list[Row]]:
    """Consecutive batches of at most `size` rows, for strategies that send a batch per request.

    If reading the input fails or is interrupted while a batch is being filled, the rows already taken
    from the input are reported unprocessed before the exception continues (a plain `chunks_of` would
    drop them silently). A batch handed out is the consumer's to report, whatever happens to it.
    """
    batch: list[Row] = []
    try:
        for row in rows:
            batch.append(row)
            if len(batch) == size:
                full, batch = batch, []
                yield full
        if batch:
            full, batch = batch, []
            yield full
    except BaseException:
        for number, record in batch:
            run.unprocessed(
                number, _record_id(record), "NOT_SENT", "not sent: the run stopped before this batch was sent"
            )
        raise


def send_in_batches(rows: Iterable[Row], size: int, send: Callable[[list[Row]], None], run: RunContext) -> None:
    """Call `send` with consecutive batches of at most `size` rows (`input_batches`), one after another.
    `send` reports its own batch, whatever happens to it."""
    for batch in input_batches(rows, size, run):
        send(batch)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b) if a > 0 else 0


__all__ = [
    "RETRYABLE_RECORD_CODES",
    "CallEstimate",
    "RunContext",
    "UpdateStrategy",
    "ceil_div",
    "chunks_of",
    "input_batches",
    "send_in_batches",
]
