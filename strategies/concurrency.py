"""Sending a run's requests up to N at a time over its one pooled session: one mechanism for every strategy.

`send_all` is how `rest` (one record per request), `collections` and `composite` (a batch per request)
schedule their requests. Why it is shaped like this:

* Worker threads only send: they build a request, make it and read its answer, then hand back a *report*
  (a function of no arguments). Every report runs in the calling thread, in the order requests finish,
  so the run's counting, its sink and its second-pass spool are only ever touched by one thread.
* At most ``2 x concurrency`` requests are in flight or waiting for a worker, and the input is pulled
  only as that window frees up: memory is bounded by the window (for `composite`, 8 x 1,000 records at
  concurrency 4), never by the number of records.
* A request that got no answer (the transport's retries spent, or an error while reading the answer)
  leaves its rows unprocessed with its outcome unknown, and stops the run: requests not started yet
  are not sent at all (``NOT_SENT``), those in flight are waited for and reported, then the first error
  is raised. An error or Ctrl-C while reading the input stops the run the same way.
* With concurrency 1 every request is sent and reported in the calling thread, with no pool: the serial
  second pass for retryable failures, and `rest`'s default.
* The run journal (`RunContext.track` / `settle` / `release`) is written in the calling thread only: each
  request's intent before it is handed to a worker, its settlement when its report runs. A request that
  got no answer is given to `on_lost` (the strategies read the records back, `readback.settle_lost_answer`)
  and its rows stay in doubt in the journal, for `resume`, unless that settles every one of them.

The default for the batched strategies, `DEFAULT_BATCH_CONCURRENCY` (4), comes from Salesforce's
concurrency limit: only requests running 20 s or longer count against it, and an org allows 25 of them at
once (production and sandboxes) or 5 (Developer Edition and trial orgs). A Composite of 1,000 records
takes a few seconds on a lean object, so normally none of our requests counts at all; but with heavy
automation (30 ms per record and more) every one of them may run past 20 s. Four at a time stays under
even a Developer Edition's 5 when all four do, and leaves 21 of production's 25 to the org's other
integrations. A refusal for that limit (HTTP 403 ``ConcurrentPerOrgLongTxn``) is refused before it runs,
so the transport sends it again after a backoff.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

from .base import RunContext
from .errors import ConfigurationError
from .records import Row
from .sinks import UNPROCESSED, RecordOutcome

DEFAULT_BATCH_CONCURRENCY = 4
"""Requests `collections` and `composite` send at once unless told otherwise (see the module docstring)."""

Item = TypeVar("Item")
Report = Callable[[], None]
"""Reports one answered request's outcomes; called in the run's thread."""
OnLost = Callable[[Sequence[Row], BaseException], bool]
"""Settles the rows of a request that got no answer (True when every row got its outcome)."""


def check_concurrency(concurrency: int) -> int:
    """`concurrency` if it is a usable number of requests at once, else `ConfigurationError`."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
    return concurrency


def send_all(
    run: RunContext,
    items: Iterable[Item],
    send: Callable[[Item], Report],
    rows_of: Callable[[Item], Sequence[Row]],
    *,
    concurrency: int,
    on_lost: OnLost | None = None,
) -> None:
    """Send every item (`send` makes its request and returns how to report it), `concurrency` at a time.

    `rows_of(item)` names the input rows an item carries, so that an item that was never answered or never
    sent can account for them. Returns when every item pulled from `items` has been reported; raises the
    first error after reporting every item that was in flight.
    """
    if concurrency == 1:
        for item in items:
            rows = rows_of(item)
            chunk, step = run.track("dml", rows)
            try:
                report = send(item)
            except BaseException as exc:
                _settle_unanswered(run, rows, chunk, step, exc, on_lost)
                raise
            run.settle(step)
            report()
            run.release(chunk)
        return
    _Window(run, send, rows_of, concurrency, on_lost).send_all(items)


class _Window(Generic[Item]):
    """The windowed path of `send_all`: a pool of `concurrency` workers, at most twice that many items out."""

    def __init__(
        self,
        run: RunContext,
        send: Callable[[Item], Report],
        rows_of: Callable[[Item], Sequence[Row]],
        concurrency: int,
        on_lost: OnLost | None,
    ) -> None:
        self.run = run
        self.send = send
        self.rows_of = rows_of
        self.concurrency = concurrency
        self.on_lost = on_lost
        self.inflight: dict[cf.Future[Report], tuple[Sequence[Row], str | None, int | None]] = {}
        """Each request out: its rows, and its journal chunk and step (None without a journal)."""
        self.unreported = 0
        """Requests whose report raised (the sink failing, say): their remaining rows are not in the sink."""

    def send_all(self, items: Iterable[Item]) -> None:
        fatal: BaseException | None = None
        with cf.ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sfh-send") as pool:
            try:
                for item in items:
                    rows = self.rows_of(item)
                    chunk, step = self.run.track("dml", rows)  # the journal is written from this thread only
                    self.inflight[pool.submit(self.send, item)] = (rows, chunk, step)
                    if len(self.inflight) >= 2 * self.concurrency:
                        done, _ = cf.wait(self.inflight, return_when=cf.FIRST_COMPLETED)
                        fatal = self._settle(done)
                        if fatal is not None:
                            break
            except BaseException as exc:  # reading the input failed, or Ctrl-C: stop queuing, settle the rest
                fatal = exc
            if fatal is not None:  # stopping: requests not started yet are not sent at all
                for future in self.inflight:
                    future.cancel()
            done, _ = cf.wait(self.inflight)
            fatal = self._settle(done) or fatal
        if self.unreported:
            self.run.note(f"could not report the remaining rows of {self.unreported} request(s)")
        if fatal is not None:
            raise fatal

    def _settle(self, done: Iterable[cf.Future[Report]]) -> BaseException | None:
        """Report finished requests; returns the first error (a request with no answer, or a failing report)."""
        fatal: BaseException | None = None
        run = self.run
        for future in done:
            rows, chunk, step = self.inflight.pop(future)
            try:
                if future.cancelled():
                    run.settle(step, "failed")
                    for number, record in rows:
                        run.unprocessed(number, _record_id(record), "NOT_SENT", "not sent: the run stopped")
                    run.release(chunk)
                elif (exc := future.exception()) is not None:
                    fatal = fatal or exc
                    _settle_unanswered(run, rows, chunk, step, exc, self.on_lost)
                else:
                    run.settle(step)
                    future.result()()
                    run.release(chunk)
            except BaseException as report_error:  # the report itself failed: still settle the other requests
                self.unreported += 1
                fatal = fatal or report_error
        return fatal


def _settle_unanswered(
    run: RunContext,
    rows: Sequence[Row],
    chunk: str | None,
    step: int | None,
    exc: BaseException,
    on_lost: OnLost | None,
) -> None:
    """A request got no answer: `on_lost` finds out what the org did; without it, or when it cannot tell,
    the rows are unprocessed with their outcome unknown and stay in doubt in the journal (for `resume`)."""
    run.settle(step, "failed")
    if on_lost is not None:
        if on_lost(rows, exc):
            run.release(chunk)
        return
    _report_unanswered(run, rows, exc)


def _report_unanswered(run: RunContext, rows: Sequence[Row], exc: BaseException) -> None:
    """The request carrying `rows` never got an answer (error or interrupt): their outcome is unknown."""
    message = f"outcome unknown: {type(exc).__name__}: {exc}"
    for number, record in rows:
        run.outcome(RecordOutcome(number, _record_id(record), UNPROCESSED, "REQUEST_FAILED", message))


def _record_id(record: Mapping[str, object]) -> str | None:
    value = record.get("Id")
    return value if isinstance(value, str) else None


__all__ = ["DEFAULT_BATCH_CONCURRENCY", "Report", "check_concurrency", "send_all"]
