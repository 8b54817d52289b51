"""bulk2-csv's one pass over a CSV file, against the emulator.

Each row is validated, stored in the run journal, rendered and entered in the ledger as it is read; the
finished uploads are held until the whole input has passed, so a refused row still means no call at all;
a job whose info lists no failure reports its successes a ledger page at a time, journal included.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strategies import MemorySink, OrgSession, PollPolicy, RecordValidationError, get
from strategies.journal import RunJournal
from strategies.records import CsvRecords
from strategies.resume import resume_run
from strategies.sinks import FAILED, SUCCEEDED, CountingSink, CsvResultSink, RecordOutcome, write_successes

from .conftest import FAST_POLL


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> CsvRecords:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return CsvRecords(path)


def org_calls(org: Any) -> int:
    return int(org.admin.usage()["DailyApiRequests"]["used"])


def stored_tweets(org: Any) -> dict[str, Any]:
    return {r["Id"]: r["Tweets__c"] for r in org.admin.iter_records("Byline__c", ["Id", "Tweets__c"])}


def test_a_csv_file_goes_out_from_its_validation_pass_job_by_job_and_resumes_to_the_same_outcomes(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    records = write_csv(
        tmp_path / "in.csv", ["Id", "Tweets__c"], [[byline_ids[k], str(700_000 + k)] for k in range(5000)]
    )
    state = tmp_path / "state"
    sink = CsvResultSink(tmp_path / "out")
    with get("bulk2-csv", new_session(), poll_policy=FAST_POLL, max_job_records=2000, state_dir=state) as strategy:
        summary = strategy.update("Byline__c", records, sink)
    sink.close()
    assert (summary.submitted, summary.succeeded, summary.failed, summary.unprocessed) == (5000, 5000, 0, 0)
    assert len(summary.job_ids) == 3 and summary.batches == 3
    tweets = stored_tweets(org)
    assert all(tweets[byline_ids[k]] == 700_000 + k for k in range(5000))
    with open(tmp_path / "out" / "success.csv", encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert sorted(int(r["row"]) for r in listed) == list(range(1, 5001))
    assert {r["Id"] for r in listed} == set(byline_ids[:5000])

    journal = RunJournal(state)
    try:
        kept = list(journal.outcomes())
        assert len(kept) == 5000 and {o.status for o in kept} == {SUCCEEDED}
        # rows were journaled as the CSV lines they were sent as, and read back as the input's records
        assert journal.records([1, 4321]) == {
            1: {"Id": byline_ids[0], "Tweets__c": "700000"},
            4321: {"Id": byline_ids[4320], "Tweets__c": "704320"},
        }
    finally:
        journal.close()

    before = org_calls(org)
    again = MemorySink()
    resumed = resume_run(state, new_session(), again, poll_policy=FAST_POLL)
    assert resumed.succeeded == 5000 and org_calls(org) == before  # every outcome was kept: nothing to ask
    assert sorted(o.row for o in again.succeeded) == list(range(1, 5001))


def test_a_refused_row_of_a_csv_file_means_no_call_at_all(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    rows = [[byline_ids[k], str(k)] for k in range(3000)]
    rows[2998][0] = "a01000000000000ZZZ"  # a wrong checksum, near the end: uploads are held until here
    records = write_csv(tmp_path / "in.csv", ["Id", "Tweets__c"], rows)
    before = org_calls(org)
    with (
        get("bulk2-csv", new_session(), poll_policy=FAST_POLL, max_job_records=1000, state_dir=tmp_path / "s") as s,
        pytest.raises(RecordValidationError) as info,
    ):
        s.update("Byline__c", records, MemorySink())
    assert [(p.row, p.field) for p in info.value.problems] == [(2999, "Id")]
    assert org_calls(org) == before


def test_a_header_column_no_row_fills_is_not_uploaded(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    """Rows are rendered under the header while they are validated; a column no row fills would be an
    empty column the org may not know (here it does not), so those rows are rendered again without it."""
    records = write_csv(
        tmp_path / "in.csv", ["Id", "Nope__c", "Tweets__c"], [[byline_ids[k], "", str(800_000 + k)] for k in range(300)]
    )
    with get("bulk2-csv", new_session(), poll_policy=FAST_POLL) as strategy:
        summary = strategy.update("Byline__c", records, MemorySink())
    assert summary.succeeded == 300 and summary.failed == 0
    tweets = stored_tweets(org)
    assert all(tweets[byline_ids[k]] == 800_000 + k for k in range(300))


def test_a_row_too_large_for_any_job_fails_after_the_input_has_passed(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    rows = [[byline_ids[k], f"name {k}"] for k in range(50)]
    rows[20][1] = "x" * 2000
    records = write_csv(tmp_path / "in.csv", ["Id", "Name"], rows)
    sink = MemorySink()
    with get("bulk2-csv", new_session(), poll_policy=FAST_POLL, max_job_bytes=1024) as strategy:
        summary = strategy.update("Byline__c", records, sink)
    assert (summary.submitted, summary.succeeded, summary.failed) == (50, 49, 1)
    assert [(o.row, o.error_code) for o in sink.failed] == [(21, "RECORD_TOO_LARGE")]
    assert len(summary.job_ids) > 1  # 1 KiB jobs


def test_a_page_of_successes_reads_as_one_outcome_each(tmp_path: Path) -> None:
    rows = [(1, "a"), (2, None), (None, "c")]
    paged, single = CsvResultSink(tmp_path / "paged"), CsvResultSink(tmp_path / "single")
    write_successes(paged, rows)
    for row, record_id in rows:
        single.write(RecordOutcome(row, record_id, SUCCEEDED))
    paged.close()
    single.close()
    assert (tmp_path / "paged" / "success.csv").read_text() == (tmp_path / "single" / "success.csv").read_text()
    counting, memory = CountingSink(), MemorySink()
    write_successes(counting, rows)
    write_successes(memory, rows)
    assert counting.counts[SUCCEEDED] == 3 and counting.counts[FAILED] == 0
    assert memory.outcomes == [RecordOutcome(row, record_id, SUCCEEDED) for row, record_id in rows]


def test_a_poll_timeout_on_the_first_job_sends_no_later_job_even_within_a_page(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    """Rows are placed a page at a time, so the stop (a poll timeout on job 1) comes while later rows of
    the same page are being placed: the jobs they fill are reported not sent, never created."""
    org.admin.configure(profile="instant", profile_overrides={"bulk_batch_overhead_s": 1.0})
    hasty = PollPolicy(initial=0.05, factor=1.5, ceiling=0.1, timeout=0.3)
    records = [{"Id": byline_ids[k], "Tweets__c": 900_000 + k} for k in range(1500)]
    sink = MemorySink()
    state = tmp_path / "state"
    with get("bulk2-csv", new_session(), poll_policy=hasty, max_job_records=500, state_dir=state) as strategy:
        summary = strategy.update("Byline__c", records, sink)
    assert (summary.pending, summary.unprocessed, len(summary.job_ids)) == (500, 1000, 1)
    assert {o.error_code for o in sink.unprocessed} == {"NOT_SENT"}
    assert sorted(o.row for o in sink.unprocessed) == list(range(501, 1501))
    # collect the job left running (later tests must not queue behind it): its 500 rows, numbered
    with get("bulk2-csv", new_session(), poll_policy=FAST_POLL, state_dir=state) as again:
        later = MemorySink()
        again.resume(summary.job_ids[0], later)
    assert sorted(o.row for o in later.succeeded) == list(range(1, 501))
