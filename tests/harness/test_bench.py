"""`sfharness bench`: ratios against the best baseline, strategy variants (NAME@N), fault profiles (NAME+FAULT=VALUE), the targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulator.profiles import get_profile
from harness.cli import app
from harness.commands.bench import (
    BenchRow,
    check_targets,
    compute_ratios,
    profile_folder,
    profile_spec,
    render_markdown,
    strategy_spec,
)
from harness.comparison import Measurement
from harness.failures import CommandFailed
from harness.strategy_options import auto_options
from strategies import registry


def test_strategy_and_profile_specs() -> None:
    assert strategy_spec("composite") == ("composite", None)
    assert strategy_spec("composite@8") == ("composite", 8)
    assert profile_spec("realistic") == ("realistic", None)
    assert profile_spec("realistic+parent_lock_contention=true+seed=3") == (
        "realistic",
        "parent_lock_contention=true,seed=3",
    )
    assert profile_folder("realistic+parent_lock_contention=true") == "realistic+parent_lock_contention=true"
    assert profile_folder("/tmp/my org.json+seed=1") == "my org+seed=1"
    for bad in ("bulk2-csv@4", "composite@0", "composite@x", "nonesuch@2"):
        with pytest.raises(CommandFailed):
            strategy_spec(bad)
    for bad in ("nonesuch", "realistic+parent_lock_contention"):
        with pytest.raises(CommandFailed):
            profile_spec(bad)


def _row(name: str, n: int, calls: int, wall: float, *, profile: str = "instant", **extra: object) -> BenchRow:
    m = Measurement(
        strategy=name,
        baseline=registry.is_baseline(name),
        family=registry.FAMILIES[name],
        records=n,
        calls_client=calls,
        calls_org=calls,
        wall_seconds=wall,
        succeeded=n,
        verified=n,
        **extra,  # type: ignore[arg-type]
    )
    return BenchRow(profile, m)


def _met(rows: list[BenchRow], prefix: str) -> list[bool]:
    return [t["met"] for t in check_targets(rows) if t["target"].startswith(prefix)]


def test_composite_concurrency_target_needs_the_ratio_the_same_calls_and_clean_runs() -> None:
    p = "realistic+parent_lock_contention=true"
    fast = [_row("composite", 20_000, 20, 40.0, profile=p, concurrency=1)]
    fast.append(_row("composite", 20_000, 20, 9.0, profile=p, concurrency=8))
    assert _met(fast, "composite@8") == [True]
    slow = [fast[0], _row("composite", 20_000, 20, 11.0, profile=p, concurrency=8)]
    assert _met(slow, "composite@8") == [False]
    more_calls = [fast[0], _row("composite", 20_000, 21, 9.0, profile=p, concurrency=8)]
    assert _met(more_calls, "composite@8") == [False]
    lost = [fast[0], _row("composite", 20_000, 20, 9.0, profile=p, concurrency=8)]
    lost[1].m.verified = 19_999
    assert _met(lost, "composite@8") == [False]
    assert _met([_row("composite", 20_000, 20, 40.0, concurrency=1)], "composite@8") == []  # instant: not a target
    text = render_markdown(
        {
            "command": "sfharness bench",
            "started_at": "t0",
            "finished_at": "t1",
            "targets": check_targets(fast),
            "machine": {"platform": "p", "cpu": "c", "cpu_count": 2, "memory_gb": 8, "python": "3.11", "versions": {}},
            "settings": {"edition": "sandbox", "profiles": [p], "time_scale": 20.0},
        },
        fast,
    )
    assert "| **composite@1** |" in text and "| **composite@8** |" in text and "(time scale 20)" in text


def test_small_bulk2_auto_and_million_row_targets() -> None:
    rows = [
        _row("bulk2-csv", 2_000, 2, 2.5, calls_by_phase={"create": 1, "poll": 1}),
        _row("composite", 2_000, 2, 0.2),
        _row("auto", 2_000, 3, 0.2, calls_by_phase={"limits": 1, "composite": 2}, notes=["auto chose composite"]),
    ]
    assert _met(rows, "bulk2-csv at 2,000") == [True]
    assert _met(rows, "auto chooses") == [True]
    rows[0] = _row("bulk2-csv", 2_000, 4, 2.5)
    rows[2] = _row("auto", 2_000, 5, 2.5, calls_by_phase={"limits": 1}, notes=["auto chose bulk2-csv"])
    assert _met(rows, "bulk2-csv at 2,000") == [False]
    assert _met(rows, "auto chooses") == [False]  # it chose bulk2-csv (4 calls) where composite needed 2

    varied = [  # auto's own job needed two polls more than the bulk2-csv run beside it: its choice was right
        _row("bulk2-csv", 100_000, 8, 3.8),
        _row("composite", 100_000, 100, 6.4),
        _row("auto", 100_000, 11, 6.3, calls_by_phase={"limits": 1}, notes=["auto chose bulk2-csv"]),
    ]
    assert _met(varied, "auto chooses") == [True]

    million = [
        _row("bulk2-csv", 1_000_000, 30, 20.0, cpu_seconds=9.0, peak_memory_mb=80.0),
        _row("simple-salesforce:bulk2", 1_000_000, 60, 22.0, cpu_seconds=10.0, peak_memory_mb=900.0),
    ]
    assert _met(million, "bulk2-csv wall time <= 1.0x") == [True]
    assert _met(million, "bulk2-csv client CPU") == [True]
    assert _met(million, "bulk2-csv client peak memory < 150") == [True]
    million[0].m.cpu_seconds, million[0].m.peak_memory_mb = 10.5, 151.0
    assert _met(million, "bulk2-csv client CPU") == [False]
    assert _met(million, "bulk2-csv client peak memory < 150") == [False]


def test_auto_weighs_the_polls_the_org_profile_predicts() -> None:
    assert auto_options("composite", 2_000, get_profile("instant")) == {}
    assert auto_options("auto", 2_000, None) == {}
    assert auto_options("auto", 2_000, get_profile("instant")) == {"expected_polls": 1}
    assert auto_options("auto", 50_000, get_profile("realistic"))["expected_polls"] > 1


def test_bench_runs_variants_on_a_fault_profile_and_records_cpu_and_concurrency(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--records",
            "600",
            "--profiles",
            "instant+parent_lock_contention=true",
            "--strategies",
            "collections@1,collections@3",
            "--baselines",
            "none",
            "--reports-dir",
            str(tmp_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)["result"]
    runs = {run["concurrency"]: run for run in out["runs"]}
    assert set(runs) == {1, 3}
    for run in runs.values():
        assert run["profile"] == "instant+parent_lock_contention=true"
        assert run["succeeded"] == run["verified"] == 600 and run["cpu_seconds"] > 0
    assert runs[1]["calls_org"] == runs[3]["calls_org"]  # 3 requests each
    folder = Path(out["report_dir"])
    assert (folder / "instant+parent_lock_contention=true" / "report.md").is_file()
    assert "collections@3" in (folder / "bench.md").read_text(encoding="utf-8")


def test_bench_compares_ours_with_the_best_baseline_of_the_family() -> None:
    rows = [
        _row("bulk2-csv", 1_000_000, 40, 30.0, peak_memory_mb=60.0),
        _row("simple-salesforce:bulk2", 1_000_000, 100, 80.0, peak_memory_mb=400.0),
        _row("bulk1-xml", 1_000_000, 240, 40.0, peak_memory_mb=50.0),
        _row("simple-salesforce:bulk", 1_000_000, 900, 50.0, peak_memory_mb=900.0),
        _row("salesforce-bulk:xml", 1_000_000, 600, 70.0, peak_memory_mb=300.0),
    ]
    compute_ratios(rows)
    assert rows[0].ratios["calls"] == {"baseline": "simple-salesforce:bulk2", "ours": 40, "theirs": 100, "ratio": 0.4}
    assert rows[2].ratios["calls"]["baseline"] == "salesforce-bulk:xml"  # the best of the family, not the named pair
    assert rows[2].ratios["peak_memory_mb"]["baseline"] == "salesforce-bulk:xml"
    assert rows[1].ratios == {}
    rest_rows = [
        _row("rest", 10_000, 10_000, 20.0, peak_memory_mb=40.0),
        _row("collections", 10_000, 50, 1.0, peak_memory_mb=40.0),
        _row("simple-salesforce:rest", 10_000, 10_000, 18.0, peak_memory_mb=55.0),
        _row("simple-salesforce:collections", 10_000, 50, 1.2, peak_memory_mb=55.0),
    ]
    compute_ratios(rest_rows)
    assert rest_rows[0].ratios["calls"]["baseline"] == "simple-salesforce:rest"  # like for like: one call per record
    assert rest_rows[1].ratios["calls"]["baseline"] == "simple-salesforce:collections"
    targets = {(t["target"].split(":")[0], t["detail"]): t["met"] for t in check_targets(rows)}
    assert targets[("bulk2-csv peak memory <= 1/4 of simple-salesforce", "60.0 MB vs 400.0 MB")] is True
    assert targets[("bulk2-csv wall time <= 1/2 of simple-salesforce", "30.0 s vs 80.0 s")] is True
    assert (
        targets[("bulk1-xml calls <= 1/4 of simple-salesforce", "bulk1-xml 240 vs simple-salesforce:bulk 900")] is False
    )
    text = render_markdown(
        {
            "command": "sfharness bench",
            "started_at": "t0",
            "finished_at": "t1",
            "targets": check_targets(rows),
            "machine": {"platform": "p", "cpu": "c", "cpu_count": 2, "memory_gb": 8, "python": "3.11", "versions": {}},
            "settings": {"edition": "sandbox", "profiles": ["instant"], "time_scale": 20.0},
        },
        rows,
    )
    assert "simple-salesforce:bulk2 (baseline)" in text and "| **bulk2-csv** | bulk2 | 40 |" in text
