"""Finding the job a create request made when its answer was lost (Bulk 2.0 and Bulk 1.0 alike).

Neither Bulk API lets a client tag a job, so the job is recognised by what the request asked for and when:
Bulk 2.0's Get All Jobs (``GET /jobs/ingest``, which lists Bulk 1.0 jobs too, as ``jobType`` ``Classic``)
filtered to Open jobs of the run's operation (``update`` or ``upsert``) on the object, of the API the run uses, that the run does not know,
created (by the org's clock: each page's HTTP ``Date`` header less the time elapsed on ours since the
request was sent, so the two clocks need not agree) no earlier than the request. One candidate is the
orphan; several (another client creating the same kind of job at the same moment) are left alone. An
orphan of a plain create holds no data: the client never learnt its id, so it never uploaded anything into
it. A Bulk 2.0 create that carried its data (multipart) leaves a job that is closed and holds the data: it
is looked for in the states past Open, and when found it is the run's job, waited for and collected.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Collection
from email.utils import parsedate_to_datetime
from typing import Any

from .meter import FAMILY_BULK2

_ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T")

CLOCK_SLACK = 1.0
"""Seconds of slack for a ``createdDate`` the org writes to the whole second (``...:36.000+0000``). The
``Date`` header is whole seconds too, but it can only make the window wider, as can the time the list
request spends in flight."""


def find_orphans(
    session: Any,
    *,
    sobject: str,
    job_type: str,
    known: Collection[str],
    asked_at: float,
    states: Collection[str] = ("Open",),
    operation: str = "update",
) -> list[str]:
    """Ids of the jobs that may be the one a create request sent at `asked_at` (epoch seconds) made.

    `states`: what such a job can be in by now: Open for a plain create (nothing was uploaded), any state
    past Open for a Bulk 2.0 create with its data (the org closed it itself and may have run it already)."""
    url: str | None = session.rest_url(f"jobs/ingest?jobType={job_type}")
    found: list[str] = []
    while url:
        response = session.request("GET", url, family=FAMILY_BULK2)
        server_now = server_time(response.headers.get("Date"))
        body = response.json()
        since = None if server_now is None else server_now - (time.time() - asked_at) - CLOCK_SLACK
        for info in body.get("records", []):
            created = server_time(str(info.get("createdDate") or ""))
            if (
                info.get("state") in states
                and info.get("object") == sobject
                and info.get("operation") == operation
                and info.get("jobType", job_type) == job_type
                and info.get("id") not in known
                and (since is None or created is None or created >= since)
            ):
                found.append(str(info["id"]))
        following = body.get("nextRecordsUrl")
        url = session.rest_url(str(following)) if following and not body.get("done", True) else None
    return found


def listed_candidates(
    session: Any,
    run: Any,
    *,
    sobject: str,
    job_type: str,
    asked_at: float,
    states: Collection[str] = ("Open",),
) -> list[str] | None:
    """`find_orphans` for a run (`base.RunContext`): its known jobs and operation, the list read in the
    ``resolve`` phase; None, with a note on the run, when the org's job list cannot be read (the caller
    then leaves the job it cannot find alone)."""
    try:
        with session.phase("resolve"):
            return find_orphans(
                session,
                sobject=sobject,
                job_type=job_type,
                known=run.summary.job_ids,
                asked_at=asked_at,
                states=states,
                operation=run.operation.name,
            )
    except Exception as exc:
        run.note(f"could not list jobs to find one whose creation answer was lost ({type(exc).__name__})")
        return None


def server_time(text: str | None) -> float | None:
    """A time the org wrote (an HTTP ``Date`` header, or a job's ``createdDate``) as epoch seconds."""
    if not text:
        return None
    try:
        if _ISO_STAMP.match(text):  # not a bare "T" test: an HTTP date ends in "GMT"
            cleaned = text.replace("Z", "+00:00")
            if cleaned[-5] in "+-" and cleaned[-3] != ":":
                cleaned = cleaned[:-2] + ":" + cleaned[-2:]
            return datetime.datetime.fromisoformat(cleaned).timestamp()
        return parsedate_to_datetime(text).timestamp()
    except (ValueError, TypeError, IndexError):
        return None


__all__ = ["find_orphans", "server_time"]
