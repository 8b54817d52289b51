"""The one rule that recommends a strategy: for measured runs (`compare`, `bench`, the reports) and for
predictions (`plan`), so that the same figures always get the same answer.

Eligible: one of our strategies that, when measured, ran clean (`Measurement.clean`: the run finished,
every record succeeded and every record read back with the values written; a prediction assumes so).
Never eligible:

- a library baseline: it is there to be beaten, and is named in the reason as the figure to beat;
- `auto`: it is a chooser, not a way of writing. It runs whichever of composite and bulk2-csv is cheaper
  for the volume and spends one more call (`/limits`) to decide, so at a volume it was measured at it
  costs its delegate's calls plus one and the delegate ranks above it anyway; the advice names the
  delegate, which a user can pin with `--strategy`. `auto` is for when the volume is not known in advance.

Order: a candidate at risk (a predicted Bulk job whose units would be retried past their time limit or
run longer than Salesforce's 5-minute guidance) after every one that is not; then fewest API calls (the
daily allocation is what a user runs out of), then least time, then the order the candidates were given
in (the display order), so the answer is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from strategies.auto import AutoStrategy

from .formatting import counted, duration

CHOOSERS = frozenset({AutoStrategy.name})
"""Strategies that pick another strategy at run time, and so are never the advice themselves."""


@dataclass(frozen=True)
class Candidate:
    """One strategy's figures at one volume, measured or predicted, as the rule sees them."""

    strategy: str
    calls: int
    seconds: float
    baseline: bool = False
    clean: bool = True
    at_risk: bool = False
    """A prediction whose Bulk units would run past their time limit or the 5-minute guidance (plan only)."""
    risk: str = ""
    """Why it is at risk, quoted in the reason when a cheaper candidate is passed over for it."""

    @property
    def eligible(self) -> bool:
        return self.clean and not self.baseline and self.strategy not in CHOOSERS


@dataclass(frozen=True)
class Choice:
    """The recommended strategy ("" when none is eligible) and the reason, quoting the figures."""

    strategy: str
    reason: str


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates best first: not at risk, fewest API calls, then least time (a stable sort keeps the
    given order)."""
    return sorted(candidates, key=lambda c: (c.at_risk, c.calls, c.seconds))


def choose(candidates: Sequence[Candidate], *, estimated: bool = False) -> Choice:
    """The best eligible candidate, with a reason naming the runner-up, the fastest and the best baseline.

    `estimated` marks predicted figures ("about 2.8 s"), so a plan never reads as a measurement.
    """
    ranked = rank(c for c in candidates if c.eligible)
    if not ranked:
        why = "no strategy updated and read back every record" if not estimated else "no strategy can be predicted"
        return Choice("", why)
    best = ranked[0]

    def figures(c: Candidate) -> str:
        return f"{counted(c.calls, 'API call')} in {'about ' if estimated else ''}{duration(c.seconds)}"

    parts = [f"fewest API calls: {figures(best)}"]
    passed_over = [c for c in ranked if c.at_risk and c.calls < best.calls]
    if passed_over and not best.at_risk:
        cheaper = min(passed_over, key=lambda c: c.calls)
        parts[0] = f"fewest API calls without risk: {figures(best)}"
        parts.append(f"{cheaper.strategy} would need {counted(cheaper.calls, 'call')} but is at risk ({cheaper.risk})")
    if len(ranked) > 1:
        parts.append(f"next: {ranked[1].strategy}, {figures(ranked[1])}")
    fastest = min(ranked, key=lambda c: c.seconds)
    if fastest not in ranked[:2]:
        parts.append(f"fastest: {fastest.strategy}, {figures(fastest)}")
    baselines = rank(c for c in candidates if c.baseline and c.clean)
    if baselines:
        parts.append(f"best baseline: {baselines[0].strategy}, {figures(baselines[0])}")
    return Choice(best.strategy, "; ".join(parts))
