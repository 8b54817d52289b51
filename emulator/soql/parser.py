"""SOQL text -> a small immutable AST.

The grammar (grammar.lark) is parsed with lark's LALR(1) parser; a Transformer turns the parse tree
into the frozen dataclasses below. The AST knows nothing about the schema, the store or HTTP: names
stay as the client wrote them and are resolved (case-insensitively) by the compiler, which is also
where unknown objects and fields are reported. Positions are kept on the nodes an error can point
at, and excluded from equality so that two parses of equivalent text compare equal.

Syntax errors are raised as `MalformedQuery` with Salesforce's layout: the offending line, a caret
under the offending column, `ERROR at Row:r:Column:c`, then the explanation.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import MalformedQuery

MAX_OFFSET = 2000  # SOQL's documented OFFSET cap

__all__ = [
    "MAX_OFFSET",
    "And",
    "BoolLit",
    "Comparison",
    "Condition",
    "CountCall",
    "DateConst",
    "DateLit",
    "DateTimeLit",
    "FieldRef",
    "InList",
    "Literal",
    "Not",
    "NullLit",
    "NumberLit",
    "Or",
    "OrderItem",
    "Pos",
    "Query",
    "StringLit",
    "format_error",
    "like_pattern",
    "parse",
    "to_soql",
]


# -- AST ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pos:
    """1-based row and column of a token in the query text (what Salesforce's errors report)."""

    line: int = 1
    column: int = 1


_NOWHERE = Pos()


@dataclass(frozen=True)
class FieldRef:
    """A field as written: ("Name",) or ("Account__r", "Name")."""

    path: tuple[str, ...]
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class CountCall:
    """`COUNT()` (field None) or `COUNT(field) [alias]`."""

    field: FieldRef | None = None
    alias: str | None = None
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class NullLit:
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\", "%": "%", "_": "_"}


@dataclass(frozen=True)
class StringLit:
    """A quoted string, kept in its escaped source form.

    The raw form is the truth because LIKE needs to tell `\\%` (a literal percent) from `%` (a
    wildcard), which the decoded value can no longer do.
    """

    raw: str
    pos: Pos = dc_field(default=_NOWHERE, compare=False)

    @property
    def value(self) -> str:
        return decode_string(self.raw)

    @classmethod
    def from_value(cls, value: str) -> StringLit:
        """The literal whose decoded value is `value` (wildcards in it stay wildcards under LIKE)."""
        out = []
        for ch in value:
            if ch in ("\\", "'"):
                out.append("\\" + ch)
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif ch == "\b":
                out.append("\\b")
            elif ch == "\f":
                out.append("\\f")
            else:
                out.append(ch)
        return cls("".join(out))


@dataclass(frozen=True)
class NumberLit:
    value: int | float
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class BoolLit:
    value: bool
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class DateLit:
    value: dt.date
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class DateTimeLit:
    """A datetime literal, normalised to an aware UTC datetime (offsets are applied at parse time)."""

    value: dt.datetime
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class DateConst:
    """A relative date literal: TODAY, LAST_WEEK, ... (n None) or LAST_N_DAYS:n / NEXT_N_DAYS:n."""

    name: str  # upper case, without the ":n"
    n: int | None = None
    pos: Pos = dc_field(default=_NOWHERE, compare=False)


Literal = NullLit | StringLit | NumberLit | BoolLit | DateLit | DateTimeLit | DateConst

COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=", "LIKE")


@dataclass(frozen=True)
class Comparison:
    """`field op value`; op is one of COMPARISON_OPS (`<>` is normalised to `!=`)."""

    field: FieldRef
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Comparison | InList | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_first: bool | None = None  # None: SOQL's default (first when ascending, last when descending)

    @property
    def effective_nulls_first(self) -> bool:
        return (not self.descending) if self.nulls_first is None else self.nulls_first


@dataclass(frozen=True)
class Query:
    select: tuple[FieldRef | CountCall, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    sobject_pos: Pos = dc_field(default=_NOWHERE, compare=False)
    source: str = dc_field(default="", compare=False, repr=False)  # for error carets in the compiler


# -- errors ---------------------------------------------------------------------------------------
def format_error(source: str, pos: Pos, message: str) -> str:
    """Salesforce's query-error layout: the line, a caret under the column, the position, the reason."""
    lines = source.split("\n") if source else [""]
    line_text = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
    caret = " " * (pos.column - 1) + "^"
    return f"\n{line_text}\n{caret}\nERROR at Row:{pos.line}:Column:{pos.column}\n{message}"


class _QueryError(Exception):
    """Raised inside the transformer; carries a position so parse() can format it with the source."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


# -- string literals --------------------------------------------------------------------------------
def decode_string(raw: str) -> str:
    """Decode SOQL escapes (`\\'`, `\\\\`, `\\n`, ...). `\\%` and `\\_` decode to the bare character."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            decoded = _ESCAPES.get(nxt.lower() if nxt in ("N", "R", "T", "B", "F") else nxt)
            if decoded is None:
                raise ValueError(
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}' in string literal."
                )
            out.append(decoded)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def like_pattern(raw: str) -> str:
    """A raw SOQL LIKE literal -> an SQLite LIKE pattern to use with `ESCAPE '\\'`.

    `%` and `_` stay wildcards; `\\%`, `\\_` and `\\\\` become SQLite-escaped literals; other escapes
    decode to their character.
    """
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1]
            if nxt in "%_\\":
                out.append("\\" + nxt)
            else:
                out.append(decode_string(raw[i : i + 2]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- parse tree -> AST --------------------------------------------------------------------------------
def _pos(token: Token) -> Pos:
    return Pos(token.line or 1, token.column or 1)


_DT_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$", re.I)


class _ToAst(Transformer):
    """Builds the AST bottom-up. Each method receives the already-transformed children of its rule."""

    # select list
    def start(self, children: list) -> dict:
        select, obj, *clauses = children
        query: dict = {"select": select, "sobject": obj[0], "sobject_pos": obj[1]}
        for key, value in clauses:
            query[key] = value
        return query

    def select_list(self, items: list) -> tuple:
        return tuple(items)

    def count_call(self, children: list) -> CountCall:
        count_tok = children[0]
        ref = next((c for c in children[1:] if isinstance(c, FieldRef)), None)
        alias = next((str(c) for c in children[1:] if isinstance(c, Token) and c.type == "NAME"), None)
        return CountCall(ref, alias, _pos(count_tok))

    def field_path(self, names: list[Token]) -> FieldRef:
        return FieldRef(tuple(str(n) for n in names), _pos(names[0]))

    def object_name(self, children: list[Token]) -> tuple[str, Pos]:
        return str(children[0]), _pos(children[0])

    # where
    def where_clause(self, children: list) -> tuple[str, Condition]:
        return "where", children[0]

    def or_cond(self, children: list) -> Or:
        return Or(tuple(children))

    def and_cond(self, children: list) -> And:
        return And(tuple(children))

    def negation(self, children: list) -> Not:
        return Not(children[1])

    def comparison(self, children: list) -> Comparison:
        ref, op, value = children
        text = str(op).upper()
        return Comparison(ref, "!=" if text == "<>" else text, value)

    def in_list(self, children: list) -> InList:
        ref = children[0]
        negated = isinstance(children[1], Token) and children[1].type == "NOT"
        values = tuple(c for c in children[1:] if not (isinstance(c, Token) and c.type in ("NOT", "IN")))
        return InList(ref, values, negated)

    # literals (terminal callbacks: the method name is the terminal's name)
    def STRING(self, tok: Token) -> StringLit:
        lit = StringLit(str(tok)[1:-1], _pos(tok))
        try:
            _ = lit.value  # decoded only to refuse a bad escape at parse time
        except ValueError as exc:
            raise _QueryError(_pos(tok), str(exc)) from None
        return lit

    def NUMBER(self, tok: Token) -> NumberLit:
        text = str(tok)
        is_int = "." not in text
        return NumberLit(int(text) if is_int else float(text), _pos(tok))

    def NULL(self, tok: Token) -> NullLit:
        return NullLit(_pos(tok))

    def TRUE(self, tok: Token) -> BoolLit:
        return BoolLit(True, _pos(tok))

    def FALSE(self, tok: Token) -> BoolLit:
        return BoolLit(False, _pos(tok))

    def DATE(self, tok: Token) -> DateLit:
        try:
            return DateLit(dt.date.fromisoformat(str(tok)), _pos(tok))
        except ValueError:
            raise _QueryError(_pos(tok), f"unexpected token: '{tok}'") from None

    def DATETIME(self, tok: Token) -> DateTimeLit:
        value = parse_datetime_literal(str(tok))
        if value is None:
            raise _QueryError(_pos(tok), f"unexpected token: '{tok}'")
        return DateTimeLit(value, _pos(tok))

    def DATE_CONST(self, tok: Token) -> DateConst:
        return DateConst(str(tok).upper(), None, _pos(tok))

    def DATE_N_CONST(self, tok: Token) -> DateConst:
        name, _, n = str(tok).partition(":")
        return DateConst(name.upper(), int(n), _pos(tok))

    # order by / limit / offset / for
    def order_clause(self, items: list) -> tuple[str, tuple[OrderItem, ...]]:
        return "order_by", tuple(items)

    def order_item(self, children: list) -> OrderItem:
        ref = children[0]
        kinds = {c.type for c in children[1:]}
        nulls_first = True if "FIRST" in kinds else False if "LAST" in kinds else None
        return OrderItem(ref, "DESC" in kinds, nulls_first)

    def limit_clause(self, children: list[Token]) -> tuple[str, int]:
        return "limit", int(children[0])

    def offset_clause(self, children: list[Token]) -> tuple[str, int]:
        if int(children[0]) > MAX_OFFSET:
            raise MalformedQuery(f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        return "offset", int(children[0])

    def for_clause(self, children: list[Token]) -> tuple[str, None]:
        return "for", None  # FOR VIEW / FOR REFERENCE only update "recently viewed" lists: nothing to do


def parse_datetime_literal(text: str) -> dt.datetime | None:
    """`2024-01-31T10:00:00.5+01:00` -> aware UTC datetime (sub-microsecond digits are dropped)."""
    m = _DT_RE.match(text)
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, zone = m.groups()
    try:
        base = dt.datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss))
    except ValueError:
        return None
    if frac:
        base = base.replace(microsecond=int((frac + "000000")[:6]))
    offset = dt.timedelta(0)
    if zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return None
        offset = dt.timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
    try:
        return (base - offset).replace(tzinfo=dt.UTC)
    except OverflowError:
        return None


# -- entry point ----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("emulator.soql").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


def _end_pos(text: str) -> Pos:
    """Where `<EOF>` is reported: just after the last non-blank character."""
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    column = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return Pos(line, column)


def _syntax_error(text: str, exc: UnexpectedInput) -> MalformedQuery:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return MalformedQuery(format_error(text, _end_pos(text), "unexpected token: <EOF>"))
        return MalformedQuery(format_error(text, _pos(tok), f"unexpected token: '{tok}'"))
    if isinstance(exc, UnexpectedCharacters):
        pos = Pos(exc.line, exc.column)
        # Report the whole word when a word is what could not be lexed here (e.g. an unknown date literal).
        start = exc.pos_in_stream
        assert start is not None  # lark sets it on every UnexpectedCharacters
        word = re.match(r"[A-Za-z0-9_:]+|.", text[start:], re.S)
        shown = word.group(0) if word else text[start]
        return MalformedQuery(format_error(text, pos, f"unexpected token: '{shown}'"))
    if isinstance(exc, UnexpectedEOF):
        return MalformedQuery(format_error(text, _end_pos(text), "unexpected token: <EOF>"))
    return MalformedQuery(
        format_error(text, Pos(getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1), str(exc))
    )


def parse(text: str) -> Query:
    """Parse SOQL text into a `Query`; raise `MalformedQuery` (Salesforce-formatted) on bad syntax."""
    if not isinstance(text, str) or not text.strip():
        raise MalformedQuery("unexpected token: <EOF>")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        parts = _ToAst().transform(tree)
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _QueryError):
            raise MalformedQuery(format_error(text, inner.pos, inner.message)) from None
        if isinstance(inner, MalformedQuery):
            raise inner from None
        raise
    parts.pop("for", None)
    return Query(**parts, source=text)


# -- AST -> text ---------------------------------------------------------------------------------------
def _render_literal(value: Literal) -> str:
    if isinstance(value, NullLit):
        return "null"
    if isinstance(value, StringLit):
        return f"'{value.raw}'"
    if isinstance(value, BoolLit):
        return "true" if value.value else "false"
    if isinstance(value, NumberLit):
        if isinstance(value.value, float):
            # Plain positional notation: SOQL has no exponent syntax. Keep a "." so it parses back as a float.
            text = format(Decimal(repr(value.value)), "f")
            return text if "." in text else text + ".0"
        return str(value.value)
    if isinstance(value, DateTimeLit):
        stamp = value.value.astimezone(dt.UTC)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
        if stamp.microsecond:
            text += f".{stamp.microsecond:06d}"
        return text + "Z"
    if isinstance(value, DateLit):
        return value.value.isoformat()
    if isinstance(value, DateConst):
        return value.name if value.n is None else f"{value.name}:{value.n}"
    raise TypeError(f"not a SOQL literal: {value!r}")


def _render_condition(cond: Condition) -> str:
    if isinstance(cond, Comparison):
        return f"{'.'.join(cond.field.path)} {cond.op} {_render_literal(cond.value)}"
    if isinstance(cond, InList):
        values = ", ".join(_render_literal(v) for v in cond.values)
        return f"{'.'.join(cond.field.path)} {'NOT IN' if cond.negated else 'IN'} ({values})"
    if isinstance(cond, Not):
        inner = _render_condition(cond.operand)
        return f"NOT ({inner})" if isinstance(cond.operand, (And, Or)) else f"NOT {inner}"
    joiner = " AND " if isinstance(cond, And) else " OR "
    # Nested AND/OR are always parenthesised: real SOQL refuses to mix them without parentheses.
    return joiner.join(
        f"({_render_condition(c)})" if isinstance(c, (And, Or)) else _render_condition(c) for c in cond.operands
    )


def to_soql(query: Query) -> str:
    """Render a Query back to SOQL text that parses to an equal Query (used by tests and logs)."""
    items = []
    for item in query.select:
        if isinstance(item, CountCall):
            inner = ".".join(item.field.path) if item.field else ""
            items.append(f"COUNT({inner})" + (f" {item.alias}" if item.alias else ""))
        else:
            items.append(".".join(item.path))
    parts = [f"SELECT {', '.join(items)} FROM {query.sobject}"]
    if query.where is not None:
        parts.append(f"WHERE {_render_condition(query.where)}")
    if query.order_by:
        keys = []
        for o in query.order_by:
            key = ".".join(o.field.path) + (" DESC" if o.descending else " ASC")
            if o.nulls_first is not None:
                key += " NULLS FIRST" if o.nulls_first else " NULLS LAST"
            keys.append(key)
        parts.append("ORDER BY " + ", ".join(keys))
    if query.limit is not None:
        parts.append(f"LIMIT {query.limit}")
    if query.offset is not None:
        parts.append(f"OFFSET {query.offset}")
    return " ".join(parts)
