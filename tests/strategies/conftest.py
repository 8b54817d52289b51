"""Fixtures for the strategy tests: a real emulated org over HTTPS, sessions, and record helpers.

The org is started once per test session (seeding is the slow part); every test that changes faults,
profile or usage puts them back through the `org` fixture's finaliser.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from strategies import OrgSession, PollPolicy, RetryPolicy
from strategies.records import id_checksum

SEEDED = 12_000
FAST_POLL = PollPolicy(initial=0.05, factor=1.5, ceiling=0.5, timeout=120)
NO_BACKOFF = RetryPolicy(max_attempts=4, backoff=0.0, max_delay=0.0)


def make_id(n: int, prefix: str = "a01") -> str:
    """A well-formed 18-character Id (for tests that never reach an org)."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    body = ""
    for _ in range(10):
        n, rem = divmod(n, 62)
        body = digits[rem] + body
    id15 = prefix + "5g" + body
    return id15 + id_checksum(id15)


@pytest.fixture(scope="session")
def running_org() -> Iterator[Any]:
    emulator_server = pytest.importorskip("emulator.server")
    with emulator_server.run_org(profile="instant", edition="enterprise", seed={"Byline__c": SEEDED}) as org:
        yield org


@pytest.fixture()
def org(running_org: Any) -> Iterator[Any]:
    running_org.admin.configure(faults={}, profile="instant")
    running_org.admin.reset_usage()
    yield running_org
    running_org.admin.configure(faults={}, profile="instant")


@pytest.fixture(scope="session")
def byline_ids(running_org: Any) -> list[str]:
    return [r["Id"] for r in running_org.admin.records("Byline__c", ["Id"])]


@pytest.fixture()
def new_session(org: Any) -> Iterator[Callable[..., OrgSession]]:
    """A factory for sessions on the test org (closed at teardown)."""
    made: list[OrgSession] = []

    def factory(**options: Any) -> OrgSession:
        options.setdefault("retry", NO_BACKOFF)
        token = password_login(org)()  # tests that expire sessions must not spoil the next test's token
        session = OrgSession(org.instance_url, token, ca_file=org.ca_file, **options)
        made.append(session)
        return session

    yield factory
    for session in made:
        session.close()


def password_login(org: Any) -> Callable[[], str]:
    """A `reauthenticate` callback: the OAuth password flow against the emulator."""

    def login() -> str:
        response = requests.post(
            f"{org.login_url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
                "username": org.username,
                "password": org.password + (org.security_token or ""),
            },
            verify=org.ca_file,
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    return login


_counter = itertools.count(1)


def unique_tag() -> str:
    return f"t{next(_counter)}"


@pytest.fixture(scope="session")
def bulk2_first_row_bug(running_org: Any) -> bool:
    """True while the emulator drops the first record of every Bulk 2.0 internal batch.

    emulator/bulk/bulk2_jobs.py `_split_and_submit` writes each internal chunk file without the CSV header, then
    `_process_part` reads it with `read_csv`, which takes the first data row as the header. Tests that
    depend on Bulk 2.0 processing every row xfail while this probe sees it, and pass once it is fixed.
    """
    org = running_org
    session = OrgSession(org.instance_url, org.access_token, ca_file=org.ca_file)
    try:
        ids = [r["Id"] for r in org.admin.records("Byline__c", ["Id"])[:2]]
        job = session.request(
            "POST",
            session.rest_url("jobs/ingest"),
            family="bulk2",
            json_body={"object": "Byline__c", "operation": "update", "contentType": "CSV", "lineEnding": "LF"},
        ).json()
        body = ("Id,Name\n" + "".join(f"{i},probe\n" for i in ids)).encode()
        session.request(
            "PUT",
            session.rest_url(f"jobs/ingest/{job['id']}/batches"),
            family="bulk2",
            data=body,
            headers={"Content-Type": "text/csv"},
        )
        session.request(
            "PATCH", session.rest_url(f"jobs/ingest/{job['id']}"), family="bulk2", json_body={"state": "UploadComplete"}
        )
        for _ in range(200):
            info = session.request("GET", session.rest_url(f"jobs/ingest/{job['id']}"), family="bulk2").json()
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                break
            time.sleep(0.05)
        return int(info.get("numberRecordsProcessed") or 0) != 2
    finally:
        session.close()


def xfail_if_bulk2_bug(name: str, bug: bool) -> None:
    if bug and name in ("bulk2-csv", "auto"):
        pytest.xfail("emulator drops the first row of each Bulk 2.0 internal batch (see bulk2_first_row_bug)")
