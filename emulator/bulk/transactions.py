"""Runs a bulk unit's records as Salesforce does: 200-record transactions, one after another.

Shared by Bulk 1.0 batches and Bulk 2.0 internal batches. Each transaction commits on its own (a failed
record never rolls back its neighbours); parent-record locks are held for the transaction's simulated
duration, so parallel units that share a parent contend as they do on a real org.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from ..constants import BULK_TRANSACTION_SIZE
from ..dml import DmlEngine, SaveResult
from ..errors import RecordError
from ..profiles import FaultConfig, LatencyProfile
from ..schema import SObjectDef
from ..store import RecordStore
from .engine import BulkEngine

OPERATIONS = ("insert", "update", "delete", "hardDelete")


class BulkContext(Protocol):
    store: RecordStore
    dml: DmlEngine
    engine: BulkEngine

    @property
    def profile(self) -> LatencyProfile: ...

    @property
    def faults(self) -> FaultConfig: ...


@dataclass
class UnitRecord:
    index: int  # position within the unit's input
    values: Mapping[str, Any]  # field -> bulk value (None = null); may include Id


class JobFailed(Exception):
    """The job failed midway (fault injection): records not yet processed are unprocessed."""


def run_transactions(
    ctx: BulkContext,
    obj: SObjectDef,
    operation: str,
    records: Iterable[UnitRecord],
    on_result: Callable[[UnitRecord, SaveResult], None],
    *,
    should_stop: Callable[[], bool] = lambda: False,
    before_transaction: Callable[[int], None] = lambda n: None,
) -> int:
    """Process `records`; returns how many were processed. Raises JobFailed from `before_transaction`."""
    processed = 0
    for chunk in _chunks(records, BULK_TRANSACTION_SIZE):
        if should_stop():
            break
        before_transaction(len(chunk))
        owner = object()
        profile = ctx.profile
        try:
            lock_wait = profile.scaled(profile.lock_wait_s)
            if operation == "update" and lock_wait > 0 and ctx.faults.parent_lock_contention:
                # Wait for contended parent records *before* taking SQLite's write lock: waiting inside
                # the transaction stalled every other writer of the org (other batches and REST calls)
                # for up to lock_wait_s and serialised parallel batches.
                ctx.dml.prelock_parents(obj, [(_id_of(r.values), r.values) for r in chunk], owner, lock_wait)
                lock_wait = 0.0  # inside the transaction, parents still held by others fail at once
            with ctx.store.transaction() as conn:
                results = _apply(ctx.dml, obj, operation, chunk, conn, owner, lock_wait)
            ctx.engine.sleep(profile.scaled((profile.bulk_chunk_overhead_ms + len(chunk) * profile.bulk_per_record_ms) / 1000.0))
        finally:
            ctx.dml.parent_locks.release(owner)
        for rec, res in zip(chunk, results):
            on_result(rec, res)
        processed += len(chunk)
    return processed


def _apply(dml: DmlEngine, obj: SObjectDef, operation: str, chunk: list[UnitRecord], conn, owner, lock_timeout: float) -> list[SaveResult]:
    if operation == "update":
        pairs = [(_id_of(r.values), {k: v for k, v in r.values.items() if k.lower() != "id"}) for r in chunk]
        return dml.update(obj, pairs, conn=conn, lock_owner=owner, lock_timeout=lock_timeout)
    if operation == "insert":
        return dml.insert(obj, [r.values for r in chunk], conn=conn)
    if operation in ("delete", "hardDelete"):
        return dml.delete(obj, [_id_of(r.values) for r in chunk], conn=conn)
    return [SaveResult(None, False, [RecordError("INVALID_OPERATION", f"Operation {operation} is not supported by the emulator", [])]) for _ in chunk]


def _id_of(values: Mapping[str, Any]) -> str:
    for key, value in values.items():
        if key.lower() == "id":
            return value or ""
    return ""


def _chunks(items: Iterable[UnitRecord], size: int) -> Iterator[list[UnitRecord]]:
    chunk: list[UnitRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
