"""pytest-benchmark suite: our strategies and the library baselines, timed on the same emulated org.

Not part of the default test run (``norecursedirs`` in pyproject.toml leaves ``tests/benchmarks`` out, and
``--benchmark-disable`` is in ``addopts``). Run it with::

    python -m pytest tests/benchmarks -p no:cacheprovider -n 0 --benchmark-enable
    SFH_BENCH_RECORDS=100000 SFH_BENCH_ROUNDS=1 python -m pytest tests/benchmarks -p no:cacheprovider -n 0 --benchmark-enable

Each benchmark is one update of ``SFH_BENCH_RECORDS`` records (default 10,000; per-record REST runs at
most ``SFH_BENCH_REST_MAX``, default 2,000) against the emulator on the instant profile, started in its own
process (`harness.orgs.embedded_emulator`), so the timings are the client's. Every round writes new values,
and the last round is read back and verified. ``extra_info`` carries the org-counted API calls and Bulk
batches of the last round, so ``--benchmark-json`` files hold calls beside times.

For peak memory per run (which needs a fresh process per run), and for the realistic profile, use
``sfharness bench`` (README, "Baselines and benchmarks").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from harness.commands.bench import BenchWorkload
from harness.orgs import embedded_emulator
from harness.runner import run_once, scratch_dir
from harness.strategy_options import scaled_options
from strategies import registry

RECORDS = int(os.environ.get("SFH_BENCH_RECORDS", "10000"))
REST_MAX = int(os.environ.get("SFH_BENCH_REST_MAX", "2000"))
ROUNDS = int(os.environ.get("SFH_BENCH_ROUNDS", "2"))
OURS = ["rest", "collections", "composite", "bulk1-xml", "bulk2-csv"]
NAMES = OURS + registry.baseline_names()


@pytest.fixture(scope="module")
def emulated() -> Iterator[Any]:
    pytest.importorskip("simple_salesforce")
    pytest.importorskip("salesforce_bulk")
    with embedded_emulator(profile="instant", edition="sandbox") as conn:
        yield conn, BenchWorkload(conn, scratch_dir("sfharness-pytest-bench-"))


@pytest.mark.parametrize("name", NAMES)
def test_update(benchmark: Any, emulated: Any, name: str) -> None:
    conn, workload = emulated
    n = min(RECORDS, REST_MAX) if name in ("rest", "simple-salesforce:rest") else RECORDS
    rounds = iter(range(1, 1_000_000))
    last: dict[str, Any] = {}

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        wf = workload.prepare(n, next(rounds) + NAMES.index(name) * 1000)
        last["wf"] = wf
        last["before"] = conn.admin.usage()
        return (wf,), {}

    def update(wf: Any) -> Any:
        m = run_once(conn, workload, name, wf, options=scaled_options(name), verify=False)
        last["m"] = m
        return m

    benchmark.pedantic(update, setup=setup, rounds=ROUNDS, iterations=1)
    m = last["m"]
    after = conn.admin.usage()
    check = workload.verify(last["wf"])
    benchmark.extra_info.update(
        {
            "records": n,
            "baseline": registry.is_baseline(name),
            "family": m.family,
            "api_calls_org": after["DailyApiRequests"]["used"] - last["before"]["DailyApiRequests"]["used"],
            "api_calls_client": m.calls_client,
            "bulk_batches": after["DailyBulkApiBatches"]["used"] - last["before"]["DailyBulkApiBatches"]["used"],
            "verified": check.verified,
            "wrong_or_missing": check.mismatched + check.missing,
        }
    )
    assert m.error is None, m.error
    assert benchmark.extra_info["api_calls_org"] == m.calls_client
    if not registry.is_baseline(name):  # ours must update every record; a baseline's losses are data
        assert check.ok and check.verified == n
