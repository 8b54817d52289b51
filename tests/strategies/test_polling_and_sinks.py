"""The backoff poller and the result sinks."""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path

from strategies.polling import PollPolicy, plan_checks, poll
from strategies.sinks import FAILED, SUCCEEDED, UNPROCESSED, CountingSink, CsvResultSink, MemorySink, RecordOutcome


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_delays_grow_to_the_ceiling() -> None:
    delays = list(islice(PollPolicy(initial=1, factor=2, ceiling=10).delays(), 6))
    assert delays == [1, 2, 4, 8, 10, 10]


def test_poll_stops_when_done_and_counts_polls() -> None:
    clock = FakeClock()
    states = iter(["Open", "InProgress", "InProgress", "JobComplete"])
    result = poll(
        lambda: next(states),
        lambda s: s == "JobComplete",
        PollPolicy(initial=0.5, factor=2, ceiling=4),
        sleep=clock.sleep,
        clock=clock,
    )
    assert result.done and result.value == "JobComplete" and result.polls == 4
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]  # the first check waits: a just-closed job is never done


def test_poll_timeout_returns_instead_of_raising() -> None:
    clock = FakeClock()
    calls = []
    result = poll(
        lambda: calls.append(1) or "InProgress",
        lambda s: False,
        PollPolicy(initial=1, factor=2, ceiling=8, timeout=20),
        sleep=clock.sleep,
        clock=clock,
    )
    assert not result.done and result.value == "InProgress"
    assert sum(clock.sleeps) == 20  # the last sleep is cut so the deadline is honoured exactly
    assert result.polls == len(calls) == 5  # 1+2+4+8 = 15, then 5 more seconds, then the last check


def test_scaled_policy() -> None:
    assert PollPolicy(1, 1.5, 20, 3600, min_delay=0.5).scaled(0.01) == PollPolicy(0.01, 1.5, 0.2, 36.0, min_delay=0.005)


class SteadyJob:
    """A job that waits `queue` seconds, then processes `rate` records/s; each check reports progress."""

    def __init__(self, clock: FakeClock, total: int, rate: float, queue: float = 0.0) -> None:
        self.clock, self.total, self.rate, self.queue = clock, total, rate, queue

    def processed(self, t: float) -> int:
        return min(self.total, int(max(0.0, t - self.queue) * self.rate))

    def check(self) -> dict:
        return {"done": self.processed(self.clock.now), "total": self.total}


def run_steady(job: SteadyJob, policy: PollPolicy) -> tuple[list[float], int]:
    clock = job.clock
    result = poll(
        job.check,
        lambda v: v["done"] >= v["total"],
        policy,
        progress=lambda v: (v["done"], v["total"]),
        sleep=clock.sleep,
        clock=clock,
    )
    assert result.done
    return clock.sleeps, result.polls


def test_progress_lets_the_poller_check_just_after_the_job_ends() -> None:
    """A 100 s job (no queue): the geometric checks at 2.5, 7.5, 17.5, 37.5, 67.5, 97.5, 127.5 would
    notice it 27.5 s late in 7 calls; with the measured rate the checks run 2.5, 7.5, 37.5 (the ceiling),
    67.5, 97.5 and then 100.25, when the rate says the job is done: 6 calls, 0.25 s late."""
    clock = FakeClock()
    _, polls = run_steady(SteadyJob(clock, 1_000_000, 10_000), PollPolicy())
    assert polls == 6
    assert 100.0 <= clock.now <= 100.5


def test_a_measured_rate_allows_checks_later_than_the_schedule_but_not_past_the_ceiling() -> None:
    clock = FakeClock()
    job = SteadyJob(clock, 6_000_000, 10_000, queue=10.0)  # 610 s in all
    sleeps, polls = run_steady(job, PollPolicy())
    assert max(sleeps) <= 30.0  # the ceiling
    assert 610.0 <= clock.now <= 640.0
    assert polls <= 610 / 30 + 4  # about one check per ceiling once the rate is known


def test_without_progress_the_schedule_is_geometric() -> None:
    clock = FakeClock()
    states = iter([{"done": 0, "total": 10}] * 4 + [{"done": 10, "total": 10}])
    result = poll(
        lambda: next(states),
        lambda v: v["done"] == 10,
        PollPolicy(),
        progress=lambda v: (v["done"], v["total"]),
        sleep=clock.sleep,
        clock=clock,
    )
    assert result.polls == 5 and clock.sleeps == [2.5, 5.0, 10.0, 20.0, 30.0]


def test_a_rate_that_includes_the_queue_wait_never_delays_a_check() -> None:
    """One progress sample includes the queue wait, so it underestimates the rate: it may only bring the
    next check forward, never push it past the geometric schedule."""
    clock = FakeClock()
    job = SteadyJob(clock, 100_000, 50_000, queue=2.4)  # done at 4.4 s; at 2.5 s it shows 5,000 records
    sleeps, polls = run_steady(job, PollPolicy())
    assert sleeps[1] <= 5.0 and polls == 2


def test_plan_checks_replays_the_poller() -> None:
    clock = FakeClock()
    job = SteadyJob(clock, 1_000_000, 10_000, queue=3.0)
    _, polls = run_steady(job, PollPolicy())
    planned = plan_checks(PollPolicy(), 103.0, lambda t: (job.processed(t), job.total))
    assert len(planned) == polls and abs(planned[-1] - clock.now) < 1e-6


def outcomes() -> list[RecordOutcome]:
    return [
        RecordOutcome(1, "a01", SUCCEEDED),
        RecordOutcome(
            2,
            "a02",
            FAILED,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            'bad, "value"\nsecond line',
            ("Tweets__c", "Likes__c"),
        ),
        RecordOutcome(3, None, UNPROCESSED, "JOB_ABORTED", "job aborted"),
    ]


def test_csv_sink_writes_three_files(tmp_path: Path) -> None:
    with CsvResultSink(tmp_path / "out") as sink:
        for outcome in outcomes():
            sink.write(outcome)
    read = {}
    for name in ("success.csv", "failed.csv", "unprocessed.csv"):
        with open(tmp_path / "out" / name, newline="", encoding="utf-8") as handle:
            read[name] = list(csv.reader(handle))
    assert read["success.csv"] == [["row", "Id"], ["1", "a01"]]
    assert read["failed.csv"] == [
        ["row", "Id", "error_code", "message", "fields"],
        ["2", "a02", "FIELD_CUSTOM_VALIDATION_EXCEPTION", 'bad, "value"\nsecond line', "Tweets__c;Likes__c"],
    ]
    assert read["unprocessed.csv"] == [
        ["row", "Id", "error_code", "message", "fields"],
        ["3", "", "JOB_ABORTED", "job aborted", ""],
    ]


def test_csv_sink_creates_empty_files_up_front(tmp_path: Path) -> None:
    sink = CsvResultSink(tmp_path)
    sink.close()
    assert all(p.exists() for p in sink.paths().values())


def test_memory_and_counting_sinks() -> None:
    memory, counting = MemorySink(), CountingSink()
    for outcome in outcomes():
        memory.write(outcome)
        counting.write(outcome)
    assert (
        [o.row for o in memory.succeeded] == [1]
        and [o.row for o in memory.failed] == [2]
        and [o.row for o in memory.unprocessed] == [3]
    )
    assert counting.total == 3 and counting.counts[FAILED] == 1 and counting.error_codes["JOB_ABORTED"] == 1
