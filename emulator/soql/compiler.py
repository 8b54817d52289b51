"""Query AST + Schema -> parameterised SQLite SQL over the RecordStore's tables.

Name resolution happens here (case-insensitively, reporting Salesforce's INVALID_TYPE / INVALID_FIELD
messages with a caret at the offending name), and so does the translation of SOQL's value semantics
onto SQLite:

* **Nulls are values, not unknowns.** SOQL uses two-valued logic: `Name != 'x'` and `Name NOT IN (...)`
  also return records whose Name is null, `= null` / `!= null` mean IS NULL / IS NOT NULL, and
  `NOT (Name = 'x')` equals `Name != 'x'`. The compiler pushes NOT down to the leaves (negation
  normal form) and gives each leaf an explicit rule for null rows, so SQL's three-valued logic never
  leaks through. Ordering comparisons and LIKE never match null.
* **Booleans** are stored 0/1; Salesforce booleans are never null, so a missing value reads as false
  and `= null` means `= false` (as the SOQL reference documents).
* **Text** compares and sorts case-insensitively (`COLLATE NOCASE`; ASCII case folding, as SQLite
  does). LIKE is case-insensitive for the same reason, with `\\%` / `\\_` matching literally.
* **Dates and datetimes** are compared on their stored ISO strings, whose lexical order is their
  chronological order. A datetime literal is normalised to the stored UTC form. Against a date
  field it is compared with the date read as midnight UTC. A date literal against a datetime field,
  and every relative date literal (TODAY, LAST_N_DAYS:n, ...), is a half-open range [start, end) of
  whole UTC days: `=` means inside it, `<` before its start, `>` after its end.
* **Ids** in literals are canonicalised to their 18-character form when they are well-formed.

Results are ordered by the query's ORDER BY and then by rowid, so pages taken with OFFSET/LIMIT are
stable; without ORDER BY, rows come in insertion order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

from .. import ids
from ..errors import InvalidField, InvalidType, MalformedQuery, SalesforceError
from ..schema import NUMBER_TYPES, TEXT_TYPES, FieldDef, Schema, SObjectDef, format_datetime
from .parser import (
    And,
    BoolLit,
    Comparison,
    Condition,
    CountCall,
    DateConst,
    DateLit,
    DateTimeLit,
    FieldRef,
    InList,
    Literal,
    Not,
    NullLit,
    NumberLit,
    Or,
    Pos,
    Query,
    StringLit,
    format_error,
    like_pattern,
    parse,
)

if TYPE_CHECKING:
    from ..store import RecordStore

__all__ = ["CompiledQuery", "SelectedColumn", "compile_query", "date_range"]

_BASE = "t0"
_MIDNIGHT = "T00:00:00.000+0000"

# Names Salesforce uses for field types in "must be of type ..." messages.
_TYPE_NAMES = {
    "int": "integer",
    "double": "double",
    "currency": "currency",
    "percent": "percent",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "id": "id",
    "reference": "reference",
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# -- public result types ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelectedColumn:
    """One selected field. `path` uses the schema's spelling, e.g. ("Account__r", "Name") or ("Name",)."""

    path: tuple[str, ...]
    field: FieldDef
    relationship: str | None
    target: SObjectDef

    @property
    def key(self) -> str:
        """The row-dict key `CompiledQuery.rows` uses: "Account__r.Name" or "Name"."""
        return ".".join(self.path)


@dataclass(frozen=True)
class CompiledQuery:
    """A validated query, ready to run as often as needed (e.g. once per queryMore page).

    `sql()` and `count_sql()` return (sql, params) for `store.execute`; `rows()` runs the former.
    For COUNT() queries `columns` is empty and `count_alias` is None; for `COUNT(field) [alias]`
    (an AggregateResult in Salesforce) `count_alias` is the alias or "expr0" and `count_column`
    the counted field.
    """

    sobject: SObjectDef
    columns: list[SelectedColumn]
    is_count: bool
    limit: int | None
    offset: int | None
    count_alias: str | None = None
    count_column: SelectedColumn | None = None
    _column_sql: tuple[str, ...] = dc_field(default=(), repr=False)
    _from_sql: str = dc_field(default="", repr=False)
    _where_sql: str = dc_field(default="", repr=False)
    _params: tuple[Any, ...] = dc_field(default=(), repr=False)
    _order_sql: str = dc_field(default="", repr=False)
    _count_expr: str = dc_field(default="*", repr=False)

    def _window(self, offset: int | None, limit: int | None) -> tuple[int, int | None]:
        """Combine the query's own OFFSET/LIMIT with a page window taken relative to its result set."""
        page_offset = max(offset or 0, 0)
        start = (self.offset or 0) + page_offset
        remaining = None if self.limit is None else max(self.limit - page_offset, 0)
        if limit is None:
            return start, remaining
        limit = max(limit, 0)
        return start, limit if remaining is None else min(limit, remaining)

    @staticmethod
    def _limit_sql(start: int, count: int | None) -> str:
        if count is None and start == 0:
            return ""
        return f" LIMIT {-1 if count is None else int(count)} OFFSET {int(start)}"

    def sql(self, offset: int | None = None, limit: int | None = None) -> tuple[str, list]:
        """SELECT "__id" then the columns in `columns` order, for one page of the result set."""
        cols = ", ".join((f"{_BASE}.id AS __id", *self._column_sql))
        text = f"SELECT {cols} FROM {self._from_sql}{self._where_sql} ORDER BY {self._order_sql}"
        return text + self._limit_sql(*self._window(offset, limit)), list(self._params)

    def count_sql(self) -> tuple[str, list]:
        """SELECT COUNT(...) over the rows the query returns (WHERE, then its own OFFSET/LIMIT).

        For `COUNT(field)` the count is of non-null values and ignores LIMIT/OFFSET, which in SOQL
        apply to the (single) aggregate row rather than to the counted records.
        """
        if self.count_column is None and (self.limit is not None or self.offset):
            inner = f"SELECT 1 FROM {self._from_sql}{self._where_sql}" + self._limit_sql(*self._window(None, None))
            return f"SELECT COUNT(*) FROM ({inner})", list(self._params)
        return f"SELECT COUNT({self._count_expr}) FROM {self._from_sql}{self._where_sql}", list(self._params)

    def rows(self, store: RecordStore, offset: int | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Run `sql()` and yield {"__id": id, "Name": stored, "Account__r.Name": stored, ...}."""
        text, params = self.sql(offset, limit)
        keys = ["__id", *(c.key for c in self.columns)]
        for row in store.execute(text, params):
            yield dict(zip(keys, row, strict=True))


# -- relative dates -------------------------------------------------------------------------------------
def date_range(const: DateConst, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) in whole days for a relative date literal, weeks starting on Sunday (en_US)."""
    name, n = const.name, const.n
    one = dt.timedelta(days=1)
    week_start = today - dt.timedelta(days=(today.weekday() + 1) % 7)
    month_start = today.replace(day=1)

    def add_months(day: dt.date, months: int) -> dt.date:
        total = day.year * 12 + day.month - 1 + months
        return dt.date(total // 12, total % 12 + 1, 1)

    if name == "TODAY":
        return today, today + one
    if name == "YESTERDAY":
        return today - one, today
    if name == "TOMORROW":
        return today + one, today + 2 * one
    if name.endswith("_WEEK"):
        shift = {"LAST": -7, "THIS": 0, "NEXT": 7}[name.split("_")[0]]
        start = week_start + dt.timedelta(days=shift)
        return start, start + dt.timedelta(days=7)
    if name.endswith("_MONTH"):
        shift = {"LAST": -1, "THIS": 0, "NEXT": 1}[name.split("_")[0]]
        start = add_months(month_start, shift)
        return start, add_months(start, 1)
    if name.endswith("_YEAR"):
        year = today.year + {"LAST": -1, "THIS": 0, "NEXT": 1}[name.split("_")[0]]
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    if name in ("LAST_90_DAYS", "LAST_N_DAYS"):
        days = 90 if n is None else n
        return today - dt.timedelta(days=days), today + one  # includes today, as Salesforce documents
    if name in ("NEXT_90_DAYS", "NEXT_N_DAYS"):
        days = 90 if n is None else n
        return today + one, today + one + dt.timedelta(days=days)  # starts tomorrow
    raise ValueError(f"unsupported date literal {name}")


# -- compilation ----------------------------------------------------------------------------------------
@dataclass
class _Resolved:
    sql: str  # column expression
    field: FieldDef
    target: SObjectDef
    relationship: str | None
    path: tuple[str, ...]


@dataclass
class _Leaf:
    """One WHERE leaf as (test on non-null values, whether null values match).

    `test` must be NULL whenever the column is NULL, so that `NOT test` still excludes null rows;
    `None` means no non-null value matches. Negating a leaf flips both halves. `expr` is the bare
    column for IS NULL checks, or None when the compared expression can never be null (booleans).
    """

    expr: str | None
    test: str | None
    params: list[Any]
    nulls: bool
    negated: bool = False  # how `!=` and NOT IN are built from `=` and IN

    def render(self, negate: bool) -> tuple[str, list[Any]]:
        negate = negate != self.negated
        nulls = self.nulls != negate
        if self.test is None:
            if self.expr is None:
                return ("1" if negate else "0"), []
            if negate:
                return ("1" if nulls else f"{self.expr} IS NOT NULL"), []
            return (f"{self.expr} IS NULL" if nulls else "0"), []
        test = f"NOT ({self.test})" if negate else self.test
        if nulls and self.expr is not None:
            return f"({self.expr} IS NULL OR {test})", list(self.params)
        return test, list(self.params)


@dataclass
class _Value:
    """A literal converted for one field: a scalar in stored form, or a [lo, hi) range; expr may be adapted."""

    expr: str
    scalar: Any = None
    lo: Any = None
    hi: Any = None
    is_null: bool = False

    @property
    def is_range(self) -> bool:
        return self.lo is not None


class _Compiler:
    def __init__(self, query: Query, schema: Schema, today: dt.date) -> None:
        self.query = query
        self.schema = schema
        self.today = today
        self.joins: dict[str, tuple[str, str]] = {}  # relationship (lower) -> (alias, JOIN clause)
        self.obj = self._resolve_object()

    # errors --------------------------------------------------------------------------------------
    def _fail(self, cls: type[SalesforceError], pos: Pos, message: str) -> SalesforceError:
        return cls(format_error(self.query.source, pos, message))

    def _resolve_object(self) -> SObjectDef:
        obj = self.schema.get(self.query.sobject)
        if obj is None:
            raise self._fail(
                InvalidType,
                self.query.sobject_pos,
                f"sObject type '{self.query.sobject}' is not supported. If you are attempting to use a custom object, "
                "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
            )
        return obj

    def _no_such_column(self, name: str, obj: SObjectDef, pos: Pos) -> SalesforceError:
        return self._fail(
            InvalidField,
            pos,
            f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom field, be sure "
            "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
            "the appropriate names.",
        )

    # names ---------------------------------------------------------------------------------------
    def resolve(self, ref: FieldRef) -> _Resolved:
        path = ref.path
        if len(path) > 1 and path[0].lower() == self.obj.name.lower() and self._relationship(path[0]) is None:
            path = path[1:]  # `Byline__c.Name` FROM Byline__c: the object name may prefix its own fields
        if len(path) == 1:
            fd = self.obj.field(path[0])
            if fd is None:
                raise self._no_such_column(path[0], self.obj, ref.pos)
            return _Resolved(f"{_BASE}.{_quote(fd.column)}", fd, self.obj, None, (fd.name,))
        if len(path) > 2:
            raise self._fail(
                MalformedQuery,
                ref.pos,
                f"Relationship paths deeper than one level are not supported by the emulator: {'.'.join(path)}",
            )
        ref_field = self._relationship(path[0])
        target = self.schema.get(ref_field.reference_to) if ref_field and ref_field.reference_to else None
        if ref_field is None or target is None:
            raise self._fail(
                InvalidField,
                ref.pos,
                f"Didn't understand relationship '{path[0]}' in field path. If you are attempting to use a custom "
                "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
                "WSDL or the describe call for the appropriate names.",
            )
        fd = target.field(path[1])
        if fd is None:
            raise self._no_such_column(path[1], target, ref.pos)
        rel = ref_field.relationship_name or path[0]  # always set: the field was found by it
        alias = self._join(rel, ref_field, target)
        return _Resolved(f"{alias}.{_quote(fd.column)}", fd, target, rel, (rel, fd.name))

    def _relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for fd in self.obj.fields.values():
            if fd.relationship_name and fd.relationship_name.lower() == lowered:
                return fd
        return None

    def _join(self, rel: str, ref_field: FieldDef, target: SObjectDef) -> str:
        key = rel.lower()
        if key not in self.joins:
            alias = f"t{len(self.joins) + 1}"
            clause = f" LEFT JOIN {_quote(target.table)} AS {alias} ON {alias}.id = {_BASE}.{_quote(ref_field.column)}"
            self.joins[key] = (alias, clause)
        return self.joins[key][0]

    # select list ---------------------------------------------------------------------------------
    def select(self) -> tuple[list[SelectedColumn], list[str], bool, CountCall | None]:
        counts = [item for item in self.query.select if isinstance(item, CountCall)]
        fields = [item for item in self.query.select if isinstance(item, FieldRef)]
        if counts:
            first = counts[0]
            if len(counts) > 1 or (first.field is None and len(self.query.select) > 1):
                raise self._fail(MalformedQuery, first.pos, "COUNT() must be the only element in the SELECT list")
            if fields:
                raise self._fail(
                    MalformedQuery, fields[0].pos, f"Field must be grouped or aggregated: {'.'.join(fields[0].path)}"
                )
            return [], [], True, first
        columns: list[SelectedColumn] = []
        exprs: list[str] = []
        seen: set[tuple[str, ...]] = set()
        for ref in fields:
            res = self.resolve(ref)
            key = tuple(p.lower() for p in res.path)
            if key in seen:
                raise self._fail(MalformedQuery, ref.pos, f"duplicate field selected: {'.'.join(res.path)}")
            seen.add(key)
            columns.append(SelectedColumn(res.path, res.field, res.relationship, res.target))
            exprs.append(res.sql)
        return columns, exprs, False, None

    # WHERE ---------------------------------------------------------------------------------------
    def condition(self, cond: Condition, negate: bool = False) -> tuple[str, list[Any]]:
        """Negation normal form: NOT is pushed through AND/OR (De Morgan) down to the leaves."""
        if isinstance(cond, Not):
            return self.condition(cond.operand, not negate)
        if isinstance(cond, (And, Or)):
            conjunction = isinstance(cond, And) != negate
            parts = [self.condition(c, negate) for c in cond.operands]
            joiner = " AND " if conjunction else " OR "
            params = [p for _, ps in parts for p in ps]
            return "(" + joiner.join(sql for sql, _ in parts) + ")", params
        if isinstance(cond, Comparison):
            return self._comparison(cond).render(negate)
        if isinstance(cond, InList):
            return self._in_list(cond).render(negate)
        raise TypeError(f"not a condition: {cond!r}")

    def _comparison(self, cond: Comparison) -> _Leaf:
        res = self.resolve(cond.field)
        if cond.op == "LIKE":
            return self._like(res, cond)
        value = self._convert(res, cond.value)
        op = cond.op
        positive_op = "=" if op == "!=" else op
        if value.is_null:
            leaf = _Leaf(self._nullable(res), None, [], op in ("=", "!="))  # ordering against null matches nothing
        elif value.is_range:
            lo_hi = {
                "=": (f"({value.expr} >= ? AND {value.expr} < ?)", [value.lo, value.hi]),
                "<": (f"{value.expr} < ?", [value.lo]),
                "<=": (f"{value.expr} < ?", [value.hi]),
                ">": (f"{value.expr} >= ?", [value.hi]),
                ">=": (f"{value.expr} >= ?", [value.lo]),
            }
            test, params = lo_hi[positive_op]
            leaf = _Leaf(self._nullable(res), test, params, False)
        else:
            leaf = _Leaf(self._nullable(res), f"{value.expr} {positive_op} ?", [value.scalar], False)
        leaf.negated = op == "!="
        return leaf

    def _like(self, res: _Resolved, cond: Comparison) -> _Leaf:
        ftype = res.field.type
        if ftype in NUMBER_TYPES or ftype in ("boolean", "date", "datetime"):
            raise self._fail(
                InvalidField,
                cond.field.pos,
                f"Invalid operator on field '{res.field.name}': LIKE can only filter text fields",
            )
        if isinstance(cond.value, NullLit):
            return _Leaf(res.sql, None, [], False)
        if not isinstance(cond.value, StringLit):
            raise self._type_error(res, cond.value)
        return _Leaf(res.sql, f"{res.sql} LIKE ? ESCAPE '\\'", [like_pattern(cond.value.raw)], False)

    def _in_list(self, cond: InList) -> _Leaf:
        res = self.resolve(cond.field)
        values = [self._convert(res, v) for v in cond.values]
        by_expr: dict[str, list[Any]] = {}  # one literal list may need differently adapted column expressions
        for v in values:
            if not v.is_null and not v.is_range:
                by_expr.setdefault(v.expr, []).append(v.scalar)
        tests: list[str] = []
        params: list[Any] = []
        for expr, scalars in by_expr.items():
            tests.append(f"{expr} IN ({', '.join('?' * len(scalars))})")
            params.extend(scalars)
        for v in values:
            if v.is_range:
                tests.append(f"({v.expr} >= ? AND {v.expr} < ?)")
                params.extend((v.lo, v.hi))
        test = None if not tests else tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"
        nulls = any(v.is_null for v in values)
        return _Leaf(self._nullable(res), test, params, nulls, negated=cond.negated)

    # literal conversion -----------------------------------------------------------------------------
    @staticmethod
    def _nullable(res: _Resolved) -> str | None:
        """The expression to test for null, or None for booleans (compared as COALESCE(x, 0): never null)."""
        return None if res.field.type == "boolean" else res.sql

    def _type_error(self, res: _Resolved, value: Literal) -> SalesforceError:
        ftype = res.field.type
        is_text = ftype in TEXT_TYPES
        type_name = "string" if is_text else _TYPE_NAMES.get(ftype, ftype)
        quoting = (
            "should be enclosed in quotes"
            if is_text or ftype in ("id", "reference")
            else "should not be enclosed in quotes"
        )
        return self._fail(
            InvalidField,
            getattr(value, "pos", Pos()),
            f"value of filter criterion for field '{res.field.name}' must be of type {type_name} and {quoting}",
        )

    def _convert(self, res: _Resolved, value: Literal) -> _Value:
        """A literal -> the stored form to compare `res` with (validating the literal's type)."""
        ftype = res.field.type
        expr = res.sql
        if ftype == "boolean":
            expr = f"COALESCE({res.sql}, 0)"  # Salesforce booleans are never null: missing reads as false
            if isinstance(value, NullLit):
                return _Value(expr, scalar=0)
            if isinstance(value, BoolLit):
                return _Value(expr, scalar=int(value.value))
            raise self._type_error(res, value)
        if isinstance(value, NullLit):
            return _Value(expr, is_null=True)
        if ftype in TEXT_TYPES:
            if isinstance(value, StringLit):
                return _Value(f"{expr} COLLATE NOCASE", scalar=value.value)
            raise self._type_error(res, value)
        if ftype in ("id", "reference"):
            if isinstance(value, StringLit):
                text = value.value
                return _Value(expr, scalar=ids.to_18(text) or text)
            raise self._type_error(res, value)
        if ftype in NUMBER_TYPES:
            if isinstance(value, NumberLit):
                return _Value(expr, scalar=value.value)
            raise self._type_error(res, value)
        if ftype == "date":
            if isinstance(value, DateLit):
                return _Value(expr, scalar=value.value.isoformat())
            if isinstance(value, DateTimeLit):
                return _Value(f"({expr} || '{_MIDNIGHT}')", scalar=format_datetime(value.value))
            if isinstance(value, DateConst):
                lo, hi = date_range(value, self.today)
                return _Value(expr, lo=lo.isoformat(), hi=hi.isoformat())
            raise self._type_error(res, value)
        if ftype == "datetime":
            if isinstance(value, DateTimeLit):
                return _Value(expr, scalar=format_datetime(value.value))
            if isinstance(value, (DateLit, DateConst)):
                lo, hi = (
                    (value.value, value.value + dt.timedelta(days=1))
                    if isinstance(value, DateLit)
                    else date_range(value, self.today)
                )
                return _Value(expr, lo=lo.isoformat() + _MIDNIGHT, hi=hi.isoformat() + _MIDNIGHT)
            raise self._type_error(res, value)
        raise self._type_error(res, value)

    # ORDER BY ----------------------------------------------------------------------------------------
    def order_by(self) -> str:
        keys = []
        for item in self.query.order_by:
            res = self.resolve(item.field)
            expr = f"{res.sql} COLLATE NOCASE" if res.field.type in TEXT_TYPES else res.sql
            direction = "DESC" if item.descending else "ASC"
            nulls = "NULLS FIRST" if item.effective_nulls_first else "NULLS LAST"
            keys.append(f"{expr} {direction} {nulls}")
        keys.append(f"{_BASE}.rowid")  # tie-breaker: stable pages
        return ", ".join(keys)


def compile_query(query: Query | str, schema: Schema, *, today: dt.date | None = None) -> CompiledQuery:
    """Validate `query` against `schema` and translate it to SQL.

    `query` may also be SOQL text (parsed first). `today` pins the UTC day relative date literals
    are computed from (tests); it defaults to the current UTC date.
    Raises InvalidType (unknown object), InvalidField (unknown field/relationship, literal of the
    wrong type), MalformedQuery (semantic errors such as duplicate fields).
    """
    if isinstance(query, str):
        query = parse(query)
    today = today or dt.datetime.now(dt.UTC).date()
    comp = _Compiler(query, schema, today)
    columns, exprs, is_count, count = comp.select()
    count_column: SelectedColumn | None = None
    count_expr = "*"
    count_alias = None
    if count is not None and count.field is not None:
        res = comp.resolve(count.field)
        count_column = SelectedColumn(res.path, res.field, res.relationship, res.target)
        count_expr = res.sql
        count_alias = count.alias or "expr0"
    where_sql = ""
    params: list[Any] = []
    if query.where is not None:
        cond_sql, params = comp.condition(query.where)
        where_sql = f" WHERE {cond_sql}"
    order_sql = comp.order_by()
    from_sql = f"{_quote(comp.obj.table)} AS {_BASE}" + "".join(clause for _, clause in comp.joins.values())
    return CompiledQuery(
        sobject=comp.obj,
        columns=columns,
        is_count=is_count,
        limit=query.limit,
        offset=query.offset,
        count_alias=count_alias,
        count_column=count_column,
        _column_sql=tuple(f"{sql} AS {_quote(col.key)}" for sql, col in zip(exprs, columns, strict=True)),
        _from_sql=from_sql,
        _where_sql=where_sql,
        _params=tuple(params),
        _order_sql=order_sql,
        _count_expr=count_expr,
    )
