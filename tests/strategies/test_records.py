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
    RejectedRow,
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
    records = iter(
        [
            {"Id": make_id(1), "Name": "ok"},
            {"Name": "no id"},
            {"Id": "bad", "Name": "x"},
            {"Id": make_id(4), "Nope__c": 1},
        ]
    )
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

    source = (
        {"Id": make_id(i), "When": dt.date(2024, 1, i % 28 + 1), "Amount": Decimal("1.10")} for i in range(1, 501)
    )
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
    path.write_text(
        "\ufeffId,Name,Tweets__c\n" + f'{make_id(1)},"a, ""b""\nc",#N/A\n' + f"{make_id(2)},,5\n", encoding="utf-8"
    )
    rows = list(CsvRecords(path))
    assert rows == [{"Id": make_id(1), "Name": 'a, "b"\nc', "Tweets__c": None}, {"Id": make_id(2), "Tweets__c": "5"}]
    assert list(CsvRecords(path)) == rows  # re-iterable
    assert isinstance(read_records(path), CsvRecords)


def test_jsonl_reader(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps({"Id": make_id(1), "Likes__c": 3}) + "\n\n" + json.dumps({"Id": make_id(2)}) + "\n", encoding="utf-8"
    )
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
        assert any(
            len((header + line + footer).encode() if not by_chars else header + line + footer) > limit for line in lines
        )
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
    source = iter(
        [
            {"Id": make_id(1), "Name": "first", "Url": None},
            {"Id": make_id(2), "Name": shared_later, "Url": shared_later},
        ]
    )
    prepared = prepare(source, validator=Validator())
    rows = [record for _, record in prepared]
    assert rows[1] == {"Id": make_id(2), "Name": "same", "Url": "same"}
    assert list(prepared)[1][1] == rows[1]
    prepared.close()


# -- readers refuse what they cannot read faithfully ---------------------------------------------------
def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refusal(records: object, **validator: object) -> RecordValidationError:
    with pytest.raises(RecordValidationError) as info:
        prepare(records, validator=Validator(**validator))  # type: ignore[arg-type]
    return info.value


def test_csv_row_with_an_extra_or_a_missing_cell_is_refused_with_row_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "in.csv",
        f"Id,Name,Tweets__c\n{make_id(1)},Smith, John,4\n{make_id(2)},ok,1\n{make_id(3)},Bob\n".encode(),
    )
    err = _refusal(CsvRecords(path))
    assert err.total == 2
    assert [(p.row, p.field) for p in err.problems] == [(1, "Tweets__c"), (3, "Tweets__c")]
    assert "4 cells for 3 columns" in err.problems[0].reason and "'4'" in err.problems[0].reason
    assert err.problems[1].reason == "2 cells for 3 columns: no cell for 'Tweets__c'"
    with pytest.raises(RecordValidationError, match="row 1, field 'Tweets__c'"):
        list(CsvRecords(path))  # plain iteration stops at the first, never yields a wrong record


@pytest.mark.parametrize("header", ["Id,Name,Name", "Id,Name,NAME", "Id,Id"])
def test_csv_header_naming_a_field_twice_refuses_the_file(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, "in.csv", f"{header}\n{make_id(1)},a,b\n".encode())
    with pytest.raises(RecordValidationError) as header_refusal:
        CsvRecords(path).header()
    for err in (_refusal(CsvRecords(path)), header_refusal.value):
        assert err.problems[0].row == 0 and "name the same field" in err.problems[0].reason
        assert str(err.problems[0]).startswith("header, field ")


def test_non_utf8_bytes_are_named_by_row_and_field_and_the_rest_is_read_once(tmp_path: Path) -> None:
    # The bad byte sits far past the first decoded chunk: the reader restarts in the tolerant decoding and
    # must give every earlier row exactly once.
    rows = [f"{make_id(i)},name {i}\n".encode() for i in range(1, 3001)]
    rows[2499] = f"{make_id(2500)},Caf".encode() + b"\xe9\n"
    path = _write(tmp_path, "in.csv", b"Id,Name\n" + b"".join(rows))
    items = list(CsvRecords(path).checked())
    assert len(items) == 3000
    rejected = [i for i, item in enumerate(items, start=1) if isinstance(item, RejectedRow)]
    assert rejected == [2500]
    assert (
        str(items[2499].problems[0])
        == "row 2500, field 'Name': not UTF-8: byte 0xE9 in 'Caf\\xe9'; save the file as UTF-8"
    )
    assert [item["Name"] for item in items if not isinstance(item, RejectedRow)] == [
        f"name {i}" for i in range(1, 3001) if i != 2500
    ]


def test_non_utf8_header_refuses_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "in.csv", b"Id,Na\xffme\n" + make_id(1).encode() + b",x\n")
    err = _refusal(CsvRecords(path))
    assert (err.problems[0].row, err.problems[0].field) == (0, "Na\\xffme")


def test_jsonl_refusals_name_row_field_and_reason(tmp_path: Path) -> None:
    lines = [
        json.dumps({"Id": make_id(1), "Name": {"a": 1}}),
        json.dumps({"Id": make_id(2), "Tags__c": [1, 2]}),
        "",
        '{"Id": "' + make_id(3) + '", "Name": "a", "Name": "b"}',
        '{"Id": "' + make_id(4) + '", "Likes__c": NaN}',
        '["not", "an", "object"]',
        '{"Id": "' + make_id(6) + '", ',
        json.dumps({"Id": make_id(7), "Name": "fine"}),
    ]
    path = _write(
        tmp_path,
        "in.jsonl",
        ("\n".join(lines) + "\n").encode() + b'{"Id": "' + make_id(8).encode() + b'", "Name": "\xe9"}\n',
    )
    err = _refusal(JsonlRecords(path))
    found = [(p.row, p.field) for p in err.problems]
    assert found == [(1, "Name"), (2, "Tags__c"), (3, "Name"), (4, None), (5, None), (6, None), (8, "Name")]
    reasons = [p.reason for p in err.problems]
    assert "a JSON object is not a field value" in reasons[0] and "a JSON array" in reasons[1]
    assert reasons[2] == "given twice in one object (line 4)"  # a blank line makes line and row differ
    assert "NaN is not a JSON value" in reasons[3] and "must be an object, got list" in reasons[4]
    assert reasons[5].startswith("not valid JSON: ") and "not UTF-8: byte 0xE9" in reasons[6]


def test_ids_of_another_object_are_refused_when_the_key_prefix_is_known() -> None:
    other = "001A0000006Vm9rIAC"
    records = [{"Id": make_id(1)}, {"Id": other}, {"Id": make_id(3)}]
    err = _refusal(records, key_prefix="a01")
    assert [(p.row, p.field) for p in err.problems] == [(2, "Id")]
    assert "key prefix is '001'" in err.problems[0].reason and "'a01'" in err.problems[0].reason
    assert prepare(records, validator=Validator()).count == 3  # without a prefix there is nothing to compare with


def test_a_field_given_twice_in_one_mapping_is_refused() -> None:
    err = _refusal([{"Id": make_id(1), "Name": "a", "name": "b"}])
    assert (err.problems[0].field, err.problems[0].reason.startswith("the same field as 'Name'")) == ("name", True)


@pytest.mark.parametrize("one_shot", [False, True])
def test_duplicate_ids_are_refused_naming_both_rows(one_shot: bool) -> None:
    rows = [{"Id": make_id(i)} for i in range(1, 11)] + [{"Id": make_id(4)[:15]}, {"Id": "bad"}, {"Id": make_id(9)}]
    err = _refusal(iter(rows) if one_shot else rows)
    assert err.total == 3  # two repeats and one malformed Id
    assert [(p.row, p.field) for p in err.problems] == [(11, "Id"), (12, "Id"), (13, "Id")]
    assert err.problems[0].reason.startswith(
        f"the same record as row 4 (Id {make_id(4)})"
    )  # 15 and 18 characters: one record
    assert err.problems[2].reason.startswith("the same record as row 9")
    assert prepare(rows[:10], validator=Validator()).count == 10
    assert prepare(rows[:11], validator=Validator(unique_ids=False)).count == 11  # the documented opt-out


def test_without_a_validator_a_bad_row_still_stops_iteration(tmp_path: Path) -> None:
    path = _write(tmp_path, "in.csv", f"Id,Name\n{make_id(1)},a\n{make_id(2)},b,c\n".encode())
    prepared = prepare(CsvRecords(path), validator=None)
    with pytest.raises(RecordValidationError, match="row 2"):
        list(prepared)


_cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=150, deadline=None, database=None)
@given(width=st.integers(1, 5), rows=st.lists(st.lists(_cells, min_size=1, max_size=7), max_size=12))
def test_csv_reader_gives_each_row_back_or_refuses_exactly_the_misfit_rows(
    tmp_path_factory: pytest.TempPathFactory, width: int, rows: list[list[str]]
) -> None:
    """Property: written with our CSV writer, every row whose width matches the header comes back as written
    (empty cells absent, the null marker as None); every other row is a RejectedRow naming that row."""
    header = [f"F{i}__c" for i in range(width)]
    path = tmp_path_factory.mktemp("prop") / "in.csv"
    path.write_text(csv_line(header) + "".join(csv_line(cells) for cells in rows), encoding="utf-8")
    items = list(CsvRecords(path).checked())
    assert len(items) == len(rows)
    for number, (cells, item) in enumerate(zip(rows, items, strict=True), start=1):
        if len(cells) == width:
            assert item == {
                name: (None if cell == "#N/A" else cell) for name, cell in zip(header, cells, strict=True) if cell != ""
            }
        else:
            assert isinstance(item, RejectedRow) and item.problems[0].row == number


_GOOD = [make_id(k) for k in range(1, 6)]
page_id = st.one_of(
    st.sampled_from(_GOOD),
    st.sampled_from(_GOOD),
    st.sampled_from([_GOOD[0][:15], _GOOD[1][:17] + "Z", _GOOD[2].lower(), "a01!" + _GOOD[3][4:], make_id(7, "b02")]),
    st.none(),
    st.integers(),
)
page_value = st.one_of(
    st.text(alphabet="ab1", min_size=1, max_size=3),
    st.text(alphabet="ab1", min_size=1, max_size=3),
    st.sampled_from(["#N/A", "a\x00b", "é", "\udcff", ""]),
    st.none(),
    st.integers(),
)
page_record = st.one_of(
    st.fixed_dictionaries({"Id": page_id, "Name": page_value}),
    st.fixed_dictionaries({"Id": page_id, "Name": page_value}),
    st.fixed_dictionaries({"ID": page_id, "Name": page_value}),
    st.fixed_dictionaries({"Id": page_id}),
    st.fixed_dictionaries({"Id": page_id, "bad name": page_value}),
)


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(page_record, min_size=1, max_size=5), st.sampled_from([None, "a01"]), st.booleans())
def test_a_clean_page_is_one_where_no_record_has_a_problem(
    records: list[dict], key_prefix: str | None, known: bool
) -> None:
    """`Validator.clean_page` judges a page at once: whenever it passes a page, `problems` must find
    nothing in any of its records, and it must pass every page of one plain shape, 18-character Ids and
    values the screen passes that `problems` passes."""
    from strategies.bulk2_csv import csv_value_problem, csv_values_pass

    validator = Validator(
        known_fields=["Name"] if known else None,
        value_check=csv_value_problem,
        value_screen=csv_values_pass,
        key_prefix=key_prefix,
    )
    ids = validator.clean_page(records)
    found = [validator.problems(row, record) for row, record in enumerate(records, start=1)]
    if ids is not None:
        assert found == [[]] * len(records) and ids == [r["Id"] for r in records]
    elif (
        len({tuple(r) for r in records}) == 1
        and not any(found)
        and "Id" in records[0]
        and all(len(r["Id"]) == 18 for r in records)  # a 15-character Id is judged by `problems`
    ):
        values_plain = all(csv_values_pass([v for k, v in r.items() if k != "Id"]) for r in records)
        assert not values_plain, "a page of plain, valid records was not passed"
