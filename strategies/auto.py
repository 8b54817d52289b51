"""`auto`: pick the strategy that spends the fewest API calls for this many records within the budget.

Inputs: the record count (the caller's `expected_records` hint, or the count from the validation pass,
which reads the input once anyway) and the org's remaining daily API budget (``GET /limits`` ->
``DailyApiRequests.Remaining`` and ``DailyBulkApiBatches.Remaining``: 1 call, phase ``limits``).

Rule, in order:

1. Estimate both candidates with their own formulas: `composite` = ceil(N/1000) calls, synchronous;
   `bulk2-csv` = 3 per job + `expected_polls` polls, asynchronous, and ceil(N/10,000) Bulk batches; or
   1 + `expected_polls` when the job's CSV is under 100,000 characters and goes with its create request
   (measured: when the validation pass has read the input, and it holds few enough rows to be under the
   limit at all, `auto` renders the CSV once more to count its characters, stopping at the limit).
   (`rest`, `collections` and `bulk1-xml` never need fewer calls than one of these two, so they are not
   candidates.)
2. Prefer the one with fewer estimated calls; on a tie prefer `composite`: its count is exact (the polls
   are a guess), its results are immediate, and it spends no Bulk batch. With the default 4 expected
   polls this means Composite up to 7,000 records, Bulk 2.0 above, which sits above Salesforce's "Bulk
   for more than 2,000 records" guidance because we count polls honestly; a one-request Bulk 2.0 job
   (1 + 4) cannot beat Composite's 5 calls below 5,000 records. With `expected_polls=1` (an org that
   finishes small jobs at the first check) it wins from 2,001 records while the CSV stays under the limit.
3. If Bulk 2.0 would need more batches than the org has left today, use Composite.
4. If the chosen estimate exceeds the remaining API calls, take the other one if it fits; if neither
   fits, raise `BudgetError` before any record is sent.

Upsert (``operation="upsert"``): the same rule with upsert's costs: `composite`'s are an update's, `bulk2-csv`
adds one ``successfulResults/`` download per job (its ``sf__Created`` says what was created). The chosen
strategy runs the upsert.

Every decision is written to `RunSummary.notes`, and `RunSummary.delegate` names the chosen strategy.

`concurrency` (default `concurrency.DEFAULT_BATCH_CONCURRENCY`) is how many requests `composite` sends at
once when it is chosen. It changes how long a run takes, never how many calls it makes, so it does not
enter the rule; the harness's time predictions for `auto` (`plan`, `update`) use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .base import CallEstimate, RunContext, UpdateStrategy
from .bulk2_csv import MULTIPART_MAX_CHARS, Bulk2Strategy, csv_chars, csv_value_problem, csv_values_pass
from .composite import CompositeStrategy
from .concurrency import DEFAULT_BATCH_CONCURRENCY, check_concurrency
from .errors import BudgetError
from .journal import plain_options
from .meter import FAMILY_REST
from .records import PreparedRecords, ValueCheck, ValueScreen
from .sinks import ResultSink

DEFAULT_EXPECTED_POLLS = 4


class AutoStrategy(UpdateStrategy):
    """Chooses between `composite` and `bulk2-csv`; see the module docstring for the rule."""

    name: ClassVar[str] = "auto"
    family: ClassVar[str] = FAMILY_REST
    supports_resume: ClassVar[bool] = True
    default_concurrency: ClassVar[int] = DEFAULT_BATCH_CONCURRENCY
    """Passed on to `composite` when it is the choice (Bulk 2.0 jobs are not sent request by request)."""

    def __init__(
        self,
        session: Any,
        *,
        check_budget: bool = True,
        expected_polls: int = DEFAULT_EXPECTED_POLLS,
        composite_options: Mapping[str, Any] | None = None,
        bulk2_options: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        **common: Any,
    ) -> None:
        super().__init__(session, **common)
        self.concurrency = check_concurrency(concurrency)
        self.check_budget = check_budget
        self.expected_polls = expected_polls
        self.composite_options = dict(composite_options or {})
        self.bulk2_options = dict(bulk2_options or {})
        self._bulk2: Bulk2Strategy | None = None

    @classmethod
    def choose(
        cls,
        n_records: int,
        *,
        remaining_calls: int | None = None,
        remaining_batches: int | None = None,
        expected_polls: int = DEFAULT_EXPECTED_POLLS,
        row_chars: float | None = None,
        multipart: bool = True,
        operation: str = "update",
    ) -> tuple[str, str]:
        """(strategy name, reason) for `n_records`; raises `BudgetError` when nothing fits. `row_chars` and
        `multipart` as in `Bulk2Strategy.api_calls`."""
        composite = CompositeStrategy.api_calls(n_records)
        bulk2 = Bulk2Strategy.api_calls(
            n_records, polls=expected_polls, row_chars=row_chars, multipart=multipart, operation=operation
        )
        order = ["composite", "bulk2-csv"] if composite.total <= bulk2.total else ["bulk2-csv", "composite"]
        reason = (
            f"{n_records} record(s): composite ~{composite.total} call(s), "
            f"bulk2-csv ~{bulk2.total} call(s) (with {expected_polls} polls)"
        )
        if remaining_batches is not None and bulk2.batches > remaining_batches:
            order.remove("bulk2-csv")
            reason += f"; bulk2-csv needs {bulk2.batches} batch(es) but only {remaining_batches} remain today"
        if remaining_calls is not None:
            costs = {"composite": composite.total, "bulk2-csv": bulk2.total}
            fitting = [name for name in order if costs[name] <= remaining_calls]
            reason += f"; {remaining_calls} API call(s) remain today"
            if not fitting:
                raise BudgetError(f"{reason}: no strategy fits, nothing was sent")
            order = fitting
        return order[0], f"auto chose {order[0]}: {reason}"

    @classmethod
    def api_calls(
        cls,
        n_records: int,
        *,
        polls: int = 1,
        check_budget: bool = True,
        expected_polls: int = DEFAULT_EXPECTED_POLLS,
        row_chars: float | None = None,
        multipart: bool = True,
        operation: str = "update",
        **_options: Any,
    ) -> CallEstimate:
        name, _why = cls.choose(
            n_records, expected_polls=expected_polls, row_chars=row_chars, multipart=multipart, operation=operation
        )
        base = CallEstimate({"limits": 1}) if check_budget and n_records > 0 else CallEstimate({})
        chosen = (
            CompositeStrategy.api_calls(n_records)
            if name == "composite"
            else Bulk2Strategy.api_calls(
                n_records, polls=polls, row_chars=row_chars, multipart=multipart, operation=operation
            )
        )
        return base + chosen

    def _formula_options(self) -> dict[str, Any]:
        return {
            "check_budget": self.check_budget,
            "expected_polls": self.expected_polls,
            "multipart": bool(self.bulk2_options.get("multipart", True)),
            "operation": self.operation.name,
        }

    def _needs_count(self, expected: int | None) -> bool:
        return expected is None

    def _value_check(self) -> ValueCheck | None:
        return csv_value_problem  # the stricter of the two candidates, so the choice cannot change validity

    def _value_screen(self) -> ValueScreen | None:
        return csv_values_pass

    def _limits(self) -> tuple[int | None, int | None]:
        with self.session.phase("limits"):
            body = self.session.get_json(self.session.rest_url("limits"))
        calls = body.get("DailyApiRequests", {}).get("Remaining")
        batches = body.get("DailyBulkApiBatches", {}).get("Remaining")
        return (int(calls) if calls is not None else None, int(batches) if batches is not None else None)

    def _execute(self, sobject: str, prepared: PreparedRecords, run: RunContext, expected: int | None) -> None:
        n = expected if expected is not None else (prepared.count or 0)
        remaining_calls = remaining_batches = None
        if self.check_budget and n > 0:
            remaining_calls, remaining_batches = self._limits()
        multipart = bool(self.bulk2_options.get("multipart", True))
        name, why = self.choose(
            n,
            remaining_calls=remaining_calls,
            remaining_batches=remaining_batches,
            expected_polls=self.expected_polls,
            row_chars=self._row_chars(prepared, n, self.operation.key) if multipart else None,
            multipart=multipart,
            operation=self.operation.name,
        )
        run.summary.delegate = name
        run.note(why)
        common: dict[str, Any] = {
            "validate": False,
            "retry_pass": self.retry_pass,
            "retryable_codes": self.retryable_codes,
            **self.operation.options(),
        }
        if name == "composite":
            options = {"concurrency": self.concurrency, **self.composite_options}
            delegate: UpdateStrategy = CompositeStrategy(self.session, **common, **options)
        else:
            if self._bulk2 is None:
                self._bulk2 = Bulk2Strategy(self.session, **common, **self.bulk2_options)
            delegate = self._bulk2
        delegate.operation = self.operation  # with the key's case rule a describe gave this run
        delegate._state = self._state  # one journal (or ledger) for the run, whichever strategy writes it
        delegate._execute(sobject, prepared, run, expected)

    @staticmethod
    def _row_chars(prepared: PreparedRecords, n: int, key: str = "Id") -> float | None:
        """Characters per row of the Bulk 2.0 CSV (its header counted as one more row), when the input can be
        read again (the validation pass spooled it) and is short enough to fit a one-request job at all
        (the shortest row is a 15-character Id and a line feed); None otherwise."""
        if prepared.columns is None or not 0 < n < MULTIPART_MAX_CHARS // 16:
            return None
        return csv_chars(prepared, prepared.columns, key=key) / (n + 1)

    def _submit(
        self, sobject: str, rows: Any, run: RunContext, *, second_pass: bool = False
    ) -> None:  # pragma: no cover
        raise NotImplementedError("auto delegates in _execute")

    def resume(self, job_id: str, sink: ResultSink) -> Any:
        """Resume a Bulk 2.0 job that an earlier `auto` run left pending."""
        if self._bulk2 is None:
            self._bulk2 = Bulk2Strategy(self.session, retry_pass=self.retry_pass, **self.operation.options())
            self._bulk2._state = self._state
        return self._bulk2.resume(job_id, sink)

    def _resume_options(self) -> dict[str, Any]:
        return {
            **super()._resume_options(),
            "composite_options": plain_options(self.composite_options),
            "bulk2_options": plain_options(self.bulk2_options),
        }
