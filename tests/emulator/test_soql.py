"""Tests for the emulator's SOQL engine (emulator/soql): parsing, compilation to SQLite, execution.

The property tests check two things the unit tests cannot enumerate:
* random WHERE trees, run through the compiler and SQLite, select exactly the records a small
  pure-Python evaluator of SOQL's semantics selects (two-valued null logic, case-insensitive text,
  date ranges);
* any AST rendered with `to_soql` parses back to an equal AST.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import InvalidField, InvalidType, MalformedQuery
from emulator.ids import make_id
from emulator.schema import Schema
from emulator.soql import CompiledQuery, compile_query, date_range, parse, to_soql
from emulator.soql.parser import (
    And,
    BoolLit,
    Comparison,
    CountCall,
    DateConst,
    DateLit,
    DateTimeLit,
    FieldRef,
    InList,
    Not,
    NullLit,
    NumberLit,
    Or,
    OrderItem,
    Query,
    StringLit,
)
from emulator.store import RecordStore

TODAY = dt.date(2024, 3, 15)  # a Friday
SCHEMA = Schema.load()


def acc_id(n: int) -> str:
    return make_id("001", "5g", n)


def byl_id(n: int) -> str:
    return make_id("a01", "5g", n)


def opp_id(n: int) -> str:
    return make_id("006", "5g", n)


def con_id(n: int) -> str:
    return make_id("003", "5g", n)


ACCOUNTS = [
    (acc_id(1), "Acme", 10),
    (acc_id(2), "beta corp", None),
    (acc_id(3), None, 5),
]

# id, Name, Tweets__c, Date_Published__c, Account__c
BYLINES = [
    (byl_id(1), "Alpha", 10.0, "2024-03-15", acc_id(1)),
    (byl_id(2), "beta", 5.0, "2024-03-14", acc_id(2)),
    (byl_id(3), "Gamma", None, None, None),
    (byl_id(4), "delta", 0.0, "2024-01-31", acc_id(1)),
    (byl_id(5), None, 7.5, "2024-03-16", acc_id(3)),
    (byl_id(6), "a_b%c", -2.0, "2023-12-31", acc_id(99)),  # dangling parent id
]

# id, Name, Amount, CloseDate, IsPrivate, CreatedDate, AccountId
OPPS = [
    (opp_id(1), "alpha", 1.0, "2024-03-15", 1, "2024-03-15T00:00:00.000+0000", acc_id(1)),
    (opp_id(2), "ALPHA", 2.5, "2024-03-14", 0, "2024-03-15T23:59:59.999+0000", acc_id(2)),
    (opp_id(3), "Beta", -3.0, "2024-03-16", None, "2024-03-14T12:00:00.000+0000", None),
    (opp_id(4), "beta2", 0.0, None, 1, None, acc_id(3)),
    (opp_id(5), "a_c", None, "2024-01-31", 0, "2024-03-16T00:00:00.000+0000", acc_id(1)),
    (opp_id(6), "a%c", 100.0, "2023-12-31", 1, "2024-03-08T09:30:00.000+0000", acc_id(99)),
    (opp_id(7), "", 2.5, "2024-03-08", 0, "2024-02-29T10:00:00.000+0000", acc_id(2)),
    (opp_id(8), None, 7.0, "2024-03-22", None, "2023-12-31T23:00:00.000+0000", None),
    (opp_id(9), "Gamma", 1000000.0, "2024-02-29", 0, "2024-03-15T10:00:00.000+0000", acc_id(1)),
    (opp_id(10), "zeta", None, "2024-03-15", 1, "2024-03-22T00:00:00.000+0000", acc_id(3)),
    (opp_id(11), "A", -0.5, "2024-03-05", 0, "2024-03-05T00:00:00.000+0000", None),
    (opp_id(12), "x'y\\z", 3.0, "2024-03-25", None, "2024-03-25T00:00:00.000+0000", acc_id(2)),
]

CONTACTS = [
    (con_id(1), "Ann", "Lee", acc_id(1), 1, "1990-05-01"),
    (con_id(2), "Bob", "Ray", None, 0, None),
]


def seed(store: RecordStore) -> None:
    store.insert_rows(SCHEMA.get("Account"), ["id", "name", "numberofemployees"], ACCOUNTS)
    store.insert_rows(SCHEMA.get("Byline__c"), ["id", "name", "tweets__c", "date_published__c", "account__c"], BYLINES)
    store.insert_rows(
        SCHEMA.get("Opportunity"),
        ["id", "name", "amount", "closedate", "isprivate", "createddate", "accountid"],
        OPPS,
    )
    store.insert_rows(
        SCHEMA.get("Contact"), ["id", "firstname", "lastname", "accountid", "hasoptedoutofemail", "birthdate"], CONTACTS
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> RecordStore:
    s = RecordStore(str(tmp_path_factory.mktemp("soql") / "org.db"), SCHEMA)
    seed(s)
    yield s
    s.close()


def run(store: RecordStore, soql: str, **kw: Any) -> list[dict[str, Any]]:
    return list(compile_query(parse(soql), SCHEMA, today=TODAY).rows(store, **kw))


def ids(store: RecordStore, soql: str) -> set[str]:
    return {r["__id"] for r in run(store, soql)}


def opps(*numbers: int) -> set[str]:
    return {opp_id(n) for n in numbers}


def byls(*numbers: int) -> set[str]:
    return {byl_id(n) for n in numbers}


def count(store: RecordStore, soql: str) -> int:
    sql, params = compile_query(soql, SCHEMA, today=TODAY).count_sql()
    return store.execute(sql, params).fetchone()[0]


# =====================================================================================================
# Parser
# =====================================================================================================
class TestParser:
    def test_basic_shape(self) -> None:
        q = parse("SELECT Id, Name FROM Byline__c WHERE Tweets__c > 5 ORDER BY Name LIMIT 10")
        assert q.select == (FieldRef(("Id",)), FieldRef(("Name",)))
        assert q.sobject == "Byline__c"
        assert q.where == Comparison(FieldRef(("Tweets__c",)), ">", NumberLit(5))
        assert q.order_by == (OrderItem(FieldRef(("Name",))),)
        assert q.limit == 10 and q.offset is None

    def test_keywords_are_case_insensitive_and_whitespace_free(self) -> None:
        a = parse(
            "select id from byline__c where name like 'a%' and not tweets__c in (1, 2) order by name desc nulls last limit 1 offset 2"
        )
        b = parse(
            "SELECT id\n  FROM byline__c\n\tWHERE name LIKE 'a%' AND NOT tweets__c IN (1,2)\nORDER BY name DESC NULLS LAST LIMIT 1 OFFSET 2"
        )
        assert a == b

    def test_relationship_paths_and_object_named_like_keyword(self) -> None:
        q = parse("SELECT Account__r.Name, Account.Name FROM Order")
        assert q.select == (FieldRef(("Account__r", "Name")), FieldRef(("Account", "Name")))
        assert q.sobject == "Order"

    def test_not_equal_spellings(self) -> None:
        assert parse("SELECT Id FROM A WHERE x <> 1").where == parse("SELECT Id FROM A WHERE x != 1").where
        assert parse("SELECT Id FROM A WHERE x <> 1").where.op == "!="

    @pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">=", "LIKE"])
    def test_every_comparison_operator(self, op: str) -> None:
        q = parse(f"SELECT Id FROM A WHERE x {op} 'v'")
        assert q.where == Comparison(FieldRef(("x",)), op, StringLit("v"))

    def test_in_and_not_in(self) -> None:
        q = parse("SELECT Id FROM A WHERE x IN ('a', null, 3) AND y NOT IN (TRUE)")
        assert q.where == And(
            (
                InList(FieldRef(("x",)), (StringLit("a"), NullLit(), NumberLit(3))),
                InList(FieldRef(("y",)), (BoolLit(True),), negated=True),
            )
        )

    def test_precedence_not_over_and_over_or(self) -> None:
        a, b, c = (Comparison(FieldRef((n,)), "=", NumberLit(1)) for n in "abc")
        where = lambda text: parse(f"SELECT Id FROM T WHERE {text}").where  # noqa: E731
        assert where("a = 1 OR b = 1 AND c = 1") == Or((a, And((b, c))))
        assert where("a = 1 AND b = 1 OR c = 1") == Or((And((a, b)), c))
        assert where("NOT a = 1 AND b = 1") == And((Not(a), b))
        assert where("NOT (a = 1 AND b = 1)") == Not(And((a, b)))
        assert where("(a = 1 OR b = 1) AND c = 1") == And((Or((a, b)), c))
        assert where("a = 1 OR b = 1 OR c = 1") == Or((a, b, c))
        assert where("NOT NOT a = 1") == Not(Not(a))

    def test_string_escapes(self) -> None:
        q = parse(r"SELECT Id FROM A WHERE x = 'it\'s \\ a\nb\tc\"d\N\%\_'")
        assert q.where.value.value == "it's \\ a\nb\tc\"d\n%_"

    def test_invalid_escape_is_malformed(self) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse(r"SELECT Id FROM A WHERE x = 'a\qb'")
        assert "ERROR at Row:1:Column:28" in err.value.message
        assert r"Illegal character sequence '\q'" in err.value.message

    def test_numbers(self) -> None:
        values = parse("SELECT Id FROM A WHERE x IN (5, -3, 2.5, -0.25, .5, +4)").where.values
        assert [v.value for v in values] == [5, -3, 2.5, -0.25, 0.5, 4]
        assert isinstance(values[0].value, int) and isinstance(values[2].value, float)

    def test_booleans_and_null(self) -> None:
        assert parse("SELECT Id FROM A WHERE x IN (TRUE, false, NULL)").where.values == (
            BoolLit(True),
            BoolLit(False),
            NullLit(),
        )

    def test_date_and_datetime_literals(self) -> None:
        values = parse(
            "SELECT Id FROM A WHERE x IN (2024-01-31, 2024-01-31T10:00:00Z, 2024-01-31T10:00:00+01:00, "
            "2024-01-31T10:00:00.25-0130, 2024-01-31t10:00:00z)"
        ).where.values
        utc = dt.UTC
        assert values[0] == DateLit(dt.date(2024, 1, 31))
        assert values[1] == DateTimeLit(dt.datetime(2024, 1, 31, 10, tzinfo=utc))
        assert values[2] == DateTimeLit(dt.datetime(2024, 1, 31, 9, tzinfo=utc))
        assert values[3] == DateTimeLit(dt.datetime(2024, 1, 31, 11, 30, 0, 250000, tzinfo=utc))
        assert values[4] == values[1]

    @pytest.mark.parametrize("text", ["2024-02-30", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z"])
    def test_impossible_dates_are_malformed(self, text: str) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse(f"SELECT Id FROM A WHERE x = {text}")
        assert "ERROR at Row:1:Column:28" in err.value.message

    def test_date_constants(self) -> None:
        values = parse(
            "SELECT Id FROM A WHERE x IN (TODAY, yesterday, Tomorrow, LAST_N_DAYS:7, next_n_days:30, THIS_MONTH)"
        ).where.values
        assert values == (
            DateConst("TODAY"),
            DateConst("YESTERDAY"),
            DateConst("TOMORROW"),
            DateConst("LAST_N_DAYS", 7),
            DateConst("NEXT_N_DAYS", 30),
            DateConst("THIS_MONTH"),
        )

    def test_order_by_directions_and_nulls(self) -> None:
        q = parse("SELECT Id FROM A ORDER BY a, b ASC, c DESC, d ASC NULLS LAST, e DESC NULLS FIRST, f NULLS LAST")
        got = [(o.field.path[0], o.descending, o.nulls_first, o.effective_nulls_first) for o in q.order_by]
        assert got == [
            ("a", False, None, True),
            ("b", False, None, True),
            ("c", True, None, False),
            ("d", False, False, False),
            ("e", True, True, True),
            ("f", False, False, False),
        ]

    def test_limit_offset_and_for_tails(self) -> None:
        q = parse("SELECT Id FROM A LIMIT 5 OFFSET 2000 FOR VIEW")
        assert (q.limit, q.offset) == (5, 2000)
        assert parse("SELECT Id FROM A FOR REFERENCE") == parse("SELECT Id FROM A")

    def test_offset_cap(self) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse("SELECT Id FROM A OFFSET 2001")
        assert err.value.message == "Maximum SOQL offset allowed is 2000"
        assert err.value.code == "MALFORMED_QUERY"

    def test_count_forms(self) -> None:
        assert parse("SELECT COUNT() FROM A").select == (CountCall(),)
        assert parse("SELECT count(Id) FROM A").select == (CountCall(FieldRef(("Id",))),)
        assert parse("SELECT COUNT(Name) total FROM A").select == (CountCall(FieldRef(("Name",)), "total"),)

    def test_positions_are_kept_but_not_compared(self) -> None:
        q = parse("SELECT Id,\n   Name FROM A")
        assert (q.select[1].pos.line, q.select[1].pos.column) == (2, 4)
        assert q == parse("SELECT Id, Name FROM A")


class TestSyntaxErrors:
    def test_unexpected_token_layout(self) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse("SELECT Id FROM Account WHERE Name == 'x'")
        assert err.value.message == (
            "\nSELECT Id FROM Account WHERE Name == 'x'\n"
            "                                   ^\n"
            "ERROR at Row:1:Column:36\n"
            "unexpected token: '='"
        )

    def test_unexpected_eof(self) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse("SELECT Id FROM Account WHERE")
        assert err.value.message.endswith("ERROR at Row:1:Column:29\nunexpected token: <EOF>")

    def test_error_on_second_line_shows_that_line(self) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse("SELECT Id\nFROM Account\nWHERE Name = 'x' BOGUS")
        assert (
            err.value.message
            == "\nWHERE Name = 'x' BOGUS\n                 ^\nERROR at Row:3:Column:18\nunexpected token: 'BOGUS'"
        )

    @pytest.mark.parametrize(
        "soql, token",
        [
            ("SELECT FROM Account", "'Account'"),  # FROM is read as a field name here
            ("SELECT Id Account", "'Account'"),
            ("SELECT Id FROM Account WHERE Name = 'open", "'''"),
            ("SELECT Id FROM Account WHERE CreatedDate = THIS_FISCAL_QUARTER", "'THIS_FISCAL_QUARTER'"),
            ("SELECT Id FROM Account LIMIT -1", "'-1'"),
            ("SELECT Id FROM Account WHERE Name NOT LIKE 'a'", "'LIKE'"),
            ("SELECT Id FROM Account WHERE (Name = 'a'", "<EOF>"),
            ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "'SELECT'"),
            ("SELECT Id FROM Account GROUP BY Name", "'GROUP'"),
            ("", "<EOF>"),
        ],
    )
    def test_malformed(self, soql: str, token: str) -> None:
        with pytest.raises(MalformedQuery) as err:
            parse(soql)
        assert err.value.message.endswith(f"unexpected token: {token}")


# =====================================================================================================
# Compiler: names, columns and errors
# =====================================================================================================
class TestResolution:
    def test_columns_use_schema_spelling(self) -> None:
        cq = compile_query(parse("select id, NAME, account__r.name, tweets__c from BYLINE__C"), SCHEMA)
        assert isinstance(cq, CompiledQuery)
        assert cq.sobject is SCHEMA.get("Byline__c")
        assert not cq.is_count
        assert [c.path for c in cq.columns] == [("Id",), ("Name",), ("Account__r", "Name"), ("Tweets__c",)]
        rel = cq.columns[2]
        assert rel.relationship == "Account__r" and rel.target is SCHEMA.get("Account") and rel.field.name == "Name"
        assert cq.columns[1].relationship is None and cq.columns[1].target is SCHEMA.get("Byline__c")
        assert [c.key for c in cq.columns] == ["Id", "Name", "Account__r.Name", "Tweets__c"]

    def test_standard_relationship_name(self, store: RecordStore) -> None:
        rows = run(store, "SELECT FirstName, Account.Name FROM Contact ORDER BY FirstName")
        assert rows == [
            {"__id": con_id(1), "FirstName": "Ann", "Account.Name": "Acme"},
            {"__id": con_id(2), "FirstName": "Bob", "Account.Name": None},
        ]

    def test_object_name_may_prefix_its_fields(self) -> None:
        cq = compile_query("SELECT Byline__c.Name FROM Byline__c", SCHEMA)
        assert cq.columns[0].path == ("Name",)

    def test_unknown_object(self) -> None:
        with pytest.raises(InvalidType) as err:
            compile_query(parse("SELECT Id FROM Foo__c"), SCHEMA)
        assert err.value.message == (
            "\nSELECT Id FROM Foo__c\n               ^\nERROR at Row:1:Column:16\n"
            "sObject type 'Foo__c' is not supported. If you are attempting to use a custom object, be sure to "
            "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
            "appropriate names."
        )
        assert err.value.code == "INVALID_TYPE"

    def test_unknown_field(self) -> None:
        with pytest.raises(InvalidField) as err:
            compile_query(parse("SELECT Id, Foo__c FROM Byline__c"), SCHEMA)
        assert err.value.message == (
            "\nSELECT Id, Foo__c FROM Byline__c\n           ^\nERROR at Row:1:Column:12\n"
            "No such column 'Foo__c' on entity 'Byline__c'. If you are attempting to use a custom field, be sure "
            "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
            "the appropriate names."
        )
        assert err.value.code == "INVALID_FIELD"

    @pytest.mark.parametrize(
        "soql, column, fragment",
        [
            ("SELECT Id FROM Byline__c WHERE Nope = 1", 32, "No such column 'Nope' on entity 'Byline__c'"),
            ("SELECT Id FROM Byline__c ORDER BY Nope", 35, "No such column 'Nope' on entity 'Byline__c'"),
            ("SELECT Account__r.Nope FROM Byline__c", 8, "No such column 'Nope' on entity 'Account'"),
            ("SELECT Foo__r.Name FROM Byline__c", 8, "Didn't understand relationship 'Foo__r' in field path"),
            ("SELECT Account__c.Name FROM Byline__c", 8, "Didn't understand relationship 'Account__c' in field path"),
            ("SELECT Account__r FROM Byline__c", 8, "No such column 'Account__r' on entity 'Byline__c'"),
            ("SELECT COUNT(Nope) FROM Byline__c", 14, "No such column 'Nope' on entity 'Byline__c'"),
        ],
    )
    def test_invalid_field_variants(self, soql: str, column: int, fragment: str) -> None:
        with pytest.raises(InvalidField) as err:
            compile_query(soql, SCHEMA)
        assert f"ERROR at Row:1:Column:{column}\n{fragment}" in err.value.message

    @pytest.mark.parametrize(
        "where, message",
        [
            (
                "NumberOfEmployees = '5'",
                "value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be enclosed in quotes",
            ),
            (
                "Name = 5",
                "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
            ),
            (
                "Name = TODAY",
                "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
            ),
            (
                "CreatedDate = '2024-01-01'",
                "value of filter criterion for field 'CreatedDate' must be of type datetime and should not be enclosed in quotes",
            ),
            (
                "IsDeleted = 'true'",
                "value of filter criterion for field 'IsDeleted' must be of type boolean and should not be enclosed in quotes",
            ),
            (
                "Id IN ('001000000000001', 5)",
                "value of filter criterion for field 'Id' must be of type id and should be enclosed in quotes",
            ),
            ("AnnualRevenue LIKE '1%'", "Invalid operator on field 'AnnualRevenue'"),
        ],
    )
    def test_literal_type_errors(self, where: str, message: str) -> None:
        with pytest.raises(InvalidField) as err:
            compile_query(f"SELECT Id FROM Account WHERE {where}", SCHEMA)
        assert message in err.value.message

    def test_duplicate_field(self) -> None:
        with pytest.raises(MalformedQuery) as err:
            compile_query("SELECT Id, Name, name FROM Account", SCHEMA)
        assert err.value.message.endswith("ERROR at Row:1:Column:18\nduplicate field selected: Name")

    def test_count_cannot_mix_with_fields(self) -> None:
        with pytest.raises(MalformedQuery):
            compile_query("SELECT COUNT(), Id FROM Account", SCHEMA)
        with pytest.raises(MalformedQuery):
            compile_query("SELECT Name, COUNT(Id) FROM Account", SCHEMA)

    def test_deep_relationships_are_refused(self) -> None:
        with pytest.raises(MalformedQuery):
            compile_query("SELECT Account__r.Owner.Name FROM Byline__c", SCHEMA)

    def test_sql_is_parameterised(self) -> None:
        cq = compile_query(r"SELECT Id FROM Account WHERE Name = 'x\'; DROP TABLE account; --'", SCHEMA)
        sql, params = cq.sql()
        assert "DROP" not in sql and params == ["x'; DROP TABLE account; --"]


# =====================================================================================================
# Execution: operators, nulls, types
# =====================================================================================================
class TestOperators:
    @pytest.mark.parametrize(
        "where, expected",
        [
            ("Amount = 2.5", {2, 7}),
            ("Amount != 2.5", {1, 3, 4, 5, 6, 8, 9, 10, 11, 12}),
            ("Amount <> 2.5", {1, 3, 4, 5, 6, 8, 9, 10, 11, 12}),
            ("Amount < 1", {3, 4, 11}),
            ("Amount <= 1", {1, 3, 4, 11}),
            ("Amount > 7", {6, 9}),
            ("Amount >= 7", {6, 8, 9}),
            ("Amount = -3", {3}),
            ("Amount IN (1, 7, 42)", {1, 8}),
            ("Amount NOT IN (1, 7, 42)", {2, 3, 4, 5, 6, 7, 9, 10, 11, 12}),
        ],
    )
    def test_numeric(self, store: RecordStore, where: str, expected: set[int]) -> None:
        assert ids(store, f"SELECT Id FROM Opportunity WHERE {where}") == opps(*expected)

    def test_string_equality_is_case_insensitive(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE Name = 'Alpha'") == opps(1, 2)
        assert ids(store, "SELECT Id FROM Opportunity WHERE Name IN ('ALPHA', 'gamma')") == opps(1, 2, 9)
        assert ids(store, "SELECT Id FROM Opportunity WHERE Name > 'beta' AND Name < 'Z'") == opps(4, 9, 12)

    def test_string_escapes_match_stored_text(self, store: RecordStore) -> None:
        assert ids(store, r"SELECT Id FROM Opportunity WHERE Name = 'x\'y\\z'") == opps(12)

    @pytest.mark.parametrize(
        "pattern, expected",
        [
            ("a%", {1, 2, 5, 6, 11}),
            ("%A", {1, 2, 3, 9, 10, 11}),
            ("_eta%", {3, 4, 10}),
            ("a_c", {5, 6}),
            (r"a\_c", {5}),
            (r"a\%c", {6}),
            ("%", {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12}),
            ("", {7}),
            (r"x\'y\\z", {12}),
        ],
    )
    def test_like(self, store: RecordStore, pattern: str, expected: set[int]) -> None:
        assert ids(store, f"SELECT Id FROM Opportunity WHERE Name LIKE '{pattern}'") == opps(*expected)

    def test_like_on_ids_and_relationship_fields(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Byline__c WHERE Account__r.Name LIKE 'ac%'") == byls(1, 4)

    def test_not_like(self, store: RecordStore) -> None:
        # NOT (x LIKE p) keeps null names: SOQL's null is a value, not SQL's unknown.
        assert ids(store, "SELECT Id FROM Opportunity WHERE NOT Name LIKE '%a%'") == opps(7, 8, 12)


class TestNulls:
    def test_equals_null_and_not_equals_null(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE Amount = null") == opps(5, 10)
        assert ids(store, "SELECT Id FROM Opportunity WHERE Amount != NULL") == opps(1, 2, 3, 4, 6, 7, 8, 9, 11, 12)

    def test_not_equals_value_includes_nulls(self, store: RecordStore) -> None:
        assert opp_id(8) in ids(store, "SELECT Id FROM Opportunity WHERE Name != 'alpha'")
        assert opp_id(8) in ids(store, "SELECT Id FROM Opportunity WHERE Name NOT IN ('alpha')")

    def test_ordering_comparisons_exclude_nulls(self, store: RecordStore) -> None:
        both = ids(store, "SELECT Id FROM Opportunity WHERE Amount < 5") | ids(
            store, "SELECT Id FROM Opportunity WHERE Amount >= 5"
        )
        assert both == opps(1, 2, 3, 4, 6, 7, 8, 9, 11, 12)

    def test_not_is_boolean_negation(self, store: RecordStore) -> None:
        everything = opps(*range(1, 13))
        for cond in ("Amount < 5", "Name = 'alpha'", "Name LIKE 'a%'", "Amount IN (1, null)", "CloseDate = TODAY"):
            inside = ids(store, f"SELECT Id FROM Opportunity WHERE {cond}")
            outside = ids(store, f"SELECT Id FROM Opportunity WHERE NOT ({cond})")
            assert inside | outside == everything and not inside & outside, cond

    def test_in_with_null(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE Amount IN (null, 7)") == opps(5, 8, 10)
        assert ids(store, "SELECT Id FROM Opportunity WHERE Amount NOT IN (null, 7)") == opps(
            1, 2, 3, 4, 6, 7, 9, 11, 12
        )

    def test_missing_parent_reads_as_null(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Byline__c WHERE Account__r.Name = null") == byls(3, 5, 6)
        assert ids(store, "SELECT Id FROM Byline__c WHERE Account__r.Name != null") == byls(1, 2, 4)

    def test_booleans(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE IsPrivate = true") == opps(1, 4, 6, 10)
        # A missing boolean reads as false, and `= null` means `= false` (SOQL reference).
        falses = opps(2, 3, 5, 7, 8, 9, 11, 12)
        assert ids(store, "SELECT Id FROM Opportunity WHERE IsPrivate = FALSE") == falses
        assert ids(store, "SELECT Id FROM Opportunity WHERE IsPrivate = null") == falses
        assert ids(store, "SELECT Id FROM Opportunity WHERE IsPrivate != null") == opps(1, 4, 6, 10)
        assert ids(store, "SELECT Id FROM Opportunity WHERE IsPrivate != true") == falses


class TestPrecedence:
    def test_and_binds_tighter_than_or(self, store: RecordStore) -> None:
        base = "SELECT Id FROM Opportunity WHERE "
        assert ids(store, base + "Amount = 1 OR Amount > 5 AND IsPrivate = true") == opps(1, 6)
        assert ids(store, base + "(Amount = 1 OR Amount > 5) AND IsPrivate = true") == opps(1, 6)
        assert ids(store, base + "(Amount = 1 OR Amount > 5) AND IsPrivate = false") == opps(8, 9)
        assert ids(store, base + "Amount = 1 OR Amount > 5 AND IsPrivate = false") == opps(1, 8, 9)

    def test_not_binds_tighter_than_and(self, store: RecordStore) -> None:
        base = "SELECT Id FROM Opportunity WHERE "
        assert ids(store, base + "NOT Amount > 5 AND IsPrivate = true") == opps(1, 4, 10)
        assert ids(store, base + "NOT (Amount > 5 AND IsPrivate = true)") == opps(*range(1, 13)) - opps(6)


class TestDates:
    def test_date_field_with_date_literal(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate = 2024-03-15") == opps(1, 10)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate > 2024-03-15") == opps(3, 8, 12)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate IN (2024-02-29, 2023-12-31)") == opps(6, 9)

    def test_date_field_with_datetime_literal_compares_midnight_utc(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate = 2024-03-15T00:00:00Z") == opps(1, 10)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate = 2024-03-15T10:00:00Z") == set()
        # 2024-03-15T01:00:00+02:00 is 2024-03-14T23:00Z: the 15th (midnight) is after it, the 14th is not.
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate > 2024-03-15T01:00:00+02:00") == opps(
            1, 3, 8, 10, 12
        )
        assert ids(
            store,
            "SELECT Id FROM Opportunity WHERE CloseDate >= 2024-03-14T00:00:00Z AND CloseDate < 2024-03-15T00:00:00.001Z",
        ) == opps(1, 2, 10)

    def test_datetime_field_with_datetime_literal(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate = 2024-03-15T00:00:00Z") == opps(1)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate = 2024-03-15T02:00:00+02:00") == opps(1)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate = 2024-03-15T23:59:59.999Z") == opps(2)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate > 2024-03-15T10:00:00-01:00") == opps(
            2, 5, 10, 12
        )
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate < 2024-01-01T00:00:00+01:00") == set()
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate <= 2024-01-01T00:00:00+01:00") == opps(8)

    def test_datetime_field_with_date_literal_is_the_whole_day(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate = 2024-03-15") == opps(1, 2, 9)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate > 2024-03-15") == opps(5, 10, 12)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate < 2024-03-08") == opps(7, 8, 11)

    @pytest.mark.parametrize(
        "literal, expected",
        [
            ("TODAY", {1, 10}),
            ("YESTERDAY", {2}),
            ("TOMORROW", {3}),
            ("LAST_N_DAYS:1", {1, 2, 10}),
            ("LAST_N_DAYS:7", {1, 2, 7, 10}),
            ("NEXT_N_DAYS:7", {3, 8}),
            ("NEXT_N_DAYS:0", set()),
            ("THIS_WEEK", {1, 2, 3, 10}),  # Sunday 2024-03-10 .. Saturday 2024-03-16
            ("THIS_MONTH", {1, 2, 3, 7, 8, 10, 11, 12}),
            ("LAST_MONTH", {9}),
            ("LAST_YEAR", {6}),
        ],
    )
    def test_relative_date_literals_on_date_field(self, store: RecordStore, literal: str, expected: set[int]) -> None:
        assert ids(store, f"SELECT Id FROM Opportunity WHERE CloseDate = {literal}") == opps(*expected)

    def test_relative_date_literal_comparisons(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate > TODAY") == opps(3, 8, 12)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate >= TODAY") == opps(1, 3, 8, 10, 12)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate < TODAY") == opps(2, 5, 6, 7, 9, 11)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate <= TODAY") == opps(1, 2, 5, 6, 7, 9, 10, 11)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CloseDate != TODAY") == opps(2, 3, 4, 5, 6, 7, 8, 9, 11, 12)

    def test_relative_date_literals_on_datetime_field(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate = TODAY") == opps(1, 2, 9)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate = LAST_N_DAYS:1") == opps(1, 2, 3, 9)
        assert ids(store, "SELECT Id FROM Opportunity WHERE CreatedDate > TODAY") == opps(5, 10, 12)

    def test_date_ranges(self) -> None:
        d = dt.date
        assert date_range(DateConst("TODAY"), TODAY) == (d(2024, 3, 15), d(2024, 3, 16))
        assert date_range(DateConst("LAST_WEEK"), TODAY) == (d(2024, 3, 3), d(2024, 3, 10))
        assert date_range(DateConst("NEXT_WEEK"), TODAY) == (d(2024, 3, 17), d(2024, 3, 24))
        assert date_range(DateConst("THIS_WEEK"), d(2024, 3, 10)) == (d(2024, 3, 10), d(2024, 3, 17))
        assert date_range(DateConst("NEXT_MONTH"), d(2024, 12, 31)) == (d(2025, 1, 1), d(2025, 2, 1))
        assert date_range(DateConst("LAST_MONTH"), d(2024, 1, 15)) == (d(2023, 12, 1), d(2024, 1, 1))
        assert date_range(DateConst("THIS_YEAR"), TODAY) == (d(2024, 1, 1), d(2025, 1, 1))
        assert date_range(DateConst("LAST_90_DAYS"), TODAY) == (TODAY - dt.timedelta(days=90), d(2024, 3, 16))
        assert date_range(DateConst("NEXT_N_DAYS", 3), TODAY) == (d(2024, 3, 16), d(2024, 3, 19))

    def test_today_defaults_to_the_current_utc_date(self) -> None:
        today = dt.datetime.now(dt.UTC).date()
        _, params = compile_query("SELECT Id FROM Opportunity WHERE CloseDate = TODAY", SCHEMA).sql()
        assert params[0] in {today.isoformat(), (today - dt.timedelta(days=1)).isoformat()}  # midnight race


class TestIds:
    def test_fifteen_char_id_literal_matches(self, store: RecordStore) -> None:
        assert ids(store, f"SELECT Id FROM Opportunity WHERE Id = '{opp_id(3)[:15]}'") == opps(3)
        assert ids(store, f"SELECT Id FROM Opportunity WHERE AccountId IN ('{acc_id(1)[:15]}', '{acc_id(3)}')") == opps(
            1, 4, 5, 9, 10
        )

    def test_malformed_id_literal_just_matches_nothing(self, store: RecordStore) -> None:
        assert ids(store, "SELECT Id FROM Opportunity WHERE Id = 'nope'") == set()


# =====================================================================================================
# ORDER BY, LIMIT, OFFSET, paging, COUNT
# =====================================================================================================
def names(store: RecordStore, soql: str, **kw: Any) -> list[Any]:
    return [r["Name"] for r in run(store, soql, **kw)]


class TestOrdering:
    def test_default_is_insertion_order(self, store: RecordStore) -> None:
        assert [r["__id"] for r in run(store, "SELECT Id FROM Byline__c")] == [b[0] for b in BYLINES]

    def test_asc_defaults_to_nulls_first_and_ignores_case(self, store: RecordStore) -> None:
        assert names(store, "SELECT Name FROM Byline__c ORDER BY Name") == [
            None,
            "a_b%c",
            "Alpha",
            "beta",
            "delta",
            "Gamma",
        ]

    def test_desc_defaults_to_nulls_last(self, store: RecordStore) -> None:
        assert names(store, "SELECT Name FROM Byline__c ORDER BY Name DESC") == [
            "Gamma",
            "delta",
            "beta",
            "Alpha",
            "a_b%c",
            None,
        ]

    def test_explicit_nulls(self, store: RecordStore) -> None:
        assert names(store, "SELECT Name FROM Byline__c ORDER BY Name ASC NULLS LAST")[-1] is None
        assert names(store, "SELECT Name FROM Byline__c ORDER BY Name DESC NULLS FIRST")[0] is None

    def test_numbers_and_multiple_keys(self, store: RecordStore) -> None:
        rows = run(
            store, "SELECT Name, Amount FROM Opportunity WHERE Amount != null ORDER BY Amount DESC, Name ASC NULLS LAST"
        )
        assert [(r["Amount"], r["Name"]) for r in rows] == [
            (1000000.0, "Gamma"),
            (100.0, "a%c"),
            (7.0, None),
            (3.0, "x'y\\z"),
            (2.5, ""),
            (2.5, "ALPHA"),
            (1.0, "alpha"),
            (0.0, "beta2"),
            (-0.5, "A"),
            (-3.0, "Beta"),
        ]

    def test_order_by_relationship_field(self, store: RecordStore) -> None:
        rows = run(store, "SELECT Name, Account__r.Name FROM Byline__c ORDER BY Account__r.Name DESC, Name")
        assert [(r["Account__r.Name"], r["Name"]) for r in rows] == [
            ("beta corp", "beta"),
            ("Acme", "Alpha"),
            ("Acme", "delta"),
            (None, None),
            (None, "a_b%c"),
            (None, "Gamma"),
        ]

    def test_order_by_field_not_selected(self, store: RecordStore) -> None:
        assert names(store, "SELECT Name FROM Byline__c WHERE Tweets__c != null ORDER BY Tweets__c") == [
            "a_b%c",
            "delta",
            "beta",
            None,
            "Alpha",
        ]


class TestLimitOffset:
    Q = "SELECT Name FROM Opportunity WHERE Name != null ORDER BY Name"  # 11 rows

    def all_names(self, store: RecordStore) -> list[str]:
        return names(store, self.Q)

    def test_limit_and_offset(self, store: RecordStore) -> None:
        everything = self.all_names(store)
        assert len(everything) == 11
        assert names(store, self.Q + " LIMIT 3") == everything[:3]
        assert names(store, self.Q + " OFFSET 4") == everything[4:]
        assert names(store, self.Q + " LIMIT 3 OFFSET 4") == everything[4:7]
        assert names(store, self.Q + " LIMIT 0") == []
        assert names(store, self.Q + " OFFSET 50") == []

    @pytest.mark.parametrize("q_limit, q_offset", [(None, None), (5, None), (None, 3), (5, 3), (20, 9)])
    @pytest.mark.parametrize(
        "page_offset, page_limit", [(None, None), (0, 2), (2, 2), (4, 10), (None, 1), (3, None), (30, 5)]
    )
    def test_page_window_is_relative_to_the_result_set(
        self,
        store: RecordStore,
        q_limit: int | None,
        q_offset: int | None,
        page_offset: int | None,
        page_limit: int | None,
    ) -> None:
        soql = (
            self.Q
            + (f" LIMIT {q_limit}" if q_limit is not None else "")
            + (f" OFFSET {q_offset}" if q_offset is not None else "")
        )
        result = names(store, soql)
        start = page_offset or 0
        expected = result[start:] if page_limit is None else result[start : start + page_limit]
        assert names(store, soql, offset=page_offset, limit=page_limit) == expected

    def test_count_sql_honours_where_limit_offset(self, store: RecordStore) -> None:
        assert count(store, self.Q) == 11
        assert count(store, self.Q + " LIMIT 4") == 4
        assert count(store, self.Q + " OFFSET 8") == 3
        assert count(store, self.Q + " LIMIT 5 OFFSET 8") == 3
        assert count(store, "SELECT Id FROM Opportunity WHERE Amount > 1000000") == 0


class TestCount:
    def test_count_star(self, store: RecordStore) -> None:
        cq = compile_query("SELECT COUNT() FROM Opportunity WHERE IsPrivate = true", SCHEMA)
        assert cq.is_count and cq.columns == [] and cq.count_alias is None and cq.count_column is None
        assert count(store, "SELECT COUNT() FROM Opportunity WHERE IsPrivate = true") == 4
        assert count(store, "SELECT COUNT() FROM Opportunity LIMIT 3") == 3

    def test_count_field(self, store: RecordStore) -> None:
        cq = compile_query("SELECT COUNT(Amount) FROM Opportunity", SCHEMA)
        assert cq.is_count and cq.count_alias == "expr0" and cq.count_column.path == ("Amount",)
        assert count(store, "SELECT COUNT(Amount) FROM Opportunity") == 10  # nulls are not counted
        assert count(store, "SELECT COUNT(Id) total FROM Opportunity WHERE Name LIKE 'a%'") == 5
        assert compile_query("SELECT COUNT(Id) total FROM Opportunity", SCHEMA).count_alias == "total"


class TestRows:
    def test_row_dicts(self, store: RecordStore) -> None:
        rows = run(
            store,
            "SELECT Id, Name, Tweets__c, Date_Published__c, Account__r.Name, Account__r.NumberOfEmployees FROM Byline__c WHERE Name = 'ALPHA'",
        )
        assert rows == [
            {
                "__id": byl_id(1),
                "Id": byl_id(1),
                "Name": "Alpha",
                "Tweets__c": 10.0,
                "Date_Published__c": "2024-03-15",
                "Account__r.Name": "Acme",
                "Account__r.NumberOfEmployees": 10,
            }
        ]

    def test_sql_column_order(self) -> None:
        sql, params = compile_query("SELECT Name, Id FROM Account WHERE Name = 'a'", SCHEMA).sql()
        assert sql.startswith('SELECT t0.id AS __id, t0."name" AS "Name", t0."id" AS "Id" FROM "account" AS t0')
        assert params == ["a"]

    def test_parent_joined_once(self) -> None:
        sql, _ = compile_query(
            "SELECT Account__r.Name FROM Byline__c WHERE Account__r.Name != null ORDER BY Account__r.NumberOfEmployees",
            SCHEMA,
        ).sql()
        assert sql.count("LEFT JOIN") == 1


# =====================================================================================================
# Properties
# =====================================================================================================
OPP_COLUMNS = ("id", "name", "amount", "closedate", "isprivate", "createddate", "accountid")
ACCOUNT_NAMES = {a[0]: a[1] for a in ACCOUNTS}
UTC = dt.UTC

STRINGS = ["alpha", "ALPHA", "Beta", "beta2", "a_c", "a%c", "", "gamma", "zz", "A", "Acme", "BETA CORP"]
NUMBERS = [0, 1, 2.5, -3, 7, 100, 1000000, -0.5, 3, 42]
DATES = [dt.date(2024, 3, 15), dt.date(2024, 3, 14), dt.date(2024, 1, 31), dt.date(2023, 12, 31), dt.date(2024, 3, 22)]
DATETIMES = [
    dt.datetime(2024, 3, 15, tzinfo=UTC),
    dt.datetime(2024, 3, 14, 12, tzinfo=UTC),
    dt.datetime(2024, 3, 15, 23, 59, 59, 999000, tzinfo=UTC),
    dt.datetime(2024, 3, 8, 9, 30, tzinfo=UTC),
    dt.datetime(2024, 3, 15, 10, 0, 0, 500000, tzinfo=UTC),
]
LIKE_PIECES = ["a", "A", "b", "c", "e", "t", "%", "_", "\\%", "\\_"]
ORDER_OPS = ["=", "!=", "<", "<=", ">", ">="]

null_lit = st.just(NullLit())
string_lit = st.sampled_from(STRINGS).map(StringLit.from_value)
number_lit = st.sampled_from(NUMBERS).map(NumberLit)
date_const = st.one_of(
    st.sampled_from(["TODAY", "YESTERDAY", "TOMORROW"]).map(DateConst),
    st.builds(DateConst, st.sampled_from(["LAST_N_DAYS", "NEXT_N_DAYS"]), st.integers(0, 10)),
)
date_value = st.one_of(st.sampled_from(DATES).map(DateLit), st.sampled_from(DATETIMES).map(DateTimeLit), date_const)


def leaf(field: tuple[str, ...], values: st.SearchStrategy, ops: list[str]) -> st.SearchStrategy:
    ref = FieldRef(field)
    with_null = st.one_of(values, null_lit)
    return st.one_of(
        st.builds(Comparison, st.just(ref), st.sampled_from(ops), with_null),
        st.builds(InList, st.just(ref), st.lists(with_null, min_size=1, max_size=3).map(tuple), st.booleans()),
    )


like_leaf = st.builds(
    Comparison,
    st.sampled_from([FieldRef(("Name",)), FieldRef(("Account", "Name"))]),
    st.just("LIKE"),
    st.lists(st.sampled_from(LIKE_PIECES), max_size=4).map(lambda ps: StringLit("".join(ps))),
)
leaves = st.one_of(
    leaf(("Name",), string_lit, ORDER_OPS),
    leaf(("Account", "Name"), string_lit, ORDER_OPS),
    leaf(("Amount",), number_lit, ORDER_OPS),
    leaf(("CloseDate",), date_value, ORDER_OPS),
    leaf(("CreatedDate",), date_value, ORDER_OPS),
    leaf(("IsPrivate",), st.booleans().map(BoolLit), ["=", "!="]),
    like_leaf,
)
conditions = st.recursive(
    leaves,
    lambda children: st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
        st.lists(children, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
    ),
    max_leaves=8,
)


# -- a pure-Python model of SOQL's filter semantics ------------------------------------------------------
def _stored_to_python(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "CloseDate":
        return dt.date.fromisoformat(value)
    if field == "CreatedDate":
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f+0000").replace(tzinfo=UTC)
    return value


def _field_value(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    if path == ("Account", "Name"):
        return ACCOUNT_NAMES.get(record["accountid"])
    if path == ("IsPrivate",):
        return bool(record["isprivate"])  # never null in Salesforce
    return _stored_to_python(path[0], record[path[0].lower()])


def _literal_to_python(field: str, lit: Any) -> Any:
    """A scalar to compare with, or a (lo, hi) tuple of days for a half-open range.

    (The datetime literals in DATETIMES are whole milliseconds, the precision datetimes are stored at.)
    """
    if isinstance(lit, NullLit):
        return False if field == "IsPrivate" else None
    if isinstance(lit, DateConst):
        days = {"TODAY": (0, 1), "YESTERDAY": (-1, 0), "TOMORROW": (1, 2)}.get(lit.name)
        if days is None:
            days = (-lit.n, 1) if lit.name == "LAST_N_DAYS" else (1, 1 + lit.n)
        return tuple(TODAY + dt.timedelta(days=d) for d in days)
    if isinstance(lit, DateLit) and field == "CreatedDate":
        return (lit.value, lit.value + dt.timedelta(days=1))
    return lit.value


def _key(value: Any) -> Any:
    """Comparable form: text folded to lower case, a bare date read as midnight UTC."""
    if isinstance(value, str):
        return value.lower()
    if type(value) is dt.date:
        return dt.datetime.combine(value, dt.time(), UTC)
    return value


def _like(value: str, raw: str) -> bool:
    regex = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            regex.append(re.escape(raw[i + 1]))
            i += 2
            continue
        regex.append({"%": ".*", "_": "."}.get(raw[i], re.escape(raw[i])))
        i += 1
    return re.fullmatch("".join(regex), value, re.IGNORECASE | re.DOTALL) is not None


def _compare(field: str, x: Any, op: str, lit: Any) -> bool:
    if op == "LIKE":
        return x is not None and not isinstance(lit, NullLit) and _like(x, lit.raw)
    v = _literal_to_python(field, lit)
    if op == "!=":
        return not _compare(field, x, "=", lit)
    if x is None or v is None:
        return op == "=" and x is None and v is None
    x = _key(x)
    if isinstance(v, tuple):
        lo, hi = _key(v[0]), _key(v[1])
        return {"=": lo <= x < hi, "<": x < lo, "<=": x < hi, ">": x >= hi, ">=": x >= lo}[op]
    v = _key(v)
    return {"=": x == v, "<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v}[op]


def evaluate(cond: Any, record: dict[str, Any]) -> bool:
    if isinstance(cond, Not):
        return not evaluate(cond.operand, record)
    if isinstance(cond, And):
        return all(evaluate(c, record) for c in cond.operands)
    if isinstance(cond, Or):
        return any(evaluate(c, record) for c in cond.operands)
    field = cond.field.path[-1]
    x = _field_value(record, cond.field.path)
    if isinstance(cond, InList):
        hit = any(_compare(field, x, "=", v) for v in cond.values)
        return hit != cond.negated
    return _compare(field, x, cond.op, cond.value)


OPP_RECORDS = [dict(zip(OPP_COLUMNS, row, strict=True)) for row in OPPS]


@settings(max_examples=300, deadline=None, database=None)
@given(where=conditions)
def test_where_matches_python_model(store: RecordStore, where: Any) -> None:
    query = Query(select=(FieldRef(("Id",)),), sobject="Opportunity", where=where)
    got = {r["__id"] for r in compile_query(query, SCHEMA, today=TODAY).rows(store)}
    expected = {r["id"] for r in OPP_RECORDS if evaluate(where, r)}
    assert got == expected, to_soql(query)


@settings(max_examples=100, deadline=None, database=None)
@given(where=conditions)
def test_where_count_matches_rows(store: RecordStore, where: Any) -> None:
    cq = compile_query(Query(select=(CountCall(),), sobject="Opportunity", where=where), SCHEMA, today=TODAY)
    sql, params = cq.count_sql()
    assert store.execute(sql, params).fetchone()[0] == len(list(cq.rows(store)))


# -- round trips -----------------------------------------------------------------------------------------
names_st = st.sampled_from(["Id", "Name", "Tweets__c", "x", "Foo_Bar__c", "Order", "limitless"])
paths = st.lists(names_st, min_size=1, max_size=2).map(lambda p: FieldRef(tuple(p)))
any_literal = st.one_of(
    null_lit,
    st.booleans().map(BoolLit),
    st.text(max_size=12).map(StringLit.from_value),
    st.integers(-(10**12), 10**12).map(NumberLit),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(NumberLit),
    st.dates(min_value=dt.date(1000, 1, 1)).map(DateLit),
    st.datetimes(min_value=dt.datetime(1000, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)).map(
        DateTimeLit
    ),
    st.sampled_from(["TODAY", "YESTERDAY", "TOMORROW", "LAST_WEEK", "THIS_MONTH", "NEXT_YEAR", "LAST_90_DAYS"]).map(
        DateConst
    ),
    st.builds(DateConst, st.sampled_from(["LAST_N_DAYS", "NEXT_N_DAYS"]), st.integers(0, 5000)),
)
any_leaf = st.one_of(
    st.builds(Comparison, paths, st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "LIKE"]), any_literal),
    st.builds(InList, paths, st.lists(any_literal, min_size=1, max_size=3).map(tuple), st.booleans()),
)
any_condition = st.recursive(
    any_leaf,
    lambda children: st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
        st.lists(children, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
    ),
    max_leaves=6,
)
select_lists = st.one_of(
    st.lists(paths, min_size=1, max_size=4).map(tuple),
    st.builds(
        lambda f, a: (CountCall(f, a if f else None),), st.none() | paths, st.none() | st.sampled_from(["cnt", "expr0"])
    ),
)
queries = st.builds(
    Query,
    select=select_lists,
    sobject=st.sampled_from(["Account", "Byline__c", "Order", "group"]),
    where=st.none() | any_condition,
    order_by=st.lists(st.builds(OrderItem, paths, st.booleans(), st.none() | st.booleans()), max_size=3).map(tuple),
    limit=st.none() | st.integers(0, 100000),
    offset=st.none() | st.integers(0, 2000),
)


@settings(max_examples=300, deadline=None, database=None)
@given(query=queries)
def test_to_soql_round_trips(query: Query) -> None:
    text = to_soql(query)
    assert parse(text) == query, text


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.text(max_size=20))
def test_string_literals_round_trip(value: str) -> None:
    lit = StringLit.from_value(value)
    parsed = parse(f"SELECT Id FROM A WHERE x = '{lit.raw}'").where.value
    assert parsed.value == value


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"), max_size=8))
def test_like_literal_pattern_matches_itself(store: RecordStore, value: str) -> None:
    # A LIKE pattern with its wildcards escaped matches exactly the strings equal to it (ignoring case).
    raw = StringLit.from_value(value).raw.replace("%", "\\%").replace("_", "\\_")
    query = Query(
        select=(FieldRef(("Id",)),),
        sobject="Opportunity",
        where=Comparison(FieldRef(("Name",)), "LIKE", StringLit(raw)),
    )
    got = {r["__id"] for r in compile_query(query, SCHEMA).rows(store)}
    assert got == {r["id"] for r in OPP_RECORDS if r["name"] is not None and r["name"].lower() == value.lower()}


@pytest.mark.parametrize("number", [1e-7, 1e16, -2.5e300, 0.1, -0.0, 12345678901234567890])
def test_number_rendering_never_uses_exponents(number: float) -> None:
    text = to_soql(
        Query(select=(FieldRef(("Id",)),), sobject="A", where=Comparison(FieldRef(("x",)), "=", NumberLit(number)))
    )
    assert "e" not in text.split("=")[1].lower()
    assert parse(text).where.value.value == number
