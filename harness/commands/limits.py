"""`sfharness limits`: the org's limits (GET /limits) as a table or JSON."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .. import options as opt
from .. import output
from ..orgs import OrgConnection, OrgOptions

WATCHED = (
    "DailyApiRequests",
    "DailyBulkApiBatches",
    "DailyBulkV2QueryJobs",
    "DailyBulkV2QueryFileStorageMB",
    "DataStorageMB",
)
EMULATOR_NOTE = (
    "no org options given: reading the embedded emulator (give -o ALIAS or other credentials for a real org)"
)


def fetch_limits(conn: OrgConnection) -> dict[str, Any]:
    session = conn.session()
    try:
        with session.phase("limits"):
            return session.get_json(session.rest_url("limits"))
    finally:
        session.close()


@opt.with_org_options
def limits(
    json_out: bool = opt.JsonOut,
    edition: str = opt.Edition,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Show the org's limits (this costs one API call); the embedded emulator when no org is given."""
    if not org.wants_real_org:
        output.warn(EMULATOR_NOTE)
    with opt.open_org(org, edition=edition) as conn:
        data = fetch_limits(conn)
        where = conn.describe()
    if not json_out:
        table = Table(title=f"Limits of {where['kind']} org {where['instance_url']}")
        for col in ("limit", "max", "remaining", "used"):
            table.add_column(col, justify="left" if col == "limit" else "right")
        ordered = [k for k in WATCHED if k in data] + sorted(k for k in data if k not in WATCHED)
        for key in ordered:
            value = data[key]
            if isinstance(value, dict) and "Max" in value:
                used = value["Max"] - value["Remaining"]
                table.add_row(
                    key,
                    f"{value['Max']:,}",
                    f"{value['Remaining']:,}",
                    f"{used:,}",
                    style="bold" if key in WATCHED else None,
                )
        opt.console.print(table)
    output.finish({"org": where, "limits": data})
