"""How every view of the harness writes a figure, in one place.

The console, report.md, report.html, bench.md, a recommendation's reason and the plan table all show the
same numbers, and a user checks one against another: a reason that says "0.546 s" must match the table's
"0.546". So counts always carry thousands separators (1,000, as the tables do), times and sizes have one
precision, and an unknown figure is a dash, never a zero.
"""

from __future__ import annotations

DASH = "–"  # a figure that is not known (e.g. the org's own counter on a real org)


def count(value: int | None) -> str:
    """A whole number with thousands separators: 1,000,000."""
    return DASH if value is None else f"{value:,}"


def counted(value: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun: "1 API call", "1,000 API calls", "2 batches"."""
    return f"{value:,} {noun if value == 1 else (plural or noun + 's')}"


def seconds(value: float | None) -> str:
    """A time in seconds as the tables show it: 0.043, 1.23, 12.3, 1,234 (three significant figures,
    milliseconds at most, never scientific notation)."""
    if value is None:
        return DASH
    if value <= 0:
        return "0"
    if value < 1:
        return f"{value:.3f}" if value >= 0.001 else "<0.001"
    if value < 100:
        return f"{value:#.3g}".rstrip(".")
    return f"{value:,.0f}"


def duration(value: float) -> str:
    """A time for a sentence: "2.82 s" (the table's figure) up to ten minutes, then "12 min 5 s", "3 h 20 min"."""
    if value < 600:
        return f"{seconds(value)} s"
    minutes, secs = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:,} h {minutes} min" if hours else f"{minutes} min {secs} s"


def megabytes(value: float | None) -> str:
    """Memory in MB, one decimal: 71.1, 1,024.0."""
    return DASH if value is None else f"{value:,.1f}"


def rate(value: float | None) -> str:
    """Records per second: whole above 10 (18,325), one decimal below (3.5)."""
    if value is None:
        return DASH
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def ratio(value: float | None) -> str:
    """Ours / theirs: 0.17×, 1.65×, 1,234×."""
    if value is None:
        return DASH
    return f"{value:.2f}×" if value < 100 else f"{value:,.0f}×"


def figure(value: float | None) -> str:
    """Any other measured figure: whole numbers as counts, others with two decimals (1,234.57)."""
    if value is None:
        return DASH
    return count(int(value)) if float(value).is_integer() else f"{value:,.2f}"
