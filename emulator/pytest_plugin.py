"""pytest plugin (entry point `sf_emulator`): fixtures with a running emulated org.

    def test_my_sync(sf_org):
        resp = sf_org.session().get(sf_org.instance_url + "/services/data/v62.0/limits")

`sf_org` is one org per test session (cheap: reset it with `sf_org.admin.reset()`); `sf_org_factory`
starts extra orgs with their own options (profile, edition, faults, seed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from .server import RunningOrg, run_org


@pytest.fixture(scope="session")
def sf_org() -> Iterator[RunningOrg]:
    """A running HTTPS emulated org (instant profile, developer edition), shared by the session."""
    with run_org() as org:
        yield org


@pytest.fixture
def sf_org_factory() -> Iterator[Callable[..., RunningOrg]]:
    """Start orgs with custom options: `sf_org_factory(profile="realistic", time_scale=50, seed={...})`."""
    with ExitStack() as stack:

        def start(**options: Any) -> RunningOrg:
            return stack.enter_context(run_org(**options))

        yield start
