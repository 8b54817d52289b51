"""`sfharness plan`: predicted API calls, batches and time per strategy for a volume, and a pick."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from emulator.constants import EDITION_DAILY_API_REQUESTS

from .. import options as opt
from ..costmodel import STRATEGY_ORDER, _fmt_s, plan as make_plan
from ..orgs import OrgOptions


@opt.with_org_options
def plan(
    records: int = typer.Option(..., "--records", min=0, help="How many records you will update."),
    fields: int = typer.Option(3, "--fields", min=1, help="Fields set per record (sizes the payloads)."),
    row_bytes: int | None = typer.Option(None, "--row-bytes", min=1, help="Bytes per CSV row (default: from --fields); "
                                            "sizes the Bulk 2.0 jobs, one per 100 MB of CSV."),
    profile: str = typer.Option("realistic", "--profile", help="Org profile for counting rules and timings: realistic, "
                                "instant, or a profile JSON file (e.g. one `sfharness calibrate` wrote)."),
    time_scale: Optional[float] = opt.TimeScale,
    edition: str = typer.Option("developer", "--edition", help="Org edition for the budget when no org is given."),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  (filled in by with_org_options)
) -> None:
    """Predict each strategy's cost on an org profile and recommend one, with the reason."""
    options = org
    if edition not in EDITION_DAILY_API_REQUESTS:
        opt.fail(f"unknown edition {edition!r}; choose from {', '.join(EDITION_DAILY_API_REQUESTS)}")
    org_profile = opt.load_profile(profile, time_scale)
    remaining, source = EDITION_DAILY_API_REQUESTS[edition], f"{edition} edition allocation (a full day)"
    if options.wants_real_org:
        from .limits import fetch_limits

        with opt.open_org(options) as conn:
            limits = fetch_limits(conn)
        remaining, source = limits["DailyApiRequests"]["Remaining"], "the org's remaining DailyApiRequests"
    try:
        predictions, choice, reason = make_plan(records, org_profile, fields=fields, strategies=STRATEGY_ORDER,
                                                api_remaining=remaining, row_bytes=row_bytes)
    except ValueError as err:
        opt.fail(str(err))
    if json_out:
        print(json.dumps({"records": records, "profile": org_profile.name, "profile_source": profile, "api_remaining": remaining,
                          "budget_source": source, "predictions": [p.to_dict() for p in predictions], "recommendation": choice,
                          "recommended_options": next((p.options for p in predictions if p.recommended), {}),
                          "reason": reason, "profile_document": org_profile.to_document()}))
        return
    table = Table(title=f"Plan for {records:,} records ({org_profile.name} profile)")
    for col in ("strategy", "API calls", "by phase", "Bulk batches", "time", "budget"):
        table.add_column(col, justify="right" if col not in ("strategy", "by phase", "budget") else "left")
    for p in predictions:
        phases = ", ".join(f"{k} {v}" for k, v in p.calls_by_phase.items())
        style = "bold green" if p.recommended else ("red" if p.exceeds_budget else "yellow" if p.at_risk else None)
        table.add_row(p.label, f"{p.calls:,}", phases, f"{p.batches:,}", _fmt_s(p.seconds),
                      "EXCEEDS" if p.exceeds_budget else "fits", style=style)
    opt.console.print(table)
    for p in predictions:
        for note in p.notes:
            opt.console.print(f"{p.label}: {note}", highlight=False)
    opt.console.print(f"profile: {org_profile.name} ({profile}){': ' + org_profile.description if org_profile.description else ''}",
                      highlight=False)
    opt.console.print(f"budget: {remaining:,} calls ({source})")
    label = next((p.label for p in predictions if p.recommended), choice)
    opt.console.print(f"recommended: [bold]{label}[/] ({reason})")
