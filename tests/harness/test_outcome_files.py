"""Outcome files a user can act on: a folder per run, failed rows with the input's own columns and values, and
a corrected failed.csv passed straight back to `update --input` (the emulator's Byline__c validation rule
refuses negative counts, a real per-record failure)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()


def _write_csv(
    path: Path, header: list[str], rows: list[list[object]], *, delimiter: str = ",", newline: str = "\n"
) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _update(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["update", "--sobject", "Byline__c", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def _stored(org, ids: list[str]) -> dict[str, tuple[int, int]]:
    rows = {
        r["Id"]: (r["Tweets__c"], r["Likes__c"])
        for r in org.admin.records("Byline__c", ["Id", "Tweets__c", "Likes__c"])
    }
    return {rid: rows[rid] for rid in ids}


@pytest.mark.parametrize("strategy", ["composite", "bulk2-csv"])
def test_a_corrected_failed_csv_resubmits_and_every_record_succeeds(org, tmp_path, fast_polls, strategy):
    ids = org.admin.seed("Byline__c", 6, return_ids=True)["ids"]
    # A lower-case id header, a Name column the object also has, negative counts on rows 2 and 5.
    rows = [[rid, f"byline {i}", -i if i in (2, 5) else i, 100 + i] for i, rid in enumerate(ids, start=1)]
    path = _write_csv(tmp_path / "counts.csv", ["id", "Name", "Tweets__c", "Likes__c"], rows)
    out = tmp_path / "out"

    status, first = _update("--strategy", strategy, "-f", str(path), "--out", str(out))
    assert status == 1 and first["name"] == "RecordsFailed" and "failed.csv" in first["hint"]
    files = first["result"]["outcome_files"]
    assert (files["succeeded"]["records"], files["failed"]["records"], files["unprocessed"]["records"]) == (4, 2, 0)
    failed_path = Path(files["failed"]["path"])
    with open(failed_path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        failed = list(reader)
    assert header == ["id", "Name", "Tweets__c", "Likes__c", "sfh__row", "sfh__error_code", "sfh__error", "sfh__fields"]
    assert [row[:5] for row in failed] == [
        [ids[1], "byline 2", "-2", "102", "2"],
        [ids[4], "byline 5", "-5", "105", "5"],
    ]
    assert {row[5] for row in failed} == {"FIELD_CUSTOM_VALIDATION_EXCEPTION"}

    # The user corrects the values in place and sends the same file back, error columns and all.
    corrected = [[row[0], row[1], row[2].lstrip("-"), *row[3:]] for row in failed]
    _write_csv(failed_path, header, corrected)
    status, second = _update("--strategy", strategy, "-f", str(failed_path), "--out", str(out))
    assert status == 0 and "name" not in second, second
    assert second["result"]["outcome_files"]["succeeded"]["records"] == 2
    assert Path(second["result"]["outcome_folder"]) != failed_path.parent  # a new folder; the first run's files stay
    assert failed_path.exists() and len(list(out.glob("2*"))) == 2
    assert _stored(org, ids) == {rid: (i, 100 + i) for i, rid in enumerate(ids, start=1)}


def test_delimiter_and_line_ending_are_read_and_kept(org, tmp_path):
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    path = _write_csv(
        tmp_path / "semi.csv",
        ["Id", "Tweets__c"],
        [[ids[0], 1], [ids[1], -7], [ids[2], 3]],
        delimiter=";",
        newline="\r\n",
    )
    status, envelope = _update(
        "--strategy",
        "collections",
        "-f",
        str(path),
        "--column-delimiter",
        "SEMICOLON",
        "--line-ending",
        "CRLF",
        "--out",
        str(tmp_path / "out"),
    )
    assert status == 1
    text = Path(envelope["result"]["outcome_files"]["failed"]["path"]).read_bytes()
    assert text.startswith(b"Id;Tweets__c;sfh__row;") and text.endswith(b"\r\n") and f"{ids[1]};-7;2;".encode() in text


def test_a_semicolon_file_without_the_flag_says_which_flag(org, tmp_path):
    ids = org.admin.seed("Byline__c", 1, return_ids=True)["ids"]
    path = _write_csv(tmp_path / "semi.csv", ["Id", "Tweets__c"], [[ids[0], 1]], delimiter=";")
    status, envelope = _update("--strategy", "collections", "-f", str(path))
    assert status == 2 and "--column-delimiter" in envelope["hint"]


def test_json_lines_failures_keep_the_objects(org, tmp_path):
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    path = tmp_path / "in.jsonl"
    path.write_text(
        "".join(json.dumps({"Id": rid, "Tweets__c": -1 if i == 1 else i}) + "\n" for i, rid in enumerate(ids)),
        encoding="utf-8",
    )
    status, envelope = _update("--strategy", "composite", "-f", str(path), "--out", str(tmp_path / "out"))
    assert status == 1
    failed_path = Path(envelope["result"]["outcome_files"]["failed"]["path"])
    assert failed_path.name == "failed.jsonl"
    failed = [json.loads(line) for line in failed_path.read_text(encoding="utf-8").splitlines()]
    assert [(f["Id"], f["Tweets__c"], f["sfh__row"]) for f in failed] == [(ids[1], -1, 2)]
    failed_path.write_text(json.dumps({**failed[0], "Tweets__c": 1}) + "\n", encoding="utf-8")
    status, envelope = _update("--strategy", "composite", "-f", str(failed_path), "--out", str(tmp_path / "out"))
    assert status == 0, envelope
    assert _stored(org, [ids[1]])[ids[1]][0] == 1
