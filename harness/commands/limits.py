"""`sfharness limits`: the org's limits (GET /limits) as a table or JSON."""

from __future__ import annotations

import json
from typing import Any, Optional

from rich.table import Table

from .. import options as opt
from ..orgs import OrgConnection

WATCHED = ("DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB", "DataStorageMB")


def fetch_limits(conn: OrgConnection) -> dict[str, Any]:
    session = conn.session()
    try:
        with session.phase("limits"):
            return session.get_json(session.rest_url("limits"))
    finally:
        session.close()


def limits(
    json_out: bool = opt.JsonOut,
    edition: str = opt.Edition,
    target_org: Optional[str] = opt.TargetOrg,
    instance_url: Optional[str] = opt.InstanceUrl,
    access_token: Optional[str] = opt.AccessToken,
    client_id: Optional[str] = opt.ClientId,
    client_secret: Optional[str] = opt.ClientSecret,
    jwt_key_file: Optional[str] = opt.JwtKeyFile,
    username: Optional[str] = opt.Username,
    password: Optional[str] = opt.Password,
    security_token: Optional[str] = opt.SecurityToken,
    login_url: Optional[str] = opt.LoginUrl,
    api_version: str = opt.ApiVersion,
) -> None:
    """Show the org's limits (this costs one API call); the embedded emulator when no org is given."""
    options = opt.org_options(target_org=target_org, instance_url=instance_url, access_token=access_token, client_id=client_id,
                              client_secret=client_secret, jwt_key_file=jwt_key_file, username=username, password=password,
                              security_token=security_token, login_url=login_url, api_version=api_version)
    with opt.open_org(options, edition=edition) as conn:
        data = fetch_limits(conn)
        where = conn.describe()
    if json_out:
        print(json.dumps({"org": where, "limits": data}))
        return
    table = Table(title=f"Limits of {where['kind']} org {where['instance_url']}")
    for col in ("limit", "max", "remaining", "used"):
        table.add_column(col, justify="left" if col == "limit" else "right")
    ordered = [k for k in WATCHED if k in data] + sorted(k for k in data if k not in WATCHED)
    for key in ordered:
        value = data[key]
        if isinstance(value, dict) and "Max" in value:
            used = value["Max"] - value["Remaining"]
            table.add_row(key, f"{value['Max']:,}", f"{value['Remaining']:,}", f"{used:,}", style="bold" if key in WATCHED else None)
    opt.console.print(table)
