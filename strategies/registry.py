"""Strategies by name, so a flag or an environment variable can pick one. An explicit dict, no magic."""

from __future__ import annotations

import os
from typing import Any

from .auto import AutoStrategy
from .base import UpdateStrategy
from .baselines import BASELINES
from .bulk1_xml import Bulk1Strategy
from .bulk2_csv import Bulk2Strategy
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
FAMILIES: dict[str, str] = {name: cls.family for name, cls in {**STRATEGIES, **BASELINES}.items()}
"""API family of every strategy and baseline (rest | bulk1 | bulk2); `auto` is whichever it delegates to."""


def names(include_baselines: bool = False) -> list[str]:
    """Registered strategy names, in the order of the table above (cheapest to write first).

    Baselines (third-party libraries, `BASELINES`) are listed after ours only when asked: they are there
    to be measured against, and `update` never offers them.
    """
    return list(STRATEGIES) + (list(BASELINES) if include_baselines else [])


def baseline_names() -> list[str]:
    """The library baselines (`strategies.baselines`), in display order."""
    return list(BASELINES)


def is_baseline(name: str) -> bool:
    return name in BASELINES


def strategy_class(name: str, *, include_baselines: bool = False) -> type[UpdateStrategy]:
    if name in STRATEGIES:
        return STRATEGIES[name]
    if include_baselines and name in BASELINES:
        return BASELINES[name]
    known = names(include_baselines)
    hint = " (a library baseline: pass include_baselines=True)" if name in BASELINES else ""
    raise ConfigurationError(f"unknown strategy {name!r}{hint}; choose one of {', '.join(known)}")


def get(name: str, session: OrgSession, *, include_baselines: bool = False, **options: Any) -> UpdateStrategy:
    """A new strategy instance: ``get("bulk2-csv", session, parallel_jobs=2)``; a baseline
    (``get("simple-salesforce:bulk2", session, include_baselines=True)``) only when asked for."""
    return strategy_class(name, include_baselines=include_baselines)(session, **options)


def from_env(session: OrgSession, *, default: str = "auto", env_var: str = ENV_VAR, **options: Any) -> UpdateStrategy:
    """The strategy named by the environment variable `env_var` (``SFHARNESS_STRATEGY``), else `default`."""
    return get(os.environ.get(env_var) or default, session, **options)


def formula_table(
    counts: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000), *, polls: int = 10
) -> dict[str, dict[int, int]]:
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
