"""bulk2-csv's client against simple-salesforce bulk2 on the same file (a script that prints figures, not a test).

    python tests/benchmarks/bench_bulk2_client.py [--records 1000000] [--repeat 3] [--no-journal]

Issue #14 asks that our Bulk 2.0 client, while validating every row and writing outcome files, cost no
more wall time and no more client CPU time than simple-salesforce's ``bulk2`` on the same file, at
1,000,000 records on the instant profile, with a peak RSS under 150 MB. This script measures exactly that:

* one emulator (instant profile) in its own process, so its CPU is not counted against either client;
* an input file of --records rows (Id + three numbers, the compare workload), one file per round that both
  clients update;
* each client in a fresh child process (its org connection on stdin, never on a command line), alternating
  which goes first from round to round, --repeat rounds;
* per run, measured in the child around the update alone (strategy built, records streamed, outcome files
  written and closed): wall seconds, CPU seconds (user + system of the child process, every thread), and
  the child's peak RSS; the outcome counts are checked (every record succeeded).

Both clients write the same outcome files (`strategies.sinks.CsvResultSink`: success, failed, unprocessed)
through the harness's baseline for simple-salesforce (``sf.bulk2.<Object>.update(csv_file=...)``, then its
failed/unprocessed record calls, outcomes mapped per row). Ours runs as `sfharness update` runs it: with a
state directory, so the write-ahead journal (`strategies.journal`) keeps every row and a killed run resumes
(--no-journal: a scratch ledger instead). The machine's load (1-minute average) is printed before and after.
Prints every sample and the medians, and the ratios ours / library of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

OURS = "bulk2-csv"
LIBRARY = "simple-salesforce:bulk2"
SOBJECT = "Byline__c"
MARK = "BENCH-BULK2-CLIENT "


def child() -> None:
    """One client run in this (fresh) process; the figures go to stdout on one marked line."""
    spec = json.loads(sys.stdin.read())
    from strategies import registry
    from strategies.errors import RunFailed
    from strategies.records import CsvRecords
    from strategies.sinks import CsvResultSink
    from strategies.transport import OrgSession

    session = OrgSession(spec["instance_url"], spec["access_token"], ca_file=spec["ca_file"])
    options: dict[str, Any] = {}
    if spec["strategy"] == OURS and spec["journal"]:
        options["state_dir"] = os.path.join(spec["workdir"], "state")
    if spec["strategy"] == LIBRARY:
        options["include_baselines"] = True
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    sink = CsvResultSink(os.path.join(spec["workdir"], "outcomes"))
    strategy = registry.get(spec["strategy"], session, **options)
    try:
        summary = strategy.update(SOBJECT, CsvRecords(spec["input"]), sink)
    except RunFailed as exc:
        summary = exc.summary
    finally:
        sink.close()
        strategy.close()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    session.close()
    figures = {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu_before, 3),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "unprocessed": summary.unprocessed + summary.pending,
        "api_calls": summary.api_calls,
        "success_lines": data_lines(os.path.join(spec["workdir"], "outcomes", "success.csv")),
    }
    print(MARK + json.dumps(figures), flush=True)


def data_lines(path: str) -> int:
    """Lines of an outcome file after its header."""
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
    proc = subprocess.run(
        [sys.executable, __file__, "--child"], input=json.dumps(spec), text=True, capture_output=True, env=env
    )
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(MARK)), None)
    if line is None:
        raise SystemExit(f"{spec['strategy']} child failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return dict(json.loads(line[len(MARK) :]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-journal", action="store_true", help="ours with a scratch ledger, not a state directory")
    parser.add_argument("--json", dest="json_path", help="also write every sample and the medians to this file")
    args = parser.parse_args()

    from harness.orgs import embedded_emulator
    from harness.workload import Workload

    load_before = os.getloadavg()
    samples: dict[str, list[dict[str, Any]]] = {OURS: [], LIBRARY: []}
    with (
        tempfile.TemporaryDirectory(prefix="sfh-bench-bulk2-") as tmp,
        embedded_emulator(profile="instant", edition="sandbox") as conn,
    ):
        workload = Workload(conn, Path(tmp) / "workload", sobject=SOBJECT, reseed=False)
        for round_no in range(1, args.repeat + 1):
            wf = workload.prepare(args.records, round_no)
            order = (OURS, LIBRARY) if round_no % 2 else (LIBRARY, OURS)
            for name in order:
                workdir = Path(tmp) / f"{round_no}-{name.replace(':', '-')}"
                workdir.mkdir()
                spec = {
                    "instance_url": conn.instance_url,
                    "access_token": conn.token().reveal(),
                    "ca_file": conn.ca_file,
                    "strategy": name,
                    "input": str(wf.path),
                    "workdir": str(workdir),
                    "journal": not args.no_journal,
                }
                figures = run_child(spec)
                if figures["succeeded"] != args.records or figures["success_lines"] != args.records:
                    raise SystemExit(f"{name} round {round_no}: not every record succeeded: {figures}")
                samples[name].append(figures)
                print(f"round {round_no} {name:<24} " + json.dumps(figures), flush=True)
    medians = {
        name: {key: statistics.median(s[key] for s in runs) for key in ("wall_s", "cpu_s", "peak_mb")}
        for name, runs in samples.items()
    }
    ratios = {key: round(medians[OURS][key] / medians[LIBRARY][key], 3) for key in ("wall_s", "cpu_s", "peak_mb")}
    result = {
        "records": args.records,
        "repeat": args.repeat,
        "journal": not args.no_journal,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "medians": medians,
        "ratios_ours_over_library": ratios,
        "samples": samples,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        main()
