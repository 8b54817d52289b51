"""Command-line options shared by the commands that reach an org, and the console they print to."""

from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn, Optional

import typer
from rich.console import Console

from emulator.profiles import OrgProfile, get_profile

from .orgs import ConnectionError_, OrgConnection, OrgOptions, connect, embedded_emulator

console = Console()
err_console = Console(stderr=True)

TargetOrg = typer.Option(None, "--target-org", help="sf CLI org alias (uses `sf org display`). Env: SF_TARGET_ORG.")
InstanceUrl = typer.Option(None, "--instance-url", help="Org URL for access-token auth. Env: SF_INSTANCE_URL.")
AccessToken = typer.Option(None, "--access-token", help="Access token (prefer the env var SF_ACCESS_TOKEN).", show_default=False)
ClientId = typer.Option(None, "--client-id", help="Connected/external client app key. Env: SF_CLIENT_ID.")
ClientSecret = typer.Option(None, "--client-secret", help="Client secret (prefer SF_CLIENT_SECRET).", show_default=False)
JwtKeyFile = typer.Option(None, "--jwt-key-file", help="Private key for the JWT bearer flow. Env: SF_JWT_KEY_FILE.")
Username = typer.Option(None, "--username", help="Username (JWT subject, or password login). Env: SF_USERNAME.")
Password = typer.Option(None, "--password", help="Password (prefer SF_PASSWORD).", show_default=False)
SecurityToken = typer.Option(None, "--security-token", help="Security token (prefer SF_SECURITY_TOKEN).", show_default=False)
LoginUrl = typer.Option(None, "--login-url", help="Login host: https://login.salesforce.com, https://test.salesforce.com or your My Domain. Env: SF_LOGIN_URL.")
ApiVersion = typer.Option("62.0", "--api-version", help="Salesforce API version.")
Edition = typer.Option("developer", "--edition", help="Emulator edition when no org is given: developer, enterprise or sandbox.")
Profile = typer.Option("instant", "--profile", help="Org profile of the embedded emulator: instant, realistic, or a profile "
                       "JSON file (e.g. one `sfharness calibrate` wrote).")
TimeScale = typer.Option(None, "--time-scale", help="Run the emulator's profile this many times faster than real time.")
Faults = typer.Option(None, "--faults", help="Emulator fault injection, e.g. 'http_503_rate=0.02,lock_error_rate=0.01,seed=7'.")
JsonOut = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


CaFile = typer.Option(None, "--ca-file", help="Extra CA certificate to trust (e.g. a standalone emulator's ca_file). Env: SF_CA_FILE.")

_ORG_PARAMS = {
    "target_org": TargetOrg, "instance_url": InstanceUrl, "access_token": AccessToken, "client_id": ClientId,
    "client_secret": ClientSecret, "jwt_key_file": JwtKeyFile, "username": Username, "password": Password,
    "security_token": SecurityToken, "login_url": LoginUrl, "ca_file": CaFile,
}


def with_org_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the org connection flags to a command; it receives them merged with the environment as `org`.

    One definition for every command that reaches an org (typer reads the signature we publish here).
    """
    sig = inspect.signature(command)
    params = [p for p in sig.parameters.values() if p.name != "org"]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Optional[str])
             for name, default in _ORG_PARAMS.items()]
    extra.append(inspect.Parameter("api_version", inspect.Parameter.KEYWORD_ONLY, default=ApiVersion, annotation=str))

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name, None) for name in (*_ORG_PARAMS, "api_version")}
        return command(*args, org=OrgOptions.from_env(**flags), **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[*(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params), *extra])  # type: ignore[attr-defined]
    return wrapper


@contextmanager
def open_org(options: OrgOptions, *, edition: str = "developer", profile: str = "instant", time_scale: Optional[float] = None,
             faults: Optional[str] = None) -> Iterator[OrgConnection]:
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


def load_profile(source: str, time_scale: float | None = None) -> OrgProfile:
    """The org profile named by --profile (built-in name or file), or a clear error naming the field."""
    try:
        return get_profile(source, time_scale)
    except ValueError as err:
        fail(f"--profile: {err}")


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
