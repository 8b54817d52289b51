"""Client-side exceptions for the update strategies.

The tree separates *where* a problem happened, because the right reaction differs::

    StrategyError                    base of everything this package raises
    ├── ConfigurationError           a strategy was asked for something it cannot do (bad name, bad option)
    ├── RecordValidationError        the input was rejected on the client, before any HTTP call
    ├── TransportError               Salesforce was never reached, or gave no usable answer
    │                                (DNS, refused or dropped connection, TLS failure, timeout), after retries
    ├── ApiError                     Salesforce answered and refused the whole request
    │   ├── AuthenticationError      the session is invalid and re-authentication is exhausted or unavailable
    │   ├── RequestLimitError        REQUEST_LIMIT_EXCEEDED (daily allocation, or concurrency after retries)
    │   ├── ServerError              HTTP 5xx after the retries allowed for this request
    │   └── JobError                 a Bulk job is in a state the strategy cannot continue from
    ├── BudgetError                  `auto` found no strategy whose estimated calls fit the remaining budget
    └── RunFailed                    a run stopped early; `.summary` still accounts for every record

    RunInterrupted(KeyboardInterrupt) Ctrl-C during a run, after open jobs were closed or aborted;
                                      `.summary` accounts for every record

Per-record failures (a validation rule, a lock timeout, an unknown Id) are **not** exceptions: they are
outcomes with status ``failed`` that go to the result sink, because one bad row must not stop a million
good ones.

No message or repr in this module ever contains a token or password: messages are built from status codes,
error codes and Salesforce's own messages only, never from request headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .summary import RunSummary


class StrategyError(Exception):
    """Base class of every exception raised by `strategies`."""


class ConfigurationError(StrategyError, ValueError):
    """An unknown strategy name or an option value the strategy cannot honour."""


@dataclass(frozen=True)
class RecordProblem:
    """One reason a record was rejected before any call: which row (0 for a CSV file's header), which field, why."""

    row: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = ("header" if self.row == 0 else f"row {self.row}") + (f", field '{self.field}'" if self.field else "")
        return f"{where}: {self.reason}"


class RecordValidationError(StrategyError, ValueError):
    """Input records were rejected on the client; no HTTP call was made.

    `problems` lists the first problems found (at most the validator's `max_problems`); `total` counts
    every rejected record, so a caller can tell "3 bad rows" from "the whole file is wrong".
    """

    def __init__(self, problems: Sequence[RecordProblem], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        first = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {self.total - min(5, len(self.problems))} more)" if self.total > 5 else ""
        super().__init__(f"{self.total} input record(s) rejected before any API call: {first}{more}")

    @property
    def row(self) -> int | None:
        return self.problems[0].row if self.problems else None

    @property
    def field(self) -> str | None:
        return self.problems[0].field if self.problems else None


class TransportError(StrategyError):
    """No usable HTTP response: connection refused or dropped, TLS failure, or a timeout."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: {message}".strip() if method else message)


class ApiError(StrategyError):
    """Salesforce answered and refused the request as a whole.

    `error_code` is the REST ``errorCode`` or the Bulk 1.0 ``exceptionCode``; `family` is the API family
    (rest, bulk1, bulk2) whose error format was parsed.
    """

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        family: str = "",
        method: str = "",
        path: str = "",
        fields: Sequence[str] = (),
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        self.family = family
        self.method = method
        self.path = path
        self.fields = tuple(fields)
        super().__init__(f"{method} {path} -> HTTP {status} {error_code}: {message}")


class AuthenticationError(ApiError):
    """The session is invalid or expired and no (further) re-authentication is allowed."""


class RequestLimitError(ApiError):
    """REQUEST_LIMIT_EXCEEDED: the org's daily allocation is spent, or concurrency stayed exhausted."""


class ServerError(ApiError):
    """HTTP 5xx that outlived the retries this request was allowed."""


class JobError(ApiError):
    """A Bulk job or batch is in a state the strategy cannot continue from (for example Failed)."""


class BudgetError(StrategyError):
    """No strategy's estimated API calls fit the org's remaining daily budget; nothing was sent."""


class RunFailed(StrategyError):
    """A run stopped early. Every record is still accounted for in `summary` (and in the sink).

    The original exception is chained as ``__cause__``.
    """

    def __init__(self, message: str, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__(message)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C arrived during a run. Open jobs were closed or aborted first; `summary` says what happened.

    It is a `KeyboardInterrupt`, so code that does not know about strategies still stops as the user asked.
    """

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__("update interrupted; see summary.notes for what happened to open jobs")
