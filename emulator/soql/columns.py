"""What Salesforce says about a query's columns before running it: `GET .../query?q=...&columns=true`.

Salesforce's own tools (the sf CLI's `data query`, the Developer Console) ask the query resource for this
undocumented shape to lay out their tables:
`{"columnMetadata": [...], "entityName", "groupBy", "idSelected", "keyPrefix"}`. Each column has
`aggregate, apexType, booleanType, columnName, custom, displayName, foreignKeyName, insertable,
joinColumns, numberType, textType, updatable`; fields reached through a parent relationship are one
column named after the relationship (`foreignKeyName` = the lookup field) whose `joinColumns` hold the
parent's fields, and an aggregate such as `COUNT(Id)` is a column named after its alias (`expr0` when it
has none) with `aggregate` true. Shapes as captured in salesforcecli/plugin-data's test exemplars
(test/test-files/queryFields.exemplars.ts) and a recorded response in a public repository.
"""

from __future__ import annotations

from typing import Any

from ..schema import NUMBER_TYPES, TEXT_TYPES, FieldDef
from .compiler import CompiledQuery


def column_metadata(cq: CompiledQuery) -> dict[str, Any]:
    """The `columns=true` answer for a compiled query (no rows are read)."""
    columns: list[dict[str, Any]] = []
    parents: dict[str, dict[str, Any]] = {}
    for col in cq.columns:
        if col.relationship is None:
            columns.append(_field_column(col.field))
            continue
        parent = parents.get(col.relationship.lower())
        if parent is None:
            lookup = next(f for f in cq.sobject.fields.values() if f.relationship_name == col.relationship)
            parent = _column(
                col.relationship, col.relationship, apex_type=None, foreign_key=lookup.name, custom=lookup.custom
            )
            parents[col.relationship.lower()] = parent
            columns.append(parent)
        parent["joinColumns"].append(_field_column(col.field))
    if cq.count_column is not None:
        counted = cq.count_column.key
        columns.append(
            _column(cq.count_alias or "expr0", f"COUNT({counted})", apex_type=None, aggregate=True, number=True)
        )
    return {
        "columnMetadata": columns,
        "entityName": cq.sobject.name,
        "groupBy": False,
        "idSelected": any(c.relationship is None and c.field.name == "Id" for c in cq.columns),
        "keyPrefix": cq.sobject.key_prefix,
    }


def _field_column(fd: FieldDef) -> dict[str, Any]:
    return _column(
        fd.name,
        fd.name,
        apex_type=fd.apex_type,
        custom=fd.custom,
        writable=fd.writable,
        text=fd.type in TEXT_TYPES,
        number=fd.type in NUMBER_TYPES,
        boolean=fd.type == "boolean",
    )


def _column(
    name: str,
    display: str,
    *,
    apex_type: str | None,
    foreign_key: str | None = None,
    custom: bool = False,
    writable: bool = False,
    aggregate: bool = False,
    text: bool = False,
    number: bool = False,
    boolean: bool = False,
) -> dict[str, Any]:
    return {
        "aggregate": aggregate,
        "apexType": apex_type,
        "booleanType": boolean,
        "columnName": name,
        "custom": custom,
        "displayName": display,
        "foreignKeyName": foreign_key,
        "insertable": writable,
        "joinColumns": [],
        "numberType": number,
        "textType": text,
        "updatable": writable,
    }
