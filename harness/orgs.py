"""Reaching an org: the embedded emulator (default), or a real sandbox/production org.

Credentials come from flags or environment variables (never from files we write) and are held in
`Secret`, whose repr and str never show the value. Supported, in order of preference:
an sf CLI alias (`sf org display --json`), access token + instance URL, OAuth client credentials, JWT
bearer, and username + password (+ security token; OAuth password flow when a client id/secret is given,
else SOAP login(), which Salesforce is retiring: API 64.0 and earlier, off for orgs created Winter '26+).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from defusedxml.ElementTree import fromstring

from strategies.transport import OrgSession

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_API_VERSION = "62.0"


_SECRET_VALUES: set[str] = set()
"""Every credential value this process has held, so `redact` can blank one wherever it might surface."""


class Secret:
    """A credential that never prints itself (reprs, logs, tracebacks, reports)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 4:  # shorter values would blank ordinary words; no real credential is that short
            _SECRET_VALUES.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(text: str) -> str:
    """`text` with every credential value this process has held replaced by ``***`` (longest first)."""
    for value in sorted(_SECRET_VALUES, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


class ConnectionError_(Exception):
    """Could not connect or log in; the message never includes a secret. Network errors are not wrapped
    in it: they reach `harness.failures` as `requests` raised them, which names each kind in one place."""


class IncompleteCredentials(ConnectionError_):
    """The flags and variables given do not make up any supported login."""


class LoginRefused(ConnectionError_):
    """The login endpoint (OAuth token, JWT bearer, SOAP login) refused the credentials."""


class SfCliUnavailable(ConnectionError_):
    """The sf CLI is missing, or could not give a token for the alias."""


class BadOrgUrl(ConnectionError_):
    """An org or login URL that is not an absolute https:// address (e.g. written without its scheme)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def org_url(value: str, flag: str) -> str:
    """`value` without trailing slashes, once it is an absolute http(s) URL; `BadOrgUrl` otherwise."""
    parts = urlsplit(value.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return value.strip().rstrip("/")
    if not parts.scheme or not parts.netloc:
        guess = "https://" + value.strip().split("://")[-1].lstrip("/")
        raise BadOrgUrl(f"{flag} {value!r} is not a URL: it has no scheme", f"write it with its scheme: {flag} {guess}")
    raise BadOrgUrl(f"{flag} {value!r} is not an http(s) URL", "an org is reached over https://")


@dataclass
class OrgOptions:
    """Connection flags as the CLI received them (typer reads each flag's environment variable: `options.py`)."""

    target_org: str | None = None
    instance_url: str | None = None
    access_token: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    jwt_key_file: str | None = None
    username: str | None = None
    password: Secret | None = None
    security_token: Secret | None = None
    login_url: str | None = None
    api_version: str = DEFAULT_API_VERSION
    ca_file: str | None = None

    @property
    def wants_real_org(self) -> bool:
        return bool(self.target_org or self.instance_url or self.client_id or self.username)


@dataclass
class OrgConnection:
    """A logged-in org: where it is, what kind it is, and how to get a (fresh) token."""

    instance_url: str
    kind: str  # emulator | sandbox | production | developer | unknown
    api_version: str
    ca_file: str | None
    token_provider: Callable[[], Secret]
    refreshable: bool
    auth_method: str
    admin: Any = None  # emulator.server.AdminClient on the emulator, else None
    _token: Secret | None = field(default=None, repr=False)

    def token(self) -> Secret:
        if self._token is None:
            self._token = self.token_provider()
        return self._token

    def session(self, **options: Any) -> OrgSession:
        def reauthenticate() -> str:
            self._token = self.token_provider()
            return self._token.reveal()

        return OrgSession(
            self.instance_url,
            self.token().reveal(),
            api_version=self.api_version,
            ca_file=self.ca_file,
            reauthenticate=reauthenticate if self.refreshable else None,
            **options,
        )

    @property
    def is_emulator(self) -> bool:
        return self.kind == "emulator"

    def describe(self) -> dict[str, Any]:
        return {
            "instance_url": self.instance_url,
            "kind": self.kind,
            "api_version": self.api_version,
            "auth": self.auth_method,
        }


# -- real orgs ---------------------------------------------------------------------------------------------
def connect(options: OrgOptions) -> OrgConnection:
    """Log in to a real org with the first complete set of credentials found."""
    verify: str | bool = options.ca_file or True
    version = options.api_version
    if options.target_org:
        provider = lambda: _sf_cli_token(options.target_org)  # noqa: E731
        info = _sf_cli_display(options.target_org)
        conn = OrgConnection(info["instanceUrl"], "unknown", version, options.ca_file, provider, True, "sf CLI alias")
    elif options.instance_url and options.access_token:
        token = options.access_token
        instance = org_url(options.instance_url, "--instance-url")
        conn = OrgConnection(instance, "unknown", version, options.ca_file, lambda: token, False, "access token")
    elif options.client_id and options.client_secret and not options.username:
        if not (options.login_url or options.instance_url):
            raise IncompleteCredentials(
                "client credentials need the org's My Domain URL: set --login-url or SF_LOGIN_URL"
            )
        login = _login_url(
            options.login_url or options.instance_url, "--login-url" if options.login_url else "--instance-url"
        )
        form = {
            "grant_type": "client_credentials",
            "client_id": options.client_id,
            "client_secret": options.client_secret.reveal(),
        }
        conn = _oauth_connection(login, form, verify, version, options.ca_file, "OAuth client credentials")
    elif options.client_id and options.jwt_key_file and options.username:
        conn = _jwt_connection(_login_url(options.login_url), options, verify, version)
    elif options.username and options.password:
        login = _login_url(options.login_url)
        password = options.password.reveal() + (options.security_token.reveal() if options.security_token else "")
        if options.client_id and options.client_secret:
            form = {
                "grant_type": "password",
                "client_id": options.client_id,
                "client_secret": options.client_secret.reveal(),
                "username": options.username,
                "password": password,
            }
            conn = _oauth_connection(login, form, verify, version, options.ca_file, "OAuth username-password")
        else:
            conn = _soap_connection(login, options.username, password, verify, version, options.ca_file)
    else:
        raise IncompleteCredentials(
            "incomplete credentials: give --target-org, or --instance-url with --access-token, or --client-id with "
            "--client-secret (and --login-url), or --client-id with --jwt-key-file and --username, or --username with --password"
        )
    conn.kind = org_kind(conn)
    return conn


def _login_url(value: str | None, flag: str = "--login-url") -> str:
    return org_url(value, flag) if value else DEFAULT_LOGIN_URL


def _post(url: str, verify: str | bool, **kw: Any) -> requests.Response:
    """A login request; a network failure propagates as `requests` raised it (`harness.failures` names it)."""
    return requests.post(url, verify=verify, timeout=60, **kw)


def _oauth_connection(
    login: str, form: dict[str, str], verify: str | bool, version: str, ca_file: str | None, method: str
) -> OrgConnection:
    def token_response() -> dict[str, Any]:
        resp = _post(f"{login}/services/oauth2/token", verify, data=form)
        if resp.status_code != 200:
            try:
                body = resp.json()
                detail = f"{body.get('error')}: {body.get('error_description')}"
            except ValueError:
                detail = f"HTTP {resp.status_code}"
            raise LoginRefused(f"{method} login failed ({detail})")
        return resp.json()

    first = token_response()
    state = {"first": first}

    def provider() -> Secret:
        body = state.pop("first", None) or token_response()
        return Secret(body["access_token"])

    return OrgConnection(first["instance_url"].rstrip("/"), "unknown", version, ca_file, provider, True, method)


def _jwt_connection(login: str, options: OrgOptions, verify: str | bool, version: str) -> OrgConnection:
    import jwt

    with open(options.jwt_key_file, "rb") as fh:  # type: ignore[arg-type]
        key = fh.read()
    audience = (
        login if not login.endswith(".salesforce.com") or "login." in login or "test." in login else DEFAULT_LOGIN_URL
    )

    def assertion() -> str:
        claims = {"iss": options.client_id, "sub": options.username, "aud": audience, "exp": int(time.time()) + 180}
        return jwt.encode(claims, key, algorithm="RS256")

    form_factory = lambda: {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion()}  # noqa: E731
    first = _post(f"{login}/services/oauth2/token", verify, data=form_factory())
    if first.status_code != 200:
        raise LoginRefused(f"JWT bearer login failed (HTTP {first.status_code}: {first.text[:200]})")
    body = first.json()
    state = {"first": body}

    def provider() -> Secret:
        got = state.pop("first", None)
        if got is None:
            resp = _post(f"{login}/services/oauth2/token", verify, data=form_factory())
            if resp.status_code != 200:
                raise LoginRefused(f"JWT bearer login failed (HTTP {resp.status_code})")
            got = resp.json()
        return Secret(got["access_token"])

    return OrgConnection(
        body["instance_url"].rstrip("/"), "unknown", version, options.ca_file, provider, True, "JWT bearer"
    )


def _soap_connection(
    login: str, username: str, password: str, verify: str | bool, version: str, ca_file: str | None
) -> OrgConnection:
    soap_version = min(float(version), 64.0)  # login() exists only in API 64.0 and earlier

    def do_login() -> tuple[str, Secret]:
        envelope = _login_envelope(username, password)
        resp = _post(
            f"{login}/services/Soap/u/{soap_version:.1f}",
            verify,
            data=envelope,
            headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        )
        root = fromstring(resp.content)
        values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        if resp.status_code != 200 or "sessionId" not in values:
            raise LoginRefused(f"SOAP login failed ({values.get('faultstring', f'HTTP {resp.status_code}')})")
        parts = urlsplit(values["serverUrl"])
        return f"{parts.scheme}://{parts.netloc.replace('-api', '')}", Secret(values["sessionId"])

    instance, token = do_login()
    state = {"first": token}

    def provider() -> Secret:
        return state.pop("first", None) or do_login()[1]

    return OrgConnection(
        instance, "unknown", version, ca_file, provider, True, "SOAP login (legacy; being retired by Salesforce)"
    )


def _login_envelope(username: str, password: str) -> bytes:
    """The Partner login() request, built by a serializer (never string concatenation)."""
    env, partner = "http://schemas.xmlsoap.org/soap/envelope/", "urn:partner.soap.sforce.com"
    root = ET.Element(f"{{{env}}}Envelope")
    login = ET.SubElement(ET.SubElement(root, f"{{{env}}}Body"), f"{{{partner}}}login")
    ET.SubElement(login, f"{{{partner}}}username").text = username
    ET.SubElement(login, f"{{{partner}}}password").text = password
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _sf_cli_display(alias: str) -> dict[str, Any]:
    exe = shutil.which("sf")
    if not exe:
        raise SfCliUnavailable("the sf CLI is not installed or not on PATH (needed for --target-org)")
    proc = subprocess.run(
        [exe, "org", "display", "--json", "--target-org", alias], capture_output=True, text=True, timeout=120
    )
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise SfCliUnavailable(f"sf org display failed for {alias!r} (exit {proc.returncode})") from None
    result = data.get("result") or {}
    if proc.returncode != 0 or "accessToken" not in result:
        raise SfCliUnavailable(f"sf org display failed for {alias!r}: {data.get('message', 'no access token')}")
    return result


def _sf_cli_token(alias: str) -> Secret:
    return Secret(_sf_cli_display(alias)["accessToken"])


def org_kind(conn: OrgConnection) -> str:
    """sandbox, production or developer, from the Organization record (1 API call)."""
    session = conn.session()
    try:
        with session.phase("auth"):
            body = session.get_json(session.rest_url("query?q=SELECT+IsSandbox,OrganizationType+FROM+Organization"))
    finally:
        session.close()
    records = body.get("records") or [{}]
    org = records[0]
    if org.get("IsSandbox"):
        return "sandbox"
    if "Developer" in str(org.get("OrganizationType", "")):
        return "developer"
    return "production"


# -- the embedded emulator -----------------------------------------------------------------------------------
@contextmanager
def embedded_emulator(
    *,
    profile: str = "instant",
    time_scale: float | None = None,
    edition: str = "developer",
    faults: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    profile_overrides: dict[str, Any] | None = None,
) -> Iterator[OrgConnection]:
    """Start the emulator in a child process (so client memory and CPU are measured alone)."""
    from emulator.profiles import profile_argument
    from emulator.server import AdminClient

    cmd = [
        sys.executable,
        "-m",
        "harness",
        "emulator",
        "serve",
        "--port",
        "0",
        "--profile",
        profile_argument(profile),
        "--edition",
        edition,
    ]
    if time_scale is not None:
        cmd += ["--time-scale", str(time_scale)]
    if faults:
        cmd += ["--faults", faults]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise ConnectionError_(f"the embedded emulator failed to start: {err.strip()[-500:]}")
        info = json.loads(line)
        admin = AdminClient(info["instance_url"], info["ca_file"] or True)
        if profile_overrides:
            admin.configure(profile_overrides=profile_overrides)
        login = info["login_url"]

        def provider() -> Secret:
            resp = requests.post(
                f"{login}/services/oauth2/token",
                verify=info["ca_file"] or True,
                timeout=60,
                data={
                    "grant_type": "client_credentials",
                    "client_id": info["client_id"],
                    "client_secret": info["client_secret"],
                },
            )
            resp.raise_for_status()
            return Secret(resp.json()["access_token"])

        conn = OrgConnection(
            info["instance_url"],
            "emulator",
            api_version,
            info["ca_file"],
            provider,
            True,
            "emulator (OAuth client credentials)",
            admin=admin,
            _token=Secret(info["access_token"]),
        )
        conn.emulator_info = {k: info[k] for k in ("edition", "profile", "org_id")}  # type: ignore[attr-defined]
        yield conn
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
