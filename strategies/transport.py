"""One HTTP session per run: URLs, auth headers, timeouts, retries and re-authentication.

This is the only module in `strategies` that talks HTTP. Strategies call `OrgSession.request` with the
API *family* (which decides the auth header and the error format) and, through `OrgSession.phase`, the
*phase* the request belongs to, so the session's `Meter` (`strategies.meter`) can say where every API
call went.

`OrgSession.request` is two steps in a loop: `_send` (one HTTP exchange, repeated on transport errors
where that is safe) and `decide` (what a response means: done, retry, re-authenticate, or refused).

Retry policy (why it is shaped like this): a retry must never apply a change twice.

* A request Salesforce refused before executing it (HTTP 401 or Bulk 1.0's HTTP 400 ``InvalidSessionId``
  for an expired session; HTTP 403 ``REQUEST_LIMIT_EXCEEDED`` for the concurrency limit
  ``ConcurrentPerOrgLongTxn``) is sent again whatever its method: after a re-authentication for the
  first, after a backoff for the second.
* A failure where the request may have been executed (HTTP 5xx, a connection dropped after sending, a read
  timeout) is retried only when the caller marks the request ``idempotent`` (GETs always are; a PATCH that
  sets a whole record to fixed values is; creating a job or adding a batch is not).
* A connection that failed before anything was sent (refused, DNS, connect timeout) is retried always.
* The daily allocation (``TotalRequests Limit exceeded``) is never retried: waiting seconds cannot help.

Re-authentication is bounded by rate, not by a count, because a long run meets session expiry as often as
the org expires sessions (every few hours in production, every few requests under the emulator's fault).
The rule, per session:

* A token is *accepted* once any request sent with it gets an answer other than a session refusal (or a
  5xx, which may come from before the session check).
* A refused token is renewed (one login) unless it came from a re-authentication, no request sent with
  it was accepted (after waiting for those still in flight with it: concurrent requests may be answered
  out of order), and it was obtained either during this same request or less than `reauth_window`
  seconds (default 60) before. Then the credentials themselves are refused (the user lost API access,
  the connected app was revoked, the login reached another org): `AuthenticationError` at once, no
  further login.
* A re-authentication that fails (the callback raises or returns no token) is `AuthenticationError` at once.

So there is at most one login per accepted request (plus one per `reauth_window` of a token going unused),
and a credential that does not work costs one login, never a loop. Concurrent requests refused with the
same token share one login.

TLS: verification is always on. `requests` lets ``REQUESTS_CA_BUNDLE`` override `Session.verify`, so the
bundle is passed *per request*. When `ca_file` is given (the emulator's own CA) it is trusted *in addition
to* the system bundle: both are concatenated into one temporary file per CA file and process, removed at
exit. A merged bundle (rather than "ca_file for one host") keeps one rule for every host, so a redirect or
a second host behaves the same and a real org stays reachable from the same session.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import decimal
import enum
import json
import os
import random
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import certifi
import defusedxml.ElementTree as SafeET
import requests
import urllib3

from .errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    RequestLimitError,
    ServerError,
    TransportError,
)
from .meter import FAMILY_AUTH, FAMILY_BULK1, FAMILY_REST, PHASES, Meter

DEFAULT_API_VERSION = "62.0"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 300.0)
"""(connect, read) seconds. Salesforce itself times a REST call out after 10 minutes; 5 minutes of silence
on one socket read is far past any healthy response, including a 100 MB upload acknowledgement."""

DEFAULT_REAUTH_WINDOW = 60.0
"""Seconds within which a renewed, never-accepted token that is refused means refused credentials.
Salesforce sessions last at least 15 minutes, so a genuine expiry is never this quick."""

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    `max_attempts` counts the first try; `backoff` is the first delay, doubled per retry up to `max_delay`;
    each delay is drawn between half and all of that ceiling, so clients refused together spread out.
    """

    max_attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry_number: int) -> float:
        ceiling = min(self.max_delay, self.backoff * (2 ** (retry_number - 1)))
        return random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


Reauthenticate = Callable[[], str]


@dataclass
class _Token:
    """An access token and what the re-authentication rule needs to know about it."""

    value: str
    generation: int
    """0 for the caller's token, then +1 per renewal."""
    obtained_at: float | None = None
    """`clock()` when a renewal obtained it; None for the caller's token."""
    accepted: bool = False
    """Some request sent with it was answered with something other than a session refusal."""
    in_flight: int = 0
    """Requests sent with it whose answer has not been judged yet."""


@dataclass
class LogicalRequest:
    """One logical request as `_send` and `decide` see it, across its attempts."""

    method: str
    url: str
    family: str
    phase: str
    idempotent: bool
    payload: Any
    """What goes on the wire: bytes, str, a seekable binary file, or None."""
    headers: Mapping[str, str]
    params: Mapping[str, str] | None
    stream: bool
    ok: tuple[int, ...]
    raise_for_status: bool
    first_generation: int
    """The token generation when the call started: a newer token was obtained during this call."""
    attempt: int = 0
    token: _Token | None = None
    """The token the latest attempt was sent with."""
    body_start: int | None = field(init=False)
    """Where a file payload starts (rewound to before every attempt); None for bytes, str or nothing."""

    def __post_init__(self) -> None:
        payload = self.payload
        self.body_start = payload.tell() if payload is not None and not isinstance(payload, (bytes, str)) else None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


class Verdict(enum.Enum):
    """What `decide` concluded about one response."""

    DONE = "done"
    """Give the response to the caller (a success, or an error the caller asked to see)."""
    RETRY = "retry"
    """Back off and send the same request again."""
    REAUTHENTICATE = "reauthenticate"
    """The session was refused: renew the token (if the rule allows) and send again."""
    REFUSED = "refused"
    """Raise the error: the request failed and sending it again cannot help or is not safe."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    error: ApiError | None = None


def decide(
    response: requests.Response, call: LogicalRequest, *, max_attempts: int, can_reauthenticate: bool
) -> Decision:
    """Classify one response of `call` (its `attempt`-th); see the module docstring for the policy."""
    status = response.status_code
    if status in call.ok:
        return Decision(Verdict.DONE)
    error = _parse_error(response, call.family, call.method, call.path)
    retries_left = call.attempt < max_attempts
    if _is_session_error(status, error):
        if can_reauthenticate:
            return Decision(Verdict.REAUTHENTICATE, error)
        return Decision(Verdict.REFUSED, _as(AuthenticationError, error))
    if error.error_code in ("REQUEST_LIMIT_EXCEEDED", "ExceededQuota"):
        limit = _as(RequestLimitError, error)
        if "ConcurrentPerOrgLongTxn" in error.message and retries_left:
            return Decision(Verdict.RETRY, limit)
        return Decision(Verdict.REFUSED, limit)
    if status in _TRANSIENT_STATUS:
        if call.idempotent and retries_left:
            return Decision(Verdict.RETRY, error)
        if call.raise_for_status:
            return Decision(Verdict.REFUSED, _as(ServerError, error))
        return Decision(Verdict.DONE)
    if not call.raise_for_status:
        return Decision(Verdict.DONE)
    return Decision(Verdict.REFUSED, error)


class OrgSession:
    """One pooled `requests.Session` bound to one org, shared by every request of a run.

    Parameters: `instance_url` keeps its scheme, port and any path prefix; `access_token` is sent as
    ``Authorization: Bearer`` (REST, Bulk 2.0) or ``X-SFDC-Session`` (Bulk 1.0); `reauthenticate`, when
    given, returns a fresh token after the server reports the session invalid (bounded by the rule in the
    module docstring; `reauth_window` is its time window, `clock` its time source).
    """

    def __init__(
        self,
        instance_url: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        ca_file: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        reauthenticate: Reauthenticate | None = None,
        reauth_window: float = DEFAULT_REAUTH_WINDOW,
        pool_size: int = 16,
        meter: Meter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(instance_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"instance_url must be an absolute http(s) URL, got {instance_url!r}")
        self.instance_url = instance_url.rstrip("/")
        self.api_version = str(api_version).lstrip("v")
        self._token = _Token(access_token, 0)
        self._token_lock = threading.Lock()
        self._token_settled = threading.Condition(self._token_lock)
        """Notified whenever a request's answer is judged (see `_settle`)."""
        self._reauth_lock = threading.Lock()
        self.timeout = timeout
        self.retry = retry
        self.reauthenticate = reauthenticate
        self.reauth_window = reauth_window
        self.meter = meter or Meter()
        self.sleep = sleep
        self.clock = clock
        self._phase = threading.local()
        self._verify = _verify_setting(ca_file)
        self.http = requests.Session()
        adapter = _BundleOnceAdapter(pool_connections=4, pool_maxsize=max(pool_size, 4), max_retries=0)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self.http.headers["User-Agent"] = "sf-update-harness/0.1"

    # -- housekeeping -------------------------------------------------------------------------------
    def __repr__(self) -> str:  # never shows the token
        return f"OrgSession({self.instance_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        """Close pooled connections. (A merged CA bundle is shared and removed at process exit.)"""
        self.http.close()

    def __enter__(self) -> OrgSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def verify(self) -> str | bool:
        """What is passed as `verify=` on every request (a CA bundle path, or True)."""
        return self._verify

    # -- URLs ---------------------------------------------------------------------------------------
    def rest_url(self, path: str) -> str:
        """``{instance}/services/data/v{version}/{path}``; absolute ``/services/...`` paths are kept."""
        if path.startswith(("/services/", "services/")):
            return f"{self.instance_url}/{path.lstrip('/')}"
        return f"{self.instance_url}/services/data/v{self.api_version}/{path.lstrip('/')}"

    def async_url(self, path: str) -> str:
        """Bulk API 1.0: ``{instance}/services/async/{version}/{path}`` (no ``v`` before the version)."""
        return f"{self.instance_url}/services/async/{self.api_version}/{path.lstrip('/')}"

    # -- phases -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Tag this thread's requests with `name` and add the elapsed wall time to that phase."""
        if name not in PHASES:
            raise ConfigurationError(f"unknown phase {name!r}; expected one of {PHASES}")
        previous = getattr(self._phase, "name", None)
        self._phase.name = name
        started = time.perf_counter()
        try:
            yield
        finally:
            self.meter.add_time(name, time.perf_counter() - started)
            self._phase.name = previous

    @property
    def current_phase(self) -> str:
        return getattr(self._phase, "name", None) or "dml"

    # -- requests -----------------------------------------------------------------------------------
    def auth_headers(self, family: str) -> dict[str, str]:
        """The auth header this family expects, with the current token."""
        with self._token_lock:
            token = self._token.value
        return _auth_header(family, token)

    def request(
        self,
        method: str,
        url: str,
        *,
        family: str,
        phase: str | None = None,
        idempotent: bool | None = None,
        json_body: Any = None,
        data: bytes | str | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        ok: tuple[int, ...] = (200, 201, 204),
        raise_for_status: bool = True,
    ) -> requests.Response:
        """Send one logical request; retry and re-authenticate within the bounds described above.

        `data` may be bytes or a seekable binary file (rewound before a retry). A response whose status
        is not in `ok` raises the matching `ApiError` subclass unless `raise_for_status` is false, in which
        case the caller gets the response (used where an error is a per-record outcome, e.g. REST PATCH).
        """
        method = method.upper()
        payload, send_headers = _wire_body(json_body, data, headers)
        with self._token_lock:
            generation = self._token.generation
        call = LogicalRequest(
            method=method,
            url=url,
            family=family,
            phase=phase or self.current_phase,
            idempotent=method in ("GET", "HEAD") if idempotent is None else idempotent,
            payload=payload,
            headers=send_headers,
            params=params,
            stream=stream,
            ok=ok,
            raise_for_status=raise_for_status,
            first_generation=generation,
        )
        while True:
            response = self._send(call)
            try:
                decision = decide(
                    response,
                    call,
                    max_attempts=self.retry.max_attempts,
                    can_reauthenticate=self.reauthenticate is not None,
                )
            except BaseException:
                self._settle(call, accepted=False)
                response.close()
                raise
            self._settle(call, accepted=decision.verdict is not Verdict.REAUTHENTICATE and response.status_code < 500)
            if decision.verdict is Verdict.DONE:
                return response
            response.close()
            if decision.verdict is Verdict.RETRY:
                self._backoff(call.attempt)
            elif decision.verdict is Verdict.REAUTHENTICATE:
                assert decision.error is not None
                self._renew_token(call, decision.error)
            else:
                assert decision.error is not None
                raise decision.error

    def _send(self, call: LogicalRequest) -> requests.Response:
        """One HTTP exchange with the current token, metered; repeated after a transport error when that
        is safe (nothing was sent, or the request is idempotent) and attempts remain."""
        while True:
            call.attempt += 1
            with self._token_lock:
                call.token = self._token
                call.token.in_flight += 1
            headers = {**call.headers, **_auth_header(call.family, call.token.value)}
            if call.body_start is not None:
                call.payload.seek(call.body_start)
            try:
                response = self.http.request(
                    call.method,
                    call.url,
                    data=call.payload,
                    headers=headers,
                    params=call.params,
                    timeout=self.timeout,
                    verify=self._verify,
                    stream=call.stream,
                    allow_redirects=False,
                )
            except BaseException as exc:
                self._settle(call, accepted=False)
                if not isinstance(exc, requests.exceptions.RequestException):
                    raise
                self.meter.record(call.phase, call.family)
                if isinstance(exc, requests.exceptions.SSLError):
                    raise TransportError(f"TLS verification failed: {exc}", method=call.method, path=call.path) from exc
                if (_failed_before_sending(exc) or call.idempotent) and call.attempt < self.retry.max_attempts:
                    self._backoff(call.attempt)
                    continue
                raise TransportError(f"{type(exc).__name__}: {exc}", method=call.method, path=call.path) from exc
            self.meter.record(call.phase, call.family, response.headers.get("Sforce-Limit-Info"))
            return response

    def _backoff(self, attempt: int) -> None:
        self.meter.note_retry()
        self.sleep(self.retry.delay(attempt))

    def _settle(self, call: LogicalRequest, *, accepted: bool) -> None:
        """The latest attempt of `call` has been judged; `accepted` says its token works."""
        assert call.token is not None
        with self._token_settled:
            call.token.in_flight -= 1
            call.token.accepted = call.token.accepted or accepted
            self._token_settled.notify_all()

    def _renew_token(self, call: LogicalRequest, refusal: ApiError) -> None:
        """Replace the token `call` was refused with, once, or raise `AuthenticationError` when the rule in
        the module docstring says the credentials themselves are refused.

        Threads refused with the same token wait for the first one's login and then use its token.
        """
        assert self.reauthenticate is not None and call.token is not None
        rejected = call.token
        with self._reauth_lock:
            with self._token_settled:
                if self._token.generation != rejected.generation:
                    return  # another thread already renewed it
                if rejected.obtained_at is not None:
                    self._token_settled.wait_for(lambda: rejected.accepted or rejected.in_flight == 0)
            if not rejected.accepted and rejected.obtained_at is not None:
                age = self.clock() - rejected.obtained_at
                if rejected.generation > call.first_generation or age < self.reauth_window:
                    raise _as(
                        AuthenticationError,
                        refusal,
                        message=(
                            f"credentials refused: a token obtained by re-authentication {age:.1f} s ago was rejected "
                            f"before any request succeeded with it ({refusal.message})"
                        ),
                    )
            self.meter.note_reauth()
            # The callback makes (at least) one login/token request; it is metered as one `auth` call.
            self.meter.record("auth", FAMILY_AUTH)
            try:
                value = self.reauthenticate()
            except Exception as exc:  # any failure of the login itself: the credentials do not work now
                raise AuthenticationError(
                    refusal.status,
                    "REAUTHENTICATION_FAILED",
                    f"re-authentication failed ({type(exc).__name__})",
                    family=call.family,
                    method=call.method,
                    path=call.path,
                ) from exc
            if not value:
                raise AuthenticationError(
                    refusal.status,
                    "REAUTHENTICATION_FAILED",
                    "re-authentication returned no token",
                    family=call.family,
                    method=call.method,
                    path=call.path,
                )
            with self._token_lock:
                self._token = _Token(value, rejected.generation + 1, self.clock())

    def download(self, url: str, spool: IO[bytes], *, family: str, phase: str | None = None) -> None:
        """GET `url` into `spool` (streamed, never held in memory), starting over if the body breaks.

        A GET is always safe to repeat, but a connection that drops *while the body streams* happens
        after `request` returned, outside its retry loop; this loop covers that, within the same bound.
        """
        for attempt in range(1, self.retry.max_attempts + 1):
            spool.seek(0)
            spool.truncate()
            response = self.request("GET", url, family=family, phase=phase, stream=True)
            try:
                with response:
                    for block in response.iter_content(1 << 16):
                        spool.write(block)
                spool.seek(0)
                return
            except requests.exceptions.RequestException as exc:
                if attempt == self.retry.max_attempts:
                    raise TransportError(
                        f"download broke off: {type(exc).__name__}: {exc}", method="GET", path=urlsplit(url).path
                    ) from exc
                self._backoff(attempt)

    # -- small conveniences used by every strategy --------------------------------------------------
    def get_json(self, url: str, *, family: str = FAMILY_REST, phase: str | None = None) -> Any:
        response = self.request("GET", url, family=family, phase=phase)
        return response.json()


class _BundleOnceAdapter(requests.adapters.HTTPAdapter):
    """Loads a CA bundle once per session, not once per connection; verification stays on.

    With ``verify=<bundle path>`` (which `OrgSession` always passes) urllib3 parses the whole bundle, a
    couple of hundred certificates, into a fresh SSL context for every new connection: 50-200 ms of CPU
    each, under the interpreter lock. A strategy that sends 8 requests at once opens 8 connections and
    paid that 8 times before its first request was answered. Here every connection to a bundle shares one
    context that loaded it once; its verify mode is ``CERT_REQUIRED`` and urllib3 still checks the host
    name on each connection.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        bundle = pool_kwargs.pop("ca_certs", None)
        if bundle is not None:
            pool_kwargs["ssl_context"] = self._context(bundle)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if isinstance(verify, str) and getattr(conn, "ca_certs", None) == verify:
            conn.ca_certs = None  # the pool's shared context already trusts this bundle: do not load it again

    def _context(self, bundle: str) -> ssl.SSLContext:
        with self._contexts_lock:
            context = self._contexts.get(bundle)
            if context is None:
                context = urllib3.util.ssl_.create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                context.load_verify_locations(cafile=bundle)
                self._contexts[bundle] = context
            return context


def rest_errors(response: requests.Response) -> list[dict[str, Any]]:
    """The REST error array ``[{"errorCode","message","fields"}]`` of a failed response, never raising."""
    try:
        body = response.json()
    except ValueError:
        return [{"errorCode": f"HTTP_{response.status_code}", "message": response.text[:500], "fields": []}]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return [{"errorCode": f"HTTP_{response.status_code}", "message": str(body)[:500], "fields": []}]
    return [item for item in body if isinstance(item, dict)]


def _parse_error(response: requests.Response, family: str, method: str, path: str) -> ApiError:
    status = response.status_code
    code, message, fields = f"HTTP_{status}", response.reason or "", []
    content_type = response.headers.get("Content-Type", "")
    try:
        text = response.text
    except Exception:  # pragma: no cover - a body we cannot decode is still an error with a status
        text = ""
    if "xml" in content_type or text.lstrip().startswith("<"):
        try:
            root = SafeET.fromstring(text.encode("utf-8"))
            code = _xml_child(root, "exceptionCode") or code
            message = _xml_child(root, "exceptionMessage") or message
        except Exception:
            message = text[:500] or message
    else:
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        if isinstance(body, list) and body and isinstance(body[0], dict):
            code = body[0].get("errorCode") or body[0].get("exceptionCode") or code
            message = body[0].get("message") or body[0].get("exceptionMessage") or message
            fields = list(body[0].get("fields") or [])
        elif isinstance(body, dict):
            code = body.get("errorCode") or body.get("exceptionCode") or body.get("error") or code
            message = body.get("message") or body.get("exceptionMessage") or body.get("error_description") or message
        elif text:
            message = text[:500]
    cls = ServerError if status >= 500 else ApiError
    return cls(status, str(code), str(message), family=family, method=method, path=path, fields=fields)


def _xml_child(root: Any, name: str) -> str | None:
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == name:
            return (element.text or "").strip()
    return None


def _wire_body(
    json_body: Any, data: bytes | str | IO[bytes] | None, headers: Mapping[str, str] | None
) -> tuple[bytes | str | IO[bytes] | None, dict[str, str]]:
    """The body as sent (a JSON body serialised once, for every attempt) and the headers it needs."""
    send_headers = dict(headers or {})
    if json_body is None:
        return data, send_headers
    send_headers.setdefault("Content-Type", "application/json")
    return json.dumps(json_body, default=_json_default, ensure_ascii=False).encode("utf-8"), send_headers


def _auth_header(family: str, token: str) -> dict[str, str]:
    if family == FAMILY_BULK1:
        return {"X-SFDC-Session": token}
    return {"Authorization": f"Bearer {token}"}


def _as(cls: type[ApiError], error: ApiError, *, message: str | None = None) -> ApiError:
    """`error` as the `ApiError` subclass `cls` (its status, code, family and request kept)."""
    return cls(
        error.status,
        error.error_code,
        error.message if message is None else message,
        family=error.family,
        method=error.method,
        path=error.path,
        fields=error.fields,
    )


def _is_session_error(status: int, error: ApiError) -> bool:
    """Expired or invalid session: REST and Bulk 2.0 answer 401, Bulk 1.0 answers 400 ``InvalidSessionId``."""
    if error.error_code in ("INVALID_SESSION_ID", "InvalidSessionId"):
        return status in (400, 401, 403)
    return status == 401


def _failed_before_sending(exc: requests.exceptions.RequestException) -> bool:
    """True when the request certainly never reached the server (so any method may be retried)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        return isinstance(inner, urllib3.exceptions.NewConnectionError)
    return False


_BUNDLES: dict[tuple[str, str | None, float], str] = {}
_BUNDLES_LOCK = threading.Lock()


def _verify_setting(ca_file: str | None) -> str:
    """The per-request `verify` value: the system bundle, or system + `ca_file` merged into one file.

    Merged bundles are shared by every session of the process that trusts the same CA file (keyed by
    path and modification time) and removed when the process exits, so sessions that are never closed
    leave nothing behind.
    """
    system = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    if not ca_file:
        return system
    key = (os.path.abspath(ca_file), system, os.path.getmtime(ca_file))
    with _BUNDLES_LOCK:
        path = _BUNDLES.get(key)
        if path is None or not os.path.exists(path):
            with open(ca_file, "rb") as handle:
                extra = handle.read()
            fd, path = tempfile.mkstemp(prefix="sfh-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as out:
                if os.path.exists(system):
                    with open(system, "rb") as base:
                        out.write(base.read())
                    out.write(b"\n")
                out.write(extra)
            _BUNDLES[key] = path
    return path


@atexit.register
def _remove_bundles() -> None:
    for path in list(_BUNDLES.values()):
        with contextlib.suppress(OSError):
            os.unlink(path)


def _json_default(value: Any) -> Any:
    """JSON for the value types records commonly carry (dates, decimals) without losing precision."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON serialisable")
