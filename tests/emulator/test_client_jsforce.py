"""jsforce (Node), unmodified, against the emulator over HTTPS: identity, query, describe, REST, Bulk 2.0, Bulk 1.0.

tests/emulator/clients/jsforce_session.js runs the calls as jsforce's users write them; this test checks
what it reports and, through the emulator's ground truth, what it did to the data.

Needs Node.js and jsforce: `.ci/install-sf-cli` puts both in `.ci/.tools` (CI runs it); or point
`SFHARNESS_NODE` at a `node` and `SFHARNESS_JSFORCE_MODULES` at a node_modules folder holding jsforce.
Skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".ci" / ".tools"
SCRIPT = Path(__file__).with_name("clients") / "jsforce_session.js"


def _node() -> str | None:
    bundled = sorted(TOOLS.glob("node/node_modules/node-linux-*/bin/node"))
    for candidate in (os.environ.get("SFHARNESS_NODE"), *(str(p) for p in bundled), shutil.which("node")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _jsforce_modules() -> str | None:
    folder = Path(os.environ.get("SFHARNESS_JSFORCE_MODULES") or TOOLS / "jsforce" / "node_modules")
    return str(folder) if (folder / "jsforce" / "package.json").is_file() else None


NODE, MODULES = _node(), _jsforce_modules()
pytestmark = pytest.mark.skipif(
    NODE is None or MODULES is None, reason="Node.js or jsforce is not installed (run .ci/install-sf-cli)"
)


def test_jsforce_reads_and_writes_through_every_api_family(org, seeded):
    ids = seeded(5)
    env = {
        **os.environ,
        "NODE_PATH": MODULES,
        "NODE_EXTRA_CA_CERTS": org.ca_file,
        "SF_INSTANCE_URL": org.instance_url,
        "SF_ACCESS_TOKEN": org.access_token,
    }
    done = subprocess.run(
        [NODE, str(SCRIPT), json.dumps(ids)], env=env, capture_output=True, text=True, timeout=120, check=False
    )  # type: ignore[list-item]
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["organizationId"] == org.org.org_id
    assert report["totalSize"] == 5 and report["queried"] == sorted(ids)
    assert {"Id", "Name", "Tweets__c", "Account__c"} <= set(report["fields"])
    assert report["rest"] == {"id": ids[0], "success": True, "errors": []}
    assert report["bulk2"] == {"successful": 2, "failed": 0, "unprocessed": 0}
    assert report["bulk1"] == [{"id": ids[3], "success": True}, {"id": ids[4], "success": True}]
    stored = {r["Id"]: r["Tweets__c"] for r in org.admin.records("Byline__c", ["Id", "Tweets__c"])}
    assert [stored[r] for r in ids] == [501, 502, 502, 503, 503]
