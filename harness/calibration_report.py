"""The short human report `sfharness calibrate` prints and saves next to the profile it writes."""

from __future__ import annotations

from emulator.profiles import get_profile

from .calibration import CalibrationResult, PlanStep


def plan_lines(steps: list[PlanStep], max_calls: int) -> list[str]:
    total = sum(s.requests for s in steps)
    batches = sum(s.batches for s in steps)
    lines = [
        (
            f"Calibration will make at most {total:,} API requests (--max-calls {max_calls:,}) and use at most "
            f"{batches:,} Bulk batches:"
        )
    ]
    lines += [f"  {s.requests:>4,} requests{_batches(s.batches):<14}  {s.what}" for s in steps]
    return lines


def _batches(n: int) -> str:
    return f", {n} batch{'es' if n != 1 else ''}" if n else ""


def report_lines(result: CalibrationResult) -> list[str]:
    """Markdown: what counts, the timings with their spread, and how each differs from `realistic`."""
    realistic = get_profile("realistic")
    rr = realistic.counting
    p = result.profile
    spent = f"{result.requests:,} API requests"
    if result.calls_counted is not None:
        spent += f" (the org counted {result.calls_counted:,} calls and {result.batches_counted:,} Bulk batches)"
    lines = [
        f"# Org profile `{p.name}`",
        "",
        p.description,
        "",
        f"Spent {spent}, on {result.records:,} {result.records_mode} records ({result.org_kind} org).",
        "",
        "## Which requests count",
        "",
        "| request kind | calls measured | realistic | note |",
        "|---|---|---|---|",
    ]
    for c in result.counting:
        if c.kind == "bulk2_parent_batches":
            default = rr.bulk2_parent_batches
        elif c.kind == "rest.composite_batch":
            default = rr.composite_batch_total(2)
        else:
            default = rr.calls(c.kind)
        measured = "?" if c.calls is None else str(c.calls)
        flag = " **differs**" if c.calls is not None and c.calls != default else ""
        lines.append(f"| `{c.kind}` | {measured}{flag} | {default} | {c.note} |")
    lag = "not seen" if result.lag_s is None else f"{result.lag_s:.2f} s"
    lines += [
        "",
        (
            f"Composite Batch: `{p.counting.composite_batch_calls}` (realistic `{rr.composite_batch_calls}`); "
            f"Sforce-Limit-Info and /limits lag: {lag} (realistic {rr.usage_report_lag_s:g} s)."
        ),
        "",
        "## Timings",
        "",
        "| field | measured | spread | samples | realistic | measured / realistic |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in result.timings.items():
        default = getattr(realistic.timings, name)
        spread = f"{m.spread[0]:.3g}–{m.spread[1]:.3g}" if m.spread else "—"
        ratio = f"{m.value / default:.2f}" if default else "—"
        lines.append(
            f"| `{name}` | {m.value:.3g} {m.unit} | {spread} | {len(m.samples) or 1} | {default:g} {m.unit} | {ratio} |"
        )
    if any(n.startswith("bulk") and n.endswith("per_record_ms") for n in result.timings):
        lines += [
            "",
            "A Bulk family's per-record figure includes its per-transaction cost (`chunk_overhead_ms` is written as 0).",
        ]
    if result.not_measured:
        lines += ["", "## Not measured (realistic's values kept)", "", ", ".join(f"`{n}`" for n in result.not_measured)]
    if result.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in result.notes)]
    return lines
