"""Strategies by name, so a flag or an environment variable can pick one. An explicit dict, no magic."""

from __future__ import annotations

import os
from typing import Any

from .auto import AutoStrategy
from .base import UpdateStrategy
from .bulk1 import Bulk1Strategy
from .bulk2 import Bulk2Strategy
from .composite import CompositeStrategy
from .errors import ConfigurationError
from .rest import RestStrategy
from .sobject_collections import CollectionsStrategy
from .transport import OrgSession

STRATEGIES: dict[str, type[UpdateStrategy]] = {
    RestStrategy.name: RestStrategy,
    CollectionsStrategy.name: CollectionsStrategy,
    CompositeStrategy.name: CompositeStrategy,
    Bulk1Strategy.name: Bulk1Strategy,
    Bulk2Strategy.name: Bulk2Strategy,
    AutoStrategy.name: AutoStrategy,
}

ENV_VAR = "SFHARNESS_STRATEGY"


def names() -> list[str]:
    """Registered strategy names, in the order of the table above (cheapest to write first)."""
    return list(STRATEGIES)


def strategy_class(name: str) -> type[UpdateStrategy]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigurationError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}") from None


def get(name: str, session: OrgSession, **options: Any) -> UpdateStrategy:
    """A new strategy instance: ``get("bulk2-csv", session, parallel_jobs=2)``."""
    return strategy_class(name)(session, **options)


def from_env(session: OrgSession, *, default: str = "auto", env_var: str = ENV_VAR, **options: Any) -> UpdateStrategy:
    """The strategy named by the environment variable `env_var` (``SFHARNESS_STRATEGY``), else `default`."""
    return get(os.environ.get(env_var) or default, session, **options)


def formula_table(counts: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000), *, polls: int = 10) -> dict[str, dict[int, int]]:
    """API calls per strategy for each record count, from the strategies' own formulas.

    Assumes no failures, no retries and `polls` status checks per Bulk run; Bulk 2.0 splits into jobs
    only by bytes, so for narrow records (well under 100 MB per million rows) it is one job. `auto` is
    left out: it is whichever of composite and bulk2-csv is cheaper, plus one GET /limits.
    """
    table: dict[str, dict[int, int]] = {}
    for name, cls in STRATEGIES.items():
        if name == "auto":
            continue
        table[name] = {n: cls.api_calls(n, polls=polls).total for n in counts}
    return table
