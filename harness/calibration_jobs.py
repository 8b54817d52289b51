"""Bulk API 1.0 and 2.0 jobs one request at a time, for `sfharness calibrate`.

Calibration needs what the update strategies hide on purpose: each request on its own (so the counter
can be read between them), the server's own timestamps (the close answer's `systemModstamp`, a batch's
`createdDate`), and waits that are bounded by a number of status checks, so the calibration's budget is
known before it starts. Every request goes through the caller's `send`, which enforces that budget.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

import requests
from defusedxml.ElementTree import fromstring

from strategies.bulk1_xml import BULK1_NS
from strategies.meter import FAMILY_BULK1, FAMILY_BULK2
from strategies.polling import PollPolicy
from strategies.transport import OrgSession

BULK2_DONE = ("JobComplete", "Failed", "Aborted")
BULK1_BATCH_DONE = ("Completed", "Failed", "Not Processed", "NotProcessed")


class Send(Protocol):
    def __call__(self, method: str, url: str, *, family: str, **kw: Any) -> requests.Response: ...


@dataclass(frozen=True)
class JobTiming:
    """What one finished Bulk job says about the org's speed (seconds, server clock)."""

    records: int
    processed: int
    failed: int
    queue_s: float  # from the data being handed over until processing started
    processing_s: float  # the job's (or batch's) totalProcessingTime
    state: str


def parse_stamp(text: str) -> float:
    """`2026-11-24T10:00:01.250+0000` (or `...Z`) as seconds since the epoch."""
    cleaned = text.strip().replace("Z", "+0000")
    return dt.datetime.strptime(cleaned, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def wait(
    check: Callable[[], Any],
    done: Callable[[Any], bool],
    policy: PollPolicy,
    max_checks: int,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Any, int]:
    """Check after the policy's growing delays until `done`, at most `max_checks` times: (last answer, checks)."""
    answer = None
    checks = 0
    for delay in policy.delays():
        if checks >= max_checks:
            break
        sleep(delay)
        answer = check()
        checks += 1
        if done(answer):
            break
    return answer, checks


class Bulk2Job:
    """One Bulk API 2.0 ingest job, step by step."""

    def __init__(self, session: OrgSession, send: Send, sobject: str, operation: str = "update") -> None:
        self.session = session
        self.send = send
        self.sobject = sobject
        self.operation = operation
        self.job_id = ""
        self.closed_at: float | None = None  # server time of UploadComplete

    def _url(self, suffix: str = "") -> str:
        return self.session.rest_url(f"jobs/ingest/{self.job_id}{suffix}")

    def create(self) -> None:
        body = {"object": self.sobject, "operation": self.operation, "contentType": "CSV", "lineEnding": "LF"}
        self.job_id = self.send(
            "POST", self.session.rest_url("jobs/ingest"), family=FAMILY_BULK2, json_body=body
        ).json()["id"]

    def upload(self, csv_bytes: bytes) -> None:
        self.send(
            "PUT", self._url("/batches"), family=FAMILY_BULK2, data=csv_bytes, headers={"Content-Type": "text/csv"}
        )

    def close(self) -> None:
        info = self.send("PATCH", self._url(), family=FAMILY_BULK2, json_body={"state": "UploadComplete"}).json()
        self.closed_at = parse_stamp(info["systemModstamp"])

    def status(self) -> dict[str, Any]:
        return self.send("GET", self._url(), family=FAMILY_BULK2).json()

    def results(self, kind: str) -> bytes:
        """successfulResults, failedResults or unprocessedrecords, as CSV bytes."""
        return self.send("GET", self._url(f"/{kind}/"), family=FAMILY_BULK2).content

    def wait(self, policy: PollPolicy, max_checks: int) -> tuple[dict[str, Any], int]:
        info, checks = wait(self.status, lambda i: i["state"] in BULK2_DONE, policy, max_checks)
        return info or {}, checks

    def timing(self, info: dict[str, Any], records: int) -> JobTiming | None:
        """The job's queue wait and processing time, from its own timestamps (None until it is done)."""
        if info.get("state") not in BULK2_DONE or self.closed_at is None:
            return None
        processing = float(info.get("totalProcessingTime") or 0) / 1000.0
        queue = parse_stamp(info["systemModstamp"]) - self.closed_at - processing
        return JobTiming(
            records,
            int(info.get("numberRecordsProcessed") or 0),
            int(info.get("numberRecordsFailed") or 0),
            max(queue, 0.0),
            processing,
            info["state"],
        )


class Bulk1Job:
    """One Bulk API 1.0 job with one batch, step by step (XML)."""

    def __init__(self, session: OrgSession, send: Send, sobject: str, operation: str = "update") -> None:
        self.session = session
        self.send = send
        self.sobject = sobject
        self.operation = operation
        self.job_id = ""
        self.batch_id = ""

    def _post_xml(self, url: str, body: bytes) -> dict[str, str]:
        response = self.send(
            "POST", url, family=FAMILY_BULK1, data=body, headers={"Content-Type": "application/xml; charset=UTF-8"}
        )
        return _xml_fields(response.content)

    def create(self) -> None:
        doc = _job_document({"operation": self.operation, "object": self.sobject, "contentType": "XML"})
        self.job_id = self._post_xml(self.session.async_url("job"), doc)["id"]

    def upload(self, xml_bytes: bytes) -> None:
        self.batch_id = self._post_xml(self.session.async_url(f"job/{self.job_id}/batch"), xml_bytes)["id"]

    def close(self) -> None:
        self._post_xml(self.session.async_url(f"job/{self.job_id}"), _job_document({"state": "Closed"}))

    def job_status(self) -> dict[str, str]:
        return _xml_fields(self.send("GET", self.session.async_url(f"job/{self.job_id}"), family=FAMILY_BULK1).content)

    def batch_status(self) -> dict[str, str]:
        url = self.session.async_url(f"job/{self.job_id}/batch/{self.batch_id}")
        return _xml_fields(self.send("GET", url, family=FAMILY_BULK1).content)

    def batch_list(self) -> bytes:
        return self.send("GET", self.session.async_url(f"job/{self.job_id}/batch"), family=FAMILY_BULK1).content

    def result(self) -> bytes:
        url = self.session.async_url(f"job/{self.job_id}/batch/{self.batch_id}/result")
        return self.send("GET", url, family=FAMILY_BULK1).content

    def wait(self, policy: PollPolicy, max_checks: int) -> tuple[dict[str, str], int]:
        info, checks = wait(self.batch_status, lambda i: i.get("state") in BULK1_BATCH_DONE, policy, max_checks)
        return info or {}, checks

    @staticmethod
    def timing(info: dict[str, str], records: int) -> JobTiming | None:
        """The batch's queue wait (added until started) and processing time, from its own timestamps."""
        if info.get("state") not in BULK1_BATCH_DONE:
            return None
        processing = float(info.get("totalProcessingTime") or 0) / 1000.0
        queue = parse_stamp(info["systemModstamp"]) - parse_stamp(info["createdDate"]) - processing
        return JobTiming(
            records,
            int(info.get("numberRecordsProcessed") or 0),
            int(info.get("numberRecordsFailed") or 0),
            max(queue, 0.0),
            processing,
            info["state"],
        )


def _job_document(fields: dict[str, str]) -> bytes:
    """A Bulk 1.0 jobInfo document, written by a serializer."""
    buf = io.StringIO()
    gen = XMLGenerator(buf, encoding="UTF-8")
    gen.startDocument()
    gen.startElement("jobInfo", AttributesImpl({"xmlns": BULK1_NS}))
    for name, value in fields.items():
        gen.startElement(name, AttributesImpl({}))
        gen.characters(value)
        gen.endElement(name)
    gen.endElement("jobInfo")
    gen.endDocument()
    return buf.getvalue().encode("utf-8")


def _xml_fields(content: bytes) -> dict[str, str]:
    """The child elements of a jobInfo / batchInfo document by local name."""
    root = fromstring(content)
    return {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in root}
