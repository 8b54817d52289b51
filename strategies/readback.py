"""Settling synchronous writes whose answer never came: read the records back and compare.

A REST PATCH, a Collections PATCH or a Composite of them sets fixed values, so the org's stored values
say whether the write was applied: equal to what was sent means applied (reported succeeded: the record
holds what the input asked for), any difference means not applied (the row is sent again, or left
unprocessed with ``REQUEST_FAILED`` when the run is stopping). When the read-back itself fails, the rows
stay in doubt (``OUTCOME_UNKNOWN``, kept in flight in the journal) and a resumed run reads them again.

Cost: one SOQL query (``SELECT Id, <fields sent> FROM <Object> WHERE Id IN (...)``, phase ``resolve``)
per `READ_BACK_IDS` rows. A query is a REST call like any other: it counts against the daily allocation.

An upsert is read back by its key instead (``WHERE <external id> IN (...)``, keys compared as the field
compares them): a record holding the key and the values sent means applied, reported succeeded with the
stored record's Id and ``created`` unknown (None): the record exists as asked, but whether this request
created it or found it cannot be told from the org's data. No record with the key, or one whose values
differ, means not applied; several records holding the key means the upsert could not have matched one
(``DUPLICATE_EXTERNAL_ID``), so not applied either.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ApiError, ServerError
from .journal import OUTCOME_UNKNOWN
from .meter import FAMILY_REST
from .operation import UPDATE_BY_ID, Operation
from .records import Row, text_of
from .sinks import SUCCEEDED, UNPROCESSED, RecordOutcome

if TYPE_CHECKING:
    from .base import RunContext
    from .transport import OrgSession

READ_BACK_IDS = 200
"""Ids per query: 200 quoted 18-character Ids keep the query URL near 4 KB, far below Salesforce's limit."""


def same_value(sent: Any, stored: Any) -> bool:
    """Whether a stored value is the one sent, across the org's types (numbers, booleans, dates, null)."""
    if sent is None or sent == "":
        return stored is None or stored == ""
    if stored is None:
        return False
    sent_text = text_of(sent).strip()
    if isinstance(stored, bool):
        return sent_text.lower() == ("true" if stored else "false")
    if isinstance(stored, (int, float)):
        try:
            number = float(sent_text)
        except ValueError:
            return False
        return math.isclose(number, float(stored), rel_tol=1e-12, abs_tol=1e-9)
    stored_text = str(stored)
    if sent_text == stored_text:
        return True
    sent_instant, stored_instant = _instant(sent_text), _instant(stored_text)
    return sent_instant is not None and sent_instant == stored_instant


def _instant(text: str) -> datetime.datetime | datetime.date | None:
    """`text` as a date or an aware datetime (Salesforce writes ``+0000``, inputs often ``Z``), else None."""
    cleaned = text.replace("Z", "+00:00")
    if len(cleaned) > 5 and cleaned[-5] in "+-" and cleaned[-3] != ":":
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    try:
        if "T" in cleaned:
            value = datetime.datetime.fromisoformat(cleaned)
            return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return datetime.date.fromisoformat(cleaned)
    except ValueError:
        return None


def read_back(
    session: OrgSession, sobject: str, rows: Sequence[Row], operation: Operation = UPDATE_BY_ID
) -> tuple[list[Row], list[Row]]:
    """Split `rows` into (applied, not applied) by reading their records (one query per 200 rows): by Id,
    or by an upsert's key. An applied upsert row is given the stored record's ``Id``."""
    applied: list[Row] = []
    not_applied: list[Row] = []
    key = operation.key
    for start in range(0, len(rows), READ_BACK_IDS):
        group = rows[start : start + READ_BACK_IDS]
        names = sorted(
            {name for _number, record in group for name in record if name.lower() not in ("id", key.lower())},
            key=str.lower,
        )
        if operation.is_upsert:
            names.append(key)
        keys = sorted({text for _number, record in group if (text := _key_of(record, operation))})
        stored = _query(session, sobject, names, keys, operation) if keys else {}
        for number, record in group:
            found = stored.get(_match_of(_key_of(record, operation) or "", operation))
            if found is not None and all(
                same_value(value, found.get(name.lower()))
                for name, value in record.items()
                if name.lower() not in ("id", key.lower())
            ):
                applied.append((number, {**record, "Id": found["id"]} if operation.is_upsert else record))
            else:
                not_applied.append((number, record))
    return applied, not_applied


def _key_of(record: Mapping[str, Any], operation: Operation) -> str | None:
    return operation.key_text(record) if operation.is_upsert else _id(record)


def _match_of(key: str, operation: Operation) -> str:
    """How a key finds its stored record: an Id's first 15 characters, an upsert key as the field compares it."""
    return operation.match_key(key) if operation.is_upsert else key[:15]


def _query(
    session: OrgSession, sobject: str, names: Sequence[str], keys: Sequence[str], operation: Operation
) -> dict[str, dict[str, Any]]:
    """Stored records by key (see `_match_of`), each a mapping of lower-case field name -> value. A key that
    several stored records hold maps to none of them (an upsert on it fails)."""
    quoted = ",".join("'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'" for key in keys)
    soql = f"SELECT Id{''.join(', ' + n for n in names)} FROM {sobject} WHERE {operation.key} IN ({quoted})"
    found: dict[str, dict[str, Any]] = {}
    shared: set[str] = set()
    with session.phase("resolve"):
        body = session.request("GET", session.rest_url("query"), family=FAMILY_REST, params={"q": soql}).json()
        while True:
            for record in body.get("records", []):
                if isinstance(record, Mapping) and record.get("Id"):
                    values = {str(k).lower(): v for k, v in record.items()}
                    stored_key = values.get(operation.key.lower())
                    match = _match_of(str(record["Id"] if not operation.is_upsert else stored_key or ""), operation)
                    if match in found:
                        shared.add(match)
                    found[match] = values
            following = body.get("nextRecordsUrl")
            if body.get("done", True) or not following:
                for match in shared:
                    del found[match]
                return found
            body = session.request("GET", session.rest_url(str(following)), family=FAMILY_REST).json()


def settle_lost_answer(
    session: OrgSession, sobject: str, rows: Sequence[Row], run: RunContext, error: BaseException
) -> bool:
    """A write carrying `rows` got no answer (`error`): report what the org's records show.

    Returns True when every row was settled (its chunk can be released), False when the read-back failed
    too and the rows are reported ``OUTCOME_UNKNOWN`` (kept in flight for a resumed run).
    """
    why = f"{type(error).__name__}: {error}"
    if not isinstance(error, Exception):  # Ctrl-C: no more calls; a resumed run reads them back
        _unknown(rows, run, why)
        return False
    if isinstance(error, ApiError) and not isinstance(error, ServerError):
        # refused before it was executed (a session or the daily limit): nothing was applied, no lookup
        for number, record in rows:
            message = f"not applied: the org refused the request ({error.message})"
            run.outcome(RecordOutcome(number, _id(record), UNPROCESSED, error.error_code, message))
        return True
    try:
        applied, not_applied = read_back(session, sobject, rows, run.operation)
    except Exception as read_error:
        _unknown(rows, run, f"{why}; reading the records back failed too ({type(read_error).__name__})")
        return False
    for number, record in applied:
        run.outcome(RecordOutcome(number, _id(record), SUCCEEDED))
    for number, record in not_applied:
        message = f"not applied: the request got no answer ({why}) and the record does not hold the values sent"
        run.outcome(RecordOutcome(number, _id(record), UNPROCESSED, "REQUEST_FAILED", message))
    if applied:
        run.note(f"{len(applied)} record(s) whose answer was lost were read back as applied")
    return True


def resolve_open_chunks(session: OrgSession, sobject: str, run: RunContext) -> None:
    """Resume: read back every in-flight row of the journal; applied rows succeed, the others are released
    to be sent again."""
    journal = run.journal
    assert journal is not None
    chunks = journal.open_chunks()
    try:
        while chunks:
            chunk = chunks[0]["chunk"]
            doubt = [number for number, _id_ in journal.in_doubt(chunk)]
            records = journal.records(doubt)
            applied, _not_applied = read_back(session, sobject, [(n, records[n]) for n in doubt], run.operation)
            for number, record in applied:
                run.outcome(RecordOutcome(number, _id(record), SUCCEEDED))
            journal.forget(chunk)  # rows not applied are no longer in flight: sent again as unsent rows
            chunks.pop(0)
            if applied:
                run.note(f"{len(applied)} in-flight record(s) were read back as applied")
    except BaseException as exc:
        for chunk_info in chunks:
            doubt = [number for number, _id_ in journal.in_doubt(chunk_info["chunk"])]
            records = journal.records(doubt)
            _unknown([(n, records[n]) for n in doubt], run, f"could not read the records back: {exc}")
        raise


def _unknown(rows: Sequence[Row], run: RunContext, why: str) -> None:
    for number, record in rows:
        run.outcome(RecordOutcome(number, _id(record), UNPROCESSED, OUTCOME_UNKNOWN, f"outcome unknown: {why}"))


def _id(record: Mapping[str, Any]) -> str | None:
    value = record.get("Id")
    return value if isinstance(value, str) else None


__all__ = ["READ_BACK_IDS", "read_back", "resolve_open_chunks", "same_value", "settle_lost_answer"]
