"""Property (#15): for any mix of existing, new and duplicated keys, every input row ends in exactly one
outcome, and the org holds exactly one record per key.

Validation is off, so repeated keys (also in another case: the key folds case) reach the org, which
answers them as each API does (Collections and a Bulk transaction fail both rows with DUPLICATE_VALUE;
REST and separate Bulk transactions create, then update). Whatever it answers, no key may end up naming
two records, and every success must be a record holding the row's values.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import MemorySink, OrgSession, get
from strategies.sinks import SUCCEEDED

from .conftest import FAST_POLL, NO_BACKOFF

KEY = "Url__c"
EXISTING = [f"prop-existing-{n}" for n in range(20)]
_examples = itertools.count(1)


@pytest.fixture(scope="module")
def prop_org() -> Iterator[Any]:
    emulator_server = pytest.importorskip("emulator.server")
    with emulator_server.run_org(profile="instant", edition="enterprise", seed={"Byline__c": 5}) as org:
        session = OrgSession(org.instance_url, org.access_token, ca_file=org.ca_file, retry=NO_BACKOFF)
        with get("collections", session, operation="upsert", external_id=KEY) as strategy:
            strategy.update("Byline__c", [{KEY: key, "Name": "existing"} for key in EXISTING], MemorySink())
        session.close()
        yield org


# One drawn row: an existing key, a new key (by its number in the example), or a repeat of an earlier row's
# key (by position), each maybe in upper case.
ROW = st.tuples(st.sampled_from(["existing", "new", "repeat"]), st.integers(0, 19), st.booleans())


@pytest.mark.parametrize("name", ["rest", "collections", "bulk1-xml", "bulk2-csv"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(ROW, min_size=1, max_size=25))
def test_every_row_has_one_outcome_and_every_key_one_record(
    prop_org: Any, name: str, drawn: list[tuple[str, int, bool]]
) -> None:
    example = next(_examples)
    keys: list[str] = []
    for kind, n, upper in drawn:
        if kind == "existing":
            key = EXISTING[n]
        elif kind == "repeat" and keys:
            key = keys[n % len(keys)]
        else:
            key = f"prop-new-{example}-{n}"
        keys.append(key.upper() if upper else key)
    records = [{KEY: key, "Name": f"e{example}-row{row}"} for row, key in enumerate(keys, start=1)]
    session = OrgSession(prop_org.instance_url, prop_org.access_token, ca_file=prop_org.ca_file, retry=NO_BACKOFF)
    options: dict[str, Any] = {"validate": False, "retry_pass": False}
    if name in ("bulk1-xml", "bulk2-csv"):
        options["poll_policy"] = FAST_POLL
    if name == "collections":
        options["batch_size"] = 7  # repeats land in one request and across requests
    sink = MemorySink()
    try:
        with get(name, session, operation="upsert", external_id=KEY, **options) as strategy:
            summary = strategy.update("Byline__c", records, sink)
    finally:
        session.close()

    assert sorted(o.row for o in sink.outcomes) == list(range(1, len(records) + 1))
    assert summary.succeeded + summary.failed + summary.unprocessed == len(records)
    assert summary.created + summary.updated + summary.created_unknown == summary.succeeded
    stored: dict[str, list[dict[str, Any]]] = {}
    for record in prop_org.admin.records("Byline__c", ["Id", KEY, "Name"]):
        stored.setdefault(str(record[KEY] or "").lower(), []).append(record)
    assert all(len(held) == 1 for held in stored.values()), [h for h in stored.values() if len(h) > 1]
    for outcome in sink.outcomes:
        if outcome.status == SUCCEEDED:
            (held,) = stored[keys[outcome.row - 1].lower()]
            assert (outcome.id or "")[:15] == held["Id"][:15]
    for key in {k.lower() for k in keys}:
        rows = [row for row, k in enumerate(keys, start=1) if k.lower() == key]
        succeeded = [o for o in sink.outcomes if o.row in rows and o.status == SUCCEEDED]
        if succeeded:  # the record holds the values of one of its rows that succeeded
            assert stored[key][0]["Name"] in {records[o.row - 1]["Name"] for o in succeeded}
