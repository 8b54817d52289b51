"""The org's metadata: objects, fields and validation rules, and how a raw value becomes a stored one.

Values arrive typed (REST JSON) or as text (CSV, XML). Both paths end in `FieldDef.coerce`, which either
returns the value to store or raises a per-record `RecordError` with the code Salesforce would use.
Stored forms: text as str, numbers as int/float, booleans as 0/1, dates `YYYY-MM-DD`, datetimes
`YYYY-MM-DDTHH:MM:SS.000+0000` (so SQL comparisons order them correctly).

Keys: a field may be an external id (`externalId`), unique (`unique`, case-insensitive unless
`caseSensitive`), or a standard field that upsert may match on (`idLookup`, e.g. Contact.Email). Salesforce
allows external ids on Text, Number and Email fields only, and so does a schema document here. Matching
and uniqueness fold case as documented for Apex/SOAP upsert ("Custom field matching is case-insensitive
only if the custom field has the Unique and Treat "ABC" and "abc" as duplicate values (case insensitive)
attributes"): a unique field not declared case-sensitive folds case, a non-unique external id does not.
Email fields always fold case (UNCONFIRMED: no source says how Email idLookup fields are matched). Case is
folded for ASCII letters only, as SQLite's NOCASE and the SOQL engine fold it (UNCONFIRMED for other
letters on Salesforce).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import ids
from .errors import RecordError

TEXT_TYPES = {"string", "textarea", "url", "email", "phone", "picklist"}
NUMBER_TYPES = {"int", "double", "currency", "percent"}
#: Field types that may be external ids or unique (Salesforce: Text, Number, Email; Auto Number is not modelled).
KEY_TYPES = {"string", "email", "int", "double"}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
SYSTEM_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp", "IsDeleted")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    required: bool = False
    read_only: bool = False
    custom: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    child_relationship_name: str | None = None  # the name the parent object knows its children by ("Contacts")
    picklist_values: tuple[str, ...] = ()
    computed_from: tuple[str, ...] = ()
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False  # with `unique`: "ABC" and "abc" are different values
    id_lookup: bool = False  # a standard field upsert may match on, without being an external id (Contact.Email)
    sample: str | None = None  # what the seeder stores: a pattern with `{n}`, the record's sequence number

    column: str = field(init=False, repr=False, compare=False, default="")
    #: `coerce(value)`: a client value (JSON-typed or text) -> the stored form, or RecordError. Bound once
    #: to this field type's converter, so the per-value hot path of a bulk job does not re-dispatch on type.
    coerce: Callable[[Any], Any] = field(init=False, repr=False, compare=False)  # set by __post_init__
    _scale: int = field(init=False, repr=False, compare=False, default=0)
    _limit: int = field(init=False, repr=False, compare=False, default=0)
    _whole: bool = field(init=False, repr=False, compare=False, default=False)  # stores whole numbers as int
    #: Whether values of this field match (upsert) and collide (uniqueness) regardless of case.
    folds_case: bool = field(init=False, repr=False, compare=False, default=False)
    _texts: str = field(init=False, repr=False, compare=False, default="")  # how `coerce_texts` converts a column

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", self.name.lower())  # hot path: looked up per record and field
        t = self.type
        folds = t in TEXT_TYPES and not self.case_sensitive and (self.unique or t == "email")
        object.__setattr__(self, "folds_case", folds)
        if t in TEXT_TYPES:
            coerce = self._coerce_text
        elif t in NUMBER_TYPES:
            coerce = self._coerce_number
            scale = self.scale if self.scale is not None else (0 if t == "int" else 2)
            object.__setattr__(self, "_scale", scale)
            object.__setattr__(self, "_limit", 10 ** ((self.precision or 18) - scale))
            object.__setattr__(self, "_whole", t == "int" or scale == 0)
        else:
            coerce = {
                "boolean": self._coerce_boolean,
                "date": self._coerce_date,
                "datetime": self._coerce_datetime,
                "reference": self._coerce_id,
                "id": self._coerce_id,
            }.get(t, self._coerce_unknown)
        object.__setattr__(self, "coerce", coerce)
        texts = (
            "whole"
            if coerce == self._coerce_number and self._whole
            else ("text" if coerce == self._coerce_text else "")
        )
        object.__setattr__(self, "_texts", texts)

    @property
    def sql_type(self) -> str:
        if self.type in ("int", "boolean"):
            return "INTEGER"
        if self.type in NUMBER_TYPES:
            return "REAL"
        return "TEXT"

    # -- coercion (None always means null) ------------------------------------------------------------
    def _coerce_text(self, value: Any) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else _json_scalar_text(value)
        if self.length is not None and len(text) > self.length:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise RecordError(
                "STRING_TOO_LONG",
                f"{self.label}: data value too large: {shown} (max length={self.length})",
                [self.name],
            )
        return text

    def _coerce_number(self, value: Any) -> Any:
        if isinstance(value, str):  # first: bulk text, one value per column of every row
            try:
                number: float | int = int(value)  # int() and float() ignore surrounding whitespace themselves
                if -self._limit < number < self._limit and self._whole:
                    return number  # the bulk case (a whole number for a whole-number field), decided here
            except ValueError:
                try:
                    number = float(value)
                except ValueError:
                    raise self._type_error(value) from None
        elif value is None:
            return None
        elif isinstance(value, bool):
            raise self._type_error(value)
        elif isinstance(value, (int, float)):
            number = value
        else:
            raise self._type_error(value)
        if isinstance(number, float) and not math.isfinite(number):
            raise self._type_error(value)
        scale = self._scale
        if abs(number) >= self._limit:
            raise RecordError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{self.label}: value outside of valid range on numeric field: {value}",
                [self.name],
            )
        if self.type == "int":
            if isinstance(number, float):
                if not number.is_integer():
                    raise self._type_error(value)
                number = int(number)
            return number
        if isinstance(number, int):
            return number if scale == 0 else float(number)
        rounded = round(number, scale)
        return int(rounded) if scale == 0 else rounded

    def coerce_texts(self, texts: Sequence[str]) -> list[Any] | None:
        """Every bulk text value's stored form, when each is valid; None when any is not.

        The column-at-a-time form of `coerce` for a transaction's worth of one column: whole numbers
        are converted by `int` and range-checked by `min`/`max`, texts length-checked by `max(map(len))`,
        all in C, where `coerce` costs a Python call per value. It never decides an error: on None the
        caller coerces value by value, which reports each record's own.
        """
        if self._texts == "whole":
            try:
                numbers = list(map(int, texts))  # what `_coerce_number` tries first for each text
            except ValueError:
                numbers = None  # some text is not a whole number: `coerce` decides each one below
            if numbers is not None:
                if numbers and not (-self._limit < min(numbers) and max(numbers) < self._limit):
                    return None
                return numbers
        elif self._texts == "text":
            return list(texts) if self.length is None or max(map(len, texts), default=0) <= self.length else None
        try:
            return list(map(self.coerce, texts))
        except RecordError:
            return None

    def _coerce_boolean(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return int(value.strip().lower() in ("true", "1", "yes"))
        raise self._type_error(value)

    def _coerce_date(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            m = _DATETIME_RE.match(text)
            if _DATE_RE.match(text) or m:
                day = text[:10]
                try:
                    dt.date.fromisoformat(day)
                except ValueError:
                    raise self._type_error(value) from None
                return day
        raise self._type_error(value)

    def _coerce_datetime(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            stamp = parse_datetime(value)
            if stamp is not None:
                return format_datetime(stamp)
        raise self._type_error(value)

    def _coerce_id(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._type_error(value)
        canonical = ids.to_18(value.strip())
        if canonical is None:
            raise RecordError("MALFORMED_ID", f"{self.label}: id value of incorrect type: {value}", [self.name])
        return canonical

    def _coerce_unknown(self, value: Any) -> Any:
        if value is None:
            return None
        raise self._type_error(value)

    def _type_error(self, value: Any) -> RecordError:
        return RecordError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{self.label}: value not of required type: {value}", [self.name]
        )

    def match_key(self, stored: Any) -> Any:
        """The form in which two stored values of this field are the same key (case folded when it folds case)."""
        return stored.translate(_ASCII_LOWER) if self.folds_case and isinstance(stored, str) else stored

    @property
    def keys_records(self) -> bool:
        """Whether upsert may match records on this field: Id, an external id, or an idLookup field."""
        return self.name == "Id" or self.external_id or self.id_lookup

    @property
    def writable(self) -> bool:
        """Whether a client may set this field (describe's createable/updateable, query columns' insertable)."""
        return not self.read_only and self.name != "Id"

    @property
    def apex_type(self) -> str:
        """The Apex type of the field's values, as describe-like metadata reports it (e.g. query columns)."""
        return _APEX_TYPES.get(self.type, "String")

    @property
    def label(self) -> str:
        base = self.name[:-3] if self.name.endswith("__c") else self.name
        return base.replace("_", " ")

    # -- rendering ------------------------------------------------------------------------------
    def to_json(self, stored: Any) -> Any:
        """Stored form -> REST JSON value."""
        if stored is None:
            return None
        if self.type == "boolean":
            return bool(stored)
        if self.type == "int":
            return int(stored)
        if self.type in NUMBER_TYPES:
            return float(stored)
        return stored

    def to_text(self, stored: Any) -> str:
        """Stored form -> CSV/XML text (Bulk results, Bulk 2.0 queries)."""
        if stored is None:
            return ""
        if self.type == "boolean":
            return "true" if stored else "false"
        if self.type in NUMBER_TYPES:
            value = float(stored)
            return (
                str(int(value))
                if value.is_integer() and self.type != "int"
                else str(stored if self.type == "int" else value)
            )
        return str(stored)


@dataclass(frozen=True)
class ValidationRule:
    name: str
    kind: str
    fields: tuple[str, ...]
    message: str
    minimum: float | None = None
    columns: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(name.lower() for name in self.fields))  # checked per record

    def check(self, merged: Mapping[str, Any]) -> None:
        """`merged` maps lower-case field names to the record's values after the change."""
        if self.kind == "min":
            for column in self.columns:
                value = merged.get(column)
                if value is not None and self.minimum is not None and value < self.minimum:
                    raise RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", self.message, [])

    def passes_all(self, updated: Mapping[str, Sequence[Any]]) -> bool:
        """`check` for a whole transaction's new values (`updated`: column -> each record's value): False
        when one fails. With `stored_condition`, a screen: it never reports an error, `check` does."""
        if self.kind != "min" or self.minimum is None:
            return True  # `check` passes every record
        for column in self.columns:
            values = updated.get(column)
            if values is None:
                continue
            try:
                lowest = min(values, default=None)
            except TypeError:  # some values are None (they set null, which passes): the lowest of the others
                lowest = min((v for v in values if v is not None), default=None)
            if lowest is not None and lowest < self.minimum:
                return False
        return True

    def stored_condition(self, updated: Collection[str], stored: Collection[str], table: str) -> str:
        """SQL that holds for a row of `table` whose columns an update leaves as they are (those of `stored`
        not in `updated`) pass `check`; "" when every row does."""
        if self.kind != "min" or self.minimum is None:
            return ""
        # A column the object does not have (not in `stored`) is None to `check`: it passes.
        return " AND ".join(
            f'("{table}"."{column}" IS NULL OR "{table}"."{column}" >= {float(self.minimum)!r})'
            for column in self.columns
            if column not in updated and column in stored
        )


@dataclass(frozen=True)
class ChildRelationship:
    """Records of `child` point at a parent through `field`; the parent names them `name` (SOQL, sObject Tree)."""

    name: str
    child: str
    field: str


@dataclass
class SObjectDef:
    name: str
    label: str
    key_prefix: str
    custom: bool = False
    system: bool = False
    fields: dict[str, FieldDef] = field(default_factory=dict)  # keyed by lower-case name
    rules: list[ValidationRule] = field(default_factory=list)
    required_fields: list[FieldDef] = field(default_factory=list)
    computed_fields: list[FieldDef] = field(default_factory=list)
    reference_fields: list[FieldDef] = field(default_factory=list)
    unique_fields: list[FieldDef] = field(default_factory=list)
    rule_columns: list[str] = field(default_factory=list)
    child_relationships: list[ChildRelationship] = field(default_factory=list)  # filled in by Schema

    @property
    def table(self) -> str:
        return self.name.lower()

    def field(self, name: str) -> FieldDef | None:
        found = self._exact.get(name)
        return found if found is not None else self.fields.get(name.lower())

    def __post_init__(self) -> None:
        self._exact: dict[str, FieldDef] = {}

    def finalise(self) -> None:
        """Precompute the lookups the per-record hot paths use (call after the fields are complete)."""
        fields = list(self.fields.values())
        self._exact = {f.name: f for f in fields}
        self.required_fields = [f for f in fields if f.required and not f.read_only]
        self.computed_fields = [f for f in fields if f.computed_from]
        self.reference_fields = [f for f in fields if f.type == "reference" and f.reference_to and not f.read_only]
        self.unique_fields = [f for f in fields if f.unique]
        # The stored columns an update must read to apply its rules (not the whole row).
        wanted = {"isdeleted"} | {f.column for f in self.required_fields} | {f.column for f in self.reference_fields}
        for f in self.computed_fields:
            wanted |= {src.lower() for src in f.computed_from}
        for rule in self.rules:
            wanted |= {name.lower() for name in rule.fields}
        self.rule_columns = sorted(c for c in wanted if c in self.fields)

    def upsert_key(self, name: str) -> FieldDef | None:
        """The field named `name` (any case) if upsert may match records on it, else None."""
        found = self.field(name)
        return found if found is not None and found.keys_records else None

    def child_relationship(self, name: str) -> ChildRelationship | None:
        lowered = name.lower()
        return next((r for r in self.child_relationships if r.name.lower() == lowered), None)

    @property
    def name_field(self) -> FieldDef | None:
        return self._exact.get("Name")

    def data_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.name != "Id" and f.name not in SYSTEM_FIELDS]

    def describe(self, base_url: str) -> dict:
        return describe_object(self, base_url)


class Schema:
    """All objects of one org, looked up case-insensitively by name or key prefix."""

    def __init__(self, objects: Iterable[SObjectDef]) -> None:
        self._by_name: dict[str, SObjectDef] = {}
        self._by_prefix: dict[str, SObjectDef] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: SObjectDef) -> None:
        self._by_name[obj.name.lower()] = obj
        self._by_prefix[obj.key_prefix] = obj
        self._link_children()

    def _link_children(self) -> None:
        """Each object's child relationships, from the lookups of every object that points at it."""
        for parent in self._by_name.values():
            parent.child_relationships = [
                ChildRelationship(fd.child_relationship_name or _default_child_name(child), child.name, fd.name)
                for child in self._by_name.values()
                for fd in child.fields.values()
                if fd.type == "reference"
                and not fd.read_only
                and (fd.reference_to or "").lower() == parent.name.lower()
            ]

    def get(self, name: str) -> SObjectDef | None:
        return self._by_name.get(name.lower())

    def by_prefix(self, prefix: str) -> SObjectDef | None:
        return self._by_prefix.get(prefix)

    def objects(self) -> list[SObjectDef]:
        return list(self._by_name.values())

    @classmethod
    def load(cls, extra_files: Iterable[str | Path] = ()) -> Schema:
        text = resources.files("emulator").joinpath("schemas/standard.json").read_text("utf-8")
        objects = parse_schema_document(json.loads(text))
        for path in extra_files:
            objects.extend(parse_schema_document(json.loads(Path(path).read_text("utf-8"))))
        return cls(objects)


def _default_child_name(child: SObjectDef) -> str:
    """Salesforce's default child relationship name: the plural label, `__r` for a custom object's."""
    if child.custom:
        return child.name.removesuffix("__c") + "s__r"
    return plural(child.label).replace(" ", "")


def plural(label: str) -> str:
    """An English plural the way Salesforce forms its standard ones (Opportunity -> Opportunities)."""
    if label.endswith("y") and label[-2:-1] not in tuple("aeiou"):
        return label[:-1] + "ies"
    return label + ("es" if label.endswith(("s", "x", "ch", "sh")) else "s")


def parse_schema_document(doc: dict) -> list[SObjectDef]:
    out = []
    for spec in doc.get("objects", []):
        obj = SObjectDef(
            name=spec["name"],
            label=spec.get("label", spec["name"]),
            key_prefix=spec["keyPrefix"],
            custom=bool(spec.get("custom", spec["name"].endswith("__c"))),
            system=bool(spec.get("system", False)),
        )
        obj.fields["id"] = FieldDef("Id", "id", length=18, read_only=True)
        for f in spec["fields"]:
            fd = FieldDef(
                name=f["name"],
                type=f["type"],
                length=f.get("length"),
                precision=f.get("precision"),
                scale=f.get("scale"),
                required=bool(f.get("required", False)),
                read_only=bool(f.get("readOnly", False)),
                custom=bool(f.get("custom", f["name"].endswith("__c"))),
                reference_to=f.get("referenceTo"),
                relationship_name=f.get("relationshipName"),
                child_relationship_name=f.get("childRelationshipName"),
                picklist_values=tuple(f.get("values", ())),
                computed_from=tuple(f.get("computedFrom", ())),
                external_id=bool(f.get("externalId", False)),
                unique=bool(f.get("unique", False)),
                case_sensitive=bool(f.get("caseSensitive", False)),
                id_lookup=bool(f.get("idLookup", False)),
                sample=f.get("sample"),
            )
            _check_key_declaration(obj.name, fd)
            obj.fields[fd.name.lower()] = fd
        for name in SYSTEM_FIELDS:
            ftype = {"IsDeleted": "boolean", "CreatedById": "reference", "LastModifiedById": "reference"}.get(
                name, "datetime"
            )
            obj.fields[name.lower()] = FieldDef(
                name, ftype, read_only=True, reference_to="User" if ftype == "reference" else None
            )
        for rule in spec.get("validationRules", []):
            obj.rules.append(
                ValidationRule(rule["name"], rule["kind"], tuple(rule["fields"]), rule["message"], rule.get("min"))
            )
        obj.finalise()
        out.append(obj)
    return out


def _check_key_declaration(object_name: str, fd: FieldDef) -> None:
    """Refuse key attributes Salesforce would not allow on the field's type (a schema file's mistake)."""
    where = f"{object_name}.{fd.name}"
    if (fd.external_id or fd.unique or fd.id_lookup) and fd.type not in KEY_TYPES:
        raise ValueError(
            f"{where}: externalId, unique and idLookup need a field of type {', '.join(sorted(KEY_TYPES))}, not {fd.type}"
        )
    if fd.case_sensitive and not (fd.unique and fd.type == "string"):
        raise ValueError(f"{where}: caseSensitive applies to a unique string field only")


def parse_datetime(text: str) -> dt.datetime | None:
    m = _DATETIME_RE.match(text.strip())
    if not m:
        return None
    day, hh, mm, ss, frac, zone = m.groups()
    try:
        base = dt.datetime.fromisoformat(f"{day}T{hh}:{mm}:{ss}")
    except ValueError:
        return None
    if frac:
        base = base.replace(microsecond=int((frac[1:] + "000000")[:6]))
    offset = dt.timedelta(0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (base - offset).replace(tzinfo=dt.UTC)


def format_datetime(stamp: dt.datetime) -> str:
    stamp = stamp.astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def now_stamp() -> str:
    return format_datetime(dt.datetime.now(dt.UTC))


def _json_scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "url": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "picklist": "xsd:string",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


_APEX_TYPES = {
    "id": "Id",
    "reference": "Id",
    "int": "Integer",
    "double": "Double",
    "currency": "Decimal",
    "percent": "Double",
    "boolean": "Boolean",
    "date": "Date",
    "datetime": "Datetime",
}


def describe_object(obj: SObjectDef, base_url: str) -> dict:
    """A describe result in the shape clients read (the keys Salesforce's tools use, with this org's values)."""
    fields = []
    for f in obj.fields.values():
        text = f.type in TEXT_TYPES
        long_text = f.type == "textarea" and (f.length or 0) > 255
        fields.append(
            {
                "aggregatable": not long_text and f.type not in ("boolean", "id"),
                "autoNumber": False,
                "byteLength": (f.length or 0) * 3 if text or f.type in ("id", "reference") else 0,
                "calculated": bool(f.computed_from),
                "cascadeDelete": False,
                "caseSensitive": f.case_sensitive,
                "createable": f.writable,
                "custom": f.custom,
                "defaultValue": None,
                "defaultedOnCreate": f.type == "boolean" or f.name in SYSTEM_FIELDS or f.name == "Id",
                "dependentPicklist": False,
                "deprecatedAndHidden": False,
                "digits": (f.precision or 0) if f.type == "int" else 0,
                "externalId": f.external_id,
                "filterable": not long_text,
                "groupable": not long_text and f.type not in NUMBER_TYPES - {"int"} and f.type != "datetime",
                "htmlFormatted": False,
                "idLookup": f.keys_records,
                "label": f.label,
                "length": (f.length or 0) if text or f.type in ("id", "reference") else 0,
                "name": f.name,
                "nameField": f.name == "Name",
                "nillable": not f.required and f.type != "boolean" and f.name != "Id",
                "picklistValues": [
                    {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                    for v in f.picklist_values
                ],
                "polymorphicForeignKey": False,
                "precision": f.precision or 0,
                "referenceTo": [f.reference_to] if f.reference_to else [],
                "relationshipName": f.relationship_name,
                "restrictedPicklist": False,
                "scale": f.scale or 0,
                "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
                "sortable": not long_text,
                "type": f.type,
                "unique": f.unique,
                "updateable": f.writable,
            }
        )
    children = [
        {
            "cascadeDelete": False,
            "childSObject": r.child,
            "deprecatedAndHidden": False,
            "field": r.field,
            "junctionIdListNames": [],
            "junctionReferenceTo": [],
            "relationshipName": r.name,
            "restrictedDelete": False,
        }
        for r in obj.child_relationships
    ]
    return {
        **describe_global_entry(obj, base_url),
        "childRelationships": children,
        "fields": fields,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [],
        "supportedScopes": [{"label": "All", "name": "everything"}],
    }


def describe_global_entry(obj: SObjectDef, base_url: str) -> dict:
    url = f"{base_url}/sobjects/{obj.name}"
    editable = not obj.system
    return {
        "activateable": False,
        "createable": editable,
        "custom": obj.custom,
        "customSetting": False,
        "deletable": editable,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": plural(obj.label),
        "layoutable": True,
        "mergeable": False,
        "mruEnabled": False,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": not obj.system,
        "undeletable": editable,
        "updateable": True,
        "urls": {"sobject": url, "describe": f"{url}/describe", "rowTemplate": f"{url}/{{ID}}"},
    }
