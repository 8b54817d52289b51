"""The options that set how a strategy waits and how many requests it sends at once, by strategy name: one
home for compare, bench and update.

Only the Bulk strategies poll, and they take their policy in different places (`auto` passes it on to
the Bulk 2.0 strategy it may delegate to); the library baselines poll on their own fixed sleeps, which
`time_scale` scales. Knowing that in one place keeps a time-scaled run (`compare`, `bench`) and a
production run (`update`, `resume`) from drifting apart.
"""

from __future__ import annotations

from typing import Any

from emulator.profiles import OrgProfile
from strategies import registry
from strategies.auto import AutoStrategy
from strategies.bulk1_xml import Bulk1Strategy
from strategies.bulk2_csv import Bulk2Strategy
from strategies.polling import PollPolicy

from .costmodel import expected_bulk2_polls

POLL_POLICY = PollPolicy()
"""The client's poll schedule in real time (the strategies' default). Tests swap in a fast one."""


def real_time_policy() -> PollPolicy:
    """`POLL_POLICY`, read when a run starts (so a test's fast schedule reaches every command)."""
    return POLL_POLICY


def poll_options(name: str, policy: PollPolicy) -> dict[str, Any]:
    """The options that make strategy `name` poll with `policy` (none for a strategy that never polls)."""
    if name in (Bulk1Strategy.name, Bulk2Strategy.name):
        return {"poll_policy": policy}
    if name == AutoStrategy.name:
        return {"bulk2_options": {"poll_policy": policy}}
    return {}


def scaled_options(name: str, scale: float = 1.0) -> dict[str, Any]:
    """Options for a measured run on a profile running `scale` times faster than real time.

    The client's waits shrink by the same factor as the org's, so a run makes the calls a real-time run
    would: our poll policy for our strategies, the libraries' own sleeps (``time_scale``,
    `strategies.baselines.metering.scaled_sleep`) for a baseline.
    """
    if registry.is_baseline(name):
        return {"time_scale": scale} if scale != 1.0 else {}
    return poll_options(name, client_policy(scale))


def client_policy(scale: float = 1.0) -> PollPolicy:
    """Our poll schedule on a profile running `scale` times faster than real time (shrunk alike)."""
    policy = real_time_policy()
    return policy.scaled(1.0 / scale) if scale != 1.0 else policy


def _default_concurrency(name: str) -> int | None:
    """Strategy `name`'s own requests in flight; None for one with no such setting (Bulk strategies send
    jobs, and the library baselines call their libraries as users do)."""
    return None if registry.is_baseline(name) else registry.strategy_class(name).default_concurrency


def concurrency_options(name: str, concurrency: int | None) -> dict[str, Any]:
    """The option that makes strategy `name` send `concurrency` requests at once; none when `concurrency`
    is None (the strategy's own default) or the strategy takes no such option."""
    if concurrency is None or _default_concurrency(name) is None:
        return {}
    return {"concurrency": concurrency}


def concurrency_in_flight(name: str, concurrency: int | None = None) -> int | None:
    """What a measurement records as strategy `name`'s concurrency with the `concurrency` flag (None: its
    default); None for a strategy that has no such setting."""
    default = _default_concurrency(name)
    if default is None:
        return None
    return default if concurrency is None else concurrency


def auto_options(name: str, n: int, profile: OrgProfile | None, scale: float = 1.0) -> dict[str, Any]:
    """`auto`'s expected Bulk 2.0 polls for `n` records, predicted on the org's `profile` when it is known
    (the emulator's own, or a calibrated one); none for other strategies or an unknown org (auto's default).

    The polls are the one free input of auto's rule: an org that finishes small jobs at the first check
    makes a one-request Bulk 2.0 job cheaper than Composite, which a fixed guess of 4 polls never sees.
    """
    if name != AutoStrategy.name or profile is None or n <= 0:
        return {}
    return {"expected_polls": expected_bulk2_polls(n, profile, poll_policy=client_policy(scale))}
