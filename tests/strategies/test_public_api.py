"""The package's public surface: `__all__` is exactly what it exports, and summaries serialise."""

from __future__ import annotations

import json
import pkgutil

import strategies
from strategies import OrgSession, RunSummary


def test_all_matches_the_exported_names() -> None:
    # Identifiers only: pytest's assertion rewriting can leave "@py_builtins"-style names on modules.
    exported = {name for name in dir(strategies) if not name.startswith("_") and name.isidentifier()}
    modules = {info.name for info in pkgutil.iter_modules(strategies.__path__)}
    assert set(strategies.__all__) == exported - modules
    assert all(hasattr(strategies, name) for name in strategies.__all__)


def test_every_strategy_declares_name_family_and_formula() -> None:
    for name, cls in strategies.STRATEGIES.items():
        assert cls.name == name and cls.family in ("rest", "bulk1", "bulk2")
        assert cls.api_calls(0).total == 0
        assert cls.api_calls(1).total >= 1


def test_summary_is_json_ready_and_never_holds_the_token() -> None:
    session = OrgSession("https://example.my.salesforce.com", "SECRET-TOKEN-123")
    summary = RunSummary(strategy="composite", sobject="Byline__c", submitted=2, succeeded=2)
    text = json.dumps(summary.to_dict())
    assert json.loads(text)["complete"] is True
    with strategies.get("bulk2-csv", session) as strategy:
        assert "SECRET" not in text and "SECRET" not in repr(session) and "SECRET" not in repr(strategy)
