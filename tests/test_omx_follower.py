"""The OMX follower through ``make_follower`` and the safety layer: the sim target (the OMX env) and the
real target (LeRobot's unmodified ``OmxFollower`` on the virtual Dynamixel bus), and the wire property
of ``test_safety.py`` for the Dynamixel bus: whatever is commanded, every goal position that reaches
the virtual servos, decoded from the bytes, is inside the OMX's joint limits and the calibrated range
and within one step of the present position read just before."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armtwin.assets import omx_constants as OC
from armtwin.hardware.virtual_omx import VirtualOmxArm, VirtualOmxArmConfig
from armtwin.robots.factory import make_follower
from armtwin.robots.safety import SafeFollower, SafetyConfig, SafetyStop

KEYS = OC.LEROBOT_MOTOR_KEYS
MAX_STEP_RAD = 0.12

pytestmark = pytest.mark.usefixtures("lerobot_loaded")


def test_sim_target_is_the_omx_env():
    built = make_follower("sim", env_id="armtwin/OMX-Lift-v0", use_degrees=False, image_size=None)
    follower, conv = built
    try:
        assert conv.robot == "omx" and built.device.unwrapped.ROBOT == "omx"
        home = conv.to_lerobot_dict(OC.HOME_QPOS)
        target = dict(home, **{"shoulder_pan.pos": home["shoulder_pan.pos"] + 5.0})  # -100..100 units
        for _ in range(40):
            follower.send_action(target, stamp=follower.config.clock())
        q = built.device.last_obs["joint_pos"]
        assert q[0] == pytest.approx(conv.to_radians(target)[0], abs=0.02)
    finally:
        follower.disconnect()
    with pytest.raises(ValueError, match="simulates the 'omx' arm, not robot 'so101'"):
        make_follower("sim", env_id="armtwin/OMX-Lift-v0", robot="so101", connect=False)
    with pytest.raises(ValueError, match="target 'virtual' serves the SO-101"):
        make_follower("virtual", robot="omx", connect=False)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    arm = VirtualOmxArm(VirtualOmxArmConfig(role="follower")).start()
    built = make_follower("real", robot="omx", port=arm.port, robot_id="omx_wire",
                          calibration_dir=tmp_path_factory.mktemp("omxcal"), use_degrees=False,
                          max_step_rad=MAX_STEP_RAD)
    yield arm, built
    built.follower.disconnect()
    arm.close()


@pytest.mark.lerobot
def test_real_target_drives_lerobots_omx_follower_on_the_virtual_bus(rig):
    arm, built = rig
    follower, conv = built
    device = built.device
    assert device.lerobot_robot.name == "omx_follower" and device.config.calibration_fpath.is_file()
    # LeRobot wrote its factory calibration; the converter is the same
    assert conv.calibration == type(conv.calibration).load(device.config.calibration_fpath, robot="omx")
    goal = np.array([0.3, -0.2, 0.3, 0.4, -0.3, 0.5])
    target = conv.to_lerobot_dict(goal)
    deadline = time.monotonic() + 6.0
    while time.monotonic() < deadline and np.abs(arm.joint_positions() - goal).max() > 0.01:
        follower.send_action(target, stamp=follower.config.clock())
        time.sleep(0.02)
    np.testing.assert_allclose(arm.joint_positions(), goal, atol=0.01)


def _wire(arm, count: int) -> np.ndarray:
    writes = arm.bus.wait_goal_writes(count, start=count - 1)
    return np.array([writes[-1].goals[OC.FOLLOWER_MOTORS[n][0]] for n in OC.JOINT_NAMES])


value = st.one_of(st.floats(-400, 400), st.sampled_from([math.nan, math.inf, -math.inf, 1e9, -1e9]))
step = st.tuples(st.lists(value, min_size=6, max_size=6), st.sampled_from(["fresh", "stale", "none"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=6))
@pytest.mark.lerobot
def test_dynamixel_wire_never_exceeds_limits_or_step(rig, steps):
    arm, built = rig
    conv = built.converter
    safe = SafeFollower(built.device, SafetyConfig.for_converter(conv, max_step_rad=MAX_STEP_RAD))
    before = arm.bus.goal_write_count()
    for values, age in steps:
        now = safe.config.clock()
        stamp = {"fresh": now, "stale": now - 10.0, "none": None}[age]
        sent = safe.send_action(dict(zip(KEYS, values)), stamp=stamp)
        before += 1
        ticks = _wire(arm, before)  # exactly one command per call
        assert np.array_equal(ticks, np.trunc(conv.lerobot_to_ticks(sent)))
        q = OC.ticks_to_radians(ticks)
        assert np.all(q >= OC.lower_limits() - 1e-12) and np.all(q <= OC.upper_limits() + 1e-12), q
        cal = conv.calibration.motors
        assert all(cal[n].range_min <= t <= cal[n].range_max for n, t in zip(OC.JOINT_NAMES, ticks))
        present = conv.lerobot_to_ticks(safe.last_present)
        assert np.all(np.abs(ticks - present) <= MAX_STEP_RAD / OC.RAD_PER_TICK + 1 + 1e-6)
    assert arm.bus.goal_write_count() == before


@pytest.mark.lerobot
def test_omx_servo_error_is_named_from_its_hardware_error_status(tmp_path):
    """A Dynamixel status reply says only "alert" (bit 7); the follower reads the servo's
    Hardware_Error_Status to name the error: overload on the elbow stops the follower with that name."""
    from armtwin.hardware.dynamixel import protocol as P

    arm = VirtualOmxArm(VirtualOmxArmConfig(role="follower")).start()
    try:
        built = make_follower("real", robot="omx", port=arm.port, robot_id="omx_fault", calibration_dir=tmp_path,
                              use_degrees=False, max_step_rad=MAX_STEP_RAD)
        follower = built.follower
        try:
            hold = follower.get_observation()
            hold = {k: hold[k] for k in KEYS}
            follower.send_action(hold, stamp=follower.config.clock())
            arm.bus.set_error(OC.MOTOR_IDS["elbow_flex"], P.HW_OVERLOAD)
            with pytest.raises(SafetyStop) as stop:
                for _ in range(3):
                    follower.send_action(hold, stamp=follower.config.clock())
            msg = str(stop.value)
            assert "servo 13 (elbow_flex) reports alert, overload" in msg, msg
            assert "Hardware_Error_Status 0x20" in msg, msg
            assert follower.events["stops"] == 1
        finally:
            follower.disconnect()
    finally:
        arm.close()


@pytest.mark.lerobot
@pytest.mark.parametrize("target", ["sim", "real"])
def test_teleop_omx_leader_drives_the_omx_follower(tmp_path, target):
    """``armtwin teleop --robot omx --leader omx --target sim|real``: LeRobot's OmxLeader on a virtual
    Dynamixel leader (moved by a scripted hand) drives the OMX twin, or LeRobot's OmxFollower on a
    virtual follower bus, through the safety layer; one recorded episode of the OMX task."""
    from armtwin.cli import main as cli_main
    from armtwin.data import load_episode, summarize

    path = tmp_path / "omx.h5"
    leader = VirtualOmxArm(VirtualOmxArmConfig(role="leader", script="sine", sine_amplitude_rad=0.3)).start()
    follower = VirtualOmxArm(VirtualOmxArmConfig(role="follower")).start() if target == "real" else None
    argv = ["teleop", "--robot", "omx", "--leader", "omx", "--port", leader.port, "--leader-id", "vl",
            "--leader-calibration-dir", str(tmp_path / "lcal"), "--target", target, "--record", str(path),
            "--episodes", "1", "--episode-steps", "45", "--reset-s", "0", "--hz", "30", "--headless"]
    if follower is not None:
        argv += ["--follower-port", follower.port, "--follower-id", "vf",
                 "--follower-calibration-dir", str(tmp_path / "fcal")]
    try:
        assert cli_main(argv) == 0
        truth = leader.joint_positions()
    finally:
        leader.close()
        if follower is not None:
            moved = follower.joint_positions()
            follower.close()
    s = summarize(path)
    ep = load_episode(path, 0)
    assert s["env_args"]["env_name"] == "armtwin/OMX-Lift-v0" and ep.num_samples == 45
    # the recorded commands follow the leader's body joints (radians, the OMX's ticks at joint zero 2048)
    assert np.abs(ep.actions[-1, :5] - truth[:5]).max() < 0.15
    assert np.ptp(ep.actions[:, :5], axis=0).max() > 0.1  # the hand moved the leader, the commands followed
    if follower is not None:
        assert np.abs(moved[:5] - ep.actions[-1, :5]).max() < 0.2  # the real (virtual) follower went there
