"""Salesforce's own CLI logs in to the emulator and runs a Bulk API 2.0 update against it.

Needs the `sf` CLI: `.ci/install-sf-cli` puts it in `.ci/.tools/bin/sf` (CI runs it), or point
`SFHARNESS_SF_CLI` at an `sf` executable. Skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([SF, *args], env=env, capture_output=True, text=True, timeout=300)  # type: ignore[list-item]


def test_sf_cli_logs_in_and_updates_records_in_bulk(sf_org, tmp_path):
    ids = sf_org.admin.seed("Byline__c", 5, return_ids=True)["ids"]
    env = {**os.environ, "HOME": str(tmp_path), "NODE_EXTRA_CA_CERTS": sf_org.ca_file, "SF_ACCESS_TOKEN": sf_org.access_token,
           "SF_DISABLE_TELEMETRY": "true", "SF_AUTOUPDATE_DISABLE": "true", "SF_USE_GENERIC_UNIX_KEYCHAIN": "true"}
    login = _run(["org", "login", "access-token", "--instance-url", sf_org.instance_url, "--no-prompt", "--alias", "emu"], env)
    assert login.returncode == 0, login.stdout + login.stderr
    assert sf_org.org.org_id in login.stdout
    data = tmp_path / "update.csv"
    data.write_text("Id,Tweets__c\n" + "".join(f"{rid},{900 + n}\n" for n, rid in enumerate(ids)), encoding="utf-8")
    update = _run(["data", "update", "bulk", "--sobject", "Byline__c", "--file", str(data), "--target-org", "emu", "--wait", "5", "--json"], env)
    assert update.returncode == 0, update.stdout + update.stderr
    stored = {r["Id"]: r["Tweets__c"] for r in sf_org.admin.records("Byline__c", ["Id", "Tweets__c"])}
    assert [stored[rid] for rid in ids] == [900, 901, 902, 903, 904]
