"""Salesforce's own CLI against the emulator: its everyday commands, each checked against the stored data.

One login (`sf org login access-token`, as a user would) serves the whole matrix; every case then starts
from a clean org (the `org` fixture), runs one command the way its documentation shows, and reads what
the command did back through the emulator's ground truth (`/_emulator/records/...`), not through the CLI.

Needs the `sf` CLI: `.ci/install-sf-cli` puts it in `.ci/.tools/bin/sf` (CI runs it), or point
`SFHARNESS_SF_CLI` at an `sf` executable. Skipped otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _sf() -> str | None:
    candidates = [os.environ.get("SFHARNESS_SF_CLI"), str(REPO / ".ci" / ".tools" / "bin" / "sf")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


SF = _sf()
pytestmark = pytest.mark.skipif(SF is None, reason="the sf CLI is not installed (run .ci/install-sf-cli)")
ALIAS = "emu"


@dataclass
class Cli:
    """The sf CLI logged in to the shared emulated org under ALIAS, with its own HOME."""

    env: dict[str, str]
    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [SF, *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,  # type: ignore[list-item]
            check=False,
        )

    def ok(self, *args: str, target: bool = True) -> str:
        done = self.run(*args, *(("--target-org", ALIAS) if target else ()))
        assert done.returncode == 0, f"sf {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        out = json.loads(self.ok(*args, "--json"))
        assert out["status"] == 0, out
        return out["result"]

    def file(self, name: str, text: str) -> str:
        path = self.workdir / name
        path.write_text(text, encoding="utf-8")
        return str(path)


@pytest.fixture(scope="module")
def cli(sf_org, tmp_path_factory) -> Cli:
    home = tmp_path_factory.mktemp("sf-home")
    env = {
        **os.environ,
        "HOME": str(home),
        "NODE_EXTRA_CA_CERTS": sf_org.ca_file,
        "SF_ACCESS_TOKEN": sf_org.access_token,
        "SF_DISABLE_TELEMETRY": "true",
        "SF_AUTOUPDATE_DISABLE": "true",
        "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
        # No background process asking the npm registry for a newer CLI (a fresh HOME would start one).
        "SF_SKIP_NEW_VERSION_CHECK": "true",
        # Node keeps the CLI's compiled modules here: every command after the first starts on less CPU.
        "NODE_COMPILE_CACHE": str(home / "node-compile-cache"),
    }
    cli = Cli(env, home)
    # The CLI stores the instance URL with a trailing slash and then asks for `//services/data/...`.
    login = cli.ok(
        "org",
        "login",
        "access-token",
        "--instance-url",
        sf_org.instance_url,
        "--no-prompt",
        "--alias",
        ALIAS,
        target=False,
    )
    assert sf_org.org.org_id in login
    return cli


def stored(org, sobject: str = "Byline__c", fields: list[str] | None = None) -> dict[str, dict]:
    return {r["Id"]: r for r in org.admin.records(sobject, fields)}


def human_table(out: str) -> list[list[str]]:
    """The rows of the CLI's human table, header first, in either of the styles it draws.

    On a terminal it draws box characters (`│ ID │ NAME │`); with `CI` set in the environment (as on CI
    machines) it prints plain columns under a line of dashes, separated by two or more spaces.
    """
    lines = out.splitlines()
    boxed = [line for line in lines if line.startswith("│")]
    if boxed:
        return [[cell.strip() for cell in line.split("│")[1:-1]] for line in boxed]
    rule = next(i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"-"})
    body = [lines[rule - 1], *(line for line in lines[rule + 1 :] if line.strip() and not line.startswith("\x1b"))]
    return [re.split(r"\s{2,}", line.strip()) for line in body if not line.strip().startswith("Total number")]


# -- the cases: each runs one command and checks the org afterwards --------------------------------------------
def org_display(cli: Cli, org) -> None:
    result = cli.json("org", "display")
    assert (result["id"], result["username"], result["connectedStatus"]) == (org.org.org_id, org.username, "Connected")


def org_list_limits(cli: Cli, org) -> None:
    limits = {item["name"]: item for item in cli.json("org", "list", "limits")}
    used = org.admin.usage()["DailyApiRequests"]["used"]
    assert limits["DailyApiRequests"]["max"] == 15_000
    assert limits["DailyApiRequests"]["remaining"] == 15_000 - used  # the /limits call was counted before it answered
    assert limits["DailyBulkApiBatches"]["max"] == 15_000


def data_query_human(cli: Cli, org) -> None:
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    out = cli.ok("data", "query", "--query", "SELECT Id, Name, Account__r.Name FROM Byline__c ORDER BY Name")
    header, *table = human_table(out)
    assert header == ["ID", "NAME", "ACCOUNT__R.NAME"]
    rows = stored(org, fields=["Id", "Name"])
    assert [row[0] for row in table] == sorted(ids, key=lambda r: rows[r]["Name"])
    assert "Total number of records retrieved: 3." in out


def data_query_csv(cli: Cli, org) -> None:
    org.admin.seed("Byline__c", 4)
    out = cli.ok("data", "query", "--query", "SELECT Id, Name, Tweets__c FROM Byline__c", "--result-format", "csv")
    got = list(csv.DictReader(io.StringIO(out)))
    expected = stored(org, fields=["Id", "Name", "Tweets__c"])
    assert {r["Id"]: (r["Name"], float(r["Tweets__c"])) for r in got} == {
        i: (r["Name"], r["Tweets__c"]) for i, r in expected.items()
    }


def data_query_json(cli: Cli, org) -> None:
    org.admin.seed("Byline__c", 5)
    result = cli.json("data", "query", "--query", "SELECT Id, Likes__c FROM Byline__c WHERE Likes__c > 2")
    expected = {i: r["Likes__c"] for i, r in stored(org, fields=["Id", "Likes__c"]).items() if r["Likes__c"] > 2}
    assert result["totalSize"] == len(expected) and result["done"] is True
    assert {r["Id"]: r["Likes__c"] for r in result["records"]} == expected


def sobject_describe(cli: Cli, org) -> None:
    result = cli.json("sobject", "describe", "--sobject", "Account")
    assert result["name"] == "Account" and result["keyPrefix"] == "001"
    assert {f["name"] for f in result["fields"]} >= {"Id", "Name", "Phone", "AnnualRevenue", "CreatedDate"}
    assert {r["relationshipName"] for r in result["childRelationships"]} == {"Contacts", "Opportunities", "Bylines__r"}


def sobject_list(cli: Cli, org) -> None:
    assert {"Account", "Contact", "Opportunity", "Byline__c"} <= set(cli.json("sobject", "list", "--sobject", "all"))
    assert cli.json("sobject", "list", "--sobject", "custom") == ["Byline__c"]


def data_get_record(cli: Cli, org) -> None:
    rid = org.admin.seed("Byline__c", 1, return_ids=True)["ids"][0]
    result = cli.json("data", "get", "record", "--sobject", "Byline__c", "--record-id", rid)
    row = stored(org)[rid]
    assert {k: result[k] for k in ("Id", "Name", "Tweets__c", "Account__c")} == {
        k: row[k] for k in ("Id", "Name", "Tweets__c", "Account__c")
    }


def data_create_record(cli: Cli, org) -> None:
    result = cli.json(
        "data", "create", "record", "--sobject", "Account", "--values", "Name='Acme Corp' Phone='555 0100'"
    )
    assert stored(org, "Account", ["Id", "Name", "Phone"])[result["id"]] == {
        "Id": result["id"],
        "Name": "Acme Corp",
        "Phone": "555 0100",
    }


def data_update_record(cli: Cli, org) -> None:
    ids = org.admin.seed("Byline__c", 2, return_ids=True)["ids"]
    before = stored(org)  # seeded values follow the org's id sequence, so the other record is compared whole
    cli.json("data", "update", "record", "--sobject", "Byline__c", "--record-id", ids[0], "--values", "Tweets__c=777")
    rows = stored(org)
    assert rows[ids[0]]["Tweets__c"] == 777 and rows[ids[1]] == before[ids[1]]


def data_delete_record(cli: Cli, org) -> None:
    ids = org.admin.seed("Byline__c", 2, return_ids=True)["ids"]
    cli.json("data", "delete", "record", "--sobject", "Byline__c", "--record-id", ids[0])
    assert list(stored(org)) == [ids[1]]


def data_export_bulk(cli: Cli, org) -> None:
    org.admin.seed("Byline__c", 25)
    out = cli.workdir / "export.csv"
    cli.json(
        "data",
        "export",
        "bulk",
        "--query",
        "SELECT Id, Name, Tweets__c FROM Byline__c",
        "--output-file",
        str(out),
        "--wait",
        "5",
    )
    got = list(csv.DictReader(out.open(encoding="utf-8")))
    expected = stored(org, fields=["Id", "Name", "Tweets__c"])
    assert {r["Id"]: (r["Name"], float(r["Tweets__c"])) for r in got} == {
        i: (r["Name"], r["Tweets__c"]) for i, r in expected.items()
    }


def data_update_bulk(cli: Cli, org) -> None:
    ids = org.admin.seed("Byline__c", 5, return_ids=True)["ids"]
    data = cli.file("update.csv", "Id,Tweets__c\n" + "".join(f"{rid},{900 + n}\n" for n, rid in enumerate(ids)))
    cli.json("data", "update", "bulk", "--sobject", "Byline__c", "--file", data, "--wait", "5")
    rows = stored(org)
    assert [rows[rid]["Tweets__c"] for rid in ids] == [900, 901, 902, 903, 904]


def data_upsert_bulk(cli: Cli, org) -> None:
    ids = org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    keys = {i: r["Url__c"] for i, r in stored(org, fields=["Id", "Url__c"]).items()}
    data = cli.file(
        "upsert.csv",
        "Url__c,Name,Tweets__c\n"
        + "".join(f"{keys[rid]},,{700 + n}\n" for n, rid in enumerate(ids))
        + "https://example.com/cli/1,From the CLI,1\n",
    )
    cli.json(
        "data", "upsert", "bulk", "--sobject", "Byline__c", "--file", data, "--external-id", "Url__c", "--wait", "5"
    )
    rows = stored(org, fields=["Id", "Url__c", "Name", "Tweets__c"])
    assert [rows[rid]["Tweets__c"] for rid in ids] == [700, 701, 702]
    created = [r for r in rows.values() if r["Url__c"] == "https://example.com/cli/1"]
    assert len(rows) == 4 and [(r["Name"], r["Tweets__c"]) for r in created] == [("From the CLI", 1)]


def data_delete_bulk(cli: Cli, org) -> None:
    ids = org.admin.seed("Byline__c", 6, return_ids=True)["ids"]
    data = cli.file("delete.csv", "Id\n" + "".join(f"{rid}\n" for rid in ids[:4]))
    cli.json("data", "delete", "bulk", "--sobject", "Byline__c", "--file", data, "--wait", "5")
    assert sorted(stored(org)) == sorted(ids[4:])


def data_import_bulk(cli: Cli, org) -> None:
    data = cli.file("insert.csv", "Name,Tweets__c\nFirst insert,5\nSecond insert,6\n")
    cli.json("data", "import", "bulk", "--sobject", "Byline__c", "--file", data, "--wait", "5")
    assert sorted((r["Name"], r["Tweets__c"]) for r in stored(org).values()) == [
        ("First insert", 5),
        ("Second insert", 6),
    ]


def data_import_tree(cli: Cli, org) -> None:
    tree = {
        "records": [
            {
                "attributes": {"type": "Account", "referenceId": "AcmeRef"},
                "Name": "Acme Tree",
                "Contacts": {
                    "records": [
                        {
                            "attributes": {"type": "Contact", "referenceId": "AnnRef"},
                            "LastName": "Ng",
                            "FirstName": "Ann",
                        },
                        {"attributes": {"type": "Contact", "referenceId": "LiRef"}, "LastName": "Li"},
                    ]
                },
            },
            {"attributes": {"type": "Account", "referenceId": "GlobexRef"}, "Name": "Globex Tree"},
        ]
    }
    result = cli.json("data", "import", "tree", "--files", cli.file("accounts.json", json.dumps(tree)))
    ids = {r["refId"]: r["id"] for r in result}
    assert set(ids) == {"AcmeRef", "GlobexRef", "AnnRef", "LiRef"}
    accounts = stored(org, "Account", ["Id", "Name"])
    assert {accounts[ids["AcmeRef"]]["Name"], accounts[ids["GlobexRef"]]["Name"]} == {"Acme Tree", "Globex Tree"}
    contacts = stored(org, "Contact", ["Id", "Name", "AccountId"])
    assert {c["Name"]: c["AccountId"] for c in contacts.values()} == {"Ann Ng": ids["AcmeRef"], "Li": ids["AcmeRef"]}


CASES: dict[str, Callable[[Cli, Any], None]] = {
    f.__name__: f
    for f in (
        org_display,
        org_list_limits,
        data_query_human,
        data_query_csv,
        data_query_json,
        sobject_describe,
        sobject_list,
        data_get_record,
        data_create_record,
        data_update_record,
        data_delete_record,
        data_export_bulk,
        data_update_bulk,
        data_upsert_bulk,
        data_delete_bulk,
        data_import_bulk,
        data_import_tree,
    )
}


@pytest.mark.parametrize("case", list(CASES))
def test_sf_cli_command(cli, org, case):
    CASES[case](cli, org)
