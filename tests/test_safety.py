"""SafeFollower through LeRobot's SO101Follower and the virtual bus: the bytes on the wire obey the limits.

Property tests (hypothesis) send arbitrary commands (huge, NaN, inf, stale) and
check every goal position that reaches the virtual servos, decoded from the
bytes, against the model's joint limits, the calibrated range and the
per-step clamp relative to the present position read just before.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armtwin.assets import so101_constants as C
from armtwin.hardware.remote_arm import RemoteVirtualArm
from armtwin.hardware.virtual_arm import VirtualArmConfig
from armtwin.robots.real import RealFollower, RealFollowerConfig
from armtwin.robots.safety import SafeFollower, SafetyConfig
from armtwin.units import Calibration, MotorCalibration, UnitConverter, ticks_to_radians

KEYS = C.LEROBOT_MOTOR_KEYS
MAX_STEP_RAD = 0.12


# LeRobot imported and the heap frozen before any virtual bus serves (see conftest.py).
pytestmark = pytest.mark.usefixtures("lerobot_loaded")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    cfg = VirtualArmConfig(role="follower", calibration_dir=tmp_path_factory.mktemp("cal"))
    arm = RemoteVirtualArm(cfg).start()  # its own process: replies never wait for this one's GIL
    follower = RealFollower(RealFollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
    follower.connect()
    yield arm, follower
    follower.disconnect()
    arm.close()


def wire(arm, count: int | None = None) -> np.ndarray | None:
    """The last goal write's ticks, after waiting for ``count`` writes in all."""
    writes = arm.bus.goal_writes() if count is None else arm.bus.wait_goal_writes(count, start=count - 1)
    if not writes:
        return None
    return np.array([writes[-1].goals[C.MOTOR_IDS[n]] for n in C.JOINT_NAMES])


def check_wire(arm, safe: SafeFollower, conv: UnitConverter, ticks: np.ndarray) -> None:
    """The decoded bytes: inside the joint limits and the calibrated range, one step from present."""
    q = ticks_to_radians(ticks)
    assert np.all(q >= C.lower_limits() - 1e-12) and np.all(q <= C.upper_limits() + 1e-12), q
    cal = arm.calibration.motors
    assert all(cal[n].range_min <= t <= cal[n].range_max for n, t in zip(C.JOINT_NAMES, ticks))
    present_ticks = conv.lerobot_to_ticks(safe.last_present)
    # +1: LeRobot truncates the command to an integer tick.
    assert np.all(np.abs(ticks - present_ticks) <= MAX_STEP_RAD / C.RAD_PER_TICK + 1 + 1e-6)


value = st.one_of(
    st.floats(-400, 400),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e9, -1e9]),
)
step = st.tuples(st.lists(value, min_size=6, max_size=6), st.sampled_from(["fresh", "stale", "none"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(step, min_size=1, max_size=8))
@pytest.mark.lerobot
def test_wire_never_exceeds_limits_or_step(rig, steps):
    arm, follower = rig
    conv = UnitConverter(arm.calibration)
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv, max_step_rad=MAX_STEP_RAD))
    before = arm.bus.goal_write_count()
    prev = wire(arm, before)
    for values, age in steps:
        now = safe.config.clock()
        stamp = {"fresh": now, "stale": now - 10.0, "none": None}[age]
        last = None if safe.last_sent is None else np.array([safe.last_sent[k] for k in KEYS])
        sent = safe.send_action(dict(zip(KEYS, values)), stamp=stamp)
        before += 1
        ticks = wire(arm, before)  # exactly one command per call
        assert np.array_equal(ticks, np.trunc(conv.lerobot_to_ticks(sent)))  # returned == on the wire
        check_wire(arm, safe, conv, ticks)
        held = age == "stale" or not all(math.isfinite(v) for v in values)
        if held and last is not None:
            # Hold = the last command again, within one step of the fresh present position (the arm may
            # have moved away from it meanwhile: it tracked the previous goal until the new one landed).
            present = np.array([safe.last_present[k] for k in KEYS])
            mrt = np.array([safe.config.max_relative_target[k] for k in KEYS])
            assert np.array_equal([sent[k] for k in KEYS], np.clip(last, present - mrt, present + mrt))
            if np.all(np.abs(last - present) <= mrt):
                assert np.array_equal(ticks, prev)
        prev = ticks
    assert arm.bus.goal_write_count() == before  # and no other write


@pytest.mark.lerobot
def test_nan_and_stale_hold_and_are_counted(rig):
    arm, follower = rig
    conv = UnitConverter(arm.calibration)
    t = [100.0]
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv, watchdog_timeout_s=0.2, clock=lambda: t[0]))
    for _ in range(40):  # reach the start pose and let the servos settle, so a hold has nothing to clamp
        safe.send_action(conv.to_lerobot_dict(np.zeros(6)), stamp=t[0])
        time.sleep(0.01)
    time.sleep(0.3)
    n = arm.bus.goal_write_count()
    first = safe.send_action(conv.to_lerobot_dict(np.zeros(6)), stamp=100.0)
    w0 = wire(arm, n + 1)
    nan = dict(conv.to_lerobot_dict(np.full(6, 0.3)), **{"elbow_flex.pos": float("nan")})
    assert safe.send_action(nan, stamp=100.0) == first
    assert np.array_equal(wire(arm, n + 2), w0)
    t[0] = 100.25  # input from 0.25 s ago, timeout 0.2 s
    assert safe.send_action(conv.to_lerobot_dict(np.full(6, 0.3)), stamp=100.0) == first
    assert np.array_equal(wire(arm, n + 3), w0)
    moved = safe.send_action(conv.to_lerobot_dict(np.full(6, 0.05)), stamp=100.1)  # 0.15 s old: fresh
    assert moved != first
    assert safe.events["nan_hold"] == 1 and safe.events["stale_hold"] == 1
    with pytest.raises(KeyError, match="gripper.pos"):
        safe.send_action({k: 0.0 for k in KEYS[:5]})


@pytest.mark.lerobot
def test_arm_outside_limits_is_brought_back_one_step_at_a_time(tmp_path):
    q0 = np.zeros(6)
    q0[0] = C.JOINT_LIMITS["shoulder_pan"][1] + 0.4  # beyond the model limit (inside the servo's travel)
    cal = Calibration.default().to_dict()
    cal["shoulder_pan"].update(range_min=0, range_max=4095)
    cal_path = tmp_path / "wide.json"
    Calibration.from_dict(cal).save(cal_path)
    cfg = VirtualArmConfig(role="follower", calibration=cal_path, calibration_dir=tmp_path / "cal", initial_q=q0)
    with RemoteVirtualArm(cfg) as arm:
        f = RealFollower(RealFollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
        f.connect()
        try:
            conv = UnitConverter(arm.calibration)
            safe = SafeFollower(f, SafetyConfig.for_converter(conv, max_step_rad=0.1))
            sent = safe.send_action(conv.to_lerobot_dict(q0))  # asks to stay out there
            k = "shoulder_pan.pos"
            assert sent[k] == pytest.approx(safe.last_present[k] - safe.config.max_relative_target[k])
            assert ticks_to_radians(wire(arm, 1))[0] < q0[0] - 0.09
        finally:
            f.disconnect()


def test_limits_follow_units_and_drive_mode():
    cal = Calibration.default().to_dict()
    cal["elbow_flex"]["drive_mode"] = 1
    conv = UnitConverter(Calibration.from_dict(cal), use_degrees=False)
    cfg = SafetyConfig.for_converter(conv, max_step_rad=0.1)
    for k in KEYS:
        assert cfg.lower[k] < cfg.upper[k]
    assert -100 < cfg.lower["elbow_flex.pos"] < -99 and 99 < cfg.upper["elbow_flex.pos"] < 100
    assert 0 < cfg.lower["gripper.pos"] < 1 and 99 < cfg.upper["gripper.pos"] < 100
    deg = SafetyConfig.for_converter(UnitConverter(), max_step_rad=math.radians(5))
    assert deg.max_relative_target["shoulder_pan.pos"] == pytest.approx(5 * 4096 / 4095, rel=1e-9)
    narrow = Calibration.default().to_dict()
    narrow["wrist_flex"].update(range_min=2000, range_max=2100)
    cfg = SafetyConfig.for_converter(UnitConverter(Calibration.from_dict(narrow)))
    assert cfg.upper["wrist_flex.pos"] - cfg.lower["wrist_flex.pos"] < 100 * 360 / 4095


def test_config_errors_name_the_problem():
    ok = SafetyConfig.for_converter()
    with pytest.raises(ValueError, match="on_fault"):
        SafetyConfig(ok.lower, ok.upper, ok.max_relative_target, on_fault="panic")
    with pytest.raises(ValueError, match="max_relative_target"):
        SafetyConfig(ok.lower, ok.upper, 0.0)
    with pytest.raises(ValueError, match="missing"):
        SafetyConfig({"shoulder_pan.pos": 0.0}, ok.upper, 1.0)
    with pytest.raises(ValueError, match="lower < upper"):
        SafetyConfig(ok.upper, ok.lower, 1.0)
    with pytest.raises(ValueError, match="watchdog"):
        SafetyConfig(ok.lower, ok.upper, 1.0, watchdog_timeout_s=0)
    bad = {n: MotorCalibration(C.MOTOR_IDS[n], 0, 0, 10, 20) for n in C.JOINT_NAMES}
    with pytest.raises(ValueError, match="do not overlap"):
        SafetyConfig.for_converter(UnitConverter(Calibration(bad)))


@pytest.mark.lerobot
def test_bridge_followers_cannot_bypass_the_safety_layer():
    """Whatever bridge command drives it (``command``, ``publish --motion sine``, ``mirror``), the
    follower ``make_follower`` builds is the SafeFollower: a far command reaches the wire one step
    from the present position."""
    from armtwin.robots.factory import VirtualFollower, make_follower

    follower, conv = make_follower("virtual", max_step_rad=MAX_STEP_RAD)
    try:
        assert isinstance(follower, SafeFollower) and isinstance(follower.follower, VirtualFollower)
        arm = follower.follower.arm
        present = conv.to_radians(follower.get_observation())
        n = arm.bus.goal_write_count()
        far = np.clip(present + 1.0, C.lower_limits(), C.upper_limits())
        follower.send_action(conv.to_lerobot_dict(far))
        ticks = wire(arm, n + 1)
        check_wire(arm, follower, conv, ticks)
        moved = ticks_to_radians(ticks) - present
        assert np.all(np.abs(moved) >= MAX_STEP_RAD - 3 * C.RAD_PER_TICK), moved  # the clamp, not the target
    finally:
        follower.disconnect()
    assert not arm._proc  # the virtual bus process went with the follower
