"""The REST fast path (api/app.py `RestApp`, outside Starlette) keeps every behaviour of the gate and of REST.

Per-record PATCH is served without Starlette's routing and Request objects; these tests pin what that
path must still do: method override, trailing slashes, bodies sent in several pieces (and nothing
written when the client leaves mid-body), the profile's latency, and exact usage counters under
concurrent clients.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from emulator.api.app import RestApp

from .conftest import V


def test_method_override_trailing_slash_and_query_string(api, seeded):
    ids = seeded(3)
    assert api.rest("POST", f"/sobjects/Byline__c/{ids[0]}?_HttpMethod=PATCH", json={"Tweets__c": 1}).status_code == 204
    assert api.rest("PATCH", f"/sobjects/Byline__c/{ids[1]}/", json={"Tweets__c": 2}).status_code == 204
    got = api.rest("GET", f"/sobjects/Byline__c/{ids[2]}/", params={"fields": "Id,Tweets__c"})
    assert got.status_code == 200 and set(got.json()) == {"attributes", "Id", "Tweets__c"}
    stored = api.records()
    assert stored[ids[0]]["Tweets__c"] == 1 and stored[ids[1]]["Tweets__c"] == 2


def test_a_body_sent_in_pieces_is_read_whole(api, seeded):
    rid = seeded(1)[0]

    def pieces():  # no Content-Length: requests sends this chunked, the server sees several body messages
        yield b'{"Tweets__c":'
        yield b' 17, "Likes__c"'
        yield b": 4}"

    resp = api.rest("PATCH", f"/sobjects/Byline__c/{rid}", data=pieces(), headers={"Content-Type": "application/json"})
    assert resp.status_code == 204, resp.text
    stored = api.records()[rid]
    assert stored["Tweets__c"] == 17 and stored["Likes__c"] == 4


def test_profile_latency_still_applies(api, seeded):
    rid = seeded(1)[0]
    api.org.admin.configure(profile_overrides={"write_fixed_ms": 150, "sync_per_record_ms": 150})
    started = time.perf_counter()
    assert api.rest("PATCH", f"/sobjects/Byline__c/{rid}", json={"Tweets__c": 1}).status_code == 204
    assert time.perf_counter() - started >= 0.3  # the gate's fixed write time plus one record's


def test_counters_stay_exact_under_concurrent_clients(api, seeded):
    ids = seeded(40)
    per_client = 25

    def client(n: int) -> list[int]:
        s = api.org.session()
        return [
            s.patch(
                f"{api.base}/services/data/{V}/sobjects/Byline__c/{ids[(n * per_client + i) % len(ids)]}",
                json={"Tweets__c": i},
                timeout=60,
            ).status_code
            for i in range(per_client)
        ]

    with ThreadPoolExecutor(8) as pool:
        statuses = [code for codes in pool.map(client, range(8)) for code in codes]
    assert statuses == [204] * 200
    usage = api.org.admin.usage()
    assert usage["DailyApiRequests"]["used"] == 200
    assert usage["by_endpoint"] == {"PATCH /services/data/vXX.X/sobjects/Byline__c/{id}": 200}
    last = api.rest("GET", "/limits")
    assert last.headers["Sforce-Limit-Info"] == "api-usage=201/15000"


def _asgi_patch(running, rid: str, messages: list[dict]) -> list[dict]:
    """PATCH one row through the REST app directly (no gate), the request body arriving as `messages`."""
    scope = {
        "type": "http",
        "method": "PATCH",
        "path": f"/services/data/{V}/sobjects/Byline__c/{rid}",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    pending, sent = list(messages), []

    async def receive():
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(RestApp(running.org)(scope, receive, send))
    return sent


def test_body_messages_are_joined_and_a_disconnect_changes_nothing(api, seeded):
    ids = seeded(2)
    sent = _asgi_patch(
        api.org,
        ids[0],
        [
            {"type": "http.request", "body": b'{"Tweets__c"', "more_body": True},
            {"type": "http.request", "body": b": 5}", "more_body": False},
        ],
    )
    assert sent[0]["status"] == 204
    before = api.records()[ids[1]]
    gone = _asgi_patch(
        api.org,
        ids[1],
        [{"type": "http.request", "body": b'{"Tweets__c": 6}', "more_body": True}, {"type": "http.disconnect"}],
    )
    assert gone == []  # nothing answered, nothing written
    stored = api.records()
    assert stored[ids[0]]["Tweets__c"] == 5 and stored[ids[1]] == before
