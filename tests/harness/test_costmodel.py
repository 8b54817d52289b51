"""The cost model against measurements on the emulator.

Stated tolerances: on the instant profile predicted API calls equal measured calls exactly, phase by
phase, except the Bulk status polls: those runs poll on the fast test schedule (`FAST_POLL`), and how many
checks a job that takes milliseconds needs is the machine's speed, not the model's. Polls are checked on
the realistic profile (time-scaled 20x, queue wait fixed at its median so runs repeat), where the
synchronous strategies' calls are exact, Bulk strategies are within 2 status polls, and predicted wall
time is within 40 % of the measured time, for synchronous strategies sending one request at a time and
several at once.
"""

from __future__ import annotations

import pytest

from emulator.profiles import get_profile
from harness.costmodel import CLIENT_OVERHEAD_S, CPU_SIDES, SYNC_CPU_PER_RECORD_S, plan, predict
from harness.orgs import OrgConnection, Secret, embedded_emulator
from harness.runner import run_once, scratch_dir
from harness.strategy_options import concurrency_options, poll_options
from harness.workload import Workload
from strategies.polling import PollPolicy

from .conftest import FAST_POLL

TIME_SCALE = 20
TOLERANCE = 0.40


def _connection(running) -> OrgConnection:
    return OrgConnection(
        running.instance_url,
        "emulator",
        "62.0",
        running.ca_file,
        lambda: Secret(running.org.sessions.issue().token),
        True,
        "test",
        admin=running.admin,
    )


@pytest.mark.parametrize("n", [1, 199, 200, 201, 1000, 1001])
def test_predicted_calls_equal_measured_on_instant(sf_org, n):
    conn = _connection(sf_org)
    workload = Workload(conn, scratch_dir())
    profile = get_profile("instant")
    for round_no, name in enumerate(("rest", "collections", "composite", "bulk1-xml", "bulk2-csv"), start=1):
        if name == "rest" and n > 201:
            continue
        wf = workload.prepare(n, round_no)
        measured = run_once(conn, workload, name, wf, options=poll_options(name, FAST_POLL), verify=False)
        predicted = predict(name, n, profile, poll_policy=FAST_POLL)
        polls = measured.calls_by_phase.get("poll", 0)
        assert measured.calls_org == measured.calls_client
        assert _without_polls(measured.calls_by_phase) == _without_polls(predicted.calls_by_phase), (name, n)
        assert polls >= 1 if name.startswith("bulk") else polls == predicted.polls == 0
        assert measured.calls_org == predicted.calls - predicted.polls + polls


def _without_polls(by_phase: dict[str, int]) -> dict[str, int]:
    return {phase: calls for phase, calls in by_phase.items() if phase != "poll" and calls}


@pytest.mark.slow
def test_predicted_time_within_tolerance_on_realistic():
    """The org runs in a process of its own, as `compare` runs it and as the model assumes (`CPU_SIDES`): in the
    test's own process its request handling would share one interpreter lock with the client's."""
    overrides = {"bulk_queue_p90_s": 5.0}  # a fixed queue wait at the profile's median
    with embedded_emulator(profile="realistic", time_scale=TIME_SCALE, profile_overrides=overrides) as conn:
        _predicted_times_hold(conn, overrides)


def _predicted_times_hold(conn: OrgConnection, overrides: dict[str, float]) -> None:
    workload = Workload(conn, scratch_dir())
    profile = get_profile("realistic", TIME_SCALE, **overrides)
    polls = PollPolicy().scaled(1 / TIME_SCALE)
    # (strategy, records, requests at once; None = the strategy's default)
    cases = [
        ("collections", 2000, 1),
        ("collections", 2000, None),
        ("composite", 2000, None),
        ("composite", 10000, 8),
        ("bulk1-xml", 2000, None),
        ("bulk2-csv", 2000, None),
        ("bulk2-csv", 10000, None),
    ]
    for round_no, (name, n, concurrency) in enumerate(cases, start=1):
        wf = workload.prepare(n, round_no)
        options = {**poll_options(name, polls), **concurrency_options(name, concurrency)}
        measured = run_once(conn, workload, name, wf, options=options, verify=False)
        predicted = predict(name, n, profile, poll_policy=polls, concurrency=concurrency)
        if name.startswith("bulk"):
            assert abs(measured.calls_org - predicted.calls) <= 2, (
                name,
                n,
                measured.calls_by_phase,
                predicted.calls_by_phase,
            )
        else:
            assert measured.calls_org == predicted.calls
        assert abs(measured.wall_seconds - predicted.seconds) <= TOLERANCE * measured.wall_seconds, (
            name,
            n,
            measured.wall_seconds,
            predicted.seconds,
        )


def test_plan_picks_fewest_calls_and_explains():
    predictions, choice, reason = plan(100_000, api_remaining=15_000)
    assert choice == "bulk2-csv"
    assert min(p.calls for p in predictions) == next(p.calls for p in predictions if p.strategy == choice)
    assert "remaining daily API requests" in reason


@pytest.mark.parametrize("name, per_call, subrequests", [("collections", 200, 0), ("composite", 1000, 5)])
def test_concurrent_time_is_waves_of_requests_bounded_by_cpu(name, per_call, subrequests):
    """The synchronous time model: requests run `concurrency` at a time, each taking its waiting plus its CPU
    time; the whole never beats the CPU work of every request spread over the client and the org."""
    n = 20 * per_call + per_call // 2  # 20 full requests and a half one
    body = 19 + 3 * 8 + 40  # bytes per record in a request body (3 number fields)

    def one(profile, m):
        waiting = profile.request_delay(
            write=True, records=m, subrequests=-(-m // 200) if subrequests else 0, body_bytes=m * body
        )
        return waiting, CLIENT_OVERHEAD_S + m * SYNC_CPU_PER_RECORD_S

    realistic = get_profile("realistic", TIME_SCALE)
    (wait, cpu), (last_wait, last_cpu) = one(realistic, per_call), one(realistic, per_call // 2)
    serial = 20 * (wait + cpu) + last_wait + last_cpu
    assert predict(name, n, realistic, concurrency=1).seconds == pytest.approx(serial)
    # 8 at a time: 20 full requests are 3 rounds (8, 8, 4); the half one runs beside the last round.
    assert predict(name, n, realistic, concurrency=8).seconds == pytest.approx(3 * (wait + cpu))
    assert predict(name, n, realistic, concurrency=8).concurrency == 8
    assert predict(name, n, realistic).concurrency == 4  # the strategies' default
    # With no waiting at all (instant profile) concurrency only overlaps the client's CPU with the org's.
    instant = get_profile("instant")
    (_, cpu), (_, last_cpu) = one(instant, per_call), one(instant, per_call // 2)
    for concurrency in (8, 16):
        assert predict(name, n, instant, concurrency=concurrency).seconds == pytest.approx(
            (20 * cpu + last_cpu) / CPU_SIDES
        )
