"""The org's own API counter, read well enough to say what one request cost.

`sfharness calibrate` learns which requests count by reading `DailyApiRequests` (GET /limits, whose
answer also carries `Sforce-Limit-Info`) before and after each probe request. Two things make that
harder than a subtraction:

* the read itself may count (`read_cost`, usually 1, measured first);
* the reported figure may lag behind the real one (Salesforce recalculates it asynchronously), so a read
  made right after a probe may not show it yet.

Hence *quiet reads*: a read made after a pause longer than the lag shows everything that happened before
the pause. Two quiet reads with a probe between them differ by the probe's cost plus one `read_cost` (the
earlier read), whether or not a read's figure includes the read itself. After each probe the counter is
read until two consecutive quiet reads differ by exactly `read_cost` (nothing else arrived: the figure is
stable), at most `max_settle_reads` times; the lag is measured once at the start as the time until a read
first sees an earlier request. Other activity on the org (another integration) shows up as an unstable
or odd reading, which is reported rather than guessed at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from strategies.meter import LimitInfo

Read = Callable[[], requests.Response]
"""Sends one GET /limits and returns the response."""


@dataclass(frozen=True)
class Reading:
    api_used: int  # DailyApiRequests Max - Remaining, from the /limits body
    batches_used: int  # DailyBulkApiBatches Max - Remaining
    header_used: int | None  # the Sforce-Limit-Info figure of the same response
    at: float  # time.monotonic() when the answer arrived
    sent: float  # time.monotonic() when the read was sent
    n: int  # this read's sequence number (reads between two readings cost read_cost each)


@dataclass(frozen=True)
class ProbeCost:
    calls: int | None  # what the probe cost; None when the counter did not settle
    reads: int  # counter reads spent measuring it
    note: str = ""


class UsageCounter:
    def __init__(
        self,
        read: Read,
        *,
        interval_s: float,
        max_lag_s: float,
        max_settle_reads: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`interval_s` is the shortest pause between reads; `max_lag_s` bounds the wait for a lagging figure."""
        self._read = read
        self.clock = clock
        self.interval_s = interval_s
        self.max_lag_s = max_lag_s
        self.max_settle_reads = max_settle_reads
        self.sleep = sleep
        self.read_cost: int = 0
        self.lag_s: float | None = None  # None: not measured yet (reads are free and nothing counted so far)
        self.lag_note = ""
        self.reads = 0
        self.header_mismatches = 0

    @property
    def lag_reads(self) -> int:
        """Reads at `interval_s` that span `max_lag_s`: the most a wait for the figure to move makes."""
        return max(1, int(self.max_lag_s / self.interval_s + 0.999))

    def setup_reads_bound(self) -> int:
        """Reads `setup` makes at most (for the calibration's budget)."""
        return 1 + self.lag_reads + 2 + self.max_settle_reads

    def probe_reads_bound(self) -> int:
        """Reads `cost` makes at most for one probe, besides a one-off wait for an unknown lag."""
        return 1 + self.max_settle_reads

    # -- reading ---------------------------------------------------------------------------------------
    def read(self) -> Reading:
        sent = self.clock()
        response = self._read()
        body = response.json()
        api = body["DailyApiRequests"]
        batches = body.get("DailyBulkApiBatches", {"Max": 0, "Remaining": 0})
        info = LimitInfo.parse(response.headers.get("Sforce-Limit-Info"))
        self.reads += 1
        reading = Reading(
            int(api["Max"]) - int(api["Remaining"]),
            int(batches["Max"]) - int(batches["Remaining"]),
            info.used if info else None,
            self.clock(),
            sent,
            self.reads,
        )
        if reading.header_used is not None and reading.header_used != reading.api_used:
            self.header_mismatches += 1
        return reading

    @property
    def pause_s(self) -> float:
        """How long to wait before a quiet read: longer than the lag (with an interval to spare: the lag
        is measured one interval finer, from when a read's answer arrived, not when it was counted)."""
        return (self.lag_s or 0.0) + 2 * self.interval_s

    def quiet_read(self) -> Reading:
        self.sleep(self.pause_s)
        return self.read()

    def _wait_for_change(self, since: Reading, started: float) -> None:
        """Read every `interval_s` until the figure moves past `since` (then the lag is the time it took,
        one interval finer), at most `lag_reads` times."""
        for _ in range(self.lag_reads):
            self.sleep(self.interval_s)
            now = self.read()
            if now.api_used != since.api_used:
                self.lag_s = max(0.0, now.sent - started - self.interval_s)
                return
        # Nothing moved: reads are free and so was the probe, or the lag is longer than allowed. Wait
        # the longest allowed lag from now on, so a later counted probe is not missed.
        self.lag_s = self.max_lag_s
        self.lag_note = f"not seen to move within {self.max_lag_s:g} s; assumed to lag at most that"

    # -- setup -----------------------------------------------------------------------------------------
    def setup(self) -> Reading:
        """Measure the lag (when reads count) and `read_cost`; returns a quiet reading to measure from."""
        self.sleep(self.max_lag_s)  # let the figure catch up with whatever came before, or the lag looks shorter
        first = self.read()
        for _ in range(self.lag_reads):
            self.sleep(self.interval_s)
            now = self.read()
            if now.api_used != first.api_used:
                # The first read shows up in a read sent this long after it was answered: the figure lags
                # about that much (to within one interval; the pause before quiet reads adds one more).
                self.lag_s = max(0.0, now.sent - first.at - self.interval_s)
                break
        a = self.quiet_read()
        b = self.quiet_read()
        self.read_cost = b.api_used - a.api_used
        for _ in range(self.max_settle_reads):
            c = self.quiet_read()
            if c.api_used - b.api_used == self.read_cost:
                return c
            self.read_cost, b = c.api_used - b.api_used, c
        return b

    # -- probes ----------------------------------------------------------------------------------------
    def cost(self, before: Reading, probe: Callable[[], object]) -> tuple[ProbeCost, Reading]:
        """Run `probe` after the quiet reading `before`; (its cost, a quiet reading for the next probe)."""
        reads_before = self.reads
        started = self.clock()
        probe()
        if self.lag_s is None:
            self._wait_for_change(before, started)
        after = self.quiet_read()
        for _ in range(self.max_settle_reads):
            confirm = self.quiet_read()
            if confirm.api_used - after.api_used == self.read_cost:
                calls = after.api_used - before.api_used - (after.n - before.n) * self.read_cost
                if calls < 0:
                    return ProbeCost(
                        None, self.reads - reads_before, "the counter went down (a reset, or the day rolled over)"
                    ), confirm
                return ProbeCost(calls, self.reads - reads_before), confirm
            after = confirm
        return ProbeCost(
            None, self.reads - reads_before, "the counter did not settle (a longer lag, or other activity on the org)"
        ), after
