"""The run journal on its own (no org): what a resumed run would send, keep and resolve."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import pytest

from strategies.journal import OUTCOME_UNKNOWN, RunJournal, plain_options, read_last_step
from strategies.readback import same_value
from strategies.sinks import FAILED, SUCCEEDED, UNPROCESSED, RecordOutcome

from .conftest import make_id


def rows(n: int) -> list[tuple[int, dict]]:
    return [
        (k, {"Id": make_id(k), "Name": f"n{k}", "When": datetime.date(2026, 1, k % 28 + 1)}) for k in range(1, n + 1)
    ]


def test_rows_in_flight_are_not_unsent_and_kept_outcomes_are_final(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    assert journal.spool(rows(12)) == 12 and journal.meta()["input_rows"] == 12
    for number in (1, 2, 3):
        journal.add("c1", number, make_id(number))
    journal.intend("upload", chunk="c1", job_id="750x")
    journal.record(RecordOutcome(4, make_id(4), SUCCEEDED))
    journal.record(RecordOutcome(5, make_id(5), FAILED, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "no"))
    journal.record(RecordOutcome(6, make_id(6), UNPROCESSED, "NOT_SENT", "stopped"))
    journal.record(RecordOutcome(7, make_id(7), UNPROCESSED, OUTCOME_UNKNOWN, "?"))
    journal.close()

    again = RunJournal(tmp_path)  # as a new process would see it
    unsent = [number for number, _record in again.unsent()]
    assert unsent == [6, 7, 8, 9, 10, 11, 12]  # in flight (1-3) and judged (4, 5) rows are not sent again
    assert [o.row for o in again.outcomes()] == [4, 5]
    assert again.records([2])[2]["When"] == datetime.date(2026, 1, 3)  # values keep their types
    chunks = again.open_chunks()
    assert [c["chunk"] for c in chunks] == ["c1"] and [r for r, _id in again.in_doubt("c1")] == [1, 2, 3]
    assert again.steps("upload")[0]["state"] == "intent" and read_last_step(tmp_path)["kind"] == "upload"
    again.reset()
    assert again.total_rows() == 0 and again.meta() == {} and again.last_step() is None
    again.close()


def test_a_chunk_whose_rows_all_have_outcomes_is_released(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    journal.spool(rows(4))
    for number in (1, 2):
        journal.add("done", number, make_id(number))
        journal.record(RecordOutcome(number, make_id(number), SUCCEEDED))
    step = journal.intend("dml", chunk="done")
    journal.settle(step, batch_id="751x")
    assert journal.open_chunks() == [] and journal.count("done") == 0
    assert journal.steps("dml")[0]["batch_id"] == "751x" and journal.steps("dml")[0]["state"] == "done"
    journal.close()


def test_values_compare_across_the_orgs_types() -> None:
    assert same_value("42", 42.0) and same_value(decimal.Decimal("1.50"), 1.5) and not same_value("42", 41)
    assert same_value("true", True) and same_value(False, False) and not same_value("yes", True)
    assert same_value(None, None) and same_value("", None) and not same_value("x", None)
    assert same_value("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000+0000")
    assert same_value(datetime.date(2026, 1, 2), "2026-01-02") and not same_value("2026-01-02", "2026-01-03")


def test_only_options_json_can_keep_are_journaled() -> None:
    assert plain_options({"batch_size": 100, "poll_policy": object(), "codes": ["A"]}) == {
        "batch_size": 100,
        "codes": ["A"],
    }


def test_a_journal_with_no_input_cannot_be_resumed(tmp_path: Path) -> None:
    from strategies import ConfigurationError, OrgSession, get

    session = OrgSession("https://127.0.0.1:9", "token")
    strategy = get("collections", session, state_dir=tmp_path)
    strategy.journal.describe(strategy="collections", sobject="Byline__c")  # killed while storing its input
    with pytest.raises(ConfigurationError, match="before its input was stored"):
        strategy.resume_run(None)  # type: ignore[arg-type]
    strategy.close()
    session.close()


def test_org_times_parse_in_both_forms() -> None:
    from strategies.orphans import server_time

    http_date = server_time("Sat, 05 Dec 2026 18:39:45 GMT")  # ends in "GMT": not an ISO stamp for all its T
    assert http_date is not None
    assert http_date == server_time("2026-12-05T18:39:45.000+0000") == server_time("2026-12-05T18:39:45Z")
    assert server_time("") is None and server_time("yesterday") is None
