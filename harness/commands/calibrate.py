"""`sfharness calibrate`: measure your org and write its org profile, plus a short report."""

from __future__ import annotations

from pathlib import Path

import typer

from emulator.profiles import save_profile

from .. import options as opt
from .. import output
from ..calibration import CalibrationSettings, Calibrator, calibration_plan
from ..calibration_records import CalibrationRecordsError
from ..calibration_report import plan_lines, report_lines
from ..orgs import OrgOptions

DEFAULT_OUT = Path("calibrated-profile.json")


@opt.with_org_options
def calibrate(
    sobject: str = typer.Option("Account", "--sobject", help="Object whose records are written."),
    fields: str | None = typer.Option(
        None,
        "--fields",
        help="Comma-separated fields of records you name: each write sends the "
        "values they already hold. Without it, calibration creates its own records and deletes them.",
    ),
    where: str | None = typer.Option(
        None, "--where", help="SOQL condition choosing the named records (with --fields)."
    ),
    records: str = typer.Option(
        "500", "--records", help="Records to work on (at most 10,000); Bulk jobs use a tenth of them and all of them."
    ),
    repeat: int = typer.Option(3, "--repeat", min=1, max=20, help="Samples per synchronous latency measurement."),
    max_calls: int = typer.Option(
        250, "--max-calls", min=1, help="API requests calibration may make (a developer edition has 15,000 a day)."
    ),
    max_checks: int = typer.Option(
        10, "--max-checks", min=1, max=40, help="Status checks per Bulk job before giving up on its timing."
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Profile file to write (the report goes beside it, .md)."),
    name: str | None = typer.Option(None, "--name", help="Profile name (default: the file name)."),
    allow_production: bool = typer.Option(False, "--allow-production", help="Permit calibrating a production org."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only print the requests and Bulk batches calibration would spend."
    ),
    profile: str = opt.Profile,
    time_scale: float | None = typer.Option(
        None,
        "--time-scale",
        help="The org runs this many times faster than real time (an "
        "emulator started with --time-scale): measured times are multiplied by it.",
    ),
    edition: str = opt.Edition,
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Measure an org (or the emulator): which requests count, latency, Bulk queue wait and speed; write a profile."""
    count = opt.positive_int(records, "--records")
    if count > 10_000:
        opt.fail(f"--records {count:,}: calibration works on at most 10,000 records")
    field_list = tuple(f.strip() for f in (fields or "").split(",") if f.strip())
    embedded = not org.wants_real_org
    scale = time_scale if time_scale is not None else (opt.load_profile(profile).time_scale if embedded else 1.0)
    settings = CalibrationSettings(
        sobject=sobject,
        fields=field_list,
        where=where,
        records=count,
        repeat=repeat,
        max_calls=max_calls,
        max_checks=max_checks,
        time_scale=scale if scale > 0 else 1.0,
        name=name or out.stem,
    )
    steps = calibration_plan(settings)
    needed = sum(s.requests for s in steps)
    _say(plan_lines(steps, max_calls), to_stderr=json_out)
    if dry_run:
        output.finish(
            {
                "dry_run": True,
                "requests": needed,
                "batches": sum(s.batches for s in steps),
                "steps": [{"what": s.what, "requests": s.requests, "batches": s.batches} for s in steps],
            }
        )
        return
    if needed > max_calls:
        opt.fail(
            f"calibration needs up to {needed:,} API requests, more than --max-calls {max_calls:,}: lower --repeat, "
            "--max-checks or --records, or raise --max-calls"
        )
    with opt.open_org(org, edition=edition, profile=profile, time_scale=time_scale, faults=None) as conn:
        if conn.kind == "production" and not allow_production:
            opt.fail(
                "this is a production org; calibration writes records (their own values back, or records it creates "
                "and deletes). Re-run with --allow-production if you mean it."
            )
        try:
            result = Calibrator(
                conn, settings, progress=lambda m: None if json_out else opt.err_console.print(f"calibrate: {m}")
            ).run()
        except CalibrationRecordsError as err:
            opt.fail(str(err))
    save_profile(result.profile, out)
    report = report_lines(result)
    report_path = out.with_suffix(".md")
    report_path.write_text("\n".join(report) + "\n", encoding="utf-8")
    if not json_out:
        opt.console.print("\n".join(report), markup=False, highlight=False, soft_wrap=True)
        opt.console.print(
            f"\nprofile: {out}\nreport: {report_path}\nreplay it: sfharness emulator serve --profile {out}; "
            f"plan with it: sfharness plan --records N --profile {out}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    output.finish({"profile_file": str(out), "report_file": str(report_path), **result.to_dict()})


def _say(lines: list[str], *, to_stderr: bool) -> None:
    console = opt.err_console if to_stderr else opt.console
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
