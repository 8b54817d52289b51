"""Where a command's words go: the consoles, the `--json` envelope, and how a failure is shown.

One envelope for every command, the sf CLI's way, so a script reads every command alike::

    {"status": <exit code>, "result": {...}, "warnings": [...]}                      success
    {"status": 4, "name": "TlsUntrusted", "message": "...", "hint": "...",
     "result": {...what was done before...}, "warnings": [...]}                     failure

Under `--json` the envelope is the only thing written to stdout (errors included); tables, progress and
notes are not printed at all. Without it, tables go to stdout and errors, warnings and progress to stderr.
Tracebacks appear only with `--debug` or ``SFHARNESS_DEBUG=1``, after `orgs.redact` blanked any
credential value in them.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from .failures import EXIT_OK, Failure, classify
from .orgs import redact

DEBUG_ENV = "SFHARNESS_DEBUG"

console = Console()
err_console = Console(stderr=True)


@dataclass
class Invocation:
    """What the current command line asked of the output: JSON or text, tracebacks or not; and the
    warnings gathered on the way (shown as they happen in text mode, listed in the envelope)."""

    json: bool = False
    debug: bool = False
    warnings: list[str] = field(default_factory=list)


_current = Invocation()


def begin(args: list[str]) -> Invocation:
    """Start a command line's output. `--json` may stand anywhere after the command (as in the sf CLI)."""
    global _current
    debug_env = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    _current = Invocation(json="--json" in args, debug=debug_env or "--debug" in args)
    return _current


def current() -> Invocation:
    return _current


def set_debug(on: bool) -> None:
    """The root `--debug` flag (also picked up from the arguments by `begin`, for failures before parsing)."""
    _current.debug = _current.debug or on


def warn(message: str) -> None:
    """A warning: in the envelope's ``warnings`` under --json, one stderr line otherwise."""
    message = redact(message)
    _current.warnings.append(message)
    if not _current.json:
        _labelled("warning: ", "yellow", message)


def _labelled(label: str, style: str, message: str) -> None:
    """One stderr line: a styled label, then the message as plain text (never read as rich markup)."""
    err_console.print(Text.assemble((label, style), message), highlight=False, soft_wrap=True)


def envelope(
    status: int, result: dict[str, Any] | None, failure: Failure | None = None, stack: str | None = None
) -> dict[str, Any]:
    """The JSON document of a finished command (see the module docstring)."""
    doc: dict[str, Any] = {"status": status}
    if failure is not None:
        doc["name"] = failure.name
        doc["message"] = failure.message
        if failure.hint:
            doc["hint"] = failure.hint
    doc["result"] = result if result is not None else {}
    doc["warnings"] = [*_current.warnings, *(failure.warnings if failure else ())]
    if stack:
        doc["stack"] = stack
    return doc


def print_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, default=str) + "\n")
    sys.stdout.flush()


def finish(result: dict[str, Any], failure: Failure | None = None) -> None:
    """End a command that ran to its end: print the envelope under --json; exit with the failure's status.

    A failure here is one the command judged itself (records failed, a job left processing), so its
    line comes after the command's own tables.
    """
    if failure is None:
        if _current.json:
            print_json(envelope(EXIT_OK, result))
        return
    show_failure(failure, result)
    raise typer.Exit(failure.status)


def show_failure(failure: Failure, result: dict[str, Any] | None = None, exc: BaseException | None = None) -> None:
    """The failure as one error line and its hint (stderr), or as the envelope under --json."""
    failure = failure.redacted()
    stack = redact("".join(traceback.format_exception(exc))) if exc is not None and _current.debug else None
    if _current.json:
        print_json(envelope(failure.status, result, failure, stack))
        if stack:
            sys.stderr.write(stack)
        return
    if stack:
        err_console.print(stack, markup=False, highlight=False, soft_wrap=True, end="")
    for note in failure.warnings:
        _labelled("warning: ", "yellow", note)
    _labelled("error: ", "bold red", failure.message)
    if failure.hint:
        _labelled("hint: ", "cyan", failure.hint)


def exit_for(exc: BaseException) -> NoReturn:
    """Show what `exc` stands for and exit with its status (the one path of every failing command)."""
    failure = classify(exc)
    show_failure(failure, getattr(exc, "result", None), exc)
    raise SystemExit(failure.status)


def text(message: str, *, markup: bool = False) -> None:
    """A line of human output (skipped under --json)."""
    if not _current.json:
        console.print(message, markup=markup, highlight=False, soft_wrap=True)
