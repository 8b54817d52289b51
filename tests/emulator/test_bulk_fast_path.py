"""Bulk CSV rows reach SQLite positionally (a header resolved to fields once per job): pin that fast path to
the rules every other API applies, and pin a mixed job's per-record results exactly.

Wire tests compare a Bulk 2.0 job (and a Bulk 1.0 CSV batch) with REST sObject Collections for the same bad
values; in-process tests compare `CsvRows` with the mapping form every other API uses, value by value.
"""

from __future__ import annotations

import csv
import io
import itertools

import pytest

from emulator.bulk.formats import CsvOut, error_text, read_spool, write_spool
from emulator.bulk.transactions import MAPPINGS, CsvRows
from emulator.ids import make_id
from emulator.org import Org

from .conftest import job_xml

HEADER = ["Id", "Name", "Tweets__c", "Date_Published__c", "CreatedDate", "Account__c"]
MISSING_BYLINE = make_id("a01", "5g", 987_654)
MISSING_ACCOUNT = make_id("001", "5g", 987_654)


def bulk2_job(api, wait, data: str) -> tuple[dict, list[list[str]], list[list[str]], str]:
    job = api.bulk2("POST", "/ingest", json={"object": "Byline__c", "operation": "update"}).json()
    assert api.bulk2("PUT", f"/ingest/{job['id']}/batches", data=data.encode(), headers={"Content-Type": "text/csv"}).status_code == 201
    assert api.bulk2("PATCH", f"/ingest/{job['id']}", json={"state": "UploadComplete"}).status_code == 200
    info = wait(lambda: (i := api.bulk2("GET", f"/ingest/{job['id']}").json())["state"] in ("JobComplete", "Failed") and i)

    def rows(kind: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(api.bulk2("GET", f"/ingest/{job['id']}/{kind}/").content.decode(), newline="")))

    unprocessed = api.bulk2("GET", f"/ingest/{job['id']}/unprocessedrecords/").content.decode()
    return info, rows("successfulResults"), rows("failedResults"), unprocessed


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def bad_cases(byline: str) -> list[tuple[str, str, object, str]]:
    """(field, CSV value, REST JSON value, the error code both must give)."""
    return [
        ("Name", "N" * 81, "N" * 81, "STRING_TOO_LONG"),
        ("Name", "#N/A", None, "REQUIRED_FIELD_MISSING"),
        ("Tweets__c", "abc", "abc", "INVALID_TYPE_ON_FIELD_IN_RECORD"),
        ("Tweets__c", "1e30", "1e30", "NUMBER_OUTSIDE_VALID_RANGE"),
        ("Tweets__c", "-1", -1, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        ("Date_Published__c", "2024-13-45", "2024-13-45", "INVALID_TYPE_ON_FIELD_IN_RECORD"),
        ("Date_Published__c", "yesterday", "yesterday", "INVALID_TYPE_ON_FIELD_IN_RECORD"),
        ("CreatedDate", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("Account__c", "abc", "abc", "MALFORMED_ID"),
        ("Account__c", byline, byline, "FIELD_INTEGRITY_EXCEPTION"),
        ("Account__c", MISSING_ACCOUNT, MISSING_ACCOUNT, "INVALID_CROSS_REFERENCE_KEY"),
    ]


def test_bad_values_fail_as_on_rest(api, wait, seeded):
    """Each bad value fails a Bulk 2.0 row, a Bulk 1.0 CSV row and a REST record with the same code, message and fields."""
    cases = bad_cases(seeded(1)[0])
    ids = seeded(len(cases))
    accounts = seeded(1, "Account")
    # Id problems: a valid id of no record, an Account id on a Byline__c job, a malformed id.
    id_cases = [(MISSING_BYLINE, "ENTITY_IS_DELETED"), (accounts[0], "MALFORMED_ID"), ("not-an-id", "MALFORMED_ID")]
    before = api.records()

    rest_records = [{"attributes": {"type": "Byline__c"}, "id": rid, field: value} for rid, (field, _, value, _) in zip(ids, cases, strict=True)]
    rest_records += [{"attributes": {"type": "Byline__c"}, "id": rid, "Tweets__c": 5} for rid, _ in id_cases]
    rest = api.rest("PATCH", "/composite/sobjects", json={"records": rest_records}).json()
    expected = [error_text(r["errors"][0]["statusCode"], r["errors"][0]["message"], r["errors"][0]["fields"]) for r in rest]
    assert [r["errors"][0]["statusCode"] for r in rest] == [code for *_, code in cases] + [code for _, code in id_cases]
    assert api.records() == before

    rows = [[rid if h == "Id" else (value if h == field else "") for h in HEADER] for rid, (field, value, _, _) in zip(ids, cases, strict=True)]
    rows += [[rid, "", "5", "", "", ""] for rid, _ in id_cases]
    data = csv_text(HEADER, rows)

    info, ok, failed, unprocessed = bulk2_job(api, wait, data)
    assert info["state"] == "JobComplete" and info["numberRecordsFailed"] == len(rows) and ok == [["sf__Id", "sf__Created", *HEADER]]
    assert [row[1] for row in failed[1:]] == expected
    assert [row[2:] for row in failed[1:]] == rows
    assert unprocessed == ",".join(HEADER) + "\n"

    job = api.bulk1("POST", "/job", body=job_xml(content_type="CSV")).text.split("<id>")[1].split("<")[0]
    batch = api.bulk1("POST", f"/job/{job}/batch", body=data, content_type="text/csv").text.split("<id>")[1].split("<")[0]
    wait(lambda: "<state>Completed</state>" in api.bulk1("GET", f"/job/{job}/batch/{batch}").text)
    result = list(csv.DictReader(io.StringIO(api.bulk1("GET", f"/job/{job}/batch/{batch}/result").text)))
    assert [r["Error"] for r in result] == expected
    assert api.records() == before


def _variant(k: int, rid: str, account: str) -> tuple[list[str], str | None]:
    """One row of the mixed job and its expected sf__Error (None: it succeeds)."""
    row = [rid, "", str(k), "", "", ""]
    if k == 1:
        row[1] = "x" * 90
        return row, f"STRING_TOO_LONG:Name: data value too large: {'x' * 77}... (max length=80):Name --"
    if k == 2:
        row[2] = "many"
        return row, "INVALID_TYPE_ON_FIELD_IN_RECORD:Tweets: value not of required type: many:Tweets__c --"
    if k == 3:
        row[3] = "2023-02-29"
        return row, "INVALID_TYPE_ON_FIELD_IN_RECORD:Date Published: value not of required type: 2023-02-29:Date_Published__c --"
    if k == 4:
        row[2] = "-3"
        return row, "FIELD_CUSTOM_VALIDATION_EXCEPTION:Social counts cannot be negative.:--"
    if k == 5:
        row[0] = MISSING_BYLINE
        return row, "ENTITY_IS_DELETED:entity is deleted:--"
    if k == 6:
        row[0] = account
        return row, f"MALFORMED_ID:Byline ID: id value of incorrect type: {account}:Id --"
    if k == 7:
        row[4] = "2024-01-01T00:00:00Z"
        return row, ("INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: CreatedDate. Please check the security "
                     "settings of this field and verify that it is read/write for your profile or permission set.:CreatedDate --")
    if k == 8:
        row[1] = "#N/A"
        return row, "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    if k == 9:
        row[1], row[2] = "y" * 81, "bad"  # two problems: the first column's is reported
        return row, f"STRING_TOO_LONG:Name: data value too large: {'y' * 77}... (max length=80):Name --"
    if k == 10:
        row[5] = MISSING_ACCOUNT
        return row, "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:Account__c --"
    if k == 16:
        row[0] = rid[:15] + ("AAA" if rid[15:] != "AAA" else "BBB")  # a checksum that does not match
        return row, f"MALFORMED_ID:Byline ID: id value of incorrect type: {row[0]}:Id --"
    if k == 11:
        row[0] = rid[:15]  # a 15-character id is the same record
    elif k == 12:
        row[0] = rid[:15] + rid[15:].lower()  # so is a lower-case checksum
    elif k == 13:
        row[1], row[3], row[5] = f"renamed {rid}", "2024-02-29", account
    elif k == 14:
        row[2] = "#N/A"  # sets null
    elif k == 15:
        row[2] = " 12.5 "
    return row, None


def test_mixed_job_results_are_exact(api, wait, seeded):
    """1,000 rows, good and bad interleaved: every row lands in the right result file, in order, with its exact
    result, and only the good rows change."""
    ids = seeded(1_000)
    account = seeded(1, "Account")[0]
    before = api.records()
    rows, errors = zip(*(_variant(n % 20, rid, account) for n, rid in enumerate(ids)), strict=True)
    info, ok, failed, unprocessed = bulk2_job(api, wait, csv_text(HEADER, list(rows)))

    good = [[rid, "false", *row] for rid, row, error in zip(ids, rows, errors, strict=True) if error is None]
    # sf__Id is the record's id, or empty when the row's own id was refused (variant 6: an Account id; 16: a bad checksum).
    bad = [[{5: MISSING_BYLINE, 6: "", 16: ""}.get(n % 20, rid), error, *row] for n, (rid, row, error) in enumerate(zip(ids, rows, errors, strict=True))
           if error is not None]
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 1_000, len(bad))
    assert ok == [["sf__Id", "sf__Created", *HEADER], *good]
    assert failed == [["sf__Id", "sf__Error", *HEADER], *bad]
    assert unprocessed == ",".join(HEADER) + "\n"

    stored = api.records()
    for n, (rid, error) in enumerate(zip(ids, errors, strict=True)):
        k = n % 20
        if error is not None:
            assert stored[rid] == before[rid]
            continue
        want = {"Tweets__c": None if k == 14 else (12 if k == 15 else k)}  # 12.5 rounds to the scale (0): 12
        if k == 13:
            want.update(Name=f"renamed {rid}", Date_Published__c="2024-02-29", Account__c=account)
        assert {f: stored[rid][f] for f in want} == want
        assert stored[rid]["Name"] == (want.get("Name") or before[rid]["Name"])


def test_a_record_named_twice_in_one_transaction_takes_its_later_values(api, wait, seeded):
    ids = seeded(2)
    info, ok, _, _ = bulk2_job(api, wait, csv_text(["Id", "Tweets__c", "Likes__c"], [[ids[0], "1", "1"], [ids[1], "5", ""], [ids[0], "2", ""]]))
    assert info["numberRecordsFailed"] == 0 and [row[0] for row in ok[1:]] == [ids[0], ids[1], ids[0]]
    stored = api.records()
    assert (stored[ids[0]]["Tweets__c"], stored[ids[0]]["Likes__c"]) == (2, 1)


# -- in process: CsvRows against the mapping form, value by value -------------------------------------
@pytest.fixture(scope="module")
def twin_orgs():
    """Two orgs seeded alike: the same ids hold the same values in both."""
    orgs = [Org(), Org()]
    yield orgs
    for org in orgs:
        org.close()


def _apply(org: Org, form, rows: list) -> tuple[list, dict]:
    obj = org.schema.get("Byline__c")
    results = []
    for start in range(0, len(rows), 200):
        with org.store.transaction() as conn:
            results += org.dml.update_rows(obj, form.update_rows(org.dml, obj, rows[start : start + 200]), conn=conn)
    stamps = {"createddate", "lastmodifieddate", "systemmodstamp"}
    stored = {rid: {k: v for k, v in row.items() if k not in stamps} for rid, row in org.store.get_many(obj, [r.id for r in results if r.id]).items()}
    return [(r.id, r.success, [(e.status_code, e.message, e.fields) for e in r.errors]) for r in results], stored


def test_csv_rows_match_mappings_for_every_value(twin_orgs):
    """Every combination of awkward values, under a mixed-case header, gives the positional path and the
    mapping form (csv_record dicts, how every Bulk CSV row was read before) the same results and records."""
    fast_org, mapping_org = twin_orgs
    ids, account = fast_org.seed("Byline__c", 4_400), fast_org.seed("Account", 1)[0]
    assert (mapping_org.seed("Byline__c", 4_400), mapping_org.seed("Account", 1)[0]) == (ids, account)
    header = ["ID", "name", "TWEETS__C", "Likes__c", "date_published__c", "CreatedDate", "account__C"]
    columns = [
        ["", "#N/A", "ok", "z" * 81],
        ["", "#N/A", "7", "-2", "x", " 3 "],
        ["", "#N/A", "0", "1e40"],
        ["", "2024-02-29", "2024-02-30"],
        ["", "#N/A", "2024-01-01T00:00:00Z"],
        ["", "#N/A", account, "001000000000000", "zz"],
    ]
    combos = list(itertools.product(*columns))
    assert len(combos) <= len(ids)
    rows = [[rid, *values] for rid, values in zip(ids, combos, strict=False)]
    rows += [["", "x", "1", "", "", "", ""], ["#N/A", "x", "1", "", "", "", ""], [MISSING_BYLINE, "x", "1", "", "", "", ""]]
    form = CsvRows(fast_org.schema.get("Byline__c"), header)
    got = _apply(fast_org, form, rows)
    want = _apply(mapping_org, MAPPINGS, form.mappings(rows))
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert sum(ok for _, ok, _ in got[0]) > 100 and sum(not ok for _, ok, _ in got[0]) > 1_000


def test_a_header_naming_a_field_twice_keeps_the_mapping_rules(twin_orgs):
    """csv_record keeps one value per column name (the last non-empty one, at the first one's place): a header
    with a repeated name is read through it, not positionally."""
    org = twin_orgs[0]
    obj = org.schema.get("Byline__c")
    ids = org.seed("Byline__c", 3)
    form = CsvRows(obj, ["Id", "Tweets__c", "Tweets__c"])
    rows = [[ids[0], "abc", "5"], [ids[1], "6", ""], [ids[2], "", "-1"]]
    with org.store.transaction() as conn:
        results = org.dml.update_rows(obj, form.update_rows(org.dml, obj, rows), conn=conn)
    assert [r.success for r in results] == [True, True, False]
    stored = org.store.get_many(obj, ids)
    assert (stored[ids[0]]["tweets__c"], stored[ids[1]]["tweets__c"]) == (5, 6)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("delimiter", [",", "\t", "|", ";", "^", "`"])
def test_result_lines_are_what_writerow_writes(tmp_path, delimiter, newline):
    """Result rows are serialised a transaction at a time (joined in C when nothing needs quoting): each must
    read exactly as CsvOut.writerow wrote it, a bare CR forcing quotes included."""
    batches = [
        [("a015g0000000001AAA", "12", "name"), ("a015g0000000002AAA", "", "ünï漢 🚀")],
        [("x", "has,comma"), ("y", "has\ttab|pipe;semi^caret`tick"), ("z", 'say "hi"')],
        [("bare\rcr", "1"), ("line\nfeed", "2"), ("both\r\nends", "3"), ("trailing\r", "")],
        [("",), ("solo",)],
        [("", ""), (" ", "")],
    ]
    for rows in batches:
        written = tmp_path / "rows.csv"
        with open(written, "w", encoding="utf-8", newline="") as fh:
            out = CsvOut(fh, delimiter, newline)
            for row in rows:
                out.writerow(list(row))
        lines = CsvOut(io.StringIO(), delimiter, newline).lines(rows)
        assert "".join(line + newline for line in lines) == written.read_bytes().decode("utf-8"), rows


def test_spool_keeps_every_row_in_order(tmp_path):
    rows = iter([("a", "1"), ("b", "2"), ("c", "3")] * 1_000)
    path = str(tmp_path / "part.rows")
    assert write_spool(path, rows, 2_500) == 2_500
    assert list(read_spool(path)) == [("a", "1"), ("b", "2"), ("c", "3")] * 833 + [("a", "1")]
    assert next(rows) == ("b", "2")  # nothing past the limit was consumed
