"""Failure modes against the emulated org: every record is accounted for, and no job is left open."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strategies import (
    MemorySink,
    OrgSession,
    PollPolicy,
    RequestLimitError,
    RunFailed,
    RunInterrupted,
    ServerError,
    get,
)
from strategies.sinks import SUCCEEDED

from .conftest import FAST_POLL, password_login, unique_tag, xfail_if_bulk2_bug

ALL = ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv"]
SIZE = {"rest": 30, "collections": 2500, "composite": 10_000, "bulk1-xml": 2500, "bulk2-csv": 2500}
THREE_STEPS = {"bulk2-csv": {"multipart": False}}
"""bulk2-csv on its create, upload, close path (small jobs otherwise go in one request)."""
SMALL_UNITS = {
    "collections": {"batch_size": 100},
    "bulk1-xml": {"batch_records": 250},
    "bulk2-csv": {"max_job_records": 500},
}
"""With these sizes and options every strategy makes a dozen or more calls, so injected faults are met."""
OPEN_STATES = {"Open"}


def make(session: OrgSession, name: str, **options: Any) -> Any:
    if name in ("bulk1-xml", "bulk2-csv"):
        options.setdefault("poll_policy", FAST_POLL)
    return get(name, session, **options)


def records_for(ids: list[str], n: int, tag: str) -> list[dict[str, Any]]:
    return [{"Id": ids[k], "Name": f"{tag}-{k}", "Tweets__c": k} for k in range(n)]


def assert_accounted(summary: Any, sink: MemorySink, n: int) -> None:
    assert summary.submitted == n
    assert summary.succeeded + summary.failed + summary.unprocessed + summary.pending == n
    rows = [o.row for o in sink.outcomes]
    assert len(rows) == len(set(rows)) == n - summary.pending  # each row exactly once
    assert not any("ACCOUNTING MISMATCH" in note for note in summary.notes)


def open_jobs(org: Any, job_ids: list[str]) -> list[str]:
    jobs = org.admin.jobs()
    states = {j["id"]: j["state"] for j in jobs["bulk1"] + jobs["bulk2_ingest"]}
    return [job_id for job_id in job_ids if states.get(job_id) in OPEN_STATES]


def assert_no_open_job(org: Any, job_ids: list[str]) -> None:
    assert open_jobs(org, job_ids) == []


def stored_names(org: Any) -> dict[str, str]:
    return {r["Id"]: r["Name"] for r in org.admin.iter_records("Byline__c", ["Id", "Name"])}


@pytest.mark.parametrize("name", ALL)
def test_lock_errors_get_one_second_pass(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool, name: str
) -> None:
    xfail_if_bulk2_bug(name, bulk2_first_row_bug)
    n = 60 if name == "rest" else 1200
    org.admin.configure(faults={"lock_error_rate": 0.25, "seed": 11})
    tag = unique_tag()
    sink = MemorySink()
    with make(new_session(), name) as strategy:
        summary = strategy.update("Byline__c", records_for(byline_ids, n, tag), sink)
    assert_accounted(summary, sink, n)
    assert summary.retried > 0 and summary.unprocessed == 0
    assert summary.failed < summary.retried  # the second pass rescued some
    assert all(o.error_code == "UNABLE_TO_LOCK_ROW" for o in sink.failed)
    stored = stored_names(org)
    for o in sink.outcomes:
        assert (stored[o.id] == f"{tag}-{o.row - 1}") == (o.status == SUCCEEDED)
    if name == "bulk1-xml":
        modes = {j["id"]: j["concurrencyMode"] for j in org.admin.jobs()["bulk1"]}
        assert [modes[j] for j in summary.job_ids] == ["Parallel", "Serial"]
    if name == "bulk2-csv":
        assert len(summary.job_ids) == 2


def test_without_second_pass_lock_errors_are_reported(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    org.admin.configure(faults={"lock_error_rate": 0.25, "seed": 3})
    sink = MemorySink()
    summary = make(new_session(), "collections", retry_pass=False).update(
        "Byline__c", records_for(byline_ids, 400, unique_tag()), sink
    )
    assert summary.retried == 0 and summary.failed > 0 and summary.calls_by_phase == {"dml": 2}


@pytest.mark.parametrize("name", ALL)
def test_expired_sessions_are_renewed(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool, name: str
) -> None:
    xfail_if_bulk2_bug(name, bulk2_first_row_bug)
    n = SIZE[name]
    org.admin.configure(faults={"session_expiry_after_requests": 4})
    tag = unique_tag()
    sink = MemorySink()
    session = new_session(reauthenticate=password_login(org))
    with make(session, name, **SMALL_UNITS.get(name, {})) as strategy:
        summary = strategy.update("Byline__c", records_for(byline_ids, n, tag), sink)
    assert_accounted(summary, sink, n)
    assert summary.succeeded == n and summary.reauthentications >= 1
    assert summary.calls_by_phase["auth"] == summary.reauthentications
    # Refusals are free: the org counted every request but the refused ones. Each renewed token was refused
    # once per request in flight with it (one at a time: exactly once per renewal).
    refused = summary.api_calls - org.admin.usage()["DailyApiRequests"]["used"]
    assert summary.reauthentications <= refused <= summary.reauthentications * getattr(strategy, "concurrency", 1)
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(n))


@pytest.mark.parametrize("name", ALL)
def test_expired_session_without_reauth_stops_with_a_full_account(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], name: str
) -> None:
    n = SIZE[name]
    org.admin.configure(faults={"session_expiry_after_requests": 3})
    sink = MemorySink()
    strategy = make(new_session(), name, **SMALL_UNITS.get(name, {}))
    with pytest.raises(RunFailed) as info:
        strategy.update("Byline__c", records_for(byline_ids, n, unique_tag()), sink)
    summary = info.value.summary
    assert "AuthenticationError" in (summary.error or "")
    assert_accounted(summary, sink, n)
    org.admin.configure(faults={})
    # With the session dead the close request is refused too: the only honest thing is to say so.
    for job_id in open_jobs(org, summary.job_ids):
        assert any(job_id in note and "could not" in note for note in summary.notes)


@pytest.mark.parametrize("name", ALL)
def test_a_spent_daily_limit_leaves_records_unprocessed_never_failed(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], name: str
) -> None:
    """The org refused the request, not the records: whatever the strategy, they are unprocessed (so that
    resubmitting unprocessed.csv tomorrow sends them), and the run stops at the refusal."""
    n = SIZE[name]
    org.admin.configure(daily_api_max=1)  # the first call of the run is the last one the org allows today
    sink = MemorySink()
    try:
        with pytest.raises(RunFailed) as info:
            make(new_session(), name, **SMALL_UNITS.get(name, {}), **THREE_STEPS.get(name, {})).update(
                "Byline__c", records_for(byline_ids, n, unique_tag()), sink
            )
    finally:
        org.admin.configure(edition="enterprise")  # the fixture org's own allocation
    summary = info.value.summary
    assert isinstance(info.value.__cause__, RequestLimitError)
    assert_accounted(summary, sink, n)
    assert summary.failed == 0 and summary.unprocessed == n - summary.succeeded
    if name in ("bulk1-xml", "bulk2-csv"):  # the job was created, then its data refused
        assert summary.succeeded == 0 and org.admin.usage()["DailyApiRequests"]["used"] == 1
    if name == "bulk2-csv":
        refused = [o for o in sink.unprocessed if o.error_code == "REQUEST_LIMIT_EXCEEDED"]
        assert len(refused) == SMALL_UNITS[name]["max_job_records"]  # the first job's upload
        assert all(o.message == "TotalRequests Limit exceeded." for o in refused)


@pytest.mark.parametrize("name", ["rest", "collections", "composite"])
def test_transient_5xx_are_retried_on_idempotent_requests(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], name: str
) -> None:
    n = SIZE[name]
    org.admin.configure(faults={"http_503_rate": 0.3, "drop_rate": 0.05, "seed": 5})
    tag = unique_tag()
    sink = MemorySink()
    # One request at a time: the seeded faults then fall on the same attempts every run. (With requests in
    # flight together, which attempt meets which fault depends on timing, and a request whose every attempt
    # is refused is read back and sent again in the second pass: a call the client made that the org never
    # counted, so the exact count below would not hold.)
    summary = make(new_session(), name, concurrency=1).update("Byline__c", records_for(byline_ids, n, tag), sink)
    assert summary.succeeded == n and summary.http_retries > 0
    assert (
        org.admin.usage()["DailyApiRequests"]["used"] == summary.api_calls - summary.http_retries
    )  # faults fire before counting
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(n))


def test_bulk2_recovers_from_5xx_on_polls_closes_and_uploads(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool
) -> None:
    xfail_if_bulk2_bug("bulk2-csv", bulk2_first_row_bug)
    org.admin.configure(faults={"http_503_rate": 0.3, "seed": 2, "paths": "/services/data/v62.0/jobs/ingest/"})
    tag = unique_tag()
    sink = MemorySink()
    summary = make(new_session(), "bulk2-csv", max_job_records=500).update(
        "Byline__c", records_for(byline_ids, 3000, tag), sink
    )
    assert_accounted(summary, sink, 3000)
    assert summary.succeeded == 3000 and summary.http_retries > 0
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(3000))
    org.admin.configure(faults={})
    assert_no_open_job(org, summary.job_ids)


def test_bulk1_5xx_while_adding_batches_never_duplicates_a_batch(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    # Faults on every request under /job/ (adding batches, polls, results, closing), not on creating the job.
    org.admin.configure(
        faults={"http_503_rate": 0.25, "drop_rate": 0.05, "seed": 9, "paths": "/services/async/62.0/job/"}
    )
    tag = unique_tag()
    sink = MemorySink()
    summary = make(new_session(), "bulk1-xml", batch_records=200).update(
        "Byline__c", records_for(byline_ids, 2000, tag), sink
    )
    assert_accounted(summary, sink, 2000)
    assert summary.succeeded == 2000 and summary.batches == 10
    assert any("sent it again" in note for note in summary.notes)  # a failed batch POST was checked, then re-sent
    org.admin.configure(faults={})
    assert_no_open_job(org, summary.job_ids)
    job = next(j for j in org.admin.jobs()["bulk1"] if j["id"] == summary.job_ids[0])
    assert job["numberBatchesTotal"] == 10  # no batch was created twice
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(2000))


def test_bulk1_keeps_a_batch_whose_post_failed_after_it_was_created(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 5xx can come after the batch was stored; the check finds it and does not post it again."""
    real = OrgSession.request
    failed_once: list[bool] = []

    def flaky(self: OrgSession, method: str, url: str, **kw: Any) -> Any:
        response = real(self, method, url, **kw)
        if method == "POST" and url.endswith("/batch") and not failed_once:
            failed_once.append(True)
            raise ServerError(503, "SERVER_UNAVAILABLE", "lost the answer", family="bulk1", method=method, path=url)
        return response

    monkeypatch.setattr(OrgSession, "request", flaky)
    tag = unique_tag()
    sink = MemorySink()
    summary = make(new_session(), "bulk1-xml", batch_records=300).update(
        "Byline__c", records_for(byline_ids, 900, tag), sink
    )
    assert summary.succeeded == 900 and summary.batches == 3
    assert any("was created; kept it" in note for note in summary.notes)
    job = next(j for j in org.admin.jobs()["bulk1"] if j["id"] == summary.job_ids[0])
    assert job["numberBatchesTotal"] == 3


def interrupting(records: list[dict[str, Any]], after: int) -> Iterator[dict[str, Any]]:
    for k, record in enumerate(records):
        if k == after:
            raise KeyboardInterrupt
        yield record


def test_bulk1_interrupt_closes_the_job_and_it_can_be_resumed(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    tag = unique_tag()
    records = records_for(byline_ids, 12_000, tag)
    sink = MemorySink()
    strategy = make(new_session(), "bulk1-xml", validate=False, batch_records=5000)
    with pytest.raises(RunInterrupted) as info:
        strategy.update("Byline__c", interrupting(records, 11_000), sink)
    summary = info.value.summary
    assert summary.interrupted and summary.submitted == 11_000
    assert (summary.pending, summary.unprocessed) == (10_000, 1000)  # two batches queued, the open one not sent
    assert {o.row for o in sink.unprocessed} == set(range(10_001, 11_001))
    job_id = summary.job_ids[0]
    assert any("resume" in note and job_id in note for note in summary.notes)
    assert_no_open_job(org, summary.job_ids)

    later = MemorySink()
    resumed = strategy.resume(job_id, later)
    assert (resumed.submitted, resumed.succeeded) == (10_000, 10_000)
    assert sorted(o.row for o in later.outcomes) == list(range(1, 10_001))
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(10_000))
    assert all(stored[byline_ids[k]] != f"{tag}-{k}" for k in range(10_000, 12_000))
    strategy.close()


def test_bulk2_interrupt_while_polling_leaves_the_job_running(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool
) -> None:
    xfail_if_bulk2_bug("bulk2-csv", bulk2_first_row_bug)

    def ctrl_c(_seconds: float) -> None:
        raise KeyboardInterrupt

    tag = unique_tag()
    sink = MemorySink()
    strategy = make(new_session(), "bulk2-csv", sleep=ctrl_c)
    with pytest.raises(RunInterrupted) as info:
        strategy.update("Byline__c", records_for(byline_ids, 1500, tag), sink)
    summary = info.value.summary
    assert summary.pending == 1500 and sink.outcomes == []
    assert "abort" not in summary.calls_by_phase
    job = next(j for j in org.admin.jobs()["bulk2_ingest"] if j["id"] == summary.job_ids[0])
    assert job["state"] in ("UploadComplete", "InProgress", "JobComplete")
    strategy.sleep = time.sleep  # the user is back: wait normally this time
    later = MemorySink()
    resumed = strategy.resume(summary.job_ids[0], later)
    assert resumed.succeeded == 1500 and sorted(o.row for o in later.outcomes) == list(range(1, 1501))
    assert resumed.calls_by_phase.get("results", 0) == 0  # successes cost no call
    strategy.close()


def test_composite_interrupt_from_the_input_accounts_for_buffered_rows(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    sink = MemorySink()
    with pytest.raises(RunInterrupted) as info:
        make(new_session(), "composite", validate=False).update(
            "Byline__c", interrupting(records_for(byline_ids, 3000, unique_tag()), 2500), sink
        )
    summary = info.value.summary
    assert (summary.submitted, summary.succeeded, summary.unprocessed) == (2500, 2000, 500)
    assert_accounted(summary, sink, 2500)


@pytest.mark.parametrize("name", ["bulk1-xml", "bulk2-csv"])
def test_poll_timeout_returns_pending_and_resume_collects(
    org: Any,
    new_session: Callable[..., OrgSession],
    byline_ids: list[str],
    bulk2_first_row_bug: bool,
    name: str,
    tmp_path: Any,
) -> None:
    xfail_if_bulk2_bug(name, bulk2_first_row_bug)
    org.admin.configure(profile="instant", profile_overrides={"bulk_batch_overhead_s": 1.0})
    tag = unique_tag()
    sink = MemorySink()
    hasty = PollPolicy(initial=0.05, factor=1.5, ceiling=0.1, timeout=0.3)
    strategy = make(new_session(), name, poll_policy=hasty, state_dir=tmp_path / "state")
    summary = strategy.update("Byline__c", records_for(byline_ids, 800, tag), sink)
    assert summary.pending == 800 and not summary.complete and sink.outcomes == []
    assert "abort" not in summary.calls_by_phase
    assert any("resume" in note for note in summary.notes)
    strategy.close()  # the state directory survives: a job is pending

    # a new strategy object (as in a new process) with the same state_dir resumes with row numbers
    again = make(new_session(), name, poll_policy=FAST_POLL, state_dir=tmp_path / "state")
    later = MemorySink()
    resumed = again.resume(summary.job_ids[0], later)
    assert resumed.succeeded == 800 and sorted(o.row for o in later.outcomes) == list(range(1, 801))
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(800))
    again.close()


def test_bulk2_job_failed_by_the_org_marks_rows_unprocessed(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool
) -> None:
    xfail_if_bulk2_bug("bulk2-csv", bulk2_first_row_bug)
    org.admin.configure(faults={"bulk_fail_after_records": 1000})
    sink = MemorySink()
    summary = make(new_session(), "bulk2-csv").update("Byline__c", records_for(byline_ids, 2500, unique_tag()), sink)
    assert_accounted(summary, sink, 2500)
    assert summary.unprocessed > 0 and summary.succeeded >= 1000 - 200
    assert all(o.error_code == "JOB_FAILED" for o in sink.unprocessed)
    assert not any("INCONSISTENT" in note for note in summary.notes)


def test_an_unexpected_error_still_ends_in_run_failed_with_a_summary(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    class DiskFull(MemorySink):
        def write(self, outcome: Any) -> None:
            if len(self.outcomes) == 250:
                raise OSError(28, "No space left on device")
            super().write(outcome)

    with pytest.raises(RunFailed) as info:
        make(new_session(), "collections").update("Byline__c", records_for(byline_ids, 1000, unique_tag()), DiskFull())
    assert isinstance(info.value.__cause__, OSError)
    summary = info.value.summary
    assert "OSError" in (summary.error or "")
    assert any("could not report the remaining rows" in note for note in summary.notes)  # the sink itself is broken


def test_bulk2_resume_without_a_ledger_downloads_all_three_result_sets(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Any
) -> None:
    org.admin.configure(profile="instant", profile_overrides={"bulk_batch_overhead_s": 0.5})
    records = records_for(byline_ids, 300, unique_tag())
    records[10]["Tweets__c"] = -3
    hasty = PollPolicy(initial=0.05, factor=1.5, ceiling=0.1, timeout=0.1)
    first = make(new_session(), "bulk2-csv", poll_policy=hasty)
    summary = first.update("Byline__c", records, MemorySink())
    assert summary.pending == 300
    elsewhere = make(new_session(), "bulk2-csv", state_dir=tmp_path / "empty")  # another machine: no ledger
    sink = MemorySink()
    resumed = elsewhere.resume(summary.job_ids[0], sink)
    assert (resumed.submitted, resumed.succeeded, resumed.failed) == (300, 299, 1)
    assert resumed.calls_by_phase["results"] == 3 and all(o.row is None for o in sink.outcomes)
    assert sink.failed[0].id == byline_ids[10] and sink.failed[0].error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    first.close()
    elsewhere.close()
