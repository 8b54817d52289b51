"""`collections`: sObject Collections, ``PATCH /composite/sobjects`` with up to 200 records per call.

Request ``{"allOrNone": bool, "records": [{"attributes": {"type": Obj}, "id": Id, fields...}]}``; the
answer is HTTP 200 with one save result ``{id, success, errors: [{statusCode, message, fields}]}`` per
record, in input order. One call per 200 records: ``dml = ceil(N / batch_size)``. Up to `concurrency`
calls are in flight at once (`concurrency.send_all`; the default and its reason are there); the serial
second pass for retryable failures sends one at a time.

Upsert (``operation="upsert"``): ``PATCH /composite/sobjects/{Object}/{ExternalIdField}`` (API 46.0+), each
record carrying its key among its fields and no ``id``; every save result says ``created``. Same formula.

The module also holds the helpers Composite shares (record body, save result -> outcome), because a
Composite request here is just five Collections requests in one envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .base import CallEstimate, RunContext, UpdateStrategy, ceil_div, input_batches
from .concurrency import DEFAULT_BATCH_CONCURRENCY, Report, check_concurrency, send_all
from .errors import ConfigurationError
from .meter import FAMILY_REST
from .operation import UPDATE_BY_ID, Operation
from .readback import settle_lost_answer
from .records import Row
from .sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome
from .transport import rest_errors

COLLECTIONS_MAX = 200


def collection_record(sobject: str, record: Mapping[str, Any], operation: Operation = UPDATE_BY_ID) -> dict[str, Any]:
    """One record of a Collections body: attributes, lower-case ``id`` (an update's), then the fields to set
    (an upsert's key among them)."""
    body: dict[str, Any] = {"attributes": {"type": sobject}}
    if not operation.is_upsert:
        body["id"] = record.get("Id")
    for key, value in record.items():
        if key != "Id":
            body[key] = value
    return body


def collections_path(sobject: str, operation: Operation) -> str:
    """The Collections resource a write goes to: ``composite/sobjects``, or an upsert's by its key field."""
    return f"composite/sobjects/{sobject}/{operation.key}" if operation.is_upsert else "composite/sobjects"


def save_result_outcome(row: Row, result: Any, operation: Operation = UPDATE_BY_ID) -> RecordOutcome:
    """A Collections save result ``{id, success, errors}`` (an upsert's with ``created``) as `row`'s outcome."""
    number, record = row
    record_id = record.get("Id")
    if not isinstance(result, Mapping):
        return RecordOutcome(number, record_id, UNPROCESSED, "NO_RESULT", f"unexpected result {result!r:.200}")
    if result.get("success"):
        created = bool(result.get("created")) if operation.is_upsert else None
        return RecordOutcome(number, result.get("id") or record_id, SUCCEEDED, created=created)
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    return RecordOutcome(
        number,
        record_id,
        FAILED,
        str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_ERROR"),
        str(first.get("message") or ""),
        tuple(first.get("fields") or ()),
    )


def report_chunk(run: RunContext, rows: Sequence[Row], results: Any) -> None:
    """Report save results for `rows`, in order; rows without a result are unprocessed."""
    results = results if isinstance(results, list) else []
    for index, row in enumerate(rows):
        if index < len(results):
            run.outcome(save_result_outcome(row, results[index], run.operation), row[1])
        else:
            run.outcome(
                RecordOutcome(
                    row[0], row[1].get("Id"), UNPROCESSED, "NO_RESULT", "Salesforce returned no result for this record"
                )
            )


def report_refused(run: RunContext, rows: Sequence[Row], status: int, errors: list[dict[str, Any]]) -> None:
    """A refused request or subrequest: every record in it failed with the request's error."""
    first = errors[0] if errors else {}
    code = str(first.get("errorCode") or first.get("statusCode") or f"HTTP_{status}")
    message = str(first.get("message") or "")
    fields = tuple(first.get("fields") or ())
    for number, record in rows:
        run.outcome(RecordOutcome(number, record.get("Id"), FAILED, code, message, fields), record)


def report_unknown(run: RunContext, rows: Sequence[Row], exc: BaseException) -> None:
    """The request carrying `rows` never got an answer (error or interrupt): their outcome is unknown."""
    for number, record in rows:
        run.outcome(
            RecordOutcome(
                number, record.get("Id"), UNPROCESSED, "REQUEST_FAILED", f"outcome unknown: {type(exc).__name__}: {exc}"
            )
        )


def send_for_rows(
    session: Any, method: str, url: str, body: Any, rows: Sequence[Row], run: RunContext, on_ok: Callable[[Any], None]
) -> Report:
    """Send one request carrying `rows` (in a worker thread) and return how to report its answer (in the
    run's thread): a 200 goes to `on_ok(payload)`, a refusal fails every row with its error. No answer at
    all raises, and `concurrency.send_all` leaves the rows unprocessed (outcome unknown)."""
    response = session.request(
        method, url, family=FAMILY_REST, phase="dml", json_body=body, idempotent=True, raise_for_status=False, ok=(200,)
    )
    with response:
        if response.status_code == 200:
            payload = response.json()
            return lambda: on_ok(payload)
        status, errors = response.status_code, rest_errors(response)
    return lambda: report_refused(run, rows, status, errors)


class CollectionsStrategy(UpdateStrategy):
    """sObject Collections PATCH, `batch_size` (<= 200) records per call, `concurrency` calls at once.
    Formula: ``dml = ceil(N/batch_size)``."""

    name: ClassVar[str] = "collections"
    family: ClassVar[str] = FAMILY_REST
    default_concurrency: ClassVar[int] = DEFAULT_BATCH_CONCURRENCY

    def __init__(
        self,
        session: Any,
        *,
        batch_size: int = COLLECTIONS_MAX,
        all_or_none: bool = False,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        **common: Any,
    ) -> None:
        super().__init__(session, **common)
        if not 1 <= batch_size <= COLLECTIONS_MAX:
            raise ConfigurationError(f"batch_size must be 1..{COLLECTIONS_MAX}")
        self.batch_size = batch_size
        self.all_or_none = all_or_none
        self.concurrency = check_concurrency(concurrency)

    @classmethod
    def api_calls(cls, n_records: int, *, batch_size: int = COLLECTIONS_MAX, **_options: Any) -> CallEstimate:
        calls = ceil_div(n_records, batch_size)
        return CallEstimate({"dml": calls} if calls else {})

    def _formula_options(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    def _resume_options(self) -> dict[str, Any]:
        return {**super()._resume_options(), "batch_size": self.batch_size, "all_or_none": self.all_or_none}

    def _submit(self, sobject: str, rows: Iterable[Row], run: RunContext, *, second_pass: bool = False) -> None:
        operation = self.operation
        url = self.session.rest_url(collections_path(sobject, operation))

        def send(chunk: list[Row]) -> Report:
            records = [collection_record(sobject, r, operation) for _, r in chunk]
            body = {"allOrNone": self.all_or_none, "records": records}
            return send_for_rows(
                self.session, "PATCH", url, body, chunk, run, lambda payload: report_chunk(run, chunk, payload)
            )

        with self.session.phase("dml"):
            concurrency = 1 if second_pass else self.concurrency  # the second pass is serial on purpose
            batches = input_batches(rows, self.batch_size, run)
            send_all(
                run,
                batches,
                send,
                lambda chunk: chunk,
                concurrency=concurrency,
                on_lost=lambda lost, exc: settle_lost_answer(self.session, sobject, lost, run, exc),
            )
