"""One backoff poller for every asynchronous job.

Each status check is an API call, so the poller starts short (a small job is done in a second or two) and
backs off geometrically to a ceiling (a long job costs one call per `ceiling` seconds, not one per second).
A client-side timeout is *not* an error: the poller returns with ``done=False`` and the job keeps running
on the server; the caller reports the job id so the run can be resumed. Nothing here aborts or deletes.

The first check happens after `initial` seconds, never immediately: a job that was just closed is not
finished, and checking at once would only spend a call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PollPolicy:
    """Delays grow from `initial` by `factor` up to `ceiling`; `timeout` bounds the whole wait (seconds)."""

    initial: float = 1.0
    factor: float = 1.5
    ceiling: float = 20.0
    timeout: float = 3600.0

    def delays(self) -> Iterator[float]:
        """The sleep before each check, endlessly (the timeout is enforced by the caller's clock)."""
        delay = self.initial
        while True:
            yield delay
            delay = min(self.ceiling, delay * self.factor)

    def scaled(self, factor: float) -> "PollPolicy":
        """The same shape with every duration multiplied by `factor` (benchmarks and tests)."""
        return PollPolicy(self.initial * factor, self.factor, self.ceiling * factor, self.timeout * factor)


@dataclass
class PollResult(Generic[T]):
    done: bool
    value: T | None
    polls: int
    waited: float


def poll(
    check: Callable[[], T],
    is_done: Callable[[T], bool],
    policy: PollPolicy = PollPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PollResult[T]:
    """Call `check` with backoff until `is_done(value)` or the timeout; returns the last value.

    The final sleep is shortened so the total wait never exceeds `policy.timeout`, and a last check is
    made at the deadline (so a timeout always reflects the job's latest state).
    """
    started = clock()
    polls = 0
    value: T | None = None
    for delay in policy.delays():
        remaining = policy.timeout - (clock() - started)
        if remaining <= 0:
            break
        sleep(min(delay, remaining))
        value = check()
        polls += 1
        if is_done(value):
            return PollResult(True, value, polls, clock() - started)
    return PollResult(False, value, polls, clock() - started)
