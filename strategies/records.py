"""Input records: streaming readers, validation before any call, and exact chunking.

Row numbers: a record's row is its 1-based position in the input (for a CSV file, the first data row
after the header is row 1; a problem with the header itself is reported as row 0, "header"). Every outcome
a strategy reports carries that number.

Why the readers refuse rather than guess: a row with a cell too many (an unquoted comma), a JSON object as
a value or a byte that is not UTF-8 would otherwise be written wrong, silently, or end in a traceback. The
readers hand such a row to `prepare` as a `RejectedRow`, so one validation pass names every bad row with
its field and reason, and nothing is sent.

Why validation makes a full pass first: the issue asks that a bad record be rejected *before any API call*.
A file can only be judged after its last row was read (a repeated Id may be the very last row), so
`prepare` reads everything once. A re-iterable
input (a list, or a reader that reopens its file) is simply read twice; a one-shot iterator is spooled to a
temporary file with `pickle` (our own file, written and read by this process, so the types of values such
as `date` or `Decimal` survive unchanged) and replayed from there. Memory stays flat either way.

Why the chunker measures what it writes: a batch limit is a limit on the bytes and characters Salesforce
receives. Estimating from field lengths (as simple-salesforce does) ignores quotes, escapes and line
endings and overshoots. Here each record is rendered to its final text once; that text's length in
characters and its UTF-8 length in bytes decide where to cut, and exactly those bytes are written.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import IO, Any, TypeVar

from .duplicate_ids import ID15, DuplicateIds
from .errors import RecordProblem, RecordValidationError
from .operation import UPDATE_BY_ID, Operation

Row = tuple[int, dict[str, Any]]
"""A numbered input record: (1-based row number, field mapping including ``Id``)."""

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
FIELD_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
"""API names: a letter, then letters, digits and underscores. Also what makes a name a safe XML element
name and a CSV header cell that needs no quoting."""


# -- Ids --------------------------------------------------------------------------------------------
_UPPER_FLAGS = str.maketrans({chr(c): ("1" if chr(c).isascii() and chr(c).isupper() else "0") for c in range(128)})


_SUFFIXES: dict[str, str] = {}  # 15 upper-case flags -> suffix; at most 32**3 entries, filled as met


def id_checksum(id15: str) -> str:
    """The 3-character suffix of an 18-character Id: one letter per 5-character block, encoding which
    characters of the block are upper case (bit i set when character i of the block is A-Z)."""
    flags = id15[:15].translate(_UPPER_FLAGS)
    suffix = _SUFFIXES.get(flags)
    if suffix is None:  # Ids of one org share few case patterns: computed once per pattern, not per Id
        suffix = _SUFFIXES[flags] = "".join(_SUFFIX_ALPHABET[int(flags[b : b + 5][::-1], 2)] for b in (0, 5, 10))
    return suffix


_ID_SHAPE = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
_ID_PAGE = re.compile(r"(?:[0-9A-Za-z]{18}\n)*[0-9A-Za-z]{18}")
"""A page of 18-character Ids, one a line (`Validator.clean_page`)."""
_PAGE_FLAGS = {**_UPPER_FLAGS, ord("\n"): "\n"}
_GET_ID, _FIRST_15, _LAST_3 = itemgetter("Id"), itemgetter(slice(0, 15)), itemgetter(slice(15, 18))


def id_problem(value: Any) -> str | None:
    """Why `value` is not a well-formed Salesforce Id, or None when it is."""
    if (
        type(value) is str
        and len(value) == 18
        and _ID_SHAPE.fullmatch(value)
        and value[15:].upper() == id_checksum(value)
    ):
        return None  # the common case, decided in one pass
    if value is None or value == "":
        return "missing Id"
    if not isinstance(value, str):
        return f"Id must be text, got {type(value).__name__}"
    if _ID_SHAPE.fullmatch(value) is None:
        if len(value) not in (15, 18):
            return f"malformed Id {value!r}: expected 15 or 18 characters, got {len(value)}"
        return f"malformed Id {value!r}: only letters and digits are allowed"
    if len(value) == 18 and value[15:].upper() != id_checksum(value[:15]):
        return f"malformed Id {value!r}: checksum suffix should be {id_checksum(value[:15])}"
    return None


def to_18(value: str) -> str:
    """The 18-character form of a valid 15- or 18-character Id (others are returned unchanged)."""
    if isinstance(value, str) and len(value) in (15, 18) and id_problem(value) is None:
        return value[:15] + id_checksum(value[:15])
    return value


# -- readers ----------------------------------------------------------------------------------------
class RejectedRow:
    """Stands in for an input row that a reader could not turn into a faithful record.

    A cell too many or too few, bytes that are not UTF-8, a line that is not JSON, a nested JSON value: each
    would otherwise be written wrong (``Smith, John`` unquoted stores "Smith") or stop the run with a
    traceback. `prepare` collects these like any other validation problem, so one pass names every bad row;
    iterating a reader directly never yields one (it raises `RecordValidationError` at the first instead).
    """

    __slots__ = ("problems",)

    def __init__(self, problems: Iterable[RecordProblem]) -> None:
        self.problems = tuple(problems)

    def __repr__(self) -> str:
        return f"RejectedRow({list(self.problems)!r})"


HEADER_ROW = 0
"""The row number `RecordProblem` uses for a CSV file's header (data rows count from 1)."""

_NOT_UTF8 = re.compile("[\udc80-\udcff]")
"""Bytes that are not UTF-8, as the ``surrogateescape`` error handler decodes them (one lone surrogate each)."""


class _NotUtf8(Exception):
    """Raised inside a strict (UTF-8) parse, carrying how many rows were already yielded, so that the
    reader can start over in the decoding that names each bad row, skipping those rows."""

    def __init__(self, rows_done: int) -> None:
        super().__init__(rows_done)
        self.rows_done = rows_done


def _readable(text: str) -> str:
    """`text` with each byte that is not UTF-8 written ``\\xNN``, as the user's editor would hint at it."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _shown(text: str, limit: int = 40) -> str:
    """`text` quoted for a message: readable, and cut to `limit` characters."""
    raw = _readable(text)
    return "'" + (raw if len(raw) <= limit else raw[:limit] + "...") + "'"


def _utf8_problem(text: str) -> str | None:
    """Why `text` (decoded with surrogateescape) is not UTF-8, or None. The common case costs O(1)."""
    if text.isascii():
        return None
    bad = _NOT_UTF8.search(text)
    if bad is None:
        return None
    byte = ord(bad.group()) - 0xDC00
    return f"not UTF-8: byte 0x{byte:02X} in {_shown(text)}; save the file as UTF-8"


class _FileRecords:
    """A re-iterable reader of one file: every iteration reopens it, so any file size streams.

    Decoding is strict UTF-8 first (nothing to check per row); only if the file turns out to hold bytes that
    are not UTF-8 does the reader start over with ``surrogateescape``, skipping the rows already given, and
    check each row from there, so the bad rows are named instead of ending in a traceback.
    """

    path: Path

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._items(strict=True)  # type: ignore[return-value]

    def checked(self) -> Iterator[dict[str, Any] | RejectedRow]:
        """Every row, a `RejectedRow` in place of each row that cannot be read faithfully (for `prepare`)."""
        return self._items(strict=False)

    def numbered(self) -> Iterator[Row]:
        return ((i, rec) for i, rec in enumerate(self, start=1))

    def _items(self, *, strict: bool) -> Iterator[dict[str, Any] | RejectedRow]:
        try:
            yield from self._parse(strict=strict, errors="strict", skip=0)
        except _NotUtf8 as restart:
            yield from self._parse(strict=strict, errors="surrogateescape", skip=restart.rows_done)

    def _parse(self, *, strict: bool, errors: str, skip: int) -> Iterator[dict[str, Any] | RejectedRow]:
        raise NotImplementedError

    @staticmethod
    def _reject(strict: bool, problems: list[RecordProblem]) -> RejectedRow:
        if strict:
            raise RecordValidationError(problems)
        return RejectedRow(problems)


class CsvRecords(_FileRecords):
    """Records from a UTF-8 CSV file with a header row; re-iterable (each iteration reopens the file).

    Empty cells become absent fields (Bulk semantics: "leave unchanged"); the literal `null_marker`
    (default ``#N/A``, as in Bulk API 2.0 and Data Loader) becomes None (set the field to null).
    A BOM at the start of the file is ignored. Any file size: one row is in memory at a time.

    Refused rather than guessed (Bulk API 2.0 refuses them too, but only after the upload): a row with more
    or fewer cells than the header has columns (an unquoted comma in ``Smith, John`` would otherwise store
    "Smith"), and bytes that are not UTF-8. A header that names a column twice (compared without case, as
    Salesforce compares field names) or holds bytes that are not UTF-8 makes the whole file unreadable:
    that raises `RecordValidationError` at once, whichever way the file is read.
    """

    def __init__(self, path: str | os.PathLike[str], *, null_marker: str | None = "#N/A", delimiter: str = ",") -> None:
        self.path = Path(path)
        self.null_marker = null_marker
        self.delimiter = delimiter

    def header(self) -> list[str]:
        """The header's column names (empty for an empty file), after the header checks above."""
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            return self._read_header(csv.reader(handle, delimiter=self.delimiter)) or []

    @staticmethod
    def _read_header(reader: Any) -> list[str] | None:
        try:
            header: list[str] | None = next(reader, None)
        except csv.Error as exc:
            raise RecordValidationError([RecordProblem(HEADER_ROW, None, f"not readable as CSV: {exc}")]) from None
        if header is None:
            return None
        problems: list[RecordProblem] = []
        first_seen: dict[str, int] = {}
        for position, name in enumerate(header, start=1):
            reason = _utf8_problem(name)
            if reason:
                problems.append(RecordProblem(HEADER_ROW, _readable(name), f"column {position}'s name is {reason}"))
                continue
            earlier = first_seen.setdefault(name.lower(), position)
            if earlier != position:
                problems.append(
                    RecordProblem(
                        HEADER_ROW,
                        name,
                        f"columns {earlier} and {position} name the same field; only one value per field can be stored",
                    )
                )
        if problems:
            raise RecordValidationError(problems)
        return header

    def _parse(self, *, strict: bool, errors: str, skip: int) -> Iterator[dict[str, Any] | RejectedRow]:
        row = 0
        try:
            with open(self.path, encoding="utf-8-sig", errors=errors, newline="") as handle:
                reader = csv.reader(handle, delimiter=self.delimiter)
                header = self._read_header(reader)
                if header is None:
                    return
                width = len(header)
                null = self.null_marker
                check_bytes = errors != "strict"  # a strict decode already proved every byte is UTF-8
                for cells in reader:
                    if not cells:
                        continue  # a blank line is no row
                    row += 1
                    if row <= skip:
                        continue
                    if len(cells) != width or (check_bytes and not all(map(str.isascii, cells))):
                        problems = _cell_problems(row, header, cells)
                        if problems:
                            yield self._reject(strict, problems)
                            continue
                    record: dict[str, Any] = {}
                    for name, cell in zip(header, cells, strict=True):
                        if cell == "":
                            continue
                        record[name] = None if cell == null else cell
                    yield record
        except UnicodeDecodeError:
            raise _NotUtf8(row) from None  # rows 1..row were given; the one being read was not
        except csv.Error as exc:
            raise RecordValidationError([RecordProblem(row + 1, None, f"not readable as CSV: {exc}")]) from None


def _cell_problems(row: int, header: list[str], cells: list[str]) -> list[RecordProblem]:
    width = len(header)
    problems: list[RecordProblem] = []
    if len(cells) > width:
        problems.append(
            RecordProblem(
                row,
                header[-1] if header else None,
                f"{len(cells)} cells for {width} columns: {_shown(cells[width], 20)} and any cells after it "
                "have no column (quote a value that contains the delimiter)",
            )
        )
    elif len(cells) < width:
        problems.append(
            RecordProblem(
                row,
                header[len(cells)],
                f"{len(cells)} cells for {width} columns: no cell for {header[len(cells)]!r}"
                + (" and the columns after it" if len(cells) < width - 1 else ""),
            )
        )
    for position, cell in enumerate(cells):
        reason = _utf8_problem(cell)
        if reason:
            problems.append(RecordProblem(row, header[position] if position < width else None, reason))
    return problems


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json.loads would keep the last value silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_SCALAR_JSON = (str, int, float, bool, type(None))


class JsonlRecords(_FileRecords):
    """Records from a JSON Lines file (one JSON object per line; blank lines skipped); re-iterable.

    A record's row is its position among the non-blank lines. Refused: a line that is not JSON (NaN and
    Infinity included) or not an object, a key given twice in one object, an object or array as a field's
    value (no Salesforce field takes one; ``str()`` would store Python text such as ``{'a': 1}``), and
    bytes that are not UTF-8.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _parse(self, *, strict: bool, errors: str, skip: int) -> Iterator[dict[str, Any] | RejectedRow]:
        row = 0
        check_bytes = errors != "strict"
        try:
            with open(self.path, encoding="utf-8-sig", errors=errors) as handle:
                for line_no, line in enumerate(handle, start=1):
                    if line.isspace():
                        continue
                    row += 1
                    if row <= skip:
                        continue
                    try:
                        value = json.loads(line, object_pairs_hook=_object_once, parse_constant=_no_constant)
                    except _RepeatedKey as exc:
                        yield self._reject(
                            strict, [RecordProblem(row, exc.key, _at_line("given twice in one object", row, line_no))]
                        )
                        continue
                    except ValueError as exc:
                        reason = (_utf8_problem(line) if check_bytes else None) or _json_error(exc)
                        yield self._reject(strict, [RecordProblem(row, None, _at_line(reason, row, line_no))])
                        continue
                    if check_bytes and not line.isascii() and _NOT_UTF8.search(line):
                        yield self._reject(strict, _object_utf8_problems(row, line_no, value))
                        continue
                    if type(value) is not dict:
                        reason = f"a JSON Lines record must be an object, got {type(value).__name__}"
                        yield self._reject(strict, [RecordProblem(row, None, _at_line(reason, row, line_no))])
                        continue
                    nested = [name for name, v in value.items() if not isinstance(v, _SCALAR_JSON)]
                    if nested:
                        yield self._reject(
                            strict,
                            [
                                RecordProblem(
                                    row,
                                    name,
                                    _at_line(
                                        f"a JSON {'object' if isinstance(value[name], dict) else 'array'} "
                                        "is not a field value (text, number, true/false or null)",
                                        row,
                                        line_no,
                                    ),
                                )
                                for name in nested
                            ],
                        )
                        continue
                    yield value
        except UnicodeDecodeError:
            raise _NotUtf8(row) from None


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    return f"not valid JSON: {exc}"


def _object_utf8_problems(row: int, line_no: int, value: Any) -> list[RecordProblem]:
    """The fields of a parsed line whose name or text holds bytes that are not UTF-8."""
    if not isinstance(value, dict):
        return [
            RecordProblem(
                row, None, _at_line(_utf8_problem(json.dumps(value, ensure_ascii=False)) or "not UTF-8", row, line_no)
            )
        ]
    problems = []
    for name, item in value.items():
        reason = _utf8_problem(name) or (_utf8_problem(item) if isinstance(item, str) else None)
        if reason is None and not isinstance(item, str):
            reason = _utf8_problem(json.dumps(item, ensure_ascii=False))
        if reason:
            problems.append(RecordProblem(row, _readable(name), _at_line(reason, row, line_no)))
    return problems


def _at_line(reason: str, row: int, line_no: int) -> str:
    """`reason`, with the file's line number when blank lines make it differ from the row number."""
    return reason if row == line_no else f"{reason} (line {line_no})"


def file_columns(records: Any) -> list[str] | None:
    """The columns of `records` known before the first row is read (a CSV file's header), or None for any
    other input. A wrapper that yields a reader's rows unchanged (a progress counter) names it `reader`."""
    reader = getattr(records, "reader", records)
    return reader.header() if isinstance(reader, CsvRecords) else None


def read_records(path: str | os.PathLike[str]) -> CsvRecords | JsonlRecords:
    """A reader chosen by file extension: ``.jsonl``/``.ndjson`` -> JSON Lines, anything else -> CSV."""
    suffix = Path(path).suffix.lower()
    return JsonlRecords(path) if suffix in (".jsonl", ".ndjson") else CsvRecords(path)


# -- validation and preparation ----------------------------------------------------------------------
ValueCheck = Callable[[str, Any], "str | None"]
"""Why one field's value cannot be sent (field name, value), or None."""
ValueScreen = Callable[[list[Any]], bool]
"""True when every value of a row certainly passes the `ValueCheck` it goes with (one quick test of the
whole row); False says nothing, and each value is checked. A row's values are checked once per row, so
for wide inputs this is most of validation's work."""


@dataclass
class Validator:
    """Checks one record: an Id that is present and well formed (and, when `key_prefix` is given, an Id of
    the target object: its first three characters are the object's key prefix), field names that are API
    names given once each (and, when `known_fields` is given, fields the object has, compared
    case-insensitively), plus any strategy-specific value check (e.g. characters XML cannot carry).
    A reader's `RejectedRow` (a row it could not read faithfully) is reported with the reader's reasons.

    `unique_ids` (default True) makes `prepare` refuse an input that names one record twice; see
    `duplicate_ids` for why, and how it stays in flat memory.

    `operation` (default: update by Id) is an upsert's key instead: every row must give the external id a
    value, no row may name ``Id``, and "names one record twice" compares keys (`strategies.operation` has
    the decisions and why).

    Everything about a record's *names* depends only on its tuple of keys, which repeats from row to row
    (a CSV file has a handful of shapes: its header minus the empty cells). So names are judged once per
    shape (`_shape`), and each row pays only for its Id and its values.
    """

    known_fields: Collection[str] | None = None
    value_check: ValueCheck | None = None
    value_screen: ValueScreen | None = None
    """A quick test of a row's checked values together (`ValueScreen`): True spares the row the call of
    `value_check` per value."""
    key_prefix: str | None = None
    unique_ids: bool = True
    max_shapes: int = 4096
    operation: Operation = UPDATE_BY_ID

    def __post_init__(self) -> None:
        self._known = {f.lower() for f in self.known_fields} if self.known_fields is not None else None
        self._shapes: dict[tuple[Any, ...], _Shape] = {}

    def problems(self, row: int, record: Mapping[str, Any]) -> list[RecordProblem]:
        if type(record) is not dict and not isinstance(record, Mapping):  # (an ABC check is slow: skip it for dicts)
            if type(record) is RejectedRow:
                return list(record.problems)
            return [RecordProblem(row, None, f"a record must be a mapping, got {type(record).__name__}")]
        keys = tuple(record)
        shape = self._shapes.get(keys)
        if shape is not None and shape.plain:  # the common row, decided without building anything
            value = record["Id"]
            if (
                type(value) is str
                and len(value) == 18
                and _ID_SHAPE.fullmatch(value)
                and value[15:].upper() == id_checksum(value)
                and (self.key_prefix is None or value[:3] == self.key_prefix)
                and (
                    self.value_check is None
                    or (self.value_screen is not None and self.value_screen([record[name] for name in shape.checked]))
                )
            ):
                return []
        if shape is None:
            shape = self._shape(keys)
            if len(self._shapes) < self.max_shapes:
                self._shapes[keys] = shape
        found = [RecordProblem(row, name, reason) for name, reason in shape.name_problems]
        if self.operation.is_upsert:
            if shape.id_key is not None:
                reason = self.operation.key_problem(record[shape.id_key])
                if reason:
                    found.append(RecordProblem(row, self.operation.key, reason))
        elif shape.id_key is not None:
            value = record[shape.id_key]
            reason = id_problem(value)
            if reason:
                found.append(RecordProblem(row, "Id", reason))
            elif self.key_prefix is not None and value[:3] != self.key_prefix:
                found.append(
                    RecordProblem(
                        row,
                        "Id",
                        f"{value} is not an Id of this object: its key prefix is {value[:3]!r}, "
                        f"this object's Ids start with {self.key_prefix!r}",
                    )
                )
        check = self.value_check
        screen = self.value_screen
        if check is not None and (screen is None or not screen([record[name] for name in shape.checked])):
            for name in shape.checked:
                reason = check(name, record[name])
                if reason:
                    found.append(RecordProblem(row, name, reason))
        return found

    def clean_page(self, records: list[Any]) -> list[str] | None:
        """The Ids of `records` when every one is a plain dict of one plain shape whose Id and values pass:
        `problems` would find nothing in any. The same tests as `problems`' common row, each made once for
        the whole page at C speed (no Python code runs per record). None when any record may not pass:
        judge each with `problems`."""
        try:
            if set(map(type, records)) != {dict}:
                return None
            shapes = set(map(tuple, records))
        except TypeError:  # unhashable keys
            return None
        if len(shapes) != 1:
            return None
        keys = shapes.pop()
        shape = self._shapes.get(keys)
        if shape is None:
            shape = self._shapes[keys] = self._shape(keys)
        if not shape.plain:
            return None
        try:
            ids: list[str] = list(map(_GET_ID, records))
            joined = "\n".join(ids)  # TypeError unless every Id is text
        except TypeError:
            return None
        if not _ID_PAGE.fullmatch(joined):  # every Id 18 letters and digits
            return None
        if self.key_prefix is not None and not all(map(methodcaller("startswith", self.key_prefix), ids)):
            return None
        flags = joined.translate(_PAGE_FLAGS).split("\n")
        expected = list(map(_SUFFIXES.get, map(_FIRST_15, flags)))
        if None in expected:  # a case pattern not met yet: learn it (once per pattern)
            for value in ids:
                id_checksum(value)
            expected = list(map(_SUFFIXES.get, map(_FIRST_15, flags)))
        if "".join(expected) != "".join(map(_LAST_3, ids)).upper():  # type: ignore[arg-type]
            return None
        if self.value_check is not None and shape.checked:
            screen = self.value_screen
            if screen is None:
                return None
            getter = itemgetter(*shape.checked)
            values = (
                list(map(getter, records))
                if len(shape.checked) == 1
                else list(chain.from_iterable(map(getter, records)))
            )
            if not screen(values):
                return None
        return ids

    def _shape(self, keys: tuple[Any, ...]) -> _Shape:
        """For an upsert, `_Shape.id_key` is the key field's spelling (the Id column is refused)."""
        name_problems: list[tuple[str | None, str]] = []
        operation = self.operation
        id_keys = [k for k in keys if isinstance(k, str) and k.lower() == "id"]
        if operation.is_upsert:
            if id_keys:
                name_problems.append(
                    (
                        "Id",
                        f"an upsert matches records on {operation.key}, so an Id column would name the record "
                        "twice: remove it (or run an update by Id)",
                    )
                )
            id_keys = [k for k in keys if isinstance(k, str) and k.lower() == operation.key.lower()]
            if not id_keys:
                name_problems.append((operation.key, operation.key_problem(None) or ""))
        elif not id_keys:
            name_problems.append(("Id", "missing Id"))
        if len(id_keys) > 1:
            name_problems.append((id_keys[0], f"{id_keys[0]} given more than once"))
        checked: list[str] = []
        spelled: dict[str, str] = {}
        for name in keys:
            if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
                name_problems.append((str(name), "not a valid field API name"))
            elif name.lower() == "id" or (name in id_keys and name != id_keys[0]):
                continue
            elif name.lower() in spelled:
                name_problems.append(
                    (name, f"the same field as {spelled[name.lower()]!r}: only one value per field can be stored")
                )
            elif self._known is not None and name.lower() not in self._known:
                name_problems.append((name, "the object has no such field"))
            else:
                spelled[name.lower()] = name
                checked.append(name)
        id_key = id_keys[0] if id_keys else None
        return _Shape(id_key, tuple(name_problems), tuple(checked), plain=id_key == "Id" and not name_problems)


@dataclass(frozen=True)
class _Shape:
    """What a record's key tuple alone decides: its Id key, its name problems, the names to value-check."""

    id_key: str | None
    name_problems: tuple[tuple[str | None, str], ...]
    checked: tuple[str, ...]
    plain: bool = False
    """No name problem and the Id spelled ``Id``: a row of this shape is judged by its values alone."""


def normalise(record: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict with the Id key spelled ``Id`` (inputs may say ``ID`` or ``id``)."""
    if "Id" in record and "id" not in record and "ID" not in record and "iD" not in record:
        return record if type(record) is dict else dict(record)  # the common case: nothing to rename
    out: dict[str, Any] = {}
    for name, value in record.items():
        out["Id" if isinstance(name, str) and name.lower() == "id" else name] = value
    return out


class PreparedRecords:
    """Numbered, validated records that can be iterated more than once, with their count when known.

    Built by `prepare`; iterating yields `Row` tuples. Call `close()` to remove a spool file.
    """

    def __init__(
        self,
        source: Iterable[Mapping[str, Any]] | None,
        spool: IO[bytes] | None,
        count: int | None,
        columns: list[str] | None,
    ) -> None:
        self._source = source
        self._spool = spool
        self.count = count
        self.columns = columns
        """All field names seen, in first-seen order (known after a validation pass), else None."""
        self.journaled = False
        """Every row was stored in the run journal during the validation pass (`prepare`'s `on_clean`)."""
        self.taken = False
        """The strategy took every row into its first pass during validation: it must not be read again."""

    def __iter__(self) -> Iterator[Row]:
        if self._spool is not None:
            self._spool.seek(0)
            while True:
                try:
                    yield pickle.load(self._spool)  # one independent pickle per record (see `spool_dump`)
                except EOFError:
                    return
        else:
            assert self._source is not None
            for i, record in enumerate(self._source, start=1):
                yield i, normalise(record)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def spool_dump(spool: IO[bytes], item: Any) -> None:
    """Append `item` to a spool file as a self-contained pickle, read back with `pickle.load`.

    Each item gets its own pickler (and the reader its own unpickler): a shared pickler with
    `clear_memo()` read by one long-lived unpickler makes their memo tables diverge, and an object
    referenced twice in one record (a string that is both Name and URL) would come back as a value
    memoised from an earlier record. The property tests caught exactly that.
    """
    pickle.dump(item, spool, protocol=pickle.HIGHEST_PROTOCOL)


def prepare(
    records: Iterable[Mapping[str, Any]],
    *,
    validator: Validator | None,
    need_count: bool = False,
    max_problems: int = 20,
    on_clean: Callable[[int, dict[str, Any]], None] | None = None,
) -> PreparedRecords:
    """Validate every record (when `validator` is given) before anything is sent; see the module doc.

    Raises `RecordValidationError` naming the first `max_problems` problems (by row) and counting all bad
    records: rows the validator or the reader refused, and (with `validator.unique_ids`) every row that
    repeats an earlier row's Id. With `validator=None` and no count needed, records stream straight through
    (the org judges them).

    `on_clean(row, record)` is called for each row that passed validation, as it passes (the validation
    pass is the one read of the input a strategy cannot skip, so work that needs every row once, such as
    storing it in a run journal, is done here instead of in a pass of its own). It runs with the
    validation pass (a `validator` is given); should the input then be refused, what it did is the
    caller's to discard.
    """
    one_shot = iter(records) is records
    if validator is None and not need_count:
        return PreparedRecords(records, None, None, None)
    source: Iterable[Any] = (
        records.checked() if validator is not None and isinstance(records, _FileRecords) else records
    )
    problems: list[RecordProblem] = []
    bad = 0
    columns: dict[str, None] = {}
    spool: IO[bytes] | None = tempfile.TemporaryFile(prefix="sfh-input-") if one_shot else None  # noqa: SIM115 - handed to PreparedRecords, or closed on failure
    operation = validator.operation if validator is not None else UPDATE_BY_ID
    repeats = (
        DuplicateIds(details=max_problems, key_of=str if operation.is_upsert else ID15)
        if validator is not None and validator.unique_ids
        else None
    )
    ids = repeats.pending if repeats is not None else None  # one entry per row (see DuplicateIds)
    block = repeats.block if repeats is not None else 0
    count = 0
    rows = iter(source)
    try:
        while page := list(islice(rows, _PAGE)):
            page_ids = validator.clean_page(page) if validator is not None else None
            if page_ids is not None:  # a page of plain records, judged as one: nothing to find in any
                first = count + 1
                count += len(page)
                if not columns.keys() >= page[0].keys():
                    for name in page[0]:
                        columns.setdefault(name, None)
                if ids is not None:
                    ids.extend(page_ids)
                    if len(ids) >= block:
                        repeats.spill()  # type: ignore[union-attr]
                if spool is not None:
                    for number, clean in enumerate(page, start=first):
                        spool_dump(spool, (number, clean))
                if on_clean is not None:
                    for number, clean in enumerate(page, start=first):
                        on_clean(number, clean)
                continue
            for record in page:
                count += 1
                if validator is not None:
                    found = validator.problems(count, record)
                    if found:
                        bad += 1
                        if len(problems) < max_problems:
                            problems.extend(found[: max_problems - len(problems)])
                        if ids is not None:
                            ids.append(None)
                            if len(ids) >= block:
                                repeats.spill()  # type: ignore[union-attr]
                        continue
                clean = normalise(record)
                if not columns.keys() >= clean.keys():  # a new shape: add its names in first-seen order
                    for name in clean:
                        columns.setdefault(name, None)
                if ids is not None:
                    if operation.is_upsert:
                        ids.append(operation.duplicate_key(operation.key_text(clean) or ""))
                    else:
                        ids.append(clean["Id"])
                    if len(ids) >= block:
                        repeats.spill()  # type: ignore[union-attr]
                if spool is not None:
                    spool_dump(spool, (count, clean))
                if on_clean is not None:
                    on_clean(count, clean)
        if repeats is not None:
            repeated, shown = repeats.finish()
            if repeated:
                bad += repeated
                problems.extend(
                    RecordProblem(row, operation.key, _repeat_reason(first, key, operation))
                    for row, first, key in shown
                )
                problems = sorted(problems, key=lambda p: p.row)[:max_problems]
    except BaseException:
        if spool:
            spool.close()
        raise
    finally:
        if repeats is not None:
            repeats.close()
    if bad:
        if spool:
            spool.close()
        raise RecordValidationError(problems, total=bad)
    return PreparedRecords(None if one_shot else records, spool, count, list(columns))


_PAGE = 2000
"""Records `prepare` takes at a time to judge as one page (`Validator.clean_page`)."""


def _repeat_reason(first_row: int, key: str, operation: Operation = UPDATE_BY_ID) -> str:
    if operation.is_upsert:
        how = ", compared without case" if operation.folds_case else ""
        return (
            f"the same {operation.key} as row {first_row} ({key!r}{how}): each key may appear once, "
            "or the input's order would decide which values are stored"
        )
    return (
        f"the same record as row {first_row} (Id {key + id_checksum(key)}): each Id may appear once, "
        "or the input's order would decide which values are stored"
    )


# -- chunking ---------------------------------------------------------------------------------------
K = TypeVar("K")


@dataclass(frozen=True)
class ChunkLimits:
    """Upper bounds for one chunk (a Bulk 1.0 batch or a Bulk 2.0 job upload); None means unbounded.

    Bytes are UTF-8 bytes and characters are Python characters (code points) of the complete payload,
    header and footer included.
    """

    max_records: int | None = None
    max_bytes: int | None = None
    max_chars: int | None = None


class RecordTooLarge(ValueError):
    """One rendered record alone exceeds a chunk limit."""


@dataclass
class Chunk:
    """A finished chunk: its payload in `file` (rewound to 0), and exactly measured totals."""

    index: int
    file: IO[bytes]
    records: int
    bytes: int
    chars: int
    header: str = ""


def _disk_spool() -> IO[bytes]:
    return tempfile.TemporaryFile(prefix="sfh-chunk-")


class Chunker:
    """Cuts rendered records into chunks within `limits`, writing each chunk to its own spool file.

    `header` starts and `footer` ends every chunk and both count toward its size. `add` places one
    record's final text and returns the chunk it *finished* when the record did not fit (the record then
    opens the next chunk); `flush` returns the last, partial chunk, so no trailing record is ever dropped.
    `index` is the chunk the last added record went into; `open_records` how many records the unfinished
    chunk holds (a strategy reports those if it has to stop).

    A record that alone exceeds a limit raises `RecordTooLarge` and is not placed.
    """

    def __init__(
        self, limits: ChunkLimits, *, header: str = "", footer: str = "", spool: Callable[[], IO[bytes]] = _disk_spool
    ) -> None:
        self.limits = limits
        self.header = header
        self.footer = footer
        self._foot_bytes = len(footer.encode("utf-8"))
        self._spool = spool
        self._current: Chunk | None = None
        self.index = -1
        self._empty = self._empty_chunk()

    def _empty_chunk(self) -> Chunk:
        """A stand-in for a chunk holding only the header (to test whether one record fits at all)."""
        return Chunk(-1, None, 0, len(self.header.encode("utf-8")), len(self.header))  # type: ignore[arg-type]

    @property
    def open_records(self) -> int:
        return self._current.records if self._current is not None else 0

    def set_header(self, header: str) -> Chunk | None:
        """Use `header` from the next record on; finishes and returns the open chunk if it has records."""
        if header == self.header:
            return None
        finished = self.flush()
        self.header = header
        self._empty = self._empty_chunk()
        return finished

    def add(self, text: str) -> Chunk | None:
        encoded = text.encode("utf-8")
        nbytes, nchars = len(encoded), len(text)
        chunk = self._current
        finished: Chunk | None = None
        if chunk is None or not self._fits(chunk, nbytes, nchars):
            if not self._fits_alone(nbytes, nchars):
                raise RecordTooLarge(
                    f"one record renders to {nbytes} bytes / {nchars} characters, over the chunk limit {self.limits}"
                )
            if chunk is not None:
                finished = self._finish()
            self._start()
            chunk = self._current
            assert chunk is not None
        chunk.file.write(encoded)
        chunk.records += 1
        chunk.bytes += nbytes
        chunk.chars += nchars
        return finished

    def add_text(self, joined: str, records: int) -> bool:
        """Place `records` records, rendered and joined into `joined`, in the open chunk with one write, when
        they all fit in it; False (and nothing placed) when they do not or no chunk is open: then place them
        one at a time with `add`."""
        chunk = self._current
        if chunk is None or not records:
            return False
        encoded = joined.encode("utf-8")
        nbytes, nchars, limits = len(encoded), len(joined), self.limits
        if limits.max_records is not None and chunk.records + records > limits.max_records:
            return False
        if limits.max_bytes is not None and chunk.bytes + nbytes + self._foot_bytes > limits.max_bytes:
            return False
        if limits.max_chars is not None and chunk.chars + nchars + len(self.footer) > limits.max_chars:
            return False
        chunk.file.write(encoded)
        chunk.records += records
        chunk.bytes += nbytes
        chunk.chars += nchars
        return True

    def flush(self) -> Chunk | None:
        """Finish and return the open chunk, or None if it holds no record."""
        if self._current is None:
            return None
        if self._current.records == 0:
            self._current.file.close()
            self._current = None
            self.index -= 1
            return None
        return self._finish()

    def discard(self) -> None:
        """Drop the open chunk (after a failure); its records must be reported by the caller."""
        if self._current is not None:
            self._current.file.close()
            self._current = None

    def _start(self) -> None:
        self.index += 1
        encoded = self.header.encode("utf-8")
        handle = self._spool()
        handle.write(encoded)
        self._current = Chunk(self.index, handle, 0, len(encoded), len(self.header), self.header)

    def _finish(self) -> Chunk:
        chunk = self._current
        assert chunk is not None
        self._current = None
        chunk.file.write(self.footer.encode("utf-8"))
        chunk.bytes += self._foot_bytes
        chunk.chars += len(self.footer)
        chunk.file.seek(0)
        return chunk

    def _fits_alone(self, nbytes: int, nchars: int) -> bool:
        return self._fits(self._empty, nbytes, nchars)

    def _fits(self, chunk: Chunk, nbytes: int, nchars: int) -> bool:
        limits = self.limits
        if limits.max_records is not None and chunk.records + 1 > limits.max_records:
            return False
        if limits.max_bytes is not None and chunk.bytes + nbytes + self._foot_bytes > limits.max_bytes:
            return False
        if limits.max_chars is not None and chunk.chars + nchars + len(self.footer) > limits.max_chars:  # noqa: SIM103 - one check per limit, in parallel, reads better than one expression
            return False
        return True


def iter_chunks(
    items: Iterable[tuple[K, str]],
    limits: ChunkLimits,
    *,
    header: str = "",
    footer: str = "",
    spool: Callable[[], IO[bytes]] = _disk_spool,
) -> Iterator[tuple[Chunk, list[K]]]:
    """Convenience over `Chunker` for small inputs: yields each finished chunk with the keys it holds."""
    chunker = Chunker(limits, header=header, footer=footer, spool=spool)
    keys: list[K] = []
    for key, text in items:
        finished = chunker.add(text)
        if finished is not None:
            yield finished, keys
            keys = []
        keys.append(key)
    last = chunker.flush()
    if last is not None:
        yield last, keys


def text_of(value: Any) -> str:
    """The text form Bulk payloads use for a non-null value (booleans lower case, dates ISO 8601)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


_NEEDS_QUOTES = re.compile(r'[",\r\n]|^\s|\s$')


def csv_cell(text: str) -> str:
    """One CSV cell. Quoted when it holds a comma, a quote, CR or LF, or starts or ends with whitespace.

    Not `csv.writer`: with QUOTE_MINIMAL it leaves a lone CR unquoted, which every reader (Salesforce's
    and Python's) takes as a line break, silently splitting the record.
    """
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(cells: Iterable[str]) -> str:
    """One LF-terminated CSV line of `csv_cell`s (a lone empty cell is written ``""``: an empty line
    would be skipped by readers as a blank line)."""
    line = ",".join(csv_cell(c) for c in cells)
    return (line or '""') + "\n"
