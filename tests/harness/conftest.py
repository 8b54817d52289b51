"""Fixtures for the harness tests: the client's poll schedule made fast, as the strategy tests make it,
and the shared emulator reachable through the environment the CLI reads.

A Bulk job on the emulator's instant profile is done in well under a second, but the real schedule first
looks at 2.5 s; tests that run Bulk strategies through the harness would spend most of their time asleep.
"""

from __future__ import annotations

import pytest

from harness import strategy_options
from strategies.polling import PollPolicy

FAST_POLL = PollPolicy(initial=0.05, factor=1.5, ceiling=0.5, timeout=120)
"""The same fast schedule as tests/strategies/conftest.py's FAST_POLL."""


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> PollPolicy:
    """Every harness command (compare, bench's children aside, update, resume) polls on `FAST_POLL`."""
    monkeypatch.setattr(strategy_options, "POLL_POLICY", FAST_POLL)
    return FAST_POLL


@pytest.fixture
def org(sf_org, monkeypatch):
    """The shared emulator with fresh data and counters, reachable through the env vars the CLI reads."""
    sf_org.admin.reset()
    monkeypatch.setenv("SF_INSTANCE_URL", sf_org.instance_url)
    monkeypatch.setenv("SF_ACCESS_TOKEN", sf_org.access_token)
    monkeypatch.setenv("SF_CA_FILE", sf_org.ca_file)
    monkeypatch.delenv("SFHARNESS_STRATEGY", raising=False)
    return sf_org
