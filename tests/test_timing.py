"""The one rate keeper (armtwin.timing.RateKeeper) that teleop, the UDP publisher and the bridge share."""

from __future__ import annotations

import time

import pytest

from armtwin.timing import RateKeeper


def test_validation_names_the_problem():
    for bad in (0, -5, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="rate"):
            RateKeeper(bad)
    with pytest.raises(ValueError, match="spin_s"):
        RateKeeper(100, spin_s=0.01)  # not below the 10 ms period
    with pytest.raises(ValueError, match="spin_s"):
        RateKeeper(100, spin_s=-0.001)


def test_wait_keeps_absolute_deadlines():
    rate = RateKeeper(100.0)
    t0 = time.perf_counter()
    first = rate.next
    reached = [rate.wait() for _ in range(10)]
    # Never early: each wait returns at or after its deadline, deadlines one period apart.
    assert all(r >= first + i * 0.01 - 1e-9 for i, r in enumerate(reached))
    assert reached[-1] - t0 >= 0.1 - 1e-3
    assert rate.ticks == 10
    if rate.overruns == 0:  # a loaded machine may make a tick late: then the schedule re-anchored
        assert rate.next == pytest.approx(first + 10 * 0.01, abs=1e-9)


def test_a_late_tick_reanchors_instead_of_bursting():
    rate = RateKeeper(100.0, spin_s=0)
    time.sleep(0.05)  # five periods of work
    now = rate.wait()
    assert rate.overruns == 1
    assert rate.next == pytest.approx(now + 0.01, abs=1e-9)  # one period from now, not the missed grid
    assert rate.remaining() > 0
    rate.advance(now=rate.next)  # exactly on time: stays on the grid
    assert rate.overruns == 1 and rate.ticks == 2


def test_due_now_for_loops_that_wait_before_they_act():
    rate = RateKeeper(50.0, due_now=True)
    assert rate.remaining() <= 0
    start = rate.next
    rate.advance(now=start)
    assert rate.next == pytest.approx(start + 0.02) and rate.ticks == 1 and rate.overruns == 0
    assert RateKeeper(50.0).remaining() > 0.015
