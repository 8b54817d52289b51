"""Live progress: drawn on a terminal from what the run already sees (no extra request), never when piped
or under --json, and without colour under NO_COLOR."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from harness import output
from harness.cli import app
from harness.progress import RunWatch, new_progress
from strategies.sinks import MemorySink, RecordOutcome

runner = CliRunner()


def _input(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "Tweets__c"])
        writer.writerows([rid, i] for i, rid in enumerate(ids))
    return path


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as a 120-column terminal, recorded."""
    screen = io.StringIO()
    monkeypatch.setattr(output, "err_console", Console(file=screen, force_terminal=True, width=120))
    return screen


@pytest.mark.parametrize("strategy", ["collections", "bulk2-csv"])
def test_progress_on_a_terminal_shows_records_requests_and_the_job(org, tmp_path, terminal, fast_polls, strategy):
    ids = org.admin.seed("Byline__c", 300, return_ids=True)["ids"]
    used = org.admin.usage()["DailyApiRequests"]["used"]
    result = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            strategy,
            "-s",
            "Byline__c",
            "-f",
            str(_input(tmp_path, ids)),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    screen = terminal.getvalue()
    assert f"{strategy} Byline__c" in screen and "300/300" in screen  # the last frame; earlier ones depend on timing
    calls = org.admin.usage()["DailyApiRequests"]["used"] - used
    assert f"{calls - 3} req" in screen  # the run's own: the org look-up, describe and /limits came before it
    if strategy == "bulk2-csv":
        assert "job JobComplete" in screen
    assert "\x1b[3" in screen  # coloured


def test_no_color_drops_the_colours(org, tmp_path, monkeypatch, fast_polls):
    monkeypatch.setenv("NO_COLOR", "1")
    screen = io.StringIO()
    monkeypatch.setattr(output, "err_console", Console(file=screen, force_terminal=True, width=120))
    ids = org.admin.seed("Byline__c", 10, return_ids=True)["ids"]
    result = runner.invoke(
        app,
        [
            "update",
            "--strategy",
            "composite",
            "-s",
            "Byline__c",
            "-f",
            str(_input(tmp_path, ids)),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0
    assert "10/10" in screen.getvalue() and "\x1b[3" not in screen.getvalue()


def test_quiet_when_piped_or_json(org, tmp_path, fast_polls, terminal, monkeypatch):
    ids = org.admin.seed("Byline__c", 10, return_ids=True)["ids"]
    args = [
        "update",
        "--strategy",
        "composite",
        "-s",
        "Byline__c",
        "-f",
        str(_input(tmp_path, ids)),
        "--out",
        str(tmp_path / "out"),
    ]
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0 and terminal.getvalue() == ""  # a terminal, but --json: nothing drawn
    json.loads(as_json.stdout)
    pipe = io.StringIO()
    monkeypatch.setattr(output, "err_console", Console(file=pipe, force_terminal=False))
    piped = runner.invoke(app, args)
    assert piped.exit_code == 0 and pipe.getvalue() == ""  # not a terminal: nothing drawn


def test_the_figures_between_frames():
    """What a frame shows part-way: records sent while below the total, outcomes, failures, the job's state."""
    progress = new_progress(transient=True)
    watch = RunWatch(progress, "bulk2-csv Byline__c", 1000)
    sink = watch.sink(MemorySink())
    records = iter(watch.records([{"Id": str(i)} for i in range(600)]))
    for _ in range(500):
        next(records)
    sink.write(RecordOutcome(1, "a", "succeeded"))
    sink.write(RecordOutcome(2, "b", "failed", "FIELD_CUSTOM_VALIDATION_EXCEPTION"))
    watch.jobs["7505g0000000001AAA"] = ("InProgress", 400)
    watch.refresh()
    task = progress.tasks[0]
    assert task.completed == 400 and task.fields["detail"] == "400/1,000 · sent 500 · failed 1 · job InProgress"
