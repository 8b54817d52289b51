"""`rest`: one ``PATCH /sobjects/{Object}/{Id}`` per record (204 on success).

The most expensive strategy in API calls (exactly one per record) and the simplest; it is the baseline
the others are measured against. With `concurrency` > 1 requests go out that many at a time over the one
pooled keep-alive session (`concurrency.send_all`: a bounded window, outcomes reported from the run's
thread as requests finish).

A PATCH sets fixed values, so the transport may retry it after a 5xx or a dropped connection. When every
attempt lost its answer, the record is read back (`strategies.readback`): holding the values sent, it
succeeded; otherwise it was not applied.

Upsert (``operation="upsert"``): ``PATCH /sobjects/{Object}/{ExternalIdField}/{value}``, the value
percent-encoded, the body without the key (Salesforce refuses a body naming Id or the key field): 201 is
created, 200 updated, 300 a key several records hold (``DUPLICATE_EXTERNAL_ID``, nothing written). A key
holding ``/`` (or one that is all dots) cannot be addressed in a path: Salesforce answers NOT_FOUND even
encoded (simple-salesforce#22, texei-sfdx-plugin#111, jsforce#1258), so `rest_key_problem` refuses such a
row before any call, naming it; `collections`, `composite` and the Bulk strategies carry the key in the
body and take it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import quote

from .base import CallEstimate, RunContext, UpdateStrategy
from .concurrency import Report, check_concurrency, send_all
from .meter import FAMILY_REST
from .readback import settle_lost_answer
from .records import Row, ValueCheck
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

    def _value_check(self) -> ValueCheck | None:
        if not self.operation.is_upsert:
            return None
        key = self.operation.key.lower()
        return lambda name, value: rest_key_problem(value) if name.lower() == key else None

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
        operation = self.operation
        if operation.is_upsert:
            key = operation.key.lower()
            record_id = None
            body = {k: v for k, v in record.items() if k.lower() != key}
            path = f"sobjects/{sobject}/{operation.key}/{quote(operation.key_text(record) or '', safe='')}"
        else:
            record_id = record.get("Id")
            body = {k: v for k, v in record.items() if k != "Id"}
            path = f"sobjects/{sobject}/{quote(str(record_id or ''), safe='')}"
        url = self.session.rest_url(path)
        response = self.session.request(
            "PATCH",
            url,
            family=FAMILY_REST,
            phase="dml",
            json_body=body,
            idempotent=True,
            raise_for_status=False,
            ok=(200, 201, 204),
        )
        try:
            if response.status_code in (200, 201, 204):
                if not operation.is_upsert:
                    return RecordOutcome(number, record_id, SUCCEEDED)
                answer = response.json() if response.content else {}
                created = response.status_code == 201 or bool(answer.get("created"))  # before API 46.0: 204 updated
                return RecordOutcome(number, answer.get("id") or None, SUCCEEDED, created=created)
            if response.status_code == 300 and operation.is_upsert:
                return RecordOutcome(
                    number,
                    None,
                    FAILED,
                    "DUPLICATE_EXTERNAL_ID",
                    f"{operation.key} {operation.key_text(record)!r} matches more than one record (HTTP 300)",
                    (operation.key,),
                )
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


def rest_key_problem(value: Any) -> str | None:
    """Why an upsert key cannot travel in a REST URL path (see the module docstring), or None."""
    text = value if isinstance(value, str) else str(value)
    if "/" in text:
        return (
            "holds '/', which a REST upsert URL cannot carry (Salesforce answers NOT_FOUND even when encoded): "
            "upsert these rows with collections, composite or a bulk strategy"
        )
    if text.strip(".") == "":
        return "a key made only of dots would be read as a path step ('.' or '..'), not as a value"
    return None
