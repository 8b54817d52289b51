"""The file `update --input` names: how to read it, and its rows as written, for the outcome files.

Why the harness reads the file twice over: the strategies get records (`records`: field mappings, the
way `strategies.records` reads them), and the outcome files get the rows *as written* (`raw_rows`: the
cells or JSON objects untouched), so a failed row can be written back with the input's own columns and
values and the file passed straight back to `update --input`.

Columns whose names start with `RESULT_PREFIX` are the error columns the outcome files add; `records`
leaves them out, so a corrected ``failed.csv`` is accepted as input as it is. Row numbers are the ones
`strategies.records` gives: a CSV file's data rows after the header, blank lines not counted; a JSON
Lines file's non-blank lines.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strategies.records import CsvRecords, JsonlRecords

RESULT_PREFIX = "sfh__"
"""Error columns of failed.csv / unprocessed.csv (and keys of their JSON Lines forms); ignored on input."""

DELIMITERS = {"COMMA": ",", "SEMICOLON": ";", "TAB": "\t", "PIPE": "|", "CARET": "^", "BACKQUOTE": "`"}
"""The sf CLI's `--column-delimiter` names (a single character is accepted too)."""
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


def delimiter_of(value: str) -> str:
    """A `--column-delimiter` value as its character; ValueError for anything else."""
    named = DELIMITERS.get(value.strip().upper())
    if named:
        return named
    if len(value) == 1 and value not in '\r\n"':
        return value
    raise ValueError(f"--column-delimiter {value!r}: use one of {', '.join(DELIMITERS)} or a single character")


def line_ending_of(value: str) -> str:
    try:
        return LINE_ENDINGS[value.strip().upper()]
    except KeyError:
        raise ValueError(f"--line-ending {value!r}: use LF or CRLF") from None


@dataclass(frozen=True)
class InputFile:
    """An input file and how it is written (CSV delimiter and line ending, or JSON Lines)."""

    path: Path
    delimiter: str = ","
    line_ending: str = "\n"

    @property
    def is_jsonl(self) -> bool:
        return self.path.suffix.lower() in JSONL_SUFFIXES

    def header(self) -> list[str]:
        """A CSV file's column names as written (empty for a JSON Lines file or an empty file).

        Read by `CsvRecords.header`, the strategies' own reader, so the outcome files and the checks before
        a run see the columns the strategy sees; a header it refuses (not UTF-8, a column twice, not CSV)
        raises its `RecordValidationError`, naming the column.
        """
        if self.is_jsonl:
            return []
        return CsvRecords(self.path, delimiter=self.delimiter).header()

    def records(self) -> Iterable[dict[str, Any]]:
        """The records for a strategy (re-iterable, streamed), without the outcome files' error columns."""
        if self.is_jsonl:
            return _WithoutResultColumns(JsonlRecords(self.path))
        reader = CsvRecords(self.path, delimiter=self.delimiter)
        if any(name.startswith(RESULT_PREFIX) for name in self.header()):
            return _WithoutResultColumns(reader)
        return reader

    def raw_rows(self) -> Iterator[tuple[int, list[str] | dict[str, Any]]]:
        """(row number, the row as written): CSV cells, or a JSON Lines object; in file order."""
        if self.is_jsonl:
            with open(self.path, encoding="utf-8-sig", errors="surrogateescape") as handle:
                row = 0
                for line in handle:
                    if not line.strip():
                        continue
                    row += 1
                    try:
                        value = json.loads(line)
                    except ValueError:
                        value = {}
                    yield row, value if isinstance(value, dict) else {}
            return
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            next(reader, None)
            row = 0
            for cells in reader:
                if not cells:
                    continue
                row += 1
                yield row, cells

    def to_dict(self) -> dict[str, str]:
        return {"path": str(self.path.resolve()), "delimiter": self.delimiter, "line_ending": self.line_ending}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> InputFile:
        return cls(Path(data["path"]), data.get("delimiter", ","), data.get("line_ending", "\n"))


class _WithoutResultColumns:
    """A re-iterable reader whose records lose the keys that start with `RESULT_PREFIX`."""

    def __init__(self, reader: CsvRecords | JsonlRecords) -> None:
        self.reader = reader

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for record in self.reader:
            if any(key.startswith(RESULT_PREFIX) for key in record):
                record = {key: value for key, value in record.items() if not key.startswith(RESULT_PREFIX)}
            yield record
