"""Assembles the ASGI application of one org: every API family's routes behind the org's gate.

REST (`/services/data/vXX.X/...` outside `/jobs`) is served by `RestApp`, a plain ASGI callable: the REST
family has its own router (`rest.dispatch`, shared with Composite subrequests), and per-record PATCH is
the emulator's hottest path, so it skips Starlette's middleware, routing and Request/Response objects.
The other families (Bulk 1.0 and 2.0, login, identity, versions, admin) are Starlette routes. Errors
take one path whichever app serves the request: `error_responses.error_response` renders them in the
family's documented format (Starlette's exception handler for the routes, a direct call in `RestApp`),
unknown URLs and wrong methods of the Bulk families included.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..constants import MAX_API_VERSION
from ..errors import NotFound, SalesforceError
from ..org import Org
from . import admin, auth, bulk1, bulk2, composite  # noqa: F401  (composite registers its REST routes)
from .common import (
    JSON_TYPE,
    OLDEST_VERSION,
    api_version,
    body_format,
    dumps,
    json_response,
    parse_json,
)
from .error_responses import ANSWERED_IN_PLACE, error_response, handle
from .gate import OrgGate, headers_of
from .rest import RestCall, dispatch, split_query

log = logging.getLogger(__name__)

_REST_PREFIX = "/services/data/"
_BODY_METHODS = ("POST", "PATCH", "PUT")
_JSON_HEADERS = ((b"content-type", JSON_TYPE.encode("latin-1")),)


async def versions(request: Request) -> Response:
    out = []
    v = OLDEST_VERSION
    while v <= MAX_API_VERSION:
        out.append({"label": f"API {v:.1f}", "url": f"/services/data/v{v:.1f}", "version": f"{v:.1f}"})
        v += 1
    return json_response(out)


class RestApp:
    """The REST family as raw ASGI: parse the request into a `RestCall`, dispatch it, send the result."""

    def __init__(self, org: Org) -> None:
        self.org = org

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        headers = scope.get("state", {}).get("headers") or headers_of(scope)
        try:
            raw = await _read_body(receive)  # raises for a compressed body that does not decompress
            if raw is None:
                return  # nothing to answer, and a half-received request must not change data
            result = dispatch(self._call(scope, raw, headers))
        except Exception as exc:  # bad input, or a bug: both answered in the REST format
            if not isinstance(exc, SalesforceError):
                log.exception("unhandled error in %s %s", scope["method"], scope["path"])  # keep the traceback
            await error_response(exc, scope["method"], scope["path"], headers)(scope, receive, send)
            return
        profile = self.org.profile
        t = profile.timings
        per_record = result.records * t.sync_per_record_ms
        if result.upserted:  # an upserted record may cost more than an updated one (`OrgProfile.for_operation`)
            upsert_ms = profile.for_operation("upsert").timings.sync_per_record_ms
            per_record += result.upserted * (upsert_ms - t.sync_per_record_ms)
        extra = profile.scaled((per_record + result.subrequests * t.composite_subrequest_ms) / 1000.0)
        if extra > 0:
            await asyncio.sleep(extra)
        if result.status == 204:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await _send_json(send, result.status, result.body, result.headers)

    def _call(self, scope: dict, raw: bytes, headers: dict[str, str]) -> RestCall:
        path: str = scope["path"]
        if not path.startswith(_REST_PREFIX):
            raise NotFound("The requested resource does not exist")
        version_text, _, rest = path[len(_REST_PREFIX) :].partition("/")
        version = api_version(version_text)
        query = split_query(scope["query_string"].decode("latin-1"))
        method = scope["method"]
        override = query.get("_HttpMethod")
        if method == "POST" and override and override[0]:
            method = override[0].upper()
        body, media = None, "json"
        if method in _BODY_METHODS and raw.strip():
            media = body_format(headers.get("content-type"), xml=True)
            body = parse_json(raw) if media == "json" else raw  # XML is read by the resource that takes it
        rest = rest.strip("/")
        origin = f"{scope.get('scheme', 'https')}://{headers.get('host', '')}"
        return RestCall(
            self.org, method, version, "/" + rest if rest else "", query, body, headers, media=media, origin=origin
        )


async def _read_body(receive: Any) -> bytes | None:
    """The whole request body, or None when the client went away before sending all of it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(send: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = dumps(body)
    raw_headers = [*_JSON_HEADERS, (b"content-length", str(len(data)).encode("latin-1"))]
    if headers:
        raw_headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


def _mounted(prefix: str, routes: list[BaseRoute]) -> Mount:
    """Group a family's routes under their common prefix, so a request tests one prefix, not every route."""
    inner = []
    for r in routes:
        assert isinstance(r, Route) and r.path.startswith(prefix)
        inner.append(
            Route(r.path[len(prefix) :] or "/", r.endpoint, methods=[m for m in (r.methods or []) if m != "HEAD"])
        )
    return Mount(prefix, routes=inner)


def create_app(org: Org) -> OrgGate:
    routes = [
        _mounted("/services/data/{version}/jobs", bulk2.routes),
        _mounted("/services/async/{version}", bulk1.routes),
        *auth.routes,
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        *admin.routes,
    ]
    # Every route error goes to the one handler (see error_responses.ANSWERED_IN_PLACE for the keys).
    handlers = dict.fromkeys((*ANSWERED_IN_PLACE, Exception), handle)
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.router.redirect_slashes = False
    app.state.org = org
    return OrgGate(app, org, {"rest": RestApp(org)})
