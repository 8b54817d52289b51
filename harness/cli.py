"""The `sfharness` command: mounts one Typer app per command group."""

from __future__ import annotations

import typer

from .commands import emulator as emulator_cmd

app = typer.Typer(
    name="sfharness",
    help="Update many Salesforce records with the strategy that costs least, and prove it with measured figures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.add_typer(emulator_cmd.app, name="emulator")


def main() -> None:
    app()
