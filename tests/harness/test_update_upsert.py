"""`sfharness update --operation upsert --external-id FIELD` and `resume` of such runs (#15), on the emulator.

Each run's --json result, its outcome files (success.csv's `created` column) and the org's stored data
are checked together.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()
KEY = "Url__c"


def _seeded(org: Any, n: int) -> list[str]:
    """Seed `n` records; their keys (``https://example.com/articles/{k}``)."""
    ids = set(org.admin.seed("Byline__c", n, return_ids=True)["ids"])
    return sorted(str(r[KEY]) for r in org.admin.records("Byline__c", ["Id", KEY]) if r["Id"] in ids)


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _update(path: Path, out: Path, *extra: str) -> Any:
    args = ["update", "-s", "Byline__c", "-f", str(path), "--out", str(out), "--json", *extra]
    return runner.invoke(app, args, catch_exceptions=False)


def _envelope(result: Any) -> dict[str, Any]:
    return json.loads(result.output.strip().splitlines()[-1])


def _success(folder: Path) -> list[dict[str, str]]:
    with open(folder / "success.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("strategy", ["collections", "composite", "bulk1-xml", "bulk2-csv", "auto"])
def test_update_upserts_existing_and_new_records(org: Any, tmp_path: Path, fast_polls: Any, strategy: str) -> None:
    keys = _seeded(org, 8)
    rows = [[key, f"kept {n}", 100 + n] for n, key in enumerate(keys)]
    rows += [[f"https://example.com/new/{strategy}/{n}", f"new {n}", 900 + n] for n in range(4)]
    path = _write(tmp_path / "in.csv", [KEY, "Name", "Tweets__c"], rows)
    result = _update(path, tmp_path / "out", "--strategy", strategy, "--operation", "upsert", "--external-id", KEY)
    assert result.exit_code == 0, result.output
    data = _envelope(result)["result"]
    summary = data["summary"]
    assert (summary["succeeded"], summary["created"], summary["updated"]) == (12, 4, 8)
    assert (summary["operation"], summary["external_id"]) == ("upsert", KEY)
    assert (data["plan"]["operation"], data["plan"]["external_id"]) == ("upsert", KEY)
    folder = Path(data["outcome_folder"])
    manifest = json.loads((folder / "run.json").read_text())
    assert (manifest["operation"], manifest["external_id"]) == ("upsert", KEY)
    success = _success(folder)
    assert list(success[0]) == ["row", "Id", "created"]
    created = {int(r["row"]): r["created"] for r in success}
    assert created == {n: ("true" if n > 8 else "false") for n in range(1, 13)}
    stored = {str(r[KEY]): r for r in org.admin.records("Byline__c", ["Id", KEY, "Name", "Tweets__c"])}
    for n, (key, name, tweets) in enumerate(rows, start=1):
        assert (stored[key]["Name"], stored[key]["Tweets__c"]) == (name, tweets)
        assert stored[key]["Id"][:15] == next(r["Id"] for r in success if int(r["row"]) == n)[:15]


@pytest.mark.parametrize(
    ("header", "rows", "extra", "message"),
    [
        ([KEY, "Name"], [["https://example.com/articles/1", "a"]], ["--strategy", "rest"], "row 1"),
        (["Id", KEY], [["", "k"]], ["--strategy", "composite"], "has an Id column"),
        (["Name"], [["a"]], ["--strategy", "composite"], "has no Url__c column"),
        ([KEY], [["k1"], ["K1"]], ["--strategy", "composite"], "the same Url__c as row 1"),
        ([KEY], [["k1"], [""]], ["--strategy", "composite"], "no value for Url__c"),
    ],
)
def test_bad_upsert_input_is_refused_before_any_write(
    org: Any, tmp_path: Path, header: list[str], rows: list[list[str]], extra: list[str], message: str
) -> None:
    path = _write(tmp_path / "in.csv", header, rows)
    before = len(org.admin.records("Byline__c", ["Id"]))
    result = _update(path, tmp_path / "out", "--operation", "upsert", "--external-id", KEY, *extra)
    assert result.exit_code == 2, result.output
    assert message in _envelope(result)["message"]
    assert len(org.admin.records("Byline__c", ["Id"])) == before
    kinds = org.admin.usage()["by_endpoint"]
    assert not {k: n for k, n in kinds.items() if "PATCH" in k or "POST" in k}, kinds  # nothing written


@pytest.mark.parametrize(
    ("options", "message", "name"),
    [
        (["--operation", "upsert"], "needs external_id", None),
        (["--operation", "upsert", "--external-id", "Name"], "is not an external id", "UnknownField"),
        (["--operation", "merge"], "operation must be one of", None),
    ],
)
def test_upsert_options_are_checked(
    org: Any, tmp_path: Path, options: list[str], message: str, name: str | None
) -> None:
    path = _write(tmp_path / "in.csv", ["Name"], [["a"]])
    result = _update(path, tmp_path / "out", "--strategy", "composite", *options)
    assert result.exit_code == 2, result.output
    envelope = _envelope(result)
    assert message in envelope["message"]
    if name:
        assert envelope["name"] == name


def test_an_interrupted_upsert_is_resumed_as_an_upsert(org: Any, tmp_path: Path) -> None:
    """The 2nd Collections request is cut on every attempt: 200 rows created, 100 unprocessed. `resume --run`
    sends the rest as upserts (the journal and run.json keep the operation and key)."""
    rows = [[f"resume-key-{n}", f"r{n}"] for n in range(300)]
    path = _write(tmp_path / "in.csv", [KEY, "Name"], rows)
    cut = [f"cut:{n}:PATCH /services/data/vXX.X/composite/sobjects/Byline__c/{KEY}" for n in range(2, 6)]
    org.admin.configure(faults={"response_faults": cut})
    first = _update(
        path, tmp_path / "out", "--strategy", "collections", "--concurrency", "1", "--operation", "upsert",
        "--external-id", KEY,
    )  # fmt: skip
    assert first.exit_code != 0, first.output
    folder = (tmp_path / "out" / "latest").resolve()
    org.admin.configure(faults={})
    second = runner.invoke(app, ["resume", "--run", str(folder), "--json"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    summary = _envelope(second)["result"]["summary"]
    assert (summary["operation"], summary["succeeded"], summary["created"]) == ("upsert", 300, 300)
    success = _success(folder)
    assert sorted(int(r["row"]) for r in success) == list(range(1, 301))
    assert {r["created"] for r in success} == {"true"}
    held = [r for r in org.admin.records("Byline__c", [KEY]) if str(r[KEY]).startswith("resume-key-")]
    assert len(held) == 300


def test_an_interrupted_bulk2_upsert_is_resumed_from_its_journal(org: Any, tmp_path: Path, fast_polls: Any) -> None:
    """bulk2-csv's job create (with the data, one request) is cut on every attempt: nothing reaches the org
    and every row is unprocessed. `resume --run` rebuilds the rows from the run journal and upserts them, key
    column first: existing keys updated, new ones created."""
    keys = _seeded(org, 5)
    rows = [[key, f"kept {n}", 10 + n] for n, key in enumerate(keys)]
    rows += [[f"https://example.com/bulk2-resume/{n}", f"new {n}", 50 + n] for n in range(5)]
    path = _write(tmp_path / "in.csv", [KEY, "Name", "Tweets__c"], rows)
    cut = [f"cut:{n}:POST /services/data/vXX.X/jobs/ingest" for n in range(1, 8)]
    org.admin.configure(faults={"response_faults": cut})
    first = _update(path, tmp_path / "out", "--strategy", "bulk2-csv", "--operation", "upsert", "--external-id", KEY)
    assert first.exit_code != 0, first.output
    assert _envelope(first)["result"]["summary"]["unprocessed"] == 10
    folder = (tmp_path / "out" / "latest").resolve()
    org.admin.configure(faults={})
    second = runner.invoke(app, ["resume", "--run", str(folder), "--json"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    summary = _envelope(second)["result"]["summary"]
    assert (summary["operation"], summary["succeeded"], summary["created"], summary["updated"]) == ("upsert", 10, 5, 5)
    stored = {str(r[KEY]): r for r in org.admin.records("Byline__c", [KEY, "Name", "Tweets__c"])}
    for key, name, tweets in rows:
        assert (stored[key]["Name"], stored[key]["Tweets__c"]) == (name, tweets)
    assert len([k for k in stored if k.startswith("https://example.com/bulk2-resume/")]) == 5
