"""`sfharness compare`: every strategy side by side, at several volumes, measured and verified."""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from emulator.profiles import OrgProfile, get_profile
from strategies import registry
from strategies.errors import ApiError, ConfigurationError
from strategies.operation import UPDATE_BY_ID, Operation

from .. import options as opt
from .. import output
from ..comparison import CompareRun, Measurement, OtherCalls, Skipped
from ..costmodel import run_calls
from ..environment import library_versions, machine
from ..failures import EXIT_BUDGET, EXIT_RECORDS, Failure, did_you_mean, fail
from ..orgs import OrgConnection, OrgOptions
from ..progress import RunWatch, new_progress
from ..report import compare_table, measurement_line, recommendation_lines, write_reports
from ..runner import run_once, scratch_dir
from ..strategy_options import auto_options, client_policy, concurrency_options, scaled_options
from ..workload import DEFAULT_FIELDS, DEFAULT_NEW_FRACTION, Workload

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


BASELINE_LIBRARIES = {"simple-salesforce": "simple_salesforce", "salesforce-bulk": "salesforce_bulk"}
"""A baseline's name prefix -> the module its library installs (both come with the `baselines` extra)."""


def check_libraries(names: list[str]) -> None:
    """Refuse, before anything runs, baselines whose library is not installed (they would only crash)."""
    missing = sorted(
        {
            lib
            for n in names
            if registry.is_baseline(n)
            for lib, module in BASELINE_LIBRARIES.items()
            if n.startswith(lib + ":") and importlib.util.find_spec(module) is None
        }
    )
    if missing:
        opt.fail(
            f"the baselines need {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed",
            name="MissingLibrary",
            hint="install the baselines extra: pip install -e '.[baselines]' (or pip install 'sf-update-harness[baselines]')",
        )


def runs_ending(measurements: list[Measurement], report: Path) -> Failure | None:
    """Exit 1 when any run crashed, left records failed or unprocessed, or did not read back as written
    (`compare` and `bench` alike)."""
    bad = [m for m in measurements if not m.clean]
    if not bad:
        return None
    examples = "; ".join(
        f"{m.strategy} x {m.records:,}: " + (f"crashed ({m.error[:120]})" if m.error else "did not verify")
        for m in bad[:3]
    )
    return Failure(
        EXIT_RECORDS,
        "RunsNotClean",
        f"{len(bad)} of {len(measurements)} run(s) crashed or did not update and "
        f"read back every record: {examples}{' ...' if len(bad) > 3 else ''}",
        f"the Problems list of {report} says what happened to each",
    )


PRERUN_LABEL = "pre-run checks"
READBACK_LABEL = "read-backs"


@dataclass(frozen=True)
class PrerunChecks:
    """What `compare` learns before any run, and what learning it cost (its own line in the tables)."""

    api_remaining: int
    api_max: int
    calls_client: int  # describe, /limits, and on a real org the organization look-up made when connecting
    calls_org: int | None


def prerun_checks(
    conn: OrgConnection, sobject: str, fields: tuple[str, ...], operation: Operation = UPDATE_BY_ID
) -> PrerunChecks:
    """Describe the object (its fields must exist: a did-you-mean otherwise; an upsert's key must be an
    external id) and read /limits: 2 calls."""
    before = _org_used(conn)
    session = conn.session()
    try:
        with session.phase("describe"):
            try:
                body = session.get_json(session.rest_url(f"sobjects/{sobject}/describe"))
            except ApiError as err:
                if err.status != 404:
                    raise
                opt.fail(
                    f"unknown object {sobject!r} on this org ({err.status} {err.error_code})",
                    name="UnknownObject",
                    hint="compare needs an object with Name and numeric --fields (default Byline__c)",
                )
        known = [f["name"] for f in body.get("fields", [])]
        missing = [f for f in fields if f.lower() not in {k.lower() for k in known}]
        if missing:
            guesses = [f"{name!r} -> {guess!r}" for name in missing if (guess := did_you_mean(name, known))]
            opt.fail(
                f"{sobject} has no field {', '.join(missing)}",
                name="UnknownField",
                hint=f"did you mean {', '.join(guesses)}?" if guesses else "check --fields (custom fields end in __c)",
            )
        opt.check_upsert_key(operation, sobject, [f for f in body.get("fields", []) if isinstance(f, dict)])
        with session.phase("limits"):
            api = session.get_json(session.rest_url("limits"))["DailyApiRequests"]
        client = session.meter.snapshot().api_total() + (0 if conn.is_emulator else 1)
    finally:
        session.close()
    after = _org_used(conn)
    return PrerunChecks(
        int(api["Remaining"]), int(api["Max"]), client, None if before is None or after is None else after - before
    )


def budget(
    wanted: list[tuple[int, int, str]],
    available: int,
    model: OrgProfile,
    scale: float,
    why: str,
    operation: str = "update",
) -> tuple[list[tuple[int, int, str]], list[Skipped]]:
    """The runs to start, in order, while their predicted calls (read-back included) fit `available`; the
    rest as `Skipped`. A run that does not fit is skipped and smaller ones after it may still run."""
    runs: list[tuple[int, int, str]] = []
    skipped: list[Skipped] = []
    left = available
    for n, rep, name in wanted:
        need = run_calls(name, n, model, poll_policy=client_policy(scale), operation=operation)
        if need > left:
            skipped.append(
                Skipped(
                    strategy=name,
                    records=n,
                    repeat=rep,
                    predicted_calls=need,
                    reason=f"over budget: needs about {need:,} API calls, {max(left, 0):,} left to spend ({why})",
                )
            )
            continue
        runs.append((n, rep, name))
        left -= need
    return runs, skipped


def _limit_refusal(run: CompareRun) -> str | None:
    """Why no further run can start: the org refused the last one for its daily allocation."""
    last = run.measurements[-1] if run.measurements else None
    if last is not None and last.error and "REQUEST_LIMIT_EXCEEDED" in last.error:
        return "not started: the org refused the run before it with REQUEST_LIMIT_EXCEEDED (daily allocation spent)"
    return None


def _org_used(conn: OrgConnection) -> int | None:
    """The org's own DailyApiRequests counter where it can be read for free (the emulator's admin API)."""
    return int(conn.admin.usage()["DailyApiRequests"]["used"]) if conn.admin is not None else None


def _account_other_calls(run: CompareRun, checks: PrerunChecks, start: int | None, end: int | None) -> None:
    """The table's lines beside the runs: pre-run checks and read-backs, so the rows add up to the org's count."""
    run.org_calls_total = None if start is None or end is None else end - start
    readback_org = None
    if (
        run.org_calls_total is not None
        and checks.calls_org is not None
        and all(m.calls_org is not None for m in run.measurements)
    ):
        readback_org = run.org_calls_total - checks.calls_org - sum(m.calls_org or 0 for m in run.measurements)
    run.other_calls = [
        OtherCalls(label=PRERUN_LABEL, calls_client=checks.calls_client, calls_org=checks.calls_org),
        OtherCalls(
            label=READBACK_LABEL, calls_client=sum(m.readback_calls for m in run.measurements), calls_org=readback_org
        ),
    ]


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
    strategies: str | None = typer.Option(
        None, "--strategies", help=f"Comma-separated strategies (default: {','.join(DEFAULT_STRATEGIES)})."
    ),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per strategy and volume (medians are reported)."),
    baselines: bool = typer.Option(
        False,
        "--baselines",
        help="Also run the library baselines (simple-salesforce, salesforce-bulk), marked as baselines; never recommended.",
    ),
    rest_max: int = typer.Option(
        REST_DEFAULT_MAX, "--rest-max", help="Skip per-record REST above this volume (it makes one call per record)."
    ),
    concurrency: int | None = opt.Concurrency,
    sobject: str = typer.Option("Byline__c", "--sobject", "-s", help="Object to update (needs Name and the --fields)."),
    fields: str = typer.Option(",".join(DEFAULT_FIELDS), "--fields", help="Numeric fields that get new values."),
    operation: str = typer.Option(
        "update",
        "--operation",
        help="update (by Id), or upsert (by --external-id: part of the rows name existing records, part new keys).",
    ),
    external_id: str | None = typer.Option(
        None, "--external-id", help="The external id field an upsert matches records on (e.g. Url__c)."
    ),
    new_fraction: float = typer.Option(
        DEFAULT_NEW_FRACTION,
        "--new-fraction",
        min=0.0,
        max=1.0,
        help="An upsert's share of rows with new keys (the org creates those records); the rest update.",
    ),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where reports/<timestamp>/ is written."),
    allow_production: bool = typer.Option(False, "--allow-production", help="Permit running against a production org."),
    api_reserve: float = typer.Option(
        10.0,
        "--api-reserve",
        min=0,
        max=100,
        help="Skip runs whose predicted calls would leave less than this % of the daily API allocation.",
    ),
    profile: str = opt.Profile,
    time_scale: float | None = opt.TimeScale,
    faults: str | None = opt.Faults,
    edition: str = opt.Edition,
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Run the strategies side by side and report API calls, batches, time, memory and failures."""
    volumes = opt.positive_ints(records, "--records")
    try:
        write = Operation.parse(operation, external_id)
    except ConfigurationError as err:
        opt.fail(str(err), hint="e.g. --operation upsert --external-id Url__c")
    names = _strategies(strategies, baselines)
    check_libraries(names)
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    options = org
    settings = {
        "volumes": volumes,
        "strategies": names,
        "repeat": repeat,
        "profile": profile,
        "time_scale": time_scale,
        "faults": faults,
        "edition": edition,
        "sobject": sobject,
        "fields": list(field_list),
        "rest_max": rest_max,
        "concurrency": concurrency,
        "baselines": [n for n in names if registry.is_baseline(n)],
        **write.to_dict(),
        "new_fraction": new_fraction if write.is_upsert else None,
    }
    started = dt.datetime.now(dt.UTC)
    org_profile = opt.load_profile(profile, time_scale)
    with opt.open_org(options, edition=edition, profile=profile, time_scale=time_scale, faults=faults) as conn:
        if conn.kind == "production" and not allow_production:
            opt.fail(
                "this is a production org; compare creates and deletes test records. Re-run with --allow-production if you mean it."
            )
        # On a scaled profile the client's waits are scaled too, so call counts match real time.
        scale = org_profile.time_scale if conn.is_emulator and org_profile.has_delays else 1.0
        run = CompareRun(
            started_at=started.isoformat(timespec="seconds"),
            finished_at="",
            environment=environment(conn, settings),
            settings=settings,
            measurements=[],
            recommendations=[],
        )
        org_start = _org_used(conn)
        checks = prerun_checks(conn, sobject, field_list, write)
        wanted = [
            (n, r, s)
            for n in volumes
            for r in range(1, repeat + 1)
            for s in names
            if not (_per_record(s) and n > rest_max)
        ]
        model = org_profile if conn.is_emulator else get_profile("realistic")
        plan_runs, run.skipped = budget(
            wanted,
            checks.api_remaining - int(checks.api_max * api_reserve / 100),
            model,
            scale,
            f"{checks.api_remaining:,} of {checks.api_max:,} daily API calls left, "
            f"--api-reserve keeps {api_reserve:g}%",
            write.name,
        )
        for skipped in run.skipped:
            output.warn(f"skipped {skipped.strategy} x {skipped.records:,}: {skipped.reason}")
        workdir = scratch_dir()
        workload = Workload(
            conn, workdir, sobject=sobject, fields=field_list, operation=write, new_fraction=new_fraction
        )
        try:
            with new_progress(transient=True) as progress:
                overall = progress.add_task("compare", total=len(plan_runs), detail="")
                for round_no, (n, rep, name) in enumerate(plan_runs, start=1):
                    if refused := _limit_refusal(run):
                        run.skipped.append(Skipped(strategy=name, records=n, repeat=rep, reason=refused))
                        output.warn(f"skipped {name} x {n:,}: {refused}")
                        continue
                    step = f"{name} x {n:,}" + (f" (run {rep})" if repeat > 1 else "")
                    progress.update(overall, description=f"run {round_no}/{len(plan_runs)}", detail=step)
                    watch = RunWatch(progress, f"{step}: preparing the records", n)
                    wf = workload.prepare(n, round_no)
                    watch.describe(f"{step}: updating")
                    run_options = {
                        **scaled_options(name, scale),
                        **concurrency_options(name, concurrency),
                        **auto_options(name, n, org_profile if conn.is_emulator else None, scale),
                    }
                    m = run_once(conn, workload, name, wf, repeat=rep, options=run_options, watch=watch)
                    progress.remove_task(watch.task)
                    run.measurements.append(m)
                    if not json_out:
                        progress.console.print(measurement_line(m), markup=False, highlight=False)
                    progress.advance(overall)
        finally:
            deleted = workload.cleanup()
            if deleted and not json_out:
                opt.console.print(f"deleted {deleted:,} test records from the org")
        _account_other_calls(run, checks, org_start, _org_used(conn))
        run.recommendations = run.recommend()
        run.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if not run.measurements and run.skipped:
        raise fail(
            f"no run fits the budget: {run.skipped[0].reason}",
            EXIT_BUDGET,
            hint="run fewer or smaller volumes (--records, --rest-max, --strategies), or lower --api-reserve; "
            "`sfharness plan` shows each strategy's cost",
            result={"skipped": [k.to_dict() for k in run.skipped]},
        )
    folder = write_reports(run, reports_dir)
    if not json_out:
        opt.console.print(compare_table(run))
        for line in recommendation_lines(run):
            opt.console.print(line, markup=False)
        opt.console.print(f"reports: {folder}", markup=False)
    output.finish({"report_dir": str(folder), **run.to_dict()}, runs_ending(run.measurements, folder / "report.md"))
