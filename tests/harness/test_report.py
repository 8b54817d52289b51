"""Reports of a compare run: the files exist, read back, parse, stay self-contained, and escape data.

The run is built by hand (no emulator) so these tests pin the reporting alone: several strategies, one
of them a third-party baseline and one with a hostile name, three volumes, two repeats, and one crash.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console

from harness.charts import Series, decade_bounds, format_tick, loglog_chart
from harness.comparison import CompareRun, Measurement, Recommendation
from harness.report import (
    compare_table,
    recommendation_lines,
    render_csv,
    render_html,
    write_reports,
)

HOSTILE = '<script>alert("x")</script>&co'
VOLUMES = (100, 2_000, 10_000)
CHROMIUM = Path("/usr/bin/chromium")


def _measurement(
    strategy: str,
    family: str,
    records: int,
    repeat: int,
    calls: int,
    seconds: float,
    *,
    baseline: bool = False,
    batches: int = 0,
    phases: dict[str, int] | None = None,
) -> Measurement:
    return Measurement(
        strategy=strategy,
        family=family,
        records=records,
        repeat=repeat,
        baseline=baseline,
        calls_client=calls,
        calls_org=calls,
        calls_by_phase=phases or {"dml": calls},
        batches=batches,
        wall_seconds=seconds,
        records_per_second=records / seconds,
        peak_memory_mb=40.0 + records / 1000,
        succeeded=records,
        verified=records,
        job_ids=[f"750{strategy[:3]}{records}{repeat}"] if family != "rest" else [],
    )


def sample_run() -> CompareRun:
    """A plausible run: REST one call per record, Collections 200 per call, Bulk 2.0 a flat ~10 calls."""
    ms: list[Measurement] = []
    for n in VOLUMES:
        for repeat in (1, 2):
            jitter = 1.0 + 0.1 * repeat
            ms.append(_measurement("rest", "rest", n, repeat, n + 1, 0.05 * n * jitter, phases={"auth": 1, "dml": n}))
            ms.append(
                _measurement(
                    "collections",
                    "rest",
                    n,
                    repeat,
                    math.ceil(n / 200) + 1,
                    (0.4 + n / 900) * jitter,
                    phases={"auth": 1, "dml": math.ceil(n / 200)},
                )
            )
            ms.append(_measurement(HOSTILE, "rest", n, repeat, math.ceil(n / 200) + 2, (0.5 + n / 800) * jitter))
            bulk_calls = 8 + (2 if n > 5_000 else 0)
            ms.append(
                _measurement(
                    "bulk2-csv",
                    "bulk2",
                    n,
                    repeat,
                    bulk_calls,
                    (6.0 + n / 4_000) * jitter,
                    batches=math.ceil(n / 10_000),
                    phases={"auth": 1, "create": 1, "upload": 1, "close": 1, "poll": bulk_calls - 5, "results": 1},
                )
            )
            ms.append(
                _measurement(
                    "simple-salesforce",
                    "rest",
                    n,
                    repeat,
                    math.ceil(n / 200) * 2,
                    (1.0 + n / 500) * jitter,
                    baseline=True,
                )
            )
    # One crash: composite ran fine at small volumes and died at the largest.
    for n in VOLUMES:
        m = _measurement("composite", "rest", n, 1, math.ceil(n / 500) + 1, 0.6 + n / 1_000)
        if n == 10_000:
            m.error = "HTTP 503 from /composite/graph after 3 retries"
            m.succeeded, m.unprocessed, m.verified = 6_000, 4_000, 6_000
        ms.append(m)
    ms[0].notes.append("first run warmed the org's cache <b>not bold</b>")
    run = CompareRun(
        started_at="2026-11-01T12:00:00+00:00",
        finished_at="2026-11-01T12:01:05+00:00",
        environment={
            "tool_version": "0.1.0",
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64",
            "cpu_count": 2,
            "org_kind": "emulator",
            "profile": "realistic",
            "edition": "developer",
            "api_version": "62.0",
            "library_versions": {"requests": "2.32.3", "simple-salesforce": "1.12.10"},
        },
        settings={"volumes": list(VOLUMES), "strategies": "all", "repeat": 2, "profile": "realistic", "faults": None},
        measurements=ms,
    )
    run.recommendations = run.recommend()
    return run


class _StrictParser(HTMLParser):
    """html.parser never raises; this one records what a validator would object to in our output."""

    VOID: ClassVar[frozenset[str]] = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: set[str] = set()
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.doctype: str | None = None
        self.svg_series: list[list[str]] = []  # data-series of the polylines, per <svg>

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.starts.append((tag, named))
        if (ident := named.get("id")) is not None:
            if ident in self.ids:
                self.errors.append(f"duplicate id {ident!r}")
            self.ids.add(ident)
        if tag == "svg":
            self.svg_series.append([])
        if tag == "polyline":
            self.svg_series[-1].append(named.get("data-series") or "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def _parse(html: str) -> _StrictParser:
    parser = _StrictParser()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture()
def written(tmp_path: Path) -> tuple[CompareRun, Path]:
    run = sample_run()
    return run, write_reports(run, tmp_path / "reports")


def test_writes_every_file_in_a_timestamped_folder(written: tuple[CompareRun, Path]) -> None:
    _, folder = written
    assert folder.name == "20261101-120000"
    for name in ("results.json", "results.csv", "report.md", "report.html"):
        assert (folder / name).stat().st_size > 0, name


def test_a_second_run_gets_its_own_folder_and_latest_follows(tmp_path: Path) -> None:
    run = sample_run()
    first = write_reports(run, tmp_path)
    second = write_reports(run, tmp_path)
    assert first != second and first.exists() and second.name == first.name + "-2"
    link = tmp_path / "latest"
    assert link.is_symlink()
    assert not os.path.isabs(os.readlink(link))  # relative: the tree can be moved
    assert link.resolve() == second.resolve()
    assert not (tmp_path / "LATEST").exists()


def test_latest_points_at_the_folder(written: tuple[CompareRun, Path]) -> None:
    _, folder = written
    link = folder.parent / "latest"
    assert link.is_symlink() and os.readlink(link) == folder.name
    assert (link / "report.html").read_bytes() == (folder / "report.html").read_bytes()


def test_latest_falls_back_to_a_text_file_when_no_link_can_be_made(tmp_path: Path) -> None:
    (tmp_path / "latest").mkdir()  # a real directory where the link should go
    folder = write_reports(sample_run(), tmp_path)
    assert (tmp_path / "LATEST").read_text(encoding="utf-8").strip() == folder.name


def test_results_json_round_trips(written: tuple[CompareRun, Path]) -> None:
    run, folder = written
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    assert CompareRun.from_dict(data) == run


def test_from_dict_tolerates_unknown_keys_and_rejects_missing_required_ones() -> None:
    row = sample_run().measurements[0].to_dict() | {"added_later": 1}
    assert Measurement.from_dict(row).strategy == "rest"
    del row["records"]
    with pytest.raises(ValueError, match="records"):
        Measurement.from_dict(row)


def test_csv_has_a_header_and_one_flat_row_per_measurement(written: tuple[CompareRun, Path]) -> None:
    run, folder = written
    with (folder / "results.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(run.measurements)
    header = list(rows[0])
    assert header[:5] == ["strategy", "baseline", "family", "records", "repeat"]
    assert {"calls_dml", "calls_auth", "calls_poll", "calls_upload"} <= set(header)
    bulk = next(r for r in rows if r["strategy"] == "bulk2-csv" and r["records"] == "10000")
    assert bulk["calls_poll"] == "5" and bulk["calls_dml"] == "0" and bulk["batches"] == "1"
    crashed = [r for r in rows if r["error"]]
    assert len(crashed) == 1 and crashed[0]["strategy"] == "composite"
    assert {r["baseline"] for r in rows} == {"true", "false"}


def test_medians_aggregate_repeats() -> None:
    run = sample_run()
    rows = run.medians()
    assert len(rows) == 6 * len(VOLUMES)
    rest = next(m for m in rows if m.strategy == "rest" and m.records == 100)
    assert rest.repeat == 2  # number of repeats summarised
    assert rest.wall_seconds == pytest.approx(0.05 * 100 * 1.15)  # median of 1.1x and 1.2x
    assert rest.calls_client == 101
    assert [m.strategy for m in rows[:6]] == [
        "rest",
        "collections",
        HOSTILE,
        "bulk2-csv",
        "composite",
        "simple-salesforce",
    ]


def test_best_for_skips_crashed_and_baseline_rows() -> None:
    run = sample_run()
    assert run.best_for(100).strategy == "collections"
    assert run.best_for(10_000).strategy == "bulk2-csv"
    assert run.best_for(2_000, "wall_seconds").strategy == "composite"
    assert run.best_for(10_000, "wall_seconds").strategy == "bulk2-csv"
    assert run.best_for(100, "records_per_second").strategy == "collections"
    assert run.best_for(123) is None
    with pytest.raises(ValueError):
        run.best_for(100, "nonsense")
    recs = {r.records: r for r in run.recommendations}
    assert recs[10_000].strategy == "bulk2-csv" and "simple-salesforce" in recs[10_000].reason


def test_markdown_has_a_table_per_volume_and_marks_baselines(written: tuple[CompareRun, Path]) -> None:
    _, folder = written
    md = (folder / "report.md").read_text(encoding="utf-8")
    for n in VOLUMES:
        assert f"### {n:,} records" in md
    assert "simple-salesforce (baseline)" in md
    assert "## Environment" in md and "## Recommendations" in md and "library_versions.requests" in md
    assert "<script>" not in md and r"\<script\>" in md
    assert "crashed: HTTP 503" in md


def test_html_is_valid_and_self_contained(written: tuple[CompareRun, Path]) -> None:
    _, folder = written
    html = (folder / "report.html").read_text(encoding="utf-8")
    parser = _parse(html)
    assert parser.doctype and parser.doctype.lower() == "doctype html"
    assert parser.errors == []
    assert parser.stack == []
    # No external loads: no URL at all, no src/href attributes, no CSS url().
    assert "http://" not in html and "https://" not in html
    assert not [a for _, attrs in parser.starts for a in attrs if a in ("src", "href", "xlink:href")]
    assert "url(" not in html and "@import" not in html
    assert not [tag for tag, _ in parser.starts if tag in ("script", "link", "img", "iframe", "object")]
    assert "Content-Security-Policy" in html


def test_html_has_two_charts_with_a_line_per_strategy(written: tuple[CompareRun, Path]) -> None:
    run, folder = written
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2
    parser = _parse(html)
    assert len(parser.svg_series) == 2
    for series in parser.svg_series:
        assert series == run.strategies()  # one polyline each, unescaped back to the real name
    assert 'stroke-dasharray="6 4"' in html  # the baseline is dashed
    assert html.count("<title") >= 3  # page title + one per chart (and one per series and point)


def test_html_escapes_data(written: tuple[CompareRun, Path]) -> None:
    _, folder = written
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "(baseline)" in html and "recommended" in html


def test_console_table_and_recommendation_lines() -> None:
    run = sample_run()
    console = Console(record=True, width=220, color_system=None)
    console.print(compare_table(run))
    text = console.export_text()
    assert "simple-salesforce (baseline)" in text
    assert HOSTILE in text  # shown literally, not read as markup
    assert "crashed" in text
    lines = recommendation_lines(run)
    assert [line.split(" records:")[0] for line in lines] == ["100", "2,000", "10,000"]
    assert lines[2].startswith("10,000 records: bulk2-csv: ")


def test_volumes_without_a_recommendation_say_why() -> None:
    run = sample_run()
    run.recommendations = [Recommendation(records=2_000, strategy="", reason="every strategy failed some records")]
    lines = recommendation_lines(run)
    assert lines[0] == "100 records: no recommendation recorded"
    assert lines[1] == "2,000 records: every strategy failed some records"
    html = render_html(run)
    assert "use <strong></strong>" not in html and "every strategy failed some records" in html


def test_csv_leaves_unknown_figures_empty() -> None:
    run = CompareRun(
        started_at="2026-11-01T12:00:00Z",
        measurements=[Measurement(strategy="rest", family="rest", records=10, error="boom")],
    )
    row = next(csv.DictReader(io.StringIO(render_csv(run))))
    assert row["calls_org"] == "" and row["peak_memory_mb"] == "" and row["error"] == "boom"


def test_chart_axes_cover_whole_decades() -> None:
    assert decade_bounds([100, 2_000, 10_000]) == (2, 4)
    assert decade_bounds([3, 8]) == (0, 1)
    assert decade_bounds([100]) == (1, 3)
    assert decade_bounds([0.4, 12]) == (-1, 2)
    assert [format_tick(v) for v in (0.01, 0.5, 1, 20, 1_000, 50_000, 1_000_000)] == [
        "0.01",
        "0.5",
        "1",
        "20",
        "1k",
        "50k",
        "1M",
    ]
    svg = loglog_chart([Series("a", [(1, 1)]), Series("b", [])], title="t", x_label="x", y_label="y", standalone=True)
    assert svg.count("<polyline") == 1 and "b (no data)" in svg and 'xmlns="http://www.w3.org/2000/svg"' in svg


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed (Debian package 'chromium')")
def test_html_renders_in_headless_chromium(written: tuple[CompareRun, Path], tmp_path: Path) -> None:
    _, folder = written
    png = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1200,2000",
            (folder / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert png.exists(), result.stderr[-2000:]
    assert _png_size(png) == (1200, 2000)
    assert png.stat().st_size > 30_000  # a blank page compresses to a few kB
    # A CSP violation (something tried to load) would be logged to the console.
    assert "Content Security Policy" not in result.stderr, result.stderr[-2000:]
    shutil.rmtree(profile, ignore_errors=True)


def test_bench_writes_through_the_same_folder_writer(tmp_path: Path) -> None:
    """bench.json, bench.md and per profile the compare files, in a timestamped folder that `latest` follows."""
    from harness.commands.bench import BenchRow, check_targets, compute_ratios, write_bench_reports

    run = sample_run()
    rows = [BenchRow("instant", m) for m in run.measurements]
    compute_ratios(rows)
    result = {
        "command": "sfharness bench",
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "machine": {"platform": "p", "cpu": "c", "cpu_count": 2, "memory_gb": 8, "python": "3.11", "versions": {}},
        "settings": {"edition": "sandbox", "profiles": ["instant", "realistic"], "time_scale": 20.0},
        "runs": [r.to_dict() for r in rows],
        "targets": check_targets(rows),
    }
    first = write_bench_reports(result, rows, tmp_path)
    second = write_bench_reports(result, rows, tmp_path)
    assert first.name == "20261101-120000" and second.name == "20261101-120000-2"
    assert (tmp_path / "latest").resolve() == second.resolve()
    files = {str(p.relative_to(second)) for p in second.rglob("*") if p.is_file()}
    assert files == {
        "bench.json",
        "bench.md",
        *(f"instant/{name}" for name in ("results.json", "results.csv", "report.md", "report.html")),
    }
    assert json.loads((second / "bench.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(result, default=str)
    )
    saved = CompareRun.from_dict(json.loads((second / "instant" / "results.json").read_text(encoding="utf-8")))
    assert saved.recommendations == run.recommend()
    bench_md = (second / "bench.md").read_text(encoding="utf-8")
    assert "&lt;script" not in bench_md and r"\<script\>" in bench_md  # data escaped as report.md escapes it
