"""`sfharness plan`: predicted API calls, batches and time per strategy for a volume, and a pick."""

from __future__ import annotations

import typer
from rich.table import Table

from emulator.constants import EDITION_DAILY_API_REQUESTS

from .. import formatting as fmt
from .. import options as opt
from .. import output
from ..costmodel import STRATEGY_ORDER
from ..costmodel import plan as make_plan
from ..orgs import OrgOptions


@opt.with_org_options
def plan(
    records: str = typer.Option(..., "--records", help="How many records you will update, e.g. 250000 or 250,000."),
    fields: int = typer.Option(3, "--fields", min=1, help="Fields set per record (sizes the payloads)."),
    profile: str = typer.Option("realistic", "--profile", help="Latency profile for time predictions: realistic or instant."),
    time_scale: float | None = opt.TimeScale,
    edition: str = typer.Option("developer", "--edition", help="Org edition for the budget when no org is given."),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Predict each strategy's cost from the documented cost model and recommend one, with the reason;
    strategies whose calls exceed the remaining budget are flagged."""
    count = opt.positive_int(records, "--records")
    if edition not in EDITION_DAILY_API_REQUESTS:
        opt.fail(f"unknown edition {edition!r}; choose from {', '.join(EDITION_DAILY_API_REQUESTS)}")
    remaining, source = EDITION_DAILY_API_REQUESTS[edition], f"{edition} edition allocation (a full day)"
    if org.wants_real_org:
        from .limits import fetch_limits

        with opt.open_org(org) as conn:
            limits = fetch_limits(conn)
        remaining, source = limits["DailyApiRequests"]["Remaining"], "the org's remaining DailyApiRequests"
    try:
        predictions, choice, reason = make_plan(count, profile, time_scale=time_scale, fields=fields, strategies=STRATEGY_ORDER,
                                                api_remaining=remaining)
    except ValueError as err:
        opt.fail(str(err))
    over = [p.strategy for p in predictions if p.calls > remaining]
    if over:
        output.warn(f"over budget: {', '.join(over)} would need more than the {remaining:,} API calls left ({source})")
    if not json_out:
        table = Table(title=f"Plan for {count:,} records ({profile} profile)")
        for col in ("strategy", "API calls", "by phase", "Bulk batches", "time", "budget"):
            table.add_column(col, justify="right" if col not in ("strategy", "by phase", "budget") else "left")
        for p in predictions:
            phases = ", ".join(f"{k} {fmt.count(v)}" for k, v in p.calls_by_phase.items())
            style = "bold green" if p.strategy == choice else ("red" if p.strategy in over else None)
            figures = (fmt.count(p.calls), phases, fmt.count(p.batches), fmt.duration(p.seconds))
            table.add_row(p.strategy, *figures, "OVER BUDGET" if p.strategy in over else "fits", style=style)
        opt.console.print(table)
        opt.console.print(f"budget: {remaining:,} calls ({source})")
        opt.console.print(f"recommended: [bold]{choice}[/] ({reason})")
    output.finish({"records": count, "profile": profile, "api_remaining": remaining, "budget_source": source,
                   "predictions": [{**p.to_dict(), "over_budget": p.strategy in over} for p in predictions],
                   "recommendation": choice, "reason": reason})
