"""Runs a bulk unit's records as Salesforce does: 200-record transactions, one after another.

Shared by Bulk 1.0 batches and Bulk 2.0 internal batches. Each transaction commits on its own (a failed
record never rolls back its neighbours); parent-record locks are held for the transaction's simulated
duration, so parallel units that share a parent contend as they do on a real org.

Each attempt at a unit has a time limit (the profile's `bulk1_batch_time_limit_s`,
`bulk2_batch_time_limit_s`), counted in the profile's own time (per-unit overhead and per-transaction
costs, not the emulator's CPU): a transaction that would end past it is not run, and `UnitTimedOut`
carries it back to the unit, which goes back to the queue with the rest (see bulk1_jobs, bulk2_jobs).

Records come in one of two forms. Bulk 1.0 XML and JSON batches give a mapping per record. CSV rows are
kept as read and handed to `DmlEngine.update_rows` positionally, their header resolved to fields once
(`CsvRows`): a million-record Bulk 2.0 job then does no per-record dict building or field lookup on its
way to SQLite, and breaks the same rules as every other API (the rules live in `dml`, not here). Upsert
takes the same forms to `emulator.upsert`, each transaction one upsert call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from ..constants import BULK_TRANSACTION_SIZE
from ..dml import DmlEngine, FieldLayout, SaveResult, UpdateRows
from ..errors import InvalidJob, RecordError
from ..ids import IdFactory
from ..profiles import FaultConfig, OrgProfile
from ..schema import FieldDef, Schema, SObjectDef
from ..store import RecordStore
from ..upsert import UpsertRows, rows_of, upsert
from ..usage import ApiUsage
from .engine import BulkEngine
from .formats import NA, Row, csv_record

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")


def job_upsert_key(obj: SObjectDef, operation: str, external_id_field: str | None) -> FieldDef | None:
    """The key field of an upsert job (None for any other operation), refused as Salesforce refuses it.

    A job without externalIdFieldName: InvalidJob "External ID was blank for <object>. An External ID must
    be specified for upsert." (the message the sf CLI rewords); a field upsert cannot match on: InvalidJob
    "Field name provided, <name> does not match an External ID for <object>" (seen from Bulk 1.0 and 2.0).
    """
    if operation != "upsert":
        return None
    if external_id_field is None:
        raise InvalidJob(
            f"InvalidJob : External ID was blank for {obj.name}. An External ID must be specified for upsert."
        )
    key = obj.upsert_key(external_id_field)
    if key is None:
        raise InvalidJob(
            f"InvalidJob : Field name provided, {external_id_field} does not match an External ID for {obj.name}"
        )
    return key


def missing_key_column(key: FieldDef | None, header: Sequence[str]) -> str | None:
    """The key field's name when an upsert job's CSV header lacks it (the batch or job then fails, with the
    message a header without the Id column of an update gets: "Field name not found"; UNCONFIRMED for
    upsert), else None. A record without a key value is created; a file without the key column is taken
    as a mistake rather than as that many new records."""
    if key is None or any(name.lower() == key.column for name in header):
        return None
    return key.name


R = TypeVar("R")


class UnitTimedOut(Exception):
    """An attempt reached its time limit before `chunk` (not run; still to do) could finish."""

    def __init__(self, chunk: list[Any]) -> None:
        super().__init__("the unit's time limit was reached")
        self.chunk = chunk


class AttemptTimer:
    """The profile time one attempt at a unit has spent, against its limit (seconds, time-scaled; 0: none)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.spent_s = 0.0

    def spend(self, seconds: float) -> bool:
        """Spend `seconds` if they fit in the limit; False (nothing spent) when they would pass it."""
        if self.limit_s > 0 and self.spent_s + seconds > self.limit_s:
            return False
        self.spent_s += seconds
        return True

    @property
    def remaining_s(self) -> float:
        return max(self.limit_s - self.spent_s, 0.0)


def start_attempt(
    ctx: BulkContext, family: str, timer: AttemptTimer, leftover: list[R] | None, chunks: Iterator[list[R]]
) -> Iterator[list[R]]:
    """Begin one attempt at a Bulk unit: pay the family's batch overhead inside the attempt's time limit (an
    overhead that does not fit ends the attempt at once, `UnitTimedOut`), then the transactions to run: the
    one a timed-out attempt left (`leftover`) before the rest."""
    overhead = ctx.profile.batch_overhead(family)
    if not timer.spend(overhead):
        ctx.engine.sleep(timer.remaining_s)
        raise UnitTimedOut(leftover or [])
    ctx.engine.sleep(overhead)
    return itertools.chain([leftover], chunks) if leftover else chunks


class BulkContext(Protocol):
    schema: Schema
    store: RecordStore
    dml: DmlEngine
    engine: BulkEngine
    ids: IdFactory
    usage: ApiUsage
    user_id: str

    @property
    def profile(self) -> OrgProfile: ...

    @property
    def faults(self) -> FaultConfig: ...

    def sobject(self, name: str) -> SObjectDef: ...


class RecordForm(Protocol[R]):
    """What the DML engine needs from a transaction's records, whatever form they come in."""

    def update_rows(self, dml: DmlEngine, obj: SObjectDef, chunk: list[R]) -> UpdateRows: ...

    def mappings(self, chunk: list[R]) -> list[Mapping[str, Any]]: ...

    def raw_ids(self, chunk: list[R]) -> list[str]: ...

    def upsert_rows(self, dml: DmlEngine, obj: SObjectDef, key: FieldDef, chunk: list[R]) -> UpsertRows: ...


class Mappings:
    """Records as mappings of field name -> bulk value (None sets null; an absent field is unchanged)."""

    def update_rows(self, dml: DmlEngine, obj: SObjectDef, chunk: list[Mapping[str, Any]]) -> UpdateRows:
        return dml.rows_of(obj, [(_id_of(values), values) for values in chunk])

    def mappings(self, chunk: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return chunk

    def raw_ids(self, chunk: list[Mapping[str, Any]]) -> list[str]:
        return [_id_of(values) for values in chunk]

    def upsert_rows(self, dml: DmlEngine, obj: SObjectDef, key: FieldDef, chunk: list[Mapping[str, Any]]) -> UpsertRows:
        return rows_of(dml, obj, key, chunk)


MAPPINGS = Mappings()


class CsvRows:
    """Records as the raw rows of one CSV header (each row as long as the header).

    Values follow `formats.csv_record`: an empty value leaves the field unchanged, `#N/A` sets null. A
    header naming a field twice (in any case) keeps the mapping form, so which value wins stays what it
    always was; every other header is read positionally.
    """

    def __init__(self, obj: SObjectDef, header: Sequence[str]) -> None:
        self.header = list(header)
        lowered = [name.lower() for name in header]
        positional = len(set(lowered)) == len(lowered)
        self._layout = FieldLayout(obj, header, null_text=NA) if positional else None
        self._id_position = lowered.index("id") if positional and "id" in lowered else None

    def update_rows(self, dml: DmlEngine, obj: SObjectDef, chunk: list[Row]) -> UpdateRows:
        if self._layout is None:
            return MAPPINGS.update_rows(dml, obj, self.mappings(chunk))
        return UpdateRows(self.raw_ids(chunk), [self._layout] * len(chunk), chunk, shared=self._layout)

    def mappings(self, chunk: list[Row]) -> list[Mapping[str, Any]]:
        return [csv_record(self.header, row) for row in chunk]

    def raw_ids(self, chunk: list[Row]) -> list[str]:
        if self._layout is None:
            return MAPPINGS.raw_ids(self.mappings(chunk))
        p = self._id_position
        if p is None:
            return [""] * len(chunk)
        raw = list(map(itemgetter(p), chunk))
        return [value if value != NA else "" for value in raw] if NA in raw else raw

    def upsert_rows(self, dml: DmlEngine, obj: SObjectDef, key: FieldDef, chunk: list[Row]) -> UpsertRows:
        if self._layout is None:
            return MAPPINGS.upsert_rows(dml, obj, key, self.mappings(chunk))
        if key.name == "Id":
            keys: list[Any] = self.raw_ids(chunk)
        else:
            layout = self._layout
            keys = [layout.raw_value(row, key.column, None) for row in chunk]
        return UpsertRows(keys, [self._layout] * len(chunk), chunk)


def run_transactions(
    ctx: BulkContext,
    obj: SObjectDef,
    operation: str,
    chunks: Iterable[list[R]],
    on_results: Callable[[list[R], Sequence[SaveResult]], None],
    *,
    family: str,
    form: RecordForm[R],
    should_stop: Callable[[], bool] = lambda: False,
    before_transaction: Callable[[int], None] = lambda n: None,
    timer: AttemptTimer | None = None,
    key: FieldDef | None = None,
) -> int:
    """Process `chunks` of records (in `form`, from `transactions`); returns how many records were processed.

    `key` is an upsert's key field (`job_upsert_key`). An upsert's matched records take the parent locks
    the transaction holds, and fail at once on parents other transactions hold (no wait before the
    transaction, unlike update's: the records to update are known only once matched inside it).

    `on_results(chunk, results)` gets each committed transaction's records and their results, in order.
    `family` (bulk1 or bulk2) picks the profile's per-record and per-transaction costs; with a `timer`, a
    transaction that would pass the attempt's limit raises `UnitTimedOut` (after the time up to the limit
    has passed: the unit was busy until it was stopped) before `before_transaction` sees it.
    An exception from `before_transaction` (a unit failing midway) propagates before that transaction runs.
    """
    processed = 0
    for chunk in chunks:
        if should_stop():
            break
        profile = ctx.profile.for_operation(operation)
        cost = profile.chunk_seconds(family, len(chunk))
        if timer is not None and not timer.spend(cost):
            ctx.engine.sleep(timer.remaining_s)
            raise UnitTimedOut(chunk)
        before_transaction(len(chunk))
        owner = object()
        try:
            lock_wait = profile.scaled(profile.timings.lock_wait_s)
            updates = form.update_rows(ctx.dml, obj, chunk) if operation == "update" else None
            if updates is not None and lock_wait > 0 and ctx.faults.parent_lock_contention:
                # Wait for contended parent records *before* taking SQLite's write lock: waiting inside
                # the transaction stalled every other writer of the org (other batches and REST calls)
                # for up to lock_wait_s and serialised parallel batches.
                ctx.dml.prelock_parents(obj, updates, owner, lock_wait)
                lock_wait = 0.0  # inside the transaction, parents still held by others fail at once
            with ctx.store.transaction() as conn:
                if updates is not None:
                    results = ctx.dml.update_rows(obj, updates, conn=conn, lock_owner=owner, lock_timeout=lock_wait)
                elif operation == "upsert" and key is not None:
                    results = upsert(
                        ctx.dml, obj, key, form.upsert_rows(ctx.dml, obj, key, chunk), conn=conn, lock_owner=owner
                    )
                else:
                    results = _apply(ctx.dml, obj, operation, form, chunk, conn)
            ctx.engine.sleep(cost)
        finally:
            ctx.dml.parent_locks.release(owner)
        on_results(chunk, results)
        processed += len(chunk)
    return processed


def _apply(
    dml: DmlEngine, obj: SObjectDef, operation: str, form: RecordForm[R], chunk: list[R], conn
) -> Sequence[SaveResult]:
    if operation == "insert":
        return dml.insert(obj, form.mappings(chunk), conn=conn)
    if operation in ("delete", "hardDelete"):
        return dml.delete(obj, form.raw_ids(chunk), conn=conn)
    return [
        SaveResult(
            None,
            False,
            [RecordError("INVALID_OPERATION", f"Operation {operation} is not supported by the emulator", [])],
        )
        for _ in chunk
    ]


def _id_of(values: Mapping[str, Any]) -> str:
    for key, value in values.items():
        if key.lower() == "id":
            return value or ""
    return ""


def transactions(records: Iterable[R]) -> Iterator[list[R]]:
    """`records` cut into transactions of BULK_TRANSACTION_SIZE (200) records."""
    chunk: list[R] = []
    for item in records:
        chunk.append(item)
        if len(chunk) == BULK_TRANSACTION_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
