"""Command-line options and their parsing, shared by the commands, and the console they print to."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer

from emulator.profiles import OrgProfile, get_profile
from strategies.operation import Operation

from . import failures
from .orgs import DEFAULT_API_VERSION, OrgConnection, OrgOptions, Secret, connect, embedded_emulator
from .output import console, err_console

__all__ = [
    "HELP_OPTIONS",
    "console",
    "err_console",
    "fail",
    "names",
    "open_org",
    "positive_int",
    "positive_ints",
    "with_org_options",
]

HELP_OPTIONS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
"""`-h` as well as `--help`, on the root and on every command (as in the sf CLI)."""

Edition = typer.Option(
    "developer", "--edition", help="Emulator edition when no org is given: developer, enterprise or sandbox."
)
Profile = typer.Option(
    "instant",
    "--profile",
    help="Org profile of the embedded emulator: instant, realistic, heavy-automation, "
    "or a profile JSON file (e.g. one `sfharness calibrate` wrote).",
)
PlanningProfile = typer.Option(
    "realistic",
    "--profile",
    help="The org profile the prediction rests on (counting rules, timings; for update's auto, the Bulk 2.0 "
    "polls it weighs): "
    "realistic, instant, heavy-automation, or a profile JSON file (e.g. one `sfharness calibrate` wrote).",
)
"""`plan`'s and `update`'s --profile: a model of the org, not an emulator to start (that is `Profile`)."""
TimeScale = typer.Option(None, "--time-scale", help="Run the emulator's profile this many times faster than real time.")
Faults = typer.Option(
    None, "--faults", help="Emulator fault injection, e.g. 'http_503_rate=0.02,lock_error_rate=0.01,seed=7'."
)
JsonOut = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")
Concurrency = typer.Option(
    None,
    "--concurrency",
    min=1,
    max=16,
    help="Requests rest, collections, composite and auto (as composite) send at once over one session (default: rest 1, the others 4; see README).",
)


@dataclass(frozen=True)
class _OrgFlag:
    """One org connection flag: its `OrgOptions` field, the variable typer reads when the flag is absent."""

    field: str
    flag: str
    envvar: str
    help: str
    secret: bool = False  # wrapped in `Secret`, and its default (from the environment) never shown
    default: str | None = None
    short: str | None = None  # the sf CLI's short flag, where it has one


_PREFER_ENV = "prefer the environment variable: a flag shows in the process list"
_ORG_FLAGS = (
    _OrgFlag("target_org", "--target-org", "SF_TARGET_ORG", "sf CLI org alias (uses `sf org display`).", short="-o"),
    _OrgFlag("instance_url", "--instance-url", "SF_INSTANCE_URL", "Org URL for access-token auth."),
    _OrgFlag("access_token", "--access-token", "SF_ACCESS_TOKEN", f"Access token ({_PREFER_ENV}).", True),
    _OrgFlag("client_id", "--client-id", "SF_CLIENT_ID", "Connected/external client app key."),
    _OrgFlag("client_secret", "--client-secret", "SF_CLIENT_SECRET", f"Client secret ({_PREFER_ENV}).", True),
    _OrgFlag("jwt_key_file", "--jwt-key-file", "SF_JWT_KEY_FILE", "Private key for the JWT bearer flow."),
    _OrgFlag("username", "--username", "SF_USERNAME", "Username (JWT subject, or password login)."),
    _OrgFlag("password", "--password", "SF_PASSWORD", f"Password ({_PREFER_ENV}).", True),
    _OrgFlag("security_token", "--security-token", "SF_SECURITY_TOKEN", f"Security token ({_PREFER_ENV}).", True),
    _OrgFlag(
        "login_url",
        "--login-url",
        "SF_LOGIN_URL",
        "Login host: https://login.salesforce.com, https://test.salesforce.com or your My Domain.",
    ),
    _OrgFlag("ca_file", "--ca-file", "SF_CA_FILE", "Extra CA certificate to trust (a standalone emulator's ca_file)."),
    _OrgFlag("api_version", "--api-version", "SF_API_VERSION", "Salesforce API version.", default=DEFAULT_API_VERSION),
)


def _parameter(spec: _OrgFlag) -> inspect.Parameter:
    flags = (spec.flag, spec.short) if spec.short else (spec.flag,)
    option = typer.Option(spec.default, *flags, envvar=spec.envvar, help=spec.help, show_default=not spec.secret)
    annotation = str if spec.default is not None else str | None
    return inspect.Parameter(spec.field, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def _org_options(values: dict[str, Any]) -> OrgOptions:
    """The flags as typer resolved them (flag, else environment variable, else default); "" counts as unset."""
    fields: dict[str, Any] = {}
    for spec in _ORG_FLAGS:
        value = values.get(spec.field) or None
        if value is not None:
            fields[spec.field] = Secret(value) if spec.secret else value
    return OrgOptions(**fields)


def with_org_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the org connection flags to a command; it receives them as `org` (an `OrgOptions`).

    One definition for every command that reaches an org (typer reads the signature we publish here), and
    typer's own `envvar=` reads the environment, so a flag and its variable can never be merged two ways.
    """
    sig = inspect.signature(command)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values() if p.name != "org"]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {spec.field: kwargs.pop(spec.field, None) for spec in _ORG_FLAGS}
        return command(*args, org=_org_options(values), **kwargs)

    published = sig.replace(parameters=[*params, *map(_parameter, _ORG_FLAGS)])
    wrapper.__signature__ = published  # type: ignore[attr-defined]
    return wrapper


@contextmanager
def open_org(
    options: OrgOptions,
    *,
    edition: str = "developer",
    profile: str = "instant",
    time_scale: float | None = None,
    faults: str | None = None,
) -> Iterator[OrgConnection]:
    """A real org when credentials were given, else the embedded emulator (started in a child process).

    A failure to connect or log in propagates: `harness.failures` names it (exit 2 or 4)."""
    if options.wants_real_org:
        yield connect(options)
        return
    with embedded_emulator(
        profile=profile, time_scale=time_scale, edition=edition, faults=faults, api_version=options.api_version
    ) as conn:
        yield conn


_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+")
"""A number written with thousands separators: ``250,000``, ``1,250,000``."""


def positive_ints(text: str, flag: str, *, several: bool = True) -> list[int]:
    """Record counts, read the same way by every command, sorted and without repeats.

    ``250000``, ``250_000`` and ``250,000`` are one count. Several counts are separated by commas
    (``100,2000,10000``), spaces or semicolons (``"1,000 20,000"``). A comma-grouped token is one number
    when a group after its first starts with 0 (``250,000``, ``1,250,000``: no count is written with a
    leading zero), or when the flag takes one count; otherwise its commas separate counts (``50,250`` is
    two counts for `compare`, one for `plan`).
    """
    values: list[int] = []
    for token in (t for t in re.split(r"[\s;]+", text.strip()) if t):
        grouped = _GROUPED.fullmatch(token) is not None
        if grouped and (not several or any(g.startswith("0") for g in token.split(",")[1:])):
            pieces = [token.replace(",", "")]
        else:
            pieces = [p for p in token.split(",") if p]
        for piece in pieces:
            if not re.fullmatch(r"\d[\d_]*", piece):
                fail(f"{flag} expects whole numbers such as 250000, 250,000 or 100,2000,10000; got {text!r}")
            values.append(int(piece.replace("_", "")))
    if not values or min(values) <= 0:
        fail(
            f"{flag} needs positive numbers, got {text!r}",
            hint='separate several counts with spaces when they use thousands separators: "1,000 20,000"',
        )
    return sorted(set(values))


def positive_int(text: str, flag: str) -> int:
    """One record count, read as `positive_ints` reads each (``250,000`` or ``250000``)."""
    values = positive_ints(text, flag, several=False)
    if len(values) != 1:
        fail(f"{flag} takes one number, got {text!r}")
    return values[0]


def names(text: str | None, default: list[str], known: list[str], flag: str) -> list[str]:
    """A comma-separated list of names, each one of `known` (`default` when the flag is not given)."""
    chosen = [s.strip() for s in text.split(",") if s.strip()] if text else list(default)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        fail(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    return chosen


def fail(
    message: str, code: int = failures.EXIT_INPUT, *, name: str | None = None, hint: str | None = None
) -> NoReturn:
    """End the command with one clear line (and a hint); `harness.output` shows it, text or JSON."""
    raise failures.fail(message, code, name=name, hint=hint)


def load_profile(source: str, time_scale: float | None = None) -> OrgProfile:
    """The org profile named by --profile (built-in name or file), or a clear error naming the field."""
    try:
        return get_profile(source, time_scale)
    except ValueError as err:
        fail(f"--profile: {err}")


def check_upsert_key(operation: Operation, sobject: str, described: list[dict[str, Any]]) -> None:
    """Fail (before any write) when the object's describe `described` says the upsert's key field cannot be
    upserted on, with the object's external ids as the hint (`update` and `compare` alike)."""
    problem = operation.key_field_problem(sobject, described)
    if not problem:
        return
    keys = [f["name"] for f in described if f.get("externalId")]
    guess = failures.did_you_mean(operation.key, keys)
    fail(
        problem,
        name="UnknownField",
        hint=f"did you mean --external-id {guess}?"
        if guess
        else (f"{sobject}'s external ids: {', '.join(keys)}" if keys else f"{sobject} has no external id field"),
    )
