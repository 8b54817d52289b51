"""Fixtures for the CLI tests: the shared emulator, reachable through the environment the CLI reads."""

from __future__ import annotations

import pytest


@pytest.fixture
def org(sf_org, monkeypatch):
    """The shared emulator with fresh data and counters, reachable through the env vars the CLI reads."""
    sf_org.admin.reset()
    monkeypatch.setenv("SF_INSTANCE_URL", sf_org.instance_url)
    monkeypatch.setenv("SF_ACCESS_TOKEN", sf_org.access_token)
    monkeypatch.setenv("SF_CA_FILE", sf_org.ca_file)
    monkeypatch.delenv("SFHARNESS_STRATEGY", raising=False)
    return sf_org
