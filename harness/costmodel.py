"""Predictions of API calls, Bulk batches and time for each strategy, from an org profile.

Requests come from each strategy's own formula (`api_calls`), so prediction and implementation cannot
drift; the only free input of a Bulk formula is the number of status polls, which is derived here by
replaying the strategies' own poller (`strategies.polling.plan_checks`: backoff, then the job's progress)
against the job's predicted processing: queue wait, then units finishing wave by wave. The org profile
(emulator/profiles.py, docs/org-profile.md) is the one the emulator runs on and `sfharness calibrate`
writes: its counting rules turn requests into the calls the org counts (a free status poll costs
nothing, a Composite Batch may cost N+1), and its timings give the seconds, plus a per-request client
overhead. Predictions are checked against measurements in the tests.

Synchronous strategies (`rest`, `collections`, `composite`) send up to `concurrency` requests at once
(`_synchronous_seconds`): each request's waiting (network, the org's server time) overlaps with the
others', its CPU work (serialising, parsing, storing) does not, beyond the client and the org running
side by side.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from emulator.profiles import OrgProfile, get_profile
from strategies import registry
from strategies.bulk2_csv import DEFAULT_MAX_JOB_BYTES, fits_one_request
from strategies.polling import PollPolicy, plan_checks

from .formatting import duration
from .recommendation import Candidate, choose

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
BATCH_GUIDANCE_S = 300.0
"""Salesforce's batch-size guidance: a batch that takes more than 5 minutes should be made smaller
(latency-calibration.md section 4, DOC). A Bulk unit predicted to take longer, or to be retried past its
time limit, puts its strategy at risk; `plan` then also offers bulk1-xml with batches that fit."""
PHASE_KINDS: dict[str, dict[str, str]] = {
    "rest": {"dml": "rest.sobject_write"},
    "collections": {"dml": "rest.collections"},
    "composite": {"dml": "rest.composite"},
    "bulk1-xml": {
        "create": "bulk1.create",
        "upload": "bulk1.upload",
        "close": "bulk1.close",
        "poll": "bulk1.status",
        "results": "bulk1.result",
    },
    "bulk2-csv": {
        "create": "bulk2.create",
        "upload": "bulk2.upload",
        "close": "bulk2.close",
        "poll": "bulk2.status",
        "results": "bulk2.failed_results",
    },
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
    retries: int = 0  # Bulk units stopped at their time limit and queued again
    unprocessed: int = 0  # records left when a unit runs out of retries (the job or batch fails)
    longest_unit_s: float = 0.0  # the longest Bulk unit's work, in the profile's real time
    options: dict[str, Any] = field(default_factory=dict)  # strategy options the prediction assumes
    recommended: bool = False  # set by `recommend` on the one it picks
    concurrency: int = 1
    """Requests sent at once (synchronous strategies; Bulk strategies send theirs one after another)."""

    @property
    def label(self) -> str:
        size = self.options.get("batch_records")
        return f"{self.strategy} (batches of {size:,})" if size else self.strategy

    @property
    def at_risk(self) -> bool:
        """Units retried past their time limit, or longer than Salesforce's 5-minute batch guidance."""
        return self.unprocessed > 0 or self.retries > 0 or self.longest_unit_s > BATCH_GUIDANCE_S

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "label": self.label,
            "options": self.options,
            "records": self.records,
            "calls": self.calls,
            "calls_by_phase": self.calls_by_phase,
            "requests": self.requests,
            "batches": self.batches,
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "polls": self.polls,
            "retries": self.retries,
            "unprocessed": self.unprocessed,
            "longest_unit_s": round(self.longest_unit_s, 1),
            "at_risk": self.at_risk,
            "exceeds_budget": self.exceeds_budget,
            "recommended": self.recommended,
            "notes": self.notes,
            "concurrency": self.concurrency,
        }


def counted_calls(strategy: str, requests_by_phase: dict[str, int], profile: OrgProfile) -> dict[str, int]:
    """The calls the org counts for a strategy's requests, by phase, under the profile's counting rules."""
    kinds = {**COMMON_PHASE_KINDS, **PHASE_KINDS.get(strategy, {})}
    counting = profile.counting
    return {phase: n * counting.calls(kinds[phase]) for phase, n in requests_by_phase.items()}


def _prediction(
    strategy: str,
    n: int,
    profile: OrgProfile,
    by_phase: dict[str, int],
    batches: int,
    seconds: float,
    polls: int = 0,
    jobs: int = 0,
    notes: list[str] | None = None,
) -> Prediction:
    counted = counted_calls(strategy, by_phase, profile)
    return Prediction(
        strategy,
        n,
        sum(counted.values()),
        counted,
        batches,
        seconds,
        polls,
        notes or [],
        requests=sum(by_phase.values()),
        jobs=jobs,
    )


def job_checks(
    units: list[tuple[float, float, int]], finish: float, policy: PollPolicy, per_poll: float = 0.0
) -> tuple[int, float]:
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
    return (
        profile.request_delay(write=write, records=records, subrequests=subrequests, body_bytes=body_bytes)
        + CLIENT_OVERHEAD_S
    )


class _SyncCall(NamedTuple):
    """One synchronous request: seconds spent waiting (overlaps with other requests) and on CPU (does not)."""

    waiting: float
    cpu: float


def _sync_call(profile: OrgProfile, records: int, *, subrequests: int = 0, body_bytes: int = 0) -> _SyncCall:
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


def unit_attempts(profile: OrgProfile, family: str, n: int) -> tuple[list[tuple[float, int]], int]:
    """A Bulk unit of `n` records as the emulator runs it: its attempts as (seconds, records committed),
    time-scaled, and the records left unprocessed when it runs out of retries (docs/org-profile.md,
    "Time limits and retries")."""
    b = profile.timings.bulk(family)
    whole = profile.batch_seconds(family, n)
    limit = profile.scaled(b.batch_time_limit_s)
    if limit <= 0 or whole <= limit:
        return [(whole, n)], 0
    sizes = [TRANSACTION] * (n // TRANSACTION) + ([n % TRANSACTION] if n % TRANSACTION else [])
    overhead = profile.batch_overhead(family)
    attempts: list[tuple[float, int]] = []
    i = 0
    while i < len(sizes) and len(attempts) <= b.max_retries:
        spent, done = overhead, 0
        while i < len(sizes) and spent <= limit:
            cost = profile.chunk_seconds(family, sizes[i])
            if spent + cost > limit:
                break
            spent, done, i = spent + cost, done + sizes[i], i + 1
        attempts.append((limit if i < len(sizes) else spent, done))
    return attempts, sum(sizes[i:])


@dataclass
class BulkRun:
    """The predicted processing of one Bulk job (seconds after close, time-scaled)."""

    finish: float
    spans: list[tuple[float, float, int]]  # each unit's (first start, last end, records)
    retries: int
    unprocessed: int


def _bulk_processing(profile: OrgProfile, family: str, units: list[int], cpu_per_record: float = 0.0) -> BulkRun:
    """Server time from close to done: a queue wait, then units run `bulk_parallelism` at a time, each
    in submission order to the slot that frees first (as the emulator's pool does); a retried unit gives
    its slot up, waits the queue again and takes the next free slot."""
    if not units:
        return BulkRun(0.0, [], 0, 0)
    queue = profile.scaled(profile.timings.bulk(family).queue_median_s)
    lanes = [queue] * max(1, profile.timings.bulk_parallelism)
    plans = [unit_attempts(profile, family, n) for n in units]
    ready = [(queue, k, k, 0) for k in range(len(units))]  # (ready at, order, unit, attempt)
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    order = len(units)
    while ready:
        at, _, unit, attempt = heapq.heappop(ready)
        i = lanes.index(min(lanes))
        start = max(at, lanes[i])
        seconds, done = plans[unit][0][attempt]
        lanes[i] = start + seconds + done * cpu_per_record
        first.setdefault(unit, start)
        last[unit] = lanes[i]
        if attempt + 1 < len(plans[unit][0]):
            heapq.heappush(ready, (lanes[i] + queue, order, unit, attempt + 1))
            order += 1
    spans = [(first[k], last[k], n) for k, n in enumerate(units)]
    return BulkRun(max(last.values()), spans, sum(len(a) - 1 for a, _ in plans), sum(u for _, u in plans))


def _longest_unit_s(profile: OrgProfile, family: str, units: list[int]) -> float:
    """The longest unit's work in the profile's real time (what the 5-minute guidance is about)."""
    n = max(units, default=0)
    scale = profile.time_scale if profile.time_scale > 0 else 1.0
    return profile.batch_seconds(family, n) * scale if n else 0.0


def bulk2_job_sizes(n: int, row_bytes: int, header_bytes: int = 0) -> list[int]:
    """Records per Bulk 2.0 job: bulk2-csv starts a new job before an upload would pass 100 MB of CSV."""
    per_job = max(1, (DEFAULT_MAX_JOB_BYTES - header_bytes) // max(1, row_bytes))
    return [min(per_job, n - s) for s in range(0, n, per_job)]


def predict(
    strategy: str,
    n: int,
    profile: OrgProfile,
    *,
    fields: int = 3,
    row_bytes: int | None = None,
    poll_policy: PollPolicy | None = None,
    concurrency: int | None = None,
    bulk1_batch_records: int = BULK1_BATCH,
    multipart: bool = True,
    operation: str = "update",
) -> Prediction:
    """Calls (as the org counts them), batches and seconds for `strategy` updating `n` records of
    `fields` fields each (`row_bytes`: one CSV row's size, for the Bulk 2.0 jobs per 100 MB and for
    whether a job goes in one request; `bulk1_batch_records`: bulk1-xml's batch size; `multipart`:
    bulk2-csv sends a job whose CSV, the header counted as one more row, is under 100,000 characters with
    its create request, 1 call instead of 3). Synchronous strategies send `concurrency` requests at once
    (None: the strategy's default; `auto` passes it to `composite`). `operation` "upsert" adds what an
    upsert reads that an update does not (each Bulk 2.0 job's successfulResults, every Bulk 1.0 batch's
    results) through the strategies' own formulas, and times records as the profile times an upsert's
    (`OrgProfile.for_operation`: its UNCONFIRMED extra per record, 0 by default)."""
    cls = registry.strategy_class(strategy)
    profile = profile.for_operation(operation)
    row_bytes = row_bytes or (19 + fields * 8)
    policy = poll_policy or PollPolicy()
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
        p = _prediction(strategy, n, profile, dict(est.by_phase), 0, seconds)
        p.concurrency = lanes
        return p
    if strategy == "bulk2-csv":
        per_batch = profile.counting.bulk2_records_per_batch
        sizes = bulk2_job_sizes(n, row_bytes, header_bytes=row_bytes)
        per_poll = _request(profile, write=False)
        polls = retries = unprocessed = failing_jobs = 0
        seconds = longest = 0.0
        for size in sizes:  # one job after another, as bulk2-csv runs them
            units = [min(per_batch, size - s) for s in range(0, size, per_batch)]
            run = _bulk_processing(profile, "bulk2", units, BULK2_CPU_PER_RECORD_S)
            job_polls, lag = job_checks(run.spans, run.finish, policy, per_poll)
            polls, retries, unprocessed = polls + job_polls, retries + run.retries, unprocessed + run.unprocessed
            failing_jobs += 1 if run.unprocessed else 0
            longest = max(longest, _longest_unit_s(profile, "bulk2", units))
            upload = _request(profile, write=True, body_bytes=size * row_bytes)
            if multipart and fits_one_request((size + 1) * row_bytes):  # ASCII rows: a byte is a character
                sending = upload  # the create request carries the CSV; the org closes the job
            else:
                sending = 3 * _request(profile, write=True) + upload
            seconds += sending + run.finish + job_polls * per_poll + lag
        est = cls.api_calls(
            n,
            polls=polls,
            job_sizes=sizes,
            jobs_with_unprocessed=failing_jobs,
            row_chars=row_bytes,
            multipart=multipart,
            operation=operation,
        )
        seconds += est.by_phase.get("results", 0) * per_poll
        batches = sum(profile.counting.bulk2_batches(size) for size in sizes)
        notes = [f"{len(sizes)} jobs of up to {sizes[0]:,} records (100 MB of CSV each)"] if len(sizes) > 1 else []
        notes += _risk_notes("internal batches", per_batch, longest, retries, unprocessed, profile, "bulk2")
        p = _prediction(strategy, n, profile, dict(est.by_phase), batches, seconds, polls, len(sizes), notes)
        p.retries, p.unprocessed, p.longest_unit_s = retries, unprocessed, longest
        return p
    if strategy == "bulk1-xml":
        size = bulk1_batch_records
        units = [min(size, n - s) for s in range(0, n, size)]
        run = _bulk_processing(profile, "bulk1", units, BULK1_CPU_PER_RECORD_S)
        per_poll = _request(profile, write=False)
        polls, lag = job_checks(run.spans, run.finish, policy, per_poll) if n else (0, 0.0)
        troubled = sum(1 for u in units if unit_attempts(profile, "bulk1", u)[1])
        est = cls.api_calls(n, polls=polls, batch_records=size, batches_with_failures=troubled, operation=operation)
        xml_bytes = row_bytes * 3
        uploads = sum(
            _request(profile, write=True, body_bytes=u * xml_bytes) + u * BULK1_UPLOAD_CPU_PER_RECORD_S for u in units
        )
        seconds = 2 * _request(profile, write=True) + uploads + run.finish + polls * per_poll + lag
        if operation == "upsert":  # every batch's results, read one after another
            seconds += est.by_phase.get("results", 0) * per_poll
        longest = _longest_unit_s(profile, "bulk1", units)
        notes = _risk_notes("batches", size, longest, run.retries, run.unprocessed, profile, "bulk1")
        p = _prediction(strategy, n, profile, dict(est.by_phase), est.batches, seconds, polls, 1 if n else 0, notes)
        p.retries, p.unprocessed, p.longest_unit_s = run.retries, run.unprocessed, longest
        if size != BULK1_BATCH:
            p.options = {"batch_records": size}
        return p
    raise ValueError(f"no cost model for strategy {strategy!r}")


def _risk_notes(
    what: str, size: int, longest: float, retries: int, unprocessed: int, profile: OrgProfile, family: str
) -> list[str]:
    limit = profile.timings.bulk(family).batch_time_limit_s
    notes = []
    if longest > BATCH_GUIDANCE_S:
        notes.append(f"{what} of {size:,} records take about {duration(longest)}, over Salesforce's 5-minute guidance")
    if retries:
        notes.append(f"{retries:,} retried past the {limit:g} s limit")
    if unprocessed:
        notes.append(f"{unprocessed:,} records not processed: a unit runs out of retries and the job fails")
    return notes


def fitting_batch_records(profile: OrgProfile, family: str = "bulk1") -> int:
    """The largest batch (a multiple of 200 records, at most 10,000) whose work stays within the
    5-minute guidance and the family's time limit, in the profile's real time (0: not even 200 do)."""
    b = profile.timings.bulk(family)
    bound = min(BATCH_GUIDANCE_S, b.batch_time_limit_s) if b.batch_time_limit_s > 0 else BATCH_GUIDANCE_S
    per_transaction_s = (b.chunk_overhead_ms + TRANSACTION * b.per_record_ms) / 1000.0
    if per_transaction_s <= 0:
        return BULK1_BATCH
    transactions = int((bound - b.batch_overhead_s) / per_transaction_s)
    return max(0, min(BULK1_BATCH, transactions * TRANSACTION))


def recommend(predictions: list[Prediction], *, api_remaining: int | None = None) -> tuple[str, str]:
    """The strategy the one recommendation rule (`harness.recommendation`) picks from predicted figures,
    and why. A prediction at risk (Bulk units retried past their time limit, or longer than the 5-minute
    guidance) ranks after every one that is not. With a budget, the reason says how much of it the pick
    leaves (a pick over budget says so; it is not dropped: every other strategy costs more)."""
    candidates = [
        Candidate(p.label, p.calls, p.seconds, at_risk=p.at_risk, risk="; ".join(p.notes)) for p in predictions
    ]
    choice = choose(candidates, estimated=True)
    chosen = next((p for p in predictions if p.label == choice.strategy), None)
    if chosen is None:
        return "", choice.reason
    chosen.recommended = True
    reason = choice.reason
    if api_remaining is not None:
        reason += f"; leaves {api_remaining - chosen.calls:,} of {api_remaining:,} remaining daily API requests"
        if chosen.calls > api_remaining:
            reason += " (EXCEEDS the remaining budget)"
    return chosen.strategy, reason


def plan(
    n: int,
    profile: str | OrgProfile = "realistic",
    *,
    time_scale: float | None = None,
    fields: int = 3,
    strategies: tuple[str, ...] = STRATEGY_ORDER,
    poll_policy: PollPolicy | None = None,
    api_remaining: int | None = None,
    row_bytes: int | None = None,
    concurrency: int | None = None,
    operation: str = "update",
) -> tuple[list[Prediction], str, str]:
    """Predict every strategy on `profile` (a built-in name, a profile file or an `OrgProfile`), flag those
    whose calls exceed `api_remaining`, and recommend one. On a time-scaled profile the poll policy is
    scaled alike, as `compare` scales its strategies' polling, so the prediction is of such a run."""
    org_profile = get_profile(profile, time_scale)
    if poll_policy is None and org_profile.has_delays and org_profile.time_scale not in (0, 1):
        poll_policy = PollPolicy().scaled(1.0 / org_profile.time_scale)
    predictions = [
        predict(
            s,
            n,
            org_profile,
            fields=fields,
            poll_policy=poll_policy,
            row_bytes=row_bytes,
            concurrency=concurrency,
            operation=operation,
        )
        for s in strategies
    ]
    if "bulk1-xml" in strategies and any(p.at_risk for p in predictions):
        # The docs' advice for batches that take too long: make them smaller. Bulk 2.0's internal batches
        # are Salesforce's to size, so the smaller batches are Bulk 1.0's.
        size = fitting_batch_records(org_profile)
        if 0 < size < BULK1_BATCH:
            predictions.append(
                predict(
                    "bulk1-xml",
                    n,
                    org_profile,
                    fields=fields,
                    poll_policy=poll_policy,
                    row_bytes=row_bytes,
                    bulk1_batch_records=size,
                    operation=operation,
                )
            )
    if api_remaining is not None:
        for p in predictions:
            p.exceeds_budget = p.calls > api_remaining
    choice, reason = recommend(predictions, api_remaining=api_remaining)
    return predictions, choice, reason


READBACK_BULK_POLLS = 4  # a Bulk 2.0 query job's status checks, about (setup work, not a strategy's formula)
READBACK_PAGE = 100_000  # records per Bulk 2.0 query result page the read-back asks for


def readback_calls(n: int) -> int:
    """About how many API calls `Workload.verify` spends reading `n` records back: REST queries of up to
    `workload.KEYS_PER_QUERY` Ids (or an upsert's keys) at or below `workload.BULK_VERIFY_THRESHOLD`, else
    one Bulk 2.0 query job (create, polls, result pages)."""
    from .workload import BULK_VERIFY_THRESHOLD, KEYS_PER_QUERY

    if n <= 0:
        return 0
    if n <= BULK_VERIFY_THRESHOLD:
        return math.ceil(n / KEYS_PER_QUERY)
    return 1 + READBACK_BULK_POLLS + math.ceil(n / READBACK_PAGE)


def expected_bulk2_polls(n: int, profile: OrgProfile, *, poll_policy: PollPolicy | None = None) -> int:
    """How many status polls a Bulk 2.0 job of `n` records is predicted to need on `profile`: what `auto`
    should weigh instead of its fixed default when the org's profile is known (on an org that finishes a
    small job before the first check, 1, which lets a one-request job beat Composite from 2,001 records)."""
    return max(1, predict("bulk2-csv", n, profile, poll_policy=poll_policy).polls)


def run_calls(
    strategy: str, n: int, profile: OrgProfile, *, poll_policy: PollPolicy | None = None, operation: str = "update"
) -> int:
    """The API calls one measured `compare` run of `strategy` is predicted to make, its read-back included.

    Our strategies use `predict` (polls replayed on the profile); `auto` costs its /limits call plus the
    strategy it would pick; a library baseline its own formula (`api_calls`, polls at their minimum). An
    upsert (`operation`) adds what each formula says an upsert reads besides (its created/updated results).
    """
    if registry.is_baseline(strategy):
        calls = registry.strategy_class(strategy, include_baselines=True).api_calls(n, operation=operation).total
    elif strategy == "auto":
        polls = expected_bulk2_polls(n, profile, poll_policy=poll_policy)
        chosen, _why = registry.strategy_class("auto").choose(n, expected_polls=polls)  # type: ignore[attr-defined]
        calls = 1 + predict(chosen, n, profile, poll_policy=poll_policy, operation=operation).calls
    else:
        calls = predict(strategy, n, profile, poll_policy=poll_policy, operation=operation).calls
    return calls + readback_calls(n)
