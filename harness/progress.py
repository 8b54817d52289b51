"""Live progress of a run on a terminal: records, requests, the bulk job's state and processed count, ETA.

Why it watches rather than asks: every figure shown is one the run already has, so progress costs no API
call. Requests come from the session's `Meter`; outcomes from a sink wrapper; records handed to the
strategy from a wrapper around the input; a Bulk job's state and processed count from the job-info
responses the strategy's own poller receives (a `requests` response hook on the run's session: no change
to the strategies and no extra request).

Quiet when stderr is not a terminal (piped, redirected, CI) and under `--json`; colours follow rich,
which honours NO_COLOR.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import defusedxml.ElementTree as SafeET
import requests
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from strategies.sinks import RecordOutcome, ResultSink, SuccessRows, write_successes
from strategies.transport import OrgSession

from . import output

_BULK2_JOB = re.compile(r"/services/data/v[\d.]+/jobs/ingest/(?P<id>[A-Za-z0-9]{15,18})$")
_BULK1_JOB = re.compile(r"/services/async/[\d.]+/job/(?P<id>[A-Za-z0-9]{15,18})$")


def enabled() -> bool:
    """Progress is drawn only for a person: stderr is a terminal and the output is not JSON."""
    return not output.current().json and output.err_console.is_terminal


def new_progress(*, transient: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=16),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(compact=True),
        TextColumn("{task.fields[detail]}"),
        console=output.err_console,
        transient=transient,
        disable=not enabled(),
    )


class RunWatch:
    """The figures of one run, kept current from what the run sees, shown as one task of `progress`."""

    def __init__(self, progress: Progress, description: str, total: int | None) -> None:
        self.progress = progress
        self.total = total
        self.task: TaskID = progress.add_task(description, total=total, detail="")
        self.session: OrgSession | None = None
        self.handed = 0  # records the strategy pulled from the input in its current pass
        self.done = 0  # records with a final outcome
        self.failed = 0
        self.jobs: dict[str, tuple[str, int]] = {}  # job id -> (state, processed)
        self._requests_before = 0
        self._lock = threading.Lock()

    # -- what the run sees ---------------------------------------------------------------------------------
    def attach(self, session: OrgSession) -> OrgSession:
        """Count this session's requests from now on and read the job-info answers it receives."""
        self.session = session
        self._requests_before = session.meter.total
        session.http.hooks["response"].append(self._on_response)
        return session

    def records(self, records: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        return _Counted(records, self)

    def sink(self, inner: ResultSink) -> ResultSink:
        return _WatchedSink(inner, self)

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        if request.method != "GET" or response.status_code != 200 or not request.url:
            return
        path = request.url.split("?", 1)[0]
        for pattern, reader in ((_BULK2_JOB, _bulk2_info), (_BULK1_JOB, _bulk1_info)):
            match = pattern.search(path)
            if match:
                try:
                    state, processed = reader(response)
                except (ValueError, SafeET.ParseError, KeyError, TypeError):
                    return
                with self._lock:
                    self.jobs[match.group("id")] = (state, processed)
                self.refresh()
                return

    # -- display -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        with self._lock:
            processed = sum(p for _s, p in self.jobs.values())
            job = next(reversed(self.jobs.items()), None) if self.jobs else None
            completed = max(self.done, processed)
            total = self.total
            parts = [f"{completed:,}/{total:,}" if total else f"{completed:,} done"]
            if self.handed and self.handed != total:
                parts.append(f"sent {self.handed:,}")
            if self.failed:
                parts.append(f"failed {self.failed:,}")
            if self.session is not None:
                parts.append(f"{self.session.meter.total - self._requests_before:,} req")
            if job is not None:
                parts.append(f"job {job[1][0]}")
        self.progress.update(self.task, completed=completed, detail=" · ".join(parts))

    def describe(self, description: str) -> None:
        self.progress.update(self.task, description=description)


class _Counted:
    """The input, counting what the strategy pulls (a new pass, e.g. after validation, starts again at 0)."""

    def __init__(self, records: Iterable[dict[str, Any]], watch: RunWatch) -> None:
        self.records = records
        self.reader = records
        """The rows pass unchanged: a strategy may read the input's columns from it (`records.file_columns`)."""
        self.watch = watch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        watch = self.watch
        watch.handed = 0
        for n, record in enumerate(self.records, start=1):
            watch.handed = n
            if n % 500 == 0:
                watch.refresh()
            yield record
        watch.refresh()


class _WatchedSink:
    def __init__(self, inner: ResultSink, watch: RunWatch) -> None:
        self.inner = inner
        self.watch = watch

    def write(self, outcome: RecordOutcome) -> None:
        self.inner.write(outcome)
        watch = self.watch
        watch.done += 1
        if outcome.status == "failed":
            watch.failed += 1
        if watch.done % 200 == 0:
            watch.refresh()

    def write_succeeded(self, rows: SuccessRows) -> None:
        write_successes(self.inner, rows)
        self.watch.done += len(rows)
        self.watch.refresh()

    def close(self) -> None:
        self.inner.close()
        self.watch.refresh()


def _bulk2_info(response: requests.Response) -> tuple[str, int]:
    info = response.json()
    return str(info["state"]), int(info.get("numberRecordsProcessed") or 0)


def _bulk1_info(response: requests.Response) -> tuple[str, int]:
    if "json" in response.headers.get("Content-Type", ""):
        info = response.json()
        return str(info["state"]), int(info.get("numberRecordsProcessed") or 0)
    root = SafeET.fromstring(response.content)
    values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
    return values["state"], int(values.get("numberRecordsProcessed") or 0)
