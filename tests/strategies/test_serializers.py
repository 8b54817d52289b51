"""Bulk payload serializers: what we write parses back to exactly what the caller gave."""

from __future__ import annotations

import csv
import datetime as dt
import io

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.bulk1_xml import BULK1_NS, XSI_NS, SObjectXml, job_xml, xml_fields, xml_value_problem
from strategies.bulk2_csv import NULL_MARKER, CsvRowWriter, csv_value_problem, parse_sf_error
from strategies.records import Chunker, ChunkLimits

from .conftest import make_id

xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
).filter(lambda s: xml_value_problem("f", s) is None)

NASTY = [
    "plain",
    "<b>bold</b> & 'quotes' \"double\"",
    "]]> cdata end",
    "line1\nline2\r\nline3\rline4",
    "tab\tseparated",
    "emoji \U0001f600 and accents éèê and CJK 漢字",
    "comma, separated, values",
    "  leading and trailing  ",
    "x" * 32_000,
]


def parse_batch(payload: bytes) -> list[dict[str, str | None]]:
    root = SafeET.fromstring(payload)
    assert root.tag == f"{{{BULK1_NS}}}sObjects"
    out = []
    for element in root:
        out.append(
            {
                child.tag.split("}")[1]: (None if child.get(f"{{{XSI_NS}}}nil") == "true" else (child.text or ""))
                for child in element
            }
        )
    return out


@pytest.mark.parametrize("value", NASTY)
def test_xml_round_trip_of_nasty_values(value: str) -> None:
    writer = SObjectXml()
    payload = (
        writer.header + writer.render({"Id": make_id(1), "Name": value, "Tweets__c": None}) + writer.footer
    ).encode()
    assert parse_batch(payload) == [{"Id": make_id(1), "Name": value, "Tweets__c": None}]


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["Name", "Published_URL__c", "Other__c"]), st.one_of(st.none(), xml_text), max_size=3
        ),
        max_size=25,
    )
)
def test_xml_batches_round_trip_and_are_measured_exactly(records: list[dict[str, str | None]]) -> None:
    writer = SObjectXml()
    chunker = Chunker(
        ChunkLimits(max_records=7, max_bytes=4000, max_chars=3000), header=writer.header, footer=writer.footer
    )
    full = [{"Id": make_id(i + 1), **rec} for i, rec in enumerate(records)]
    chunks = []
    for rec in full:
        done = chunker.add(writer.render(rec))
        if done:
            chunks.append(done)
    last = chunker.flush()
    if last:
        chunks.append(last)
    parsed = []
    for chunk in chunks:
        payload = chunk.file.read()
        chunk.file.close()
        assert len(payload) == chunk.bytes <= 4000
        assert len(payload.decode()) == chunk.chars <= 3000
        assert chunk.records <= 7
        parsed.extend(parse_batch(payload))
    expected = [{k: (None if v == "" else v) for k, v in rec.items()} for rec in full]  # "" is sent as nil
    assert parsed == expected


def test_xml_value_types_and_order() -> None:
    writer = SObjectXml()
    text = writer.render({"Name": "n", "Id": make_id(1), "Flag__c": True, "When__c": dt.date(2024, 2, 29), "N__c": 3})
    assert text.startswith(f"<sObject><Id>{make_id(1)}</Id><Name>n</Name>")
    assert "<Flag__c>true</Flag__c>" in text and "<When__c>2024-02-29</When__c>" in text and "<N__c>3</N__c>" in text


def test_xml_rejects_characters_xml_cannot_carry() -> None:
    assert xml_value_problem("Name", "bell\x07") is not None
    assert xml_value_problem("Name", "fine\ttab\nnewline") is None


def test_job_documents() -> None:
    body = job_xml(operation="update", object="Byline__c", concurrencyMode="Serial", contentType="XML")
    fields = xml_fields(body)
    assert fields == {"operation": "update", "object": "Byline__c", "concurrencyMode": "Serial", "contentType": "XML"}
    assert SafeET.fromstring(body).tag == f"{{{BULK1_NS}}}jobInfo"


csv_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
).filter(lambda s: s != NULL_MARKER)


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["Name", "Other__c"]), st.one_of(st.none(), csv_text), max_size=2),
        min_size=1,
        max_size=20,
    )
)
def test_csv_rows_round_trip(records: list[dict[str, str | None]]) -> None:
    columns = ["Id", "Name", "Other__c"]
    full = [{"Id": make_id(i + 1), **rec} for i, rec in enumerate(records)]
    writer = CsvRowWriter(columns)
    payload = writer.header + "".join(writer.line(r) for r in full)
    rows = list(csv.reader(io.StringIO(payload, newline="")))
    assert rows[0] == columns
    for rec, row in zip(full, rows[1:], strict=True):
        for column, cell in zip(columns, row, strict=True):
            if column not in rec:
                assert cell == ""  # absent: leave unchanged
            elif rec[column] in (None, ""):
                assert cell == NULL_MARKER  # null
            else:
                assert cell == rec[column]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.dictionaries(
        st.sampled_from(["Id", "Name", "Other__c"]),
        st.one_of(st.none(), csv_text, st.integers(), st.booleans()),
        max_size=3,
    )
)
def test_csv_row_fast_path_equals_the_cell_by_cell_rendering(record: dict) -> None:
    """The one-join fast path of `CsvRowWriter.line` must give exactly what `csv_cell` gives cell by cell."""
    writer = CsvRowWriter(["Id", "Name", "Other__c"])
    cells = [record.get(c, writer._ABSENT) for c in writer.columns]
    assert writer.line(record) == writer._careful(cells)


page_value = st.one_of(
    st.text(alphabet="ab", min_size=1, max_size=3),  # the plain cell, most of the time
    st.text(alphabet="ab", min_size=1, max_size=3),
    st.text(alphabet='ab ,"\r\n\t\x0b\xa0é', max_size=4),
    st.just("#N/A"),
    st.none(),
    st.integers(),
)


@settings(max_examples=500, deadline=None, database=None)
@given(
    st.integers(min_value=1, max_value=3).flatmap(
        lambda width: st.tuples(
            st.just(width),
            st.lists(
                st.dictionaries(
                    st.sampled_from(["Id", "Name", "Other__c"][:width]),
                    page_value,
                    min_size=width - 1,
                ),
                min_size=1,
                max_size=4,
            ),
        )
    )
)
def test_csv_page_is_its_records_lines_or_none(case: tuple[int, list[dict]]) -> None:
    """`CsvRowWriter.page` tests a whole page at once: when it renders, it must give exactly the records'
    lines, and it must render a page whose every record takes `line`'s one-join path."""
    width, records = case
    writer = CsvRowWriter(["Id", "Name", "Other__c"][:width])
    lines = [writer.line(r) for r in records]
    page = writer.page(records)
    if page is not None:
        assert page == "".join(lines)
    plain = all(
        len(r) == width
        and all(isinstance(v, str) and v for v in r.values())
        and writer.line(r) == ",".join(r[c] for c in writer.columns) + "\n"
        for r in records
    )
    if plain:
        assert page == "".join(lines)


@pytest.mark.parametrize(
    "cells",
    [
        ["a", "b", "c"],
        ["a b", "b", " c"],
        ["a,b", "c", "d"],
        ["", "x", "y"],
        ["a", 'say "hi"', "z"],
        ["a", "b\rc", "d"],
    ],
)
def test_csv_row_fast_path_examples(cells: list[str]) -> None:
    writer = CsvRowWriter(["Id", "Name", "Other__c"])
    line = writer.line(dict(zip(writer.columns, cells, strict=True)))
    assert next(csv.reader(io.StringIO(line, newline=""))) == [c or NULL_MARKER for c in cells]


def test_csv_validation() -> None:
    assert csv_value_problem("Name", "#N/A") is not None
    assert csv_value_problem("Name", "a\x00b") is not None
    assert csv_value_problem("Name", 'ok, "quoted"\n') is None


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--",
            ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()),
        ),
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ("LastName",)),
        ),
        (
            "FIELD_CUSTOM_VALIDATION_EXCEPTION:Social counts cannot be negative.: --",
            ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Social counts cannot be negative.", ()),
        ),
        (
            "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:A__c,B__c --",
            ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", ("A__c", "B__c")),
        ),
    ],
)
def test_parse_sf_error(text: str, expected: tuple[str, str, tuple[str, ...]]) -> None:
    assert parse_sf_error(text) == expected
