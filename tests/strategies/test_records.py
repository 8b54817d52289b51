"""Readers, validation before any call, and the exact chunker."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.errors import RecordValidationError
from strategies.records import (
    Chunker,
    ChunkLimits,
    CsvRecords,
    JsonlRecords,
    RecordTooLarge,
    Validator,
    csv_cell,
    csv_line,
    id_checksum,
    id_problem,
    iter_chunks,
    prepare,
    read_records,
    to_18,
)

from .conftest import make_id

COUNTS = [0, 1, 199, 200, 201, 999, 1000, 1001, 9999, 10000, 10001]


def test_id_checksum_matches_known_id() -> None:
    # Salesforce documents 001A0000006Vm9r -> 001A0000006Vm9rIAC
    assert id_checksum("001A0000006Vm9r") == "IAC"
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"


@pytest.mark.parametrize(
    "value, fragment",
    [
        (None, "missing"),
        ("", "missing"),
        ("001A0000006Vm9", "15 or 18"),
        ("001A0000006Vm9rIAD", "checksum"),
        ("001A0000006Vm9-", "letters and digits"),
        (12345, "text"),
    ],
)
def test_id_problems(value: object, fragment: str) -> None:
    problem = id_problem(value)
    assert problem is not None and fragment in problem


def test_valid_ids_pass() -> None:
    assert id_problem("001A0000006Vm9r") is None
    assert id_problem("001A0000006Vm9rIAC") is None
    assert id_problem("001A0000006Vm9riac") is None  # the suffix is case-insensitive


def test_validation_names_row_field_and_reason_and_sends_nothing() -> None:
    records = iter([{"Id": make_id(1), "Name": "ok"}, {"Name": "no id"}, {"Id": "bad", "Name": "x"}, {"Id": make_id(4), "Nope__c": 1}])
    with pytest.raises(RecordValidationError) as info:
        prepare(records, validator=Validator(known_fields={"Name"}))
    err = info.value
    assert err.total == 3
    assert [(p.row, p.field) for p in err.problems] == [(2, "Id"), (3, "Id"), (4, "Nope__c")]
    assert "row 2" in str(err) and "missing Id" in str(err)
    assert "no such field" in str(err)


def test_field_names_must_be_api_names() -> None:
    with pytest.raises(RecordValidationError, match="valid field API name"):
        prepare([{"Id": make_id(1), "a<b": 1}], validator=Validator())


def test_known_fields_are_case_insensitive() -> None:
    prepared = prepare([{"id": make_id(1), "name": "x"}], validator=Validator(known_fields={"Name", "Id"}))
    assert list(prepared) == [(1, {"Id": make_id(1), "name": "x"})]


def test_one_shot_iterators_are_spooled_and_replayable() -> None:
    import datetime as dt
    from decimal import Decimal

    source = ({"Id": make_id(i), "When": dt.date(2024, 1, i % 28 + 1), "Amount": Decimal("1.10")} for i in range(1, 501))
    prepared = prepare(source, validator=Validator())
    assert prepared.count == 500
    first = list(prepared)
    second = list(prepared)
    assert first == second and len(first) == 500
    assert first[0][1]["When"] == dt.date(2024, 1, 2) and first[0][1]["Amount"] == Decimal("1.10")
    assert prepared.columns == ["Id", "When", "Amount"]
    prepared.close()


def test_without_validation_records_stream_through() -> None:
    consumed: list[int] = []

    def gen():  # type: ignore[no-untyped-def]
        for i in range(3):
            consumed.append(i)
            yield {"Id": "whatever"}

    prepared = prepare(gen(), validator=None)
    assert consumed == []  # nothing read up front
    assert [row for row, _ in prepared] == [1, 2, 3]


def test_csv_reader(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('\ufeffId,Name,Tweets__c\n' + f'{make_id(1)},"a, ""b""\nc",#N/A\n' + f"{make_id(2)},,5\n", encoding="utf-8")
    rows = list(CsvRecords(path))
    assert rows == [{"Id": make_id(1), "Name": 'a, "b"\nc', "Tweets__c": None}, {"Id": make_id(2), "Tweets__c": "5"}]
    assert list(CsvRecords(path)) == rows  # re-iterable
    assert isinstance(read_records(path), CsvRecords)


def test_jsonl_reader(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"Id": make_id(1), "Likes__c": 3}) + "\n\n" + json.dumps({"Id": make_id(2)}) + "\n", encoding="utf-8")
    assert list(JsonlRecords(path)) == [{"Id": make_id(1), "Likes__c": 3}, {"Id": make_id(2)}]
    assert isinstance(read_records(path), JsonlRecords)


# -- chunker ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", COUNTS)
@pytest.mark.parametrize("size", [1, 200, 1000, 10_000])
def test_chunker_cuts_by_count_and_keeps_the_trailing_record(n: int, size: int) -> None:
    items = ((i, f"{i}\n") for i in range(n))
    chunks = list(iter_chunks(items, ChunkLimits(max_records=size), spool=io.BytesIO))
    keys = [k for _, ks in chunks for k in ks]
    assert keys == list(range(n))
    assert len(chunks) == -(-n // size)
    for chunk, ks in chunks:
        assert chunk.records == len(ks) <= size
        chunk.file.close()


text_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(text_values, max_size=120), st.integers(min_value=40, max_value=400), st.booleans())
def test_chunker_measures_exact_bytes_and_chars(values: list[str], limit: int, by_chars: bool) -> None:
    header, footer = "<head>\n", "</tail>"
    limits = ChunkLimits(max_chars=limit) if by_chars else ChunkLimits(max_bytes=limit)
    lines = [csv_line([v]) for v in values]
    try:
        chunks = list(iter_chunks(enumerate(lines), limits, header=header, footer=footer))
    except RecordTooLarge:
        assert any(len((header + l + footer).encode() if not by_chars else header + l + footer) > limit for l in lines)
        return
    seen: list[int] = []
    for chunk, keys in chunks:
        payload = chunk.file.read()
        chunk.file.close()
        text = payload.decode("utf-8")
        assert len(payload) == chunk.bytes and len(text) == chunk.chars  # measured == written
        assert (chunk.chars if by_chars else chunk.bytes) <= limit
        assert text == header + "".join(lines[k] for k in keys) + footer
        seen.extend(keys)
    assert seen == list(range(len(lines)))


def test_chunker_cuts_exactly_at_the_limit() -> None:
    chunker = Chunker(ChunkLimits(max_bytes=10), header="H", footer="F")
    assert chunker.add("1234") is None  # H1234F = 6
    assert chunker.add("567") is None  # H1234567F = 9
    assert chunker.add("8") is None  # exactly 10
    finished = chunker.add("9")
    assert finished is not None and finished.bytes == 10 and finished.file.read() == b"H12345678F"
    last = chunker.flush()
    assert last is not None and last.file.read() == b"H9F"


def test_chunker_rejects_a_record_larger_than_a_chunk() -> None:
    chunker = Chunker(ChunkLimits(max_bytes=5), header="", footer="")
    with pytest.raises(RecordTooLarge):
        chunker.add("123456")


def test_chunker_header_change_forces_a_cut() -> None:
    chunker = Chunker(ChunkLimits(), header="A\n")
    chunker.add("1\n")
    finished = chunker.set_header("A,B\n")
    assert finished is not None and finished.file.read() == b"A\n1\n"
    chunker.add("1,2\n")
    last = chunker.flush()
    assert last is not None and last.file.read() == b"A,B\n1,2\n"


# -- CSV cells ---------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(text_values, min_size=1, max_size=6))
def test_csv_line_round_trips_through_a_csv_reader(cells: list[str]) -> None:
    line = csv_line(cells)
    parsed = list(csv.reader(io.StringIO(line, newline="")))
    assert parsed == [cells]


def test_csv_cell_quotes_a_lone_carriage_return() -> None:
    assert csv_cell("a\rb") == '"a\rb"'
    assert csv_cell("plain") == "plain"
    assert csv_cell(" lead") == '" lead"'


def test_spooled_records_keep_shared_objects_apart() -> None:
    """Regression: a value used twice in one record must not come back as an earlier record's value."""
    shared_later = "same"
    source = iter([{"Id": make_id(1), "Name": "first", "Url": None}, {"Id": make_id(2), "Name": shared_later, "Url": shared_later}])
    prepared = prepare(source, validator=Validator())
    rows = [record for _, record in prepared]
    assert rows[1] == {"Id": make_id(2), "Name": "same", "Url": "same"}
    assert list(prepared)[1][1] == rows[1]
    prepared.close()
