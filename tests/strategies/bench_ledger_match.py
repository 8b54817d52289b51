"""How matching a Bulk 2.0 job's result rows back to its input scales (`strategies.ledger.Ledger.match`).

    python tests/strategies/bench_ledger_match.py 10000 20000 100000
    python tests/strategies/bench_ledger_match.py --peak 12000

For each size n: a ledger of n uploaded rows and n result rows listed in reverse order (the worst case
for any order-based shortcut), matched end to end. Prints the wall seconds and the SQLite virtual-machine
steps (counted by a progress handler, machine-independent); `test_ledger.py` asserts on the steps. With
`--peak`, prints the Python memory peak while matching (tracemalloc) alone, which `test_ledger.py` reads from
this script run in an interpreter of its own (tracemalloc counts every thread of the process).
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from strategies.ledger import Ledger, ResultRow
from strategies.sinks import UNPROCESSED

STEP_GRANULARITY = 100
"""The progress handler runs every this many VM instructions."""


def record_id(i: int) -> str:
    return f"a01{i:015d}"


def filled_ledger(directory: Path, n: int, chunk: str = "job") -> Ledger:
    ledger = Ledger(directory / "ledger.sqlite")
    for i in range(n):
        ledger.add(chunk, i + 1, record_id(i))
    ledger.flush()
    return ledger


def reversed_results(n: int) -> Iterator[ResultRow]:
    for i in reversed(range(n)):
        yield record_id(i), UNPROCESSED, "JOB_FAILED", "the job failed", (), None


def measure(n: int) -> tuple[int, float, int]:
    """(rows yielded, seconds, VM steps / STEP_GRANULARITY) of matching n result rows to n ledger rows."""
    with tempfile.TemporaryDirectory() as directory:
        ledger = filled_ledger(Path(directory), n)
        steps = 0

        def tick() -> int:
            nonlocal steps
            steps += 1
            return 0  # 0 = carry on

        ledger._db.set_progress_handler(tick, STEP_GRANULARITY)  # the only way to count SQLite's work
        started = time.perf_counter()
        yielded = sum(1 for _ in ledger.match("job", reversed_results(n)))
        seconds = time.perf_counter() - started
        ledger._db.set_progress_handler(None, 0)
        ledger.close()
        return yielded, seconds, steps


def python_peak_while_matching(n: int) -> int:
    """Peak bytes Python allocated while n result rows were matched to n ledger rows (filling it not counted)."""
    with tempfile.TemporaryDirectory() as directory:
        ledger = filled_ledger(Path(directory), n)
        tracemalloc.start()
        try:
            yielded = sum(1 for _ in ledger.match("job", reversed_results(n)))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            ledger.close()
    assert yielded == n
    return peak


def main(sizes: list[int]) -> None:
    print(f"{'rows':>9} {'seconds':>8} {'VM steps/100':>13} {'steps per row':>14}")
    for n in sizes:
        yielded, seconds, steps = measure(n)
        assert yielded == n
        print(f"{n:>9,} {seconds:>8.3f} {steps:>13,} {steps * STEP_GRANULARITY / n:>14.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak"]:
        print(python_peak_while_matching(int(sys.argv[2])))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [10_000, 20_000, 100_000])
