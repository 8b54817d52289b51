"""`rest`: one ``PATCH /sobjects/{Object}/{Id}`` per record (204 on success).

The most expensive strategy in API calls (exactly one per record) and the simplest; it is the baseline
the others are measured against. With `concurrency` > 1 a thread pool sends requests over the one pooled
keep-alive session; at most ``2 x concurrency`` requests are in flight or waiting, so memory does not grow
with the number of records. Outcomes are reported from the main thread as requests finish.

A PATCH sets fixed values, so the transport may retry it after a 5xx or a dropped connection. When every
attempt lost its answer, the record is read back (`strategies.readback`): holding the values sent, it
succeeded; otherwise it was not applied.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import quote

from .base import CallEstimate, RunContext, UpdateStrategy
from .errors import ConfigurationError
from .meter import FAMILY_REST
from .readback import settle_lost_answer
from .records import Row
from .sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome
from .transport import rest_errors


class RestStrategy(UpdateStrategy):
    """Per-record REST PATCH. Formula: ``dml = N``."""

    name: ClassVar[str] = "rest"
    family: ClassVar[str] = FAMILY_REST

    def __init__(self, session: Any, *, concurrency: int = 1, **common: Any) -> None:
        super().__init__(session, **common)
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        self.concurrency = concurrency

    @classmethod
    def api_calls(cls, n_records: int, **_options: Any) -> CallEstimate:
        return CallEstimate({"dml": n_records} if n_records else {})

    def _resume_options(self) -> dict[str, Any]:
        return {**super()._resume_options(), "concurrency": self.concurrency}

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        with self.session.phase("dml"):
            if self.concurrency == 1 or second_pass:  # the second pass is serial on purpose
                for row in rows:
                    chunk, step = run.track("dml", [row])
                    try:
                        outcome = self._patch(sobject, row)
                    except BaseException as exc:
                        self._lost(sobject, row, chunk, step, run, exc)
                        raise
                    run.settle(step)
                    run.outcome(outcome, row[1])
                    run.release(chunk)
            else:
                self._submit_concurrently(sobject, rows, run)

    def _lost(
        self, sobject: str, row: Row, chunk: str | None, step: int | None, run: RunContext, exc: BaseException
    ) -> None:
        """The PATCH got no answer after the transport's retries: read the record back (see `readback`)."""
        run.settle(step, "failed")
        if settle_lost_answer(self.session, sobject, [row], run, exc):
            run.release(chunk)

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

    def _submit_concurrently(self, sobject: str, rows: Iterable[Row], run: RunContext) -> None:
        limit = 2 * self.concurrency
        inflight: dict[cf.Future[RecordOutcome], _InFlight] = {}
        fatal: BaseException | None = None
        with cf.ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sfh-rest") as pool:
            try:
                for row in rows:
                    chunk, step = run.track("dml", [row])  # the journal is written from this thread only
                    inflight[pool.submit(self._patch, sobject, row)] = (row, chunk, step)
                    if len(inflight) >= limit:
                        done, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
                        fatal = self._collect(sobject, done, inflight, run)
                        if fatal is not None:
                            break
            except BaseException as exc:  # Ctrl-C while waiting: stop queuing, settle what is in flight
                fatal = exc
            if fatal is not None:  # stopping: requests not started yet are not sent at all
                for future in inflight:
                    future.cancel()
            done, _ = cf.wait(inflight)
            first = self._collect(sobject, done, inflight, run)
            fatal = fatal or first
        if fatal is not None:
            raise fatal

    def _collect(
        self,
        sobject: str,
        done: Iterable[cf.Future[RecordOutcome]],
        inflight: dict[cf.Future[RecordOutcome], _InFlight],
        run: RunContext,
    ) -> BaseException | None:
        """Report finished requests; a request that raised is settled by reading its record back, and stops
        the run."""
        fatal: BaseException | None = None
        for future in done:
            row, chunk, step = inflight.pop(future)
            number, record = row
            if future.cancelled():
                run.settle(step, "failed")
                run.outcome(
                    RecordOutcome(number, record.get("Id"), UNPROCESSED, "NOT_SENT", "not sent: the run stopped")
                )
                run.release(chunk)
                continue
            exc = future.exception()
            if exc is None:
                run.settle(step)
                run.outcome(future.result(), record)
                run.release(chunk)
                continue
            self._lost(sobject, row, chunk, step, run, exc)
            fatal = fatal or exc
        return fatal


_InFlight = tuple[Row, "str | None", "int | None"]
"""A request in flight: its row, and its journal chunk and step (None without a journal)."""
