"""Assembles the ASGI application of one org: routes of every API family behind the org's gate."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..constants import MAX_API_VERSION
from ..errors import SalesforceError
from ..org import Org
from . import admin, auth, bulk1, bulk2, composite  # noqa: F401  (composite registers its REST routes)
from .common import OLDEST_VERSION, api_version, json_response, parse_json, rest_error
from .gate import OrgGate
from .rest import RestCall, dispatch, split_query

_BODY_METHODS = ("POST", "PATCH", "PUT")


async def versions(request: Request) -> Response:
    out = []
    v = OLDEST_VERSION
    while v <= MAX_API_VERSION:
        out.append({"label": f"API {v:.1f}", "url": f"/services/data/v{v:.1f}", "version": f"{v:.1f}"})
        v += 1
    return json_response(out)


async def rest(request: Request) -> Response:
    org: Org = request.app.state.org
    try:
        version = api_version(request.path_params["version"])
        method = request.method
        override = request.query_params.get("_HttpMethod")
        if method == "POST" and override:
            method = override.upper()
        raw = await request.body()
        body = parse_json(raw) if method in _BODY_METHODS and raw.strip() else None
        path = request.path_params.get("rest", "")
        call = RestCall(org, method, version, ("/" + path.strip("/")) if path.strip("/") else "",
                        split_query(request.url.query), body, {k.lower(): v for k, v in request.headers.items()})
        result = dispatch(call)
    except SalesforceError as err:
        return rest_error(err)
    profile = org.profile
    extra = profile.scaled((result.records * profile.sync_per_record_ms + result.subrequests * profile.composite_subrequest_ms) / 1000.0)
    if extra > 0:
        import asyncio

        await asyncio.sleep(extra)
    if result.status == 204:
        return Response(status_code=204)
    return json_response(result.body, result.status, result.headers or None)


def _mounted(prefix: str, routes: list[BaseRoute]) -> list[BaseRoute]:
    """Group a family's routes under their common prefix, so a request tests one prefix, not every route."""
    inner, outer = [], []
    for r in routes:
        methods = [m for m in (getattr(r, "methods", None) or []) if m != "HEAD"]
        if isinstance(r, Route) and r.path.startswith(prefix):
            inner.append(Route(r.path[len(prefix):] or "/", r.endpoint, methods=methods))
        elif isinstance(r, Route) and r.path.endswith("{rest:path}"):
            inner.append(Route("/{rest:path}", r.endpoint, methods=methods))  # the family's own "unknown URL"
            outer.append(r)
        else:
            outer.append(r)
    return [Mount(prefix, routes=inner), *outer]


def create_app(org: Org) -> OrgGate:
    routes = [
        *_mounted("/services/data/{version}/jobs", bulk2.routes),  # before the REST catch-all below
        *_mounted("/services/async/{version}", bulk1.routes),
        *auth.routes,
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        Route("/services/data/{version}", rest, methods=["GET"]),
        Route("/services/data/{version}/{rest:path}", rest, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        *admin.routes,
    ]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    app.state.org = org
    return OrgGate(app, org)
