"""Runs a bulk unit's records as Salesforce does: 200-record transactions, one after another.

Shared by Bulk 1.0 batches and Bulk 2.0 internal batches. Each transaction commits on its own (a failed
record never rolls back its neighbours); parent-record locks are held for the transaction's simulated
duration, so parallel units that share a parent contend as they do on a real org.

Records come in one of two forms. Bulk 1.0 XML and JSON batches give a mapping per record. CSV rows are
kept as read and handed to `DmlEngine.update_rows` positionally, their header resolved to fields once
(`CsvRows`): a million-record Bulk 2.0 job then does no per-record dict building or field lookup on its
way to SQLite, and breaks the same rules as every other API (the rules live in `dml`, not here).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, TypeVar

from ..constants import BULK_TRANSACTION_SIZE
from ..dml import DmlEngine, FieldLayout, SaveResult, UpdateRows
from ..errors import RecordError
from ..profiles import FaultConfig, LatencyProfile
from ..schema import SObjectDef
from ..store import RecordStore
from .engine import BulkEngine
from .formats import NA, Row, csv_record

OPERATIONS = ("insert", "update", "delete", "hardDelete")

R = TypeVar("R")


class BulkContext(Protocol):
    store: RecordStore
    dml: DmlEngine
    engine: BulkEngine

    @property
    def profile(self) -> LatencyProfile: ...

    @property
    def faults(self) -> FaultConfig: ...


class RecordForm(Protocol[R]):
    """What the DML engine needs from a transaction's records, whatever form they come in."""

    def update_rows(self, dml: DmlEngine, obj: SObjectDef, chunk: list[R]) -> UpdateRows: ...

    def mappings(self, chunk: list[R]) -> list[Mapping[str, Any]]: ...

    def raw_ids(self, chunk: list[R]) -> list[str]: ...


class Mappings:
    """Records as mappings of field name -> bulk value (None sets null; an absent field is unchanged)."""

    def update_rows(self, dml: DmlEngine, obj: SObjectDef, chunk: list[Mapping[str, Any]]) -> UpdateRows:
        return dml.rows_of(obj, [(_id_of(values), values) for values in chunk])

    def mappings(self, chunk: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return chunk

    def raw_ids(self, chunk: list[Mapping[str, Any]]) -> list[str]:
        return [_id_of(values) for values in chunk]


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


def run_transactions(
    ctx: BulkContext,
    obj: SObjectDef,
    operation: str,
    chunks: Iterable[list[R]],
    on_results: Callable[[list[R], Sequence[SaveResult]], None],
    *,
    form: RecordForm[R] = MAPPINGS,
    should_stop: Callable[[], bool] = lambda: False,
    before_transaction: Callable[[int], None] = lambda n: None,
) -> int:
    """Process `chunks` of records (in `form`, from `transactions`); returns how many records were processed.

    `on_results(chunk, results)` gets each committed transaction's records and their results, in order.
    An exception from `before_transaction` (a unit failing midway) propagates before that transaction runs.
    """
    processed = 0
    for chunk in chunks:
        if should_stop():
            break
        before_transaction(len(chunk))
        owner = object()
        profile = ctx.profile
        try:
            lock_wait = profile.scaled(profile.lock_wait_s)
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
                else:
                    results = _apply(ctx.dml, obj, operation, form, chunk, conn)
            ctx.engine.sleep(profile.scaled((profile.bulk_chunk_overhead_ms + len(chunk) * profile.bulk_per_record_ms) / 1000.0))
        finally:
            ctx.dml.parent_locks.release(owner)
        on_results(chunk, results)
        processed += len(chunk)
    return processed


def _apply(dml: DmlEngine, obj: SObjectDef, operation: str, form: RecordForm[R], chunk: list[R], conn) -> Sequence[SaveResult]:
    if operation == "insert":
        return dml.insert(obj, form.mappings(chunk), conn=conn)
    if operation in ("delete", "hardDelete"):
        return dml.delete(obj, form.raw_ids(chunk), conn=conn)
    return [SaveResult(None, False, [RecordError("INVALID_OPERATION", f"Operation {operation} is not supported by the emulator", [])]) for _ in chunk]


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
