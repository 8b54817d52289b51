"""Fixtures for the emulator's wire tests: a clean shared org per test, a raw-HTTP helper, polling.

The shared org (`sf_org`, from the emulator's pytest plugin) is reset before every test that asks for
`org`: data, usage counters, faults, profile, edition and session lifetime go back to their defaults.
Tests that expire sessions or need their own start options use `sf_org_factory` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

V = "v62.0"
BULK_NS = "http://www.force.com/2009/06/asyncapi/dataload"


def job_xml(
    operation: str = "update",
    obj: str = "Byline__c",
    content_type: str = "XML",
    concurrency: str | None = None,
    external_id: str | None = None,
) -> bytes:
    """A Bulk 1.0 jobInfo document that creates a job (an upsert job names its key in `external_id`)."""
    parts = [f"<operation>{operation}</operation>", f"<object>{obj}</object>"]
    if external_id is not None:
        parts.append(f"<externalIdFieldName>{external_id}</externalIdFieldName>")
    if concurrency:
        parts.append(f"<concurrencyMode>{concurrency}</concurrencyMode>")
    parts.append(f"<contentType>{content_type}</contentType>")
    return f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{BULK_NS}">{"".join(parts)}</jobInfo>'.encode()


def state_xml(state: str) -> bytes:
    """A Bulk 1.0 jobInfo document that moves a job to `state` (Closed, Aborted)."""
    return f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{BULK_NS}"><state>{state}</state></jobInfo>'.encode()


class Api:
    """Raw HTTP against one running org (no client library in the way)."""

    def __init__(self, running) -> None:
        self.org = running
        self.base = running.instance_url
        self.s = running.session()
        self.token = running.access_token

    # REST ------------------------------------------------------------------------------------------
    def rest(self, method: str, path: str, version: str = V, **kw: Any) -> requests.Response:
        return self.s.request(method, f"{self.base}/services/data/{version}{path}", timeout=60, **kw)

    # Bulk 1.0 --------------------------------------------------------------------------------------
    def bulk1(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/xml; charset=UTF-8",
        version: str = "62.0",
        token: str | None = None,
        send_session: bool = True,
        **kw: Any,
    ) -> requests.Response:
        headers = {"Content-Type": content_type}
        if send_session:
            headers["X-SFDC-Session"] = token or self.token
        headers.update(kw.pop("headers", {}))
        plain = requests.Session()
        plain.trust_env = False
        return plain.request(
            method,
            f"{self.base}/services/async/{version}{path}",
            data=body,
            headers=headers,
            verify=self.org.verify,
            timeout=60,
            **kw,
        )

    # Bulk 2.0 --------------------------------------------------------------------------------------
    def bulk2(self, method: str, path: str, version: str = V, **kw: Any) -> requests.Response:
        return self.rest(method, "/jobs" + path, version=version, **kw)

    # ground truth ----------------------------------------------------------------------------------
    def used(self) -> int:
        return self.org.admin.usage()["DailyApiRequests"]["used"]

    def records(self, sobject: str = "Byline__c", fields: list[str] | None = None) -> dict[str, dict]:
        return {r["Id"]: r for r in self.org.admin.records(sobject, fields)}


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.02, what: str = "condition"
) -> Any:
    """Poll until `predicate()` is truthy and return its value (fails the test after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def org(sf_org):
    """The shared org, clean: no records, zero usage, no faults, instant profile, developer edition."""
    sf_org.admin.reset()
    sf_org.admin.configure(faults={}, profile="instant", edition="developer", session_seconds=7200)
    yield sf_org
    sf_org.admin.configure(faults={}, profile="instant", edition="developer", session_seconds=7200)


@pytest.fixture
def api(org) -> Api:
    return Api(org)


@pytest.fixture
def api_of():
    """`Api` for another running org (one a test module started with options of its own): `api_of(running)`."""
    return Api


@pytest.fixture
def seeded(org):
    """Seed Byline__c records and return their ids (seeding is free: it never touches the API)."""

    def make(count: int, sobject: str = "Byline__c") -> list[str]:
        return org.admin.seed(sobject, count, return_ids=True)["ids"]

    return make


@pytest.fixture
def wait():
    return wait_until
