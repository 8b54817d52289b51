"""Every strategy against the emulated org: the stored data, the outcomes and the exact call counts.

On the `instant` profile the org's own counter (`DailyApiRequests.used`) must equal the calls the client
metered, and both must equal the strategy's documented formula (with the polls actually made as input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strategies import Bulk1Strategy, MemorySink, OrgSession, RecordValidationError, RunSummary, get
from strategies.bulk2_csv import MULTIPART_MAX_CHARS, csv_chars
from strategies.sinks import FAILED, SUCCEEDED

from .conftest import FAST_POLL, unique_tag, xfail_if_bulk2_bug

CASES = (
    [("rest", n) for n in (0, 1, 199, 200, 201)]
    + [("collections", n) for n in (0, 1, 199, 200, 201, 999, 1000, 1001, 9999, 10000, 10001)]
    + [("composite", n) for n in (0, 1, 199, 200, 201, 999, 1000, 1001, 9999, 10000, 10001)]
    + [("bulk1-xml", n) for n in (0, 1, 201, 1000, 9999, 10000, 10001)]
    + [("bulk2-csv", n) for n in (0, 1, 201, 1000, 9999, 10000, 10001)]
    + [("auto", n) for n in (0, 1, 7001)]
)


def options_for(name: str) -> dict[str, Any]:
    return (
        {"poll_policy": FAST_POLL}
        if name in ("bulk1-xml", "bulk2-csv")
        else ({"bulk2_options": {"poll_policy": FAST_POLL}} if name == "auto" else {})
    )


def run(session: OrgSession, name: str, records: Any, **options: Any) -> tuple[RunSummary, MemorySink]:
    sink = MemorySink()
    with get(name, session, **{**options_for(name), **options}) as strategy:
        summary = strategy.update("Byline__c", records, sink)
    return summary, sink


def expected_calls(
    name: str, n: int, summary: RunSummary, records: list[dict[str, Any]] | None = None, **options: Any
) -> int:
    """The strategy's formula for this run (`records`: to size the Bulk 2.0 CSV, which decides whether a
    job goes with its create request)."""
    session = OrgSession("https://unused.example", "t")
    strategy = get(name, session, **options)
    polls = summary.calls_by_phase.get("poll", 0)
    row_chars = None
    if records:
        row_chars = csv_chars(enumerate(records, start=1), list(records[0]), limit=10**12) / (len(records) + 1)
    return strategy.estimate(n, polls=polls, row_chars=row_chars).total


@pytest.mark.parametrize("name, n", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_update_stores_every_value_and_costs_the_formula(
    org: Any,
    new_session: Callable[..., OrgSession],
    byline_ids: list[str],
    bulk2_first_row_bug: bool,
    name: str,
    n: int,
) -> None:
    if n:
        xfail_if_bulk2_bug(name, bulk2_first_row_bug)
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}", "Tweets__c": k} for k in range(n)]
    summary, sink = run(new_session(), name, iter(records))

    assert (summary.submitted, summary.succeeded, summary.failed, summary.unprocessed, summary.pending) == (
        n,
        n,
        0,
        0,
        0,
    )
    assert sorted(o.row for o in sink.outcomes) == list(range(1, n + 1))
    assert all(o.status == SUCCEEDED for o in sink.outcomes)
    assert summary.complete and summary.error is None
    assert not [note for note in summary.notes if "INCONSISTENT" in note or "MISMATCH" in note]

    usage = org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == summary.api_calls == summary.total_calls
    assert summary.api_calls == expected_calls(name, n, summary, records)
    if name == "bulk2-csv" and n:  # a CSV under the limit goes with the create request: no upload, no close
        chars = csv_chars(enumerate(records, start=1), ["Id", "Name", "Tweets__c"], limit=10**12)
        assert ("upload" in summary.calls_by_phase) == (chars >= MULTIPART_MAX_CHARS)
    if name in ("bulk1-xml", "bulk2-csv"):
        assert usage["DailyBulkApiBatches"]["used"] == summary.batches == -(-n // 10_000)
    if name == "auto":
        assert summary.delegate == ("composite" if n <= 7000 else "bulk2-csv")

    stored = {r["Id"]: r for r in org.admin.iter_records("Byline__c", ["Id", "Name", "Tweets__c"])}
    wrong = [
        k
        for k in range(n)
        if (stored[byline_ids[k]]["Name"], stored[byline_ids[k]]["Tweets__c"]) != (f"{tag}-{k}", float(k))
    ]
    assert wrong == []


@pytest.mark.parametrize("name", ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv"])
def test_partial_failures_are_mapped_to_their_rows(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool, name: str
) -> None:
    xfail_if_bulk2_bug(name, bulk2_first_row_bug)
    tag = unique_tag()
    n = 450 if name != "rest" else 40
    bad_rows = {r for r in (3, 199, 201, n) if r <= n}  # 1-based rows whose Tweets__c is negative (validation rule)
    records = [
        {"Id": byline_ids[k], "Name": f"{tag}-{k}", "Tweets__c": -5 if k + 1 in bad_rows else k} for k in range(n)
    ]
    summary, sink = run(new_session(), name, records)

    assert (summary.succeeded, summary.failed, summary.unprocessed) == (n - len(bad_rows), len(bad_rows), 0)
    failed = {o.row: o for o in sink.outcomes if o.status == FAILED}
    assert set(failed) == bad_rows
    for row, outcome in failed.items():
        assert outcome.id == byline_ids[row - 1]
        assert outcome.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and outcome.message
    stored = {r["Id"]: r for r in org.admin.iter_records("Byline__c", ["Id", "Name"])}
    for k in range(n):
        changed = stored[byline_ids[k]]["Name"] == f"{tag}-{k}"
        assert changed == (k + 1 not in bad_rows)


def test_rest_with_bounded_concurrency(org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]) -> None:
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}", "Likes__c": -1 if k == 500 else k} for k in range(1001)]
    summary, sink = run(new_session(pool_size=8), "rest", records, concurrency=6)
    assert (summary.succeeded, summary.failed) == (1000, 1)
    assert sorted(o.row for o in sink.outcomes) == list(range(1, 1002))
    assert sink.failed[0].row == 501
    assert org.admin.usage()["DailyApiRequests"]["used"] == summary.api_calls == 1001


def test_bulk1_serial_mode_and_byte_cut(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    tag = unique_tag()
    records = [
        {"Id": byline_ids[k], "Name": f"{tag}-{k}", "Published_URL__c": "https://example.com/" + "x" * 200}
        for k in range(300)
    ]
    summary, _ = run(new_session(), "bulk1-xml", records, serial=True, batch_bytes=20_000)
    assert summary.succeeded == 300 and summary.batches >= 4  # ~290 bytes per record -> cut by bytes
    jobs = org.admin.jobs()["bulk1"]
    job = next(j for j in jobs if j["id"] == summary.job_ids[0])
    assert job["concurrencyMode"] == "Serial" and job["state"] == "Closed"
    assert (
        org.admin.usage()["DailyApiRequests"]["used"]
        == summary.api_calls
        == get("bulk1-xml", new_session())
        .estimate(300, polls=summary.calls_by_phase["poll"], batches=summary.batches)
        .total
    )


def test_bulk1_downloads_results_only_for_batches_with_failures(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """Three batches, one failed record in the second: the batch list (1 call) and that batch's results
    (1 call) are read; the clean batches cost nothing after the job info said how many records failed."""
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f"{tag}-{k}", "Likes__c": -1 if k == 400 else k} for k in range(750)]
    summary, sink = run(new_session(), "bulk1-xml", records, batch_records=250)
    assert (summary.succeeded, summary.failed, summary.batches) == (749, 1, 3)
    assert sink.failed[0].row == 401 and sink.failed[0].error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert sorted(o.row for o in sink.outcomes) == list(range(1, 751))
    assert summary.calls_by_phase["results"] == 2
    expected = Bulk1Strategy.api_calls(
        750, polls=summary.calls_by_phase["poll"], batch_records=250, batches_with_failures=1
    )
    assert org.admin.usage()["DailyApiRequests"]["used"] == summary.api_calls == expected.total
    clean, _ = run(
        new_session(),
        "bulk1-xml",
        [{"Id": byline_ids[k], "Name": f"{tag}-b{k}"} for k in range(750)],
        batch_records=250,
    )
    assert clean.succeeded == 750 and "results" not in clean.calls_by_phase
    stored = {r["Id"]: r["Name"] for r in org.admin.iter_records("Byline__c", ["Id", "Name"])}
    assert all(stored[byline_ids[k]] == f"{tag}-b{k}" for k in range(750))


def test_bulk1_fetch_successes_reads_every_batch(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    records = [{"Id": byline_ids[k], "Name": f"{unique_tag()}-{k}"} for k in range(500)]
    summary, _ = run(new_session(), "bulk1-xml", records, batch_records=250, fetch_successes=True)
    assert (
        summary.succeeded == 500 and summary.calls_by_phase["results"] == 2
    )  # 2 result files: a clean job needs no batch list


@pytest.mark.parametrize("multipart", [False, True])
def test_bulk2_splits_jobs_by_size_and_runs_them_in_parallel(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], bulk2_first_row_bug: bool, multipart: bool
) -> None:
    xfail_if_bulk2_bug("bulk2-csv", bulk2_first_row_bug)
    tag = unique_tag()
    records = [{"Id": byline_ids[k], "Name": f'{tag}, "{k}"'} for k in range(3000)]
    summary, _ = run(new_session(), "bulk2-csv", records, max_job_bytes=40_000, parallel_jobs=3, multipart=multipart)
    assert summary.succeeded == 3000 and len(summary.job_ids) >= 3
    ingest = {j["id"]: j for j in org.admin.jobs()["bulk2_ingest"]}
    assert all(ingest[j]["state"] == "JobComplete" for j in summary.job_ids)
    stored = {r["Id"]: r["Name"] for r in org.admin.iter_records("Byline__c", ["Id", "Name"])}
    assert all(stored[byline_ids[k]] == f'{tag}, "{k}"' for k in range(3000))
    jobs = len(summary.job_ids)
    steps = summary.calls_by_phase
    if multipart:  # 40,000-byte jobs are under 100,000 characters: each created with its data
        assert steps["create"] == jobs and "upload" not in steps and "close" not in steps
    else:
        assert steps["create"] == steps["upload"] == steps["close"] == jobs
    assert org.admin.usage()["DailyApiRequests"]["used"] == summary.api_calls


def test_validation_rejects_before_any_call(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    records = [
        {"Id": byline_ids[0], "Name": "ok"},
        {"Id": byline_ids[1][:17], "Name": "bad id"},
        {"Id": byline_ids[2], "Nope__c": 1},
    ]
    for name in ("rest", "composite", "bulk1-xml", "bulk2-csv"):
        with pytest.raises(RecordValidationError) as info:
            run(new_session(), name, iter(records), known_fields=["Name", "Tweets__c"])
        assert [(p.row, p.field) for p in info.value.problems] == [(2, "Id"), (3, "Nope__c")]
    with pytest.raises(RecordValidationError, match="row 3, field 'Nope__c'"):
        run(new_session(), "collections", records, describe=True)
    usage = org.admin.usage()["DailyApiRequests"]["used"]
    assert usage == 1  # only the describe call: no record was sent


def test_letting_the_org_judge(org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]) -> None:
    records = [
        {"Id": byline_ids[0], "Name": "fine"},
        {"Id": "a01000000000000", "Name": "no such record"},
        {"Name": "no id"},
    ]
    summary, sink = run(new_session(), "collections", records, validate=False)
    assert summary.submitted == 3 and summary.succeeded == 1 and summary.failed == 2
    codes = {o.row: o.error_code for o in sink.failed}
    assert set(codes) == {2, 3} and all(codes.values())
