"""The backoff poller and the result sinks."""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path

from strategies.polling import PollPolicy, poll
from strategies.results import FAILED, SUCCEEDED, UNPROCESSED, CountingSink, CsvResultSink, MemorySink, RecordOutcome


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
    result = poll(lambda: next(states), lambda s: s == "JobComplete", PollPolicy(initial=0.5, factor=2, ceiling=4), sleep=clock.sleep, clock=clock)
    assert result.done and result.value == "JobComplete" and result.polls == 4
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]  # the first check waits: a just-closed job is never done


def test_poll_timeout_returns_instead_of_raising() -> None:
    clock = FakeClock()
    calls = []
    result = poll(lambda: calls.append(1) or "InProgress", lambda s: False, PollPolicy(initial=1, factor=2, ceiling=8, timeout=20), sleep=clock.sleep, clock=clock)
    assert not result.done and result.value == "InProgress"
    assert sum(clock.sleeps) == 20  # the last sleep is cut so the deadline is honoured exactly
    assert result.polls == len(calls) == 5  # 1+2+4+8 = 15, then 5 more seconds, then the last check


def test_scaled_policy() -> None:
    assert PollPolicy(1, 1.5, 20, 3600).scaled(0.01) == PollPolicy(0.01, 1.5, 0.2, 36.0)


def outcomes() -> list[RecordOutcome]:
    return [
        RecordOutcome(1, "a01", SUCCEEDED),
        RecordOutcome(2, "a02", FAILED, "FIELD_CUSTOM_VALIDATION_EXCEPTION", 'bad, "value"\nsecond line', ("Tweets__c", "Likes__c")),
        RecordOutcome(3, None, UNPROCESSED, "JOB_ABORTED", "job aborted"),
    ]


def test_csv_sink_writes_three_files(tmp_path: Path) -> None:
    with CsvResultSink(tmp_path / "out") as sink:
        for outcome in outcomes():
            sink.write(outcome)
    read = {name: list(csv.reader(open(tmp_path / "out" / name, newline="", encoding="utf-8"))) for name in ("success.csv", "failed.csv", "unprocessed.csv")}
    assert read["success.csv"] == [["row", "Id"], ["1", "a01"]]
    assert read["failed.csv"] == [["row", "Id", "error_code", "message", "fields"], ["2", "a02", "FIELD_CUSTOM_VALIDATION_EXCEPTION", 'bad, "value"\nsecond line', "Tweets__c;Likes__c"]]
    assert read["unprocessed.csv"] == [["row", "Id", "error_code", "message", "fields"], ["3", "", "JOB_ABORTED", "job aborted", ""]]


def test_csv_sink_creates_empty_files_up_front(tmp_path: Path) -> None:
    sink = CsvResultSink(tmp_path)
    sink.close()
    assert all(p.exists() for p in sink.paths().values())


def test_memory_and_counting_sinks() -> None:
    memory, counting = MemorySink(), CountingSink()
    for outcome in outcomes():
        memory.write(outcome)
        counting.write(outcome)
    assert [o.row for o in memory.succeeded] == [1] and [o.row for o in memory.failed] == [2] and [o.row for o in memory.unprocessed] == [3]
    assert counting.total == 3 and counting.counts[FAILED] == 1 and counting.error_codes["JOB_ABORTED"] == 1
