"""OrgSession policy: retries only where safe, bounded re-authentication, per-request TLS, metering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter

from strategies.errors import AuthenticationError, RequestLimitError, ServerError, TransportError
from strategies.transport import FAMILY_BULK1, FAMILY_BULK2, FAMILY_REST, LimitInfo, OrgSession, RetryPolicy

Reply = Callable[[requests.PreparedRequest], requests.Response | Exception]


def reply(status: int, body: Any = None, *, headers: dict[str, str] | None = None, xml: str | None = None) -> Callable[[requests.PreparedRequest], requests.Response]:
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
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(None, "refused")))  # type: ignore[arg-type]


def dropped() -> Exception:
    return requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError()))


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
    assert session.rest_url("services/data/v61.0/jobs/ingest/750/batches") == "http://127.0.0.1:8080/services/data/v61.0/jobs/ingest/750/batches"
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
    session, adapter = session_with([reply(503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "x"}]), reply(200, {"ok": 1})])
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
    assert session.request("POST", session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body={}).json() == {"id": "750"}
    assert len(adapter.sent) == 2


def test_idempotent_patch_is_retried_after_a_dropped_connection() -> None:
    session, adapter = session_with([dropped(), reply(204)])
    response = session.request("PATCH", session.rest_url("sobjects/A/1"), family=FAMILY_REST, json_body={}, idempotent=True)
    assert response.status_code == 204 and len(adapter.sent) == 2


def test_retries_are_bounded() -> None:
    session, adapter = session_with([reply(503, [])] * 3)
    with pytest.raises(ServerError):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert len(adapter.sent) == 3


def test_concurrency_limit_is_retried_even_for_post_daily_limit_is_not() -> None:
    busy = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]
    session, adapter = session_with([reply(403, busy), reply(200, {"id": "750"})])
    assert session.request("POST", session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body={}).json() == {"id": "750"}
    daily = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    session, adapter = session_with([reply(403, daily)])
    with pytest.raises(RequestLimitError):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert len(adapter.sent) == 1


def test_reauthentication_is_bounded_and_metered() -> None:
    expired = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    tokens = iter(["NEW-1", "NEW-2", "NEW-3"])
    session, adapter = session_with([reply(401, expired), reply(200, {})], reauthenticate=lambda: next(tokens))
    session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert adapter.sent[1][0].headers["Authorization"] == "Bearer NEW-1"
    assert session.meter.snapshot().by_phase().get("auth") == 1 and session.meter.reauths == 1
    # a server that keeps refusing: one re-auth per request, then AuthenticationError (never a loop)
    session, adapter = session_with([reply(401, expired)] * 10, reauthenticate=lambda: next(tokens), max_reauth_per_request=1)
    with pytest.raises(AuthenticationError) as info:
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert len(adapter.sent) == 2
    assert "NEW" not in str(info.value) and "SECRET" not in str(info.value)


def test_reauthentication_total_is_bounded_across_requests() -> None:
    expired = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    session, adapter = session_with([reply(401, expired)] * 20, reauthenticate=lambda: "T", max_reauth_total=2)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert session.meter.reauths == 2


def test_bulk1_invalid_session_is_http_400_xml() -> None:
    body = '<?xml version="1.0"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>'
    session, adapter = session_with([reply(400, xml=body), reply(200, xml="<jobInfo/>")], reauthenticate=lambda: "FRESH")
    session.request("GET", session.async_url("job/750"), family=FAMILY_BULK1)
    assert adapter.sent[1][0].headers["X-SFDC-Session"] == "FRESH"


def test_no_reauthenticate_callback_means_authentication_error() -> None:
    session, _ = session_with([reply(401, [{"errorCode": "INVALID_SESSION_ID", "message": "expired"}])])
    with pytest.raises(AuthenticationError):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)


def test_limit_info_first_and_last() -> None:
    session, _ = session_with([reply(200, {}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}), reply(200, {}), reply(200, {}, headers={"Sforce-Limit-Info": "api-usage=20/5000; per-app-api-usage=1/2(appName=x)"})])
    for _ in range(3):
        session.request("GET", session.rest_url("limits"), family=FAMILY_REST)
    assert session.meter.limit_first == LimitInfo(18, 5000) and session.meter.limit_last == LimitInfo(20, 5000)
    assert LimitInfo.parse("garbage") is None and LimitInfo(18, 5000).remaining == 4982


def test_per_record_errors_can_be_returned_instead_of_raised() -> None:
    session, _ = session_with([reply(400, [{"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "no"}])])
    response = session.request("PATCH", session.rest_url("sobjects/A/1"), family=FAMILY_REST, json_body={}, raise_for_status=False)
    assert response.status_code == 400


def test_concurrent_refusals_renew_the_token_once() -> None:
    import threading

    expired = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    logins: list[int] = []
    session = OrgSession("https://example.my.salesforce.com", "OLD", retry=RetryPolicy(backoff=0.0), reauthenticate=lambda: logins.append(1) or "NEW")
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
    threads = [threading.Thread(target=session.request, args=("GET", session.rest_url("limits")), kwargs={"family": FAMILY_REST}) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert logins == [1] and session.meter.reauths == 1
