"""The emulator's private control API under /_emulator (outside /services, never counted).

Ground truth for tests and the harness: exact usage counters, stored records, jobs; and controls:
reset, seed, profile and fault configuration, session expiry. It listens on loopback only and carries no
Salesforce authentication; do not expose the emulator beyond the machine. A malformed control request
(a missing key, a value of the wrong type) is answered 400 `{"error", "message"}` by api/error_responses.py.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..org import Org
from ..profiles import builtin_names
from .common import json_response, read_json


def _org(request: Request) -> Org:
    return request.app.state.org


async def usage(request: Request) -> Response:
    org = _org(request)
    if request.method == "POST":
        org.usage.reset()
    return json_response(org.usage.snapshot())


async def reset(request: Request) -> Response:
    body = await _optional_json(request)
    _org(request).reset(data=bool(body.get("data", True)), usage=bool(body.get("usage", True)))
    return json_response({"ok": True})


async def seed(request: Request) -> Response:
    body = await read_json(request)
    org = _org(request)
    samples = body.get("samples")
    if samples is not None and not isinstance(samples, dict):
        raise ValueError("samples must be an object: field -> pattern with {n}")
    ids = org.seed(str(body["object"]), int(body["count"]), parents=body.get("parents"), samples=samples)
    return json_response(
        {"object": body["object"], "count": int(body["count"]), "ids": ids if body.get("return_ids") else None}
    )


async def config(request: Request) -> Response:
    org = _org(request)
    if request.method == "POST":
        body = await read_json(request)
        profile = body.get("profile")
        if profile is not None and profile not in builtin_names():
            # Over HTTP only built-in names: a whole profile travels as profile_document, never as a path.
            raise ValueError(
                f"unknown built-in profile {profile!r}; known: {', '.join(builtin_names())} "
                "(send a profile file's contents as profile_document)"
            )
        org.configure(
            profile=profile,
            profile_document=body.get("profile_document"),
            profile_overrides=body.get("profile_overrides"),
            faults=body.get("faults"),
            edition=body.get("edition"),
            session_seconds=body.get("session_seconds"),
        )
        if body.get("daily_api_max") is not None:
            # A small allocation lets tests and demos reach REQUEST_LIMIT_EXCEEDED without 15,000 calls;
            # an edition given in the same call sets its preset first.
            org.usage.set_daily_api_max(int(body["daily_api_max"]))
    return json_response(
        {
            "profile": org.profile.to_dict(),
            "faults": org.faults.to_dict(),
            "edition": org.edition,
            "daily_api_max": org.usage.daily_api_max,
            "session_seconds": org.sessions.lifetime_s,
            "org_id": org.org_id,
            "user_id": org.user_id,
        }
    )


async def records(request: Request) -> Response:
    """Every stored record of an object as JSON Lines, field names in their API spelling."""
    org = _org(request)
    obj = org.sobject(request.path_params["sobject"])
    wanted = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
    found = [obj.field(f) for f in wanted] if wanted else list(obj.fields.values())
    fields = [f for f in found if f is not None]
    if len(fields) != len(found):
        raise ValueError(f"unknown field in {wanted}")
    cols = ", ".join("id" if f.name == "Id" else f'"{f.column}"' for f in fields)

    def lines():
        cur = org.store.execute(f'SELECT {cols} FROM "{obj.table}" ORDER BY id')
        while batch := cur.fetchmany(2000):
            yield "".join(
                json.dumps({f.name: f.to_json(v) for f, v in zip(fields, row, strict=True)}) + "\n" for row in batch
            ).encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


async def expire_sessions(request: Request) -> Response:
    _org(request).sessions.expire_all()
    return json_response({"ok": True})


async def jobs(request: Request) -> Response:
    org = _org(request)
    return json_response(
        {
            "bulk1": [j.info() for j in list(org.bulk1.jobs.values())],
            "bulk2_ingest": [j.info() for j in org.bulk2.list_ingest()],
            "bulk2_query": [j.info() for j in list(org.bulk2.queries.values())],
        }
    )


async def _optional_json(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


routes = [
    Route("/_emulator/usage", usage, methods=["GET", "POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/seed", seed, methods=["POST"]),
    Route("/_emulator/config", config, methods=["GET", "POST"]),
    Route("/_emulator/records/{sobject}", records, methods=["GET"]),
    Route("/_emulator/sessions/expire", expire_sessions, methods=["POST"]),
    Route("/_emulator/jobs", jobs, methods=["GET"]),
]
