"""The `sfharness` command: mounts one Typer app per command group, and ends every command line alike.

`_Sfharness.main` is the one exit path: whatever a command raises is classified by `harness.failures`
(exit code, name, one line, hint) and shown by `harness.output` (text or the `--json` envelope), usage
errors from the flag parser included. Tracebacks only with `--debug` or ``SFHARNESS_DEBUG=1``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer 0.2x vendors click as typer._click; older typer uses click itself
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError  # type: ignore[assignment]

from . import output
from .commands import bench as bench_cmd
from .commands import calibrate as calibrate_cmd
from .commands import compare as compare_cmd
from .commands import emulator as emulator_cmd
from .commands import limits as limits_cmd
from .commands import plan as plan_cmd
from .commands import update as update_cmd
from .failures import EXIT_INPUT, EXIT_INTERRUPTED, Failure
from .options import HELP_OPTIONS


class _Sfharness(TyperGroup):
    """The root group: runs the command line without click's own exit handling, then exits once."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        invocation = output.begin(argv)
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) else 0
        except UsageError as err:
            code = EXIT_INPUT
            if type(err).__name__ == "NoArgsIsHelpError":  # `sfharness` alone: the help, not an error
                err.show()
                code = 0
            elif invocation.json:
                failure = Failure(
                    EXIT_INPUT,
                    "UsageError",
                    err.format_message(),
                    f"see `{err.ctx.command_path if err.ctx else 'sfharness'} --help`",
                )
                output.show_failure(failure)
            else:
                from typer import rich_utils

                rich_utils.rich_format_error(err)
        except typer.Abort:
            code = EXIT_INTERRUPTED
            output.show_failure(Failure(EXIT_INTERRUPTED, "Interrupted", "aborted"))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except (Exception, KeyboardInterrupt) as exc:  # every failure ends here, classified
            try:
                output.exit_for(exc)
            except SystemExit as done:
                code = int(done.code or 0)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name="sfharness",
    cls=_Sfharness,
    help="Update many Salesforce records with the strategy that costs least, and prove it with measured figures.",
    no_args_is_help=True,
    context_settings=HELP_OPTIONS,
    pretty_exceptions_enable=False,  # failures are shown by harness.output (tracebacks only with --debug)
)


def _version(value: bool) -> None:
    if value:
        try:
            number = version("sf-update-harness")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
            number = "unknown"
        typer.echo(f"sfharness {number} (Python {sys.version.split()[0]})")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks of failures (also SFHARNESS_DEBUG=1); secrets are blanked."
    ),
) -> None:
    """Update many Salesforce records with the strategy that costs least, and prove it with measured figures."""
    output.set_debug(debug)


app.add_typer(emulator_cmd.app, name="emulator")
for name, command in (
    ("compare", compare_cmd.compare),
    ("bench", bench_cmd.bench),
    ("plan", plan_cmd.plan),
    ("update", update_cmd.update),
    ("resume", update_cmd.resume),
    ("limits", limits_cmd.limits),
    ("calibrate", calibrate_cmd.calibrate),
):
    app.command(name, context_settings=HELP_OPTIONS)(command)


def main() -> None:
    app()
