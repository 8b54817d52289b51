"""One measured run: a strategy updates one workload round, then the org is read back and checked.

Figures kept per run: API calls by phase as the client counted them, the org's own counter delta (the
emulator's ground truth; `None` on a real org, where other integrations also move the counter), Bulk
batches, wall time, records per second, client peak RSS, outcome counts, and the verification result.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from strategies import registry
from strategies.errors import RunFailed, StrategyError
from strategies.records import CsvRecords
from strategies.sinks import CountingSink, CsvResultSink
from strategies.summary import RunSummary

from .comparison import Measurement
from .measure import PeakMemory
from .orgs import OrgConnection
from .progress import RunWatch
from .strategy_options import concurrency_in_flight
from .workload import Workload, WorkloadFile


def family_of(name: str, delegate: str | None = None) -> str:
    """rest | bulk1 | bulk2 for a strategy or baseline: `auto`'s is the strategy it delegated to, once it has."""
    return registry.FAMILIES[delegate or name]


def run_once(
    conn: OrgConnection,
    workload: Workload,
    strategy_name: str,
    wf: WorkloadFile,
    *,
    repeat: int = 1,
    options: dict[str, Any] | None = None,
    outcome_dir: Path | None = None,
    verify: bool = True,
    watch: RunWatch | None = None,
) -> Measurement:
    """Run `strategy_name` over `wf` and return the measurement (never raises for a failed run).

    `strategy_name` may be one of our strategies or a library baseline (`registry.baseline_names()`); a
    baseline's measurement has ``baseline=True`` and is metered, verified and reported the same way.
    `watch` shows the run's progress (it only reads what the run already sees: no extra request).
    """
    baseline = registry.is_baseline(strategy_name)
    if workload.operation.is_upsert:
        options = {**workload.operation.options(), **(options or {})}
    org_before = conn.admin.usage() if conn.admin is not None else None
    session = conn.session()
    sink: Any = CsvResultSink(outcome_dir) if outcome_dir is not None else CountingSink()
    records: Any = CsvRecords(wf.path)
    if watch is not None:
        watch.attach(session)
        sink, records = watch.sink(sink), watch.records(records)
    strategy = None
    summary = None
    error: str | None = None
    started, cpu_started = time.perf_counter(), time.process_time()
    with PeakMemory() as memory:
        try:
            strategy = registry.get(strategy_name, session, include_baselines=baseline, **(options or {}))
            summary = strategy.update(workload.sobject, records, sink, expected_records=wf.records)
        except RunFailed as exc:
            summary, error = exc.summary, str(exc)
        except StrategyError as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            sink.close()
            closer = getattr(strategy, "close", None)
            if closer is not None:
                closer()
            session.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    org_after = conn.admin.usage() if conn.admin is not None else None
    calls_org = None
    batches_org = None
    if org_before is not None and org_after is not None:
        calls_org = org_after["DailyApiRequests"]["used"] - org_before["DailyApiRequests"]["used"]
        batches_org = org_after["DailyBulkApiBatches"]["used"] - org_before["DailyBulkApiBatches"]["used"]
    verified = mismatched = readback = 0
    unverified: str | None = None
    notes = list(summary.notes) if summary else []
    if verify and error is None:
        if watch is not None:
            watch.describe(f"{strategy_name} x {wf.records:,}: reading back")
        check = workload.verify(wf)
        verified, mismatched, readback = check.verified, check.mismatched + check.missing, check.calls
        unverified = check.error
        notes += [f"verification: {e}" for e in check.examples]
        if unverified:
            notes.append(f"not verified: {unverified}")
    split_mismatch = None
    if summary is not None and wf.new is not None and error is None and not (summary.failed or summary.unprocessed):
        split_mismatch = upsert_split_mismatch(summary, wf)
        if split_mismatch:
            notes.append(f"created/updated: {split_mismatch}")
    name = strategy_name
    if summary is not None and summary.delegate:
        notes.insert(0, f"auto chose {summary.delegate}")
    return Measurement(
        strategy=name,
        baseline=baseline,
        family=family_of(strategy_name, summary.delegate if summary else None),
        records=wf.records,
        repeat=repeat,
        calls_client=summary.api_calls if summary else 0,
        calls_org=calls_org,
        calls_by_phase=dict(summary.calls_by_phase) if summary else {},
        batches=batches_org if batches_org is not None else (summary.batches if summary else 0),
        wall_seconds=round(summary.wall_seconds if summary else wall, 4),
        records_per_second=round(wf.records / summary.wall_seconds, 1) if summary and summary.wall_seconds > 0 else 0.0,
        peak_memory_mb=memory.peak_mb,
        succeeded=summary.succeeded if summary else 0,
        failed=summary.failed if summary else 0,
        unprocessed=(summary.unprocessed + summary.pending) if summary else wf.records,
        verified=verified,
        mismatched=mismatched,
        unverified=unverified,
        job_ids=list(summary.job_ids) if summary else [],
        notes=notes,
        error=error,
        readback_calls=readback,
        cpu_seconds=round(cpu, 3),
        concurrency=concurrency_in_flight(strategy_name, (options or {}).get("concurrency")),
        created=summary.created if summary and wf.new is not None else None,
        updated=summary.updated if summary and wf.new is not None else None,
        split_mismatch=split_mismatch,
    )


def upsert_split_mismatch(summary: RunSummary, wf: WorkloadFile) -> str | None:
    """Why the run's created/updated counts disagree with the workload's new/existing keys, or None.

    Successes whose answer was lost and whose record was read back have ``created`` unknown
    (`RunSummary.created_unknown`): they may stand for either kind, so the known counts must fit within the
    split and all three together make up the workload."""
    new, existing = wf.new or 0, wf.existing or 0
    created, updated, unknown = summary.created, summary.updated, summary.created_unknown
    if created == new and updated == existing:
        return None
    if unknown and created <= new and updated <= existing and created + updated + unknown == new + existing:
        return None
    told = f" ({unknown:,} unknown)" if unknown else ""
    return (
        f"the run created {created:,} and updated {updated:,}{told}; "
        f"the workload had {new:,} new and {existing:,} existing keys"
    )


def scratch_dir(prefix: str = "sfharness-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
