"""The cost model against measurements on the emulator.

Stated tolerances: on the instant profile predicted API calls equal measured calls exactly, phase by
phase, except the Bulk status polls: those runs poll on the fast test schedule (`FAST_POLL`), and how many
checks a job that takes milliseconds needs is the machine's speed, not the model's. Polls are checked on
the realistic profile (time-scaled 20x, queue wait fixed at its median so runs repeat), where the
synchronous strategies' calls are exact, Bulk strategies are within 2 status polls, and predicted wall
time is within 40 % of the measured time.
"""

from __future__ import annotations

import pytest

from emulator.profiles import get_profile
from harness.costmodel import plan, predict
from harness.orgs import OrgConnection, Secret
from harness.runner import run_once, scratch_dir
from harness.strategy_options import poll_options
from harness.workload import Workload
from strategies.polling import PollPolicy

from .conftest import FAST_POLL

TIME_SCALE = 20
TOLERANCE = 0.40


def _connection(running) -> OrgConnection:
    return OrgConnection(running.instance_url, "emulator", "62.0", running.ca_file,
                         lambda: Secret(running.org.sessions.issue().token), True, "test", admin=running.admin)


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


def test_predicted_time_within_tolerance_on_realistic(sf_org_factory):
    overrides = {"bulk_queue_p90_s": 5.0}  # a fixed queue wait at the profile's median
    running = sf_org_factory(profile="realistic", time_scale=TIME_SCALE, profile_overrides=overrides)
    conn = _connection(running)
    workload = Workload(conn, scratch_dir())
    profile = get_profile("realistic", TIME_SCALE, **overrides)
    polls = PollPolicy().scaled(1 / TIME_SCALE)
    cases = [("collections", 2000), ("composite", 2000), ("bulk1-xml", 2000), ("bulk2-csv", 2000), ("bulk2-csv", 10000)]
    for round_no, (name, n) in enumerate(cases, start=1):
        wf = workload.prepare(n, round_no)
        measured = run_once(conn, workload, name, wf, options=poll_options(name, polls), verify=False)
        predicted = predict(name, n, profile, poll_policy=polls)
        if name.startswith("bulk"):
            assert abs(measured.calls_org - predicted.calls) <= 2, (name, n, measured.calls_by_phase, predicted.calls_by_phase)
        else:
            assert measured.calls_org == predicted.calls
        assert abs(measured.wall_seconds - predicted.seconds) <= TOLERANCE * measured.wall_seconds, (name, n, measured.wall_seconds, predicted.seconds)


def test_plan_picks_fewest_calls_and_explains():
    predictions, choice, reason = plan(100_000, api_remaining=15_000)
    assert choice == "bulk2-csv"
    assert min(p.calls for p in predictions) == next(p.calls for p in predictions if p.strategy == choice)
    assert "remaining daily API requests" in reason
