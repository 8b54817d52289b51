"""`sfharness compare`: every strategy side by side, at several volumes, measured and verified."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from strategies import registry
from strategies.polling import PollPolicy

from .. import options as opt
from ..orgs import OrgOptions
from ..report import compare_table, recommendation_lines, write_reports
from ..comparison import CompareRun, Measurement, Recommendation
from ..runner import run_once, scratch_dir
from ..workload import DEFAULT_FIELDS, Workload

DEFAULT_VOLUMES = "100,1000,10000"
DEFAULT_STRATEGIES = ("rest", "collections", "composite", "bulk1-xml", "bulk2-csv", "auto")
REST_DEFAULT_MAX = 20_000
PER_RECORD = ("rest", "simple-salesforce:rest")


def _volumes(text: str) -> list[int]:
    try:
        values = sorted({int(v.replace("_", "")) for v in text.split(",") if v.strip()})
    except ValueError:
        opt.fail(f"--records expects comma-separated whole numbers, got {text!r}")
    if not values or values[0] <= 0:
        opt.fail("--records needs at least one positive volume")
    return values


def _strategies(text: Optional[str], baselines: bool = False) -> list[str]:
    """Our strategies (the default set, or --strategies), then the library baselines with --baselines.

    A baseline may also be named in --strategies (e.g. ``bulk2-csv,simple-salesforce:bulk2``)."""
    known = registry.names(include_baselines=True)
    names = [s.strip() for s in text.split(",") if s.strip()] if text else list(DEFAULT_STRATEGIES)
    unknown = [n for n in names if n not in known]
    if unknown:
        opt.fail(f"unknown strategy {', '.join(unknown)}; choose from {', '.join(known)}")
    if baselines:
        names += [b for b in registry.baseline_names() if b not in names]
    return names


def _per_record(name: str) -> bool:
    """One call per record (skipped above --rest-max): ours and the library's."""
    return name in PER_RECORD


def environment(conn, settings: dict[str, Any]) -> dict[str, Any]:
    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    return {
        "tool": f"sf-update-harness {version('sf-update-harness')}",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "org_kind": conn.kind,
        "instance": "embedded emulator" if conn.is_emulator else conn.instance_url,
        "auth": conn.auth_method,
        "profile": settings.get("profile") if conn.is_emulator else None,
        "edition": settings.get("edition") if conn.is_emulator else None,
        "api_version": conn.api_version,
        "libraries": {p: version(p) for p in ("requests", "urllib3", "starlette", "uvicorn", "simple-salesforce", "salesforce-bulk")},
    }


@opt.with_org_options
def compare(
    records: str = typer.Option(DEFAULT_VOLUMES, "--records", help="Volumes to run, e.g. 100,2000,10000."),
    strategies: Optional[str] = typer.Option(None, "--strategies", help=f"Comma-separated strategies (default: {','.join(DEFAULT_STRATEGIES)})."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per strategy and volume (medians are reported)."),
    baselines: bool = typer.Option(False, "--baselines", help="Also run the library baselines (simple-salesforce, salesforce-bulk), marked as baselines; never recommended."),
    rest_max: int = typer.Option(REST_DEFAULT_MAX, "--rest-max", help="Skip per-record REST above this volume (it makes one call per record)."),
    sobject: str = typer.Option("Byline__c", "--sobject", help="Object to update (needs Name and the --fields)."),
    fields: str = typer.Option(",".join(DEFAULT_FIELDS), "--fields", help="Numeric fields that get new values."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where reports/<timestamp>/ is written."),
    allow_production: bool = typer.Option(False, "--allow-production", help="Permit running against a production org."),
    profile: str = opt.Profile,
    time_scale: Optional[float] = opt.TimeScale,
    faults: Optional[str] = opt.Faults,
    edition: str = opt.Edition,
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  (filled in by with_org_options)
) -> None:
    """Run the strategies side by side and report API calls, batches, time, memory and failures."""
    volumes = _volumes(records)
    names = _strategies(strategies, baselines)
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    options = org
    settings = {"volumes": volumes, "strategies": names, "repeat": repeat, "profile": profile, "time_scale": time_scale,
                "faults": faults, "edition": edition, "sobject": sobject, "fields": list(field_list), "rest_max": rest_max,
                "baselines": [n for n in names if registry.is_baseline(n)]}
    started = dt.datetime.now(dt.timezone.utc)
    org_profile = opt.load_profile(profile, time_scale)
    with opt.open_org(options, edition=edition, profile=profile, time_scale=time_scale, faults=faults) as conn:
        if conn.kind == "production" and not allow_production:
            opt.fail("this is a production org; compare creates and deletes test records. Re-run with --allow-production if you mean it.")
        # On a scaled profile the client's polling is scaled too, so poll counts match real time.
        scale = org_profile.time_scale if conn.is_emulator and org_profile.has_delays else 1.0
        poll_policy = PollPolicy().scaled(1.0 / scale) if scale != 1.0 else None
        run = CompareRun(started_at=started.isoformat(timespec="seconds"), finished_at="", environment=environment(conn, settings),
                         settings=settings, measurements=[], recommendations=[])
        workdir = scratch_dir()
        workload = Workload(conn, workdir, sobject=sobject, fields=field_list)
        plan_runs = [(n, r, s) for n in volumes for r in range(1, repeat + 1) for s in names if not (_per_record(s) and n > rest_max)]
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                          console=opt.err_console, transient=True, disable=json_out) as progress:
                task = progress.add_task("compare", total=len(plan_runs))
                round_no = 0
                for n, rep, name in plan_runs:
                    round_no += 1
                    progress.update(task, description=f"{name} × {n:,} (run {rep})")
                    wf = workload.prepare(n, round_no)
                    strategy_options = _strategy_options(name, poll_policy, scale)
                    m = run_once(conn, workload, name, wf, repeat=rep, options=strategy_options)
                    run.measurements.append(m)
                    status = "ok" if m.error is None and m.mismatched == 0 and m.failed == 0 else "CHECK"
                    if not json_out:
                        label = f"{name} (baseline)" if m.baseline else name
                        progress.console.print(f"{label:>12} {n:>9,} records: {m.calls_client:>7,} calls (org {m.calls_org}), "
                                               f"{m.wall_seconds:8.2f} s, {m.peak_memory_mb} MB, verified {m.verified:,}/{n:,} {status}")
                    progress.advance(task)
        finally:
            deleted = workload.cleanup()
            if deleted and not json_out:
                opt.console.print(f"deleted {deleted:,} test records from the org")
        run.recommendations = _recommendations(run)
        run.finished_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    folder = write_reports(run, reports_dir)
    if json_out:
        print(json.dumps({"report_dir": str(folder), **run.to_dict()}))
        return
    opt.console.print(compare_table(run))
    for line in recommendation_lines(run):
        opt.console.print(line, markup=False)
    opt.console.print(f"reports: {folder}")


def _strategy_options(name: str, poll_policy: PollPolicy | None, scale: float = 1.0) -> dict[str, Any]:
    """Options that make a run on a time-scaled profile poll as it would in real time.

    Our Bulk strategies get the scaled poll policy; a library baseline gets ``time_scale``, which scales the
    library's own fixed waits by the same factor (see `strategies.baselines.metering.scaled_sleep`).
    """
    if registry.is_baseline(name):
        return {"time_scale": scale} if scale != 1.0 else {}
    if poll_policy is None:
        return {}
    if name in ("bulk1-xml", "bulk2-csv"):
        return {"poll_policy": poll_policy}
    if name == "auto":
        return {"bulk2_options": {"poll_policy": poll_policy}}
    return {}


def _recommendations(run: CompareRun) -> list[Recommendation]:
    """Per volume: among our strategies that updated every record, the fewest org-counted calls wins.

    Works on the medians of repeats (what the tables show). `auto` is left out: it is a chooser, and the
    advice names the strategy itself.
    """
    out = []
    medians = run.medians()
    for n in sorted({m.records for m in medians}):
        rows = [m for m in medians if m.records == n and not m.baseline and m.strategy != "auto"]
        good = [m for m in rows if m.error is None and m.failed == 0 and m.unprocessed == 0 and m.mismatched == 0]
        if not good:
            out.append(Recommendation(records=n, strategy="", reason="no strategy updated every record; see the failures above"))
            continue
        def calls(m: Measurement) -> int:
            return m.calls_org if m.calls_org is not None else m.calls_client
        best = min(good, key=lambda m: (calls(m), m.wall_seconds))
        fastest = min(good, key=lambda m: m.wall_seconds)
        reason = f"fewest API calls ({calls(best):,}) in {best.wall_seconds:.2f} s"
        if fastest is not best:
            reason += f"; fastest was {fastest.strategy} ({fastest.wall_seconds:.2f} s, {calls(fastest):,} calls)"
        out.append(Recommendation(records=n, strategy=best.strategy, reason=reason))
    return out
