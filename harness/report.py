"""Reports: the one writer of report folders (`compare`'s and `bench`'s), and a compare run's views.

One folder per run, never overwritten, so runs can be compared later; `latest` beside it points at the
newest (`write_report_folder`). A compare run writes four files, each for a different reader:

- `results.json`: everything, lossless (`CompareRun.to_dict()`); the source of truth for tools.
- `results.csv`: one flat row per measurement (each repeat), for a spreadsheet.
- `report.md`: the tables and the advice, readable as plain text or in a pull request.
- `report.html`: the same plus two log-log charts, SELF-CONTAINED: inline CSS and SVG, no script, no
  network (a Content-Security-Policy forbids any load), so it opens from a file on an air-gapped machine.

Strategy names, notes and errors are data, not markup: every text is escaped for its target
(`html.escape` for HTML, backslash escapes for Markdown, `rich.text.Text` for the console).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.table import Table
from rich.text import Text

from . import formatting as fmt
from .charts import Series, loglog_chart
from .comparison import CompareRun, Measurement, Recommendation

__all__ = [
    "compare_files",
    "compare_table",
    "csv_columns",
    "json_text",
    "markdown_table",
    "markdown_text",
    "measurement_line",
    "recommendation_lines",
    "render_csv",
    "render_html",
    "render_markdown",
    "write_report_folder",
    "write_reports",
]

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"

# -- writing the folder -------------------------------------------------------------------------------


def write_reports(run: CompareRun, root: Path = Path("reports")) -> Path:
    """Write the four report files of a compare run into a new `root/<timestamp>/` folder (see
    `write_report_folder`) and point `root/latest` at it. Returns the folder."""
    return write_report_folder(root, run.started_at, compare_files(run))


def compare_files(run: CompareRun) -> dict[str, str]:
    """The report files of a compare run, by name: what `write_reports` writes, and what `bench` writes
    once per profile."""
    return {
        RESULTS_JSON: json_text(run.to_dict()),
        RESULTS_CSV: render_csv(run),
        REPORT_MD: render_markdown(run),
        REPORT_HTML: render_html(run),
    }


def write_report_folder(root: Path, started_at: str, files: Mapping[str, str]) -> Path:
    """Write `files` (relative path -> text) into a new folder `root/<timestamp>/`; point `root/latest` at it.

    The folder is named after the run's start (UTC, `YYYYMMDD-HHMMSS`, with `-2`, `-3`... if that name is
    taken) so that folders sort by time and a rerun never overwrites an earlier report. Every report of
    the harness (compare's, bench's) is written here, so they all share the layout and the link.
    """
    folder = new_timestamped_folder(root, started_at, link=False)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    _point_latest(Path(root), folder)  # once the files are there
    return folder


def new_timestamped_folder(root: Path, started_at: str, *, link: bool = True) -> Path:
    """A new, empty `root/<YYYYMMDD-HHMMSS>[-n]/` for a run that started at `started_at` (and, with `link`,
    `root/latest` pointing at it): the one naming rule for reports and `update`'s outcome folders."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folder = _new_folder(root, _timestamp(started_at))
    if link:
        _point_latest(root, folder)
    return folder


def json_text(data: Any) -> str:
    """JSON as every report file holds it: indented, UTF-8 as is, anything unknown as its string."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _timestamp(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        when = datetime.now(UTC)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y%m%d-%H%M%S")


def _new_folder(root: Path, name: str) -> Path:
    """Create a fresh folder (mkdir without exist_ok, so two concurrent runs cannot share one)."""
    for n in range(1, 1000):
        folder = root / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"too many report folders named {name} in {root}")


def _point_latest(root: Path, folder: Path) -> None:
    """Point `root/latest` at `folder` with a relative symlink (so the tree can be moved or archived).

    The link is made under a temporary name and renamed over the old one, so `latest` is never missing
    or half-made. Where symlinks are not possible (some Windows setups, some mounts, or `latest` being a
    real directory), the folder name goes into a `LATEST` text file instead; a stale `LATEST` is removed
    once the link works, so the two never disagree.
    """
    link = root / LATEST_LINK
    tmp = root / f".{LATEST_LINK}.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(folder.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        (root / LATEST_FILE).write_text(folder.name + "\n", encoding="utf-8")
        return
    (root / LATEST_FILE).unlink(missing_ok=True)


# -- shared formatting ----------------------------------------------------------------------------------


def _label(m: Measurement) -> str:
    return f"{m.strategy} (baseline)" if m.baseline else m.strategy


def _outcome(m: Measurement, sep: str = " / ") -> str:
    """OK / failed / unprocessed; an upsert's OK as created + updated (their sum when some are unknown)."""
    ok = f"{m.succeeded:,}"
    if m.created is not None and m.updated is not None and m.created + m.updated == m.succeeded:
        ok = f"{m.created:,}+{m.updated:,}"
    return sep.join([ok, f"{m.failed:,}", f"{m.unprocessed:,}"])


def _split(m: Measurement) -> str:
    """ ", created C, updated U" for an upsert (nothing for an update)."""
    if m.created is None or m.updated is None:
        return ""
    return f", created {fmt.count(m.created)}, updated {fmt.count(m.updated)}"


def _verified(m: Measurement, compact: bool = False) -> str:
    if m.unverified:
        return "not verified"
    text = f"{m.verified:,}" if compact else f"{m.verified:,}/{m.records:,}"
    return f"{text} ({m.mismatched:,} mismatched)" if m.mismatched else text


@dataclass(frozen=True)
class _Column:
    header: str
    numeric: bool
    width_em: float | None = None  # HTML only: fixed widths keep the per-volume tables aligned
    console: str | None = None  # a shorter, two-line header for the terminal, where width is scarce
    in_console: bool = True  # the terminal shows the volume as a heading row instead, to save width


# The table every view shows (console, Markdown, HTML), in one place so the three cannot drift apart.
_COLUMNS: tuple[_Column, ...] = (
    _Column("Strategy", False),
    _Column("Records", True, 5.5, in_console=False),
    _Column("Calls (client)", True, 6.5, "Calls\nclient"),
    _Column("Calls (org)", True, 6.5, "Calls\norg"),
    _Column("Batches", True, 5, "Bat-\nches"),
    _Column("Wall s", True, 5, "Wall\ns"),
    _Column("Rec/s", True, 5),
    _Column("Peak MB", True, 5, "Peak\nMB"),
    _Column("OK / failed / unproc.", True, 10, "OK/failed/\nunproc."),
    _Column("Verified", True, 10),
)


_OUTCOME, _VERIFIED = 8, 9  # positions of the cells that get flagged


def _cells(m: Measurement, compact: bool = False) -> list[str]:
    """A row's display cells, in `_COLUMNS` order. A crashed row's figures are partial, so it says so.

    `compact` (the terminal) drops the spaces around the outcome's slashes and the verified total, which
    the Records column already shows.
    """
    return [
        _label(m),
        fmt.count(m.records),
        fmt.count(m.calls_client),
        fmt.count(m.calls_org),
        fmt.count(m.batches),
        fmt.seconds(m.wall_seconds),
        fmt.rate(m.records_per_second),
        fmt.megabytes(m.peak_memory_mb),
        "crashed" if m.crashed else _outcome(m, "/" if compact else " / "),
        _verified(m, compact),
    ]


def _max_repeats(run: CompareRun) -> int:
    return max((m.repeat for m in run.measurements), default=1)


def _aggregation_note(run: CompareRun) -> str:
    repeats = _max_repeats(run)
    upsert = (
        " Upserts: OK is records created + updated." if any(m.created is not None for m in run.measurements) else ""
    )
    if repeats <= 1:
        return "One run per strategy and volume." + upsert
    return (
        f"Medians of {repeats} repeats for times; API calls, batches and memory are the maximum, "
        "record counts the worst repeat." + upsert
    )


@dataclass(frozen=True)
class _VolumeAdvice:
    records: int
    recommendations: list[Recommendation]
    missing: str | None  # why there is no recommendation, when there is none


def _advice(run: CompareRun) -> list[_VolumeAdvice]:
    """The recorded recommendation(s) for each volume, or a reason there are none.

    The report only shows what the run recorded (the compare command or the planner decides what to
    recommend); it says so plainly rather than inventing advice of its own. A recorded recommendation
    with an empty strategy means "none", and its reason is shown as the reason why.
    """
    volumes = sorted(set(run.volumes()) | {r.records for r in run.recommendations})
    out: list[_VolumeAdvice] = []
    for records in volumes:
        recorded = run.recommendation_for(records)
        recs = [r for r in recorded if r.strategy]
        missing = None
        if not recs:
            missing = "; ".join(r.reason for r in recorded if r.reason) or "no recommendation recorded"
        out.append(_VolumeAdvice(records, recs, missing))
    return out


def recommendation_lines(run: CompareRun) -> list[str]:
    """One plain-text line per recommendation (and per volume without one), ordered by volume.

    Plain strings, not rich markup: print them with `markup=False` (or `highlight=False`) since a
    strategy name may contain brackets.
    """
    lines: list[str] = []
    for advice in _advice(run):
        for rec in advice.recommendations:
            reason = f": {rec.reason}" if rec.reason else ""
            lines.append(f"{advice.records:,} records: {rec.strategy}{reason}")
        if advice.missing:
            lines.append(f"{advice.records:,} records: {advice.missing}")
    return lines


def measurement_line(m: Measurement, where: str = "") -> str:
    """One plain-text line per finished run, printed as `compare` and `bench` go (print with markup=False)."""
    line = (
        f"{where}{_label(m):>32} {fmt.count(m.records):>9} records: {fmt.count(m.calls_client):>7} calls "
        f"(org {fmt.count(m.calls_org)}), {fmt.count(m.batches)} batches, {fmt.seconds(m.wall_seconds):>6} s, "
        f"{fmt.megabytes(m.peak_memory_mb)} MB{_split(m)}, verified {_verified(m)} {_status(m)}"
    )
    return line + (f"  error: {m.error[:160]}" if m.error else "")


def _status(m: Measurement) -> str:
    if m.unverified:
        return "NOT VERIFIED"
    return "ok" if m.clean else "CHECK"


def _recommended(run: CompareRun) -> set[tuple[int, str]]:
    return {(r.records, r.strategy) for r in run.recommendations}


OTHER_CALLS_NOTE = (
    "They count against the org's allocation too. Pre-run checks: describe, /limits and, on a real org, the "
    "organization look-up; read-backs: the verification queries after each run; whole compare: the runs and both, "
    "which on the emulator is the org's own counter from start to end."
)


def other_call_rows(run: CompareRun) -> list[tuple[str, str, str]]:
    """(label, calls client, calls org) of the calls outside the runs, then the org's total: the lines
    every table shows below the runs, so that its rows add up to the org's own counter."""
    rows = [(c.label, fmt.count(c.calls_client), fmt.count(c.calls_org)) for c in run.other_calls]
    if rows and run.org_calls_total is not None:
        client = sum(m.calls_client for m in run.measurements) + sum(c.calls_client for c in run.other_calls)
        rows.append(("whole compare", fmt.count(client), fmt.count(run.org_calls_total)))
    return rows


def skipped_lines(run: CompareRun) -> list[str]:
    """One plain line per run `compare` did not start (over budget, or the org refused further calls)."""
    return [
        f"{k.strategy} x {k.records:,}" + (f" (run {k.repeat})" if k.repeat > 1 else "") + f" skipped: {k.reason}"
        for k in run.skipped
    ]


# -- console ---------------------------------------------------------------------------------------------


def compare_table(run: CompareRun) -> Table:
    """The console table: one row per strategy and volume (medians of repeats), a section per volume.

    Each section opens with a "N records" heading row rather than repeating the volume in a column, and
    headers are short with no vertical rules: the table then fits an 80-column terminal (or a piped
    output, which rich treats as 80 wide) for the usual strategy names. Cells are `Text` objects so names
    are never read as rich markup. Baselines are dim and labelled, crashed rows red, recommended
    strategies bold green.
    """
    table = Table(
        title="sfharness compare",
        caption=_aggregation_note(run),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        show_edge=False,
    )
    shown = [i for i, column in enumerate(_COLUMNS) if column.in_console]
    for i in shown:
        column = _COLUMNS[i]
        header = column.console or column.header
        if column.numeric:
            table.add_column(header, justify="right", no_wrap=True, overflow="fold")
        else:
            table.add_column(header, overflow="fold")
    recommended = _recommended(run)
    medians = run.medians()
    for records in run.volumes():
        rows = [m for m in medians if m.records == records]
        table.add_row(Text(f"{records:,} records", style="bold"), *([""] * (len(shown) - 1)))
        for n, m in enumerate(rows, start=1):
            if m.crashed:
                style = "red"
            elif m.baseline:
                style = "dim"
            elif (m.records, m.strategy) in recommended:
                style = "bold green"
            else:
                style = ""
            cells = [Text(cell) for cell in _cells(m, compact=True)]
            if not m.crashed and (m.failed or m.unprocessed):
                cells[_OUTCOME].stylize("yellow")
            if m.mismatched or m.unverified:
                cells[_VERIFIED].stylize("red")
            cells[0].pad_left(2)
            table.add_row(*(cells[i] for i in shown), style=style, end_section=n == len(rows))
    blank = [""] * (len(shown) - 3)
    if run.skipped:
        table.add_row(Text("skipped", style="bold"), *([""] * (len(shown) - 1)))
        for n, k in enumerate(run.skipped, start=1):
            predicted = f"~{k.predicted_calls:,}" if k.predicted_calls else ""
            table.add_row(
                Text(f"  {k.strategy} x {k.records:,}"),
                predicted,
                "",
                *blank,
                style="yellow",
                end_section=n == len(run.skipped),
            )
    other = other_call_rows(run)
    if other:  # not indented: the labels are as long as the column an 80-column table leaves
        table.add_row(Text("other calls", style="bold"), *([""] * (len(shown) - 1)))
        for label, client, org in other:
            table.add_row(Text(label), client, org, *blank)
    return table


# -- CSV -------------------------------------------------------------------------------------------------


def _phase_column(phase: str) -> str:
    return "calls_" + (re.sub(r"\W+", "_", phase).strip("_") or "unnamed")


def csv_columns(run: CompareRun) -> list[str]:
    """The CSV header: the measurement's fields, with `calls_by_phase` spread into `calls_<phase>` columns.

    Phases are the union over all measurements, sorted, so every row has the same columns.
    """
    phases = sorted({_phase_column(p) for m in run.measurements for p in m.calls_by_phase})
    return [
        "strategy", "baseline", "family", "records", "repeat", "calls_client", "calls_org", *phases,
        "batches", "wall_seconds", "records_per_second", "peak_memory_mb",
        "succeeded", "created", "updated", "failed", "unprocessed", "verified", "mismatched", "unverified",
        "split_mismatch", "job_ids", "notes", "error",
    ]  # fmt: skip


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_csv(run: CompareRun) -> str:
    """One row per measurement (every repeat). Lists are joined with "; ", unknown figures left empty.

    A phase a measurement did not use is 0; all phase columns are empty when the measurement recorded no
    breakdown at all (unknown is not zero).
    """
    columns = csv_columns(run)
    phase_columns = [c for c in columns if c.startswith("calls_") and c not in ("calls_client", "calls_org")]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for m in run.measurements:
        row = m.to_dict()
        by_phase = row.pop("calls_by_phase")
        row["job_ids"] = "; ".join(m.job_ids)
        row["notes"] = "; ".join(m.notes)
        for column in phase_columns:
            row[column] = 0 if by_phase else None
        for phase, n in by_phase.items():
            row[_phase_column(phase)] += n
        writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    return buffer.getvalue()


# -- environment -----------------------------------------------------------------------------------------


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as dotted keys (`library_versions.requests`), lists joined: a two-column table."""
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_flatten(value, name + ".") or [(name, "")])
        elif isinstance(value, (list, tuple, set)):
            out.append((name, ", ".join(str(v) for v in value)))
        else:
            out.append((name, fmt.DASH if value is None else str(value)))
    return out


def _duration(run: CompareRun) -> str | None:
    try:
        start = datetime.fromisoformat(run.started_at)
        end = datetime.fromisoformat(run.finished_at or "")
        seconds = (end - start).total_seconds()
    except (TypeError, ValueError):
        return None
    return fmt.duration(seconds)


def _org_summary(run: CompareRun) -> str:
    env = run.environment
    parts = [f"org: {env.get('org_kind', 'unknown')}"]
    for key in ("profile", "edition", "api_version"):
        if env.get(key) not in (None, ""):
            parts.append(f"{key.replace('_', ' ')} {env[key]}")
    return ", ".join(parts)


def _problems(run: CompareRun) -> list[tuple[Measurement, str]]:
    """Every crash, record-level failure and note, per measurement, for the "Problems and notes" list."""
    out: list[tuple[Measurement, str]] = []
    for m in sorted(run.measurements, key=lambda m: (m.records, m.strategy, m.repeat)):
        if m.error:
            out.append((m, f"crashed: {m.error}"))
        if m.failed or m.unprocessed:
            counts = [f"{n:,} {what}" for n, what in ((m.failed, "failed"), (m.unprocessed, "unprocessed")) if n]
            out.append((m, ", ".join(counts)))
        if m.mismatched:
            out.append((m, f"{m.mismatched:,} records read back with other values than written"))
        if m.split_mismatch and not any(m.split_mismatch in note for note in m.notes):
            out.append((m, f"created/updated: {m.split_mismatch}"))
        for note in m.notes:
            out.append((m, note))
    return out


# -- Markdown --------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|#])")


def markdown_text(text: str) -> str:
    """Escape text for a Markdown table cell: no raw HTML, no emphasis or links, no cell breaks."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def markdown_table(headers: list[str], rows: Iterable[list[str]], numeric: list[bool]) -> list[str]:
    """A Markdown table's lines. Headers are escaped here; cells come escaped (they may carry **emphasis**)."""
    lines = ["| " + " | ".join(markdown_text(h) for h in headers) + " |"]
    lines.append("| " + " | ".join("---:" if n else "---" for n in numeric) + " |")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render_markdown(run: CompareRun) -> str:
    """report.md: environment, a table per volume, recommendations, then problems and notes."""
    lines = [f"# sfharness compare: {markdown_text(run.started_at)}", ""]
    summary = [f"Started {run.started_at}"]
    if run.finished_at:
        summary.append(f"finished {run.finished_at}")
    if (duration := _duration(run)) is not None:
        summary.append(f"took {duration}")
    summary.append(_org_summary(run))
    lines += [markdown_text(" · ".join(summary)), ""]

    lines += ["## Environment", ""]
    lines += markdown_table(
        ["Key", "Value"], ([markdown_text(k), markdown_text(v)] for k, v in _flatten(run.environment)), [False, False]
    )
    if run.settings:
        lines += ["", "### Settings", ""]
        lines += markdown_table(
            ["Key", "Value"], ([markdown_text(k), markdown_text(v)] for k, v in _flatten(run.settings)), [False, False]
        )

    lines += [
        "",
        "## Results",
        "",
        markdown_text(_aggregation_note(run)) + " Baselines are third-party libraries, marked (baseline).",
    ]
    recommended = _recommended(run)
    medians = run.medians()
    advice = {a.records: a for a in _advice(run)}
    for records in run.volumes():
        lines += ["", f"### {records:,} records", ""]
        rows = []
        for m in (m for m in medians if m.records == records):
            cells = [markdown_text(c) for c in _cells(m)]
            if (m.records, m.strategy) in recommended:
                cells[0] = f"**{cells[0]}**"
            rows.append(cells)
        lines += markdown_table([c.header for c in _COLUMNS], rows, [c.numeric for c in _COLUMNS])
        lines += ["", _md_advice(advice[records])]

    other = other_call_rows(run)
    if other:
        lines += ["", "## API calls outside the runs", "", markdown_text(OTHER_CALLS_NOTE), ""]
        lines += markdown_table(
            ["What", "Calls (client)", "Calls (org)"],
            ([markdown_text(c) for c in row] for row in other),
            [False, True, True],
        )
    if run.skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- {markdown_text(line)}" for line in skipped_lines(run)]

    lines += ["", "## Recommendations", ""]
    for a in _advice(run):
        lines.append(f"- {_md_advice(a)}")

    problems = _problems(run)
    if problems:
        lines += ["", "## Problems and notes", ""]
        for m, text in problems:
            lines.append(
                f"- {markdown_text(_label(m))} at {m.records:,} records, repeat {m.repeat}: {markdown_text(text)}"
            )
    return "\n".join(lines) + "\n"


def _md_advice(advice: _VolumeAdvice) -> str:
    if not advice.recommendations:
        return f"**{advice.records:,} records:** {markdown_text(advice.missing or '')}"
    return " ".join(
        f"**{advice.records:,} records:** use **{markdown_text(r.strategy)}**"
        + (f": {markdown_text(r.reason)}" if r.reason else "")
        for r in advice.recommendations
    )


# -- HTML ------------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa;
        --good: #1a7f37; --good-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9; --warn-bg: #fff8c5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
p.meta, p.note, figcaption { color: var(--muted); margin: 4px 0 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 20px; }
figure { margin: 0; padding: 12px; border: 1px solid var(--line); border-radius: 8px; }
figure svg { display: block; width: 100%; max-width: 720px; height: auto; margin: 0 auto; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; }
thead th { background: var(--soft); vertical-align: bottom; }
table.results { table-layout: fixed; min-width: 980px; }
table.results th[scope="row"] { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tr.baseline > * { color: var(--muted); font-style: italic; }
tr.baseline > th { font-weight: 500; }
tr.recommended > * { background: var(--good-bg); }
tr.crashed > * { background: var(--bad-bg); }
td.warn { background: var(--warn-bg); }
td.bad { color: var(--bad); font-weight: 600; }
.tag { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 10px; font-size: 11px;
       font-style: normal; font-weight: 600; vertical-align: 1px; }
.tag.rec { background: var(--good); color: #fff; }
.tag.base { background: var(--line); color: var(--fg); }
.advice { margin: 8px 0 0; padding: 8px 12px; border-left: 4px solid var(--good); background: var(--soft); }
.advice.none { border-left-color: var(--bad); }
ul.recs { padding-left: 20px; } ul.recs li { margin: 4px 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
details { margin-top: 24px; } summary { cursor: pointer; font-weight: 600; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.env dt { color: var(--muted); } dl.env dd { margin: 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

# Forbids every load (scripts, styles, images, fonts, frames, fetches) except the inline style: the page
# is self-contained by construction, and the browser would refuse anything that crept in.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _calls_axis_label(rows: list[Measurement]) -> str:
    known = [m.calls_org is not None for m in rows]
    if known and all(known):
        return "API calls (org counter)"
    if any(known):
        return "API calls (org counter where known, else client)"
    return "API calls (client count)"


def _chart_series(run: CompareRun, value: Literal["calls", "wall"]) -> list[Series]:
    """One series per strategy (display order, so colours match across charts); crashed rows left out."""
    medians = [m for m in run.medians() if not m.crashed]
    out: list[Series] = []
    for name in run.strategies():
        rows = [m for m in medians if m.strategy == name]
        points = [(float(m.records), float(m.calls if value == "calls" else m.wall_seconds)) for m in rows]
        baseline = run.is_baseline(name)
        out.append(Series(name=name, points=points, dashed=baseline, label=f"{name} (baseline)" if baseline else None))
    return out


def _th(header: str, numeric: bool) -> str:
    css = ' class="num"' if numeric else ""
    return f'<th scope="col"{css}>{_e(header)}</th>'


def _html_table(run: CompareRun, rows: list[Measurement], *, every_repeat: bool = False) -> str:
    """A results table. Median rows by default; `every_repeat` adds the repeat number and the job ids.

    The per-volume tables share a fixed layout, so each column sits at the same place in every one.
    """
    recommended = _recommended(run)
    heads = [_th(c.header, c.numeric) for c in _COLUMNS]
    if every_repeat:
        heads.insert(1, _th("Repeat", True))
        heads.append(_th("Job ids", False))
    body: list[str] = []
    for m in rows:
        is_recommended = not every_repeat and not m.crashed and (m.records, m.strategy) in recommended
        classes = [
            c for c, on in (("baseline", m.baseline), ("crashed", m.crashed), ("recommended", is_recommended)) if on
        ]
        name = _e(m.strategy)
        if m.baseline:
            name += '<span class="tag base">baseline</span>'
        if is_recommended:
            name += '<span class="tag rec">recommended</span>'
        tds = [f'<th scope="row">{name}</th>']
        if every_repeat:
            tds.append(f'<td class="num">{m.repeat}</td>')
        for i, (column, cell) in enumerate(zip(_COLUMNS[1:], _cells(m)[1:], strict=True), start=1):
            css = ["num"] if column.numeric else []
            cell_html = _e(cell)
            if i == _OUTCOME and m.crashed:
                css.append("bad")
                cell_html = f'<span title="{_e(m.error)}">crashed</span>'
            elif i == _OUTCOME and (m.failed or m.unprocessed):
                css.append("warn")
            if i == _VERIFIED and (m.mismatched or m.unverified):
                css.append("bad")
            tds.append(f'<td class="{" ".join(css)}">{cell_html}</td>' if css else f"<td>{cell_html}</td>")
        if every_repeat:
            tds.append(f"<td><code>{_e(', '.join(m.job_ids))}</code></td>")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        body.append(f"<tr{cls}>{''.join(tds)}</tr>")
    if every_repeat:
        table = "<table>"
    else:
        cols = "".join(f'<col style="width: {c.width_em}em">' if c.width_em else "<col>" for c in _COLUMNS)
        table = f'<table class="results"><colgroup>{cols}</colgroup>'
    return (
        f'<div class="table-wrap">{table}<thead><tr>{"".join(heads)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _html_advice(advice: _VolumeAdvice) -> str:
    if not advice.recommendations:
        return f'<p class="advice none"><strong>{advice.records:,} records:</strong> {_e(advice.missing)}</p>'
    parts = [
        f"<strong>{advice.records:,} records:</strong> use <strong>{_e(r.strategy)}</strong>"
        + (f": {_e(r.reason)}" if r.reason else "")
        for r in advice.recommendations
    ]
    return '<p class="advice">' + "<br>".join(parts) + "</p>"


def _html_env(data: Mapping[str, Any]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd><code>{_e(v)}</code></dd>" for k, v in _flatten(data))
    return f'<dl class="env">{items}</dl>' if items else '<p class="note">None recorded.</p>'


def _every_repeat(run: CompareRun) -> list[Measurement]:
    order = {name: i for i, name in enumerate(run.strategies())}
    return sorted(run.measurements, key=lambda m: (m.records, order[m.strategy], m.repeat))


def render_html(run: CompareRun) -> str:
    """report.html: recommendations, two log-log charts, a table per volume, problems, environment.

    Valid HTML5, one file, no script and no external resource; the charts are inline SVG.
    """
    medians = run.medians()
    advice = _advice(run)
    volumes = run.volumes()
    duration = _duration(run)
    meta = [f"Started {run.started_at}"]
    if run.finished_at:
        meta.append(f"finished {run.finished_at}")
    if duration:
        meta.append(f"took {duration}")
    meta.append(_org_summary(run))
    tool = " ".join(str(p) for p in ("sfharness", run.environment.get("tool_version")) if p)

    plotted = [m for m in medians if not m.crashed]
    calls_chart = loglog_chart(
        _chart_series(run, "calls"),
        title="API calls against volume",
        x_label="Records",
        y_label=_calls_axis_label(plotted),
        chart_id="chart-calls",
    )
    time_chart = loglog_chart(
        _chart_series(run, "wall"),
        title="Wall time against volume",
        x_label="Records",
        y_label="Wall time (s)",
        chart_id="chart-time",
    )
    baselines_note = (
        " Dashed lines are third-party baselines." if any(run.is_baseline(s) for s in run.strategies()) else ""
    )

    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>sfharness compare: {_e(run.started_at)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        "<h1>sfharness compare</h1>",
        f'<p class="meta">{_e(" · ".join(meta))}</p>',
        "</header>",
        '<section id="recommendations" aria-labelledby="h-recs">',
        '<h2 id="h-recs">Recommendations</h2>',
        '<ul class="recs">',
    ]
    for a in advice:
        if a.recommendations:
            for r in a.recommendations:
                reason = f": {_e(r.reason)}" if r.reason else ""
                parts.append(
                    f"<li><strong>{a.records:,} records:</strong> <strong>{_e(r.strategy)}</strong>{reason}</li>"
                )
        else:
            parts.append(f"<li><strong>{a.records:,} records:</strong> {_e(a.missing)}</li>")
    parts += [
        "</ul>",
        "</section>",
        '<section id="charts" aria-labelledby="h-charts">',
        '<h2 id="h-charts">Charts</h2>',
        (
            f'<p class="note">Both axes are logarithmic; lower is better.{_e(baselines_note)} '
            f"{_e(_aggregation_note(run))} Crashed runs are not plotted.</p>"
        ),
        '<div class="charts">',
        f"<figure>{calls_chart}<figcaption>API calls used per run, by record volume.</figcaption></figure>",
        f"<figure>{time_chart}<figcaption>Wall time per run, by record volume.</figcaption></figure>",
        "</div>",
        "</section>",
        '<section id="results" aria-labelledby="h-results">',
        '<h2 id="h-results">Results by volume</h2>',
        (
            f'<p class="note">{_e(_aggregation_note(run))} OK / failed / unproc. counts records; '
            "verified counts records read back with the values written.</p>"
        ),
    ]
    by_volume = {a.records: a for a in advice}
    for records in volumes:
        parts.append(f"<h3>{records:,} records</h3>")
        parts.append(_html_table(run, [m for m in medians if m.records == records]))
        parts.append(_html_advice(by_volume[records]))
    parts.append("</section>")

    other = other_call_rows(run)
    if other:
        parts += [
            '<section id="other-calls" aria-labelledby="h-other">',
            '<h2 id="h-other">API calls outside the runs</h2>',
            f"<p>{_e(OTHER_CALLS_NOTE)}</p>",
            '<div class="table-wrap"><table><thead><tr><th scope="col">What</th><th scope="col" class="num">Calls (client)</th>'
            '<th scope="col" class="num">Calls (org)</th></tr></thead><tbody>',
        ]
        parts += [
            f'<tr><td>{_e(label)}</td><td class="num">{_e(client)}</td><td class="num">{_e(org)}</td></tr>'
            for label, client, org in other
        ]
        parts.append("</tbody></table></div></section>")
    if run.skipped:
        parts += ['<section id="skipped" aria-labelledby="h-skipped">', '<h2 id="h-skipped">Skipped</h2>', "<ul>"]
        parts += [f"<li>{_e(line)}</li>" for line in skipped_lines(run)]
        parts.append("</ul></section>")

    problems = _problems(run)
    if problems:
        parts += ['<section id="problems" aria-labelledby="h-problems">', '<h2 id="h-problems">Problems and notes</h2>']
        parts.append(
            '<div class="table-wrap"><table><thead><tr><th scope="col">Strategy</th>'
            '<th scope="col" class="num">Records</th><th scope="col" class="num">Repeat</th>'
            '<th scope="col">What</th></tr></thead><tbody>'
        )
        for m, text in problems:
            parts.append(
                f'<tr><td>{_e(_label(m))}</td><td class="num">{m.records:,}</td>'
                f'<td class="num">{m.repeat}</td><td>{_e(text)}</td></tr>'
            )
        parts.append("</tbody></table></div></section>")

    parts += [
        '<section id="environment" aria-labelledby="h-env">',
        '<h2 id="h-env">Environment</h2>',
        _html_env(run.environment),
        "<h3>Settings</h3>",
        _html_env(run.settings),
        "</section>",
        "<details>",
        f"<summary>Every measurement ({len(run.measurements)})</summary>",
        _html_table(run, _every_repeat(run), every_repeat=True),
        "</details>",
        f"<footer>Written by {_e(tool)}. {_e(RESULTS_JSON)} beside this file holds every figure.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
