"""Predictions of API calls, Bulk batches and time for each strategy, from an org profile.

Requests come from each strategy's own formula (`api_calls`), so prediction and implementation cannot
drift; the only free input of a Bulk formula is the number of status polls, which is derived here by
replaying the strategies' own poller (`strategies.polling.plan_checks`: backoff, then the job's progress)
against the job's predicted processing: queue wait, then units finishing wave by wave. The org profile
(emulator/profiles.py, docs/org-profile.md) is the one the emulator runs on and `sfharness calibrate`
writes: its counting rules turn requests into the calls the org counts (a free status poll costs
nothing, a Composite Batch may cost N+1), and its timings give the seconds, plus a per-request client
overhead. Predictions are checked against measurements in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from emulator.profiles import OrgProfile, get_profile
from strategies import registry
from strategies.bulk2_csv import DEFAULT_MAX_JOB_BYTES
from strategies.polling import PollPolicy, plan_checks

BULK1_BATCH = 10_000
TRANSACTION = 200  # records per bulk transaction: the step in which job info's processed count grows
CLIENT_OVERHEAD_S = 0.0007  # measured: client + emulator cost of one small request on the instant profile
SYNC_CPU_PER_RECORD_S = 0.00012  # measured: serialising, parsing and storing one record of a synchronous write
# Measured on the emulator (2-core machine): its own work per bulk record beyond the profile's delays.
# On a real org this is part of Salesforce's processing time; set them to 0 there (see `predict`).
BULK2_CPU_PER_RECORD_S = 0.0001
BULK1_CPU_PER_RECORD_S = 0.00005  # processing an XML batch
BULK1_UPLOAD_CPU_PER_RECORD_S = 0.0001  # the add-batch request parses the XML to enforce the record limit
STRATEGY_ORDER = ("rest", "collections", "composite", "bulk1-xml", "bulk2-csv")
PHASE_KINDS: dict[str, dict[str, str]] = {
    "rest": {"dml": "rest.sobject_write"},
    "collections": {"dml": "rest.collections"},
    "composite": {"dml": "rest.composite"},
    "bulk1-xml": {"create": "bulk1.create", "upload": "bulk1.upload", "close": "bulk1.close", "poll": "bulk1.status",
                  "results": "bulk1.result"},
    "bulk2-csv": {"create": "bulk2.create", "upload": "bulk2.upload", "close": "bulk2.close", "poll": "bulk2.status",
                  "results": "bulk2.failed_results"},
}
"""The request kind (emulator/request_kinds.py) each strategy's requests of a phase are."""
COMMON_PHASE_KINDS = {"describe": "rest.describe", "limits": "rest.limits", "query": "rest.query"}


@dataclass
class Prediction:
    """`calls` and `calls_by_phase` are what the org counts (the profile's counting rules applied to the
    strategy's requests); `requests` is every HTTP request the client makes (its own meter's count)."""

    strategy: str
    records: int
    calls: int
    calls_by_phase: dict[str, int]
    batches: int
    seconds: float
    polls: int = 0
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    jobs: int = 0
    exceeds_budget: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "records": self.records, "calls": self.calls, "calls_by_phase": self.calls_by_phase,
                "requests": self.requests, "batches": self.batches, "jobs": self.jobs, "seconds": round(self.seconds, 3),
                "polls": self.polls, "exceeds_budget": self.exceeds_budget, "notes": self.notes}


def counted_calls(strategy: str, requests_by_phase: dict[str, int], profile: OrgProfile) -> dict[str, int]:
    """The calls the org counts for a strategy's requests, by phase, under the profile's counting rules."""
    kinds = {**COMMON_PHASE_KINDS, **PHASE_KINDS.get(strategy, {})}
    counting = profile.counting
    return {phase: n * counting.calls(kinds[phase]) for phase, n in requests_by_phase.items()}


def _prediction(strategy: str, n: int, profile: OrgProfile, by_phase: dict[str, int], batches: int, seconds: float,
                polls: int = 0, jobs: int = 0, notes: list[str] | None = None) -> Prediction:
    counted = counted_calls(strategy, by_phase, profile)
    return Prediction(strategy, n, sum(counted.values()), counted, batches, seconds, polls, notes or [],
                      requests=sum(by_phase.values()), jobs=jobs)


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


def _request(profile: OrgProfile, *, write: bool, records: int = 0, subrequests: int = 0, body_bytes: int = 0) -> float:
    return profile.request_delay(write=write, records=records, subrequests=subrequests, body_bytes=body_bytes) + CLIENT_OVERHEAD_S


def _bulk_processing(profile: OrgProfile, family: str, units: list[int], cpu_per_record: float = 0.0) -> tuple[float, list[tuple[float, float, int]]]:
    """Server time from close to done (queue wait, then units run `bulk_parallelism` at a time), and each
    unit's (start, end, records) in seconds after close."""
    if not units:
        return 0.0, []
    queue = profile.scaled(profile.timings.bulk(family).queue_median_s)
    lanes = [queue] * max(1, profile.timings.bulk_parallelism)
    spans: list[tuple[float, float, int]] = []
    for n in units:  # in submission order, each to the lane that frees first (as the emulator's pool does)
        i = lanes.index(min(lanes))
        start = lanes[i]
        lanes[i] += profile.batch_seconds(family, n) + n * cpu_per_record
        spans.append((start, lanes[i], n))
    return max(lanes), spans


def bulk2_job_sizes(n: int, row_bytes: int, header_bytes: int = 0) -> list[int]:
    """Records per Bulk 2.0 job: bulk2-csv starts a new job before an upload would pass 100 MB of CSV."""
    per_job = max(1, (DEFAULT_MAX_JOB_BYTES - header_bytes) // max(1, row_bytes))
    return [min(per_job, n - s) for s in range(0, n, per_job)]


def predict(strategy: str, n: int, profile: OrgProfile, *, fields: int = 3, row_bytes: int | None = None,
            poll_policy: PollPolicy | None = None, rest_concurrency: int = 1) -> Prediction:
    """Calls (as the org counts them), batches and seconds for `strategy` updating `n` records of
    `fields` fields each (`row_bytes`: one CSV row's size, for the Bulk 2.0 jobs per 100 MB)."""
    cls = registry.strategy_class(strategy)
    row_bytes = row_bytes or (19 + fields * 8)
    policy = poll_policy or PollPolicy()
    if strategy == "rest":
        est = cls.api_calls(n)
        seconds = n * _request(profile, write=True, records=1, body_bytes=row_bytes * 2) / max(1, rest_concurrency)
        return _prediction(strategy, n, profile, dict(est.by_phase), 0, seconds)
    if strategy in ("collections", "composite"):
        est = cls.api_calls(n)
        per_call = 200 if strategy == "collections" else 1000
        seconds = 0.0
        for start in range(0, n, per_call):
            m = min(per_call, n - start)
            subs = math.ceil(m / 200) if strategy == "composite" else 0
            seconds += _request(profile, write=True, records=m, subrequests=subs, body_bytes=m * (row_bytes + 40)) + m * SYNC_CPU_PER_RECORD_S
        return _prediction(strategy, n, profile, dict(est.by_phase), 0, seconds)
    if strategy == "bulk2-csv":
        per_batch = profile.counting.bulk2_records_per_batch
        sizes = bulk2_job_sizes(n, row_bytes, header_bytes=row_bytes)
        per_poll = _request(profile, write=False)
        polls = 0
        seconds = 0.0
        for size in sizes:  # one job after another, as bulk2-csv runs them
            units = [min(per_batch, size - s) for s in range(0, size, per_batch)]
            processing, finished = _bulk_processing(profile, "bulk2", units, BULK2_CPU_PER_RECORD_S)
            job_polls, lag = job_checks(finished, processing, policy, per_poll)
            polls += job_polls
            upload = _request(profile, write=True, body_bytes=size * row_bytes)
            seconds += 3 * _request(profile, write=True) + upload + processing + job_polls * per_poll + lag
        est = cls.api_calls(n, polls=polls, job_sizes=sizes)
        seconds += est.by_phase.get("results", 0) * per_poll
        batches = sum(profile.counting.bulk2_batches(size) for size in sizes)
        notes = [f"{len(sizes)} jobs of up to {sizes[0]:,} records (100 MB of CSV each)"] if len(sizes) > 1 else []
        return _prediction(strategy, n, profile, dict(est.by_phase), batches, seconds, polls, len(sizes), notes)
    if strategy == "bulk1-xml":
        units = [min(BULK1_BATCH, n - s) for s in range(0, n, BULK1_BATCH)]
        processing, finished = _bulk_processing(profile, "bulk1", units, BULK1_CPU_PER_RECORD_S)
        per_poll = _request(profile, write=False)
        polls, lag = job_checks(finished, processing, policy, per_poll) if n else (0, 0.0)
        est = cls.api_calls(n, polls=polls)
        xml_bytes = row_bytes * 3
        uploads = sum(_request(profile, write=True, body_bytes=u * xml_bytes) + u * BULK1_UPLOAD_CPU_PER_RECORD_S for u in units)
        seconds = 2 * _request(profile, write=True) + uploads + processing + polls * per_poll + lag
        return _prediction(strategy, n, profile, dict(est.by_phase), est.batches, seconds, polls, 1 if n else 0)
    raise ValueError(f"no cost model for strategy {strategy!r}")


def recommend(predictions: list[Prediction], *, api_remaining: int | None = None, batches_remaining: int | None = None) -> tuple[str, str]:
    """Fewest API calls wins (the budget is what users run out of); time breaks ties. Says why."""
    usable = [p for p in predictions if batches_remaining is None or p.batches <= batches_remaining]
    if not usable:
        return "", "no strategy fits the remaining Bulk batch allocation"
    best = min(usable, key=lambda p: (p.calls, p.seconds))
    runner_up = sorted(usable, key=lambda p: (p.calls, p.seconds))[1:2]
    reason = f"{best.strategy}: {best.calls} API call(s), about {_fmt_s(best.seconds)}"
    if runner_up:
        r = runner_up[0]
        reason += f"; next best {r.strategy}: {r.calls} call(s), about {_fmt_s(r.seconds)}"
    if api_remaining is not None:
        reason += f"; leaves {api_remaining - best.calls:,} of {api_remaining:,} remaining daily API requests"
        if best.calls > api_remaining:
            reason += " (EXCEEDS the remaining budget)"
    return best.strategy, reason


def _fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plan(n: int, profile: str | OrgProfile = "realistic", *, time_scale: float | None = None, fields: int = 3,
         strategies: tuple[str, ...] = STRATEGY_ORDER, poll_policy: PollPolicy | None = None,
         api_remaining: int | None = None, row_bytes: int | None = None) -> tuple[list[Prediction], str, str]:
    """Predict every strategy on `profile` (a built-in name, a profile file or an `OrgProfile`), flag those
    whose calls exceed `api_remaining`, and recommend one. On a time-scaled profile the poll policy is
    scaled alike, as `compare` scales its strategies' polling, so the prediction is of such a run."""
    org_profile = get_profile(profile, time_scale)
    if poll_policy is None and org_profile.has_delays and org_profile.time_scale not in (0, 1):
        poll_policy = PollPolicy().scaled(1.0 / org_profile.time_scale)
    predictions = [predict(s, n, org_profile, fields=fields, poll_policy=poll_policy, row_bytes=row_bytes) for s in strategies]
    if api_remaining is not None:
        for p in predictions:
            p.exceeds_budget = p.calls > api_remaining
    choice, reason = recommend(predictions, api_remaining=api_remaining)
    return predictions, choice, reason
