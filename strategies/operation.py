"""What a run writes: `update` by Id (the default) or `upsert` by an external id field. One home for the option.

Every strategy takes the same two options, ``operation`` ("update" or "upsert") and ``external_id`` (the field
an upsert matches records on), and `Operation.parse` is the only place they are read and checked, so a
strategy cannot accept a combination another refuses.

Decisions, each documented in the README's upsert section:

* **The key.** An update matches on ``Id``; an upsert on `external_id`, which must be a field the org lets
  upsert match on (an external id or an idLookup field: `key_field_problem` checks the describe). ``Id``
  itself is refused as `external_id`: an upsert by Id is an update, except that an empty Id creates, which
  an input must not do by accident.
* **An ``Id`` column in an upsert input is refused** (row 0, "header", or the row that names it): the
  record would be named twice, and the APIs disagree on which name wins (REST refuses a body holding Id,
  Bulk matches on the key). The user removes the column, or runs an update by Id.
* **Every row names its key**: a row whose key is absent, null, empty or only blanks is refused before any
  call (every API would *create* a new record for it, silently).
* **A key given twice in one input is refused**, as a repeated Id is (`duplicate_ids`): Collections and
  Composite fail every record of a call that names one key twice (``DUPLICATE_VALUE``), and a Bulk job
  applies both rows in an order nobody chose. Keys are compared without case where the field folds case
  (Salesforce: a unique text external id unless marked case sensitive; an email always), with case when the
  describe says the field tells cases apart; with no describe, without case (the stricter reading).
* **Created or updated.** Each success carries `RecordOutcome.created`: True (the org created it), False
  (it updated an existing record), or None when the answer was lost and the record was read back: the
  stored record holds the values sent, but whether this run created it or another writer did cannot be
  told, so it is counted succeeded with ``created`` unknown (`RunSummary.created_unknown`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .errors import ConfigurationError

UPDATE = "update"
UPSERT = "upsert"
OPERATIONS = (UPDATE, UPSERT)

_TEXT_TYPES = frozenset({"string", "email", "phone", "url", "textarea", "picklist"})


@dataclass(frozen=True)
class Operation:
    """The write a run makes and the field it matches records on (`key`)."""

    name: str = UPDATE
    external_id: str | None = None
    folds_case: bool = True
    """Whether two keys that differ only in case name one record (see the module doc)."""

    @classmethod
    def parse(cls, operation: str | None = None, external_id: str | None = None) -> Operation:
        """The operation named by the two options, or `ConfigurationError` saying what is wrong."""
        name = (operation or UPDATE).strip().lower()
        if name not in OPERATIONS:
            raise ConfigurationError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
        field = (external_id or "").strip() or None
        if name == UPDATE:
            if field is not None and field.lower() != "id":
                raise ConfigurationError(
                    f"external_id {field!r} is for upserts: pass operation='upsert' (an update matches on Id)"
                )
            return cls()
        if field is None:
            raise ConfigurationError("an upsert needs external_id: the field every record is matched on")
        if not _is_api_name(field):
            raise ConfigurationError(f"external_id {field!r} is not a field API name")
        if field.lower() == "id":
            raise ConfigurationError(
                "an upsert by Id is an update (and an empty Id would create a record): use operation='update'"
            )
        return cls(UPSERT, field)

    @property
    def is_upsert(self) -> bool:
        return self.name == UPSERT

    @property
    def key(self) -> str:
        """The field records are matched on: ``Id``, or the external id."""
        return self.external_id if self.external_id is not None else "Id"

    def options(self) -> dict[str, Any]:
        """The constructor options that rebuild this operation (journaled for `resume_run`)."""
        return {"operation": self.name, "external_id": self.external_id}

    def to_dict(self) -> dict[str, Any]:
        return {"operation": self.name, "external_id": self.external_id}

    # -- the key of one record ---------------------------------------------------------------------------
    def key_name_in(self, names: Sequence[Any]) -> str | None:
        """The spelling of the key among a record's field names (compared without case), or None."""
        wanted = self.key.lower()
        return next((n for n in names if isinstance(n, str) and n.lower() == wanted), None)

    def key_value(self, record: Mapping[str, Any]) -> Any:
        """The record's value for the key field (its name in any case), None when it has none."""
        key = self.key
        if key in record:
            return record[key]
        name = self.key_name_in(tuple(record))
        return record[name] if name is not None else None

    def key_text(self, record: Mapping[str, Any]) -> str | None:
        """The record's key as text (what a URL, a CSV cell or a query carries), None when it has none."""
        value = self.key_value(record)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def key_problem(self, value: Any) -> str | None:
        """Why `value` cannot be an upsert row's key (update Ids are checked by `records.id_problem`)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"no value for {self.key}: every upsert row needs its key, or the org would create a record"
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return f"{self.key} must be text or a number, got {type(value).__name__}"
        return None

    def match_key(self, text: str) -> str:
        """`text` in the form two keys naming one record share (case folded when the field folds case)."""
        return text.lower() if self.folds_case else text

    def duplicate_key(self, text: str) -> str:
        """`match_key`, escaped so it holds no line break (`duplicate_ids` stores keys one per line)."""
        return self.match_key(text).replace("\\", "\\\\").replace("\n", "\\n")

    # -- the org's describe ---------------------------------------------------------------------------------
    def described(self, fields: Sequence[Mapping[str, Any]]) -> Operation:
        """This operation with the key field's case rule taken from the object's describe `fields`."""
        if not self.is_upsert:
            return self
        field = _field(fields, self.key)
        if field is None:
            return self
        folds = field.get("type") == "email" or (
            field.get("type") in _TEXT_TYPES and bool(field.get("unique")) and not field.get("caseSensitive")
        )
        if field.get("type") not in _TEXT_TYPES:
            folds = False  # numbers: "1.0" and "1" are told apart by the org's coercion, not by case
        return replace(self, external_id=str(field.get("name") or self.key), folds_case=folds)

    def key_field_problem(self, sobject: str, fields: Sequence[Mapping[str, Any]]) -> str | None:
        """Why the object's describe `fields` make the upsert impossible, or None (always None for update)."""
        if not self.is_upsert:
            return None
        field = _field(fields, self.key)
        if field is None:
            return f"{sobject} has no field {self.key!r} to upsert on"
        if not (field.get("externalId") or field.get("idLookup")):
            return (
                f"{sobject}.{field.get('name')} is not an external id (nor an idLookup field): "
                "an upsert can only match records on one"
            )
        return None


UPDATE_BY_ID = Operation()


def _field(fields: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    wanted = name.lower()
    return next((f for f in fields if str(f.get("name", "")).lower() == wanted), None)


def _is_api_name(name: str) -> bool:
    return name[:1].isascii() and name[:1].isalpha() and all(c.isascii() and (c.isalnum() or c == "_") for c in name)


__all__ = ["OPERATIONS", "UPDATE", "UPDATE_BY_ID", "UPSERT", "Operation"]
