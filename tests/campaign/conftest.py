"""The campaign tests: `campaign.py` (also a script) is importable, and one org serves every scenario."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import campaign

ORG_RECORDS = 1000


@pytest.fixture(scope="session")
def campaign_org() -> Iterator[Any]:
    from emulator.server import run_org

    with run_org(profile="instant", edition="enterprise", seed={campaign.SOBJECT: ORG_RECORDS}) as org:
        yield org
