"""Bulk data files on disk: reading uploaded batches (CSV, XML, JSON) and writing result files.

Uploads are streamed to disk by the HTTP layer; everything here reads and writes files incrementally so
the emulator's memory does not grow with a job's size. XML from clients is parsed with defusedxml.
"""

from __future__ import annotations

import csv
import io
import json
import marshal
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, filterfalse, islice
from typing import IO, Any, TypedDict
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from defusedxml.ElementTree import iterparse

from ..client_documents import UNREADABLE_XML, load_json
from ..constants import BULK1_NS
from ..errors import InvalidBatch

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
NA = "#N/A"

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}

csv.field_size_limit(2**31 - 1)

_SPOOL_BLOCK = 1000  # rows per block of a spool file

Row = Sequence[str]  # one CSV record: the reader's list, or the tuple a spool gives back
_BLANK_ROWS = [[], [""]]  # an empty line, or a line holding only "": not a record
_NO_ATTRIBUTES = AttributesImpl({})


def bulk_value(text: str) -> Any:
    """A Bulk text value: '' leaves the field unchanged (skip), '#N/A' sets null."""
    return None if text == NA else text


def read_csv(path: str, delimiter: str = ",") -> tuple[list[str], Iterator[list[str]]]:
    fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - rows() below reads it lazily and closes it
    reader = csv.reader(fh, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        return [], iter(())
    except csv.Error as err:
        fh.close()
        raise InvalidBatch(f"InvalidBatch : Failed to parse CSV header: {err}") from None

    def rows() -> Iterator[list[str]]:
        try:
            yield from filterfalse(_BLANK_ROWS.__contains__, reader)  # filtered in C: a million rows per job
        except csv.Error as err:
            raise InvalidBatch(
                f"InvalidBatch : Failed to parse CSV. Found unescaped quote or malformed row near line {reader.line_num}: {err}"
            ) from None
        finally:
            fh.close()

    return header, rows()


def csv_record(header: list[str], row: Row) -> dict[str, Any]:
    problem = width_problem(header, row)
    if problem:
        raise ValueError(problem)
    return {name: bulk_value(value) for name, value in zip(header, row, strict=True) if value != ""}


def width_problem(header: list[str], row: Row) -> str | None:
    """Why a row cannot be read under its header (its column count differs), or None."""
    if len(row) != len(header):
        return f"row has {len(row)} columns, header has {len(header)}"
    return None


def write_spool(path: str, rows: Iterable[Row], limit: int) -> int:
    """Write up to `limit` rows to an internal batch's spool file; returns how many were written.

    A spool holds rows already parsed (and checked) from an upload until a worker takes them, in blocks
    of rows serialised with marshal: several times faster to write and read back than CSV written only
    to be parsed again (or than pickle), and the file never outlives the process that wrote it. Blocks
    keep memory bounded however long the spool is. Rows become tuples: the garbage collector stops
    tracking tuples of strings, where a million lists kept it busy.
    """
    count = 0
    with open(path, "wb") as fh:
        while block := list(islice(rows, min(_SPOOL_BLOCK, limit - count))):
            # The reader's lists go before marshal runs: a string that only its row's tuple holds needs no
            # entry in marshal's table of shared objects, which made writing a spool twice as slow.
            block[:] = map(tuple, block)
            data = marshal.dumps(block)
            fh.write(len(data).to_bytes(8, "little"))
            fh.write(data)
            count += len(block)
    return count


def read_spool(path: str) -> Iterator[tuple[str, ...]]:
    """The rows of a spool file written by `write_spool`, in order."""
    return chain.from_iterable(_spool_blocks(path))  # flattened in C: no Python step per row


def _spool_blocks(path: str) -> Iterator[list[tuple[str, ...]]]:
    with open(path, "rb") as fh:
        while size := fh.read(8):
            yield marshal.loads(fh.read(int.from_bytes(size, "little")))


def is_nil(element: Any) -> bool:
    """Whether an XML field element sets null (`xsi:nil="true"`): Bulk 1.0 batches and REST sObject bodies."""
    return element.get(XSI_NIL) in ("true", "1")


def read_xml_records(path: str) -> Iterator[dict[str, Any]]:
    """Yield one dict per <sObject>; elements with xsi:nil="true" map to None; empty elements are skipped.

    A malformed file, or one declaring entities (an entity bomb, XXE), is InvalidBatch, the code every
    other unreadable batch gets: a batch is read when it is added, so the add-batch request is refused
    with 400 (a job document that cannot be read is InvalidXML, see api/bulk1.py).
    """
    try:
        depth = 0
        current: dict[str, Any] | None = None
        for event, elem in iterparse(path, events=("start", "end")):
            tag = elem.tag.rsplit("}", 1)[-1]
            if event == "start":
                depth += 1
                if depth == 1 and tag != "sObjects":
                    raise InvalidBatch(
                        f"InvalidBatch : Unable to parse XML: root element must be sObjects, found {tag}"
                    )
                if depth == 2:
                    current = {}
                continue
            if depth == 3 and current is not None:
                if is_nil(elem):
                    current[tag] = None
                elif len(elem):
                    raise InvalidBatch(f"InvalidBatch : Nested element {tag} is not supported for update")
                elif elem.text:
                    current[tag] = bulk_value(elem.text)
            elif depth == 2 and current is not None:
                yield current
                current = None
                elem.clear()
            depth -= 1
    except UNREADABLE_XML as err:
        raise InvalidBatch(f"InvalidBatch : Unable to parse XML: {err}") from None


def read_json_records(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as fh:
            data = load_json(fh.read())
    except ValueError as err:  # malformed, not UTF-8, or nested too deep
        raise InvalidBatch(f"InvalidBatch : Unable to parse JSON: {err}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidBatch("InvalidBatch : JSON batch must be an array of objects")
    return data


def error_text(code: str, message: str, fields: list[str]) -> str:
    """Bulk's flat error string: `CODE:message:field1,field2 --`, or `CODE:message:--` without fields.

    Both shapes are observed (fact sheet 3.1: `...:[LastName]:LastName --`; 3.2: `...:invalid cross
    reference id:--`).
    """
    if fields:
        return f"{code}:{message}:{','.join(fields)} --"
    return f"{code}:{message}:--"


class _Dialect(TypedDict):
    delimiter: str
    lineterminator: str


class CsvOut:
    """A CSV writer that never lets a carriage return out unquoted.

    Python's csv module quotes a field only for the delimiter, the quote character and the characters
    of its line terminator: with LF line endings, a value holding a bare CR was written unquoted and
    read back as a line break, splitting the record in two (values and whole rows were lost).
    """

    def __init__(self, fh: IO[str], delimiter: str = ",", newline: str = "\n") -> None:
        self._dialect: _Dialect = {"delimiter": delimiter, "lineterminator": newline}
        self._minimal = csv.writer(fh, **self._dialect)
        self._all = csv.writer(fh, quoting=csv.QUOTE_ALL, **self._dialect)
        self._check = "\r" not in newline

    def writerow(self, row: Row) -> None:
        if self._check and "\r" in "".join(row):  # one C-level scan: this runs for every row of a bulk job
            self._all.writerow(row)
        else:
            self._minimal.writerow(row)

    def lines(self, rows: Sequence[Row]) -> list[str]:
        """Each row as `writerow` would write it, without the line terminator (for callers that put
        columns of their own in front of each row).

        Most bulk rows hold nothing that needs quoting: those are joined in C (csv's writer costs about
        a microsecond a row, a second per million-record job); any other batch goes through the writers.
        """
        delimiter, newline = self._dialect["delimiter"], self._dialect["lineterminator"]
        text = "\x00".join(map("\x00".join, rows))
        if not (delimiter in text or '"' in text or "\r" in text or "\n" in text):
            joined = list(map(delimiter.join, rows))
            if "" not in joined:  # csv writes a record of one empty field as ""
                return joined
        out = _Lines()
        minimal, quote_all = csv.writer(out, **self._dialect), csv.writer(out, quoting=csv.QUOTE_ALL, **self._dialect)
        for row in rows:
            (quote_all if self._check and "\r" in "".join(row) else minimal).writerow(row)
        return [line[: -len(newline)] for line in out]


class _Lines(list):
    """A file for csv.writer that keeps each row as one item: the writer makes one write() call per row."""

    write = list.append


def quoted(values: list[str], delimiter: str) -> str:
    """The `sf__` columns of Bulk 2.0 results: always quoted, whatever the upload's quoting."""
    return delimiter.join(['"' + v.replace('"', '""') + '"' for v in values])


class Bulk1ResultWriter:
    """Writes a Bulk 1.0 batch result file in the job's content type, one result per input row."""

    def __init__(self, fh: io.TextIOBase, content_type: str) -> None:
        self.fh = fh
        self.kind = "JSON" if "JSON" in content_type else ("CSV" if "CSV" in content_type else "XML")
        self._first = True
        if self.kind == "XML":
            self._xml = XMLGenerator(fh, encoding="UTF-8", short_empty_elements=True)
            self._xml.startDocument()
            self._xml.startElement("results", AttributesImpl({"xmlns": BULK1_NS}))
        elif self.kind == "CSV":
            self._csv = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
            self._csv.writerow(["Id", "Success", "Created", "Error"])
        else:
            fh.write("[")

    def write(
        self, record_id: str | None, success: bool, created: bool, errors: list[tuple[str, str, list[str]]]
    ) -> None:
        if self.kind == "XML":
            x = self._xml
            x.startElement("result", _NO_ATTRIBUTES)
            if record_id:
                _text_element(x, "id", record_id)
            else:
                x.startElement(
                    "id", AttributesImpl({"xsi:nil": "true", "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance"})
                )
                x.endElement("id")
            for code, message, fields in errors:
                x.startElement("errors", _NO_ATTRIBUTES)
                for f in fields:
                    _text_element(x, "fields", f)
                _text_element(x, "message", message)
                _text_element(x, "statusCode", code)
                x.endElement("errors")
            _text_element(x, "success", "true" if success else "false")
            _text_element(x, "created", "true" if created else "false")
            x.endElement("result")
        elif self.kind == "CSV":
            err = error_text(*errors[0]) if errors else ""
            self._csv.writerow([record_id or "", "true" if success else "false", "true" if created else "false", err])
        else:
            item = {
                "success": success,
                "created": created,
                "id": record_id,
                "errors": [{"statusCode": c, "message": m, "fields": f} for c, m, f in errors],
            }
            self.fh.write(("" if self._first else ",") + json.dumps(item))
        self._first = False

    def close(self) -> None:
        if self.kind == "XML":
            self._xml.endElement("results")
            self._xml.endDocument()
        elif self.kind == "JSON":
            self.fh.write("]")


def _text_element(x: XMLGenerator, name: str, text: str) -> None:
    x.startElement(name, _NO_ATTRIBUTES)
    x.characters(text)
    x.endElement(name)
