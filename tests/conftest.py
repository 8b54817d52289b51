"""Shared fixtures: the emulator's own pytest plugin (`sf_org`, `sf_org_factory`) is loaded by entry point.

The suite runs on parallel workers (pytest-xdist, configured in pyproject.toml). Most of a test's time is
waiting (emulator queues, polls, time-scaled sleeps), so a few long tests decide the wall time: they are
marked `slow` and collected first, so the scheduler hands them out before anything else and they wait side by
side while the short tests fill the other workers.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` first, each group in its collected order (the same order on every worker)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
