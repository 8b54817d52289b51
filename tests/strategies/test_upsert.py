"""Upsert by an external id through every strategy (#15), against the real emulator over HTTPS.

Each run is checked against the emulator's ground truth (`/_emulator/records`): existing records hold the
values written, new ones were created with them, every key names exactly one record, and the summary and
each success say which were created. The org here is a small one of its own (upserts create records, which
the shared org's counts must not see).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from strategies import MemorySink, OrgSession, RecordValidationError, RunFailed, get, resume_run
from strategies.errors import ConfigurationError
from strategies.operation import Operation
from strategies.sinks import SUCCEEDED

from .conftest import FAST_POLL, NO_BACKOFF, unique_tag

STRATEGIES = ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv", "auto"]
KEY = "Url__c"
SEEDED = 300
V = "vXX.X"


@pytest.fixture(scope="module")
def upsert_org() -> Iterator[Any]:
    emulator_server = pytest.importorskip("emulator.server")
    with emulator_server.run_org(profile="instant", edition="enterprise", seed={"Byline__c": SEEDED}) as org:
        yield org


@pytest.fixture()
def session(upsert_org: Any) -> Iterator[OrgSession]:
    upsert_org.admin.configure(faults={}, profile="instant")
    made = OrgSession(upsert_org.instance_url, upsert_org.access_token, ca_file=upsert_org.ca_file, retry=NO_BACKOFF)
    yield made
    made.close()
    upsert_org.admin.configure(faults={}, profile="instant")


def make(session: OrgSession, name: str, **options: Any) -> Any:
    if name in ("bulk1-xml", "bulk2-csv"):
        options.setdefault("poll_policy", FAST_POLL)
    if name == "auto":
        options.setdefault("bulk2_options", {"poll_policy": FAST_POLL})
    return get(name, session, operation="upsert", external_id=KEY, **options)


def stored(org: Any, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Stored records whose key starts with `prefix`, by key (a list: exactly one is expected per key)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for record in org.admin.records("Byline__c", ["Id", KEY, "Name", "Tweets__c"]):
        if str(record.get(KEY) or "").startswith(prefix):
            found.setdefault(record[KEY], []).append(record)
    return found


def upsert(strategy: Any, records: list[dict[str, Any]]) -> tuple[Any, MemorySink]:
    sink = MemorySink()
    with strategy:
        summary = strategy.update("Byline__c", records, sink)
    return summary, sink


@pytest.mark.parametrize("name", STRATEGIES)
def test_existing_records_are_updated_and_new_ones_created(upsert_org: Any, session: OrgSession, name: str) -> None:
    """30 records made by a first upsert (all created), then 20 of them changed and 25 new ones: the org
    holds every value sent, one record per key, and the counts and flags say which were created."""
    tag = unique_tag() + name
    prefix = f"key-{tag}-"
    first = [{KEY: f"{prefix}{n}", "Name": f"{tag} first {n}", "Tweets__c": n} for n in range(30)]
    summary, sink = upsert(make(session, name), first)
    assert (summary.succeeded, summary.created, summary.updated) == (30, 30, 0), summary.notes
    made = {o.row: o.id for o in sink.outcomes}

    second = [{KEY: f"{prefix}{n}", "Name": f"{tag} second {n}", "Tweets__c": 1000 + n} for n in range(10, 55)]
    summary, sink = upsert(make(session, name), second)
    assert summary.submitted == summary.succeeded == 45, summary.notes
    assert (summary.created, summary.updated, summary.created_unknown) == (25, 20, 0)
    assert summary.operation == "upsert" and summary.external_id == KEY

    held = stored(upsert_org, prefix)
    assert len(held) == 55 and all(len(records) == 1 for records in held.values())
    for outcome in sink.outcomes:
        record = second[outcome.row - 1]
        assert outcome.status == SUCCEEDED
        assert outcome.created == (record["Tweets__c"] >= 1030)
        (mine,) = held[record[KEY]]
        assert outcome.id is not None and outcome.id[:15] == mine["Id"][:15]
        assert (mine["Name"], mine["Tweets__c"]) == (record["Name"], record["Tweets__c"])
        if not outcome.created:  # the record the first run made, not a new one
            assert made[outcome.row + 10][:15] == mine["Id"][:15]
    untouched = [held[f"{prefix}{n}"][0] for n in range(10)]
    assert all(r["Name"] == f"{tag} first {r['Tweets__c']:.0f}" for r in untouched)


@pytest.mark.parametrize("name", ["collections", "composite", "bulk1-xml", "bulk2-csv"])
def test_seeded_keys_holding_slashes_are_upserted_in_the_body(upsert_org: Any, session: OrgSession, name: str) -> None:
    """The seeded keys are URLs (``https://example.com/articles/{n}``): every API that carries the key in the
    body matches them, whatever their case (the key is a unique text field: case folds)."""
    tag = unique_tag()
    picked = {"collections": range(1, 11), "composite": range(11, 21), "bulk1-xml": range(21, 31)}
    numbers = picked.get(name, range(31, 41))
    records = [
        {KEY: f"HTTPS://example.com/articles/{n}", "Name": f"{tag}-{n}"} for n in numbers
    ]  # upper case: matched without case
    records.append({KEY: f"https://example.com/new/{tag}", "Name": f"{tag}-new"})
    summary, _sink = upsert(make(session, name), records)
    assert (summary.created, summary.updated) == (1, 10), summary.notes
    by_key = {str(r[KEY]).lower(): r for r in upsert_org.admin.records("Byline__c", ["Id", KEY, "Name"])}
    for record in records:
        assert by_key[record[KEY].lower()]["Name"] == record["Name"]


def test_rest_refuses_a_key_it_cannot_put_in_a_path_before_any_call(session: OrgSession) -> None:
    records = [{KEY: "plain-key", "Name": "a"}, {KEY: "https://example.com/articles/3", "Name": "b"}, {KEY: ".."}]
    strategy = make(session, "rest")
    with strategy, pytest.raises(RecordValidationError) as refused:
        strategy.update("Byline__c", records, MemorySink())
    problems = [(p.row, p.field) for p in refused.value.problems]
    assert problems == [(2, KEY), (3, KEY)]
    assert "'/'" in refused.value.problems[0].reason
    assert session.meter.snapshot().total == 0


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([{"Name": "no key"}], [(1, KEY, "no value for Url__c")]),
        ([{KEY: "  ", "Name": "blank"}], [(1, KEY, "no value for Url__c")]),
        ([{KEY: None}], [(1, KEY, "no value for Url__c")]),
        ([{KEY: "k1", "Id": "a0B000000000001AAA"}], [(1, "Id", "an upsert matches records on Url__c")]),
        ([{KEY: True}], [(1, KEY, "must be text or a number")]),
        ([{KEY: "Dup-1"}, {KEY: "x"}, {KEY: "dup-1"}], [(3, KEY, "the same Url__c as row 1")]),
    ],
)
def test_upsert_rows_are_checked_before_any_call(
    session: OrgSession, records: list[dict[str, Any]], expected: list[tuple[int, str, str]]
) -> None:
    for name in ("collections", "bulk2-csv"):
        strategy = make(session, name, describe=True)
        with strategy, pytest.raises(RecordValidationError) as refused:
            strategy.update("Byline__c", records, MemorySink())
        found = [(p.row, p.field, p.reason) for p in refused.value.problems]
        assert [(row, field) for row, field, _ in found] == [(row, field) for row, field, _ in expected]
        assert all(want in reason for (_, _, reason), (_, _, want) in zip(found, expected, strict=True))
    assert session.meter.snapshot().by_phase() == {"describe": 2}


def test_a_case_sensitive_reading_tells_keys_apart() -> None:
    folding = Operation.parse("upsert", KEY)
    exact = Operation.parse("upsert", KEY).described(
        [{"name": KEY, "type": "string", "unique": True, "caseSensitive": True, "externalId": True}]
    )
    assert folding.match_key("ABC") == folding.match_key("abc")
    assert exact.match_key("ABC") != exact.match_key("abc")
    assert (
        not Operation.parse("upsert", KEY).described([{"name": KEY, "type": "string", "externalId": True}]).folds_case
    )


@pytest.mark.parametrize(
    ("operation", "external_id", "message"),
    [
        ("merge", None, "operation must be one of"),
        ("upsert", None, "needs external_id"),
        ("upsert", "Id", "an upsert by Id is an update"),
        ("upsert", "Url__c; DROP", "not a field API name"),
        ("update", KEY, "pass operation='upsert'"),
    ],
)
def test_every_strategy_reads_the_options_the_same_way(
    session: OrgSession, operation: str, external_id: str | None, message: str
) -> None:
    for name in STRATEGIES:
        with pytest.raises(ConfigurationError, match=message):
            get(name, session, operation=operation, external_id=external_id)


@pytest.mark.parametrize("field", ["Name", "Nope__c"])
def test_a_field_upsert_cannot_match_on_is_refused_before_any_write(session: OrgSession, field: str) -> None:
    strategy = get("composite", session, operation="upsert", external_id=field, describe=True)
    with strategy, pytest.raises(ConfigurationError, match=r"external id|no field"):
        strategy.update("Byline__c", [{field: "x"}], MemorySink())
    assert session.meter.snapshot().by_phase() == {"describe": 1}


@pytest.mark.parametrize(
    ("name", "kind", "options"),
    [
        ("rest", f"PATCH /services/data/{V}/sobjects/Byline__c/{KEY}/{{value}}", {}),
        ("collections", f"PATCH /services/data/{V}/composite/sobjects/Byline__c/{KEY}", {"batch_size": 5}),
    ],
)
def test_a_lost_answer_is_read_back_by_key_and_created_is_unknown(
    upsert_org: Any, session: OrgSession, name: str, kind: str, options: dict[str, Any]
) -> None:
    """Every attempt at the 2nd request loses its answer after the org applied it: the read-back by key
    finds the records holding the values sent: succeeded, with the org's Id, created unknown."""
    tag = unique_tag()
    records = [{KEY: f"lost-{tag}-{n}", "Name": f"{tag}-{n}"} for n in range(10)]
    upsert_org.admin.configure(faults={"response_faults": [f"lose:{2 + k}:{kind}" for k in range(4)]})
    sink = MemorySink()
    with make(session, name, concurrency=1, **options) as strategy, pytest.raises(RunFailed) as stopped:
        strategy.update("Byline__c", records, sink)
    summary = stopped.value.summary
    lost = [o for o in sink.outcomes if o.created is None and o.status == SUCCEEDED]
    assert len(lost) == (1 if name == "rest" else 5)
    assert summary.created_unknown == len(lost) and summary.calls_by_phase.get("resolve") == 1
    held = stored(upsert_org, f"lost-{tag}-")
    for outcome in lost:
        assert held[records[outcome.row - 1][KEY]][0]["Id"][:15] == (outcome.id or "")[:15]
    assert summary.created + summary.created_unknown == summary.succeeded


@pytest.mark.parametrize("name", ["composite", "bulk1-xml", "bulk2-csv"])
def test_an_upsert_resumed_from_its_journal_keeps_the_operation(
    upsert_org: Any, session: OrgSession, name: str, tmp_path: Any
) -> None:
    """A run stopped by connections dropped on every request is resumed from its state directory alone: the journal
    names the operation and key, and the resumed run upserts (creating, not failing on missing Ids)."""
    tag = unique_tag()
    records = [{KEY: f"resume-{tag}-{n}", "Name": f"{tag}-{n}"} for n in range(40)]
    upsert_org.admin.configure(faults={"drop_rate": 1.0, "paths": ["/services/"]})
    first = MemorySink()
    with make(session, name, state_dir=tmp_path) as strategy, contextlib.suppress(RunFailed):
        strategy.update("Byline__c", records, first)
    assert not first.succeeded
    upsert_org.admin.configure(faults={})
    sink = MemorySink()
    summary = resume_run(tmp_path, session, sink, **({} if name == "composite" else {"poll_policy": FAST_POLL}))
    assert (summary.succeeded, summary.created) == (40, 40), summary.notes
    assert sorted(o.row for o in sink.outcomes) == list(range(1, 41))
    held = stored(upsert_org, f"resume-{tag}-")
    assert len(held) == 40 and all(len(v) == 1 for v in held.values())


def test_auto_prices_the_bulk_results_an_upsert_reads(session: OrgSession) -> None:
    from strategies import AutoStrategy, Bulk1Strategy, Bulk2Strategy

    update = Bulk2Strategy.api_calls(50_000, polls=5)
    upsert_cost = Bulk2Strategy.api_calls(50_000, polls=5, operation="upsert")
    assert upsert_cost.total == update.total + 1 and upsert_cost.by_phase["results"] == 1
    assert Bulk1Strategy.api_calls(50_000, polls=5, operation="upsert").by_phase["results"] == 5
    assert AutoStrategy.api_calls(100, operation="upsert").total == AutoStrategy.api_calls(100).total
