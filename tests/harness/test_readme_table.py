"""The README's API-call table is what the strategies' formulas (and the cost model's polls) give."""

from __future__ import annotations

import re
from pathlib import Path

from emulator.profiles import get_profile
from harness.costmodel import predict

README = Path(__file__).resolve().parents[2] / "README.md"
VOLUMES = (1_000, 10_000, 100_000, 1_000_000)


def _table() -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z0-9-]+)` \|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        numbers = [c for c in cells[-4:] if re.fullmatch(r"[\d,]+", c)]
        if len(numbers) == 4:
            rows[m.group(1)] = [int(n.replace(",", "")) for n in numbers]
    return rows


def test_readme_call_table_matches_the_formulas():
    table = _table()
    assert set(table) == {"rest", "collections", "composite", "bulk1-xml", "bulk2-csv"}
    profile = get_profile("realistic")
    for strategy, figures in table.items():
        assert figures == [predict(strategy, n, profile).calls for n in VOLUMES], strategy
