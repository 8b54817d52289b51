"""Requests sent several at a time (`strategies.concurrency.send_all`) against the emulated org.

What must hold whatever the concurrency: every record ends exactly once in succeeded / failed /
unprocessed, the stored data is exactly what the outcomes say, the calls are the formula's (plus the
serial second pass), at most `concurrency` requests are in flight, and the input is pulled only as the
window frees up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strategies import MemorySink, OrgSession, RunFailed, get
from strategies.sinks import FAILED, SUCCEEDED

from .conftest import NO_BACKOFF, unique_tag

PER_CALL = {"collections": 200, "composite": 1000}
FAULTS = {
    "lock_error_rate": 0.03,
    "parent_lock_contention": True,
    "http_503_rate": 0.03,
    "drop_rate": 0.01,
    "seed": 11,
}
"""Per-record lock failures (second pass), and 503s and dropped connections before processing (the
transport sends the same request again). `parent_lock_contention` is on as in production runs of the
harness; the emulator applies it to parallel Bulk transactions."""


class TrackingSession(OrgSession):
    """An `OrgSession` that notes, for every logical request, the thread that sent it and how many
    requests were in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._inflight = 0
        self.max_inflight = 0
        self.senders: list[str] = []
        """The sending thread's name per request, in the order requests started."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._inflight += 1
            self.max_inflight = max(self.max_inflight, self._inflight)
            self.senders.append(threading.current_thread().name)
        try:
            return super().request(*args, **kwargs)
        finally:
            with self._lock:
                self._inflight -= 1


@pytest.fixture()
def tracking_session(org: Any) -> Iterator[Callable[..., TrackingSession]]:
    made: list[TrackingSession] = []

    def factory(**options: Any) -> TrackingSession:
        options.setdefault("retry", NO_BACKOFF)
        session = TrackingSession(org.instance_url, org.access_token, ca_file=org.ca_file, **options)
        made.append(session)
        return session

    yield factory
    for session in made:
        session.close()


def stored(org: Any) -> dict[str, tuple[Any, Any]]:
    return {
        r["Id"]: (r["Name"], r["Tweets__c"]) for r in org.admin.iter_records("Byline__c", ["Id", "Name", "Tweets__c"])
    }


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@pytest.mark.parametrize("concurrency", [1, 8])
@pytest.mark.parametrize("name", ["collections", "composite"])
def test_faults_never_lose_or_double_apply_a_record(
    org: Any,
    tracking_session: Callable[..., TrackingSession],
    byline_ids: list[str],
    name: str,
    concurrency: int,
) -> None:
    n = 6000 if name == "collections" else len(byline_ids)
    before = stored(org)
    org.admin.configure(faults=FAULTS)
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}", "Tweets__c": k} for k in range(n)]
    session = tracking_session()
    sink = MemorySink()
    summary = get(name, session, concurrency=concurrency).update("Byline__c", iter(records), sink)

    rows = [o.row for o in sink.outcomes]
    assert sorted(rows) == list(range(1, n + 1))  # every row exactly once
    assert (summary.submitted, summary.succeeded + summary.failed, summary.unprocessed) == (n, n, 0)
    assert summary.retried > 0 and summary.failed <= summary.retried
    assert all(o.error_code == "UNABLE_TO_LOCK_ROW" for o in sink.outcomes if o.status == FAILED)
    after = stored(org)
    for outcome in sink.outcomes:
        k = outcome.row - 1
        expected = (f"{tag}-{k}", float(k)) if outcome.status == SUCCEEDED else before[byline_ids[k]]
        assert after[byline_ids[k]] == expected, outcome

    # The formula's calls, then one serial second pass; faults fire before the org counts a request.
    per_call = PER_CALL[name]
    calls = ceil_div(n, per_call) + ceil_div(summary.retried, per_call)
    assert summary.api_calls - summary.http_retries == calls
    assert org.admin.usage()["DailyApiRequests"]["used"] == calls
    assert len(session.senders) == calls
    assert session.max_inflight <= concurrency
    first_pass, second_pass = session.senders[: ceil_div(n, per_call)], session.senders[ceil_div(n, per_call) :]
    assert second_pass and all(thread == threading.current_thread().name for thread in second_pass)
    if concurrency > 1:
        assert all(thread.startswith("sfh-send") for thread in first_pass)


@pytest.mark.parametrize(
    "name, options",
    [("collections", {"batch_size": 10}), ("composite", {"subrequests": 2, "batch_size": 10})],
)
def test_the_input_is_pulled_only_as_the_window_frees_up(
    org: Any,
    tracking_session: Callable[..., TrackingSession],
    byline_ids: list[str],
    name: str,
    options: dict[str, Any],
) -> None:
    org.admin.configure(profile="instant", profile_overrides={"write_fixed_ms": 50.0})  # requests overlap
    concurrency, n = 3, 600
    per_call = options["batch_size"] * options.get("subrequests", 1)
    pulled = 0
    outstanding: list[int] = []

    class Watching(MemorySink):
        def write(self, outcome: Any) -> None:
            super().write(outcome)
            outstanding.append(pulled - len(self.outcomes))

    def records() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for k in range(n):
            pulled += 1
            yield {"Id": byline_ids[k], "Tweets__c": k}

    session = tracking_session()
    sink = Watching()
    # validate=False: the input streams straight into the sending pass (a validation pass would read it all
    # first, spooling it to disk, before the first request).
    strategy = get(name, session, concurrency=concurrency, validate=False, **options)
    summary = strategy.update("Byline__c", records(), sink)
    assert summary.succeeded == n and len(session.senders) == n // per_call
    assert session.max_inflight == concurrency
    # Rows taken from the input but not reported yet: at most the window (2 x concurrency requests) and
    # the batch being filled, whatever n is.
    assert max(outstanding) <= (2 * concurrency + 1) * per_call


def test_a_request_with_no_answer_stops_the_run_and_accounts_for_every_row(
    org: Any, tracking_session: Callable[..., TrackingSession], byline_ids: list[str]
) -> None:
    before = stored(org)
    org.admin.configure(faults={"drop_rate": 1.0})  # every connection drops before the org processes anything
    n, concurrency = 9000, 4
    session = tracking_session()
    sink = MemorySink()
    records = [{"Id": byline_ids[k], "Name": f"{unique_tag()}-{k}"} for k in range(n)]
    with pytest.raises(RunFailed) as info:
        get("composite", session, concurrency=concurrency).update("Byline__c", iter(records), sink)
    summary = info.value.summary
    assert (summary.submitted, summary.unprocessed) == (n, n)
    assert sorted(o.row for o in sink.outcomes) == list(range(1, n + 1))
    codes = {o.error_code for o in sink.outcomes}
    # A request with no answer is looked up by reading its records back; with every connection dropping,
    # that fails too and its rows stay unprocessed with their outcome unknown (kept in doubt for resume).
    assert codes & {"REQUEST_FAILED", "OUTCOME_UNKNOWN"} and codes <= {"REQUEST_FAILED", "OUTCOME_UNKNOWN", "NOT_SENT"}
    writes = [name for name in session.senders if name != "MainThread"]  # the read-backs run in the run's thread
    assert len(writes) <= 2 * concurrency  # requests not started when the first failed were never sent
    assert org.admin.usage()["DailyApiRequests"]["used"] == 0
    assert stored(org) == before
