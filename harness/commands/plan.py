"""`sfharness plan`: predicted API calls, batches and time per strategy for a volume on an org profile,
and a pick."""

from __future__ import annotations

import typer
from rich.table import Table

from emulator.constants import EDITION_DAILY_API_REQUESTS
from strategies.operation import OPERATIONS

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
    row_bytes: int | None = typer.Option(
        None,
        "--row-bytes",
        min=1,
        help="Bytes per CSV row (default: from --fields); sizes the Bulk 2.0 jobs, one per 100 MB of CSV.",
    ),
    profile: str = opt.PlanningProfile,
    time_scale: float | None = opt.TimeScale,
    edition: str = typer.Option("developer", "--edition", help="Org edition for the budget when no org is given."),
    concurrency: int | None = opt.Concurrency,
    operation: str = typer.Option(
        "update",
        "--operation",
        help="update, or upsert (by an external id: the Bulk strategies also read the results that say "
        "which records were created).",
    ),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Predict each strategy's cost on an org profile and recommend one, with the reason; strategies whose
    calls exceed the remaining budget are flagged."""
    count = opt.positive_int(records, "--records")
    if operation not in OPERATIONS:
        opt.fail(f"--operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    if edition not in EDITION_DAILY_API_REQUESTS:
        opt.fail(f"unknown edition {edition!r}; choose from {', '.join(EDITION_DAILY_API_REQUESTS)}")
    org_profile = opt.load_profile(profile, time_scale)
    remaining, source = EDITION_DAILY_API_REQUESTS[edition], f"{edition} edition allocation (a full day)"
    if org.wants_real_org:
        from .limits import fetch_limits

        with opt.open_org(org) as conn:
            limits = fetch_limits(conn)
        remaining, source = limits["DailyApiRequests"]["Remaining"], "the org's remaining DailyApiRequests"
    try:
        predictions, choice, reason = make_plan(
            count,
            org_profile,
            fields=fields,
            strategies=STRATEGY_ORDER,
            api_remaining=remaining,
            row_bytes=row_bytes,
            concurrency=concurrency,
            operation=operation,
        )
    except ValueError as err:
        opt.fail(str(err))
    over = [p.label for p in predictions if p.exceeds_budget]
    if over:
        output.warn(f"over budget: {', '.join(over)} would need more than the {remaining:,} API calls left ({source})")
    label = next((p.label for p in predictions if p.recommended), choice)
    if not json_out:
        doing = "upserting" if operation == "upsert" else "updating"
        table = Table(title=f"Plan for {doing} {count:,} records ({org_profile.name} profile)")
        for col in ("strategy", "API calls", "by phase", "Bulk batches", "time", "budget"):
            table.add_column(col, justify="right" if col not in ("strategy", "by phase", "budget") else "left")
        for p in predictions:
            phases = ", ".join(f"{k} {fmt.count(v)}" for k, v in p.calls_by_phase.items())
            style = "bold green" if p.recommended else ("red" if p.exceeds_budget else "yellow" if p.at_risk else None)
            figures = (fmt.count(p.calls), phases, fmt.count(p.batches), fmt.duration(p.seconds))
            table.add_row(p.label, *figures, "OVER BUDGET" if p.exceeds_budget else "fits", style=style)
        opt.console.print(table)
        at_once = ", ".join(
            f"{p.strategy} {p.concurrency}" for p in predictions if p.strategy in ("rest", "collections", "composite")
        )
        opt.console.print(f"requests at once: {at_once} (--concurrency)")
        for p in predictions:
            for note in p.notes:
                opt.console.print(f"{p.label}: {note}", highlight=False)
        description = f": {org_profile.description}" if org_profile.description else ""
        opt.console.print(f"profile: {org_profile.name} ({profile}){description}", highlight=False)
        opt.console.print(f"budget: {remaining:,} calls ({source})")
        opt.console.print(f"recommended: [bold]{label}[/] ({reason})")
    output.finish(
        {
            "records": count,
            "operation": operation,
            "profile": org_profile.name,
            "profile_source": profile,
            "api_remaining": remaining,
            "budget_source": source,
            "predictions": [{**p.to_dict(), "over_budget": p.exceeds_budget} for p in predictions],
            "recommendation": choice,
            "recommended_options": next((p.options for p in predictions if p.recommended), {}),
            "reason": reason,
            "profile_document": org_profile.to_document(),
        }
    )
