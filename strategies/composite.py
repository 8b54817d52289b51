"""`composite`: one ``POST /composite`` carrying up to 5 sObject Collections subrequests of 200 records.

Salesforce counts a Composite request as one API call whatever its subrequests, and allows at most 5
Collections subrequests in it: 1,000 records per call, the fewest calls any synchronous REST path allows.
Formula: ``dml = ceil(N / (subrequests x batch_size))`` = ``ceil(N/1000)`` with the defaults.

Body::

    {"allOrNone": false, "compositeRequest": [
        {"method": "PATCH", "url": "/services/data/vXX.X/composite/sobjects", "referenceId": "chunk0",
         "body": {"allOrNone": false, "records": [...200...]}}, ... up to 5 ...]}

Answer: ``{"compositeResponse": [{"body": [...save results...], "httpStatusCode": 200, "referenceId":
"chunk0"}, ...]}``. Subresponses are matched to their rows by ``referenceId`` (not by position, since
Salesforce may collate them); a subrequest answered with a non-200 status (e.g. 400 ``PROCESSING_HALTED``)
fails every record it carried with that error. The request only sets fixed values, so the transport may
retry it after a 5xx or a dropped connection even though it is a POST.

Upsert (``operation="upsert"``): each subrequest is ``PATCH .../composite/sobjects/{Object}/{ExternalIdField}``
with the records' keys among their fields; its save results say ``created``. Same formula.

Up to `concurrency` requests are in flight at once (`concurrency.send_all`, where the default and its
reason are); the serial second pass for retryable failures sends one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from .base import CallEstimate, RunContext, UpdateStrategy, ceil_div, chunks_of, input_batches
from .concurrency import DEFAULT_BATCH_CONCURRENCY, Report, check_concurrency, send_all
from .errors import ConfigurationError
from .meter import FAMILY_REST
from .readback import settle_lost_answer
from .records import Row
from .sinks import UNPROCESSED, RecordOutcome
from .sobject_collections import (
    COLLECTIONS_MAX,
    collection_record,
    collections_path,
    report_chunk,
    report_refused,
    send_for_rows,
)

COMPOSITE_MAX_COLLECTIONS = 5


class CompositeStrategy(UpdateStrategy):
    """Composite of Collections subrequests, `concurrency` requests at once.
    Formula: ``dml = ceil(N / (subrequests x batch_size))``."""

    name: ClassVar[str] = "composite"
    family: ClassVar[str] = FAMILY_REST
    default_concurrency: ClassVar[int] = DEFAULT_BATCH_CONCURRENCY

    def __init__(
        self,
        session: Any,
        *,
        subrequests: int = COMPOSITE_MAX_COLLECTIONS,
        batch_size: int = COLLECTIONS_MAX,
        all_or_none: bool = False,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        **common: Any,
    ) -> None:
        super().__init__(session, **common)
        if not 1 <= subrequests <= COMPOSITE_MAX_COLLECTIONS:
            raise ConfigurationError(f"subrequests must be 1..{COMPOSITE_MAX_COLLECTIONS}")
        if not 1 <= batch_size <= COLLECTIONS_MAX:
            raise ConfigurationError(f"batch_size must be 1..{COLLECTIONS_MAX}")
        self.subrequests = subrequests
        self.batch_size = batch_size
        self.all_or_none = all_or_none
        self.concurrency = check_concurrency(concurrency)

    @classmethod
    def api_calls(
        cls,
        n_records: int,
        *,
        subrequests: int = COMPOSITE_MAX_COLLECTIONS,
        batch_size: int = COLLECTIONS_MAX,
        **_options: Any,
    ) -> CallEstimate:
        calls = ceil_div(n_records, subrequests * batch_size)
        return CallEstimate({"dml": calls} if calls else {})

    def _formula_options(self) -> dict[str, Any]:
        return {"subrequests": self.subrequests, "batch_size": self.batch_size}

    def _resume_options(self) -> dict[str, Any]:
        return {**super()._resume_options(), **self._formula_options(), "all_or_none": self.all_or_none}

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        url = self.session.rest_url("composite")
        operation = self.operation
        sub_url = f"/services/data/v{self.session.api_version}/{collections_path(sobject, operation)}"

        def send(group: list[Row]) -> Report:
            parts = {f"chunk{i}": part for i, part in enumerate(chunks_of(group, self.batch_size))}
            body = {
                "allOrNone": self.all_or_none,
                "compositeRequest": [
                    {
                        "method": "PATCH",
                        "url": sub_url,
                        "referenceId": ref,
                        "body": {
                            "allOrNone": self.all_or_none,
                            "records": [collection_record(sobject, r, operation) for _, r in part],
                        },
                    }
                    for ref, part in parts.items()
                ],
            }
            return send_for_rows(
                self.session, "POST", url, body, group, run, lambda payload: self._report(run, parts, payload)
            )

        with self.session.phase("dml"):
            concurrency = 1 if second_pass else self.concurrency  # the second pass is serial on purpose
            batches = input_batches(rows, self.subrequests * self.batch_size, run)
            send_all(
                run,
                batches,
                send,
                lambda group: group,
                concurrency=concurrency,
                on_lost=lambda lost, exc: settle_lost_answer(self.session, sobject, lost, run, exc),
            )

    @staticmethod
    def _report(run: RunContext, parts: dict[str, list[Row]], payload: Any) -> None:
        subresponses = payload.get("compositeResponse", []) if isinstance(payload, Mapping) else []
        seen: set[str] = set()
        for sub in subresponses:
            ref = sub.get("referenceId") if isinstance(sub, Mapping) else None
            if ref not in parts or ref in seen:
                continue
            seen.add(ref)
            rows = parts[ref]
            status = int(sub.get("httpStatusCode") or 0)
            body = sub.get("body")
            if status == 200:
                report_chunk(run, rows, body)
            else:
                errors = [dict(e) for e in body if isinstance(e, Mapping)] if isinstance(body, list) else []
                report_refused(run, rows, status, errors)
        for ref, rows in parts.items():
            if ref not in seen:
                for number, record in rows:
                    run.outcome(
                        RecordOutcome(number, record.get("Id"), UNPROCESSED, "NO_RESULT", f"no subresponse for {ref}")
                    )
