"""Property: for any mix of existing, new and repeated keys (in any case), upsert through REST, Collections or
Bulk API 2.0 gives every row exactly one outcome, the one the documented rules predict, and leaves the org
holding exactly one record per key; the counters move as for the update counterpart of the same requests.

The rules, as a reference model: keys of Byline__c.Url__c (unique, case-insensitive) match whatever their
case; within one call (a Collections request, a Bulk transaction) every row naming a key twice fails
DUPLICATE_VALUE; a negative count fails the validation rule; otherwise a known key updates and an unknown
one creates. REST sends one request per row, so a repeated key there creates once and then updates.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXISTING = ["Key-A", "key-b", "KEY-C"]
NEW = ["new-x", "New-Y", "NEW-Z"]


@dataclass(frozen=True)
class Row:
    key: str
    tweets: int


def _case(key: str, how: str) -> str:
    return {"as is": key, "lower": key.lower(), "upper": key.upper()}[how]


rows_strategy = st.lists(
    st.builds(
        lambda key, how, tweets: Row(_case(key, how), tweets),
        st.sampled_from(EXISTING + NEW),
        st.sampled_from(["as is", "lower", "upper"]),
        st.integers(-1, 50),
    ),
    min_size=1,
    max_size=12,
)


def _expected(rows: list[Row], one_call: bool) -> list[str]:
    """Each row's outcome under the rules: "created", "updated", "DUPLICATE_VALUE" or "FIELD_CUSTOM_VALIDATION_EXCEPTION"."""
    known = {k.lower() for k in EXISTING}
    repeated = Counter(r.key.lower() for r in rows)
    out = []
    for row in rows:
        folded = row.key.lower()
        if one_call and repeated[folded] > 1:
            out.append("DUPLICATE_VALUE")
        elif row.tweets < 0:
            out.append("FIELD_CUSTOM_VALIDATION_EXCEPTION")
        elif folded in known:
            out.append("updated")
        else:
            out.append("created")
            known.add(folded)
    return out


def _prepare(api) -> dict[str, str]:
    """A clean org holding one record per EXISTING key (their keys set through the free admin seeding plus
    updates whose cost is then forgotten); returns the record ids by folded key."""
    api.org.admin.reset()
    ids = api.org.admin.seed("Byline__c", len(EXISTING), return_ids=True)["ids"]
    for rid, key in zip(ids, EXISTING, strict=True):
        assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Url__c": key}).status_code == 204
    api.org.admin.reset_usage()
    return {key.lower(): rid for rid, key in zip(ids, EXISTING, strict=True)}


def _check_org(api, rows: list[Row], outcomes: list[str], before: dict[str, str]) -> None:
    """One record per key; the existing ones kept their ids; each key holds the last successful row's count."""
    stored = api.org.admin.records("Byline__c", ["Id", "Url__c", "Tweets__c", "Name"])
    folded = Counter(r["Url__c"].lower() for r in stored)
    assert all(n == 1 for n in folded.values()), folded
    created = {rows[i].key.lower() for i, o in enumerate(outcomes) if o == "created"}
    assert set(folded) == set(before) | created
    by_key = {r["Url__c"].lower(): r for r in stored}
    assert all(by_key[key]["Id"] == rid for key, rid in before.items())
    for i, outcome in enumerate(outcomes):
        later = [
            j
            for j in range(i + 1, len(rows))
            if rows[j].key.lower() == rows[i].key.lower() and outcomes[j] in ("created", "updated")
        ]
        if outcome in ("created", "updated") and not later:
            assert (by_key[rows[i].key.lower()]["Tweets__c"], by_key[rows[i].key.lower()]["Name"]) == (
                rows[i].tweets,
                f"row-{i}",
            )


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(rows=rows_strategy)
def test_rest_upserts_row_by_row(api, rows):
    before = _prepare(api)
    got = []
    for i, row in enumerate(rows):
        resp = api.rest(
            "PATCH", f"/sobjects/Byline__c/Url__c/{row.key}", json={"Name": f"row-{i}", "Tweets__c": row.tweets}
        )
        body = resp.json()
        if resp.status_code in (200, 201):
            assert body["success"] is True and body["created"] is (resp.status_code == 201)
            got.append("created" if body["created"] else "updated")
        else:
            assert resp.status_code == 400 and len(body) == 1, body
            got.append(body[0]["errorCode"])
    expected = _expected(rows, one_call=False)
    assert got == expected
    _check_org(api, rows, expected, before)
    assert api.used() == len(rows)  # one request per row, as a per-record update


@PROPERTY
@given(rows=rows_strategy, all_or_none=st.booleans())
def test_collections_upsert_one_request(api, rows, all_or_none):
    before = _prepare(api)
    records = [
        {"attributes": {"type": "Byline__c"}, "Url__c": r.key, "Name": f"row-{i}", "Tweets__c": r.tweets}
        for i, r in enumerate(rows)
    ]
    results = api.rest(
        "PATCH", "/composite/sobjects/Byline__c/Url__c", json={"allOrNone": all_or_none, "records": records}
    ).json()
    assert len(results) == len(rows)
    got = []
    for result in results:
        assert result["success"] is not bool(result["errors"])
        got.append(
            ("created" if result["created"] else "updated") if result["success"] else result["errors"][0]["statusCode"]
        )
    expected = _expected(rows, one_call=True)
    if all_or_none and any(o not in ("created", "updated") for o in expected):
        expected = [o if o not in ("created", "updated") else "ALL_OR_NONE_OPERATION_ROLLED_BACK" for o in expected]
    assert got == expected
    _check_org(api, rows, expected, before)
    assert api.used() == 1  # one request, as a Collections update


@PROPERTY
@given(rows=rows_strategy)
def test_bulk2_upsert_job(api, wait, rows):
    before = _prepare(api)
    job = api.bulk2(
        "POST", "/ingest", json={"object": "Byline__c", "operation": "upsert", "externalIdFieldName": "Url__c"}
    ).json()["id"]
    data = "Url__c,Name,Tweets__c\n" + "".join(f"{r.key},row-{i},{r.tweets}\n" for i, r in enumerate(rows))
    assert (
        api.bulk2("PUT", f"/ingest/{job}/batches", data=data.encode(), headers={"Content-Type": "text/csv"}).status_code
        == 201
    )
    assert api.bulk2("PATCH", f"/ingest/{job}", json={"state": "UploadComplete"}).status_code == 200
    # Awaited through the free admin API: the count below holds no status polls.
    wait(
        lambda: any(j["id"] == job and j["state"] == "JobComplete" for j in api.org.admin.jobs()["bulk2_ingest"]),
        what="job",
    )
    files = {
        kind: list(csv.DictReader(io.StringIO(api.bulk2("GET", f"/ingest/{job}/{kind}/").content.decode())))
        for kind in ("successfulResults", "failedResults", "unprocessedrecords")
    }
    outcome: dict[str, str] = {}
    for kind, found in files.items():
        for r in found:
            assert r["Name"] not in outcome, f"{r['Name']} has two outcomes"
            if kind == "successfulResults":
                outcome[r["Name"]] = "created" if r["sf__Created"] == "true" else "updated"
            elif kind == "failedResults":
                outcome[r["Name"]] = r["sf__Error"].split(":", 1)[0]
            else:
                outcome[r["Name"]] = "unprocessed"
    expected = _expected(rows, one_call=True)
    assert [outcome.get(f"row-{i}") for i in range(len(rows))] == expected
    _check_org(api, rows, expected, before)
    usage = api.org.admin.usage()
    # create, upload, close and three result files: the requests of an update job; one internal batch.
    assert (usage["DailyApiRequests"]["used"], usage["DailyBulkApiBatches"]["used"]) == (6, 1)


@pytest.mark.parametrize(
    "rows, one_call, expected",
    [
        ([Row("new-x", 1), Row("NEW-X", 2)], True, ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]),
        ([Row("new-x", 1), Row("NEW-X", 2)], False, ["created", "updated"]),
        ([Row("key-a", -1), Row("key-b", 3)], True, ["FIELD_CUSTOM_VALIDATION_EXCEPTION", "updated"]),
    ],
)
def test_the_reference_model_itself(rows, one_call, expected):
    assert _expected(rows, one_call) == expected
