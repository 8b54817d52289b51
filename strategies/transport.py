"""One HTTP session per run: URLs, auth headers, timeouts, retries, re-authentication and metering.

This is the only module in `strategies` that talks HTTP. Strategies call `OrgSession.request` with the
API *family* (which decides the auth header and the error format) and, through `OrgSession.phase`, the
*phase* the request belongs to, so the `Meter` can say where every API call went.

Retry policy (why it is shaped like this): a retry must never apply a change twice.

* A refused request (HTTP 401 session expired, HTTP 403 ``REQUEST_LIMIT_EXCEEDED`` for the concurrency
  limit ``ConcurrentPerOrgLongTxn``) was not executed by Salesforce, so it is retried whatever its method.
* A failure where the request may have been executed (HTTP 5xx, a connection dropped after sending, a read
  timeout) is retried only when the caller marks the request ``idempotent`` (GETs always are; a PATCH that
  sets a whole record to fixed values is; creating a job or adding a batch is not).
* A connection that failed before anything was sent (refused, DNS, connect timeout) is retried always.
* The daily allocation (``TotalRequests Limit exceeded``) is never retried: waiting seconds cannot help.

Re-authentication is bounded twice: at most `max_reauth_per_request` per request and `max_reauth_total`
per session, so a token that the server keeps rejecting ends in `AuthenticationError`, never a loop.

TLS: verification is always on. `requests` lets ``REQUESTS_CA_BUNDLE`` override `Session.verify`, so the
bundle is passed *per request*. When `ca_file` is given (the emulator's own CA) it is trusted *in addition
to* the system bundle: both are concatenated into one temporary file per CA file and process, removed at
exit. A merged
bundle (rather than "ca_file for one host") keeps one rule for every host, so a redirect or a second host
behaves the same and a real org stays reachable from the same session.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

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

DEFAULT_API_VERSION = "62.0"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 300.0)
"""(connect, read) seconds. Salesforce itself times a REST call out after 10 minutes; 5 minutes of silence
on one socket read is far past any healthy response, including a 100 MB upload acknowledgement."""

FAMILY_REST = "rest"
FAMILY_BULK1 = "bulk1"
FAMILY_BULK2 = "bulk2"
FAMILY_AUTH = "auth"
FAMILIES = (FAMILY_REST, FAMILY_BULK1, FAMILY_BULK2, FAMILY_AUTH)

PHASES = ("auth", "describe", "limits", "create", "upload", "close", "poll", "results", "dml", "query", "abort")
"""Phases a request can be tagged with. `limits` is the GET /limits call `auto` makes; `abort` is cleanup."""

BULK1_NS = "http://www.force.com/2009/06/asyncapi/dataload"
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_LIMIT_RE = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class LimitInfo:
    """One ``Sforce-Limit-Info: api-usage=used/max`` reading."""

    used: int
    max: int

    @property
    def remaining(self) -> int:
        return self.max - self.used

    @classmethod
    def parse(cls, header: str | None) -> "LimitInfo | None":
        if not header:
            return None
        match = _LIMIT_RE.search(header)
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    def to_dict(self) -> dict[str, int]:
        return {"used": self.used, "max": self.max}


@dataclass
class MeterSnapshot:
    """A frozen copy of a meter's counters, so a run can report only its own share (`since`)."""

    calls: Counter = field(default_factory=Counter)  # (phase, family) -> n
    seconds: dict[str, float] = field(default_factory=dict)
    retries: int = 0
    reauths: int = 0

    def since(self, earlier: "MeterSnapshot") -> "MeterSnapshot":
        calls = Counter(self.calls)
        calls.subtract(earlier.calls)
        seconds = {k: v - earlier.seconds.get(k, 0.0) for k, v in self.seconds.items()}
        return MeterSnapshot(
            Counter({k: v for k, v in calls.items() if v}),
            {k: v for k, v in seconds.items() if v > 0},
            self.retries - earlier.retries,
            self.reauths - earlier.reauths,
        )

    def by_phase(self) -> dict[str, int]:
        out: Counter = Counter()
        for (phase, _family), n in self.calls.items():
            out[phase] += n
        return dict(out)

    def by_family(self) -> dict[str, int]:
        out: Counter = Counter()
        for (_phase, family), n in self.calls.items():
            out[family] += n
        return dict(out)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def api_total(self) -> int:
        """Calls that count against DailyApiRequests: everything except auth (token/login) requests."""
        return sum(n for (phase, family), n in self.calls.items() if family != FAMILY_AUTH)


class Meter:
    """Counts every HTTP request (retries and re-auth included) by phase and family; thread-safe.

    It also keeps the first and the last ``Sforce-Limit-Info`` seen: their difference is the org-wide
    movement during the run, which the harness compares with our own count (other integrations move it too).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._seconds: dict[str, float] = {}
        self.retries = 0
        self.reauths = 0
        self.limit_first: LimitInfo | None = None
        self.limit_last: LimitInfo | None = None
        self.observers: list[Callable[[LimitInfo], None]] = []
        """Called with every `LimitInfo` read (a run uses this to keep its own first and last)."""

    def record(self, phase: str, family: str, limit_header: str | None = None) -> None:
        info = LimitInfo.parse(limit_header)
        with self._lock:
            self._calls[(phase, family)] += 1
            if info is not None:
                if self.limit_first is None:
                    self.limit_first = info
                self.limit_last = info
            observers = list(self.observers)
        if info is not None:
            for observer in observers:
                observer(info)

    def add_time(self, phase: str, seconds: float) -> None:
        with self._lock:
            self._seconds[phase] = self._seconds.get(phase, 0.0) + seconds

    def note_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def note_reauth(self) -> None:
        with self._lock:
            self.reauths += 1

    def snapshot(self) -> MeterSnapshot:
        with self._lock:
            return MeterSnapshot(Counter(self._calls), dict(self._seconds), self.retries, self.reauths)

    def calls_by_phase(self) -> dict[str, int]:
        return self.snapshot().by_phase()

    @property
    def total(self) -> int:
        return self.snapshot().total


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    `max_attempts` counts the first try; `backoff` is the first delay, doubled per retry up to `max_delay`.
    """

    max_attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry_number: int) -> float:
        ceiling = min(self.max_delay, self.backoff * (2 ** (retry_number - 1)))
        return random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


Reauthenticate = Callable[[], str]


class OrgSession:
    """One pooled `requests.Session` bound to one org, shared by every request of a run.

    Parameters: `instance_url` keeps its scheme, port and any path prefix; `access_token` is sent as
    ``Authorization: Bearer`` (REST, Bulk 2.0) or ``X-SFDC-Session`` (Bulk 1.0); `reauthenticate`, when
    given, returns a fresh token after the server reports the session invalid.
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
        max_reauth_per_request: int = 1,
        max_reauth_total: int = 5,
        pool_size: int = 16,
        meter: Meter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(instance_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"instance_url must be an absolute http(s) URL, got {instance_url!r}")
        self.instance_url = instance_url.rstrip("/")
        self.api_version = str(api_version).lstrip("v")
        self._token = access_token
        self._token_lock = threading.Lock()
        self._reauth_lock = threading.Lock()
        self.timeout = timeout
        self.retry = retry
        self.reauthenticate = reauthenticate
        self.max_reauth_per_request = max_reauth_per_request
        self.max_reauth_total = max_reauth_total
        self.meter = meter or Meter()
        self.sleep = sleep
        self._phase = threading.local()
        self._verify, _ = _verify_setting(ca_file)
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 4), max_retries=0)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self.http.headers["User-Agent"] = "sf-update-harness/0.1"

    # -- housekeeping -------------------------------------------------------------------------------
    def __repr__(self) -> str:  # never shows the token
        return f"OrgSession({self.instance_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        """Close pooled connections. (A merged CA bundle is shared and removed at process exit.)"""
        self.http.close()

    def __enter__(self) -> "OrgSession":
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
        if path.startswith("/services/") or path.startswith("services/"):
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
            token = self._token
        return self._auth_header(family, token)

    @staticmethod
    def _auth_header(family: str, token: str) -> dict[str, str]:
        if family == FAMILY_BULK1:
            return {"X-SFDC-Session": token}
        return {"Authorization": f"Bearer {token}"}

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
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        phase_name = phase or self.current_phase
        path = urlsplit(url).path
        body_start = data.tell() if data is not None and not isinstance(data, (bytes, str)) else None
        reauths = 0
        attempt = 0
        while True:
            attempt += 1
            send_headers = dict(headers or {})
            with self._token_lock:
                token_used = self._token
            send_headers.update(self._auth_header(family, token_used))
            if json_body is not None:
                send_headers.setdefault("Content-Type", "application/json")
                payload: Any = json.dumps(json_body, default=_json_default, ensure_ascii=False).encode("utf-8")
            else:
                if body_start is not None:
                    data.seek(body_start)  # type: ignore[union-attr]
                payload = data
            try:
                response = self.http.request(
                    method,
                    url,
                    data=payload,
                    headers=send_headers,
                    params=params,
                    timeout=self.timeout,
                    verify=self._verify,
                    stream=stream,
                    allow_redirects=False,
                )
            except requests.exceptions.RequestException as exc:
                self.meter.record(phase_name, family)
                not_sent = _failed_before_sending(exc)
                if isinstance(exc, requests.exceptions.SSLError):
                    raise TransportError(f"TLS verification failed: {exc}", method=method, path=path) from exc
                if (not_sent or idempotent) and attempt < self.retry.max_attempts:
                    self._backoff(attempt)
                    continue
                raise TransportError(f"{type(exc).__name__}: {exc}", method=method, path=path) from exc

            self.meter.record(phase_name, family, response.headers.get("Sforce-Limit-Info"))
            if response.status_code in ok:
                return response

            error = _parse_error(response, family, method, path)
            if _is_session_error(response.status_code, error, family):
                if (
                    self.reauthenticate is not None
                    and reauths < self.max_reauth_per_request
                    and self.meter.reauths < self.max_reauth_total
                ):
                    reauths += 1
                    self._reauthenticate(token_used)
                    continue
                response.close()
                raise AuthenticationError(
                    error.status, error.error_code, error.message, family=family, method=method, path=path
                )
            if error.error_code == "REQUEST_LIMIT_EXCEEDED" or error.error_code == "ExceededQuota":
                if "ConcurrentPerOrgLongTxn" in error.message and attempt < self.retry.max_attempts:
                    response.close()
                    self._backoff(attempt)
                    continue
                response.close()
                raise RequestLimitError(
                    error.status, error.error_code, error.message, family=family, method=method, path=path
                )
            if response.status_code in _TRANSIENT_STATUS:
                if idempotent and attempt < self.retry.max_attempts:
                    response.close()
                    self._backoff(attempt)
                    continue
                if raise_for_status:
                    response.close()
                    raise ServerError(
                        error.status, error.error_code, error.message, family=family, method=method, path=path
                    )
                return response
            if not raise_for_status:
                return response
            response.close()
            raise error

    def _backoff(self, attempt: int) -> None:
        self.meter.note_retry()
        self.sleep(self.retry.delay(attempt))

    def _reauthenticate(self, rejected: str) -> None:
        """Replace the `rejected` token, once: threads that were refused with the same token wait for
        the first one's login and then use its token instead of logging in again."""
        assert self.reauthenticate is not None
        with self._reauth_lock:
            with self._token_lock:
                if self._token != rejected:
                    return  # another thread already renewed it
            self.meter.note_reauth()
            # The callback makes (at least) one login/token request; it is metered as one `auth` call.
            self.meter.record("auth", FAMILY_AUTH)
            token = self.reauthenticate()
            if not token:
                raise AuthenticationError(401, "INVALID_SESSION_ID", "re-authentication returned no token")
            with self._token_lock:
                self._token = token

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
                    raise TransportError(f"download broke off: {type(exc).__name__}: {exc}", method="GET", path=urlsplit(url).path) from exc
                self._backoff(attempt)

    # -- small conveniences used by every strategy --------------------------------------------------
    def get_json(self, url: str, *, family: str = FAMILY_REST, phase: str | None = None) -> Any:
        response = self.request("GET", url, family=family, phase=phase)
        return response.json()


def error_from_response(response: requests.Response, family: str) -> ApiError:
    """The `ApiError` a response's body describes (for callers that asked for `raise_for_status=False`)."""
    return _parse_error(response, family, response.request.method or "", urlsplit(response.url).path)


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


def _is_session_error(status: int, error: ApiError, family: str) -> bool:
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


def _verify_setting(ca_file: str | None) -> tuple[str | bool, str | None]:
    """The per-request `verify` value: the system bundle, or system + `ca_file` merged into one file.

    Merged bundles are shared by every session of the process that trusts the same CA file (keyed by
    path and modification time) and removed when the process exits, so sessions that are never closed
    leave nothing behind. The second element is kept for API compatibility and is always None.
    """
    system = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not system:
        try:
            import certifi

            system = certifi.where()
        except ImportError:  # pragma: no cover - requests depends on certifi
            system = None
    if not ca_file:
        return (system or True), None
    key = (os.path.abspath(ca_file), system, os.path.getmtime(ca_file))
    with _BUNDLES_LOCK:
        path = _BUNDLES.get(key)
        if path is None or not os.path.exists(path):
            with open(ca_file, "rb") as handle:
                extra = handle.read()
            fd, path = tempfile.mkstemp(prefix="sfh-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as out:
                if system and os.path.exists(system):
                    with open(system, "rb") as base:
                        out.write(base.read())
                    out.write(b"\n")
                out.write(extra)
            _BUNDLES[key] = path
    return path, None


@atexit.register
def _remove_bundles() -> None:
    for path in list(_BUNDLES.values()):
        with contextlib.suppress(OSError):
            os.unlink(path)


def _json_default(value: Any) -> Any:
    """JSON for the value types records commonly carry (dates, decimals) without losing precision."""
    import datetime as _dt
    import decimal as _decimal

    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _decimal.Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON serialisable")
