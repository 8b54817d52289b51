"""The `sfharness` command: mounts one Typer app per command group."""

from __future__ import annotations

import typer

from .commands import bench as bench_cmd
from .commands import calibrate as calibrate_cmd
from .commands import compare as compare_cmd
from .commands import emulator as emulator_cmd
from .commands import limits as limits_cmd
from .commands import plan as plan_cmd
from .commands import update as update_cmd

app = typer.Typer(
    name="sfharness",
    help="Update many Salesforce records with the strategy that costs least, and prove it with measured figures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.add_typer(emulator_cmd.app, name="emulator")
app.command("compare")(compare_cmd.compare)
app.command("bench")(bench_cmd.bench)
app.command("plan")(plan_cmd.plan)
app.command("update")(update_cmd.update)
app.command("resume")(update_cmd.resume)
app.command("limits")(limits_cmd.limits)
app.command("calibrate")(calibrate_cmd.calibrate)


def main() -> None:
    app()
