"""compare's read-back under injected faults on the Bulk 2.0 query path (used above 2,000 records).

A transient 503 is retried like any other request; a read-back that still fails leaves the measurement
"not verified" (with the reason) and the report is written all the same.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from emulator.profiles import FaultConfig
from harness.cli import app
from harness.orgs import OrgConnection, Secret
from harness.runner import run_once, scratch_dir
from harness.workload import BULK_VERIFY_THRESHOLD, Workload

QUERY_PATH = "/services/data/v62.0/jobs/query"
RECORDS = BULK_VERIFY_THRESHOLD + 100
RATE = 0.5


def _seed_failing_first_but_never_four_in_a_row(draws: int = 60) -> int:
    """A fault seed whose first query-path request fails and whose next `draws` never fail 4 times running
    (the client's attempts per request), so the test holds whatever the number of status polls."""
    for seed in itertools.count():
        faults = FaultConfig(seed=seed, http_503_rate=RATE)
        rolls = [faults.roll(RATE) for _ in range(draws)]
        if rolls[0] and not any(all(rolls[i : i + 4]) for i in range(draws - 3)):
            return seed
    raise AssertionError("unreachable")


def _connection(running: Any) -> OrgConnection:
    return OrgConnection(
        running.instance_url,
        "emulator",
        "62.0",
        running.ca_file,
        lambda: Secret(running.org.sessions.issue().token),
        True,
        "test",
        admin=running.admin,
    )


def test_a_transient_503_in_the_bulk_read_back_is_retried(sf_org: Any) -> None:
    conn = _connection(sf_org)
    workload = Workload(conn, scratch_dir())
    wf = workload.prepare(RECORDS, 1)
    assert run_once(conn, workload, "composite", wf, verify=False).succeeded == RECORDS
    sf_org.admin.configure(
        faults={"seed": _seed_failing_first_but_never_four_in_a_row(), "http_503_rate": RATE, "paths": [QUERY_PATH]}
    )
    try:
        used_before = sf_org.admin.usage()["DailyApiRequests"]["used"]
        check = workload.verify(wf)
        counted_by_org = sf_org.admin.usage()["DailyApiRequests"]["used"] - used_before
    finally:
        sf_org.admin.configure(faults={})
    assert check.error is None and check.ok
    assert check.verified == RECORDS
    assert check.calls > counted_by_org  # the refused attempts: sent by the client, never counted by the org


def test_compare_reports_a_read_back_that_keeps_failing_as_not_verified(tmp_path: Path, monkeypatch: Any) -> None:
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(
        app,
        [
            "compare",
            "--records",
            str(RECORDS),
            "--strategies",
            "composite",
            "--reports-dir",
            str(tmp_path),
            "--faults",
            f"http_503_rate=1,paths={QUERY_PATH}",
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output  # a run that did not verify is not a clean compare
    envelope = json.loads(result.output.strip().splitlines()[-1])
    assert envelope["status"] == 1 and "did not verify" in envelope["message"]
    data = envelope["result"]  # the report is still written, and the envelope carries it
    (measured,) = data["measurements"]
    assert measured["succeeded"] == RECORDS and measured["calls_client"] == 3  # the run's own figures are kept
    assert measured["verified"] == 0 and "ServerError" in measured["unverified"] and "503" in measured["unverified"]
    assert any(note.startswith("not verified: ServerError") for note in measured["notes"])
    folder = Path(data["report_dir"])
    stored = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert stored["measurements"][0]["unverified"] == measured["unverified"]
    assert "not verified" in (folder / "report.md").read_text(encoding="utf-8")
