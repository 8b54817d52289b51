"""bulk2-csv sends a job whose CSV is under 100,000 characters with its create request (#14).

Counted by the org's own counter (``DailyApiRequests``), checked against the formula, and checked on the
stored data; lost answers to the one request are looked up, never guessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from strategies import (
    AutoStrategy,
    Bulk2Strategy,
    MemorySink,
    OrgSession,
    PollPolicy,
    RunFailed,
    get,
    orphans,
    resume_run,
)
from strategies.bulk2_csv import MULTIPART_MAX_CHARS, csv_chars, fits_one_request
from strategies.journal import RunJournal
from strategies.sinks import SUCCEEDED

from .conftest import FAST_POLL, unique_tag
from .test_emulator_failures import open_jobs, stored_names

V = "vXX.X"
CREATE = f"POST /services/data/{V}/jobs/ingest"
ONE_POLL = PollPolicy(initial=0.5, factor=1.5, ceiling=1.0, timeout=120)
"""The first check after half a second: a small job on the instant profile is done by then."""


def number_records(ids: list[str], n: int, base: int) -> list[dict[str, Any]]:
    """Id + one number field: the narrow rows the issue's target names."""
    return [{"Id": ids[k], "Tweets__c": base + k} for k in range(n)]


def org_calls(org: Any) -> int:
    return int(org.admin.usage()["DailyApiRequests"]["used"])


def stored_tweets(org: Any) -> dict[str, Any]:
    return {r["Id"]: r["Tweets__c"] for r in org.admin.iter_records("Byline__c", ["Id", "Tweets__c"])}


def run(session: OrgSession, name: str, records: list[dict[str, Any]], **options: Any) -> tuple[Any, MemorySink]:
    sink = MemorySink()
    with get(name, session, **options) as strategy:
        summary = strategy.update("Byline__c", records, sink)
    return summary, sink


def test_2000_narrow_records_cost_one_create_with_data_and_one_poll(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    records = number_records(byline_ids, 2000, 500_000)
    assert csv_chars(enumerate(records, start=1), ["Id", "Tweets__c"]) < MULTIPART_MAX_CHARS
    summary, sink = run(new_session(), "bulk2-csv", records, poll_policy=ONE_POLL)
    assert summary.succeeded == 2000 and len(sink.outcomes) == 2000
    assert org_calls(org) == summary.api_calls == 2
    assert summary.calls_by_phase == {"create": 1, "poll": 1}
    assert Bulk2Strategy.api_calls(2000, polls=1, row_chars=(15 + 2000 * 26) / 2001).total == 2
    stored = stored_tweets(org)
    assert all(stored[byline_ids[k]] == 500_000 + k for k in range(2000))
    job = next(j for j in org.admin.jobs()["bulk2_ingest"] if j["id"] == summary.job_ids[0])
    assert job["state"] == "JobComplete"


def limit_records(ids: list[str], tag: str, chars: int) -> list[dict[str, Any]]:
    """Id + Name rows whose CSV (header "Id,Name") is exactly `chars` characters (Name stays under 80)."""
    left = chars - len("Id,Name\n")
    records: list[dict[str, Any]] = []
    while left:
        room = left - len(ids[len(records)]) - 2  # comma and line feed
        size = room if room <= 60 else min(60, room - 30)  # never leave a remainder too short for a row
        name = f"{tag}-{len(records)}-".ljust(size, "x")
        assert len(name) == size
        records.append({"Id": ids[len(records)], "Name": name})
        left -= len(ids[len(records) - 1]) + 2 + size
    return records


def test_a_csv_at_the_limit_takes_the_three_step_path(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """Under 100,000 characters goes in one request; 100,000 (header included) in three."""
    assert not fits_one_request(MULTIPART_MAX_CHARS) and fits_one_request(MULTIPART_MAX_CHARS - 1)
    for chars, three_steps in ((MULTIPART_MAX_CHARS, True), (MULTIPART_MAX_CHARS - 1, False)):
        records = limit_records(byline_ids, unique_tag(), chars)
        assert csv_chars(enumerate(records, start=1), ["Id", "Name"]) == chars
        org.admin.reset_usage()
        summary, _ = run(new_session(), "bulk2-csv", records, poll_policy=FAST_POLL)
        assert summary.succeeded == len(records)
        assert ("upload" in summary.calls_by_phase, "close" in summary.calls_by_phase) == (three_steps, three_steps)
        assert org_calls(org) == summary.api_calls == summary.calls_by_phase["poll"] + (3 if three_steps else 1)
        names = stored_names(org)
        assert all(names[r["Id"]] == r["Name"] for r in records)


def test_multipart_false_keeps_the_three_step_path(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    records = number_records(byline_ids, 2000, 600_000)
    summary, _ = run(new_session(), "bulk2-csv", records, poll_policy=ONE_POLL, multipart=False)
    assert summary.succeeded == 2000
    assert org_calls(org) == summary.api_calls == 3 + summary.calls_by_phase["poll"]
    assert summary.calls_by_phase["create"] == summary.calls_by_phase["upload"] == summary.calls_by_phase["close"] == 1
    assert Bulk2Strategy.api_calls(2000, polls=summary.calls_by_phase["poll"], row_chars=26, multipart=False).total == (
        summary.api_calls
    )


def test_several_small_jobs_each_go_in_one_request_and_failures_are_downloaded(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """Three jobs of 300 (by `max_job_records`), one with a failed record: 3 creates + polls + 1 download."""
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}", "Likes__c": -1 if k == 450 else k} for k in range(900)]
    summary, sink = run(new_session(), "bulk2-csv", records, poll_policy=FAST_POLL, max_job_records=300)
    assert (summary.succeeded, summary.failed) == (899, 1) and len(summary.job_ids) == 3
    failed = [o for o in sink.outcomes if o.status != SUCCEEDED]
    assert [o.row for o in failed] == [451]
    polls = summary.calls_by_phase["poll"]
    row_chars = (
        len("Id,Name,Likes__c\n") + sum(len(f"{r['Id']},{r['Name']},{r['Likes__c']}\n") for r in records)
    ) / 903
    estimate = Bulk2Strategy.api_calls(900, polls=polls, max_job_records=300, jobs_with_failures=1, row_chars=row_chars)
    assert estimate.by_phase == {"create": 3, "poll": polls, "results": 1}
    assert org_calls(org) == summary.api_calls == estimate.total


def test_auto_picks_the_one_request_job_when_it_is_cheapest(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """With 1 expected poll: 3,000 narrow records cost composite 3 calls and bulk2-csv 2, so bulk2-csv;
    at 2,000 both cost 2 and the tie goes to composite (exact count, immediate results, no Bulk batch)."""
    options = {"expected_polls": 1, "bulk2_options": {"poll_policy": ONE_POLL}}
    records = number_records(byline_ids, 3000, 700_000)
    summary, _ = run(new_session(), "auto", records, **options)
    assert summary.delegate == "bulk2-csv" and summary.succeeded == 3000
    assert org_calls(org) == summary.api_calls == 1 + 1 + summary.calls_by_phase["poll"]  # limits + create + polls
    assert "upload" not in summary.calls_by_phase
    org.admin.reset_usage()
    summary, _ = run(new_session(), "auto", number_records(byline_ids, 2000, 800_000), **options)
    assert summary.delegate == "composite" and org_calls(org) == 1 + 2
    assert AutoStrategy.choose(2000, expected_polls=1, row_chars=26)[0] == "composite"
    assert AutoStrategy.choose(2001, expected_polls=1, row_chars=26)[0] == "bulk2-csv"
    assert AutoStrategy.choose(2001, expected_polls=1)[0] == "composite"  # row size unknown: three steps assumed
    assert AutoStrategy.choose(3000, expected_polls=1, row_chars=26, multipart=False)[0] == "composite"


@pytest.mark.parametrize("action", ["lose", "stall"])
def test_a_lost_answer_to_the_one_request_finds_the_job_and_collects_it(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], action: str
) -> None:
    """The org made and ran the job; the client never heard: the job list names it, and it is collected."""
    time.sleep(1.2)  # createdDate is whole seconds: keep other tests' jobs out of the window
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}"} for k in range(600)]
    org.admin.configure(faults={"response_faults": [f"{action}:1:{CREATE}"], "stall_seconds": 2.0})
    before = {j["id"] for j in org.admin.jobs()["bulk2_ingest"]}
    summary, sink = run(new_session(timeout=(10.0, 1.0)), "bulk2-csv", records, poll_policy=FAST_POLL)
    assert summary.succeeded == 600 and sorted(o.row for o in sink.outcomes) == list(range(1, 601))
    made = {j["id"] for j in org.admin.jobs()["bulk2_ingest"]} - before
    assert made == set(summary.job_ids) and len(made) == 1  # found, not sent twice
    assert summary.calls_by_phase["create"] == 1 and summary.calls_by_phase["resolve"] >= 1
    names = stored_names(org)
    assert all(names[byline_ids[k]] == f"{tag}-{k}" for k in range(600))
    assert open_jobs(org, sorted(made)) == []


def test_a_cut_request_made_no_job_and_is_sent_once_more(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    time.sleep(1.2)
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}"} for k in range(600)]
    org.admin.configure(faults={"response_faults": [f"cut:1:{CREATE}"]})
    before = {j["id"] for j in org.admin.jobs()["bulk2_ingest"]}
    summary, _ = run(new_session(), "bulk2-csv", records, poll_policy=FAST_POLL)
    assert summary.succeeded == 600 and summary.calls_by_phase["create"] == 2
    assert {j["id"] for j in org.admin.jobs()["bulk2_ingest"]} - before == set(summary.job_ids)
    names = stored_names(org)
    assert all(names[byline_ids[k]] == f"{tag}-{k}" for k in range(600))


def test_resume_finds_the_job_a_killed_run_created_with_its_data(
    org: Any,
    new_session: Callable[..., OrgSession],
    byline_ids: list[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The answer is lost and the job list cannot be read either: the rows are reported unprocessed with
    OUTCOME_UNKNOWN and the intent stays open; `resume_run` finds the job the request made and collects it."""
    time.sleep(1.2)
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}"} for k in range(400)]
    org.admin.configure(faults={"response_faults": [f"lose:1:{CREATE}"]})
    state = tmp_path / "state"

    def unreadable(*_args: Any, **_kwargs: Any) -> list[str]:
        raise ConnectionError("job list unreadable")

    with monkeypatch.context() as patched:
        patched.setattr(orphans, "find_orphans", unreadable)
        sink = MemorySink()
        with get("bulk2-csv", new_session(), state_dir=state, poll_policy=FAST_POLL) as strategy:
            summary = strategy.update("Byline__c", records, sink)
    assert summary.unprocessed == 400 and {o.error_code for o in sink.outcomes} == {"OUTCOME_UNKNOWN"}
    journal = RunJournal(state)
    assert [(s["state"], s["detail"]) for s in journal.steps("create")] == [("intent", {"with_data": True})]
    journal.close()
    resumed = resume_run(state, new_session(), MemorySink(), poll_policy=FAST_POLL)
    assert resumed.succeeded == 400
    names = stored_names(org)
    assert all(names[byline_ids[k]] == f"{tag}-{k}" for k in range(400))
    made = [j for j in org.admin.jobs()["bulk2_ingest"] if j["id"] in resumed.job_ids]
    assert len(made) == 1 and made[0]["state"] == "JobComplete"


def test_a_job_another_run_made_a_moment_before_is_told_apart_by_its_data(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """The job list's window is seconds wide: another run's job, finished just before, is a second
    candidate. Its results do not hold this chunk's first row, so only the right job is collected."""
    time.sleep(1.2)
    other, _ = run(new_session(), "bulk2-csv", number_records(byline_ids, 300, 900_000), poll_policy=FAST_POLL)
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}"} for k in range(300)]
    org.admin.configure(faults={"response_faults": [f"lose:1:{CREATE}"]})
    summary, sink = run(new_session(), "bulk2-csv", records, poll_policy=FAST_POLL)
    assert summary.succeeded == 300 and sorted(o.row for o in sink.outcomes) == list(range(1, 301))
    assert len(summary.job_ids) == 1 and summary.job_ids[0] not in other.job_ids
    assert summary.calls_by_phase["create"] == 1
    assert summary.calls_by_phase["resolve"] > 1, summary.notes  # the list, then the candidates' results
    names = stored_names(org)
    assert all(names[byline_ids[k]] == f"{tag}-{k}" for k in range(300))


def test_a_spent_daily_limit_after_the_one_request_leaves_its_job_pending(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """The create with data is the last call the org allows today: that job was accepted and runs, so its
    rows are pending (resumable by job id), never failed; the rows of later jobs are unprocessed."""
    org.admin.configure(daily_api_max=1)
    sink = MemorySink()
    try:
        with (
            get("bulk2-csv", new_session(), poll_policy=FAST_POLL, max_job_records=500) as strategy,
            pytest.raises(RunFailed) as info,
        ):
            strategy.update("Byline__c", number_records(byline_ids, 1500, 1_000_000), sink)
    finally:
        org.admin.configure(edition="enterprise")
    summary = info.value.summary
    assert (summary.pending, summary.failed, summary.succeeded, summary.unprocessed) == (500, 0, 0, 1000)
    assert len(sink.outcomes) == 1000 and {o.row for o in sink.outcomes} == set(range(501, 1501))
    assert org.admin.usage()["DailyApiRequests"]["used"] == 1
    job = next(j for j in org.admin.jobs()["bulk2_ingest"] if j["id"] == summary.job_ids[0])
    assert job["state"] in ("UploadComplete", "InProgress", "JobComplete")
