"""sObject Tree (`POST /composite/tree/{sObject}`): nested parent-child records created in one transaction.

Rules, as documented for the resource (REST API guide, "sObject Tree" and "sObject Tree Response Body"):
- every record carries `attributes.type` and `attributes.referenceId`; the root records are of the URL's
  object; a parent holds its children under a child relationship name (`"Contacts": {"records": [...]}`),
  and a child's lookup to its parent is set from the tree;
- at most 200 records in all, of at most 5 types, in trees at most 5 levels deep;
- records are created level by level (every root, then every second-level record, ...), and the results
  list them in that order: `{"referenceId", "id"}` each;
- if any record fails, nothing is created and the results hold only the failing records, with their
  errors; a referenceId used twice fails each record that uses it ("Duplicate ReferenceId provided in
  the request.").
The error codes for a request over the limits or with an unusable shape are not documented; the emulator
answers them as the whole request's error (400), before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .dml import DmlEngine
from .errors import JsonParserError, RecordError, SalesforceError
from .schema import Schema, SObjectDef
from .store import RecordStore

MAX_RECORDS = 200
MAX_TYPES = 5
MAX_DEPTH = 5
DUPLICATE_REFERENCE = "Duplicate ReferenceId provided in the request."


class TreeLimitExceeded(SalesforceError):
    code = "INVALID_BATCH_SIZE"  # UNCONFIRMED: the documentation names the limits, not the error


@dataclass
class TreeNode:
    """One record of a tree: its object, its own field values, where it hangs, and its children."""

    obj: SObjectDef
    reference_id: str
    values: dict[str, Any]
    depth: int
    parent: TreeNode | None = None
    parent_field: str | None = None  # the child's lookup field the parent's id goes into
    children: list[TreeNode] = field(default_factory=list)
    new_id: str | None = None


@dataclass
class TreeOutcome:
    """`created` ((referenceId, id) in creation order) when every record was created, else `failed`."""

    created: list[tuple[str, str]]
    failed: list[tuple[str, list[RecordError]]]

    @property
    def has_errors(self) -> bool:
        return bool(self.failed)


def parse_trees(schema: Schema, root: SObjectDef, body: Any) -> list[TreeNode]:
    """The request body as trees of `TreeNode`; raises for a body the resource cannot read or over the limits."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise JsonParserError("The request body must be an object with a records array")
    roots = [_node(schema, root, record, 1, None) for record in body["records"]]
    nodes = list(_walk(roots))
    if len(nodes) > MAX_RECORDS:
        raise TreeLimitExceeded(
            f"The request contains {len(nodes)} records; an sObject Tree request is limited to {MAX_RECORDS}"
        )
    types = {n.obj.name for n in nodes}
    if len(types) > MAX_TYPES:
        raise TreeLimitExceeded(
            f"The request contains records of {len(types)} types; an sObject Tree request is limited to {MAX_TYPES}"
        )
    return roots


def create_trees(dml: DmlEngine, store: RecordStore, roots: list[TreeNode]) -> TreeOutcome:
    """Create every record, level by level, in one transaction that is rolled back when any record fails."""
    nodes = list(_walk(roots))
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.reference_id] = counts.get(n.reference_id, 0) + 1
    duplicates = [
        (n.reference_id, [RecordError("INVALID_INPUT", DUPLICATE_REFERENCE, [])])
        for n in nodes
        if counts[n.reference_id] > 1
    ]
    if duplicates:
        return TreeOutcome([], duplicates)
    levels: dict[int, list[TreeNode]] = {}
    for n in nodes:
        levels.setdefault(n.depth, []).append(n)
    created: list[tuple[str, str]] = []
    failed: list[tuple[str, list[RecordError]]] = []
    try:
        with store.atomic() as conn:
            for depth in sorted(levels):
                by_type: dict[str, list[TreeNode]] = {}
                for n in levels[depth]:
                    by_type.setdefault(n.obj.name, []).append(n)
                for group in by_type.values():
                    records = [_with_parent(n) for n in group]
                    for n, result in zip(group, dml.insert(group[0].obj, records, conn=conn), strict=True):
                        if result.success and result.id:
                            n.new_id = result.id
                            created.append((n.reference_id, result.id))
                        else:
                            failed.append((n.reference_id, list(result.errors)))
                if failed:
                    raise _RollBack
    except _RollBack:
        return TreeOutcome([], failed)
    return TreeOutcome(created, [])


class _RollBack(Exception):
    pass


def _with_parent(node: TreeNode) -> dict[str, Any]:
    values = dict(node.values)
    if node.parent is not None and node.parent_field is not None:
        values[node.parent_field] = node.parent.new_id
    return values


def _walk(nodes: list[TreeNode]) -> Iterator[TreeNode]:
    for n in nodes:
        yield n
        yield from _walk(n.children)


def _node(
    schema: Schema, obj: SObjectDef, record: Any, depth: int, parent: TreeNode | None, parent_field: str | None = None
) -> TreeNode:
    if depth > MAX_DEPTH:
        raise TreeLimitExceeded(f"An sObject tree may be at most {MAX_DEPTH} levels deep")
    if not isinstance(record, dict):
        raise JsonParserError("Each record must be a JSON object")
    attributes = record.get("attributes")
    if not isinstance(attributes, dict) or not attributes.get("referenceId") or not attributes.get("type"):
        raise JsonParserError("Each record needs attributes with type and referenceId")
    if str(attributes["type"]).lower() != obj.name.lower():
        raise JsonParserError(
            f"The record {attributes['referenceId']} is of type {attributes['type']}; {obj.name} was expected here"
        )
    node = TreeNode(obj, str(attributes["referenceId"]), {}, depth, parent, parent_field)
    for key, value in record.items():
        if key == "attributes":
            continue
        relationship = obj.child_relationship(key) if isinstance(value, dict) else None
        if relationship is None:
            node.values[key] = value
            continue
        nested = value.get("records")
        if not isinstance(nested, list):
            raise JsonParserError(f"The child relationship {key} must hold a records array")
        child_obj = schema.get(relationship.child)
        assert child_obj is not None  # relationships are built from the schema's own objects
        node.children.extend(_node(schema, child_obj, child, depth + 1, node, relationship.field) for child in nested)
    return node
