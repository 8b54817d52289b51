"""A strategy sending 1 vs N requests at once, side by side in one run (a script that prints figures).

    python tests/benchmarks/bench_concurrency.py [--strategy composite] [--records 20000,100000]
        [--concurrency 1,8] [--time-scale 20] [--repeat 1] [--faults parent_lock_contention=true] [--json]

One embedded emulator (its own process, realistic profile, `--time-scale` times faster than real time,
sandbox edition) serves every run. For each fault setting (none, then `--faults`), each volume and each
repetition, the strategy runs once per concurrency, one after another, through the same path as
`sfharness compare` (`harness.runner.run_once`: the org's own call counter and the client's wall time,
then every record read back and compared with the input). The table gives each run's figures and its
wall time as a share of the first concurrency's in the same repetition. (No memory figure: every run
shares this process, whose resident size only grows; `sfharness bench` measures memory run by run.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator.profiles import FaultConfig
from harness.orgs import embedded_emulator
from harness.runner import run_once, scratch_dir
from harness.strategy_options import concurrency_options, scaled_options
from harness.workload import Workload


def numbers(text: str) -> list[int]:
    return [int(v.replace("_", "")) for v in text.split(",") if v.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="composite")
    parser.add_argument("--records", default="20000,100000")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--time-scale", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--faults", default="parent_lock_contention=true", help="the second fault setting ('' for none)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    volumes, levels = numbers(args.records), numbers(args.concurrency)
    settings = [("none", {})] + ([(args.faults, FaultConfig.parse(args.faults).to_dict())] if args.faults else [])
    rows: list[dict[str, Any]] = []
    with embedded_emulator(profile="realistic", time_scale=args.time_scale, edition="sandbox") as conn:
        assert conn.admin is not None
        workload = Workload(conn, scratch_dir("sfh-bench-concurrency-"), sobject="Byline__c")
        round_no = 0
        for label, faults in settings:
            conn.admin.configure(faults=faults)
            for n in volumes:
                for repeat in range(1, args.repeat + 1):
                    for level in levels:
                        round_no += 1
                        wf = workload.prepare(n, round_no)
                        options = {
                            **scaled_options(args.strategy, args.time_scale),
                            **concurrency_options(args.strategy, level),
                        }
                        m = run_once(conn, workload, args.strategy, wf, repeat=repeat, options=options)
                        rows.append(
                            {
                                "faults": label,
                                "records": n,
                                "repeat": repeat,
                                "concurrency": level,
                                "calls_org": m.calls_org,
                                "wall_seconds": m.wall_seconds,
                                "succeeded": m.succeeded,
                                "failed": m.failed,
                                "unprocessed": m.unprocessed,
                                "verified": m.verified,
                                "mismatched": m.mismatched,
                                "error": m.error,
                            }
                        )
        conn.admin.configure(faults={})
    for row in rows:
        base = [
            r
            for r in rows
            if (r["faults"], r["records"], r["repeat"], r["concurrency"])
            == (row["faults"], row["records"], row["repeat"], levels[0])
        ]
        row["share_of_first"] = round(row["wall_seconds"] / base[0]["wall_seconds"], 3) if base else None
    if args.json:
        print(json.dumps({"strategy": args.strategy, "time_scale": args.time_scale, "runs": rows}))
        return
    print(
        f"{args.strategy}, realistic profile x{args.time_scale:g}; share = wall time / wall time at concurrency {levels[0]}"
    )
    print(
        f"{'faults':<32} {'records':>8} {'conc':>4} {'calls':>6} {'wall s':>7} {'share':>6} {'ok/failed/unproc':>18} {'verified':>9}"
    )
    for r in rows:
        outcome = f"{r['succeeded']}/{r['failed']}/{r['unprocessed']}"
        print(
            f"{r['faults']:<32} {r['records']:>8,} {r['concurrency']:>4} {r['calls_org']:>6} {r['wall_seconds']:>7.2f} "
            f"{r['share_of_first']:>6.3f} {outcome:>18} {r['verified']:>9,}"
        )
    if args.repeat > 1:
        for label, _ in settings:
            for n in volumes:
                for level in levels[1:]:
                    shares = [
                        r["share_of_first"]
                        for r in rows
                        if (r["faults"], r["records"], r["concurrency"]) == (label, n, level)
                    ]
                    print(f"median share, {label}, {n:,} records, concurrency {level}: {statistics.median(shares):.3f}")


if __name__ == "__main__":
    main()
