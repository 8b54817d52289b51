"""One poller for every asynchronous job: geometric backoff, then the job's own progress.

Each status check is an API call, and saving calls is the point of a Bulk strategy, so the poller checks
as rarely as it can without leaving a finished job unnoticed for long:

* Until the job shows progress, delays grow geometrically from `initial` by `factor` up to `ceiling`
  (defaults 2.5 s, x2, 30 s: checks at 2.5, 7.5, 17.5, 37.5, 67.5 s ... so a job of about a minute costs
  5 checks, where the 5-second pollers of Data Loader, the sf CLI and simple-salesforce spend 12 or
  more; the price is that a job is noticed up to one delay late, at most `ceiling`).
* Once a check reports records processed (Bulk 2.0 ``numberRecordsProcessed``, Bulk 1.0 the same in job
  info), the rate since the job was closed gives an estimated time to completion, and the next check is
  made then (plus `eta_margin`), never later than the geometric schedule would have made it. With two
  checks that both show progress the rate is measured between them (queue wait excluded), and the next
  check may then be *later* than the schedule, up to `ceiling`: a long job whose rate is known costs one
  call per `ceiling` seconds and is noticed within a fraction of a second of finishing.

A client-side timeout is *not* an error: the poller returns with ``done=False`` and the job keeps running
on the server; the caller reports the job id so the run can be resumed. Nothing here aborts or deletes.
The first check happens after a delay, never immediately: a job that was just closed is not finished.

`plan_checks` replays the same decisions against a modelled job, so the harness's cost model predicts
exactly the checks this poller makes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

T = TypeVar("T")
Progress = tuple[int, int]
"""(records processed so far, records in the job)."""


@dataclass(frozen=True)
class PollPolicy:
    """Delays grow from `initial` by `factor` up to `ceiling`; `timeout` bounds the whole wait (seconds).

    `eta_margin` is the fraction added to an estimated time to completion (the estimate assumes a steady
    rate; a little late is one check, a little early is two). `min_delay` is the shortest sleep the
    estimate may ask for.
    """

    initial: float = 2.5
    factor: float = 2.0
    ceiling: float = 30.0
    timeout: float = 3600.0
    eta_margin: float = 0.1
    min_delay: float = 0.5

    def delays(self) -> Iterator[float]:
        """The geometric sleeps before each check, endlessly (without progress information)."""
        delay = self.initial
        while True:
            yield delay
            delay = min(self.ceiling, delay * self.factor)

    def scaled(self, factor: float) -> PollPolicy:
        """The same shape with every duration multiplied by `factor` (benchmarks and tests)."""
        return replace(
            self,
            initial=self.initial * factor,
            ceiling=self.ceiling * factor,
            timeout=self.timeout * factor,
            min_delay=self.min_delay * factor,
        )


DEFAULT_POLL_POLICY = PollPolicy()


class PollPlanner:
    """Decides each sleep from the policy and the progress seen so far (times are seconds since start)."""

    def __init__(self, policy: PollPolicy) -> None:
        self.policy = policy
        self._schedule = policy.delays()
        self._samples: list[tuple[float, int]] = []  # (time, processed) of checks that reported progress
        self._total = 0

    def observe(self, at: float, progress: Progress | None) -> None:
        if progress is None:
            return
        done, total = progress
        self._total = total
        if done > 0 and (not self._samples or done > self._samples[-1][1]):
            self._samples.append((at, done))

    def next_delay(self, now: float) -> float:
        geometric = next(self._schedule)
        eta = self._eta(now)
        if eta is None:
            return geometric
        policy = self.policy
        wait = max(policy.min_delay, eta * (1.0 + policy.eta_margin))
        if len(self._samples) >= 2:  # a measured rate: trust it, within the ceiling
            return min(wait, max(policy.ceiling, geometric))
        return min(wait, geometric)  # a rate that includes the queue wait: only ever check earlier

    def _eta(self, now: float) -> float | None:
        if not self._samples or self._total <= 0:
            return None
        last_t, last_done = self._samples[-1]
        if len(self._samples) >= 2:
            first_t, first_done = self._samples[0]
            span, gained = last_t - first_t, last_done - first_done
        else:
            span, gained = last_t, last_done  # since the job was closed (t = 0, nothing processed)
        if span <= 0 or gained <= 0:
            return None
        remaining = max(0, self._total - last_done)
        return max(0.0, remaining * span / gained - (now - last_t))


@dataclass
class PollResult(Generic[T]):
    done: bool
    value: T | None
    polls: int
    waited: float


def poll(
    check: Callable[[], T],
    is_done: Callable[[T], bool],
    policy: PollPolicy = DEFAULT_POLL_POLICY,
    *,
    progress: Callable[[T], Progress | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PollResult[T]:
    """Call `check` until `is_done(value)` or the timeout; returns the last value.

    `progress(value)` (optional) extracts (processed, total) from a check's value for the estimate. The
    final sleep is shortened so the total wait never exceeds `policy.timeout`, and a last check is made
    at the deadline (so a timeout always reflects the job's latest state).
    """
    started = clock()
    planner = PollPlanner(policy)
    polls = 0
    value: T | None = None
    while True:
        elapsed = clock() - started
        remaining = policy.timeout - elapsed
        if remaining <= 0:
            break
        sleep(min(planner.next_delay(elapsed), remaining))
        value = check()
        polls += 1
        if is_done(value):
            return PollResult(True, value, polls, clock() - started)
        if progress is not None:
            planner.observe(clock() - started, progress(value))
    return PollResult(False, value, polls, clock() - started)


def plan_checks(
    policy: PollPolicy, finish: float, processed_at: Callable[[float], Progress], *, per_check: float = 0.0
) -> list[float]:
    """The times `poll` would check a job that finishes at `finish` seconds and whose progress at time
    t is `processed_at(t)`; each check itself takes `per_check` seconds. The last time is the check that
    sees the job done (or the timeout)."""
    planner = PollPlanner(policy)
    now, times = 0.0, []
    while now < policy.timeout:
        now += min(planner.next_delay(now), policy.timeout - now) + per_check
        times.append(now)
        if now >= finish:
            break
        planner.observe(now, processed_at(now))
    return times
