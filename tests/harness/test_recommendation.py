"""One recommendation rule: compare, bench, the reports and plan give the same answer for the same figures.

The figures are built by hand (no emulator), so each test pins the rule: only our strategies that updated
and read back every record compete, never a baseline or `auto`; fewest API calls wins, then least time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.commands.bench import BenchRow, check_targets, compute_ratios, write_bench_reports
from harness.comparison import CompareRun, Measurement
from harness.costmodel import Prediction
from harness.costmodel import recommend as plan_recommend
from harness.report import recommendation_lines, render_markdown, write_reports
from strategies import registry

N = 10_000

# (strategy, API calls, seconds): the README's sample run, plus figures that would win if they were eligible.
FIGURES = [
    ("rest", N, 16.8),
    ("collections", 50, 0.546),
    ("composite", 10, 0.721),
    ("bulk1-xml", 4, 3.01),
    ("bulk2-csv", 4, 2.82),
    ("auto", 4, 2.5),  # better than its delegate here, and still never the advice
    ("simple-salesforce:bulk2", 3, 2.0),  # a baseline: the figure to beat, never recommended
]


def _measurement(name: str, calls: int, seconds: float, records: int = N, **changes: int) -> Measurement:
    m = Measurement(
        strategy=name,
        family=registry.FAMILIES[name],
        records=records,
        baseline=registry.is_baseline(name),
        calls_client=calls,
        calls_org=calls,
        wall_seconds=seconds,
        records_per_second=records / seconds,
        succeeded=records,
        verified=records,
    )
    for key, value in changes.items():
        setattr(m, key, value)
    return m


def _compare_answer(measurements: list[Measurement]) -> tuple[str, str]:
    """What `sfharness compare` records: `run.recommend()`, written to results.json and report.md."""
    run = CompareRun(started_at="2026-11-01T12:00:00+00:00", measurements=measurements)
    run.recommendations = run.recommend()
    (rec,) = run.recommendations
    return rec.strategy, rec.reason


def _bench_answer(measurements: list[Measurement], root: Path) -> tuple[str, str]:
    """What `sfharness bench` writes into its per-profile compare report."""
    rows = [BenchRow("instant", m) for m in measurements]
    compute_ratios(rows)
    result = {
        "command": "sfharness bench",
        "started_at": "2026-11-01T12:00:00+00:00",
        "finished_at": "2026-11-01T12:09:00+00:00",
        "machine": {"platform": "p", "cpu": "c", "cpu_count": 2, "memory_gb": 8, "python": "3.11", "versions": {}},
        "settings": {"edition": "sandbox", "profiles": ["instant"], "time_scale": 20.0},
        "runs": [r.to_dict() for r in rows],
        "targets": check_targets(rows),
    }
    folder = write_bench_reports(result, rows, root)
    (rec,) = json.loads((folder / "instant" / "results.json").read_text(encoding="utf-8"))["recommendations"]
    return rec["strategy"], rec["reason"]


def _plan_answer(figures: list[tuple[str, int, float]]) -> str:
    """What `sfharness plan` picks from predictions with the same figures (it predicts only our strategies)."""
    predictions = [
        Prediction(name, N, calls, {}, 0, seconds) for name, calls, seconds in figures if not registry.is_baseline(name)
    ]
    return plan_recommend(predictions)[0]


def test_compare_bench_and_plan_pick_the_same_strategy(tmp_path: Path) -> None:
    measurements = [_measurement(*f) for f in FIGURES]
    compare, compare_reason = _compare_answer(measurements)
    bench, bench_reason = _bench_answer(measurements, tmp_path)
    assert compare == bench == _plan_answer(FIGURES) == "bulk2-csv"
    assert compare_reason == bench_reason
    assert compare_reason.startswith("fewest API calls: 4 API calls in 2.82 s; next: bulk1-xml, 4 API calls in 3.01 s")
    assert "fastest: collections, 50 API calls in 0.546 s" in compare_reason
    assert "best baseline: simple-salesforce:bulk2, 3 API calls in 2.00 s" in compare_reason


@pytest.mark.parametrize(
    "spoiled, expected",
    [
        ({"failed": 1, "succeeded": N - 1}, "bulk1-xml"),  # one record failed
        ({"unprocessed": 5, "succeeded": N - 5}, "bulk1-xml"),  # some never processed
        ({"mismatched": 1}, "bulk1-xml"),  # read back with another value
        ({"verified": N - 1}, "bulk1-xml"),  # not every record read back
    ],
)
def test_a_strategy_that_did_not_update_and_read_back_every_record_is_never_recommended(
    tmp_path: Path, spoiled: dict[str, int], expected: str
) -> None:
    measurements = [_measurement(*f, **(spoiled if f[0] == "bulk2-csv" else {})) for f in FIGURES]
    assert _compare_answer(measurements)[0] == _bench_answer(measurements, tmp_path)[0] == expected


def test_a_crashed_run_is_never_recommended() -> None:
    measurements = [_measurement(*f) for f in FIGURES]
    next(m for m in measurements if m.strategy == "bulk2-csv").error = "HTTP 503 after 3 retries"
    assert _compare_answer(measurements)[0] == "bulk1-xml"


def test_time_breaks_a_tie_in_api_calls_and_display_order_a_tie_in_both() -> None:
    tied = [("bulk1-xml", 4, 2.0), ("bulk2-csv", 4, 2.82)]
    assert _compare_answer([_measurement(*f) for f in tied])[0] == _plan_answer(tied) == "bulk1-xml"
    same = [("bulk2-csv", 4, 2.82), ("bulk1-xml", 4, 2.82)]
    assert _compare_answer([_measurement(*f) for f in same])[0] == _plan_answer(same) == "bulk2-csv"


def test_no_eligible_strategy_is_said_in_every_view(tmp_path: Path) -> None:
    only = [
        _measurement("auto", 4, 2.5),
        _measurement("simple-salesforce:bulk2", 3, 2.0),
        _measurement("bulk2-csv", 4, 2.8, failed=2, succeeded=N - 2),
    ]
    assert _compare_answer(only) == ("", "no strategy updated and read back every record")
    assert _bench_answer(only, tmp_path)[0] == ""
    run = CompareRun(started_at="2026-11-01T12:00:00+00:00", measurements=only)
    run.recommendations = run.recommend()
    assert recommendation_lines(run) == ["10,000 records: no strategy updated and read back every record"]
    assert "no strategy updated and read back every record" in render_markdown(run)
    folder = write_reports(run, tmp_path / "reports")
    saved = json.loads((folder / "results.json").read_text(encoding="utf-8"))["recommendations"]
    assert saved == [{"records": N, "strategy": "", "reason": "no strategy updated and read back every record"}]


def test_plan_states_the_budget_the_pick_leaves() -> None:
    predictions = [
        Prediction("composite", 250_000, 250, {}, 0, 400.0),
        Prediction("bulk2-csv", 250_000, 9, {}, 25, 95.0),
    ]
    choice, reason = plan_recommend(predictions, api_remaining=8)
    assert choice == "bulk2-csv"
    assert reason.startswith(
        "fewest API calls: 9 API calls in about 95.0 s; next: composite, 250 API calls in about 400 s"
    )
    assert reason.endswith("leaves -1 of 8 remaining daily API requests (EXCEEDS the remaining budget)")
