"""Small SVG line charts on log-log axes, for the self-contained HTML report.

Why hand-written: `report.html` must open offline, from a file, on any machine (no CDN, no script, no
network), and the project takes no plotting dependency for two charts. Record volumes and API calls span
decades (100 to 1,000,000 records; 1 to thousands of calls), so both axes are logarithmic with a labelled
tick at every power of ten.

The output is plain SVG markup; every text is escaped, since strategy names are data. Styling is done
with presentation attributes rather than CSS classes so that a chart also stands alone as an .svg file
(`standalone=True` adds the XML namespace that a file, unlike inline HTML5, needs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["MARKERS", "PALETTE", "Series", "decade_bounds", "format_tick", "format_value", "loglog_chart"]

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then a few more.
#: Yellow is left out: it vanishes on white.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#8C564B",  # brown
    "#7F7F7F",  # grey
    "#BCBD22",  # olive
)

#: Marker shapes, cycled alongside the colours so series stay apart where colours do not (print, greyscale).
MARKERS: tuple[str, ...] = ("circle", "square", "diamond", "triangle")

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


@dataclass(frozen=True)
class Series:
    """One line: a name (shown in the legend and tooltips) and its (x, y) points.

    `dashed` draws the line dashed: the report uses it for third-party baselines, so they read as
    reference lines. `label` overrides the legend text (e.g. "simple-salesforce (baseline)").
    """

    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False
    label: str | None = None

    @property
    def legend(self) -> str:
        return self.label if self.label is not None else self.name

    def plottable(self) -> list[tuple[float, float]]:
        """Points a log axis can show (positive and finite), sorted by x so the line runs left to right."""
        return sorted(
            (float(x), float(y))
            for x, y in self.points
            if x is not None and y is not None and math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0
        )


def decade_bounds(values: Sequence[float]) -> tuple[int, int]:
    """The exponents of the powers of ten just enclosing `values` (at least one decade apart).

    Whole decades keep every gridline a round number. A single value sitting on a power of ten gets a
    decade either side, so it is drawn inside the plot rather than on its frame.
    """
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return 0, 1
    lo = math.floor(math.log10(min(positive)) + 1e-9)
    hi = math.ceil(math.log10(max(positive)) - 1e-9)
    if hi <= lo:
        if math.isclose(min(positive), 10.0**lo) and math.isclose(max(positive), 10.0**lo):
            return lo - 1, lo + 1
        hi = lo + 1
    return lo, hi


def format_tick(value: float) -> str:
    """A short axis label: 0.01, 0.5, 1, 20, 1k, 50k, 1M (ticks are 1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return "0"
    for divisor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= divisor:
            return f"{value / divisor:g}{suffix}"
    if value >= 1:
        return f"{value:g}"
    digits = max(0, -math.floor(math.log10(value)))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def format_value(value: float) -> str:
    """A data value for a tooltip: integers with thousands separators, others to three significant digits."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _marker(shape: str, x: float, y: float, color: str, tooltip: str) -> str:
    size = 4.5
    common = f'fill="{color}" stroke="#ffffff" stroke-width="1.2"'
    title = f"<title>{escape(tooltip)}</title>"
    if shape == "square":
        s = size * 0.85
        return f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" {common}>{title}</rect>'
    if shape == "diamond":
        s = size * 1.2
        pts = f"{x:.1f},{y - s:.1f} {x + s:.1f},{y:.1f} {x:.1f},{y + s:.1f} {x - s:.1f},{y:.1f}"
        return f'<polygon points="{pts}" {common}>{title}</polygon>'
    if shape == "triangle":
        s = size * 1.2
        pts = f"{x:.1f},{y - s:.1f} {x + s:.1f},{y + s * 0.8:.1f} {x - s:.1f},{y + s * 0.8:.1f}"
        return f'<polygon points="{pts}" {common}>{title}</polygon>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" {common}>{title}</circle>'


def _ticks(lo: int, hi: int) -> tuple[list[float], list[float]]:
    """Major ticks at each power of ten; minor ticks at 2..9 times it (labelled 2 and 5 on narrow ranges).

    Returns (labelled, unlabelled). Over many decades the minor ticks would be clutter, so they go.
    """
    majors = [10.0**e for e in range(lo, hi + 1)]
    decades = hi - lo
    labelled = list(majors)
    minors: list[float] = []
    if decades <= 6:
        for e in range(lo, hi):
            for k in range(2, 10):
                (labelled if decades <= 2 and k in (2, 5) else minors).append(k * 10.0**e)
    return sorted(labelled), minors


def loglog_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    chart_id: str = "chart",
    width: int = 600,
    plot_height: int = 300,
    standalone: bool = False,
) -> str:
    """An SVG line chart with logarithmic x and y axes: one polyline and markers per series, and a legend.

    Colours and marker shapes follow the order of `series`, so pass series in the same order to every
    chart of a report and a strategy keeps its look throughout. Series without a plottable point still
    appear in the legend, marked "no data", so a strategy that crashed everywhere is not silently missing.
    `chart_id` prefixes the ids of the <title>/<desc> elements; it must be unique within the page.
    """
    plotted = [(s, s.plottable()) for s in series]
    xs = [x for _, pts in plotted for x, _ in pts]
    ys = [y for _, pts in plotted for _, y in pts]
    x_lo, x_hi = decade_bounds(xs)
    y_lo, y_hi = decade_bounds(ys)

    # Layout: room on the left for y tick labels and the rotated axis title; the legend goes under the
    # plot in as many columns as fit, so the plot keeps the full width however long the names are.
    left, right, top = 64, 16, 40
    pw, ph = width - left - right, plot_height
    legend_chars = min(max((len(s.legend) for s in series), default=8), 34)
    column_w = 44 + legend_chars * 6.8
    columns = max(1, min(len(series), int(pw // column_w)))
    column_w = pw / columns
    legend_top = top + ph + 62
    height = legend_top + math.ceil(len(series) / columns) * 20 + 8

    def px(x: float) -> float:
        return left + (math.log10(x) - x_lo) / (x_hi - x_lo) * pw

    def py(y: float) -> float:
        return top + ph - (math.log10(y) - y_lo) / (y_hi - y_lo) * ph

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    names = ", ".join(s.legend for s in series) or "none"
    desc = (
        f"Line chart, logarithmic axes. X: {x_label}, {format_tick(10.0**x_lo)} to {format_tick(10.0**x_hi)}. "
        f"Y: {y_label}, {format_tick(10.0**y_lo)} to {format_tick(10.0**y_hi)}. Series: {names}."
    )
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out: list[str] = [
        (
            f'<svg{ns} id="{escape(chart_id)}" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-labelledby="{escape(title_id)} {escape(desc_id)}" '
            f'font-family="{escape(FONT)}" font-size="13">'
        ),
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="24" font-size="15" font-weight="600" fill="#1f2328">{escape(title)}</text>',
    ]

    # Grid and tick labels.
    out.append('<g aria-hidden="true">')
    for ticks_of, to_px, vertical in ((_ticks(x_lo, x_hi), px, True), (_ticks(y_lo, y_hi), py, False)):
        labelled, minors = ticks_of
        for value in minors:
            out.append(_gridline(to_px(value), vertical, left, top, pw, ph, "#eef1f4"))
        for value in labelled:
            pos = to_px(value)
            major = math.isclose(math.log10(value), round(math.log10(value)))
            out.append(_gridline(pos, vertical, left, top, pw, ph, "#d0d7de" if major else "#e4e8ec"))
            weight = ' font-weight="600"' if major else ""
            if vertical:
                out.append(
                    f'<text x="{pos:.1f}" y="{top + ph + 18}" text-anchor="middle" fill="#57606a"{weight}>'
                    f"{escape(format_tick(value))}</text>"
                )
            else:
                out.append(
                    f'<text x="{left - 8}" y="{pos + 4:.1f}" text-anchor="end" fill="#57606a"{weight}>'
                    f"{escape(format_tick(value))}</text>"
                )
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#57606a" stroke-width="1"/>')
    out.append(
        f'<text x="{left + pw / 2:.1f}" y="{top + ph + 40}" text-anchor="middle" fill="#1f2328">'
        f"{escape(x_label)}</text>"
    )
    cy = top + ph / 2
    out.append(
        f'<text x="18" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 18 {cy:.1f})" fill="#1f2328">'
        f"{escape(y_label)}</text>"
    )
    out.append("</g>")

    if not xs:
        out.append(
            f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" text-anchor="middle" fill="#57606a">No data</text>'
        )

    # Series: lines first, then all markers, so no line is drawn over another series' marker.
    lines: list[str] = []
    markers: list[str] = []
    for i, (s, pts) in enumerate(plotted):
        color, shape = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        if not pts:
            continue
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        lines.append(
            f'<polyline class="series" data-series="{escape(s.name)}" points="{coords}" fill="none" '
            f'stroke="{color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"{dash}>'
            f"<title>{escape(s.legend)}</title></polyline>"
        )
        for x, y in pts:
            tip = f"{s.legend}: {format_value(x)} {x_label} → {format_value(y)} {y_label}"
            markers.append(_marker(shape, px(x), py(y), color, tip))
    out.extend(lines)
    out.extend(markers)

    # Legend.
    out.append(f'<g class="legend" transform="translate({left} {legend_top})">')
    for i, s in enumerate(series):
        color, shape = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        row, col = divmod(i, columns)
        x, y = col * column_w, row * 20
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        text = s.legend if len(s.legend) <= legend_chars else s.legend[: legend_chars - 1] + "…"
        if not plotted[i][1]:
            text += " (no data)"
        out.append(
            f'<g transform="translate({x:.1f} {y})"><title>{escape(s.legend)}</title>'
            f'<line x1="0" y1="0" x2="28" y2="0" stroke="{color}" stroke-width="2"{dash}/>'
            f"{_marker(shape, 14, 0, color, s.legend)}"
            f'<text x="36" y="4.5" fill="#1f2328">{escape(text)}</text></g>'
        )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _gridline(pos: float, vertical: bool, left: float, top: float, pw: float, ph: float, color: str) -> str:
    if vertical:
        return f'<line x1="{pos:.1f}" y1="{top}" x2="{pos:.1f}" y2="{top + ph}" stroke="{color}" stroke-width="1"/>'
    return f'<line x1="{left}" y1="{pos:.1f}" x2="{left + pw}" y2="{pos:.1f}" stroke="{color}" stroke-width="1"/>'
