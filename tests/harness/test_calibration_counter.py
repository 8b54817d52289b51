"""Reading a lagging API counter (harness/calibration_counter.py) against a simulated org clock.

The fake org counts each request at the time it arrives and reports the count as it was `lag` seconds
earlier, as the emulator's `usage_report_lag_s` does; time only moves when the counter sleeps or a
request takes its latency, so these tests run in no time and assert exact outcomes.
"""

from __future__ import annotations

import json

import pytest
import requests

from harness.calibration_counter import UsageCounter


class FakeOrg:
    def __init__(self, *, read_cost: int, lag: float, latency: float = 0.05) -> None:
        self.read_cost, self.lag, self.latency = read_cost, lag, latency
        self.now = 0.0
        self.events: list[tuple[float, int]] = []  # (time counted, calls)

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def clock(self) -> float:
        return self.now

    def count(self, calls: int) -> None:
        self.now += self.latency / 2
        self.events.append((self.now, calls))
        self.now += self.latency / 2

    def reported(self) -> int:
        return sum(c for at, c in self.events if at <= self.now - self.lag)

    def read(self) -> requests.Response:
        self.count(self.read_cost)
        used = self.reported()
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(
            {
                "DailyApiRequests": {"Max": 15000, "Remaining": 15000 - used},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            }
        ).encode()
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/15000"
        return response


def _counter(org: FakeOrg) -> UsageCounter:
    return UsageCounter(org.read, interval_s=0.5, max_lag_s=4.0, sleep=org.sleep, clock=org.clock)


@pytest.mark.parametrize("read_cost, lag", [(1, 0.0), (1, 2.0), (0, 0.0), (0, 1.5), (2, 3.0)])
def test_probe_costs_are_exact_whatever_the_lag(read_cost, lag):
    org = FakeOrg(read_cost=read_cost, lag=lag)
    counter = _counter(org)
    before = counter.setup()
    assert counter.read_cost == read_cost
    costs = []
    for calls in (1, 0, 3, 1, 0):
        cost, before = counter.cost(before, lambda c=calls: org.count(c))
        costs.append(cost.calls)
    assert costs == [1, 0, 3, 1, 0]
    assert counter.lag_s is not None and counter.lag_s <= lag + 0.5
    assert counter.lag_s >= lag - 0.5 or (read_cost == 0 and lag == 0)
    assert counter.header_mismatches == 0


def test_activity_that_never_settles_is_reported_not_guessed():
    org = FakeOrg(read_cost=1, lag=0.0)
    counter = _counter(org)
    before = counter.setup()

    def busy_org() -> None:
        org.count(1)
        original = org.read

        def noisy() -> requests.Response:  # another integration calls once between every two reads
            org.count(1)
            return original()

        org.read = noisy  # type: ignore[method-assign]
        counter._read = noisy

    cost, _ = counter.cost(before, busy_org)
    assert cost.calls is None and "did not settle" in cost.note
