"""`sfharness update` refuses bad input before any write: exit 2, one message naming row, field and reason.

Each case runs the real CLI against the emulator and checks what the org saw: the stored records are
unchanged, no job was created, and the API counter moved only by the pre-checks (connecting and the
describe call for row-level checks; nothing at all for a file whose header is already wrong).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()
ANOTHER_OBJECTS_ID = "001A0000006Vm9rIAC"  # an Account Id (key prefix 001), well formed
PRE_CHECKS = 2  # connecting reads the Organization record (1 call), then the object's describe (1 call)
NOTHING = 0  # a file whose header is wrong is refused before connecting

Case = Callable[[list[str]], tuple[str, bytes]]


def _csv(text: str) -> tuple[str, bytes]:
    return "in.csv", text.encode("utf-8")


def _jsonl(*lines: str) -> tuple[str, bytes]:
    return "in.jsonl", "".join(line + "\n" for line in lines).encode("utf-8")


CASES: dict[str, tuple[Case, str, int]] = {
    # name: (input from three seeded ids, expected message fragments ("where: reason"), API calls allowed)
    "extra cell": (
        lambda ids: _csv(f"Id,Name\n{ids[0]},Ada\n{ids[1]},Smith, John\n"),
        "row 2, field 'Name': 3 cells for 2 columns",
        PRE_CHECKS,
    ),
    "missing cell": (
        lambda ids: _csv(f"Id,Name,Tweets__c\n{ids[0]},Ada,1\n{ids[1]},Bob\n"),
        "row 2, field 'Tweets__c': 2 cells for 3 columns",
        PRE_CHECKS,
    ),
    "duplicated header column": (
        lambda ids: _csv(f"Id,Tweets__c,Likes__c,Tweets__c\n{ids[0]},1,2,3\n"),
        "header, field 'Tweets__c': columns 2 and 4 name the same field",
        NOTHING,
    ),
    "JSONL object value": (
        lambda ids: _jsonl(json.dumps({"Id": ids[0], "Name": "ok"}), json.dumps({"Id": ids[1], "Name": {"a": 1}})),
        "row 2, field 'Name': a JSON object is not a field value",
        PRE_CHECKS,
    ),
    "JSONL list value": (
        lambda ids: _jsonl(json.dumps({"Id": ids[0], "Name": ["a", "b"]})),
        "row 1, field 'Name': a JSON array is not a field value",
        PRE_CHECKS,
    ),
    "header only": (
        lambda ids: _csv("Id,Tweets__c\n"),
        "no records: the file has a header row but no data rows",
        PRE_CHECKS,
    ),
    "empty JSONL": (lambda ids: ("in.jsonl", b"\n"), "no records: the file holds no JSON lines", PRE_CHECKS),
    "Id of another object": (
        lambda ids: _csv(f"Id,Tweets__c\n{ids[0]},1\n{ANOTHER_OBJECTS_ID},2\n{ids[2]},3\n"),
        "row 2, field 'Id': 001A0000006Vm9rIAC is not an Id of this object",
        PRE_CHECKS,
    ),
    "non-UTF-8 value": (
        lambda ids: ("in.csv", f"Id,Name\n{ids[0]},ok\n{ids[1]},Caf".encode() + b"\xe9\n"),
        "row 2, field 'Name': not UTF-8: byte 0xE9",
        PRE_CHECKS,
    ),
    "non-UTF-8 header": (
        lambda ids: ("in.csv", b"Id,Na\xefme\n" + f"{ids[0]},x\n".encode()),
        "header, field 'Na\\xefme': column 2's name is not UTF-8: byte 0xEF",
        NOTHING,
    ),
    "non-UTF-8 JSONL value": (
        lambda ids: ("in.jsonl", f'{{"Id": "{ids[0]}", "Name": "Caf'.encode() + b'\xe9"}\n'),
        "row 1, field 'Name': not UTF-8: byte 0xE9",
        PRE_CHECKS,
    ),
    "invalid JSONL line": (
        lambda ids: _jsonl(json.dumps({"Id": ids[0]}), '{"Id": "' + ids[1] + '", "Tweets__c": 1'),
        "row 2: not valid JSON",
        PRE_CHECKS,
    ),
    "duplicate Id": (
        lambda ids: _csv(f"Id,Tweets__c\n{ids[0]},1\n{ids[1]},2\n{ids[0][:15]},3\n"),
        "row 3, field 'Id': the same record as row 1",
        PRE_CHECKS,
    ),
}


def _used(org: Any) -> int:
    return int(org.admin.usage()["DailyApiRequests"]["used"])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_naming_row_field_and_reason_and_changes_nothing(org: Any, tmp_path: Path, case: str) -> None:
    build, expected, calls_allowed = CASES[case]
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    name, data = build(ids)
    path = tmp_path / name
    path.write_bytes(data)
    stored_before = org.admin.records("Byline__c")
    jobs_before = org.admin.jobs()
    used_before = _used(org)

    result = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "collections",
            "--sobject",
            "Byline__c",
            "--input",
            str(path),
            "--out",
            str(tmp_path / "out"),
        ],
    )

    output = result.output.replace("\n", " ")
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in output
    assert expected in output
    assert org.admin.records("Byline__c") == stored_before
    assert org.admin.jobs() == jobs_before
    assert _used(org) - used_before == calls_allowed
    assert not (tmp_path / "out").exists()


def test_every_bad_row_is_named_in_one_run(org: Any, tmp_path: Path) -> None:
    """One pass names every bad row (up to the message's limit), not only the first, so one fix-up suffices."""
    ids = org.admin.seed("Byline__c", 4, return_ids=True)["ids"]
    path = tmp_path / "in.csv"
    path.write_text(f"Id,Name\n{ids[0]},a, b\n{ids[1]},ok\n{ids[2]}\n{ids[3]},fine\n{ids[1]},again\n", encoding="utf-8")
    result = runner.invoke(app, ["update", "--strategy", "bulk2-csv", "--sobject", "Byline__c", "--input", str(path)])
    output = result.output.replace("\n", " ")
    assert result.exit_code == 2, output
    assert "3 input record(s) rejected" in output
    assert "row 1, field 'Name': 3 cells" in output and "row 3, field 'Name': 1 cells" in output
    assert "row 5, field 'Id': the same record as row 2" in output
