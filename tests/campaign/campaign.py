"""The accounting campaign (#16): every strategy under every fault kind, and killed (SIGKILL) at each phase.

    python tests/campaign/campaign.py --records 100000          # the full campaign, its own emulator
    python tests/campaign/campaign.py --records 2000 --only bulk2-csv

Each scenario updates the records' ``Name`` to values no earlier scenario used, then compares three
things: the input, the outcome files (success.csv, failed.csv, unprocessed.csv) and the org's stored
values (the emulator's ground truth, never counted as API use). It counts, per scenario:

* **lost**: input rows in no outcome file;
* **duplicated**: rows in more than one outcome file, or twice in one;
* **applied but not reported**: rows whose stored value is the one sent, not in success.csv;
* **reported but not applied**: rows in success.csv whose stored value is not the one sent;

and checks that the exit code (`sfharness update`'s rule, from the final summary) matches the files: 0
exactly when every row is in success.csv. All four counts must be 0 in every scenario.

Fault kinds: the emulator's rate faults (500, 503, dropped connection before processing, session expiry,
lock errors, a Bulk job failing a third of the way) and its response faults on each state-changing request kind of
the strategy (`lose`: processed, answer lost; `stall`: processed, answer later than the client's read
timeout; `cut`: connection cut mid-body, nothing processed). bulk2-csv runs its three-step path (create,
upload, close) in the main scenarios and, in those labelled ``multipart:``, jobs small enough to be
created with their data in one request (that request faulted; kills at create, poll and results). A run
that stops early is resumed, as a user would, with `strategies.resume.resume_run` from its state
directory (faults off).

Kills: the client runs as a child process (`client.py`); a watcher reads the run journal and sends
SIGKILL as soon as it shows the phase (create, upload, the 3rd Bulk 1.0 batch, close, poll, results, the
2nd synchronous write). The request of that phase is held by a `stall` fault, so the kill lands while it
is in flight. The run is then resumed from its state directory alone.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # client.py, when run as a script

from client import exit_code, session_for  # noqa: E402

from strategies import CsvResultSink, PollPolicy, RunFailed, RunInterrupted, get  # noqa: E402
from strategies.journal import JOURNAL_FILE  # noqa: E402
from strategies.resume import resume_run  # noqa: E402

SOBJECT = "Byline__c"
V = "vXX.X"
POLL = {"initial": 0.05, "factor": 1.5, "ceiling": 0.5, "timeout": 300.0}
READ_TIMEOUT = 0.5
"""The client's read timeout in fault scenarios: `stall` faults hold an answer `STALL_SECONDS`."""
STALL_SECONDS = 1.0
KILL_STALL_SECONDS = 3.0
"""In kill scenarios the stalled request holds the client long enough for the watcher's SIGKILL."""

WRITES = {
    "rest": {"patch": f"PATCH /services/data/{V}/sobjects/{SOBJECT}/{{id}}"},
    "collections": {"patch": f"PATCH /services/data/{V}/composite/sobjects"},
    "composite": {"post": f"POST /services/data/{V}/composite"},
    "bulk1-xml": {
        "create": f"POST /services/async/{V}/job",
        "batch": f"POST /services/async/{V}/job/{{id}}/batch",
        "close": f"POST /services/async/{V}/job/{{id}}",
    },
    "bulk2-csv": {
        "create": f"POST /services/data/{V}/jobs/ingest",
        "upload": f"PUT /services/data/{V}/jobs/ingest/{{id}}/batches",
        "close": f"PATCH /services/data/{V}/jobs/ingest/{{id}}",
    },
}
"""Each strategy's state-changing requests, as the emulator's gate names them."""

KILLS = {
    # phase: (journal step kind, its ordinal, the request held while the kill lands, that request's ordinal)
    "bulk2-csv": {
        "create": ("create", 1, WRITES["bulk2-csv"]["create"], 1),
        "upload": ("upload", 1, WRITES["bulk2-csv"]["upload"], 1),
        "close": ("close", 1, WRITES["bulk2-csv"]["close"], 1),
        "poll": ("poll", 1, f"GET /services/data/{V}/jobs/ingest/{{id}}", 1),
        "results": ("results", 1, f"GET /services/data/{V}/jobs/ingest/{{id}}/successfulResults", 1),
    },
    "bulk1-xml": {
        "create": ("create", 1, WRITES["bulk1-xml"]["create"], 1),
        "batch 3": ("upload", 3, WRITES["bulk1-xml"]["batch"], 3),
        "close": ("close", 1, WRITES["bulk1-xml"]["close"], 1),
        "poll": ("poll", 1, f"GET /services/async/{V}/job/{{id}}", 1),
        "results": ("results", 1, f"GET /services/async/{V}/job/{{id}}/batch/{{id}}/result", 1),
    },
    "rest": {"write 2": ("dml", 2, WRITES["rest"]["patch"], 2)},
    "collections": {"write 2": ("dml", 2, WRITES["collections"]["patch"], 2)},
    "composite": {"write 2": ("dml", 2, WRITES["composite"]["post"], 2)},
}


def rate_faults(n: int, bulk: bool) -> dict[str, dict[str, Any]]:
    faults: dict[str, dict[str, Any]] = {
        "http 500": {"http_500_rate": 0.05},
        "http 503": {"http_503_rate": 0.05},
        "dropped connection": {"drop_rate": 0.05},
        "session expiry": {"session_expiry_after_requests": 9},
        "lock errors": {"lock_error_rate": 0.1},
    }
    if bulk:
        faults["bulk job fails a third of the way"] = {"bulk_fail_after_records": max(1, n // 3)}
    return faults


def strategy_options(name: str, n: int) -> dict[str, Any]:
    """Units small enough that every strategy makes several state-changing requests."""
    return {
        "collections": {"batch_size": 100},
        "composite": {"subrequests": 2, "batch_size": 100},
        "bulk1-xml": {"batch_records": max(1, min(10_000, n // 5))},
        "bulk2-csv": {"max_job_records": max(1, n // 2), "multipart": False},
    }.get(name, {})


def multipart_options(n: int) -> dict[str, Any]:
    """bulk2-csv with jobs small enough (2,000 rows of Id + Name: about 70,000 characters) to be created
    with their data in one request, two at least."""
    return {"max_job_records": max(1, min(n // 2, 2000)), "multipart": True}


def multipart_scenarios(n: int) -> Iterator[Scenario]:
    """bulk2-csv's one-request jobs: its only state-changing request is the create that carries the data."""
    name, options = "bulk2-csv", multipart_options(n)
    yield Scenario(name, "multipart: no fault", options=options)
    for label in ("http 500", "dropped connection"):
        yield Scenario(name, f"multipart: {label}", {**rate_faults(n, True)[label], "seed": 7}, options=options)
    key = WRITES[name]["create"]
    for action in ("lose", "stall", "cut"):
        rule = {"response_faults": [f"{action}:1:{key}"], "stall_seconds": STALL_SECONDS}
        yield Scenario(name, f"multipart: {action} create with data #1", rule, options=options)
    for phase in ("create", "poll", "results"):
        step, ordinal, held, held_nth = KILLS[name][phase]
        extra = {"fetch_successes": True} if phase == "results" else {}
        rule = {"response_faults": [f"stall:{held_nth}:{held}"], "stall_seconds": KILL_STALL_SECONDS}
        yield Scenario(name, f"multipart: kill -9 at {phase}", rule, (step, ordinal), {**options, **extra})


@dataclass
class Scenario:
    strategy: str
    label: str
    faults: dict[str, Any] = field(default_factory=dict)
    kill: tuple[str, int] | None = None
    """(journal step kind, ordinal) at which the client process is killed."""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tally:
    strategy: str
    label: str
    records: int
    lost: int = 0
    duplicated: int = 0
    applied_not_reported: int = 0
    reported_not_applied: int = 0
    exit_code: int = 0
    exit_code_matches: bool = True
    killed: bool = False
    resumed: int = 0
    kept: str = ""
    """The scenario's folder (input, journal, outcome files), kept only when it miscounted."""
    succeeded: int = 0
    failed: int = 0
    unprocessed: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return (
            self.lost == self.duplicated == self.applied_not_reported == self.reported_not_applied == 0
            and self.exit_code_matches
        )


def scenarios(n: int, strategies: list[str]) -> Iterator[Scenario]:
    for name in strategies:
        bulk = name in ("bulk1-xml", "bulk2-csv")
        options = strategy_options(name, n)
        yield Scenario(name, "no fault", options=options)
        for label, faults in rate_faults(n, bulk).items():
            yield Scenario(name, label, {**faults, "seed": 7}, options=options)
        for kind, key in WRITES.get(name, {}).items():
            for action in ("lose", "stall", "cut"):
                nth = 2 if kind in ("batch", "patch", "post") else 1
                rule = {"response_faults": [f"{action}:{nth}:{key}"], "stall_seconds": STALL_SECONDS}
                yield Scenario(name, f"{action} {kind} #{nth}", rule, options=options)
        for phase, (step, ordinal, held, held_nth) in KILLS.get(name, {}).items():
            extra = {"fetch_successes": True} if phase == "results" else {}
            rule = {"response_faults": [f"stall:{held_nth}:{held}"], "stall_seconds": KILL_STALL_SECONDS}
            yield Scenario(name, f"kill -9 at {phase}", rule, (step, ordinal), {**options, **extra})
        if name == "bulk2-csv":
            yield from multipart_scenarios(n)


class Campaign:
    """Runs scenarios against one emulated org; `ids` are the seeded records every scenario updates."""

    def __init__(self, org: Any, n: int, workdir: Path) -> None:
        self.org = org
        self.n = n
        self.workdir = workdir
        self.ids = [r["Id"] for r in itertools.islice(org.admin.iter_records(SOBJECT, ["Id"]), n)]
        if len(self.ids) < n:
            raise ValueError(f"the org holds {len(self.ids)} {SOBJECT} records, fewer than {n}")
        self._counter = itertools.count(1)
        self.login = {
            "instance_url": org.instance_url,
            "login_url": org.login_url,
            "ca_file": org.ca_file,
            "client_id": org.client_id,
            "client_secret": org.client_secret,
            "username": org.username,
            "password": org.password + (org.security_token or ""),
        }

    def run(self, scenario: Scenario) -> Tally:
        started = time.perf_counter()
        tag = f"c{os.getpid()}x{next(self._counter)}"
        folder = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=self.workdir))
        state, out, source = folder / "state", folder / "out", folder / "input.jsonl"
        names = [f"{tag}-{i}" for i in range(self.n)]
        with open(source, "w", encoding="utf-8") as fh:
            for record_id, name in zip(self.ids, names, strict=True):
                fh.write(json.dumps({"Id": record_id, "Name": name}) + "\n")
        self.org.admin.reset_usage()
        self.org.admin.configure(faults=scenario.faults, profile="instant")
        tally = Tally(scenario.strategy, scenario.label, self.n)
        try:
            if scenario.kill is not None:
                summary, tally.killed = self._killed_run(scenario, source, state, out)
            else:
                summary = self._run_here(scenario, source, state, out)
        finally:
            self.org.admin.configure(faults={}, profile="instant")
        while summary is None or _needs_resume(summary):
            if tally.resumed == 3:
                break
            tally.resumed += 1
            summary = self._resume(scenario, state, out)
        tally.exit_code = exit_code(summary) if summary is not None else 1
        self._count(tally, out, names)
        tally.seconds = round(time.perf_counter() - started, 2)
        if tally.clean:
            shutil.rmtree(folder, ignore_errors=True)  # input, journal and outcome files of one scenario
        else:
            tally.kept = str(folder)
        return tally

    # -- running --------------------------------------------------------------------------------------
    def _session(self, timeout: tuple[float, float] = (10.0, READ_TIMEOUT)) -> Any:
        return session_for(self.login, timeout)

    def _options(self, scenario: Scenario) -> dict[str, Any]:
        options = dict(scenario.options)
        if scenario.strategy in ("bulk1-xml", "bulk2-csv"):
            options["poll_policy"] = PollPolicy(**POLL)
        if scenario.strategy == "auto":
            options["bulk2_options"] = {"poll_policy": PollPolicy(**POLL)}
        return options

    def _run_here(self, scenario: Scenario, source: Path, state: Path, out: Path) -> Any:
        from strategies import JsonlRecords

        session = self._session()
        sink = CsvResultSink(out)
        strategy = get(scenario.strategy, session, state_dir=state, **self._options(scenario))
        try:
            return strategy.update(SOBJECT, JsonlRecords(source), sink)
        except (RunFailed, RunInterrupted) as stopped:
            return stopped.summary
        finally:
            sink.close()
            strategy.close()
            session.close()

    def _killed_run(self, scenario: Scenario, source: Path, state: Path, out: Path) -> tuple[Any, bool]:
        assert scenario.kill is not None
        config = {
            "org": self.login,
            "strategy": scenario.strategy,
            "options": scenario.options,
            "sobject": SOBJECT,
            "input": str(source),
            "state_dir": str(state),
            "out": str(out),
            "poll": POLL,
            "timeout": [10.0, 60.0],
        }
        config_path = state.parent / "client.json"
        config_path.write_text(json.dumps(config))
        child = subprocess.Popen([sys.executable, str(HERE / "client.py"), str(config_path)], env=_child_env())
        kind, ordinal = scenario.kill
        killed = False
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            if _steps_of(state, kind) >= ordinal:
                child.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        if child.poll() is None and not killed:
            child.send_signal(signal.SIGKILL)
        child.wait()
        return None, killed

    def _resume(self, scenario: Scenario, state: Path, out: Path) -> Any:
        session = self._session((10.0, 60.0))
        sink = CsvResultSink(out)
        options = {"poll_policy": PollPolicy(**POLL)} if scenario.strategy in ("bulk1-xml", "bulk2-csv") else {}
        if scenario.strategy == "auto":
            options = {"poll_policy": PollPolicy(**POLL)} if self.n > 7000 else {}
        try:
            return resume_run(state, session, sink, **options)
        except (RunFailed, RunInterrupted) as stopped:
            return stopped.summary
        finally:
            sink.close()
            session.close()

    # -- counting -------------------------------------------------------------------------------------
    def _count(self, tally: Tally, out: Path, names: list[str]) -> None:
        seen: Counter[int] = Counter()
        succeeded: set[int] = set()
        files = (("succeeded", "success.csv"), ("failed", "failed.csv"), ("unprocessed", "unprocessed.csv"))
        for status, file in files:
            path = out / file
            if not path.is_file():
                continue
            with open(path, encoding="utf-8", newline="") as fh:
                for line in csv.DictReader(fh):
                    row = int(line["row"])
                    seen[row] += 1
                    setattr(tally, status, getattr(tally, status) + 1)
                    if status == "succeeded":
                        succeeded.add(row)
        wanted = {
            record_id: (row, name) for row, (record_id, name) in enumerate(zip(self.ids, names, strict=True), start=1)
        }
        applied: set[int] = set()
        for record in self.org.admin.iter_records(SOBJECT, ["Id", "Name"]):
            found = wanted.get(record["Id"])
            if found is not None and record["Name"] == found[1]:
                applied.add(found[0])
        rows = range(1, self.n + 1)
        tally.lost = sum(1 for row in rows if seen[row] == 0)
        tally.duplicated = sum(1 for row in rows if seen[row] > 1)
        tally.applied_not_reported = len(applied - succeeded)
        tally.reported_not_applied = len(succeeded - applied)
        every_row_succeeded = len(succeeded) == self.n and tally.failed == tally.unprocessed == 0
        tally.exit_code_matches = tally.exit_code == (0 if every_row_succeeded else 1)


def _needs_resume(summary: Any) -> bool:
    """A stopped run (killed, failed, or rows not sent or in doubt) is resumed, as a user would."""
    return bool(summary.pending or summary.error or summary.interrupted)


def _steps_of(state: Path, kind: str) -> int:
    """How many steps of `kind` the run journal holds (read-only; 0 before the journal exists)."""
    path = state / JOURNAL_FILE
    if not path.is_file():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM steps WHERE kind = ?", (kind,)).fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(HERE.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def table(tallies: list[Tally]) -> str:
    head = (
        "| strategy | scenario | lost | dup. | applied, not reported | reported, not applied | exit ok | "
        "killed | resumes | ok/failed/unproc. | s |"
    )
    lines = [head, "|" + "---|" * 11]
    for t in tallies:
        lines.append(
            f"| {t.strategy} | {t.label} | {t.lost} | {t.duplicated} | {t.applied_not_reported} | "
            f"{t.reported_not_applied} | {'yes' if t.exit_code_matches else 'NO'} | {'yes' if t.killed else ''} | "
            f"{t.resumed} | {t.succeeded:,}/{t.failed:,}/{t.unprocessed:,} | {t.seconds} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rest-records", type=int, default=2_000, help="per-record REST costs one call a record")
    parser.add_argument("--only", default="rest,collections,composite,bulk1-xml,bulk2-csv,auto")
    parser.add_argument("--json", type=Path, help="also write every tally here")
    args = parser.parse_args()
    from emulator.server import run_org

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    tallies: list[Tally] = []
    with (
        tempfile.TemporaryDirectory(prefix="sfh-campaign-") as work,
        run_org(profile="instant", edition="sandbox", seed={SOBJECT: args.records}) as org,
    ):
        for name in names:
            n = min(args.records, args.rest_records) if name == "rest" else args.records
            campaign = Campaign(org, n, Path(work))
            for scenario in scenarios(n, [name]):
                tally = campaign.run(scenario)
                tallies.append(tally)
                print(table([tally]).splitlines()[-1], flush=True)
    print(table(tallies))
    bad = [t for t in tallies if not t.clean]
    print(f"{len(tallies)} scenarios, {len(bad)} with a miscount")
    if args.json:
        args.json.write_text(json.dumps([asdict(t) for t in tallies], indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
