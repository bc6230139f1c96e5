"""The safety stop, stated in docs/safety.md: every servo keeps torque on and holds its last
clamped goal, through the session's close too; a servo that reports an error (overload,
overheating, voltage) stops the follower with a message naming it, and the command exits non-zero."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from armtwin.hardware.remote_arm import RemoteVirtualArm
from armtwin.hardware.virtual_arm import VirtualArmConfig
from armtwin.robots.real import RealFollower, RealFollowerConfig
from armtwin.robots.safety import SafeFollower, SafetyConfig, SafetyStop
from armtwin.units import UnitConverter

pytestmark = [pytest.mark.usefixtures("lerobot_loaded"), pytest.mark.lerobot]


@pytest.fixture(autouse=True)
def no_prompts(monkeypatch):
    def refuse(prompt=""):
        raise AssertionError(f"LeRobot prompted: {prompt!r}")

    monkeypatch.setattr(builtins, "input", refuse)


@pytest.fixture
def follower_arm(tmp_path):
    cfg = VirtualArmConfig(role="follower", calibration_dir=tmp_path / "robots" / "so_follower")
    with RemoteVirtualArm(cfg) as arm:
        yield arm


def _safe(arm):
    f = RealFollower(RealFollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
    f.connect()
    conv = UnitConverter(arm.calibration)
    return f, SafeFollower(f, SafetyConfig.for_converter(conv)), conv


def _assert_every_servo_holds(follower_arm, *, goal_writes: int, last_goal: dict) -> None:
    """The stated safety stop, after the close: every servo's torque on, no goal written since the last
    clamped command (``goal_writes`` of them), each Goal_Position still that command's."""
    follower_arm.bus.wait_idle()
    assert follower_arm.bus.torque_enabled() == [True] * 6
    assert follower_arm.bus.goal_write_count() == goal_writes
    for sid, goal in last_goal.items():
        assert follower_arm.bus.get_register(sid, "Goal_Position") == goal


def test_stop_with_replies_lost_leaves_every_servo_holding_through_close(follower_arm):
    """Only replies are lost (the servos still hear every write): the stop, then the session's
    close, leave all six servos with torque on and their goal where the last clamped command put it."""
    f, safe, conv = _safe(follower_arm)
    try:
        safe.send_action(conv.to_lerobot_dict(np.full(6, 0.05)))
        n = len(follower_arm.bus.wait_goal_writes(1))
        last_goal = follower_arm.bus.goal_writes()[-1].goals
        follower_arm.bus.drop_next(float("inf"))
        with pytest.raises(SafetyStop):
            safe.send_action(conv.to_lerobot_dict(np.full(6, 0.5)))
    finally:
        safe.disconnect()  # what the teleop session and the bridge call on the way out
    assert not safe.is_connected
    _assert_every_servo_holds(follower_arm, goal_writes=n, last_goal=last_goal)


def test_a_stop_raised_by_the_safety_layer_itself_leaves_every_servo_holding_through_close(follower_arm, monkeypatch):
    """A present position that is not finite is refused by SafeFollower itself (the follower raised
    nothing): the same stated stop as a bus fault, through the close: torque on, every goal where the
    last clamped command put it (before, the close did LeRobot's torque-off). No bus reply decodes to
    NaN through LeRobot, so the reading is corrupted at the contract, after the real bus read."""
    f, safe, conv = _safe(follower_arm)
    try:
        safe.send_action(conv.to_lerobot_dict(np.full(6, 0.05)))
        n = len(follower_arm.bus.wait_goal_writes(1))
        last_goal = follower_arm.bus.goal_writes()[-1].goals
        read = f.get_joint_positions
        monkeypatch.setattr(f, "get_joint_positions", lambda: {**read(), "elbow_flex.pos": float("nan")})
        with pytest.raises(SafetyStop, match="present position is not finite"):
            safe.send_action(conv.to_lerobot_dict(np.full(6, 0.5)))
        assert f.fault is not None and "not finite" in f.fault
    finally:
        safe.disconnect()
    assert not safe.is_connected
    _assert_every_servo_holds(follower_arm, goal_writes=n, last_goal=last_goal)


def test_servo_overload_stops_the_follower_naming_the_servo(follower_arm):
    f, safe, conv = _safe(follower_arm)
    try:
        safe.send_action(conv.to_lerobot_dict(np.zeros(6)))
        follower_arm.bus.set_error(3, 32)  # elbow_flex: overload
        with pytest.raises(SafetyStop, match=r"servo 3 \(elbow_flex\) reports overload"):
            for _ in range(3):
                safe.send_action(conv.to_lerobot_dict(np.zeros(6)))
        assert safe.events["stops"] == 1
    finally:
        safe.disconnect()
    assert follower_arm.bus.torque_enabled() == [True] * 6  # the stated stop: holding


def test_teleop_exits_non_zero_on_a_servo_error(follower_arm, tmp_path):
    """``armtwin teleop --target real``: a servo that starts reporting overheating mid-run stops the
    run with a non-zero exit and a message naming the servo and the error."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "armtwin", "teleop", "--leader", "keyboard", "--target", "real",
         "--follower-port", follower_arm.port, "--follower-id", follower_arm.id,
         "--follower-calibration-dir", str(follower_arm.calibration_dir), "--headless", "--reset-s", "0",
         "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while follower_arm.bus.goal_write_count(wait=False) < 5 and proc.poll() is None:
            assert time.monotonic() < deadline, "teleop never commanded the arm"
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        follower_arm.bus.set_error(2, 4)  # shoulder_lift: overheating
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert rc == 1, err
    assert "servo 2 (shoulder_lift) reports overheating" in err
    assert follower_arm.bus.torque_enabled() == [True] * 6
