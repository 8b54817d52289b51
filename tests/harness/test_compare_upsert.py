"""`compare --operation upsert`: the upsert workload (part existing keys, part new), its read-back by key, the
created/updated split every run must match, and the clean-up of the records the runs created (#15).

The org's stored data is read through the emulator's admin API (ground truth), never through the code
under test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.orgs import OrgConnection, Secret
from harness.runner import run_once, scratch_dir
from harness.workload import Workload, _merge_compare
from strategies import registry
from strategies.operation import Operation

runner = CliRunner()
KEY = "Url__c"
UPSERT = Operation.parse("upsert", KEY)
FIELDS = ["Id", KEY, "Name", "Tweets__c", "Likes__c", "LinkedIn_Shares__c"]


def _connection(running: Any, *, kind: str = "emulator") -> OrgConnection:
    """The shared emulator as compare sees it; `kind` other than "emulator" takes a real org's path (records
    inserted and deleted through the API, no admin shortcuts)."""
    return OrgConnection(
        running.instance_url,
        kind,
        "62.0",
        running.ca_file,
        lambda: Secret(running.org.sessions.issue().token),
        True,
        "test",
        admin=running.admin if kind == "emulator" else None,
    )


def _stored(org: Any, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """The org's records whose key starts with `prefix`, by key (a list: a key held twice shows as two)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for rec in org.admin.iter_records("Byline__c", FIELDS):
        if str(rec.get(KEY) or "").startswith(prefix):
            found.setdefault(rec[KEY], []).append(rec)
    return found


def _input_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("strategy", ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv"])
def test_an_upsert_round_updates_the_existing_records_and_creates_the_new_ones(
    sf_org: Any, fast_polls: Any, strategy: str
) -> None:
    conn = _connection(sf_org)
    workload = Workload(conn, scratch_dir(), operation=UPSERT, new_fraction=0.25)
    wf = workload.prepare(24, 1)
    assert (wf.new, wf.existing) == (6, 18)
    rows = _input_rows(wf.path)
    assert list(rows[0]) == [KEY, "Name", "Tweets__c", "Likes__c", "LinkedIn_Shares__c"]  # no Id column
    assert all("/" not in r[KEY] and r["Name"] == r[KEY] for r in rows)  # keys a REST URL can carry
    before = _stored(sf_org, workload.key_prefix)
    assert len(before) == 18 and all(len(v) == 1 for v in before.values())

    m = run_once(conn, workload, strategy, wf, options={"poll_policy": fast_polls} if "bulk" in strategy else None)

    assert (m.created, m.updated, m.split_mismatch) == (6, 18, None)
    assert m.clean and m.verified == 24, m.notes
    after = _stored(sf_org, workload.key_prefix)
    assert sorted(after) == sorted(r[KEY] for r in rows)
    assert all(len(records) == 1 for records in after.values())  # exactly one record per key
    for row in rows:
        record = after[row[KEY]][0]
        assert [record["Tweets__c"], record["Likes__c"], record["LinkedIn_Shares__c"]] == [
            float(row["Tweets__c"]),
            float(row["Likes__c"]),
            float(row["LinkedIn_Shares__c"]),
        ]
        if row[KEY] in before:  # an existing record was updated in place, not replaced
            assert record["Id"] == before[row[KEY]][0]["Id"]


def test_new_keys_never_collide_across_rounds(sf_org: Any, fast_polls: Any) -> None:
    conn = _connection(sf_org)
    workload = Workload(conn, scratch_dir(), operation=UPSERT, new_fraction=0.5, reseed=False)
    first = workload.prepare(10, 1)
    assert run_once(conn, workload, "collections", first).clean
    second = workload.prepare(10, 2)  # the same existing records, five more new keys
    m = run_once(conn, workload, "collections", second)
    assert (m.created, m.updated) == (5, 5) and m.clean, m.notes
    stored = _stored(sf_org, workload.key_prefix)
    assert len(stored) == 5 + 5 + 5 and all(len(v) == 1 for v in stored.values())


def test_a_run_whose_split_differs_from_the_workload_is_not_clean(sf_org: Any) -> None:
    conn = _connection(sf_org)
    workload = Workload(conn, scratch_dir(), operation=UPSERT, new_fraction=0.5)
    wf = workload.prepare(8, 1)
    taken = _input_rows(wf.path)[-1][KEY]  # a "new" key that another writer creates first
    with sf_org.session() as http:
        answer = http.post(
            f"{sf_org.instance_url}/services/data/v62.0/sobjects/Byline__c", json={"Name": "other writer", KEY: taken}
        )
    assert answer.status_code == 201

    m = run_once(conn, workload, "composite", wf)

    assert m.verified == 8 and m.failed == 0  # every record holds what was written ...
    assert (m.created, m.updated) == (3, 5)  # ... but one "new" key updated the other writer's record
    assert m.split_mismatch and "4 new and 4 existing" in m.split_mismatch
    assert not m.clean


def test_the_read_back_counts_a_key_held_twice_as_a_mismatch(tmp_path: Path) -> None:
    expected = tmp_path / "in.csv"
    expected.write_text(f"{KEY},Tweets__c\na,1\nb,2\nc,3\n", encoding="utf-8")
    read_back = iter([{KEY: "a", "Tweets__c": "1"}, {KEY: "b", "Tweets__c": "2"}, {KEY: "b", "Tweets__c": "2"}])
    check = _merge_compare(expected, read_back, ("Tweets__c",), KEY)
    assert (check.verified, check.mismatched, check.missing) == (1, 1, 1)
    assert "b: 2 records hold this Url__c" in check.examples


def test_on_a_real_org_the_records_are_inserted_with_keys_and_all_deleted_afterwards(
    sf_org: Any, fast_polls: Any
) -> None:
    conn = _connection(sf_org, kind="sandbox")  # no admin API: the real org's path over the API alone
    workload = Workload(conn, scratch_dir(), operation=UPSERT, new_fraction=0.5)
    wf = workload.prepare(12, 1)
    assert len(_stored(sf_org, workload.key_prefix)) == 6  # the existing half, inserted by the workload
    m = run_once(conn, workload, "bulk2-csv", wf, options={"poll_policy": fast_polls})
    assert (m.created, m.updated) == (6, 6) and m.clean, m.notes
    assert len(_stored(sf_org, workload.key_prefix)) == 12

    assert workload.cleanup() == 12  # the inserted records and the ones the run created
    assert _stored(sf_org, workload.key_prefix) == {}


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID", "SF_CA_FILE"):
        monkeypatch.delenv(var, raising=False)


def test_compare_upsert_reports_created_and_updated(embedded: None, tmp_path: Path, fast_polls: Any) -> None:
    args = ["compare", "--records", "40", "--strategies", "composite,bulk2-csv", "--reports-dir", str(tmp_path)]
    args += ["--operation", "upsert", "--external-id", KEY, "--new-fraction", "0.25", "--json"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["result"]
    assert data["settings"]["operation"] == "upsert" and data["settings"]["external_id"] == KEY
    for m in data["measurements"]:
        assert (m["created"], m["updated"], m["verified"], m["split_mismatch"]) == (10, 30, 40, None), m
    folder = Path(data["report_dir"])
    with open(folder / "results.csv", encoding="utf-8") as fh:
        assert {(r["created"], r["updated"]) for r in csv.DictReader(fh)} == {("10", "30")}
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "10+30 / 0 / 0" in markdown and "OK is records created + updated" in markdown


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--operation", "upsert"], "an upsert needs external_id"),
        (["--external-id", KEY], "is for upserts"),
        (["--operation", "upsert", "--external-id", KEY, "--new-fraction", "1.5"], "--new-fraction"),
    ],
)
def test_compare_refuses_an_incomplete_upsert_before_connecting(extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["compare", "--records", "10", "--instance-url", "https://127.0.0.1:9", *extra])
    assert result.exit_code == 2
    assert message in result.output


def test_compare_refuses_a_key_that_is_not_an_external_id(org: Any, tmp_path: Path) -> None:
    used = org.admin.usage()["DailyApiRequests"]["used"]
    args = ["compare", "--records", "10", "--strategies", "composite", "--reports-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--operation", "upsert", "--external-id", "Name"])
    assert result.exit_code == 2, result.output
    assert "not an external id" in result.output and "Url__c" in result.output
    assert org.admin.usage()["DailyApiRequests"]["used"] - used <= 2  # the look-up and describe; nothing written


def test_compare_upsert_runs_the_baselines_library_upserts(embedded: None, tmp_path: Path, fast_polls: Any) -> None:
    args = ["compare", "--records", "20", "--strategies", "composite", "--baselines", "--reports-dir", str(tmp_path)]
    args += ["--operation", "upsert", "--external-id", KEY, "--profile", "realistic", "--time-scale", "200", "--json"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {m["strategy"]: m for m in json.loads(result.stdout)["result"]["measurements"]}
    assert set(rows) == {"composite", *registry.baseline_names()}
    for name, m in rows.items():
        assert (m["created"], m["updated"], m["verified"], m["split_mismatch"]) == (10, 10, 20, None), name
        assert m["baseline"] == (name != "composite")
