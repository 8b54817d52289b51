"""The org-profile format: loading, validation, overrides, the docs table, and request kinds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emulator.profiles import (
    COUNTED_KINDS,
    ProfileError,
    builtin_names,
    get_profile,
    profile_from_document,
    save_profile,
)
from emulator.request_kinds import REQUEST_KINDS, request_kind

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "org-profile.md"


def _doc(**sections) -> dict:
    return {"format": "sfharness-org-profile", "version": 1, "name": "t", **sections}


def test_builtins_are_files_of_the_format():
    assert builtin_names() == ["heavy-automation", "instant", "realistic"]
    realistic, instant = get_profile("realistic"), get_profile("instant")
    assert realistic.timings.bulk2_queue_median_s == 5.0 and realistic.timings.bulk_parallelism == 10
    assert instant.timings.bulk_parallelism == 1 and not instant.has_delays and realistic.has_delays
    # instant.json states timings only: its counting rules are realistic's.
    assert instant.counting == realistic.counting
    assert set(realistic.counting.requests) == set(COUNTED_KINDS)
    assert realistic.counting.composite_batch_total(25) == 25
    heavy = get_profile("heavy-automation")
    assert heavy.timings.bulk2_per_record_ms == heavy.timings.sync_per_record_ms == 40.0
    assert heavy.timings.bulk2_batch_time_limit_s == realistic.timings.bulk2_batch_time_limit_s == 300.0


def test_a_partial_file_takes_realistic_values(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            _doc(
                counting={"requests": {"bulk2.status": 0}, "composite_batch_calls": "N+1"},
                timings={"bulk2_per_record_ms": 20},
            )
        )
    )
    mine = get_profile(str(path))
    realistic = get_profile("realistic")
    assert mine.name == "t" and mine.counting.calls("bulk2.status") == 0 and mine.counting.calls("bulk2.create") == 1
    assert mine.counting.composite_batch_total(3) == 4
    assert (
        mine.timings.bulk2_per_record_ms == 20.0
        and mine.timings.bulk1_per_record_ms == realistic.timings.bulk1_per_record_ms
    )


def test_round_trip_through_a_file(tmp_path):
    original = get_profile("realistic", 20, **{"bulk2.status": 0, "usage_report_lag_s": 1.5, "bulk_queue_p90_s": 5.0})
    assert original.timings.bulk1_queue_p90_s == original.timings.bulk2_queue_p90_s == 5.0
    path = save_profile(original, tmp_path / "p.json")
    assert get_profile(str(path)) == original


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": "other"}, "format: expected 'sfharness-org-profile'"),
        ({"version": 2}, "version: this sfharness reads version 1 profiles, got 2"),
        ({"speed": 1}, "speed: unknown field"),
        ({"timings": {"bulk2_per_record_ms": -1}}, "timings.bulk2_per_record_ms: must be at least 0, got -1"),
        ({"timings": {"bulk2_per_record_ms": "fast"}}, "timings.bulk2_per_record_ms: expected a number, got 'fast'"),
        ({"timings": {"bulk_parallelism": 0}}, "timings.bulk_parallelism: must be at least 1"),
        ({"timings": {"bulk_parallelism": 2.5}}, "timings.bulk_parallelism: expected a whole number"),
        ({"timings": {"bulk3_per_record_ms": 1}}, "timings.bulk3_per_record_ms: unknown field"),
        ({"counting": {"requests": {"bulk2.poll": 0}}}, "counting.requests.bulk2.poll: unknown field"),
        ({"counting": {"requests": {"bulk2.status": True}}}, "counting.requests.bulk2.status: expected a whole number"),
        (
            {"counting": {"composite_batch_calls": "2N"}},
            "counting.composite_batch_calls: expected one of '1', 'N', 'N+1'",
        ),
        ({"counting": []}, "counting: expected an object"),
        ({"name": ""}, "name: expected a non-empty text"),
    ],
)
def test_validation_names_the_field(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**_doc(), **change}))
    with pytest.raises(ProfileError) as err:
        get_profile(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_unreadable_sources_are_named(tmp_path):
    with pytest.raises(ProfileError, match="unknown profile 'nope': not a built-in profile"):
        get_profile("nope")
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(ProfileError, match=r"broken\.json: not valid JSON"):
        get_profile(str(bad))
    with pytest.raises(ProfileError, match="unknown profile parameter 'bulk_speed'"):
        get_profile("instant", bulk_speed=1)


def test_realistic_must_be_complete():
    doc = json.loads((ROOT / "emulator" / "org_profiles" / "realistic.json").read_text())
    del doc["timings"]["rtt_ms"]
    with pytest.raises(ProfileError, match=r"timings\.rtt_ms: missing"):
        profile_from_document(doc, origin="realistic.json", complete=True)


def test_the_docs_list_every_field_with_its_default():
    """docs/org-profile.md has one table row per field whose default is realistic.json's value."""
    rows: dict[str, str] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z0-9_.]+)` \| [^|]+ \| ([^|]+) \|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip().strip("`").strip('"')
    doc = get_profile("realistic").to_document()
    expected = {
        **{k: v for k, v in doc["counting"]["requests"].items()},
        **{k: v for k, v in doc["counting"].items() if k != "requests"},
        **doc["timings"],
    }
    for name, value in expected.items():
        assert name in rows, f"docs/org-profile.md has no row for {name}"
        assert rows[name] == str(value), (name, rows[name], value)
    assert set(REQUEST_KINDS) - {"rest.composite_batch"} <= set(rows)


@pytest.mark.parametrize(
    "family, method, path, kind",
    [
        ("rest", "PATCH", "/services/data/v62.0/sobjects/Byline__c/a005g000001AAAAAA", "rest.sobject_write"),
        ("rest", "POST", "/services/data/v62.0/sobjects/Byline__c", "rest.sobject_write"),
        ("rest", "GET", "/services/data/v62.0/sobjects/Byline__c/a005g000001AAAAAA", "rest.sobject_read"),
        ("rest", "GET", "/services/data/v62.0/sobjects/Byline__c/describe/", "rest.describe"),
        ("rest", "GET", "/services/data/v62.0/sobjects", "rest.describe"),
        ("rest", "GET", "/services/data/v62.0/query", "rest.query"),
        ("rest", "GET", "/services/data/v62.0/query/01g5g00000AAAAAAAA-2000", "rest.query_more"),
        ("rest", "PATCH", "/services/data/v62.0/composite/sobjects", "rest.collections"),
        ("rest", "POST", "/services/data/v62.0/composite", "rest.composite"),
        ("rest", "POST", "/services/data/v62.0/composite/batch", "rest.composite_batch"),
        ("rest", "POST", "/services/data/v62.0/composite/tree/Account", "rest.other"),
        ("rest", "GET", "/services/data/v62.0/limits/", "rest.limits"),
        ("bulk2", "POST", "/services/data/v62.0/jobs/ingest", "bulk2.create"),
        ("bulk2", "GET", "/services/data/v62.0/jobs/ingest", "bulk2.other"),
        ("bulk2", "PUT", "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA/batches", "bulk2.upload"),
        ("bulk2", "PATCH", "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA", "bulk2.close"),
        ("bulk2", "GET", "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA", "bulk2.status"),
        ("bulk2", "DELETE", "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA", "bulk2.other"),
        (
            "bulk2",
            "GET",
            "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA/successfulResults/",
            "bulk2.successful_results",
        ),
        ("bulk2", "GET", "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA/failedResults", "bulk2.failed_results"),
        (
            "bulk2",
            "GET",
            "/services/data/v62.0/jobs/ingest/7505g000001AAAAAA/unprocessedRecords",
            "bulk2.unprocessed_records",
        ),
        ("bulk2", "POST", "/services/data/v62.0/jobs/query", "bulk2.query"),
        ("bulk1", "POST", "/services/async/62.0/job", "bulk1.create"),
        ("bulk1", "POST", "/services/async/62.0/job/7505g000001AAAAAA", "bulk1.close"),
        ("bulk1", "GET", "/services/async/62.0/job/7505g000001AAAAAA", "bulk1.status"),
        ("bulk1", "POST", "/services/async/62.0/job/7505g000001AAAAAA/batch", "bulk1.upload"),
        ("bulk1", "GET", "/services/async/62.0/job/7505g000001AAAAAA/batch", "bulk1.batch_list"),
        ("bulk1", "GET", "/services/async/62.0/job/7505g000001AAAAAA/batch/7515g000001AAAAAA", "bulk1.status"),
        ("bulk1", "GET", "/services/async/62.0/job/7505g000001AAAAAA/batch/7515g000001AAAAAA/result", "bulk1.result"),
        ("bulk1", "GET", "/services/async/62.0/job/7505g000001AAAAAA/batch/7515g000001AAAAAA/request", "bulk1.other"),
        ("login", "POST", "/services/oauth2/token", "login"),
    ],
)
def test_request_kinds(family, method, path, kind):
    assert request_kind(family, method, path) == kind
    assert kind in REQUEST_KINDS
