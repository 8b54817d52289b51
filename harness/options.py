"""Command-line options and their parsing, shared by the commands, and the console they print to."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console

from .orgs import DEFAULT_API_VERSION, ConnectionError_, OrgConnection, OrgOptions, Secret, connect, embedded_emulator

console = Console()
err_console = Console(stderr=True)

Edition = typer.Option("developer", "--edition", help="Emulator edition when no org is given: developer, enterprise or sandbox.")
Profile = typer.Option("instant", "--profile", help="Emulator latency profile: instant or realistic.")
TimeScale = typer.Option(None, "--time-scale", help="Run the emulator's profile this many times faster than real time.")
Faults = typer.Option(None, "--faults", help="Emulator fault injection, e.g. 'http_503_rate=0.02,lock_error_rate=0.01,seed=7'.")
JsonOut = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")
Concurrency = typer.Option(None, "--concurrency", min=1, max=16, help="Requests rest, collections, composite and auto (as composite) send at once over one session (default: rest 1, the others 4; see README).")


@dataclass(frozen=True)
class _OrgFlag:
    """One org connection flag: its `OrgOptions` field, the variable typer reads when the flag is absent."""

    field: str
    flag: str
    envvar: str
    help: str
    secret: bool = False  # wrapped in `Secret`, and its default (from the environment) never shown
    default: str | None = None


_PREFER_ENV = "prefer the environment variable: a flag shows in the process list"
_ORG_FLAGS = (
    _OrgFlag("target_org", "--target-org", "SF_TARGET_ORG", "sf CLI org alias (uses `sf org display`)."),
    _OrgFlag("instance_url", "--instance-url", "SF_INSTANCE_URL", "Org URL for access-token auth."),
    _OrgFlag("access_token", "--access-token", "SF_ACCESS_TOKEN", f"Access token ({_PREFER_ENV}).", True),
    _OrgFlag("client_id", "--client-id", "SF_CLIENT_ID", "Connected/external client app key."),
    _OrgFlag("client_secret", "--client-secret", "SF_CLIENT_SECRET", f"Client secret ({_PREFER_ENV}).", True),
    _OrgFlag("jwt_key_file", "--jwt-key-file", "SF_JWT_KEY_FILE", "Private key for the JWT bearer flow."),
    _OrgFlag("username", "--username", "SF_USERNAME", "Username (JWT subject, or password login)."),
    _OrgFlag("password", "--password", "SF_PASSWORD", f"Password ({_PREFER_ENV}).", True),
    _OrgFlag("security_token", "--security-token", "SF_SECURITY_TOKEN", f"Security token ({_PREFER_ENV}).", True),
    _OrgFlag("login_url", "--login-url", "SF_LOGIN_URL",
             "Login host: https://login.salesforce.com, https://test.salesforce.com or your My Domain."),
    _OrgFlag("ca_file", "--ca-file", "SF_CA_FILE", "Extra CA certificate to trust (a standalone emulator's ca_file)."),
    _OrgFlag("api_version", "--api-version", "SF_API_VERSION", "Salesforce API version.", default=DEFAULT_API_VERSION),
)


def _parameter(spec: _OrgFlag) -> inspect.Parameter:
    option = typer.Option(spec.default, spec.flag, envvar=spec.envvar, help=spec.help, show_default=not spec.secret)
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
    """A real org when credentials were given, else the embedded emulator (started in a child process)."""
    if options.wants_real_org:
        try:
            yield connect(options)
        except ConnectionError_ as err:
            fail(str(err))
        return
    try:
        with embedded_emulator(profile=profile, time_scale=time_scale, edition=edition, faults=faults, api_version=options.api_version) as conn:
            yield conn
    except ConnectionError_ as err:
        fail(str(err))


def positive_ints(text: str, flag: str) -> list[int]:
    """A comma-separated list of positive whole numbers (``100,2_000,10000``), sorted and without repeats."""
    try:
        values = sorted({int(v.strip().replace("_", "")) for v in text.split(",") if v.strip()})
    except ValueError:
        fail(f"{flag} expects comma-separated whole numbers, got {text!r}")
    if not values or values[0] <= 0:
        fail(f"{flag} needs at least one positive number")
    return values


def names(text: str | None, default: list[str], known: list[str], flag: str) -> list[str]:
    """A comma-separated list of names, each one of `known` (`default` when the flag is not given)."""
    chosen = [s.strip() for s in text.split(",") if s.strip()] if text else list(default)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        fail(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    return chosen


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
