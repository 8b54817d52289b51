"""`rest`: one ``PATCH /sobjects/{Object}/{Id}`` per record (204 on success).

The most expensive strategy in API calls (exactly one per record) and the simplest; it is the baseline
the others are measured against. With `concurrency` > 1 requests go out that many at a time over the one
pooled keep-alive session (`concurrency.send_all`: a bounded window, outcomes reported from the run's
thread as requests finish).

A PATCH sets fixed values, so the transport may retry it after a 5xx or a dropped connection. When every
attempt lost its answer, the record is read back (`strategies.readback`): holding the values sent, it
succeeded; otherwise it was not applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import quote

from .base import CallEstimate, RunContext, UpdateStrategy
from .concurrency import Report, check_concurrency, send_all
from .meter import FAMILY_REST
from .readback import settle_lost_answer
from .records import Row
from .sinks import FAILED, SUCCEEDED, RecordOutcome
from .transport import rest_errors


class RestStrategy(UpdateStrategy):
    """Per-record REST PATCH. Formula: ``dml = N``."""

    name: ClassVar[str] = "rest"
    family: ClassVar[str] = FAMILY_REST
    default_concurrency: ClassVar[int] = 1
    """One request at a time unless asked: `rest` is the plain baseline the other strategies are measured
    against."""

    def __init__(self, session: Any, *, concurrency: int = default_concurrency, **common: Any) -> None:
        super().__init__(session, **common)
        self.concurrency = check_concurrency(concurrency)

    @classmethod
    def api_calls(cls, n_records: int, **_options: Any) -> CallEstimate:
        return CallEstimate({"dml": n_records} if n_records else {})

    def _resume_options(self) -> dict[str, Any]:
        return {**super()._resume_options(), "concurrency": self.concurrency}

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        def send(row: Row) -> Report:
            outcome = self._patch(sobject, row)
            return lambda: run.outcome(outcome, row[1])

        with self.session.phase("dml"):
            concurrency = 1 if second_pass else self.concurrency  # the second pass is serial on purpose
            send_all(
                run,
                rows,
                send,
                lambda row: (row,),
                concurrency=concurrency,
                on_lost=lambda lost, exc: settle_lost_answer(self.session, sobject, lost, run, exc),
            )

    def _patch(self, sobject: str, row: Row) -> RecordOutcome:
        number, record = row
        record_id = record.get("Id")
        body = {k: v for k, v in record.items() if k != "Id"}
        url = self.session.rest_url(f"sobjects/{sobject}/{quote(str(record_id or ''), safe='')}")
        response = self.session.request(
            "PATCH",
            url,
            family=FAMILY_REST,
            phase="dml",
            json_body=body,
            idempotent=True,
            raise_for_status=False,
            ok=(200, 204),
        )
        try:
            if response.status_code in (200, 204):
                return RecordOutcome(number, record_id, SUCCEEDED)
            error = (rest_errors(response) or [{}])[0]
            return RecordOutcome(
                number,
                record_id,
                FAILED,
                str(error.get("errorCode") or f"HTTP_{response.status_code}"),
                str(error.get("message") or ""),
                tuple(error.get("fields") or ()),
            )
        finally:
            response.close()
