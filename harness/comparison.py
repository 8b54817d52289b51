"""What `sfharness compare` measured, as plain data: the one model the runner fills and the reports read.

Why a separate module: the runner, the CLI, the planner's calibration tests and the report writers are
written independently; they meet only here. Everything is a plain dataclass with `to_dict()` /
`from_dict()` so that `results.json` is the full, lossless record of a run and can be read back later
(to re-render a report, or to check the cost model against it) without importing the runner.

Readers are tolerant: `from_dict()` ignores keys it does not know and fills missing optional ones with
their defaults, so a newer writer's file still loads in an older reader as far as it can.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .recommendation import Candidate, choose

#: Bumped when a field changes meaning or is removed (adding fields does not need a bump).
SCHEMA_VERSION = 1

#: Keys `best_for()` accepts. For all of them lower is better, except those in `HIGHER_IS_BETTER`.
#: "calls" is the org's own counter when it is known, else the client's count (see `Measurement.calls`).
COMPARABLE_KEYS = (
    "calls",
    "calls_client",
    "calls_org",
    "batches",
    "wall_seconds",
    "records_per_second",
    "peak_memory_mb",
)
HIGHER_IS_BETTER = frozenset({"records_per_second"})


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _required(data: Mapping[str, Any], key: str, kind: str) -> Any:
    """A required key, with an error that says which record lacks what (KeyError alone says too little)."""
    try:
        return data[key]
    except KeyError:
        raise ValueError(f"{kind}: missing required key {key!r}") from None


@dataclass(kw_only=True)
class Measurement:
    """One run of one strategy at one record volume (one repeat).

    Keyword-only so that the many counters cannot be swapped by position. Counts are of records except
    where named `calls_*` (HTTP requests) or `batches` (Bulk batches, which the org also limits per day).
    `calls_org` is the delta of the org's own API counter over the run: the figure that matters for the
    daily limit, and the check on `calls_client`; it is None where the org cannot be asked precisely
    (a real org without introspection). `error` is set only when the run itself crashed, in which case
    the other figures are whatever was known at the crash and must not be compared. `unverified` says why
    the org could not be read back after the run (its other figures stand; `verified` is then 0).
    """

    strategy: str
    family: str  # rest | bulk1 | bulk2
    records: int
    repeat: int = 1
    baseline: bool = False
    calls_client: int = 0
    calls_org: int | None = None
    calls_by_phase: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    wall_seconds: float = 0.0
    records_per_second: float = 0.0
    peak_memory_mb: float | None = None
    succeeded: int = 0
    failed: int = 0
    unprocessed: int = 0
    verified: int = 0
    mismatched: int = 0
    unverified: str | None = None
    job_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    readback_calls: int = 0
    """Requests the read-back check made after the run (not part of the strategy's calls, but counted by
    the org: `CompareRun.other_calls` shows their total beside the runs)."""
    cpu_seconds: float | None = None
    """Client CPU time of the update (user + system, all the process's threads): what the client itself
    costs, apart from waiting on the org. None where it was not measured."""
    concurrency: int | None = None
    """Requests the strategy kept in flight at once; None for one that has no such setting (Bulk, baselines)."""
    created: int | None = None
    """An upsert's successes the org created (None for an update by Id)."""
    updated: int | None = None
    """An upsert's successes that updated an existing record (None for an update by Id)."""
    split_mismatch: str | None = None
    """Why an upsert's created/updated counts disagree with the workload's new/existing keys (None: they agree,
    or the run was an update). A run with a mismatch is not clean."""

    @property
    def calls(self) -> int:
        """The best available API-call figure: the org's counter when known, else the client's count."""
        return self.calls_org if self.calls_org is not None else self.calls_client

    @property
    def crashed(self) -> bool:
        return self.error is not None

    @property
    def clean(self) -> bool:
        """True when the run finished, every record succeeded and every record read back as written.

        Only clean runs may be recommended (`harness.recommendation`): a strategy that is cheap because it
        dropped records is not, and neither is one whose writes were never read back.
        """
        return (
            self.error is None
            and self.failed == 0
            and self.unprocessed == 0
            and self.mismatched == 0
            and self.unverified is None
            and self.succeeded == self.records
            and self.verified == self.records
            and self.split_mismatch is None
        )

    def candidate(self) -> Candidate:
        """This row as the recommendation rule sees it."""
        return Candidate(self.strategy, self.calls, self.wall_seconds, baseline=self.baseline, clean=self.clean)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "baseline": self.baseline,
            "family": self.family,
            "records": self.records,
            "repeat": self.repeat,
            "calls_client": self.calls_client,
            "calls_org": self.calls_org,
            "calls_by_phase": dict(self.calls_by_phase),
            "batches": self.batches,
            "wall_seconds": self.wall_seconds,
            "records_per_second": self.records_per_second,
            "peak_memory_mb": self.peak_memory_mb,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unprocessed": self.unprocessed,
            "verified": self.verified,
            "mismatched": self.mismatched,
            "unverified": self.unverified,
            "job_ids": list(self.job_ids),
            "notes": list(self.notes),
            "error": self.error,
            "readback_calls": self.readback_calls,
            "cpu_seconds": self.cpu_seconds,
            "concurrency": self.concurrency,
            "created": self.created,
            "updated": self.updated,
            "split_mismatch": self.split_mismatch,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        kind = "Measurement"
        return cls(
            strategy=str(_required(data, "strategy", kind)),
            family=str(_required(data, "family", kind)),
            records=int(_required(data, "records", kind)),
            repeat=int(data.get("repeat", 1)),
            baseline=bool(data.get("baseline", False)),
            calls_client=int(data.get("calls_client", 0)),
            calls_org=_opt_int(data.get("calls_org")),
            calls_by_phase={str(k): int(v) for k, v in (data.get("calls_by_phase") or {}).items()},
            batches=int(data.get("batches", 0)),
            wall_seconds=float(data.get("wall_seconds", 0.0)),
            records_per_second=float(data.get("records_per_second", 0.0)),
            peak_memory_mb=_opt_float(data.get("peak_memory_mb")),
            succeeded=int(data.get("succeeded", 0)),
            failed=int(data.get("failed", 0)),
            unprocessed=int(data.get("unprocessed", 0)),
            verified=int(data.get("verified", 0)),
            mismatched=int(data.get("mismatched", 0)),
            unverified=_opt_str(data.get("unverified")),
            job_ids=[str(j) for j in data.get("job_ids") or []],
            notes=[str(n) for n in data.get("notes") or []],
            error=_opt_str(data.get("error")),
            readback_calls=int(data.get("readback_calls", 0)),
            cpu_seconds=_opt_float(data.get("cpu_seconds")),
            concurrency=_opt_int(data.get("concurrency")),
            created=_opt_int(data.get("created")),
            updated=_opt_int(data.get("updated")),
            split_mismatch=_opt_str(data.get("split_mismatch")),
        )


@dataclass(kw_only=True)
class Skipped:
    """A run `compare` did not start because its predicted calls would exceed what the org had left."""

    strategy: str
    records: int
    repeat: int = 1
    predicted_calls: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "records": self.records,
            "repeat": self.repeat,
            "predicted_calls": self.predicted_calls,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Skipped:
        return cls(
            strategy=str(_required(data, "strategy", "Skipped")),
            records=int(_required(data, "records", "Skipped")),
            repeat=int(data.get("repeat", 1)),
            predicted_calls=int(data.get("predicted_calls", 0)),
            reason=str(data.get("reason", "")),
        )


@dataclass(kw_only=True)
class OtherCalls:
    """API calls of a compare made outside the measured runs (checks before, read-backs after), so the
    table's rows add up to the org's own counter."""

    label: str
    calls_client: int
    calls_org: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "calls_client": self.calls_client, "calls_org": self.calls_org}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OtherCalls:
        return cls(
            label=str(_required(data, "label", "OtherCalls")),
            calls_client=int(data.get("calls_client", 0)),
            calls_org=_opt_int(data.get("calls_org")),
        )


@dataclass(kw_only=True)
class Recommendation:
    """The strategy to use at one record volume, and why, in words a user can check against the table."""

    records: int
    strategy: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "strategy": self.strategy, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recommendation:
        kind = "Recommendation"
        return cls(
            records=int(_required(data, "records", kind)),
            strategy=str(_required(data, "strategy", kind)),
            reason=str(data.get("reason", "")),
        )


def _max_opt(values: Iterable[float | int | None]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _min_opt(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _aggregate(group: list[Measurement]) -> Measurement:
    """One row for the repeats of one strategy at one volume.

    Times are the median (robust to one slow outlier), API calls and batches the maximum (the limit must
    hold on the worst repeat), and record counts the worst case. Crashed repeats are left out of the
    figures while any repeat finished; the row still carries an `error` saying how many crashed, so a
    flaky strategy is never presented (or recommended) as a clean one.
    """
    finished = [m for m in group if m.error is None]
    crashed = [m for m in group if m.error is not None]
    use = finished or group
    first = group[0]
    error: str | None = None
    if crashed:
        error = (
            crashed[0].error
            if len(group) == 1
            else f"{len(crashed)} of {len(group)} repeats crashed: {crashed[0].error}"
        )
    phases = _dedupe(p for m in use for p in m.calls_by_phase)
    return replace(
        first,
        repeat=len(group),
        calls_client=max(m.calls_client for m in use),
        calls_org=_max_opt(m.calls_org for m in use),
        calls_by_phase={p: max(m.calls_by_phase.get(p, 0) for m in use) for p in phases},
        batches=max(m.batches for m in use),
        wall_seconds=statistics.median(m.wall_seconds for m in use),
        records_per_second=statistics.median(m.records_per_second for m in use),
        peak_memory_mb=_max_opt(m.peak_memory_mb for m in use),
        succeeded=min(m.succeeded for m in use),
        failed=max(m.failed for m in use),
        unprocessed=max(m.unprocessed for m in use),
        verified=min(m.verified for m in use),
        mismatched=max(m.mismatched for m in use),
        unverified=next((m.unverified for m in use if m.unverified), None),
        created=_min_opt(m.created for m in use),
        updated=_min_opt(m.updated for m in use),
        split_mismatch=next((m.split_mismatch for m in use if m.split_mismatch), None),
        job_ids=_dedupe(j for m in group for j in m.job_ids),
        notes=_dedupe(n for m in group for n in m.notes),
        error=error,
    )


@dataclass(kw_only=True)
class CompareRun:
    """A whole `sfharness compare` run: where it ran, with what settings, every measurement, the advice.

    `environment` and `settings` are free-form dicts on purpose: they are recorded for the reader of the
    report (and for reproducing the run), not computed on, and they grow as the harness learns more about
    the org. The reports read these keys when present (others are listed as they are):

    - environment: `tool_version`, `python`, `platform`, `cpu_count`, `org_kind` (emulator | sandbox |
      production), `profile`, `edition`, `api_version`, `library_versions` ({name: version});
    - settings: `volumes`, `strategies`, `repeat`, `profile`, `faults`.

    Timestamps are ISO 8601 strings, preferably with a UTC offset (`datetime.now(UTC).isoformat()`).
    """

    started_at: str
    finished_at: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    other_calls: list[OtherCalls] = field(default_factory=list)
    org_calls_total: int | None = None
    """The org's own counter over the whole compare (None where it cannot be read precisely)."""

    # -- serialisation ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "environment": self.environment,
            "settings": self.settings,
            "measurements": [m.to_dict() for m in self.measurements],
            "recommendations": [r.to_dict() for r in self.recommendations],
            "skipped": [k.to_dict() for k in self.skipped],
            "other_calls": [c.to_dict() for c in self.other_calls],
            "org_calls_total": self.org_calls_total,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompareRun:
        version = int(data.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"results were written with schema version {version}; this sfharness reads up to {SCHEMA_VERSION}"
            )
        return cls(
            started_at=str(_required(data, "started_at", "CompareRun")),
            finished_at=_opt_str(data.get("finished_at")),
            environment=dict(data.get("environment") or {}),
            settings=dict(data.get("settings") or {}),
            measurements=[Measurement.from_dict(m) for m in data.get("measurements") or []],
            recommendations=[Recommendation.from_dict(r) for r in data.get("recommendations") or []],
            skipped=[Skipped.from_dict(k) for k in data.get("skipped") or []],
            other_calls=[OtherCalls.from_dict(c) for c in data.get("other_calls") or []],
            org_calls_total=_opt_int(data.get("org_calls_total")),
        )

    # -- views ------------------------------------------------------------------------------------------

    def strategies(self) -> list[str]:
        """Strategy names in a stable display order: ours first, then baselines, each by first appearance.

        Stable so that a strategy keeps the same row position and chart colour in every view of the run.
        """
        ours = _dedupe(m.strategy for m in self.measurements if not m.baseline)
        baselines = _dedupe(m.strategy for m in self.measurements if m.baseline and m.strategy not in ours)
        return ours + baselines

    def volumes(self) -> list[int]:
        """The record volumes measured, ascending."""
        return sorted({m.records for m in self.measurements})

    def is_baseline(self, strategy: str) -> bool:
        return any(m.baseline for m in self.measurements if m.strategy == strategy)

    def by_strategy(self) -> dict[str, list[Measurement]]:
        """Every measurement grouped by strategy (display order), each list sorted by volume then repeat."""
        groups: dict[str, list[Measurement]] = {name: [] for name in self.strategies()}
        for m in self.measurements:
            groups[m.strategy].append(m)
        for rows in groups.values():
            rows.sort(key=lambda m: (m.records, m.repeat))
        return groups

    def medians(self) -> list[Measurement]:
        """One aggregated row per strategy and volume, sorted by volume then display order.

        Median of the repeats for times and throughput, maximum for API calls, batches and memory, worst
        case for record counts (see `_aggregate`). In these rows `repeat` holds how many repeats the row
        summarises, not a 1-based index.
        """
        order = {name: i for i, name in enumerate(self.strategies())}
        groups: dict[tuple[int, str], list[Measurement]] = {}
        for m in self.measurements:
            groups.setdefault((m.records, m.strategy), []).append(m)
        rows = [_aggregate(sorted(g, key=lambda m: m.repeat)) for g in groups.values()]
        rows.sort(key=lambda m: (m.records, order[m.strategy]))
        return rows

    def best_for(self, records: int, key: str = "calls", *, include_baselines: bool = False) -> Measurement | None:
        """The best median row at `records` by `key` (one of `COMPARABLE_KEYS`), or None: a view of one figure.

        Only rows the recommendation rule would consider compete (clean, not a chooser; baselines only when
        asked). Ties are broken as that rule orders: API calls, then wall time, then display order.
        """
        if key not in COMPARABLE_KEYS:
            raise ValueError(f"unknown key {key!r}; choose one of {', '.join(COMPARABLE_KEYS)}")
        sign = -1.0 if key in HIGHER_IS_BETTER else 1.0
        order = {name: i for i, name in enumerate(self.strategies())}

        def competes(m: Measurement) -> bool:
            as_ours = replace(m.candidate(), baseline=False) if include_baselines else m.candidate()
            return m.records == records and getattr(m, key) is not None and as_ours.eligible

        candidates = [m for m in self.medians() if competes(m)]
        return min(
            candidates,
            key=lambda m: (sign * getattr(m, key), m.calls, m.wall_seconds, order[m.strategy]),
            default=None,
        )

    def recommendation_for(self, records: int) -> list[Recommendation]:
        """The recorded recommendations for one volume (usually one)."""
        return [r for r in self.recommendations if r.records == records]

    def recommend(self) -> list[Recommendation]:
        """The recommendation per volume by the one rule (`harness.recommendation`), from the median rows.

        Returned, not stored: the caller decides what goes into `recommendations`. A volume where no
        strategy is eligible gets a recommendation with an empty strategy and the reason why.
        """
        medians = self.medians()
        out: list[Recommendation] = []
        for records in self.volumes():
            choice = choose([m.candidate() for m in medians if m.records == records])
            out.append(Recommendation(records=records, strategy=choice.strategy, reason=choice.reason))
        return out
