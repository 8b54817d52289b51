"""The library baselines' own upsert calls against the emulated org (#15): simple-salesforce's
``sf.<Object>.upsert``, Collections through ``restful``, ``sf.bulk.<Object>.upsert`` and
``sf.bulk2.<Object>.upsert``; salesforce-bulk's ``create_upsert_job``.

Each run mixes keys of existing records, new keys and one row the org rejects (a negative count fails the
validation rule). The stored data (the emulator's ground truth) must hold exactly one record per key with
the values sent, existing records keep their Ids, each success says created or updated as the library
reported it, and the calls metered equal the org's own counter and the baseline's upsert formula.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strategies import MemorySink, OrgSession, registry
from strategies.baselines import BASELINES
from strategies.baselines.common import NOT_SENDABLE

from .conftest import unique_tag

pytest.importorskip("simple_salesforce")
pytest.importorskip("salesforce_bulk")

FAST = 100.0  # time_scale: the libraries' 5 s and 10 s waits become 50 and 100 ms
KEY = "Url__c"
EXISTING, NEW = 12, 8
BAD_ROW = 3  # 1-based: an existing key whose Tweets__c is negative (rejected by the validation rule)


def _insert(session: OrgSession, keys: list[str]) -> dict[str, str]:
    """Create one record per key through a plain Collections insert; key -> Id."""
    records = [{"attributes": {"type": "Byline__c"}, "Name": key, KEY: key, "Tweets__c": 0} for key in keys]
    answer = session.request(
        "POST",
        session.rest_url("composite/sobjects"),
        family="rest",
        json_body={"allOrNone": True, "records": records},
    ).json()
    return {key: result["id"] for key, result in zip(keys, answer, strict=True)}


def _stored(org: Any, tag: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for rec in org.admin.iter_records("Byline__c", ["Id", KEY, "Name", "Tweets__c"]):
        if str(rec.get(KEY) or "").startswith(tag):
            found.setdefault(rec[KEY], []).append(rec)
    return found


def _expected_calls(name: str, n: int, phases: dict[str, int]) -> int:
    cls = BASELINES[name]
    polls = phases.get("poll", 0)
    if name == "simple-salesforce:bulk2":  # the poll phase holds wait_for_job's GETs plus the final get_job
        return cls.api_calls(n, polls=polls - 1, jobs_with_failures=1, operation="upsert").total
    return cls.api_calls(n, polls=polls, operation="upsert").total


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_upserts_with_its_library_call(org: Any, new_session: Callable[..., OrgSession], name: str) -> None:
    tag = f"upsert-{unique_tag()}-{name.replace(':', '-')}-"
    existing = [f"{tag}e{k:03d}" for k in range(EXISTING)]
    new = [f"{tag}n{k:03d}" for k in range(NEW)]
    ids = _insert(new_session(), existing)
    org.admin.reset_usage()
    keys = existing + new
    records = [
        {KEY: key, "Name": f"{key} v2", "Tweets__c": -1 if row == BAD_ROW else 100 + row}
        for row, key in enumerate(keys, start=1)
    ]
    sink = MemorySink()
    strategy = registry.get(
        name, new_session(), include_baselines=True, time_scale=FAST, operation="upsert", external_id=KEY
    )
    summary = strategy.update("Byline__c", iter(records), sink)

    n = len(keys)
    assert (summary.succeeded, summary.failed, summary.unprocessed, summary.pending) == (n - 1, 1, 0, 0)
    assert (summary.created, summary.updated, summary.created_unknown) == (NEW, EXISTING - 1, 0)
    assert summary.operation == "upsert" and summary.external_id == KEY
    (failed,) = sink.failed
    assert (failed.row, failed.error_code) == (BAD_ROW, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    for outcome in sink.succeeded:  # each success as the library reported it
        assert outcome.created is (keys[outcome.row - 1] in new), outcome

    usage = org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == summary.api_calls
    assert summary.api_calls == _expected_calls(name, n, summary.calls_by_phase)

    stored = _stored(org, tag)
    assert sorted(stored) == sorted(keys) and all(len(v) == 1 for v in stored.values())  # one record per key
    for row, key in enumerate(keys, start=1):
        record = stored[key][0]
        if row == BAD_ROW:
            assert (record["Name"], record["Tweets__c"]) == (key, 0)  # rejected: left as it was
            continue
        assert (record["Name"], record["Tweets__c"]) == (f"{key} v2", 100 + row)
        if key in ids:
            assert record["Id"] == ids[key]  # updated in place


def test_simple_salesforce_rest_refuses_keys_it_would_put_in_the_url_unencoded(
    org: Any, new_session: Callable[..., OrgSession]
) -> None:
    tag = f"upsert-{unique_tag()}-raw-"
    keys = [f"{tag}plain", f"{tag}a/b", f"{tag}what?", f"{tag}x#y", f"{tag}100%"]
    records = [{KEY: key, "Name": "raw", "Tweets__c": 1} for key in keys]
    org.admin.reset_usage()
    sink = MemorySink()
    strategy = registry.get(
        "simple-salesforce:rest", new_session(), include_baselines=True, operation="upsert", external_id=KEY
    )
    summary = strategy.update("Byline__c", iter(records), sink)

    assert (summary.succeeded, summary.failed, summary.created) == (1, 4, 1)
    refused = {keys[o.row - 1]: o for o in sink.failed}
    assert sorted(refused) == sorted(keys[1:])
    assert all(o.error_code == NOT_SENDABLE for o in refused.values())
    assert "'/'" in refused[f"{tag}a/b"].message and "unencoded" in refused[f"{tag}what?"].message
    assert org.admin.usage()["DailyApiRequests"]["used"] == summary.api_calls == 1  # no call for a refused row
    assert sorted(_stored(org, tag)) == [f"{tag}plain"]
