"""OrgSession policy: retries only where safe, bounded re-authentication, per-request TLS, metering."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter

from strategies.errors import ApiError, AuthenticationError, RequestLimitError, ServerError, TransportError
from strategies.meter import FAMILY_BULK1, FAMILY_BULK2, FAMILY_REST, LimitInfo
from strategies.transport import LogicalRequest, OrgSession, RetryPolicy, Verdict, decide

Reply = Callable[[requests.PreparedRequest], requests.Response | Exception]


def reply(
    status: int, body: Any = None, *, headers: dict[str, str] | None = None, xml: str | None = None
) -> Callable[[requests.PreparedRequest], requests.Response]:
    def make(request: requests.PreparedRequest) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.request = request
        response.url = request.url or ""
        if xml is not None:
            response._content = xml.encode()
            response.headers["Content-Type"] = "application/xml"
        else:
            response._content = b"" if body is None else json.dumps(body).encode()
            response.headers["Content-Type"] = "application/json"
        response.headers.update(headers or {})
        return response

    return make


def refused() -> Exception:
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(None, "refused"))
    )  # type: ignore[arg-type]


def dropped() -> Exception:
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    )


class ScriptedAdapter(BaseAdapter):
    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((request, kwargs))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step(request)

    def close(self) -> None:
        pass


def session_with(script: list[Any], **options: Any) -> tuple[OrgSession, ScriptedAdapter]:
    options.setdefault("retry", RetryPolicy(max_attempts=3, backoff=0.0))
    session = OrgSession("https://example.my.salesforce.com:8443", "SECRET-TOKEN", **options)
    adapter = ScriptedAdapter(script)
    session.http.mount("https://", adapter)
    return session, adapter


def test_urls_keep_scheme_port_and_version() -> None:
    session = OrgSession("http://127.0.0.1:8080/", "t", api_version="v61.0")
    assert session.rest_url("sobjects/Account/001") == "http://127.0.0.1:8080/services/data/v61.0/sobjects/Account/001"
    assert (
        session.rest_url("services/data/v61.0/jobs/ingest/750/batches")
        == "http://127.0.0.1:8080/services/data/v61.0/jobs/ingest/750/batches"
    )
    assert session.async_url("job") == "http://127.0.0.1:8080/services/async/61.0/job"


def test_auth_header_per_family_and_token_never_in_repr() -> None:
    session, adapter = session_with([reply(200, {}), reply(200, xml="<jobInfo/>")])
    session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    session.request("GET", session.async_url("job/750"), family=FAMILY_BULK1)
    assert adapter.sent[0][0].headers["Authorization"] == "Bearer SECRET-TOKEN"
    assert "X-SFDC-Session" not in adapter.sent[0][0].headers
    assert adapter.sent[1][0].headers["X-SFDC-Session"] == "SECRET-TOKEN"
    assert "Authorization" not in adapter.sent[1][0].headers
    assert "SECRET" not in repr(session)


def test_every_request_has_a_timeout_and_per_request_verify(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nEMULATOR\n-----END CERTIFICATE-----\n")
    session, adapter = session_with([reply(200, {})], ca_file=str(ca), timeout=(3, 30))
    bundle = Path(str(session.verify))
    assert bundle.read_text().endswith(ca.read_text())  # the emulator CA in addition to the system bundle
    session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    kwargs = adapter.sent[0][1]
    assert kwargs["timeout"] == (3, 30) and kwargs["verify"] == str(bundle)
    other, _ = session_with([], ca_file=str(ca))
    assert other.verify == session.verify  # one merged bundle per CA file, shared by sessions
    session.close()
    assert bundle.exists()  # removed at process exit, not by one session's close()


def test_get_is_retried_on_5xx_and_counted() -> None:
    session, adapter = session_with(
        [reply(503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "x"}]), reply(200, {"ok": 1})]
    )
    with session.phase("poll"):
        assert session.request("GET", session.rest_url("jobs/ingest/750"), family=FAMILY_BULK2).json() == {"ok": 1}
    assert len(adapter.sent) == 2
    assert session.meter.calls_by_phase() == {"poll": 2} and session.meter.retries == 1


def test_job_creating_post_is_not_retried_after_5xx() -> None:
    session, adapter = session_with([reply(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}])])
    with pytest.raises(ServerError) as info:
        session.request("POST", session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body={})
    assert len(adapter.sent) == 1 and info.value.error_code == "UNKNOWN_EXCEPTION"


def test_post_is_not_retried_after_a_dropped_connection_but_is_after_refusal() -> None:
    session, adapter = session_with([dropped()])
    with pytest.raises(TransportError):
        session.request("POST", session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body={})
    assert len(adapter.sent) == 1
    session, adapter = session_with([refused(), reply(200, {"id": "750"})])
    assert session.request("POST", session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body={}).json() == {
        "id": "750"
    }
    assert len(adapter.sent) == 2


def test_idempotent_patch_is_retried_after_a_dropped_connection() -> None:
    session, adapter = session_with([dropped(), reply(204)])
    response = session.request(
        "PATCH", session.rest_url("sobjects/A/1"), family=FAMILY_REST, json_body={}, idempotent=True
    )
    assert response.status_code == 204 and len(adapter.sent) == 2


def test_retries_are_bounded() -> None:
    session, adapter = session_with([reply(503, [])] * 3)
    with pytest.raises(ServerError):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert len(adapter.sent) == 3


def test_concurrency_limit_is_retried_even_for_post_daily_limit_is_not() -> None:
    busy = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]
    session, adapter = session_with([reply(403, busy), reply(200, {"id": "750"})])
    assert session.request("POST", session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body={}).json() == {
        "id": "750"
    }
    daily = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    session, adapter = session_with([reply(403, daily)])
    with pytest.raises(RequestLimitError):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert len(adapter.sent) == 1


EXPIRED = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reauthentication_renews_the_token_and_is_metered() -> None:
    session, adapter = session_with([reply(401, EXPIRED), reply(200, {})], reauthenticate=lambda: "NEW-1")
    session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert adapter.sent[1][0].headers["Authorization"] == "Bearer NEW-1"
    assert session.meter.snapshot().by_phase().get("auth") == 1 and session.meter.reauths == 1


def test_reauthentication_is_bounded_by_rate_not_by_a_count() -> None:
    # A session that expires after every accepted request: one login per accepted request, as long as it takes.
    tokens = (f"NEW-{n}" for n in itertools.count(1))
    session, adapter = session_with([reply(401, EXPIRED), reply(200, {})] * 50, reauthenticate=lambda: next(tokens))
    for _ in range(50):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert session.meter.reauths == 50 and len(adapter.sent) == 100
    assert adapter.sent[-1][0].headers["Authorization"] == "Bearer NEW-50"


def test_a_fresh_token_rejected_at_once_means_refused_credentials() -> None:
    tokens = (f"NEW-{n}" for n in itertools.count(1))
    session, adapter = session_with([reply(401, EXPIRED)] * 10, reauthenticate=lambda: next(tokens))
    with pytest.raises(AuthenticationError) as info:
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert len(adapter.sent) == 2 and session.meter.reauths == 1  # one login, then stop: never a loop
    assert "credentials refused" in str(info.value) and info.value.error_code == "INVALID_SESSION_ID"
    assert "NEW" not in str(info.value) and "SECRET" not in str(info.value)
    with pytest.raises(AuthenticationError):  # the next request does not log in again either
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert session.meter.reauths == 1


@pytest.mark.parametrize(("idle_seconds", "renewed"), [(10.0, False), (120.0, True)])
def test_a_renewed_token_left_unused_past_the_window_may_be_renewed_again(idle_seconds: float, renewed: bool) -> None:
    clock = FakeClock()
    tokens = (f"NEW-{n}" for n in itertools.count(1))
    unavailable = [{"errorCode": "SERVER_UNAVAILABLE", "message": "busy"}]
    script = [
        reply(401, EXPIRED),
        reply(503, unavailable),
        reply(503, unavailable),
        reply(401, EXPIRED),
        reply(200, {}),
    ]
    session, adapter = session_with(script, reauthenticate=lambda: next(tokens), clock=clock)
    with pytest.raises(ServerError):  # renewed, then the new token never got an answer that proves it
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    clock.now += idle_seconds
    if renewed:
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
        assert adapter.sent[-1][0].headers["Authorization"] == "Bearer NEW-2"
    else:
        with pytest.raises(AuthenticationError):
            session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert session.meter.reauths == (2 if renewed else 1)


def test_a_failing_login_stops_at_once_without_its_details() -> None:
    def login() -> str:
        raise RuntimeError("invalid_grant for password hunter2")

    session, adapter = session_with([reply(401, EXPIRED)] * 3, reauthenticate=login)
    with pytest.raises(AuthenticationError) as info:
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert info.value.error_code == "REAUTHENTICATION_FAILED" and "RuntimeError" in str(info.value)
    assert "hunter2" not in str(info.value) and len(adapter.sent) == 1
    session, _ = session_with([reply(401, EXPIRED)], reauthenticate=lambda: "")
    with pytest.raises(AuthenticationError, match="no token"):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)


def test_bulk1_invalid_session_is_http_400_xml() -> None:
    body = (
        '<?xml version="1.0"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
        "<exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>"
    )
    session, adapter = session_with(
        [reply(400, xml=body), reply(200, xml="<jobInfo/>")], reauthenticate=lambda: "FRESH"
    )
    session.request("GET", session.async_url("job/750"), family=FAMILY_BULK1)
    assert adapter.sent[1][0].headers["X-SFDC-Session"] == "FRESH"


def test_no_reauthenticate_callback_means_authentication_error() -> None:
    session, _ = session_with([reply(401, [{"errorCode": "INVALID_SESSION_ID", "message": "expired"}])])
    with pytest.raises(AuthenticationError):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)


def test_limit_info_first_and_last() -> None:
    session, _ = session_with(
        [
            reply(200, {}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}),
            reply(200, {}),
            reply(200, {}, headers={"Sforce-Limit-Info": "api-usage=20/5000; per-app-api-usage=1/2(appName=x)"}),
        ]
    )
    for _ in range(3):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert session.meter.limit_first == LimitInfo(18, 5000) and session.meter.limit_last == LimitInfo(20, 5000)
    assert LimitInfo.parse("garbage") is None and LimitInfo(18, 5000).remaining == 4982


def test_per_record_errors_can_be_returned_instead_of_raised() -> None:
    session, _ = session_with([reply(400, [{"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "no"}])])
    response = session.request(
        "PATCH", session.rest_url("sobjects/A/1"), family=FAMILY_REST, json_body={}, raise_for_status=False
    )
    assert response.status_code == 400


def test_concurrent_refusals_renew_the_token_once() -> None:
    expired = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    logins: list[int] = []
    session = OrgSession(
        "https://example.my.salesforce.com",
        "OLD",
        retry=RetryPolicy(backoff=0.0),
        reauthenticate=lambda: logins.append(1) or "NEW",
    )
    barrier = threading.Barrier(4)

    class Adapter(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            if request.headers["Authorization"] == "Bearer OLD":
                barrier.wait(timeout=5)  # all four threads are refused with the old token together
                return reply(401, expired)(request)
            return reply(200, {})(request)

        def close(self) -> None:
            pass

    session.http.mount("https://", Adapter())
    threads = [
        threading.Thread(
            target=session.request, args=("GET", session.rest_url("limits")), kwargs={"family": FAMILY_REST}
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert logins == [1] and session.meter.reauths == 1


def test_a_renewed_token_refused_while_another_request_with_it_is_in_flight_waits_for_that_answer() -> None:
    # Two threads share one renewal. With the new token, one request is slow and will succeed; the other is
    # refused at once (the session allows one request). The refusal must not be taken for refused
    # credentials before the slow answer is in: the token worked, so it is renewed once more.
    logins: list[str] = []
    barrier = threading.Barrier(2)
    served: dict[str, int] = {}
    lock = threading.Lock()

    def login() -> str:
        logins.append(f"NEW-{len(logins) + 1}")
        return logins[-1]

    class Adapter(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            token = request.headers["Authorization"].removeprefix("Bearer ")
            if token == "OLD":
                barrier.wait(timeout=5)
                return reply(401, EXPIRED)(request)
            with lock:
                served[token] = served.get(token, 0) + 1
                first = served[token] == 1
            if token == "NEW-1" and first:
                time.sleep(0.3)  # slow, but accepted
                return reply(200, {})(request)
            if token == "NEW-1":
                return reply(401, EXPIRED)(request)  # expired after one request, answered before the first
            return reply(200, {})(request)

        def close(self) -> None:
            pass

    session = OrgSession(
        "https://example.my.salesforce.com", "OLD", retry=RetryPolicy(backoff=0.0), reauthenticate=login
    )
    session.http.mount("https://", Adapter())
    errors: list[BaseException] = []

    def run() -> None:
        try:
            session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and logins == ["NEW-1", "NEW-2"]


def call_for(*, idempotent: bool = True, attempt: int = 1, raise_for_status: bool = True) -> LogicalRequest:
    return LogicalRequest(
        method="GET",
        url="https://example.my.salesforce.com/services/data/v62.0/limits",
        family=FAMILY_REST,
        phase="limits",
        idempotent=idempotent,
        payload=None,
        headers={},
        params=None,
        stream=False,
        ok=(200,),
        raise_for_status=raise_for_status,
        first_generation=0,
        attempt=attempt,
    )


def response_of(status: int, body: Any) -> requests.Response:
    return reply(status, body)(requests.Request("GET", "https://example.my.salesforce.com/x").prepare())


@pytest.mark.parametrize(
    ("status", "body", "options", "can_reauthenticate", "verdict", "error_class"),
    [
        (200, {}, {}, True, Verdict.DONE, None),
        (401, EXPIRED, {}, True, Verdict.REAUTHENTICATE, ApiError),
        (401, EXPIRED, {}, False, Verdict.REFUSED, AuthenticationError),
        (503, [], {}, True, Verdict.RETRY, ServerError),
        (503, [], {"attempt": 4}, True, Verdict.REFUSED, ServerError),
        (503, [], {"idempotent": False}, True, Verdict.REFUSED, ServerError),
        (503, [], {"idempotent": False, "raise_for_status": False}, True, Verdict.DONE, None),
        (400, [{"errorCode": "MALFORMED_ID", "message": "x"}], {}, True, Verdict.REFUSED, ApiError),
        (400, [{"errorCode": "MALFORMED_ID", "message": "x"}], {"raise_for_status": False}, True, Verdict.DONE, None),
        (
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}],
            {"idempotent": False},
            True,
            Verdict.RETRY,
            RequestLimitError,
        ),
        (
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
            {"raise_for_status": False},
            True,
            Verdict.REFUSED,
            RequestLimitError,
        ),
    ],
)
def test_decide_classifies_each_response(
    status: int,
    body: Any,
    options: dict[str, Any],
    can_reauthenticate: bool,
    verdict: Verdict,
    error_class: type[Exception] | None,
) -> None:
    decision = decide(
        response_of(status, body), call_for(**options), max_attempts=4, can_reauthenticate=can_reauthenticate
    )
    assert decision.verdict is verdict
    if verdict is not Verdict.DONE:
        assert error_class is not None and isinstance(decision.error, error_class)
