"""Session expiry against the emulated org: a long run re-authenticates as often as the org expires its
sessions, and credentials that do not work stop the run at the first refusal (`transport` docstring)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from strategies import AuthenticationError, MemorySink, OrgSession, RunFailed, get

from .conftest import password_login, unique_tag

EXPIRY = 100
"""The emulator expires every session after this many API requests."""


def records_for(ids: list[str], n: int, tag: str) -> list[dict[str, Any]]:
    return [{"Id": ids[k], "Name": f"{tag}-{k}"} for k in range(n)]


def stored_names(org: Any) -> dict[str, str]:
    return {r["Id"]: r["Name"] for r in org.admin.iter_records("Byline__c", ["Id", "Name"])}


def test_a_long_rest_run_renews_the_session_as_often_as_it_expires(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    n = 3000
    org.admin.configure(faults={"session_expiry_after_requests": EXPIRY})
    tag = unique_tag()
    sink = MemorySink()
    summary = get("rest", new_session(reauthenticate=password_login(org))).update(
        "Byline__c", records_for(byline_ids, n, tag), sink
    )
    assert (summary.submitted, summary.succeeded, summary.failed, summary.unprocessed) == (n, n, 0, 0)
    assert summary.reauthentications >= n // EXPIRY - 1  # far more than any small fixed allowance
    assert summary.calls_by_phase["auth"] == summary.reauthentications
    assert sorted(o.row for o in sink.succeeded) == list(range(1, n + 1))
    org.admin.configure(faults={})
    stored = stored_names(org)
    assert all(stored[byline_ids[k]] == f"{tag}-{k}" for k in range(n))


def wrong_password(org: Any) -> Callable[[], str]:
    def login() -> str:
        response = requests.post(
            f"{org.login_url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
                "username": org.username,
                "password": "not-the-password",
            },
            verify=org.ca_file,
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    return login


def test_a_refused_login_stops_the_run_at_the_first_expiry(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    n = 1000
    org.admin.configure(faults={"session_expiry_after_requests": EXPIRY})
    sink = MemorySink()
    session = new_session(reauthenticate=wrong_password(org))
    with pytest.raises(RunFailed) as info:
        get("rest", session).update("Byline__c", records_for(byline_ids, n, unique_tag()), sink)
    summary = info.value.summary
    cause = info.value.__cause__
    assert isinstance(cause, AuthenticationError) and cause.error_code == "REAUTHENTICATION_FAILED"
    assert summary.reauthentications == 1 and summary.succeeded <= EXPIRY
    assert (summary.submitted, summary.accounted) == (n, n) and len(sink.outcomes) == n
    assert "not-the-password" not in str(cause) and "not-the-password" not in (summary.error or "")


def test_a_fresh_token_the_org_rejects_stops_the_run_after_one_login(
    org: Any, new_session: Callable[..., OrgSession], byline_ids: list[str]
) -> None:
    """A login that succeeds but hands back a token the org does not accept (here: the expired token again,
    as a broken token cache would) is refused credentials, not a reason to log in forever."""
    n = 2000  # 200 calls of 10 records: the session expires after the first 100
    org.admin.configure(faults={"session_expiry_after_requests": EXPIRY})
    stale = password_login(org)()
    sink = MemorySink()
    session = OrgSession(org.instance_url, stale, ca_file=org.ca_file, reauthenticate=lambda: stale)
    try:
        with pytest.raises(RunFailed) as info:
            get("composite", session, batch_size=10, subrequests=1).update(
                "Byline__c", records_for(byline_ids, n, unique_tag()), sink
            )
    finally:
        session.close()
    summary = info.value.summary
    assert isinstance(info.value.__cause__, AuthenticationError)
    assert "credentials refused" in str(info.value.__cause__)
    assert summary.reauthentications == 1 and summary.succeeded == EXPIRY * 10
    assert (summary.submitted, summary.accounted) == (n, n) and len(sink.outcomes) == n
