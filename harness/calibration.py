"""`sfharness calibrate`: measure an org and write its org profile (docs/org-profile.md).

What is measured, in order, and how:

1. **Which requests count.** One request of each kind a strategy uses (per-record PATCH, Collections,
   Composite, Composite Batch, describe, query/queryMore, and every step of a one-record Bulk 1.0 and
   Bulk 2.0 job), each between two readings of the org's own counter (`calibration_counter`: GET /limits
   and its Sforce-Limit-Info, read until stable, allowing for a figure that lags). The Bulk 2.0 job's
   `DailyBulkApiBatches` movement gives the batches a job costs beyond its data.
2. **Synchronous latency.** `--repeat` samples of: the free versions list (the network round trip), a
   record GET, a Collections PATCH of two sizes (per-request time and per-record cost, fitted from the
   two), and a Composite of one and of five subrequests over the same records (per-subrequest cost).
3. **Bulk speed.** For Bulk 2.0 and Bulk 1.0, one job of each of two sizes: queue wait and processing
   time from the jobs' own server timestamps and `totalProcessingTime`, so polling late costs no
   accuracy and few status checks are needed; per-record cost and per-batch overhead fitted from the two.

Every write sends records the values they already hold (`calibration_records`). The requests it will
make are counted before it starts (`calibration_plan`, an upper bound: every wait is bounded by a number
of status checks), and `max_calls` is enforced on every request. Times measured on an org running faster
than real time (an emulator with `--time-scale`) are multiplied back by `time_scale`.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from emulator.profiles import OrgProfile, Timings, get_profile, profile_from_document
from strategies.errors import ApiError
from strategies.meter import FAMILY_REST
from strategies.polling import PollPolicy
from strategies.transport import OrgSession, RetryPolicy

from .calibration_counter import ProbeCost, Reading, UsageCounter
from .calibration_jobs import Bulk1Job, Bulk2Job, JobTiming
from .calibration_records import CalibrationRecords
from .orgs import OrgConnection

COUNTING_PROBES = (
    "rest.sobject_read",
    "rest.sobject_write",
    "rest.describe",
    "rest.query",
    "rest.query_more",
    "rest.collections",
    "rest.composite",
    "rest.composite_batch",
    "bulk2.create",
    "bulk2.upload",
    "bulk2.close",
    "bulk2.status",
    "bulk2.successful_results",
    "bulk2.failed_results",
    "bulk2.unprocessed_records",
    "bulk1.create",
    "bulk1.upload",
    "bulk1.close",
    "bulk1.status",
    "bulk1.batch_list",
    "bulk1.result",
)
"""One probe request each, in this order (`rest.limits` is the counter read itself)."""
PROBES_AFTER_A_WAIT = ("bulk2.successful_results", "bulk1.batch_list")
"""Probes that first wait for their one-record job to finish (status checks, then a fresh reading)."""
SYNC_SAMPLES = ("versions", "read", "collections_small", "collections_large", "composite_one", "composite_five")
COMPOSITE_BATCH_RULE = {1: "1", 2: "N", 3: "N+1"}  # calls for a Composite Batch of 2 subrequests -> rule


class BudgetReached(Exception):
    """The next request would pass --max-calls; calibration stops and reports what it has."""


@dataclass(frozen=True)
class CalibrationSettings:
    sobject: str = "Account"
    fields: tuple[str, ...] = ()  # named records mode when given
    where: str | None = None
    records: int = 500  # records worked on (named: at most this many); the large Bulk job's size
    repeat: int = 3  # samples per synchronous measurement
    max_calls: int = 250
    max_checks: int = 10  # status checks per Bulk job
    time_scale: float = 1.0  # the org runs this many times faster than real time
    read_interval_s: float = 0.5  # real seconds between counter reads (divided by time_scale)
    max_lag_s: float = 4.0  # longest reporting lag waited for (real seconds, divided by time_scale)
    max_settle_reads: int = 2
    name: str = "calibrated"

    @property
    def named(self) -> bool:
        return bool(self.fields)

    @property
    def small_job(self) -> int:
        return max(1, self.records // 10)

    def counter(self, read: Callable[[], requests.Response]) -> UsageCounter:
        scale = self.time_scale if self.time_scale > 0 else 1.0
        return UsageCounter(
            read,
            interval_s=self.read_interval_s / scale,
            max_lag_s=self.max_lag_s / scale,
            max_settle_reads=self.max_settle_reads,
        )

    def poll_policy(self) -> PollPolicy:
        scale = self.time_scale if self.time_scale > 0 else 1.0
        return PollPolicy().scaled(1.0 / scale) if scale != 1.0 else PollPolicy()


@dataclass(frozen=True)
class PlanStep:
    what: str
    requests: int
    batches: int = 0


def calibration_plan(settings: CalibrationSettings) -> list[PlanStep]:
    """Every step with the most requests and Bulk batches it can spend (their sum is the budget needed)."""
    s = settings
    counter = s.counter(lambda: requests.Response())
    checks = s.max_checks
    created_batches = 0 if s.named else -(-s.records // 10_000)
    probes = len(COUNTING_PROBES) * (1 + counter.probe_reads_bound()) + counter.lag_reads
    waits = len(PROBES_AFTER_A_WAIT) * (checks + 1) + 2  # + the queryMore probe's first page and a fresh read
    return [
        PlanStep("log in and check the org kind (one query)", 1),
        PlanStep(
            f"read {s.records:,} named {s.sobject} records"
            if s.named
            else f"create {s.records:,} {s.sobject} records (one Bulk 2.0 insert job) and read their ids",
            CalibrationRecords.setup_calls(s.named, s.records, checks),
            created_batches,
        ),
        PlanStep("learn what a counter read costs and how late it is", counter.setup_reads_bound()),
        PlanStep(
            f"{len(COUNTING_PROBES)} counting probes, each between counter reads (two one-record Bulk jobs)",
            probes + waits,
            2,
        ),
        PlanStep(f"synchronous latency: {s.repeat} x {len(SYNC_SAMPLES)} requests", s.repeat * len(SYNC_SAMPLES)),
        PlanStep(
            f"Bulk 2.0 and Bulk 1.0 speed: jobs of {s.small_job:,} and {s.records:,} records", 4 * (3 + checks), 4
        ),
        PlanStep(
            "read the counter a last time"
            + ("" if s.named else "; delete the created records (one Bulk 2.0 delete job)"),
            CalibrationRecords.cleanup_calls(s.named, checks) + 1,
            0 if s.named else created_batches,
        ),
    ]


@dataclass
class Measured:
    """One profile field as measured: value (real time), unit, and the per-sample values behind it."""

    name: str
    value: float
    unit: str
    samples: list[float] = field(default_factory=list)

    @property
    def spread(self) -> tuple[float, float] | None:
        return (min(self.samples), max(self.samples)) if len(self.samples) > 1 else None


@dataclass
class CountingResult:
    kind: str
    calls: int | None
    note: str = ""


@dataclass
class CalibrationResult:
    profile: OrgProfile
    counting: list[CountingResult]
    timings: dict[str, Measured]
    not_measured: list[str]
    notes: list[str]
    requests: int
    calls_counted: int | None
    batches_counted: int | None
    org_kind: str
    records_mode: str
    records: int
    lag_s: float | None = None  # how late the org's usage figure was (real seconds), when seen

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_document(),
            "counting": {c.kind: {"calls": c.calls, "note": c.note} for c in self.counting},
            "timings": {
                k: {"value": m.value, "unit": m.unit, "spread": m.spread, "samples": len(m.samples)}
                for k, m in self.timings.items()
            },
            "not_measured": self.not_measured,
            "notes": self.notes,
            "requests": self.requests,
            "calls_counted": self.calls_counted,
            "batches_counted": self.batches_counted,
            "org_kind": self.org_kind,
            "records_mode": self.records_mode,
            "records": self.records,
            "lag_s": self.lag_s,
        }


class Calibrator:
    def __init__(
        self, conn: OrgConnection, settings: CalibrationSettings, *, progress: Callable[[str], None] = lambda _m: None
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.progress = progress
        # No automatic retries: a retried request would be counted twice and spoil a probe.
        self.session: OrgSession = conn.session(retry=RetryPolicy(max_attempts=1))
        steps = calibration_plan(settings)
        self._reserve = steps[-1].requests  # the cleanup step may always run
        self._limit = settings.max_calls - steps[0].requests  # the org-kind query was made by connect
        self.counter = settings.counter(self._read_limits)
        self.records = CalibrationRecords(
            self.session,
            self.send,
            sobject=settings.sobject,
            fields=settings.fields,
            where=settings.where,
            count=settings.records,
        )
        self.notes: list[str] = []
        self._cleaning = False

    # -- the one way out ---------------------------------------------------------------------------------
    def send(self, method: str, url: str, *, family: str, **kw: Any) -> requests.Response:
        """Every calibration request: refused once it would pass --max-calls (the cleanup's share kept)."""
        used = self.session.meter.snapshot().api_total()
        limit = self._limit if self._cleaning else self._limit - self._reserve
        if used + 1 > limit:
            raise BudgetReached(f"stopped at --max-calls {self.settings.max_calls}: {used} requests made")
        return self.session.request(method, url, family=family, **kw)

    def _read_limits(self) -> requests.Response:
        return self.send("GET", self.session.rest_url("limits"), family=FAMILY_REST)

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> CalibrationResult:
        s = self.settings
        policy = s.poll_policy()
        counting: list[CountingResult] = []
        timings: dict[str, Measured] = {}
        first: Reading | None = None
        last: Reading | None = None
        try:
            self.progress(f"{'reading' if s.named else 'creating'} the records")
            self.records.load(policy, s.max_checks)
            self.progress("reading the API counter")
            first = self.counter.setup()
            self.progress("counting probes")
            counting, last = self._counting(first)
            self.progress("synchronous latency")
            timings.update(self._sync_timings())
            self.progress("Bulk speed")
            timings.update(self._bulk_timings(policy))
        except BudgetReached as err:
            self.notes.append(str(err))
        finally:
            self._cleaning = True
            try:
                self.records.cleanup(policy, s.max_checks)
            except BudgetReached as err:
                self.notes.append(f"cleanup: {err}")
            if self.records.cleanup_note:
                self.notes.append(self.records.cleanup_note)
            end = self._final_reading()
            self.session.close()
        if end is not None:
            last = end
        profile = self._profile(counting, timings)
        measured_kinds = {c.kind for c in counting if c.calls is not None}
        not_measured = [k for k in profile.counting.requests if k not in measured_kinds and k != "rest.limits"]
        folded = {
            n.replace("per_record_ms", "chunk_overhead_ms")
            for n in timings
            if n.startswith("bulk") and n.endswith("per_record_ms")
        }
        not_measured += [f.name for f in fields(Timings) if f.name not in timings and f.name not in folded]
        if self.counter.header_mismatches:
            self.notes.append(f"{self.counter.header_mismatches} Sforce-Limit-Info figures differed from /limits")
        if self.counter.lag_note:
            self.notes.append(f"usage report: {self.counter.lag_note}")
        lag = self._lag()
        return CalibrationResult(
            profile=profile,
            counting=counting,
            timings=timings,
            not_measured=not_measured,
            notes=self.notes,
            requests=self.session.meter.snapshot().api_total() + (0 if self.conn.is_emulator else 1),
            calls_counted=(last.api_used - first.api_used) if first and last else None,
            batches_counted=(last.batches_used - first.batches_used) if first and last else None,
            org_kind=self.conn.kind,
            records_mode=self.records.mode,
            records=len(self.records.ids),
            lag_s=lag,
        )

    def _lag(self) -> float | None:
        """How late the usage figure was (real seconds; 0 below the read interval, the resolution), when seen."""
        c = self.counter
        if c.lag_s is None or c.lag_note:
            return None
        return 0.0 if c.lag_s < c.interval_s else round(c.lag_s * self.settings.time_scale, 3)

    def _final_reading(self) -> Reading | None:
        try:
            return self.counter.quiet_read()
        except (BudgetReached, ApiError, requests.RequestException):
            return None

    # -- 1. counting ---------------------------------------------------------------------------------------
    def _counting(self, start: Reading) -> tuple[list[CountingResult], Reading]:
        results = [CountingResult("rest.limits", self.counter.read_cost, "a counter read")]
        before = start
        bulk2_start: Reading | None = None
        probes = self._probes()
        for kind in COUNTING_PROBES:
            prepare, act = probes[kind]
            if prepare is not None:
                note = prepare()
                before = self.counter.quiet_read()  # the preparation's requests stay out of the probe's reading
                if note:
                    results.append(CountingResult(kind, None, note))
                    continue
            if kind == "bulk2.create":
                bulk2_start = before
            if kind == "bulk2.successful_results" and bulk2_start is not None:
                batches = before.batches_used - bulk2_start.batches_used
                results.append(
                    CountingResult(
                        "bulk2_parent_batches", batches - 1, f"{batches} DailyBulkApiBatches for a one-record job"
                    )
                )
            errors: list[str] = []
            cost, before = self.counter.cost(before, _catching(act, errors))
            results.append(self._counted(kind, cost, errors))
        return results, before

    @staticmethod
    def _counted(kind: str, cost: ProbeCost, errors: list[str]) -> CountingResult:
        note = "; ".join([*errors, cost.note] if cost.note else errors)
        if kind == "rest.composite_batch" and cost.calls is not None:
            rule = COMPOSITE_BATCH_RULE.get(cost.calls)
            return CountingResult(
                kind,
                cost.calls,
                f"two subrequests cost {cost.calls}: " + (rule or "no known rule") + (f"; {note}" if note else ""),
            )
        return CountingResult(kind, cost.calls, note)

    def _probes(self) -> dict[str, tuple[Callable[[], str] | None, Callable[[], object]]]:
        """kind -> (a preparation run before the `before` reading, returning a reason to skip; the probe)."""
        r, s = self.records, self.session
        rid = r.ids[0]
        record = s.rest_url(f"sobjects/{r.sobject}/{rid}")
        row_url = f"v{s.api_version}/sobjects/{r.sobject}/{rid}"
        patch = {"method": "PATCH", "url": f"/services/data/{row_url}", "body": r.body(rid)}
        bulk2 = Bulk2Job(s, self.send, r.sobject)
        bulk1 = Bulk1Job(s, self.send, r.sobject)
        state: dict[str, str] = {}
        policy, checks = self.settings.poll_policy(), self.settings.max_checks

        def rest(method: str, url: str, **kw: Any) -> Callable[[], object]:
            return lambda: self.send(method, url, family=FAMILY_REST, **kw)

        def first_page() -> str:
            if len(r.ids) <= 200:
                return "needs more than 200 records (one page of 200, then the next)"
            soql = f"SELECT Id FROM {r.sobject} WHERE Id IN ({','.join(repr(i) for i in r.ids[:201])})"
            body = self.send(
                "GET",
                s.rest_url(f"query?q={quote(soql)}"),
                family=FAMILY_REST,
                headers={"Sforce-Query-Options": "batchSize=200"},
            ).json()
            if body.get("done", True):
                return "the org answered 201 records in one page"
            state["next"] = body["nextRecordsUrl"]
            return ""

        def finish(job: Bulk1Job | Bulk2Job) -> Callable[[], str]:
            def run() -> str:
                info, _ = job.wait(policy, checks)
                done = info.get("state") in ("JobComplete", "Completed", "Failed")
                return "" if done else f"its one-record job was not done after {checks} status checks"

            return run

        query = f"SELECT Id FROM {r.sobject} WHERE Id = '{rid}'"
        subs = [{"method": "PATCH", "url": row_url, "richInput": r.body(rid)}] * 2
        return {
            "rest.sobject_read": (None, rest("GET", record + "?fields=Id")),
            "rest.sobject_write": (None, rest("PATCH", record, json_body=r.body(rid))),
            "rest.describe": (None, rest("GET", s.rest_url(f"sobjects/{r.sobject}/describe"))),
            "rest.query": (None, rest("GET", s.rest_url(f"query?q={quote(query)}"))),
            "rest.query_more": (first_page, lambda: self.send("GET", s.rest_url(state["next"]), family=FAMILY_REST)),
            "rest.collections": (None, rest("PATCH", s.rest_url("composite/sobjects"), json_body=r.collection([rid]))),
            "rest.composite": (
                None,
                rest(
                    "POST", s.rest_url("composite"), json_body={"compositeRequest": [{**patch, "referenceId": "probe"}]}
                ),
            ),
            "rest.composite_batch": (
                None,
                rest("POST", s.rest_url("composite/batch"), json_body={"batchRequests": subs}),
            ),
            "bulk2.create": (None, bulk2.create),
            "bulk2.upload": (None, lambda: bulk2.upload(r.csv([rid]))),
            "bulk2.close": (None, bulk2.close),
            "bulk2.status": (None, bulk2.status),
            "bulk2.successful_results": (finish(bulk2), lambda: bulk2.results("successfulResults")),
            "bulk2.failed_results": (None, lambda: bulk2.results("failedResults")),
            "bulk2.unprocessed_records": (None, lambda: bulk2.results("unprocessedrecords")),
            "bulk1.create": (None, bulk1.create),
            "bulk1.upload": (None, lambda: bulk1.upload(r.xml([rid]))),
            "bulk1.close": (None, bulk1.close),
            "bulk1.status": (None, bulk1.job_status),
            "bulk1.batch_list": (finish(bulk1), bulk1.batch_list),
            "bulk1.result": (None, bulk1.result),
        }

    # -- 2. synchronous latency -------------------------------------------------------------------------
    def _sync_timings(self) -> dict[str, Measured]:
        r, s = self.records, self.session
        ids = r.ids[:200]
        small = ids[: max(1, min(10, len(ids) // 10))]
        group = max(1, len(ids) // 5)
        five = [ids[i * group : (i + 1) * group] for i in range(5)] if len(ids) >= 5 else [ids]
        one_batch = [i for part in five for i in part]
        rid = ids[0]

        def composite(parts: list[list[str]]) -> dict[str, Any]:
            return {
                "compositeRequest": [
                    {
                        "method": "PATCH",
                        "url": f"/services/data/v{s.api_version}/composite/sobjects",
                        "referenceId": f"c{n}",
                        "body": r.collection(part),
                    }
                    for n, part in enumerate(parts)
                ]
            }

        requests_by_sample: dict[str, Callable[[], object]] = {
            "versions": lambda: self.send("GET", s.rest_url("/services/data/"), family=FAMILY_REST),
            "read": lambda: self.send("GET", s.rest_url(f"sobjects/{r.sobject}/{rid}?fields=Id"), family=FAMILY_REST),
            "collections_small": lambda: self.send(
                "PATCH", s.rest_url("composite/sobjects"), family=FAMILY_REST, json_body=r.collection(small)
            ),
            "collections_large": lambda: self.send(
                "PATCH", s.rest_url("composite/sobjects"), family=FAMILY_REST, json_body=r.collection(ids)
            ),
            "composite_one": lambda: self.send(
                "POST", s.rest_url("composite"), family=FAMILY_REST, json_body=composite([one_batch])
            ),
            "composite_five": lambda: self.send(
                "POST", s.rest_url("composite"), family=FAMILY_REST, json_body=composite(five)
            ),
        }
        samples: dict[str, list[float]] = {k: [] for k in SYNC_SAMPLES}
        for _ in range(self.settings.repeat):  # round-robin: a slow moment spreads over every kind
            for name in SYNC_SAMPLES:
                started = time.perf_counter()
                requests_by_sample[name]()
                samples[name].append((time.perf_counter() - started) * self.settings.time_scale * 1000.0)
        return _fit_sync(samples, len(small), len(ids), len(five))

    # -- 3. Bulk speed ----------------------------------------------------------------------------------
    def _bulk_timings(self, policy: PollPolicy) -> dict[str, Measured]:
        r = self.records
        sizes = sorted({min(self.settings.small_job, len(r.ids)), len(r.ids)})
        out: dict[str, Measured] = {}
        for family in ("bulk2", "bulk1"):
            runs: list[JobTiming] = []
            for n in sizes:
                timing = self._bulk_job(family, r.ids[:n], policy)
                if timing is None:
                    self.notes.append(
                        f"{family} job of {n:,} records was not done after {self.settings.max_checks} status checks"
                    )
                elif timing.failed:
                    self.notes.append(f"{family} job of {n:,} records: {timing.failed:,} records failed to write back")
                if timing is not None:
                    runs.append(timing)
            out.update(_fit_bulk(family, runs, self.settings.time_scale))
        return out

    def _bulk_job(self, family: str, ids: list[str], policy: PollPolicy) -> JobTiming | None:
        r = self.records
        if family == "bulk2":
            job2 = Bulk2Job(self.session, self.send, r.sobject)
            job2.create()
            job2.upload(r.csv(ids))
            job2.close()
            info2, _ = job2.wait(policy, self.settings.max_checks)
            return job2.timing(info2, len(ids))
        job1 = Bulk1Job(self.session, self.send, r.sobject)
        job1.create()
        job1.upload(r.xml(ids))
        job1.close()
        info1, _ = job1.wait(policy, self.settings.max_checks)
        return job1.timing(info1, len(ids))

    # -- the profile -----------------------------------------------------------------------------------------
    def _profile(self, counting: list[CountingResult], timings: dict[str, Measured]) -> OrgProfile:
        s = self.settings
        doc = get_profile("realistic").to_document()
        doc["name"] = s.name
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        doc["description"] = (
            f"Calibrated {when} on {s.sobject} ({self.conn.kind} org at {urlsplit(self.conn.instance_url).netloc}, "
            f"{self.records.mode} records); fields not measured are realistic's."
        )
        requests_ = doc["counting"]["requests"]
        for c in counting:
            if c.calls is None:
                continue
            if c.kind in requests_:
                requests_[c.kind] = c.calls
            elif c.kind == "rest.composite_batch" and c.calls in COMPOSITE_BATCH_RULE:
                doc["counting"]["composite_batch_calls"] = COMPOSITE_BATCH_RULE[c.calls]
            elif c.kind == "bulk2_parent_batches" and c.calls >= 0:
                doc["counting"]["bulk2_parent_batches"] = c.calls
        lag = self._lag()
        if lag is not None:
            doc["counting"]["usage_report_lag_s"] = lag
        for name, m in timings.items():
            doc["timings"][name] = m.value
            if name.endswith("_per_record_ms") and name.startswith("bulk"):
                doc["timings"][name.replace("per_record_ms", "chunk_overhead_ms")] = (
                    0.0  # folded into the per-record fit
                )
        doc["calibration"] = {
            "date": when,
            "org_kind": self.conn.kind,
            "sobject": s.sobject,
            "records_mode": self.records.mode,
            "records": len(self.records.ids),
            "measured": {
                k: {"value": m.value, "unit": m.unit, "spread": m.spread, "samples": len(m.samples)}
                for k, m in timings.items()
            },
            "counting": {c.kind: c.calls for c in counting},
        }
        return profile_from_document(json.loads(json.dumps(doc)), origin="calibration")


# -- fitting -----------------------------------------------------------------------------------------------
def _fit_sync(samples: dict[str, list[float]], small: int, large: int, subs: int) -> dict[str, Measured]:
    """Profile timings from request latencies in ms (see the module docstring, step 2)."""
    med = {k: statistics.median(v) for k, v in samples.items() if v}
    rtt = med["versions"]
    out = {
        "rtt_ms": Measured("rtt_ms", rtt, "ms", samples["versions"]),
        "read_fixed_ms": Measured(
            "read_fixed_ms", max(med["read"] - rtt, 0.0), "ms", [max(v - rtt, 0.0) for v in samples["read"]]
        ),
    }
    if large > small:
        per_record = max((med["collections_large"] - med["collections_small"]) / (large - small), 0.0)
        out["sync_per_record_ms"] = Measured(
            "sync_per_record_ms",
            per_record,
            "ms",
            [max((v - med["collections_small"]) / (large - small), 0.0) for v in samples["collections_large"]],
        )
        fixed = [max(v - small * per_record - rtt, 0.0) for v in samples["collections_small"]]
        out["write_fixed_ms"] = Measured("write_fixed_ms", statistics.median(fixed), "ms", fixed)
    if subs > 1:
        per_sub = [max((v - med["composite_one"]) / (subs - 1), 0.0) for v in samples["composite_five"]]
        out["composite_subrequest_ms"] = Measured("composite_subrequest_ms", statistics.median(per_sub), "ms", per_sub)
    return out


def _fit_bulk(family: str, runs: list[JobTiming], time_scale: float) -> dict[str, Measured]:
    """Queue wait, per-batch overhead and per-record cost of one Bulk family (step 3)."""
    if not runs:
        return {}
    k = time_scale
    queues = [t.queue_s * k for t in runs]
    out = {
        f"{family}_queue_median_s": Measured(f"{family}_queue_median_s", statistics.median(queues), "s", queues),
        f"{family}_queue_p90_s": Measured(f"{family}_queue_p90_s", max(queues), "s", queues),
    }
    small, large = min(runs, key=lambda t: t.records), max(runs, key=lambda t: t.records)
    if large.records - small.records >= 10:
        per_record_ms = max(
            (large.processing_s - small.processing_s) * k * 1000.0 / (large.records - small.records), 0.0
        )
        overhead = max(small.processing_s * k - small.records * per_record_ms / 1000.0, 0.0)
        out[f"{family}_per_record_ms"] = Measured(f"{family}_per_record_ms", per_record_ms, "ms")
        out[f"{family}_batch_overhead_s"] = Measured(f"{family}_batch_overhead_s", overhead, "s")
    return out


def _catching(act: Callable[[], object], errors: list[str]) -> Callable[[], object]:
    """A probe whose refusal by the org (an HTTP error) is noted, not raised: it was still sent and counted."""

    def run() -> object:
        try:
            return act()
        except ApiError as err:
            errors.append(f"answered {err.status} {err.error_code}")
            return None

    return run
