"""Metering and time scaling for third-party libraries, so a baseline is counted exactly like our strategies.

Our strategies send every request through `OrgSession.request`, which records it in the session's `Meter`
with a phase and an API family. A library sends its own requests, so the same `Meter` is fed at the one
place every `requests` call passes through: `HTTPAdapter.send`.

* simple-salesforce accepts ``session=``: it gets a `requests.Session` whose adapter is a `MeteredAdapter`
  (`library_session`). Nothing global changes.
* salesforce-bulk calls the module-level ``requests.get/post`` (a fresh Session per call, no way to pass
  one). It is metered by `patched_requests`, which wraps ``requests.adapters.HTTPAdapter.send`` **only for
  the duration of the run** and restores it afterwards. The wrapper meters only requests to the org's own
  host, so unrelated traffic in the process is neither counted nor touched. While the wrapper is in place,
  another thread's `requests` calls to the same host would be counted too: run one baseline at a time.

Each request is classified from its method and URL path alone (`classify`), the way the org counts it:
the family by the API's path (``/services/async/`` is Bulk 1.0, ``/services/data/vX/jobs/ingest`` Bulk 2.0,
any other ``/services/data/vX/...`` REST), the phase by what the request does (create, upload, close,
poll, results, abort, dml, ...). Login/token requests and the free versions resource
(``GET /services/data/``) are family ``auth``, which `MeterSnapshot.api_total` leaves out, as the org does.
A request that fails before any response (connection refused, reset) is still recorded, as
`OrgSession.request` records it.

TLS: verification is never turned off. Requests to the org host are verified against the `OrgSession`'s
bundle (the system CAs plus the org's extra CA, e.g. the emulator's), which is what a user gets by setting
``REQUESTS_CA_BUNDLE``; the patch passes it per request instead of changing the process environment.

Time scaling (`scaled_sleep`): on a time-scaled emulator profile our strategies get a scaled poll policy;
a library's fixed waits (simple-salesforce Bulk 1.0 polls every 5 s and `update()` cannot change it) are
scaled by replacing the ``sleep`` its module imported (``from time import sleep``) with one that divides
every delay by the scale, for the duration of the run. The library's logic is unchanged; only its clock
runs as fast as the emulator's.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from ..meter import FAMILY_AUTH, FAMILY_BULK1, FAMILY_BULK2, FAMILY_REST
from ..transport import OrgSession

_DATA = re.compile(r"^/services/data/v\d+(?:\.\d+)?(/.*)?$")
_ASYNC = re.compile(r"^/services/async/[^/]+(/.*)?$")


def classify(method: str, url: str, body: Any = None) -> tuple[str, str]:
    """(phase, family) of one request, from its method, URL path and (for state changes) its body."""
    method = method.upper()
    path = urlsplit(url).path.rstrip("/") or "/"
    if path.startswith("/services/oauth2") or path.startswith("/services/Soap/") or path.startswith("/id/"):
        return "auth", FAMILY_AUTH
    if path in ("/services/data", "/services"):
        return "auth", FAMILY_AUTH  # the versions resource: free, like login
    match = _ASYNC.match(path)
    if match:
        return _bulk1_phase(method, (match.group(1) or "").strip("/").split("/"), body), FAMILY_BULK1
    match = _DATA.match(path)
    rest = ((match.group(1) if match else "") or "").strip("/")
    parts = rest.split("/") if rest else []
    if parts[:2] == ["jobs", "ingest"]:
        return _bulk2_phase(method, parts[2:], body), FAMILY_BULK2
    if parts[:2] == ["jobs", "query"]:
        return "query", FAMILY_BULK2
    if not parts:
        return ("auth", FAMILY_AUTH) if method == "GET" else ("dml", FAMILY_REST)
    head = parts[0]
    if head == "limits":
        return "limits", FAMILY_REST
    if head in ("query", "queryAll"):
        return "query", FAMILY_REST
    if head == "sobjects" and parts[-1] == "describe":
        return "describe", FAMILY_REST
    if method == "GET":
        return "query", FAMILY_REST
    return "dml", FAMILY_REST


def _state_in(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        text = body[:512].decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body[:512]
    else:
        return ""  # a stream or generator: an upload, never a state change
    return "aborted" if "Aborted" in text else ("closed" if ("Closed" in text or "UploadComplete" in text) else "")


def _bulk1_phase(method: str, parts: list[str], body: Any) -> str:
    # parts after /services/async/{version}: job | job/{id} | job/{id}/batch | job/{id}/batch/{b}[/result|/request]
    if parts == ["job"]:
        return "create"
    if len(parts) == 2:  # job/{id}
        if method == "POST":
            return "abort" if _state_in(body) == "aborted" else "close"
        return "poll"
    if len(parts) == 3:  # job/{id}/batch
        return "upload" if method == "POST" else "poll"
    if len(parts) == 4:  # job/{id}/batch/{batch}
        return "poll"
    if len(parts) >= 5:  # .../result, .../request, .../result/{r}
        return "results"
    return "dml"


def _bulk2_phase(method: str, parts: list[str], body: Any) -> str:
    # parts after jobs/ingest: [] | {id} | {id}/batches | {id}/failedResults ...
    if not parts:
        return "create" if method == "POST" else "poll"
    if len(parts) == 1:
        if method == "PATCH":
            return "abort" if _state_in(body) == "aborted" else "close"
        if method == "DELETE":
            return "abort"
        return "poll"
    if parts[1] == "batches":
        return "upload"
    return "results"


class _Recorder:
    """Records one request into an `OrgSession`'s meter; shared by the adapter and the patch."""

    def __init__(self, session: OrgSession) -> None:
        self.meter = session.meter
        parts = urlsplit(session.instance_url)
        self.scheme = parts.scheme
        self.netloc = parts.netloc.lower()
        self.verify = session.verify

    def owns(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme == self.scheme and parts.netloc.lower() == self.netloc

    def send(
        self,
        original: Callable[..., requests.Response],
        adapter: HTTPAdapter,
        request: requests.PreparedRequest,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        url = request.url or ""
        if not self.owns(url):
            return original(adapter, request, **kwargs)
        kwargs["verify"] = self.verify  # the system CAs plus the org's extra CA; never off
        phase, family = classify(request.method or "GET", url, request.body)
        started = time.perf_counter()
        try:
            response = original(adapter, request, **kwargs)
        except BaseException:
            self.meter.record(phase, family)
            self.meter.add_time(phase, time.perf_counter() - started)
            raise
        self.meter.record(phase, family, response.headers.get("Sforce-Limit-Info"))
        self.meter.add_time(phase, time.perf_counter() - started)
        return response


class MeteredAdapter(HTTPAdapter):
    """An `HTTPAdapter` that records every request to the org into an `OrgSession`'s meter."""

    def __init__(self, session: OrgSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recorder = _Recorder(session)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return self._recorder.send(HTTPAdapter.send, self, request, kwargs)


def library_session(session: OrgSession) -> requests.Session:
    """A `requests.Session` for a library that accepts one (simple-salesforce): metered, TLS-verified.

    ``trust_env`` is off so ``REQUESTS_CA_BUNDLE`` cannot replace `verify`; `verify` is the `OrgSession`'s
    bundle (system CAs + the org's extra CA), so real orgs and the emulator are both verified.
    """
    http = requests.Session()
    http.trust_env = False
    http.verify = session.verify
    adapter = MeteredAdapter(session)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


_PATCH_LOCK = threading.RLock()


@contextlib.contextmanager
def patched_requests(session: OrgSession) -> Iterator[None]:
    """Meter module-level `requests` calls to the org for the duration of the block (salesforce-bulk).

    Wraps ``requests.adapters.HTTPAdapter.send`` and restores the original on exit, whatever happens.
    Only requests whose scheme and host are the org's are metered (and verified against its CA bundle).
    One patch at a time per process (a lock), so two baselines cannot interleave their counts.
    """
    recorder = _Recorder(session)
    with _PATCH_LOCK:
        original = HTTPAdapter.send

        def send(adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            return recorder.send(original, adapter, request, kwargs)

        HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            HTTPAdapter.send = original  # type: ignore[method-assign]


@contextlib.contextmanager
def scaled_sleep(module: ModuleType, scale: float, name: str = "sleep") -> Iterator[None]:
    """Divide every delay the `module`'s own ``sleep`` makes by `scale`, for the duration of the block.

    For libraries whose waits are fixed (simple-salesforce Bulk 1.0: 5 s, not settable from `update()`),
    so that on a time-scaled emulator they poll as often, relative to the job, as they would in real time.
    A scale of 1 (or none) changes nothing.
    """
    if not scale or scale <= 0 or scale == 1.0 or not hasattr(module, name):
        yield
        return
    original = getattr(module, name)

    def sleep(seconds: float) -> None:
        original(seconds / scale)

    with _PATCH_LOCK:
        setattr(module, name, sleep)
        try:
            yield
        finally:
            setattr(module, name, original)
