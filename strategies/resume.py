"""Resuming a journaled run from its state directory alone: `resume_run(state_dir, session, sink)`.

The journal (`strategies.journal`) names the strategy, the object, the options the run used and the
strategy an `auto` run delegated to; the strategy is rebuilt from it and its `resume_run` completes the
run: outcomes already known are written to `sink` again, rows in doubt are resolved against the org, and
rows never sent are sent. A job id alone (a job started elsewhere) is still resumed by the Bulk
strategies' `resume(job_id, sink)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .journal import RunJournal
from .registry import get
from .sinks import ResultSink
from .summary import RunSummary
from .transport import OrgSession


def journaled_strategy(state_dir: str | Path) -> tuple[str, dict[str, Any]]:
    """(strategy name, constructor options) of the run journaled in `state_dir`."""
    if not RunJournal.exists(state_dir):
        raise ConfigurationError(f"no run journal in {state_dir}")
    journal = RunJournal(state_dir)
    try:
        meta = journal.meta()
    finally:
        journal.close()
    if "strategy" not in meta:
        raise ConfigurationError(f"the journal in {state_dir} names no run")
    name = str(meta.get("runs_as") or meta["strategy"])
    options = dict(meta.get("options") or {})
    if meta["strategy"] == "auto":
        chosen = options.pop("composite_options" if name == "composite" else "bulk2_options", {}) or {}
        options.pop("bulk2_options", None)
        options.pop("composite_options", None)
        options.update(chosen)
    return name, options


def resume_run(state_dir: str | Path, session: OrgSession, sink: ResultSink, **options: Any) -> RunSummary:
    """Complete the run journaled in `state_dir`; `options` override the journaled strategy options (e.g.
    a `poll_policy`). Raises `RunFailed` / `RunInterrupted` like `update`, with a summary of every row."""
    name, saved = journaled_strategy(state_dir)
    strategy = get(name, session, state_dir=state_dir, **{**saved, **options})
    try:
        return strategy.resume_run(sink)
    finally:
        strategy.close()


__all__ = ["journaled_strategy", "resume_run"]
