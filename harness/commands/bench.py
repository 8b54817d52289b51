"""`sfharness bench`: our strategies against the library baselines, side by side, in one run, as figures.

For each profile (``instant``: client overhead; ``realistic`` with ``--time-scale``: polling behaviour and
API-call totals), each volume and each strategy or baseline, one run updates the workload's records and is
measured: API calls (the org's counter and the client's meter), Bulk batches, client wall time, client
records/s and client peak RSS; then the org is read back and every record verified. Each run happens in a
FRESH child process (``python -m harness.commands.bench --child``), so a peak RSS is that run's alone and not
an earlier run's high-water mark; the emulator runs in its own process too (`orgs.embedded_emulator`). The
child gets its connection (including the access token) on stdin, never on its command line.

Per (profile, volume), each of our strategies is compared with the best baseline of its API family (rest,
bulk1, bulk2): the ratio ours / best for API calls, wall time and peak memory; the issue's targets are
checked against the figures and reported as met or not, with the numbers. Results go to
``reports/benchmarks/<timestamp>/`` (written by `harness.report.write_report_folder`, like compare's, with
``reports/benchmarks/latest`` pointing at the newest) as ``bench.json`` (everything) and ``bench.md``, plus,
per profile, the standard compare report files (``<profile>/report.md``, ``report.html`` with charts,
``results.json``, ``results.csv``), baselines marked as such and the recommendation by the one rule.

On a time-scaled profile the client's waits are scaled by the same factor as the org's: our poll policy
(as `compare` does) and the libraries' fixed sleeps (``time_scale``), so call counts are what a real-time
run would spend.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from emulator.profiles import builtin_names, get_profile
from strategies import registry
from strategies.operation import UPDATE_BY_ID

from .. import formatting as fmt
from .. import options as opt
from .. import output
from ..comparison import CompareRun, Measurement
from ..environment import library_versions, machine
from ..report import compare_files, json_text, markdown_table, markdown_text, measurement_line, write_report_folder
from ..runner import family_of
from ..strategy_options import auto_options, concurrency_options, scaled_options
from ..workload import DEFAULT_FIELDS, Workload, WorkloadFile
from .compare import check_libraries, runs_ending

DEFAULT_VOLUMES = "10000,100000,1000000"
DEFAULT_PROFILES = "instant,realistic"
DEFAULT_OURS = ("rest", "collections", "composite", "bulk1-xml", "bulk2-csv")
DEFAULT_TIME_SCALE = 20.0
DEFAULT_LIMITS = {"rest": 10_000, "simple-salesforce:rest": 10_000}
"""Per-record REST makes one call per record: by default it runs only up to 10,000 records."""
CHILD_MARK = "SFH-BENCH-RESULT "
BENCH_JSON = "bench.json"
BENCH_MD = "bench.md"
BULK_VERIFY_TIMEOUT = 3600


# -- the data ---------------------------------------------------------------------------------------------
@dataclass
class BenchRow:
    """One measured run (a `Measurement` plus where it ran and the child's memory at start)."""

    profile: str
    measurement: Measurement
    start_memory_mb: float | None = None
    child_seconds: float = 0.0
    ratios: dict[str, Any] = field(default_factory=dict)

    @property
    def m(self) -> Measurement:
        return self.measurement

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            **self.m.to_dict(),
            "start_memory_mb": self.start_memory_mb,
            "child_seconds": round(self.child_seconds, 3),
            "ratios": self.ratios,
        }


# -- the command --------------------------------------------------------------------------------------------
def bench(
    records: str = typer.Option(DEFAULT_VOLUMES, "--records", "--volumes", help="Volumes, e.g. 10000,100000,1000000."),
    profiles: str = typer.Option(
        DEFAULT_PROFILES,
        "--profiles",
        help="Emulator profiles: instant (client overhead), realistic (polling, call totals), any built-in or "
        "profile file; NAME+FAULT=VALUE adds emulator faults, e.g. realistic+parent_lock_contention=true.",
    ),
    time_scale: float = typer.Option(
        DEFAULT_TIME_SCALE,
        "--time-scale",
        help="Realistic profile this many times faster than real time (client waits scaled alike).",
    ),
    strategies: str | None = typer.Option(
        None,
        "--strategies",
        help=f"Our strategies (default: {','.join(DEFAULT_OURS)}); NAME@N runs one with N requests in flight, "
        "e.g. composite@1,composite@8.",
    ),
    baselines: str | None = typer.Option(
        None, "--baselines", help="Library baselines (default: all; 'none' for none)."
    ),
    limit: list[str] = typer.Option(
        [],
        "--limit",
        help="Largest volume for one strategy, NAME=N (repeatable; default rest=10000 and simple-salesforce:rest=10000).",
    ),
    realistic_max: int | None = typer.Option(
        None, "--realistic-max", help="Largest volume on the realistic profile (default: all volumes)."
    ),
    edition: str = typer.Option(
        "sandbox", "--edition", help="Emulator edition (sandbox: 5,000,000 calls a day, room for per-record REST)."
    ),
    sobject: str = typer.Option("Byline__c", "--sobject", "-s"),
    reports_dir: Path = typer.Option(
        Path("reports/benchmarks"), "--reports-dir", help="Where <timestamp>/ is written."
    ),
    child_timeout: float = typer.Option(
        3600.0, "--child-timeout", help="Seconds before one run's child process is stopped."
    ),
    from_json: Path | None = typer.Option(
        None,
        "--from-json",
        help="Re-render an earlier bench.json (ratios, targets, bench.md) in its folder, without running.",
    ),
    json_out: bool = opt.JsonOut,
) -> None:
    """Our strategies and the library baselines at 10k/100k/1M records: calls, batches, time, memory, ratios."""
    if from_json is not None:
        folder, stored, stored_rows = rerender(from_json)
        if not json_out:
            opt.console.print(render_markdown(stored, stored_rows), markup=False, highlight=False, soft_wrap=True)
        output.finish({"report_dir": str(folder), **stored})
        return
    volumes = opt.positive_ints(records, "--records")
    profile_list = [p.strip() for p in profiles.split(",") if p.strip()]
    for p in profile_list:
        profile_spec(p)
    ours = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else list(DEFAULT_OURS)
    base_of = {spec: strategy_spec(spec)[0] for spec in ours}
    known = registry.baseline_names()
    libs = [] if (baselines or "").strip().lower() == "none" else opt.names(baselines, known, known, "--baselines")
    check_libraries(libs)
    limits = dict(DEFAULT_LIMITS)
    for item in limit:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in ours + libs + list(base_of.values()):
            opt.fail(f"--limit expects NAME=N with a strategy or baseline of this run, got {item!r}")
        limits[name.strip()] = opt.positive_ints(value, "--limit")[0]
    settings = {
        "volumes": volumes,
        "profiles": profile_list,
        "time_scale": time_scale,
        "strategies": ours,
        "baselines": libs,
        "limits": limits,
        "realistic_max": realistic_max,
        "edition": edition,
        "sobject": sobject,
        "fields": list(DEFAULT_FIELDS),
    }
    started = dt.datetime.now(dt.UTC)
    rows: list[BenchRow] = []
    for profile in profile_list:
        scaled = profile_spec(profile)[0] != "instant"
        plan = [
            (n, name)
            for n in volumes
            for name in ours + libs
            if n <= limits.get(name, limits.get(base_of.get(name, name), n))
            and not (scaled and realistic_max and n > realistic_max)
        ]
        scale = time_scale if scaled else 1.0
        rows += _run_profile(profile, scale, plan, edition, sobject, DEFAULT_FIELDS, child_timeout, json_out)
    compute_ratios(rows)
    result = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "sfharness bench " + " ".join(_quote(a) for a in sys.argv[2:])
        if len(sys.argv) > 1 and sys.argv[1] == "bench"
        else "sfharness bench",
        "machine": {**machine(), "versions": library_versions()},
        "settings": settings,
        "runs": [r.to_dict() for r in rows],
        "targets": check_targets(rows),
    }
    folder = write_bench_reports(result, rows, reports_dir)
    if not json_out:
        opt.console.print(render_markdown(result, rows), markup=False, highlight=False, soft_wrap=True)
        opt.console.print(f"reports: {folder}", markup=False, highlight=False)
    output.finish({"report_dir": str(folder), **result}, runs_ending([r.m for r in rows], folder / BENCH_MD))


def _quote(arg: str) -> str:
    return arg if all(c.isalnum() or c in "-_=.,:/@+" for c in arg) else json.dumps(arg)


def strategy_spec(spec: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@N`` (N requests in flight) as (name, concurrency or None for the default).

    One run can hold the same strategy at several concurrencies, measured side by side; a baseline
    calls its library as users do and takes no such setting.
    """
    name, sep, value = spec.partition("@")
    name = name.strip()
    known = registry.names()
    if name not in known:
        opt.fail(f"--strategies: unknown {name!r}; choose from {', '.join(known)}")
    if not sep:
        return name, None
    if not value.strip().isdigit() or not 1 <= int(value) <= 16:
        opt.fail(f"--strategies: {spec!r}: NAME@N takes a concurrency from 1 to 16")
    if registry.strategy_class(name).default_concurrency is None:
        opt.fail(f"--strategies: {name} has no concurrency setting (it sends jobs, not one request per batch)")
    return name, int(value)


def profile_spec(spec: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME+FAULT=VALUE+...`` as (profile, the emulator's --faults text or None).

    The same profile with and without a fault is two columns of one report (e.g. Composite's concurrency
    with and without parent-lock contention), each against its own emulator.
    """
    name, *faults = (part.strip() for part in spec.split("+"))
    if name not in builtin_names() and not Path(name).is_file():
        opt.fail(f"--profiles: unknown profile {name!r}; choose from {', '.join(builtin_names())} or a profile file")
    if any("=" not in f for f in faults):
        opt.fail(f"--profiles: {spec!r}: faults are FAULT=VALUE, joined with +")
    return name, ",".join(faults) or None


# -- running ------------------------------------------------------------------------------------------------
def _run_profile(
    profile: str,
    scale: float,
    plan: list[tuple[int, str]],
    edition: str,
    sobject: str,
    fields: tuple[str, ...],
    child_timeout: float,
    quiet: bool,
) -> list[BenchRow]:
    from ..orgs import embedded_emulator
    from ..runner import scratch_dir

    rows: list[BenchRow] = []
    if not plan:
        return rows
    name, faults = profile_spec(profile)
    with embedded_emulator(
        profile=name, time_scale=scale if scale != 1.0 else None, edition=edition, faults=faults
    ) as conn:
        workdir = scratch_dir("sfharness-bench-")
        workload = BenchWorkload(conn, workdir, sobject=sobject, fields=fields)
        for round_no, (n, spec) in enumerate(plan, start=1):
            wf = workload.prepare(n, round_no)
            before = conn.admin.usage()
            row = _run_child(conn, profile, scale, spec, wf, sobject, child_timeout)
            after = conn.admin.usage()
            m = row.m
            m.calls_org = after["DailyApiRequests"]["used"] - before["DailyApiRequests"]["used"]
            m.batches = after["DailyBulkApiBatches"]["used"] - before["DailyBulkApiBatches"]["used"]
            check = workload.verify(wf)
            m.verified, m.mismatched, m.unverified = check.verified, check.mismatched + check.missing, check.error
            m.notes += [f"verification: {e}" for e in check.examples] + (
                [f"not verified: {check.error}"] if check.error else []
            )
            rows.append(row)
            if not quiet:
                line = measurement_line(m, f"[{profile}] ")
                opt.err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return rows


def BenchWorkload(conn: Any, workdir: Path, **options: Any) -> Workload:
    """The compare workload, seeded once per volume (``reseed=False``): each round writes new values to the
    same records, so a run that does not update a record fails verification, without re-seeding a million
    rows before every run."""
    return Workload(conn, workdir, reseed=False, **options)


def _run_child(conn: Any, profile: str, scale: float, name: str, wf: Any, sobject: str, timeout: float) -> BenchRow:
    """Run one strategy in a fresh Python process and read its measurement back."""
    strategy, concurrency = strategy_spec(name) if not registry.is_baseline(name) else (name, None)
    spec = {
        "instance_url": conn.instance_url,
        "access_token": conn.token().reveal(),
        "ca_file": conn.ca_file,
        "api_version": conn.api_version,
        "emulator": conn.is_emulator,
        "strategy": strategy,
        "concurrency": concurrency,
        "profile": profile_spec(profile)[0],
        "scale": scale,
        "input": str(wf.path),
        "records": wf.records,
        "round": wf.round,
        "sobject": sobject,
    }
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}  # the child's org comes from stdin only
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.commands.bench", "--child"],
            input=json.dumps(spec),
            text=True,
            capture_output=True,
            timeout=timeout,
            env=env,
        )
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (
            exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        ) + f"\nchild stopped after {timeout:.0f} s"
        code = -1
    elapsed = time.perf_counter() - started
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith(CHILD_MARK)), None)
    if line is None:
        m = Measurement(
            strategy=strategy,
            baseline=registry.is_baseline(strategy),
            family=family_of(strategy),
            concurrency=concurrency,
            records=wf.records,
            unprocessed=wf.records,
            error=f"child process failed (exit {code}): {err.strip()[-600:]}",
        )
        return BenchRow(profile, m, None, elapsed)
    data = json.loads(line[len(CHILD_MARK) :])
    return BenchRow(profile, Measurement.from_dict(data["measurement"]), data.get("start_memory_mb"), elapsed)


def _child() -> None:
    """The child process: one measured run, no verification (the parent verifies), result on stdout."""
    import psutil

    from ..orgs import OrgConnection, Secret
    from ..runner import run_once

    spec = json.loads(sys.stdin.read())
    token = Secret(spec.pop("access_token"))
    conn = OrgConnection(
        spec["instance_url"],
        "emulator" if spec["emulator"] else "unknown",
        spec["api_version"],
        spec["ca_file"],
        lambda: token,
        False,
        "bench child",
        admin=None,
        _token=token,
    )
    scale = float(spec["scale"])
    profile = get_profile(spec["profile"], scale if scale != 1.0 else None)
    options = {
        **scaled_options(spec["strategy"], scale),
        **concurrency_options(spec["strategy"], spec.get("concurrency")),
        **auto_options(spec["strategy"], int(spec["records"]), profile, scale),
    }

    class _Target:  # run_once reads only the object name and the operation when it does not verify
        sobject = spec["sobject"]
        operation = UPDATE_BY_ID  # bench runs updates by Id

    wf = WorkloadFile(Path(spec["input"]), int(spec["records"]), int(spec["round"]))
    start_mb = round(psutil.Process().memory_info().rss / 1_048_576, 1)
    m = run_once(conn, _Target(), spec["strategy"], wf, options=options, verify=False)  # type: ignore[arg-type]
    print(CHILD_MARK + json.dumps({"measurement": m.to_dict(), "start_memory_mb": start_mb}), flush=True)


def rerender(path: Path) -> tuple[Path, dict[str, Any], list[BenchRow]]:
    """Recompute ratios and targets of a stored ``bench.json`` and rewrite it and ``bench.md`` beside it."""
    path = Path(path)
    if path.is_dir():
        path = path / BENCH_JSON
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        opt.fail(f"cannot read {path}: {exc}")
    rows = [
        BenchRow(
            run["profile"],
            Measurement.from_dict(run),
            run.get("start_memory_mb"),
            float(run.get("child_seconds") or 0.0),
        )
        for run in result.get("runs", [])
    ]
    compute_ratios(rows)
    result["runs"] = [r.to_dict() for r in rows]
    result["targets"] = check_targets(rows)
    path.write_text(json_text(result), encoding="utf-8")
    (path.parent / BENCH_MD).write_text(render_markdown(result, rows), encoding="utf-8")
    return path.parent, result, rows


# -- comparing ----------------------------------------------------------------------------------------------
def _best(rows: list[BenchRow], key: str) -> BenchRow | None:
    finished = [r for r in rows if r.m.error is None and getattr(r.m, key) is not None]
    return min(finished, key=lambda r: (getattr(r.m, key), r.m.calls, r.m.wall_seconds), default=None)


LIKE_FOR_LIKE: dict[str, tuple[str, ...]] = {"rest": ("simple-salesforce:rest",)}
"""Strategies compared only with these baselines rather than with their whole family: per-record REST
exists for per-record semantics (one call, one record), so it is measured against the library's
per-record update, not against Collections, which it cannot beat on calls by construction."""


def compute_ratios(rows: list[BenchRow]) -> None:
    """For each of our runs: ours / the best baseline of the same family (or `LIKE_FOR_LIKE`), at the same
    profile and volume.

    "Best" is per figure (fewest calls, shortest wall time, least peak memory) among the baselines that
    finished; a baseline that lost records still competes on calls (its lost records are in its row).
    """
    for row in rows:
        if row.m.baseline:
            continue
        like_for_like = LIKE_FOR_LIKE.get(row.m.strategy)
        peers = [
            r
            for r in rows
            if r.m.baseline
            and r.profile == row.profile
            and r.m.records == row.m.records
            and r.m.family == row.m.family
            and (like_for_like is None or r.m.strategy in like_for_like)
        ]
        ratios: dict[str, Any] = {}
        for key, figure in (("calls", "calls"), ("wall_seconds", "wall_seconds"), ("peak_memory_mb", "peak_memory_mb")):
            best = _best(peers, figure)
            mine = getattr(row.m, figure)
            if best is None or mine is None or row.m.error is not None:
                continue
            theirs = getattr(best.m, figure)
            ratios[key] = {
                "baseline": best.m.strategy,
                "ours": mine,
                "theirs": theirs,
                "ratio": round(mine / theirs, 4) if theirs else None,
            }
        row.ratios = ratios


def _find(rows: list[BenchRow], profile: str, name: str, n: int, concurrency: int | None = None) -> BenchRow | None:
    """The run of `name` at `profile` and `n` records (at `concurrency` requests in flight, when given)."""
    return next(
        (
            r
            for r in rows
            if r.profile == profile
            and r.m.strategy == name
            and r.m.records == n
            and (concurrency is None or r.m.concurrency == concurrency)
        ),
        None,
    )


def _finished(a: BenchRow | None, b: BenchRow | None) -> tuple[BenchRow, BenchRow] | None:
    """(a, b) when both runs are there and finished (their figures may be compared), else None."""
    return (a, b) if a is not None and b is not None and a.m.error is None and b.m.error is None else None


def is_scaled(profile: str) -> bool:
    """True for a profile spec that runs at the bench's time scale (all but ``instant``, which never waits)."""
    return profile.split("+")[0] != "instant"


def check_targets(rows: list[BenchRow]) -> list[dict[str, Any]]:
    """The issue's targets, each checked wherever the run has the figures, with the numbers."""
    out: list[dict[str, Any]] = []

    def add(
        target: str,
        profile: str,
        n: int,
        ours: float | None,
        theirs: float | None,
        limit: float,
        detail: str,
        met: bool | None = None,
    ) -> None:
        ratio = (ours / theirs) if (ours is not None and theirs) else None
        if met is None:
            met = ratio is not None and ratio <= limit + 1e-9
        out.append(
            {
                "target": target,
                "profile": profile,
                "records": n,
                "ours": ours,
                "theirs": theirs,
                "ratio": round(ratio, 4) if ratio is not None else None,
                "limit": limit,
                "met": met,
                "detail": detail,
            }
        )

    for row in rows:
        # `auto` is judged by its choice (below): its one /limits call, the budget check no library makes,
        # is a feature, not a cost of its family.
        if row.m.baseline or "calls" not in row.ratios or row.m.strategy == "auto":
            continue
        c = row.ratios["calls"]
        add(
            "calls <= best baseline of the family",
            row.profile,
            row.m.records,
            c["ours"],
            c["theirs"],
            1.0,
            f"{row.m.strategy} ({row.m.family}) vs {c['baseline']}",
        )
    for profile in sorted({r.profile for r in rows}):
        for n in sorted({r.m.records for r in rows if r.profile == profile}):
            pairs = (
                (
                    "rest",
                    "simple-salesforce:rest",
                    1.0,
                    "per-record rest calls <= simple-salesforce:rest (like for like)",
                ),
                ("bulk2-csv", "simple-salesforce:bulk2", 0.5, "bulk2-csv calls <= 1/2 of simple-salesforce:bulk2"),
                ("bulk1-xml", "simple-salesforce:bulk", 0.25, "bulk1-xml calls <= 1/4 of simple-salesforce:bulk"),
            )
            for ours_name, theirs_name, limit, target in pairs:
                if pair := _finished(_find(rows, profile, ours_name, n), _find(rows, profile, theirs_name, n)):
                    a, b = pair
                    add(
                        target,
                        profile,
                        n,
                        a.m.calls,
                        b.m.calls,
                        limit,
                        f"{ours_name} {a.m.calls:,} vs {theirs_name} {b.m.calls:,}",
                    )
            _issue14_targets(rows, profile, n, add)
            pair = _finished(_find(rows, profile, "bulk2-csv", n), _find(rows, profile, "simple-salesforce:bulk2", n))
            if profile == "instant" and n >= 1_000_000 and pair:
                a, b = pair
                add(
                    "bulk2-csv wall time <= 1.0x simple-salesforce:bulk2 (issue 14)",
                    profile,
                    n,
                    a.m.wall_seconds,
                    b.m.wall_seconds,
                    1.0,
                    f"{fmt.duration(a.m.wall_seconds)} vs {fmt.duration(b.m.wall_seconds)}",
                )
                if a.m.cpu_seconds is not None and b.m.cpu_seconds is not None:
                    add(
                        "bulk2-csv client CPU (user + system) <= 1.0x simple-salesforce:bulk2 (issue 14)",
                        profile,
                        n,
                        a.m.cpu_seconds,
                        b.m.cpu_seconds,
                        1.0,
                        f"{fmt.seconds(a.m.cpu_seconds)} s vs {fmt.seconds(b.m.cpu_seconds)} s",
                    )
                add(
                    "bulk2-csv client peak memory < 150 MB (issue 14)",
                    profile,
                    n,
                    a.m.peak_memory_mb,
                    None,
                    150,
                    f"{fmt.megabytes(a.m.peak_memory_mb)} MB",
                    met=a.m.peak_memory_mb is not None and a.m.peak_memory_mb < 150,
                )
                add(
                    "bulk2-csv peak memory <= 1/4 of simple-salesforce:bulk2",
                    profile,
                    n,
                    a.m.peak_memory_mb,
                    b.m.peak_memory_mb,
                    0.25,
                    f"{fmt.megabytes(a.m.peak_memory_mb)} MB vs {fmt.megabytes(b.m.peak_memory_mb)} MB",
                )
                add(
                    "bulk2-csv wall time <= 1/2 of simple-salesforce:bulk2",
                    profile,
                    n,
                    a.m.wall_seconds,
                    b.m.wall_seconds,
                    0.5,
                    f"{fmt.duration(a.m.wall_seconds)} vs {fmt.duration(b.m.wall_seconds)}",
                )
    for row in rows:
        if not row.m.baseline:
            out.append(
                {
                    "target": "verification finds every record updated",
                    "profile": row.profile,
                    "records": row.m.records,
                    "ours": row.m.verified,
                    "theirs": None,
                    "ratio": None,
                    "limit": None,
                    "met": row.m.clean,
                    "detail": f"{row.m.strategy}: verified {row.m.verified:,}/{row.m.records:,}, "
                    f"{row.m.succeeded:,}/{row.m.failed:,}/{row.m.unprocessed:,} ok/failed/unprocessed",
                }
            )
    return out


def _issue14_targets(rows: list[BenchRow], profile: str, n: int, add: Any) -> None:
    """Issue 14's targets (faster where users wait) but the million-record ones, which `check_targets`
    checks beside issue 5's on the same pair of runs, wherever this run has the figures for them."""
    pair = _finished(_find(rows, profile, "composite", n, 1), _find(rows, profile, "composite", n, 8))
    if is_scaled(profile) and n >= 20_000 and pair:  # the issue's volumes
        one, eight = pair
        ratio = eight.m.wall_seconds / one.m.wall_seconds if one.m.wall_seconds else None
        same_calls = eight.m.calls == one.m.calls
        add(
            "composite@8 wall <= 0.25x composite@1, same calls, every record verified (issue 14)",
            profile,
            n,
            eight.m.wall_seconds,
            one.m.wall_seconds,
            0.25,
            f"{fmt.duration(eight.m.wall_seconds)} vs {fmt.duration(one.m.wall_seconds)}; calls "
            f"{eight.m.calls:,} vs {one.m.calls:,}; verified {eight.m.verified:,} and {one.m.verified:,} of {n:,}",
            met=ratio is not None and ratio <= 0.25 + 1e-9 and same_calls and eight.m.clean and one.m.clean,
        )
    bulk2 = _find(rows, profile, "bulk2-csv", n)
    if profile == "instant" and n <= 2_000 and bulk2 and bulk2.m.error is None:
        add(
            "bulk2-csv at 2,000 records: 2 calls, 1 create with its data + 1 poll (issue 14)",
            profile,
            n,
            bulk2.m.calls,
            None,
            2,
            f"{bulk2.m.calls:,} calls: " + ", ".join(f"{k} {v:,}" for k, v in sorted(bulk2.m.calls_by_phase.items())),
            met=bulk2.m.calls <= 2 and bulk2.m.clean,
        )
    auto = _find(rows, profile, "auto", n)
    others = [
        r for r in rows if r.profile == profile and r.m.records == n and not r.m.baseline and r.m.strategy != "auto"
    ]
    cheapest = _best([r for r in others if r.m.clean], "calls")
    if auto and auto.m.error is None and cheapest is not None:
        # Judged by its choice, not by its own call count: a Bulk job's polls vary from run to run with the
        # org's queue, so auto's job may need a poll more or less than the bulk2-csv run beside it.
        spent = auto.m.calls - auto.m.calls_by_phase.get("limits", 0)
        chose = next((note.removeprefix("auto chose ") for note in auto.m.notes if note.startswith("auto chose ")), "?")
        fewest = sorted({r.m.strategy for r in others if r.m.clean and r.m.calls == cheapest.m.calls})
        add(
            "auto chooses the strategy that spent the fewest calls here (issue 14)",
            profile,
            n,
            spent,
            cheapest.m.calls,
            1.0,
            f"auto chose {chose} ({spent:,} calls + 1 limits call); fewest: {', '.join(fewest)} {cheapest.m.calls:,}",
            met=chose in fewest and auto.m.clean,
        )


# -- reporting ----------------------------------------------------------------------------------------------
_RUN_COLUMNS = (
    "strategy",
    "family",
    "calls",
    "client calls",
    "batches",
    "wall s",
    "cpu s",
    "rec/s",
    "peak MB",
    "ok / failed / unproc.",
    "verified",
    "calls vs best",
    "wall vs best",
    "memory vs best",
)
_RUN_NUMERIC = [False, False, True, True, True, True, True, True, True, False, True, False, True, True]
_TARGET_COLUMNS = ("target", "profile", "records", "ours", "baseline", "ratio", "limit", "met")
_TARGET_NUMERIC = [False, False, True, True, True, True, True, False]


def _ratio_cell(row: BenchRow, key: str) -> str:
    r = row.ratios.get(key)
    if not r or r.get("ratio") is None:
        return ""
    return f"{fmt.ratio(r['ratio'])} {markdown_text(r['baseline'])}" if key == "calls" else fmt.ratio(r["ratio"])


def _label(row: BenchRow, rows: list[BenchRow]) -> str:
    """The strategy's name, with ``@N`` when this profile and volume hold it at several concurrencies."""
    m = row.m
    variants = {
        r.m.concurrency
        for r in rows
        if r.profile == row.profile and r.m.records == m.records and r.m.strategy == m.strategy
    }
    return f"{m.strategy}@{m.concurrency}" if len(variants) > 1 else m.strategy


def _run_cells(row: BenchRow, rows: list[BenchRow]) -> list[str]:
    m = row.m
    label = markdown_text(_label(row, rows))
    name = f"{label} (baseline)" if m.baseline else f"**{label}**"
    if m.error:
        return [name, m.family, "", "", "", "", "", "", "", f"crashed: {markdown_text(m.error[:200])}", "", "", "", ""]
    outcome = " / ".join(fmt.count(n) for n in (m.succeeded, m.failed, m.unprocessed))
    verified = fmt.count(m.verified) + (f" ({fmt.count(m.mismatched)} wrong or missing)" if m.mismatched else "")
    return [
        name,
        m.family,
        fmt.count(m.calls_org),
        fmt.count(m.calls_client),
        fmt.count(m.batches),
        fmt.seconds(m.wall_seconds),
        fmt.seconds(m.cpu_seconds) if m.cpu_seconds is not None else "",
        fmt.rate(m.records_per_second),
        fmt.megabytes(m.peak_memory_mb),
        outcome,
        verified,
        _ratio_cell(row, "calls"),
        _ratio_cell(row, "wall_seconds"),
        _ratio_cell(row, "peak_memory_mb"),
    ]


def _target_cells(t: dict[str, Any]) -> list[str]:
    return [
        f"{markdown_text(t['target'])}: {markdown_text(t['detail'])}",
        t["profile"],
        fmt.count(t["records"]),
        fmt.figure(t["ours"]),
        fmt.figure(t["theirs"]),
        fmt.ratio(t["ratio"]),
        f"{t['limit']:g}",
        "yes" if t["met"] else "**no**",
    ]


def render_markdown(result: dict[str, Any], rows: list[BenchRow]) -> str:
    """bench.md: the machine, a table per profile and volume (ours beside the baselines), the targets."""
    machine_facts = result["machine"]
    settings = result["settings"]
    versions = {"sf-update-harness": machine_facts.get("tool_version"), **machine_facts["versions"]}
    lines = [
        "# sfharness bench: our strategies vs library baselines",
        "",
        f"- command: `{result['command']}`",
        f"- run: {result['started_at']} to {result['finished_at']}",
        (
            f"- machine: {machine_facts['platform']}; {machine_facts['cpu']} ({machine_facts['cpu_count']} cores); "
            f"{machine_facts['memory_gb']} GB RAM; Python {machine_facts['python']}"
        ),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        f"- org: embedded emulator ({settings['edition']} edition), its own process; each run in a fresh child process",
        (
            f"- profiles: {', '.join(settings['profiles'])}; realistic at time scale {settings['time_scale']:g} "
            "(the clients' waits scaled alike: our poll policy, the libraries' sleeps)"
        ),
        "",
        (
            "Calls = the org's own API counter for the run (the client meter agrees unless noted); batches = the "
            "org's DailyBulkApiBatches; wall = client wall time of the update; cpu = the client's CPU time over it "
            "(user + system, all its threads); peak = the child process's peak RSS; "
            "vs best = ours / the best baseline of the same API family at the same profile and volume "
            "(calls: fewest calls; wall and memory: least of each). Baselines are marked (baseline)."
        ),
        "",
    ]
    for profile in settings["profiles"]:
        prows = [r for r in rows if r.profile == profile]
        if not prows:
            continue
        scaled = f" (time scale {settings['time_scale']:g})" if is_scaled(profile) else ""
        lines += [f"## Profile `{profile}`{scaled}", ""]
        for n in sorted({r.m.records for r in prows}):
            at_n = [r for r in prows if r.m.records == n]
            ordered = sorted(at_n, key=lambda r: (r.m.baseline, r.m.family, r.m.strategy))
            lines += [f"### {fmt.count(n)} records", ""]
            lines += markdown_table(list(_RUN_COLUMNS), (_run_cells(r, rows) for r in ordered), _RUN_NUMERIC)
            lines.append("")
    targets = [t for t in result["targets"] if not t["target"].startswith("verification")]
    lines += ["## Targets (issues 5 and 14)", ""]
    lines += markdown_table(list(_TARGET_COLUMNS), (_target_cells(t) for t in targets), _TARGET_NUMERIC)
    verification = [t for t in result["targets"] if t["target"].startswith("verification")]
    failed = [t for t in verification if not t["met"]]
    clean = len(verification) - len(failed)
    total = len(verification)
    lines += ["", f"Verification: {clean} of {total} runs of our strategies read back every record as written."]
    lines += [
        f"- **not clean**: {t['profile']} {fmt.count(t['records'])}: {markdown_text(t['detail'])}" for t in failed
    ]
    lost = [r for r in rows if r.m.baseline and not r.m.error and not r.m.clean]
    if lost:
        lines += ["", "Baselines that did not update every record (as measured):"]
        lines += [
            f"- {markdown_text(r.m.strategy)} ({r.profile}, {fmt.count(r.m.records)}): verified "
            f"{fmt.count(r.m.verified)}, {fmt.count(r.m.failed)} failed, {fmt.count(r.m.unprocessed)} unprocessed"
            for r in lost
        ]
    crashed = [r for r in rows if r.m.error]
    if crashed:
        lines += ["", "Runs that crashed:"]
        lines += [
            f"- {markdown_text(r.m.strategy)} ({r.profile}, {fmt.count(r.m.records)}): "
            f"{markdown_text((r.m.error or '')[:300])}"
            for r in crashed
        ]
    return "\n".join(lines) + "\n"


def profile_run(result: dict[str, Any], rows: list[BenchRow], profile: str) -> CompareRun | None:
    """One profile's runs as a compare run (its report files, its recommendation by the one rule)."""
    measurements = [r.m for r in rows if r.profile == profile]
    if not measurements:
        return None
    scale = result["settings"]["time_scale"] if is_scaled(profile) else None
    run = CompareRun(
        started_at=result["started_at"],
        finished_at=result["finished_at"],
        environment={**result["machine"], "profile": profile, "org_kind": "emulator", "time_scale": scale},
        settings={**result["settings"], "profile": profile},
        measurements=measurements,
    )
    run.recommendations = run.recommend()
    return run


def profile_folder(profile: str) -> str:
    """A profile spec as a folder name: a profile file by its stem, faults kept readable (``+`` and ``=``)."""
    name, *faults = profile.split("+")
    return "+".join([Path(name).stem if name.endswith(".json") else name, *faults]).replace("/", "_")


def write_bench_reports(result: dict[str, Any], rows: list[BenchRow], root: Path) -> Path:
    """``root/<timestamp>/bench.json`` and ``bench.md``, and per profile the compare report files."""
    files = {BENCH_JSON: json_text(result), BENCH_MD: render_markdown(result, rows)}
    for profile in result["settings"]["profiles"]:
        run = profile_run(result, rows, profile)
        if run is not None:
            files.update({f"{profile_folder(profile)}/{name}": text for name, text in compare_files(run).items()})
    return write_report_folder(root, result["started_at"], files)


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        _child()
    else:
        print(
            "usage: sfharness bench (this module's --child mode is for the bench's own child processes)",
            file=sys.stderr,
        )
        sys.exit(2)
