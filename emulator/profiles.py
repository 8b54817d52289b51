"""Org profiles: how an org counts API requests and how slow it is; and deterministic fault injection.

An org profile is one versioned JSON document (docs/org-profile.md describes every field, its unit and
where its default comes from) with two parts. `counting` says, per request kind
(`emulator.request_kinds`), how many calls a request costs against DailyApiRequests, how Composite Batch
and Bulk API 2.0 batches count, and whether the reported usage lags. `timings` says how long the org
takes: network round trip, server time per request and per record, Bulk queue waits, per-record costs and
parallelism. The emulator runs on a profile, `sfharness plan` predicts from one, and `sfharness
calibrate` measures one from a real org, so all three speak the same numbers.

The built-in profiles are files of the same format in `org_profiles/`: `realistic` (every number from
../shared/reference/latency-calibration.md and the fact sheet, mostly estimates) and `instant` (no
delays). A field a file leaves out takes its value from `realistic`. `time_scale` divides every delay so a
realistic run can finish in minutes: 20 runs twenty times faster than real time.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple

from .request_kinds import REQUEST_KINDS

FORMAT = "sfharness-org-profile"
VERSION = 1
BUILTIN_DIR = Path(__file__).resolve().parent / "org_profiles"
BULK_FAMILIES = ("bulk1", "bulk2")
COMPOSITE_BATCH_RULES = ("1", "N", "N+1")
COUNTED_KINDS = tuple(k for k in REQUEST_KINDS if k != "rest.composite_batch")
"""Kinds whose cost `counting.requests` sets (Composite Batch has its own rule, `composite_batch_calls`)."""


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file (or source) and the field."""


@dataclass(frozen=True)
class CountingRules:
    """What a request costs against the org's daily allocations."""

    requests: Mapping[str, int]  # request kind -> calls counted per request (0: free)
    composite_batch_calls: str  # "1", "N" or "N+1" calls for a Composite Batch of N subrequests
    bulk2_records_per_batch: int  # records per Bulk 2.0 internal batch (each counts one DailyBulkApiBatches)
    bulk2_parent_batches: int  # DailyBulkApiBatches counted per Bulk 2.0 job for its empty parent batch
    usage_report_lag_s: float  # Sforce-Limit-Info and /limits show usage as it was this long ago

    def calls(self, kind: str) -> int:
        """Calls one request of `kind` costs when it arrives (a Composite Batch: its first one)."""
        if kind == "rest.composite_batch":
            return 1
        return self.requests[kind]

    def subrequest_calls(self, index: int) -> int:
        """Calls Composite Batch subrequest `index` (0-based) costs beyond the batch request's own one."""
        if self.composite_batch_calls == "N+1":
            return 1
        if self.composite_batch_calls == "N":
            return 1 if index > 0 else 0
        return 0

    def composite_batch_total(self, subrequests: int) -> int:
        return self.calls("rest.composite_batch") + sum(self.subrequest_calls(i) for i in range(subrequests))

    def bulk2_batches(self, job_records: int) -> int:
        """DailyBulkApiBatches one Bulk 2.0 ingest job of `job_records` records consumes."""
        if job_records <= 0:
            return 0
        return math.ceil(job_records / self.bulk2_records_per_batch) + self.bulk2_parent_batches


class BulkTimings(NamedTuple):
    """One Bulk API family's timing fields (`Timings.bulk`)."""

    queue_median_s: float
    queue_p90_s: float
    batch_overhead_s: float
    per_record_ms: float
    chunk_overhead_ms: float
    batch_time_limit_s: float
    max_retries: int


@dataclass(frozen=True)
class Timings:
    """How long the org takes, in real time (`OrgProfile.time_scale` speeds the emulator up)."""

    rtt_ms: float  # network round trip, added to every response
    read_fixed_ms: float  # server time per read request (GET: record, query, job status)
    write_fixed_ms: float  # server time per write request (PATCH, Collections, Composite, Bulk create/close)
    sync_per_record_ms: float  # per record inside a synchronous write
    composite_subrequest_ms: float  # per Composite / Composite Batch subrequest (they run one after another)
    upload_mb_per_s: float  # request body bandwidth; 0 = unlimited
    bulk_parallelism: int  # Bulk 1.0 batches and Bulk 2.0 internal batches processed at once (the org's pool)
    lock_wait_s: float  # how long a bulk transaction waits on a locked parent before UNABLE_TO_LOCK_ROW
    bulk1_queue_median_s: float  # Bulk 1.0: log-normal wait from adding a batch until it starts
    bulk1_queue_p90_s: float
    bulk1_batch_overhead_s: float  # fixed time per batch
    bulk1_per_record_ms: float  # per record, one worker
    bulk1_chunk_overhead_ms: float  # per 200-record transaction
    bulk1_batch_time_limit_s: float  # an attempt at a batch past this is stopped; the rest goes back to the queue
    bulk1_max_retries: int  # times a batch goes back to the queue before it is Failed
    bulk2_queue_median_s: float  # Bulk 2.0: log-normal wait from UploadComplete until InProgress
    bulk2_queue_p90_s: float
    bulk2_batch_overhead_s: float  # fixed time per internal batch
    bulk2_per_record_ms: float
    bulk2_chunk_overhead_ms: float
    bulk2_batch_time_limit_s: float  # an internal batch not done in this is retried
    bulk2_max_retries: int  # retries of an internal batch before the job fails
    upsert_extra_per_record_ms: float = 0.0
    """UNCONFIRMED: what an upserted record costs beyond an updated one (matching its key), added to the
    per-record time of every family (`OrgProfile.for_operation`). No source gives it; 0 = update's figures."""

    def bulk(self, family: str) -> BulkTimings:
        if family not in BULK_FAMILIES:
            raise ValueError(f"unknown Bulk API family {family!r}; known: {', '.join(BULK_FAMILIES)}")
        return BulkTimings(*(getattr(self, f"{family}_{name}") for name in BulkTimings._fields))


_INT_TIMINGS = {"bulk_parallelism": 1, "bulk1_max_retries": 0, "bulk2_max_retries": 0}  # name -> minimum
_TIMING_NAMES = tuple(f.name for f in fields(Timings))
_LIMIT_TIMINGS = {*_INT_TIMINGS, "bulk1_batch_time_limit_s", "bulk2_batch_time_limit_s"}
"""Timings that bound work rather than take time."""
_COUNTING_SCALARS = ("composite_batch_calls", "bulk2_records_per_batch", "bulk2_parent_batches", "usage_report_lag_s")
_TOP_KEYS = ("format", "version", "name", "description", "time_scale", "counting", "timings", "calibration")


@dataclass(frozen=True)
class OrgProfile:
    """One org's counting rules and timings (see the module docstring and docs/org-profile.md)."""

    name: str
    counting: CountingRules
    timings: Timings
    time_scale: float = 1.0  # divide every delay by this; 0 or less disables delays altogether
    description: str = ""
    calibration: Mapping[str, Any] | None = field(default=None, compare=False)  # informational (calibrate's notes)

    # -- time ------------------------------------------------------------------------------------------
    def for_operation(self, operation: str) -> OrgProfile:
        """The profile as it times `operation`: an upsert's per-record times (synchronous, Bulk 1.0 and 2.0)
        each take `Timings.upsert_extra_per_record_ms` more; any other operation, or no extra, is this one.
        The one place the emulator and the cost model read that field."""
        t = self.timings
        extra = t.upsert_extra_per_record_ms
        if operation != "upsert" or extra <= 0:
            return self
        return replace(
            self,
            timings=replace(
                t,
                sync_per_record_ms=t.sync_per_record_ms + extra,
                bulk1_per_record_ms=t.bulk1_per_record_ms + extra,
                bulk2_per_record_ms=t.bulk2_per_record_ms + extra,
                upsert_extra_per_record_ms=0.0,
            ),
        )

    @property
    def has_delays(self) -> bool:
        """False for a profile with no timing at all (`instant`): nothing to scale, nothing to wait for."""
        t = self.timings
        return self.time_scale > 0 and any(getattr(t, name) > 0 for name in _TIMING_NAMES if name not in _LIMIT_TIMINGS)

    def scaled(self, seconds: float) -> float:
        if self.time_scale <= 0 or seconds <= 0:
            return 0.0
        return seconds / self.time_scale

    def request_delay(self, *, write: bool, records: int = 0, subrequests: int = 0, body_bytes: int = 0) -> float:
        """Seconds one synchronous API request takes on the server and the network (time-scaled)."""
        t = self.timings
        seconds = (t.rtt_ms + (t.write_fixed_ms if write else t.read_fixed_ms)) / 1000.0
        seconds += records * t.sync_per_record_ms / 1000.0 + subrequests * t.composite_subrequest_ms / 1000.0
        if t.upload_mb_per_s > 0:
            seconds += body_bytes / (t.upload_mb_per_s * 1_000_000)
        return self.scaled(seconds)

    def queue_delay(self, family: str, rng: random.Random) -> float:
        """A log-normal queue wait with the family's median and p90 (time-scaled)."""
        b = self.timings.bulk(family)
        if b.queue_median_s <= 0:
            return 0.0
        mu = math.log(b.queue_median_s)
        p90 = max(b.queue_p90_s, b.queue_median_s)
        sigma = (math.log(p90) - mu) / 1.2816 if p90 > b.queue_median_s else 0.0
        return self.scaled(rng.lognormvariate(mu, sigma) if sigma else b.queue_median_s)

    def batch_overhead(self, family: str) -> float:
        return self.scaled(self.timings.bulk(family).batch_overhead_s)

    def chunk_seconds(self, family: str, records: int) -> float:
        """Time one bulk transaction of `records` records takes beyond the database work (time-scaled)."""
        b = self.timings.bulk(family)
        return self.scaled((b.chunk_overhead_ms + records * b.per_record_ms) / 1000.0)

    def batch_seconds(self, family: str, records: int) -> float:
        """Time one Bulk 1.0 batch or Bulk 2.0 internal batch of `records` records takes (time-scaled)."""
        b = self.timings.bulk(family)
        chunks = math.ceil(records / 200) if records else 0
        seconds = b.batch_overhead_s + records * b.per_record_ms / 1000.0 + chunks * b.chunk_overhead_ms / 1000.0
        return self.scaled(seconds)

    # -- the document ------------------------------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        """The profile as its JSON document (what `get_profile` reads back)."""
        c = self.counting
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "description": self.description,
            "time_scale": self.time_scale,
            "counting": {"requests": dict(c.requests), **{k: getattr(c, k) for k in _COUNTING_SCALARS}},
            "timings": asdict(self.timings),
        }
        if self.calibration is not None:
            doc["calibration"] = copy.deepcopy(dict(self.calibration))
        return doc

    to_dict = to_document

    def with_overrides(self, **overrides: Any) -> OrgProfile:
        """A copy with some fields changed, by flat name: a timing (`bulk2_per_record_ms`), `time_scale`,
        a counting field (`composite_batch_calls`) or a request kind (`bulk2.status`). A `bulk_` name
        sets both Bulk families (`bulk_queue_median_s` sets `bulk1_queue_median_s` and `bulk2_...`)."""
        if not overrides:
            return self
        doc = self.to_document()
        for key, value in overrides.items():
            section, names = _override_target(key)
            target = doc if section is None else doc["counting"]["requests"] if section == "requests" else doc[section]
            for name in names:
                target[name] = _cast_like(target.get(name), value)
        return profile_from_document(doc, origin=f"profile {self.name!r} with overrides")


def _override_target(key: str) -> tuple[str | None, tuple[str, ...]]:
    if key in ("time_scale", "name", "description"):
        return None, (key,)
    if key in _TIMING_NAMES:
        return "timings", (key,)
    if key.startswith("bulk_") and f"bulk1_{key[5:]}" in _TIMING_NAMES:
        return "timings", tuple(f"{family}_{key[5:]}" for family in BULK_FAMILIES)
    if key in _COUNTING_SCALARS:
        return "counting", (key,)
    if key in COUNTED_KINDS:
        return "requests", (key,)
    known = sorted({*_TIMING_NAMES, *_COUNTING_SCALARS, *COUNTED_KINDS, "time_scale"})
    raise ProfileError(f"unknown profile parameter {key!r}; known: {', '.join(known)}")


# -- reading and checking documents --------------------------------------------------------------------------
def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))


def profile_argument(source: str) -> str:
    """`source` as another process should receive it: a built-in name as is, a file as an absolute path."""
    return source if source in builtin_names() else str(Path(source).resolve())


@functools.cache
def _builtin_text(name: str) -> str:
    return (BUILTIN_DIR / f"{name}.json").read_text(encoding="utf-8")


def _read_document(source: str | Path) -> tuple[dict[str, Any], str]:
    """(the JSON document, a label for error messages) of a built-in name or a file path."""
    text_source = str(source)
    if text_source in builtin_names():
        return json.loads(_builtin_text(text_source)), f"built-in profile {text_source!r}"
    path = Path(source)
    if not path.is_file():
        raise ProfileError(
            f"unknown profile {text_source!r}: not a built-in profile ({', '.join(builtin_names())}) and no such file"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ProfileError(f"{path}: cannot read the profile ({err})") from None
    except ValueError as err:
        raise ProfileError(f"{path}: not valid JSON ({err})") from None
    return data, str(path)


def get_profile(
    source: str | Path | OrgProfile = "instant", time_scale: float | None = None, **overrides: Any
) -> OrgProfile:
    """A profile by built-in name (`instant`, `realistic`) or from a JSON file, with optional overrides.

    Raises ProfileError (a ValueError) naming the file and the field when the document is not usable.
    """
    if isinstance(source, OrgProfile):
        profile = source
    else:
        doc, origin = _read_document(source)
        profile = profile_from_document(
            doc, origin=origin, default_name=Path(str(source)).stem, complete=str(source) == "realistic"
        )
    if time_scale is not None:
        overrides["time_scale"] = time_scale
    return profile.with_overrides(**overrides) if overrides else profile


def save_profile(profile: OrgProfile, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(profile.to_document(), indent=2) + "\n", encoding="utf-8")
    return path


def _defaults() -> dict[str, Any]:
    """The complete `realistic` document: the value of every field a profile leaves out."""
    return json.loads(_builtin_text("realistic"))


def profile_from_document(
    doc: Any, *, origin: str = "profile", default_name: str = "custom", complete: bool = False
) -> OrgProfile:
    """Check a profile document field by field and build the profile.

    A field the document leaves out takes `realistic`'s value, unless `complete` (the `realistic` file
    itself, which must name every field).
    """
    where = origin
    if not isinstance(doc, dict):
        raise ProfileError(f"{where}: a profile is a JSON object, got {type(doc).__name__}")
    _no_unknown(doc, _TOP_KEYS, where, "")
    if doc.get("format") != FORMAT:
        raise ProfileError(f"{where}: format: expected {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        raise ProfileError(
            f"{where}: version: this sfharness reads version {VERSION} profiles, got {doc.get('version')!r}"
        )
    base = {"counting": {"requests": {}}, "timings": {}} if complete else _defaults()
    counting = _section(doc, "counting", where)
    timings = _section(doc, "timings", where)
    _no_unknown(counting, ("requests", *_COUNTING_SCALARS), where, "counting.")
    requests = _section(counting, "requests", where, "counting.")
    _no_unknown(requests, COUNTED_KINDS, where, "counting.requests.")
    _no_unknown(timings, _TIMING_NAMES, where, "timings.")
    merged_requests = {**base["counting"]["requests"], **requests}
    merged_counting = {**{k: base["counting"].get(k) for k in _COUNTING_SCALARS}, **counting}
    merged_timings = {**base["timings"], **timings}

    rules = CountingRules(
        requests={
            kind: _number(merged_requests, kind, where, "counting.requests.", integer=True, minimum=0)
            for kind in COUNTED_KINDS
        },
        composite_batch_calls=_choice(merged_counting, "composite_batch_calls", COMPOSITE_BATCH_RULES, where),
        bulk2_records_per_batch=int(
            _number(merged_counting, "bulk2_records_per_batch", where, "counting.", integer=True, minimum=1)
        ),
        bulk2_parent_batches=int(
            _number(merged_counting, "bulk2_parent_batches", where, "counting.", integer=True, minimum=0)
        ),
        usage_report_lag_s=_number(merged_counting, "usage_report_lag_s", where, "counting.", minimum=0),
    )
    values = {
        name: _number(
            merged_timings, name, where, "timings.", integer=name in _INT_TIMINGS, minimum=_INT_TIMINGS.get(name, 0)
        )
        for name in _TIMING_NAMES
    }
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"{where}: name: expected a non-empty text, got {name!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(f"{where}: description: expected text, got {description!r}")
    calibration = doc.get("calibration")
    if calibration is not None and not isinstance(calibration, dict):
        raise ProfileError(f"{where}: calibration: expected an object, got {type(calibration).__name__}")
    time_scale = _number(doc, "time_scale", where, "", minimum=None) if "time_scale" in doc else 1.0
    return OrgProfile(
        name=name,
        counting=rules,
        timings=Timings(**values),
        time_scale=time_scale,
        description=description,
        calibration=calibration,
    )


def _section(doc: dict[str, Any], key: str, where: str, prefix: str = "") -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: {prefix}{key}: expected an object, got {type(value).__name__}")
    return value


def _no_unknown(section: dict[str, Any], known: tuple[str, ...], where: str, prefix: str) -> None:
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ProfileError(f"{where}: {prefix}{unknown[0]}: unknown field; known: {', '.join(known)}")


def _number(
    section: dict[str, Any], key: str, where: str, prefix: str, *, integer: bool = False, minimum: float | None = 0
) -> Any:
    if key not in section or section[key] is None:
        raise ProfileError(f"{where}: {prefix}{key}: missing")
    value = section[key]
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
        kind = "a whole number" if integer else "a number"
        raise ProfileError(f"{where}: {prefix}{key}: expected {kind}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ProfileError(f"{where}: {prefix}{key}: must be at least {minimum:g}, got {value!r}")
    return value if integer else float(value)


def _choice(section: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = section.get(key)
    if value not in choices:
        raise ProfileError(
            f"{where}: counting.{key}: expected one of {', '.join(repr(c) for c in choices)}, got {value!r}"
        )
    return str(value)


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
    response_faults: tuple[str, ...] = ()  # "ACTION:N:METHOD PATH" rules, see `ResponseFault`
    stall_seconds: float = 3.0  # how long a `stall` rule holds a processed response back
    cut_after_bytes: int = 256  # how much of the body a `cut` rule reads before cutting the connection
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _rules: tuple[ResponseFault, ...] = field(default=(), repr=False, compare=False)
    _seen: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._rules = tuple(ResponseFault.parse(text) for text in self.response_faults)

    def response_fault(self, request_kind: str) -> str | None:
        """The action of the rule that fires for this request (counted per kind), or None.

        `request_kind` is the gate's endpoint key, e.g. ``PATCH /services/data/vXX.X/jobs/ingest/{id}``.
        Only kinds some rule names are counted, so the Nth request of a kind is the Nth since `configure`.
        """
        if not self._rules:
            return None
        with self._lock:
            matching = [rule for rule in self._rules if rule.kind == request_kind]
            if not matching:
                return None
            seen = self._seen.get(request_kind, 0) + 1
            self._seen[request_kind] = seen
        return next((rule.action for rule in matching if rule.nth == seen), None)

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


RESPONSE_FAULT_ACTIONS = ("lose", "stall", "cut")


@dataclass(frozen=True)
class ResponseFault:
    """One rule of `FaultConfig.response_faults`: what happens to the `nth` request of one kind.

    Unlike the rate faults, which strike before the org does anything (so a retry is always safe), these
    model what a real network does to a client *after* or *while* the org works:

    * ``lose``: the org processes the request in full, then the connection breaks before the answer
      arrives (the client cannot tell whether anything changed);
    * ``stall``: the org processes the request, then holds the answer back for `stall_seconds` (a client
      whose read timeout is shorter gives up first);
    * ``cut``: the connection is cut after `cut_after_bytes` of the request body (mid-upload); the org
      never receives the whole request and processes nothing.

    Text form ``ACTION:N:METHOD PATH``, the path as the gate names endpoints (version ``vXX.X``, ids
    ``{id}``), e.g. ``lose:1:PATCH /services/data/vXX.X/jobs/ingest/{id}``. Several rules are joined by
    ``|`` on the command line (``--faults 'response_faults=lose:1:POST /services/async/vXX.X/job'``).
    """

    action: str
    nth: int
    kind: str

    @classmethod
    def parse(cls, text: str) -> ResponseFault:
        action, _, rest = text.strip().partition(":")
        nth, _, kind = rest.partition(":")
        if action not in RESPONSE_FAULT_ACTIONS or not nth.strip().isdigit() or int(nth) < 1 or " /" not in kind:
            raise ValueError(
                f"response fault {text!r} is not ACTION:N:METHOD PATH with ACTION one of {', '.join(RESPONSE_FAULT_ACTIONS)}"
            )
        return cls(action, int(nth), kind.strip())


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
