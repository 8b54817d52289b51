"""Latency profiles and fault injection: how slow and how unreliable the emulated org is.

The `realistic` numbers come from ../shared/reference/latency-calibration.md section 7; each carries its
evidence there. Most are estimates, so every one is an overridable parameter (`--profile realistic
--set bulk_per_record_ms=20`, or `Org.configure(profile=...)` at run time). `time_scale` divides every
delay so a realistic run can finish in minutes: 0.1 runs ten times faster than real time.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class LatencyProfile:
    name: str = "instant"
    # Synchronous API (seconds / milliseconds as named)
    rtt_ms: float = 0.0  # network round trip added to every response
    write_fixed_ms: float = 0.0  # S_fix: server time per write request (PATCH, collections, composite)
    read_fixed_ms: float = 0.0  # server time per read request (GET, query, job status)
    sync_per_record_ms: float = 0.0  # c_sync: per record inside a synchronous write
    composite_subrequest_ms: float = 0.0  # extra per Composite subrequest (run one after another)
    upload_mb_per_s: float = 0.0  # bandwidth for request bodies; 0 = unlimited
    # Bulk processing
    bulk_queue_median_s: float = 0.0  # Q: log-normal queue wait before a job/batch starts
    bulk_queue_p90_s: float = 0.0
    bulk_batch_overhead_s: float = 0.0  # fixed cost per Bulk 1.0 batch / Bulk 2.0 internal batch
    bulk_per_record_ms: float = 0.0  # c_bulk per record for one worker
    bulk_chunk_overhead_ms: float = 0.0  # per 200-record transaction
    bulk_parallelism: int = 4  # P: internal batches processed at once (Parallel mode)
    lock_wait_s: float = 0.0  # how long a transaction waits on a locked parent before UNABLE_TO_LOCK_ROW
    time_scale: float = 1.0  # divide every delay by this; 0 or less disables delays altogether

    def scaled(self, seconds: float) -> float:
        if self.time_scale <= 0 or seconds <= 0:
            return 0.0
        return seconds / self.time_scale

    def queue_delay(self, rng: random.Random) -> float:
        """A log-normal queue wait with the profile's median and p90 (already time-scaled)."""
        if self.bulk_queue_median_s <= 0:
            return 0.0
        mu = math.log(self.bulk_queue_median_s)
        p90 = max(self.bulk_queue_p90_s, self.bulk_queue_median_s)
        sigma = (math.log(p90) - mu) / 1.2816 if p90 > self.bulk_queue_median_s else 0.0
        return self.scaled(rng.lognormvariate(mu, sigma) if sigma else self.bulk_queue_median_s)

    def request_delay(self, *, write: bool, records: int = 0, subrequests: int = 0, body_bytes: int = 0) -> float:
        seconds = (self.rtt_ms + (self.write_fixed_ms if write else self.read_fixed_ms)) / 1000.0
        seconds += records * self.sync_per_record_ms / 1000.0
        seconds += subrequests * self.composite_subrequest_ms / 1000.0
        if self.upload_mb_per_s > 0:
            seconds += body_bytes / (self.upload_mb_per_s * 1_000_000)
        return self.scaled(seconds)

    def batch_seconds(self, records: int) -> float:
        chunks = math.ceil(records / 200) if records else 0
        seconds = self.bulk_batch_overhead_s + records * self.bulk_per_record_ms / 1000.0 + chunks * self.bulk_chunk_overhead_ms / 1000.0
        return self.scaled(seconds)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **overrides: Any) -> LatencyProfile:
        known = {f.name: f.type for f in fields(self)}
        clean = {}
        for key, value in overrides.items():
            if key not in known:
                raise ValueError(f"unknown profile parameter {key!r}; known: {', '.join(sorted(known))}")
            clean[key] = _cast_like(getattr(self, key), value)
        return replace(self, **clean)


PROFILES: dict[str, LatencyProfile] = {
    # No delays: bulk workers are CPU-bound, and under the GIL one worker finishes a job fastest
    # (measured: 100,000 records in 3.2 s with 1 worker, 4.2-4.7 s with 2 or 4).
    "instant": LatencyProfile(name="instant", bulk_parallelism=1),
    # Estimates and their evidence: ../shared/reference/latency-calibration.md section 7 (lean object).
    "realistic": LatencyProfile(
        name="realistic",
        rtt_ms=60.0,
        write_fixed_ms=200.0,
        read_fixed_ms=80.0,
        sync_per_record_ms=8.0,
        composite_subrequest_ms=60.0,
        upload_mb_per_s=10.0,
        bulk_queue_median_s=5.0,
        bulk_queue_p90_s=30.0,
        bulk_batch_overhead_s=2.0,
        bulk_per_record_ms=5.0,
        bulk_chunk_overhead_ms=50.0,
        bulk_parallelism=10,
        lock_wait_s=3.0,
    ),
}


def get_profile(name: str, time_scale: float | None = None, **overrides: Any) -> LatencyProfile:
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
    if time_scale is not None:
        overrides["time_scale"] = time_scale
    return profile.with_overrides(**overrides) if overrides else profile


@dataclass
class FaultConfig:
    """Deterministic (under `seed`) faults. Rates are fractions in [0, 1]."""

    seed: int = 0
    http_500_rate: float = 0.0  # 500 UNKNOWN_EXCEPTION before processing (safe to retry)
    http_503_rate: float = 0.0  # 503 SERVER_UNAVAILABLE before processing
    drop_rate: float = 0.0  # connection closed with no complete response, before processing
    session_expiry_after_requests: int = 0  # every session expires after N API requests (0 = never)
    session_expiry_after_seconds: float = 0.0  # sessions expire T seconds after issue (0 = use session lifetime)
    lock_error_rate: float = 0.0  # fraction of records failing UNABLE_TO_LOCK_ROW
    parent_lock_contention: bool = False  # parallel bulk transactions sharing a parent block each other
    bulk_fail_after_records: int = 0  # a bulk job fails once it has processed this many records (0 = never)
    paths: tuple[str, ...] = ()  # limit HTTP faults to paths starting with one of these prefixes
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def applies_to(self, path: str) -> bool:
        return not self.paths or any(path.startswith(p) for p in self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
        base = cls()
        values = {k: _cast_like(getattr(base, k), v) for k, v in data.items()}
        if "paths" in values and isinstance(values["paths"], str):
            values["paths"] = tuple(p for p in values["paths"].split("|") if p)
        return cls(**values)

    @classmethod
    def parse(cls, text: str) -> FaultConfig:
        """`"http_503_rate=0.05,seed=7"` -> FaultConfig (the CLI's --faults syntax)."""
        data: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"fault setting {part!r} is not key=value")
            data[key.strip()] = value.strip()
        return cls.from_dict(data)


def _cast_like(example: Any, value: Any) -> Any:
    if isinstance(value, str):
        if isinstance(example, bool):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(example, int):
            return int(value)
        if isinstance(example, float):
            return float(value)
        if isinstance(example, tuple):
            return tuple(p for p in value.split("|") if p)
    if isinstance(example, tuple) and isinstance(value, list):
        return tuple(value)
    return value
