"""The library baselines against the emulated org: stored data, per-record outcomes, and metering.

Each baseline runs once at a small volume (300 records; 25 for per-record REST) with one record the org
rejects (a negative count fails the validation rule), so that failures are mapped to the right row even
where the library reports no Id (salesforce-bulk's XML results). The calls our adapter metered must equal
the org's own counter, and the baseline's documented formula with the polls actually made.

The libraries' fixed waits (5 s, 10 s) are scaled down with ``time_scale`` so the tests stay fast; the
emulator is on the instant profile, so only the number of polls can change, and the formula takes it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from strategies import MemorySink, OrgSession, registry
from strategies.baselines import BASELINES, NOT_REPORTED
from strategies.baselines.metering import classify, patched_requests, scaled_sleep
from strategies.errors import ConfigurationError
from strategies.records import CsvRecords

from .conftest import unique_tag

pytest.importorskip("simple_salesforce")
pytest.importorskip("salesforce_bulk")

FAST = 100.0  # time_scale: 5 s library waits become 50 ms
BAD_ROW = 8  # 1-based row whose Tweets__c is negative (rejected by the org's validation rule)


def volume(name: str) -> int:
    return 25 if name == "simple-salesforce:rest" else 300


def expected_calls(name: str, n: int, phases: dict[str, int]) -> int:
    cls = BASELINES[name]
    polls = phases.get("poll", 0)
    if name == "simple-salesforce:bulk2":  # the poll phase holds wait_for_job's GETs plus the final get_job
        return cls.api_calls(n, polls=polls - 1, jobs_with_failures=1).total
    return cls.api_calls(n, polls=polls).total


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_updates_every_record_and_meters_what_the_org_counts(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], name: str
) -> None:
    n = volume(name)
    tag = unique_tag()
    records = [
        {"Id": byline_ids[k], "Name": f"{tag}-{k}", "Tweets__c": -1 if k + 1 == BAD_ROW else k} for k in range(n)
    ]
    sink = MemorySink()
    strategy = registry.get(name, new_session(), include_baselines=True, time_scale=FAST)
    summary = strategy.update("Byline__c", iter(records), sink)

    assert (summary.submitted, summary.succeeded, summary.failed, summary.unprocessed, summary.pending) == (
        n,
        n - 1,
        1,
        0,
        0,
    )
    assert summary.complete and summary.error is None and summary.notes == []
    assert sorted(o.row for o in sink.outcomes) == list(range(1, n + 1))
    (failed,) = sink.failed
    assert (failed.row, failed.id, failed.error_code) == (
        BAD_ROW,
        byline_ids[BAD_ROW - 1],
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    )
    assert all(o.id == byline_ids[o.row - 1] for o in sink.succeeded)

    usage = org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == summary.api_calls == summary.total_calls
    assert summary.api_calls == expected_calls(name, n, summary.calls_by_phase)
    assert usage["DailyBulkApiBatches"]["used"] == summary.batches == (0 if BASELINES[name].family == "rest" else 1)

    stored = {r["Id"]: r for r in org.admin.iter_records("Byline__c", ["Id", "Name", "Tweets__c"])}
    wrong = [
        k
        for k in range(n)
        if k + 1 != BAD_ROW
        and (stored[byline_ids[k]]["Name"], stored[byline_ids[k]]["Tweets__c"]) != (f"{tag}-{k}", float(k))
    ]
    assert wrong == []
    assert stored[byline_ids[BAD_ROW - 1]]["Name"] != f"{tag}-{BAD_ROW - 1}"


def test_bulk2_baseline_takes_a_plain_csv_file_as_it_is(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["Id", "Likes__c"])
        for k in range(120):
            writer.writerow([byline_ids[k], 1000 + k])
    sink = MemorySink()
    strategy = registry.get("simple-salesforce:bulk2", new_session(), include_baselines=True, time_scale=FAST)
    summary = strategy.update("Byline__c", CsvRecords(path), sink)
    assert (summary.submitted, summary.succeeded) == (120, 120)
    assert [o.row for o in sink.outcomes] == list(range(1, 121))
    assert summary.calls_by_phase.get("results", 0) == 0  # nothing failed: no result download
    stored = {r["Id"]: r["Likes__c"] for r in org.admin.iter_records("Byline__c", ["Id", "Likes__c"])}
    assert [stored[byline_ids[k]] for k in range(120)] == [1000.0 + k for k in range(120)]


def test_records_the_library_never_reports_are_unprocessed_not_successes(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """simple-salesforce:bulk maps results by position; a short result list leaves rows NOT_REPORTED."""
    from simple_salesforce.bulk import SFBulkType

    real = SFBulkType.update

    def drop_last(self: Any, data: Any, **kw: Any) -> Any:  # what the batch_size='auto' bug does to a trailing record
        return list(real(self, data, **kw))[:-1]

    monkeypatch.setattr(SFBulkType, "update", drop_last)
    records = [{"Id": byline_ids[k], "Tweets__c": k} for k in range(30)]
    sink = MemorySink()
    summary = registry.get("simple-salesforce:bulk", new_session(), include_baselines=True, time_scale=FAST).update(
        "Byline__c", records, sink
    )
    assert (summary.succeeded, summary.unprocessed) == (29, 1)
    (missing,) = sink.unprocessed
    assert (missing.row, missing.id, missing.error_code) == (30, byline_ids[29], NOT_REPORTED)


def test_registry_keeps_baselines_apart() -> None:
    ours = registry.names()
    assert not any(registry.is_baseline(n) for n in ours)
    assert registry.names(include_baselines=True) == ours + registry.baseline_names()
    assert registry.baseline_names() == [
        "simple-salesforce:rest",
        "simple-salesforce:collections",
        "simple-salesforce:bulk",
        "simple-salesforce:bulk2",
        "salesforce-bulk:xml",
    ]
    assert {n: registry.FAMILIES[n] for n in registry.baseline_names()} == {
        "simple-salesforce:rest": "rest",
        "simple-salesforce:collections": "rest",
        "simple-salesforce:bulk": "bulk1",
        "simple-salesforce:bulk2": "bulk2",
        "salesforce-bulk:xml": "bulk1",
    }
    session = OrgSession("https://unused.example", "t")
    with pytest.raises(ConfigurationError, match="include_baselines"):
        registry.get("simple-salesforce:bulk2", session)
    assert registry.get("simple-salesforce:bulk2", session, include_baselines=True).validate is False


@pytest.mark.parametrize(
    "method, url, body, expected",
    [
        ("PATCH", "https://h/services/data/v62.0/sobjects/Byline__c/a015g0000000001AAA", None, ("dml", "rest")),
        ("PATCH", "https://h/services/data/v62.0/composite/sobjects", None, ("dml", "rest")),
        ("GET", "https://h/services/data/v62.0/limits/", None, ("limits", "rest")),
        ("GET", "https://h/services/data/", None, ("auth", "auth")),
        ("POST", "https://h/services/oauth2/token", None, ("auth", "auth")),
        ("POST", "https://h/services/async/40.0/job", b"<jobInfo/>", ("create", "bulk1")),
        ("POST", "https://h/services/async/62.0/job/750x/batch", b"[...]", ("upload", "bulk1")),
        ("POST", "https://h/services/async/62.0/job/750x", b'{"state": "Closed"}', ("close", "bulk1")),
        ("POST", "https://h/services/async/62.0/job/750x", b"<state>Aborted</state>", ("abort", "bulk1")),
        ("GET", "https://h/services/async/62.0/job/750x/batch/751x", None, ("poll", "bulk1")),
        ("GET", "https://h/services/async/62.0/job/750x/batch/751x/result", None, ("results", "bulk1")),
        ("POST", "https://h/services/data/v62.0/jobs/ingest/", b"{}", ("create", "bulk2")),
        ("PUT", "https://h/services/data/v62.0/jobs/ingest/750x/batches", b"Id\n", ("upload", "bulk2")),
        ("PATCH", "https://h/services/data/v62.0/jobs/ingest/750x", b'{"state": "UploadComplete"}', ("close", "bulk2")),
        ("PATCH", "https://h/services/data/v62.0/jobs/ingest/750x", b'{"state": "Aborted"}', ("abort", "bulk2")),
        ("GET", "https://h/services/data/v62.0/jobs/ingest/750x", None, ("poll", "bulk2")),
        ("GET", "https://h/services/data/v62.0/jobs/ingest/750x/failedResults/", None, ("results", "bulk2")),
    ],
)
def test_requests_are_classified_as_the_org_counts_them(
    method: str, url: str, body: Any, expected: tuple[str, str]
) -> None:
    assert classify(method, url, body) == expected


def test_patches_are_undone_after_the_run() -> None:
    import simple_salesforce.bulk as ss_bulk

    original_send, original_sleep = HTTPAdapter.send, ss_bulk.sleep
    session = OrgSession("https://unused.example", "t")
    with pytest.raises(RuntimeError), patched_requests(session), scaled_sleep(ss_bulk, 10.0):
        assert HTTPAdapter.send is not original_send and ss_bulk.sleep is not original_sleep
        raise RuntimeError("boom")
    assert HTTPAdapter.send is original_send and ss_bulk.sleep is original_sleep
    assert requests.adapters.HTTPAdapter.send is original_send


def test_compare_adds_baselines_and_scales_their_waits() -> None:
    from harness.commands.compare import _strategies
    from harness.strategy_options import scaled_options
    from strategies.polling import PollPolicy

    assert _strategies("bulk2-csv", baselines=True) == ["bulk2-csv", *registry.baseline_names()]
    assert _strategies("bulk2-csv,simple-salesforce:bulk2") == ["bulk2-csv", "simple-salesforce:bulk2"]
    assert scaled_options("simple-salesforce:bulk", 20.0) == {"time_scale": 20.0}
    assert scaled_options("simple-salesforce:bulk", 1.0) == {}
    assert scaled_options("bulk2-csv", 20.0) == {"poll_policy": PollPolicy().scaled(1 / 20.0)}
