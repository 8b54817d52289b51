"""Predictions of API calls, Bulk batches and time for each strategy, from documented parameters.

Calls come from each strategy's own formula (`api_calls`), so prediction and implementation cannot
drift; the only free input of a Bulk formula is the number of status polls, which is derived here by
replaying the strategies' own poller (`strategies.polling.plan_checks`: backoff, then the job's progress)
against the job's predicted processing: queue wait, then units finishing wave by wave. Times come from the
latency profile (emulator/profiles.py; its numbers and their evidence are in
../shared/reference/latency-calibration.md, mostly estimates), plus a per-request client overhead.
Every parameter is overridable; predictions are checked against measurements in the tests.

Synchronous strategies (`rest`, `collections`, `composite`) send up to `concurrency` requests at once
(`_synchronous_seconds`): each request's waiting (network, the org's server time) overlaps with the
others', its CPU work (serialising, parsing, storing) does not, beyond the client and the org running
side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from emulator.profiles import LatencyProfile, get_profile
from strategies import registry
from strategies.polling import PollPolicy, plan_checks

from .recommendation import Candidate, choose

BULK2_CHUNK = 10_000
BULK1_BATCH = 10_000
TRANSACTION = 200  # records per bulk transaction: the step in which job info's processed count grows
CLIENT_OVERHEAD_S = 0.0007  # measured: client + emulator cost of one small request on the instant profile
SYNC_CPU_PER_RECORD_S = 0.00012  # measured: serialising, parsing and storing one record of a synchronous write
CPU_SIDES = 2
"""Processes whose CPU work overlaps when requests run concurrently: the client (its sending threads share
one interpreter lock) and the org (the emulator serves requests on one event loop); neither overlaps with
itself, so concurrent requests cannot finish faster than the CPU work of all of them spread over these."""
# Measured on the emulator (2-core machine): its own work per bulk record beyond the profile's delays.
# On a real org this is part of Salesforce's processing time; set them to 0 there (see `predict`).
BULK2_CPU_PER_RECORD_S = 0.0001
BULK1_CPU_PER_RECORD_S = 0.00005  # processing an XML batch
BULK1_UPLOAD_CPU_PER_RECORD_S = 0.0001  # the add-batch request parses the XML to enforce the record limit
STRATEGY_ORDER = ("rest", "collections", "composite", "bulk1-xml", "bulk2-csv")


@dataclass
class Prediction:
    strategy: str
    records: int
    calls: int
    calls_by_phase: dict[str, int]
    batches: int
    seconds: float
    polls: int = 0
    notes: list[str] = field(default_factory=list)
    concurrency: int = 1
    """Requests sent at once (synchronous strategies; Bulk strategies send theirs one after another)."""

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "records": self.records, "calls": self.calls, "calls_by_phase": self.calls_by_phase,
                "batches": self.batches, "seconds": round(self.seconds, 3), "polls": self.polls, "notes": self.notes,
                "concurrency": self.concurrency}


def job_checks(units: list[tuple[float, float, int]], finish: float, policy: PollPolicy, per_poll: float = 0.0) -> tuple[int, float]:
    """(status checks, seconds between the job finishing and the check that sees it) for a job whose
    units run from start to end seconds after close, as (start, end, records). Progress inside a unit
    grows one 200-record transaction at a time, as the job info of Salesforce (and the emulator) shows."""
    if not units:
        return 0, 0.0
    total = sum(n for _s, _e, n in units)

    def processed_at(t: float) -> tuple[int, int]:
        done = 0
        for start, end, n in units:
            if t >= end:
                done += n
            elif t > start:
                done += min(n, int(n * (t - start) / (end - start)) // TRANSACTION * TRANSACTION)
        return done, total

    times = plan_checks(policy, finish, processed_at, per_check=per_poll)
    return len(times), max(0.0, times[-1] - finish - per_poll) if times else 0.0


def _request(profile: LatencyProfile, *, write: bool, records: int = 0, subrequests: int = 0, body_bytes: int = 0) -> float:
    return profile.request_delay(write=write, records=records, subrequests=subrequests, body_bytes=body_bytes) + CLIENT_OVERHEAD_S


class _SyncCall(NamedTuple):
    """One synchronous request: seconds spent waiting (overlaps with other requests) and on CPU (does not)."""

    waiting: float
    cpu: float


def _sync_call(profile: LatencyProfile, records: int, *, subrequests: int = 0, body_bytes: int = 0) -> _SyncCall:
    waiting = profile.request_delay(write=True, records=records, subrequests=subrequests, body_bytes=body_bytes)
    return _SyncCall(waiting, CLIENT_OVERHEAD_S + records * SYNC_CPU_PER_RECORD_S)


def _synchronous_seconds(full: _SyncCall, full_calls: int, last: _SyncCall | None, concurrency: int) -> float:
    """Seconds for `full_calls` equal requests (then `last`, a shorter one) sent `concurrency` at a time.

    Each request takes its waiting plus its CPU time on the lane (one of `concurrency`) that frees first, as
    `concurrency.send_all` hands them out; the whole cannot beat the CPU work of every request spread over
    `CPU_SIDES` processes. With concurrency 1 this is the plain sum.
    """
    lanes = max(1, concurrency)
    each = full.waiting + full.cpu
    waves, extra = divmod(full_calls, lanes)
    seconds = (waves + 1) * each if extra else waves * each
    cpu = full_calls * full.cpu
    if last is not None:  # a lane is always free after `waves` rounds (extra < lanes)
        seconds = max(seconds, waves * each + last.waiting + last.cpu)
        cpu += last.cpu
    return max(seconds, cpu / min(lanes, CPU_SIDES))


def _bulk_processing(profile: LatencyProfile, units: list[int], parallelism: int, cpu_per_record: float = 0.0) -> tuple[float, list[tuple[float, float, int]]]:
    """Server time from close to done (queue wait, then units run `parallelism` at a time), and each
    unit's (start, end, records) in seconds after close."""
    if not units:
        return 0.0, []
    queue = profile.scaled(profile.bulk_queue_median_s)
    lanes = [queue] * max(1, parallelism)
    spans: list[tuple[float, float, int]] = []
    for n in units:  # in submission order, each to the lane that frees first (as the emulator's pool does)
        i = lanes.index(min(lanes))
        start = lanes[i]
        lanes[i] += profile.batch_seconds(n) + n * cpu_per_record
        spans.append((start, lanes[i], n))
    return max(lanes), spans


class _BulkJob(NamedTuple):
    """A Bulk job from close to the status check that sees it done, as the client lives it."""

    units: list[int]  # records per batch (Bulk 1.0) or internal chunk (Bulk 2.0), in submission order
    per_poll: float  # seconds one status check takes
    polls: int  # status checks the poller makes
    waited: float  # seconds from close to the check that sees the job done, checks included


def _bulk_job(profile: LatencyProfile, n: int, unit: int, cpu_per_record: float, policy: PollPolicy) -> _BulkJob:
    """Split `n` records into units of `unit`, run them on the profile, and replay the poller against them."""
    units = [min(unit, n - s) for s in range(0, n, unit)]
    processing, finished = _bulk_processing(profile, units, profile.bulk_parallelism, cpu_per_record)
    per_poll = _request(profile, write=False)
    polls, lag = job_checks(finished, processing, policy, per_poll) if n else (0, 0.0)
    return _BulkJob(units, per_poll, polls, processing + polls * per_poll + lag)


def predict(strategy: str, n: int, profile: LatencyProfile, *, fields: int = 3, row_bytes: int | None = None,
            poll_policy: PollPolicy | None = None, concurrency: int | None = None) -> Prediction:
    """Calls, batches and seconds for `strategy` updating `n` records of `fields` fields each; synchronous
    strategies send `concurrency` requests at once (None: the strategy's default; `auto` passes it to
    `composite`)."""
    cls = registry.strategy_class(strategy)
    row_bytes = row_bytes or (19 + fields * 8)
    policy = poll_policy or PollPolicy()
    notes: list[str] = []
    if strategy in ("rest", "collections", "composite"):
        est = cls.api_calls(n)
        lanes = concurrency if concurrency is not None else (cls.default_concurrency or 1)
        if strategy == "rest":
            one = _sync_call(profile, 1, body_bytes=row_bytes * 2)
            seconds = _synchronous_seconds(one, n, None, lanes)
        else:
            per_call = 200 if strategy == "collections" else 1000

            def call(m: int) -> _SyncCall:
                subs = math.ceil(m / 200) if strategy == "composite" else 0
                return _sync_call(profile, m, subrequests=subs, body_bytes=m * (row_bytes + 40))

            full_calls, rest = divmod(n, per_call)
            seconds = _synchronous_seconds(call(per_call), full_calls, call(rest) if rest else None, lanes)
        return Prediction(strategy, n, est.total, dict(est.by_phase), 0, seconds, concurrency=lanes)
    if strategy == "bulk2-csv":
        job = _bulk_job(profile, n, BULK2_CHUNK, BULK2_CPU_PER_RECORD_S, policy)
        est = cls.api_calls(n, polls=job.polls)
        upload = _request(profile, write=True, body_bytes=n * row_bytes)
        seconds = 3 * _request(profile, write=True) + upload + job.waited
        seconds += (est.by_phase.get("results", 0)) * job.per_poll
        return Prediction(strategy, n, est.total, dict(est.by_phase), est.batches, seconds, job.polls, notes)
    if strategy == "bulk1-xml":
        job = _bulk_job(profile, n, BULK1_BATCH, BULK1_CPU_PER_RECORD_S, policy)
        est = cls.api_calls(n, polls=job.polls)
        xml_bytes = row_bytes * 3
        uploads = sum(_request(profile, write=True, body_bytes=u * xml_bytes) + u * BULK1_UPLOAD_CPU_PER_RECORD_S for u in job.units)
        seconds = 2 * _request(profile, write=True) + uploads + job.waited
        return Prediction(strategy, n, est.total, dict(est.by_phase), est.batches, seconds, job.polls, notes)
    raise ValueError(f"no cost model for strategy {strategy!r}")


def recommend(predictions: list[Prediction], *, api_remaining: int | None = None) -> tuple[str, str]:
    """The strategy the one recommendation rule (`harness.recommendation`) picks from predicted figures, and
    why; with a budget, how much of it the pick leaves (a pick over budget says so, it is not dropped:
    every other strategy costs more)."""
    choice = choose([Candidate(p.strategy, p.calls, p.seconds) for p in predictions], estimated=True)
    reason = choice.reason
    chosen = next((p for p in predictions if p.strategy == choice.strategy), None)
    if api_remaining is not None and chosen is not None:
        reason += f"; leaves {api_remaining - chosen.calls:,} of {api_remaining:,} remaining daily API requests"
        if chosen.calls > api_remaining:
            reason += " (EXCEEDS the remaining budget)"
    return choice.strategy, reason


def plan(n: int, profile_name: str = "realistic", *, time_scale: float | None = None, fields: int = 3,
         strategies: tuple[str, ...] = STRATEGY_ORDER, poll_policy: PollPolicy | None = None,
         api_remaining: int | None = None, concurrency: int | None = None) -> tuple[list[Prediction], str, str]:
    profile = get_profile(profile_name, time_scale)
    predictions = [predict(s, n, profile, fields=fields, poll_policy=poll_policy, concurrency=concurrency) for s in strategies]
    choice, reason = recommend(predictions, api_remaining=api_remaining)
    return predictions, choice, reason
