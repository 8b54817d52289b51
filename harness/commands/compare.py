"""`sfharness compare`: every strategy side by side, at several volumes, measured and verified."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from strategies import registry

from .. import options as opt
from ..comparison import CompareRun
from ..environment import library_versions, machine
from ..orgs import OrgConnection, OrgOptions
from ..report import compare_table, measurement_line, recommendation_lines, write_reports
from ..runner import run_once, scratch_dir
from ..strategy_options import concurrency_options, scaled_options
from ..workload import DEFAULT_FIELDS, Workload

DEFAULT_VOLUMES = "100,1000,10000"
DEFAULT_STRATEGIES = tuple(registry.names())
REST_DEFAULT_MAX = 20_000
PER_RECORD = ("rest", "simple-salesforce:rest")


def _strategies(text: str | None, baselines: bool = False) -> list[str]:
    """Our strategies (the default set, or --strategies), then the library baselines with --baselines.

    A baseline may also be named in --strategies (e.g. ``bulk2-csv,simple-salesforce:bulk2``)."""
    names = opt.names(text, list(DEFAULT_STRATEGIES), registry.names(include_baselines=True), "--strategies")
    if baselines:
        names += [b for b in registry.baseline_names() if b not in names]
    return names


def _per_record(name: str) -> bool:
    """One call per record (skipped above --rest-max): ours and the library's."""
    return name in PER_RECORD


def environment(conn: OrgConnection, settings: dict[str, Any]) -> dict[str, Any]:
    """The machine, the org and the library versions, as `CompareRun.environment` documents its keys."""
    return {
        **machine(),
        "org_kind": conn.kind,
        "instance": "embedded emulator" if conn.is_emulator else conn.instance_url,
        "auth": conn.auth_method,
        "profile": settings.get("profile") if conn.is_emulator else None,
        "edition": settings.get("edition") if conn.is_emulator else None,
        "api_version": conn.api_version,
        "library_versions": library_versions(),
    }


@opt.with_org_options
def compare(
    records: str = typer.Option(DEFAULT_VOLUMES, "--records", help="Volumes to run, e.g. 100,2000,10000."),
    strategies: Optional[str] = typer.Option(None, "--strategies", help=f"Comma-separated strategies (default: {','.join(DEFAULT_STRATEGIES)})."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per strategy and volume (medians are reported)."),
    baselines: bool = typer.Option(False, "--baselines", help="Also run the library baselines (simple-salesforce, salesforce-bulk), marked as baselines; never recommended."),
    rest_max: int = typer.Option(REST_DEFAULT_MAX, "--rest-max", help="Skip per-record REST above this volume (it makes one call per record)."),
    concurrency: int | None = opt.Concurrency,
    sobject: str = typer.Option("Byline__c", "--sobject", help="Object to update (needs Name and the --fields)."),
    fields: str = typer.Option(",".join(DEFAULT_FIELDS), "--fields", help="Numeric fields that get new values."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where reports/<timestamp>/ is written."),
    allow_production: bool = typer.Option(False, "--allow-production", help="Permit running against a production org."),
    profile: str = opt.Profile,
    time_scale: Optional[float] = opt.TimeScale,
    faults: Optional[str] = opt.Faults,
    edition: str = opt.Edition,
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Run the strategies side by side and report API calls, batches, time, memory and failures."""
    volumes = opt.positive_ints(records, "--records")
    names = _strategies(strategies, baselines)
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    options = org
    settings = {"volumes": volumes, "strategies": names, "repeat": repeat, "profile": profile, "time_scale": time_scale,
                "faults": faults, "edition": edition, "sobject": sobject, "fields": list(field_list), "rest_max": rest_max,
                "concurrency": concurrency,
                "baselines": [n for n in names if registry.is_baseline(n)]}
    started = dt.datetime.now(dt.timezone.utc)
    with opt.open_org(options, edition=edition, profile=profile, time_scale=time_scale, faults=faults) as conn:
        if conn.kind == "production" and not allow_production:
            opt.fail("this is a production org; compare creates and deletes test records. Re-run with --allow-production if you mean it.")
        # On a scaled profile the client's waits are scaled too, so call counts match real time.
        scale = (time_scale or 1.0) if conn.is_emulator and profile != "instant" else 1.0
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
                    run_options = {**scaled_options(name, scale), **concurrency_options(name, concurrency)}
                    m = run_once(conn, workload, name, wf, repeat=rep, options=run_options)
                    run.measurements.append(m)
                    if not json_out:
                        progress.console.print(measurement_line(m), markup=False, highlight=False)
                    progress.advance(task)
        finally:
            deleted = workload.cleanup()
            if deleted and not json_out:
                opt.console.print(f"deleted {deleted:,} test records from the org")
        run.recommendations = run.recommend()
        run.finished_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    folder = write_reports(run, reports_dir)
    if json_out:
        print(json.dumps({"report_dir": str(folder), **run.to_dict()}))
        return
    opt.console.print(compare_table(run))
    for line in recommendation_lines(run):
        opt.console.print(line, markup=False)
    opt.console.print(f"reports: {folder}")

