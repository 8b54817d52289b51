"""The documented call formulas the cost model, the README and the integration tests share."""

from __future__ import annotations

import math

import pytest

from strategies import (
    AutoStrategy,
    Bulk1Strategy,
    Bulk2Strategy,
    CollectionsStrategy,
    CompositeStrategy,
    OrgSession,
    RestStrategy,
)
from strategies.errors import BudgetError, ConfigurationError
from strategies.registry import formula_table, get, names, strategy_class

COUNTS = [0, 1, 199, 200, 201, 999, 1000, 1001, 9999, 10000, 10001]


@pytest.mark.parametrize("n", COUNTS)
def test_formulas(n: int) -> None:
    assert RestStrategy.api_calls(n).total == n
    assert CollectionsStrategy.api_calls(n).total == math.ceil(n / 200)
    assert CompositeStrategy.api_calls(n).total == math.ceil(n / 1000)
    b = math.ceil(n / 10_000)
    bulk1 = Bulk1Strategy.api_calls(n, polls=3)
    assert bulk1.total == (0 if n == 0 else 2 + b + 3) and bulk1.batches == b  # no failure: no result download
    bulk2 = Bulk2Strategy.api_calls(n, polls=3)
    assert bulk2.total == (0 if n == 0 else 3 + 3) and bulk2.batches == b


def test_bulk_formula_inputs() -> None:
    assert Bulk1Strategy.api_calls(25_000, polls=2).by_phase == {"create": 1, "upload": 3, "close": 1, "poll": 2}
    assert (
        Bulk1Strategy.api_calls(25_000, polls=2, failed_batches=1).by_phase["results"] == 1
    )  # the batch list says which
    assert (
        Bulk1Strategy.api_calls(25_000, polls=2, batches_with_failures=2).by_phase["results"] == 3
    )  # list + 2 downloads
    assert (
        Bulk1Strategy.api_calls(25_000, polls=2, fetch_successes=True).by_phase["results"] == 3
    )  # every batch, no list
    assert (
        Bulk1Strategy.api_calls(25_000, polls=2, fetch_successes=True, batches_with_failures=1).by_phase["results"] == 4
    )  # list + every batch
    assert (
        Bulk1Strategy.api_calls(25_000, polls=2, fetch_successes=True, failed_batches=1).by_phase["results"] == 3
    )  # list + the 2 that ran
    est = Bulk2Strategy.api_calls(
        25_000, polls=4, max_job_records=10_000, jobs_with_failures=1, jobs_with_unprocessed=1
    )
    assert est.by_phase == {"create": 3, "upload": 3, "close": 3, "poll": 4, "results": 2} and est.batches == 3
    assert Bulk2Strategy.api_calls(25_000, job_sizes=[15_000, 10_000]).batches == 3
    assert Bulk2Strategy.api_calls(5, polls=1, fetch_successes=True).by_phase["results"] == 1


def test_bulk2_one_request_jobs() -> None:
    """A job whose CSV (header counted as one more row) is under 100,000 characters costs 1 call, not 3."""
    assert Bulk2Strategy.api_calls(2000, polls=1, row_chars=26).by_phase == {"create": 1, "poll": 1}
    assert Bulk2Strategy.api_calls(3845, polls=1, row_chars=26).total == 2  # 3,846 x 26 = 99,996 characters
    assert Bulk2Strategy.api_calls(3846, polls=1, row_chars=26).total == 4  # 100,022: three steps
    assert Bulk2Strategy.api_calls(2000, polls=1, row_chars=26, multipart=False).total == 4
    assert Bulk2Strategy.api_calls(2000, polls=1).total == 4  # row size unknown: three steps, an upper bound
    mixed = Bulk2Strategy.api_calls(3500, polls=2, job_sizes=[3000, 500], row_chars=40, jobs_with_failures=1)
    assert mixed.by_phase == {"create": 2, "upload": 1, "close": 1, "poll": 2, "results": 1}
    assert Bulk2Strategy.api_calls(20_000, polls=1, row_chars=26).total == 4


def test_readme_table() -> None:
    table = formula_table(polls=10)
    assert table == {
        "rest": {1000: 1000, 10000: 10000, 100000: 100000, 1000000: 1000000},
        "collections": {1000: 5, 10000: 50, 100000: 500, 1000000: 5000},
        "composite": {1000: 1, 10000: 10, 100000: 100, 1000000: 1000},
        "bulk1-xml": {1000: 13, 10000: 13, 100000: 22, 1000000: 112},
        "bulk2-csv": {1000: 13, 10000: 13, 100000: 13, 1000000: 13},
    }


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, "composite"),
        (1, "composite"),
        (2000, "composite"),
        (7000, "composite"),
        (7001, "bulk2-csv"),
        (1_000_000, "bulk2-csv"),
    ],
)
def test_auto_choice_by_count(n: int, expected: str) -> None:
    assert AutoStrategy.choose(n)[0] == expected


def test_auto_prices_a_one_request_job() -> None:
    """On a tie composite wins: its count is exact, its results immediate, and it spends no Bulk batch."""
    assert AutoStrategy.choose(2000, expected_polls=1, row_chars=26)[0] == "composite"  # 2 calls each
    assert AutoStrategy.choose(3000, expected_polls=1, row_chars=26)[0] == "bulk2-csv"  # 2 against 3
    assert AutoStrategy.choose(3000, expected_polls=4, row_chars=26)[0] == "composite"  # 5 against 3
    assert AutoStrategy.choose(3000, expected_polls=1, row_chars=40)[0] == "composite"  # 120,040 chars: 4


def test_auto_respects_the_budget() -> None:
    name, why = AutoStrategy.choose(50_000, remaining_calls=100)
    assert name == "bulk2-csv" and "100 API call(s) remain" in why
    name, why = AutoStrategy.choose(5_000, remaining_calls=6, expected_polls=4)
    assert name == "composite"
    with pytest.raises(BudgetError):  # bulk2 would fit the calls but not the batches; composite needs 50
        AutoStrategy.choose(50_000, remaining_calls=10, remaining_batches=2)
    with pytest.raises(BudgetError):
        AutoStrategy.choose(50_000, remaining_calls=3)
    name, why = AutoStrategy.choose(50_000, remaining_batches=2)
    assert name == "composite" and "batch" in why


def test_registry() -> None:
    assert names() == ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv", "auto"]
    assert strategy_class("bulk2-csv") is Bulk2Strategy
    with pytest.raises(ConfigurationError, match="unknown strategy"):
        strategy_class("soap")


def test_options_are_validated() -> None:
    session = OrgSession("https://x.example", "t")
    with pytest.raises(ConfigurationError):
        get("collections", session, batch_size=201)
    with pytest.raises(ConfigurationError):
        get("composite", session, subrequests=6)
    with pytest.raises(ConfigurationError):
        get("bulk1-xml", session, batch_records=10_001)
    with pytest.raises(ConfigurationError):
        get("bulk2-csv", session, max_job_bytes=150_000_001)
    with pytest.raises(ConfigurationError):
        OrgSession("127.0.0.1:443", "t")


def test_instance_estimate_uses_options() -> None:
    session = OrgSession("https://x.example", "t")
    assert get("collections", session, batch_size=100).estimate(1001).total == 11
    assert get("composite", session, subrequests=2).estimate(1001).total == 3
    assert get("collections", session, describe=True).estimate(400).by_phase == {"dml": 2, "describe": 1}
