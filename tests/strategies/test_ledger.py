"""The ledger that maps Bulk results back to input rows: exact matching, work linear in the rows, flat memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from strategies.ledger import Ledger
from strategies.sinks import FAILED, UNPROCESSED

from .bench_ledger_match import filled_ledger, measure, record_id

BENCH = Path(__file__).with_name("bench_ledger_match.py")


def test_results_match_by_id_and_occurrence_and_strays_come_last(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for row, rid in enumerate(["A", "B", "A", "C", "A"], start=1):
        ledger.add("job", row, rid)
    ledger.add("other job", 1, "A")  # another chunk's rows are never matched
    results = [
        ("A", FAILED, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "first A", ("Name",), None),
        ("Z", UNPROCESSED, "JOB_FAILED", "not ours", (), None),
        ("C", FAILED, "UNABLE_TO_LOCK_ROW", "locked", (), {"Id": "C", "Name": "x"}),
        ("A", UNPROCESSED, "JOB_FAILED", "second A", (), None),
    ]
    matched = list(ledger.match("job", iter(results)))
    assert matched == [
        (1, "A", (FAILED, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "first A", ("Name",), None)),
        (2, "B", None),
        (3, "A", (UNPROCESSED, "JOB_FAILED", "second A", (), None)),
        (4, "C", (FAILED, "UNABLE_TO_LOCK_ROW", "locked", (), {"Id": "C", "Name": "x"})),
        (5, "A", None),
        (None, "Z", (UNPROCESSED, "JOB_FAILED", "not ours", (), None)),
    ]
    # the scratch tables are emptied: a second match of the same chunk starts from nothing
    assert [result for _row, _id, result in ledger.match("job", iter([]))] == [None] * 5
    ledger.close()


def test_matching_work_grows_linearly_with_the_rows() -> None:
    """Counted in SQLite VM steps, not seconds: doubling the rows must about double the work. (Ranking
    both sides on the fly and joining them scanned every result row per ledger row: x4 per doubling.)"""
    steps = {n: measure(n)[2] for n in (2000, 4000, 8000)}
    assert steps[4000] < 2.5 * steps[2000]
    assert steps[8000] < 2.5 * steps[4000]


def python_peak_while_matching(n: int) -> int:
    """`bench_ledger_match.py --peak n` in an interpreter of its own: tracemalloc counts every thread's
    allocations, and a test worker's process has threads of its own at work (session fixtures' emulator servers,
    an earlier test's jobs perhaps still finishing, and pytest-xdist's channel to the controller)."""
    child = [sys.executable, str(BENCH), "--peak", str(n)]
    return int(subprocess.run(child, capture_output=True, text=True, check=True, timeout=300).stdout)


def test_matching_memory_does_not_grow_with_the_rows() -> None:
    small = python_peak_while_matching(12_000)
    large = python_peak_while_matching(48_000)
    assert large < 1.5 * small  # 4x the rows; a list of them would be 4x the memory


def test_rows_come_back_in_upload_order(tmp_path: Path) -> None:
    ledger = filled_ledger(tmp_path, 12_000)
    assert list(ledger.rows("job")) == [(i + 1, record_id(i)) for i in range(12_000)]
    assert ledger.count("job") == 12_000
    ledger.forget("job")
    assert ledger.count("job") == 0
    ledger.close()
