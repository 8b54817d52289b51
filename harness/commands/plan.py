"""`sfharness plan`: predicted API calls, batches and time per strategy for a volume, and a pick."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from emulator.constants import EDITION_DAILY_API_REQUESTS

from .. import formatting as fmt
from .. import options as opt
from ..orgs import OrgOptions
from ..costmodel import STRATEGY_ORDER, plan as make_plan


@opt.with_org_options
def plan(
    records: int = typer.Option(..., "--records", min=0, help="How many records you will update."),
    fields: int = typer.Option(3, "--fields", min=1, help="Fields set per record (sizes the payloads)."),
    profile: str = typer.Option("realistic", "--profile", help="Latency profile for time predictions: realistic or instant."),
    time_scale: Optional[float] = opt.TimeScale,
    edition: str = typer.Option("developer", "--edition", help="Org edition for the budget when no org is given."),
    concurrency: int | None = opt.Concurrency,
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Predict each strategy's cost from the documented cost model and recommend one, with the reason."""
    options = org
    if edition not in EDITION_DAILY_API_REQUESTS:
        opt.fail(f"unknown edition {edition!r}; choose from {', '.join(EDITION_DAILY_API_REQUESTS)}")
    remaining, source = EDITION_DAILY_API_REQUESTS[edition], f"{edition} edition allocation (a full day)"
    if options.wants_real_org:
        from .limits import fetch_limits

        with opt.open_org(options) as conn:
            limits = fetch_limits(conn)
        remaining, source = limits["DailyApiRequests"]["Remaining"], "the org's remaining DailyApiRequests"
    try:
        predictions, choice, reason = make_plan(records, profile, time_scale=time_scale, fields=fields, strategies=STRATEGY_ORDER, api_remaining=remaining, concurrency=concurrency)
    except ValueError as err:
        opt.fail(str(err))
    if json_out:
        print(json.dumps({"records": records, "profile": profile, "api_remaining": remaining, "budget_source": source,
                          "predictions": [p.to_dict() for p in predictions], "recommendation": choice, "reason": reason}))
        return
    table = Table(title=f"Plan for {records:,} records ({profile} profile)")
    for col in ("strategy", "API calls", "by phase", "Bulk batches", "time"):
        table.add_column(col, justify="right" if col not in ("strategy", "by phase") else "left")
    for p in predictions:
        phases = ", ".join(f"{k} {fmt.count(v)}" for k, v in p.calls_by_phase.items())
        style = "bold green" if p.strategy == choice else None
        figures = (fmt.count(p.calls), phases, fmt.count(p.batches), fmt.duration(p.seconds))
        table.add_row(p.strategy, *figures, style=style)
    opt.console.print(table)
    at_once = ", ".join(f"{p.strategy} {p.concurrency}" for p in predictions if p.strategy in ("rest", "collections", "composite"))
    opt.console.print(f"requests at once: {at_once} (--concurrency)")
    opt.console.print(f"budget: {remaining:,} calls ({source})")
    opt.console.print(f"recommended: [bold]{choice}[/] ({reason})")
