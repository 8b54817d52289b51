"""Upsert by key against query-then-update, in API calls as the org counts them (a script that prints figures).

    python tests/benchmarks/bench_upsert_calls.py [--records 1000,10000,50000] [--strategies composite,bulk2-csv]

Starts the embedded emulator (instant profile), seeds an org holding exactly --records Byline__c records,
and updates every one of them by its published URL (``Url__c``, an external id) in two ways, each between
two readings of the org's own counter:

* query-then-update: one SOQL query of every record's Id and key (``SELECT Id, Url__c FROM Byline__c``,
  2,000 records a page, ``nextRecordsUrl`` followed), then the strategy's update by Id;
* upsert: the strategy's upsert by ``Url__c`` (`operation="upsert"`), no query at all.

Both set the same new value on every record; the stored data is checked after each. Only existing records
are written: query-then-update cannot create new ones (they would cost an insert on top).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator.server import run_org
from strategies import CountingSink, OrgSession, PollPolicy, get

FAST = PollPolicy(initial=0.05, factor=1.5, ceiling=0.5, timeout=600)


def _used(org: Any) -> int:
    return int(org.admin.usage()["DailyApiRequests"]["used"])


def _keys_by_query(session: OrgSession) -> dict[str, str]:
    """Every record's Id by key: one query, its pages followed (what query-then-update has to spend)."""
    found: dict[str, str] = {}
    url: str | None = session.rest_url("query")
    params: dict[str, str] | None = {"q": "SELECT Id, Url__c FROM Byline__c"}
    while url:
        body = session.request("GET", url, family="rest", params=params).json()
        found.update({str(r["Url__c"]): str(r["Id"]) for r in body.get("records", [])})
        following = body.get("nextRecordsUrl")
        url = session.rest_url(str(following)) if following and not body.get("done", True) else None
        params = None
    return found


def _run(org: Any, name: str, records: list[dict[str, Any]], **options: Any) -> None:
    session = OrgSession(org.instance_url, org.access_token, ca_file=org.ca_file)
    if name in ("bulk1-xml", "bulk2-csv"):
        options["poll_policy"] = FAST
    sink = CountingSink()
    with session, get(name, session, **options) as strategy:
        summary = strategy.update("Byline__c", records, sink)
    assert summary.succeeded == len(records), summary.notes


def measure(n: int, name: str) -> dict[str, int]:
    with run_org(profile="instant", edition="sandbox", seed={"Byline__c": n}) as org:
        keys = [str(r["Url__c"]) for r in org.admin.records("Byline__c", ["Url__c"])]
        before = _used(org)
        session = OrgSession(org.instance_url, org.access_token, ca_file=org.ca_file)
        with session:
            ids = _keys_by_query(session)
        queried = _used(org) - before
        _run(org, name, [{"Id": ids[key], "Tweets__c": 1} for key in keys])
        query_then_update = _used(org) - before
        before = _used(org)
        _run(org, name, [{"Url__c": key, "Tweets__c": 2} for key in keys], operation="upsert", external_id="Url__c")
        upsert = _used(org) - before
        stored = {r["Tweets__c"] for r in org.admin.records("Byline__c", ["Tweets__c"])}
        assert stored == {2}, stored
    return {"records": n, "query": queried, "query_then_update": query_then_update, "upsert": upsert}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", default="1000,10000,50000")
    parser.add_argument("--strategies", default="composite,bulk2-csv")
    args = parser.parse_args()
    print(f"{'strategy':<12}{'records':>9}{'query':>8}{'query+update':>14}{'upsert':>8}")
    for name in args.strategies.split(","):
        for n in (int(x) for x in args.records.replace("_", "").split(",")):
            row = measure(n, name)
            print(f"{name:<12}{n:>9,}{row['query']:>8,}{row['query_then_update']:>14,}{row['upsert']:>8,}")


if __name__ == "__main__":
    main()
