"""The org's front door, as pure ASGI middleware: faults, authentication, API accounting, latency, compression.

Every request to an API path passes here before routing: injected transport faults fire first (so a
retried request never applied a change), then the session is checked (refusals are not counted), then
the request is counted against the daily allocation as the org profile's counting rules say for its
kind (`emulator.request_kinds`; a request that costs calls is refused with REQUEST_LIMIT_EXCEEDED once
the allocation is spent, a free one never is), then the profile's base latency is slept. REST and Bulk
2.0 responses get `Sforce-Limit-Info`. The free versions list and login requests pay the network round
trip only (login counts when a profile says so, and is never refused: it has a rate limit of its own).
Compressed request bodies are decompressed on their way in and responses compressed for clients that
accept gzip (api/compression.py).

The gate classifies every path into its API family anyway, so it also hands the request to that
family's app when one is registered (REST goes straight to its own dispatcher, see api/app.py), and to
the Starlette app otherwise.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from typing import Any

from starlette.requests import ClientDisconnect

from ..errors import (
    InternalError,
    InvalidSessionId,
    RequestLimitExceeded,
    SalesforceError,
    ServerUnavailable,
)
from ..org import Org
from ..request_kinds import request_kind
from .common import classify
from .compression import accepts_gzip, compressing, decoding, request_coding
from .error_responses import error_response

# A record id segment: 15 or 18 letters and digits with at least one digit, so that a resource named with 15
# or 18 letters (`unprocessedrecords`) keeps its own name in the usage breakdown.
_ID = re.compile(r"/(?=[a-zA-Z]*\d)[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?(?=/|$)")
_LOCATOR = re.compile(r"/[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?-\d+(?=/|$)")  # REST queryMore locators
_VERSION = re.compile(r"/v?\d{2}\.0(?=/|$)")
# The value of `/sobjects/{Object}/{Field}/{value}` (upsert and GET by external id): any text, slashes included
# (which make the path unknown), so one name for all of them keeps the usage breakdown from growing with
# every key a job sends.
_EXTERNAL_VALUE = re.compile(r"(/sobjects/[^/]+/[^/]+)/.+$")
_SLASHES = re.compile(r"//+")
_RAW_SLASHES = re.compile(rb"//+")


def endpoint_key(method: str, path: str) -> str:
    path = _VERSION.sub("/vXX.X", path)
    path = _EXTERNAL_VALUE.sub(r"\1/{value}", path)
    path = _LOCATOR.sub("/{locator}", path)
    path = _ID.sub("/{id}", path)
    return f"{method} {path.rstrip('/') or '/'}"


class OrgGate:
    def __init__(self, app: Any, org: Org, family_apps: dict[str, Any] | None = None) -> None:
        """`app` serves every family without an entry in `family_apps` (family name -> ASGI app)."""
        self.app = app
        self.org = org
        self.family_apps = dict(family_apps or {})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        org = self.org
        path: str = scope["path"]
        if "//" in path:
            # Salesforce serves `//services/data/...` as `/services/data/...`; the sf CLI keeps the instance
            # URL with a trailing slash and sends such paths. One spelling from here on (routing, counting).
            path = _SLASHES.sub("/", path)
            scope = {**scope, "path": path, "raw_path": _RAW_SLASHES.sub(b"/", scope.get("raw_path") or b"")}
        family = classify(path)
        if family in ("admin", "other"):
            await self.app(scope, receive, send)
            return
        if family == "login":
            await _count_unrefused(org, family, scope["method"], path)
            await self.app(scope, receive, send)
            return
        headers = headers_of(scope)
        if accepts_gzip(headers.get("accept-encoding")):

            async def serve(scope: dict, receive: Any, send: Any) -> None:
                await self._serve(scope, receive, send, family, headers)

            await compressing(serve)(scope, receive, send)
        else:
            await self._serve(scope, receive, send, family, headers)

    async def _serve(self, scope: dict, receive: Any, send: Any, family: str, headers: dict[str, str]) -> None:
        """An API request: faults, session, counting, latency, then the family's app (body decompressed)."""
        org = self.org
        path: str = scope["path"]
        method: str = scope["method"]
        if family == "versions":
            await _count_unrefused(org, family, method, path)
            await self.app(scope, receive, send)
            return
        faults = org.faults
        if family != "identity" and faults.applies_to(path):
            if faults.roll(faults.drop_rate):
                await _drop(send)
                return
            for rate, error in ((faults.http_500_rate, InternalError), (faults.http_503_rate, ServerUnavailable)):
                if faults.roll(rate):
                    injected = error("An unexpected error occurred (injected fault). Please retry.")
                    await _refuse(injected, headers, scope, receive, send)
                    return
        token = _token(family, headers)
        try:
            session = org.sessions.validate(
                token,
                expire_after_requests=faults.session_expiry_after_requests,
                expire_after_seconds=faults.session_expiry_after_seconds,
            )
        except InvalidSessionId as err:
            refusal = InvalidSessionId("Invalid session id") if family == "bulk1" else err
            await _refuse(refusal, headers, scope, receive, send)
            return
        state = scope.setdefault("state", {})  # what Starlette exposes as request.state
        state["session"] = session
        state["headers"] = headers  # decoded once, lower-case names: family apps reuse them
        if family == "identity":
            await self.app(scope, receive, send)
            return
        profile = org.profile
        calls = profile.counting.calls(request_kind(family, method, path))
        endpoint = kind = endpoint_key(method, path)
        if calls:
            allowed, _ = org.usage.try_consume(family, endpoint, calls)
        else:
            org.usage.record_free(family, endpoint)
            allowed = True
        if family in ("rest", "bulk2"):
            send = _with_limit_info(send, org)  # on error responses too, the refusal below included
        if not allowed:
            await _refuse(RequestLimitExceeded("TotalRequests Limit exceeded."), headers, scope, receive, send)
            return
        body_bytes = int(headers.get("content-length", "0") or 0)
        delay = profile.request_delay(write=method not in ("GET", "HEAD"), body_bytes=body_bytes)
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            coding = request_coding(headers.get("content-encoding"))
        except SalesforceError as err:
            await _refuse(err, headers, scope, receive, send)
            return
        if coding is not None:
            receive = decoding(coding, receive)
        app = self.family_apps.get(family, self.app)
        action = faults.response_fault(kind)
        if action is None:
            try:
                await app(scope, receive, send)
            except ClientDisconnect:  # the client went away mid-body (killed, say): nobody to answer
                return
        elif action == "cut":
            await _cut_upload(receive, send, faults.cut_after_bytes)
        elif action == "lose":
            await app(scope, receive, _discard)
            await _drop(send)
        else:
            await _stalled(app, scope, receive, send, faults.stall_seconds)


async def _count_unrefused(org: Org, family: str, method: str, path: str) -> None:
    """The versions list (free, as documented) and login requests (as the profile says): counted or
    recorded free, never refused, and delayed by the network round trip alone."""
    profile = org.profile
    calls = profile.counting.calls("login") if family == "login" else 0
    if calls:
        org.usage.consume_always(family, endpoint_key(method, path), calls)
    else:
        org.usage.record_free(family, endpoint_key(method, path))
    delay = profile.scaled(profile.timings.rtt_ms / 1000.0)
    if delay > 0:
        await asyncio.sleep(delay)


def headers_of(scope: dict) -> dict[str, str]:
    """Request headers by lower-case name (the last one wins when a name repeats)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _token(family: str, headers: dict[str, str]) -> str | None:
    if family == "bulk1":
        token = headers.get("x-sfdc-session")
        if token:
            return token.strip()
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value:
        return value.strip()
    return None


async def _refuse(err: SalesforceError, headers: dict[str, str], scope: dict, receive: Any, send: Any) -> None:
    """Answer with `err` in the family's format, before the request reaches its app."""
    await error_response(err, scope["method"], scope["path"], headers)(scope, receive, send)


def _with_limit_info(send: Any, org: Org) -> Any:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"sforce-limit-info", org.usage.limit_info().encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


#: Set while a request is being dropped on purpose, so the server's complaint about it is not logged.
_DROPPING: contextvars.ContextVar[bool] = contextvars.ContextVar("sf_emulator_dropping", default=False)


class InjectedDropFilter(logging.Filter):
    """Hides uvicorn's "returned without completing response" error for injected dropped connections."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _DROPPING.get()


async def _drop(send: Any) -> None:
    """Break the connection mid-response: the client sees a dropped connection, nothing was applied.

    The response starts with a Content-Length it never delivers; returning without completing it
    makes the server close the transport (uvicorn logs that as an error; InjectedDropFilter hides it).
    """
    _DROPPING.set(True)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")],
        }
    )
    await send({"type": "http.response.body", "body": b"[", "more_body": True})


async def _discard(message: dict) -> None:
    """A `send` that throws the response away (the org did the work; the client never hears of it)."""


async def _stalled(app: Any, scope: dict, receive: Any, send: Any, seconds: float) -> None:
    """Process the request, then hold the whole response back for `seconds` before sending it."""
    held: list[dict] = []

    async def hold(message: dict) -> None:
        held.append(message)

    await app(scope, receive, hold)
    await asyncio.sleep(seconds)
    try:
        for message in held:
            await send(message)
    except Exception:  # the client gave up and closed the connection: nothing left to tell it
        return


async def _cut_upload(receive: Any, send: Any, after_bytes: int) -> None:
    """Read at most `after_bytes` of the request body, then break the connection: nothing is processed."""
    received = 0
    while received < after_bytes:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await _drop(send)
