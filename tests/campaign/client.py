"""The campaign's client process: one journaled strategy run, to be killed with SIGKILL at some phase.

    python tests/campaign/client.py CONFIG.json

CONFIG holds the org (instance URL, token, CA file, login for re-authentication), the strategy and its
options, the input (JSON Lines), the state directory (the run journal) and the outcome folder. The exit
code follows `sfharness update`: 0 when every record succeeded, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from strategies import CsvResultSink, JsonlRecords, OrgSession, PollPolicy, RetryPolicy, RunFailed, RunInterrupted, get


def login(org: dict[str, Any]) -> Callable[[], str]:
    """The OAuth password flow against the campaign's emulator (re-authentication after session expiry)."""

    def renew() -> str:
        response = requests.post(
            f"{org['login_url']}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": org["client_id"],
                "client_secret": org["client_secret"],
                "username": org["username"],
                "password": org["password"],
            },
            verify=org["ca_file"],
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    return renew


def session_for(org: dict[str, Any], timeout: tuple[float, float]) -> OrgSession:
    return OrgSession(
        org["instance_url"],
        login(org)(),
        ca_file=org["ca_file"],
        timeout=timeout,
        retry=RetryPolicy(max_attempts=4, backoff=0.01, max_delay=0.05),
        reauthenticate=login(org),
    )


def exit_code(summary: Any) -> int:
    """`sfharness update`'s rule: 1 when any record failed, was not processed or is still pending."""
    return 1 if summary.failed or summary.unprocessed or summary.pending or summary.error else 0


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    poll = PollPolicy(**config["poll"])
    options = {**config["options"]}
    if config["strategy"] in ("bulk1-xml", "bulk2-csv"):
        options["poll_policy"] = poll
    if config["strategy"] == "auto":
        options["bulk2_options"] = {**options.get("bulk2_options", {}), "poll_policy": poll}
    session = session_for(config["org"], tuple(config["timeout"]))  # type: ignore[arg-type]
    sink = CsvResultSink(config["out"])
    strategy = get(config["strategy"], session, state_dir=config["state_dir"], **options)
    try:
        summary = strategy.update(config["sobject"], JsonlRecords(config["input"]), sink)
    except (RunFailed, RunInterrupted) as stopped:
        summary = stopped.summary
    finally:
        sink.close()
        strategy.close()
        session.close()
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
