"""armtwin.units: LeRobot units <-> ticks <-> radians, checked against LeRobot's own bus on the virtual servos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armtwin.assets import so101_constants as C
from armtwin.hardware.remote_arm import RemoteVirtualArm
from armtwin.hardware.virtual_arm import VirtualArmConfig
from armtwin.units import Calibration, MotorCalibration, UnitConverter, radians_to_ticks, ticks_to_radians

KEYS = C.LEROBOT_MOTOR_KEYS


# LeRobot imported and the heap frozen before any virtual bus serves (see conftest.py).
pytestmark = pytest.mark.usefixtures("lerobot_loaded")


@st.composite
def calibrations(draw):
    motors = {}
    for n in C.JOINT_NAMES:
        lo = draw(st.integers(0, 1800))
        hi = draw(st.integers(2300, 4095))
        motors[n] = MotorCalibration(
            id=C.MOTOR_IDS[n],
            drive_mode=draw(st.integers(0, 1)),
            homing_offset=draw(st.integers(-2047, 2047)),
            range_min=lo,
            range_max=hi,
        )
    return Calibration(motors)


def in_range_radians(cal: Calibration, u: np.ndarray) -> np.ndarray:
    """(6,) radians inside both the calibrated range and the model limits; u in [0, 1]^6."""
    lo = np.maximum([cal.motors[n].range_min for n in C.JOINT_NAMES], radians_to_ticks(C.lower_limits()))
    hi = np.minimum([cal.motors[n].range_max for n in C.JOINT_NAMES], radians_to_ticks(C.upper_limits()))
    return ticks_to_radians(lo + u * (hi - lo))


@settings(max_examples=150, deadline=None)
@given(calibrations(), st.booleans(), st.lists(st.floats(0, 1), min_size=6, max_size=6))
def test_round_trips(cal, use_degrees, u):
    conv = UnitConverter(cal, use_degrees=use_degrees)
    q = in_range_radians(cal, np.array(u))
    values = conv.from_radians(q)
    assert np.allclose(conv.to_radians(values), q, atol=1e-9)
    d = conv.to_lerobot_dict(q)
    assert list(d) == list(KEYS)
    assert np.allclose(conv.to_radians(d), q, atol=1e-9)
    ticks = radians_to_ticks(q)
    assert np.allclose(conv.lerobot_to_ticks(conv.ticks_to_lerobot(ticks)), ticks, atol=1e-9)
    assert np.allclose(conv.to_radians(np.stack([values, values])), np.stack([q, q]), atol=1e-9)  # (T, 6)
    g = values[5]
    assert 0.0 <= g <= 100.0
    if not use_degrees:
        assert np.all(np.abs(values[:5]) <= 100.0 + 1e-9)


def test_joint_zero_is_tick_2047_and_degrees_are_relative_to_range_middle():
    assert np.allclose(radians_to_ticks(np.zeros(6)), C.TICK_AT_ZERO)
    cal = Calibration.default().to_dict()
    cal["shoulder_pan"].update(range_min=1000, range_max=3000)  # middle 2000, not 2047
    conv = UnitConverter(Calibration.from_dict(cal))
    v = conv.from_radians(np.zeros(6))
    assert v[0] == pytest.approx((2047 - 2000) * 360 / 4095)
    assert conv.to_radians(v)[0] == pytest.approx(0.0, abs=1e-12)


def test_mismatched_calibrations_are_clear_errors(tmp_path):
    good = Calibration.default().to_dict()
    missing = {k: v for k, v in good.items() if k != "wrist_roll"}
    with pytest.raises(ValueError, match=r"missing \['wrist_roll'\].*expected exactly"):
        Calibration.from_dict(missing)
    extra = dict(good, elbow={**good["elbow_flex"]})
    with pytest.raises(ValueError, match=r"unknown \['elbow'\]"):
        Calibration.from_dict(extra)
    wrong_id = json.loads(json.dumps(good))
    wrong_id["gripper"]["id"] = 7
    with pytest.raises(ValueError, match="'gripper' has id 7, SO-101 uses id 6"):
        Calibration.from_dict(wrong_id)
    bad_range = json.loads(json.dumps(good))
    bad_range["elbow_flex"].update(range_min=3000, range_max=1000)
    with pytest.raises(ValueError, match="motor id 3.*range_min < range_max"):
        Calibration.from_dict(bad_range)
    too_wide = json.loads(json.dumps(good))
    too_wide["elbow_flex"]["range_max"] = 4096
    with pytest.raises(ValueError, match="range_max=4096"):
        Calibration.from_dict(too_wide)
    no_field = json.loads(json.dumps(good))
    del no_field["shoulder_lift"]["homing_offset"]
    with pytest.raises(ValueError, match="homing_offset"):
        Calibration.from_dict(no_field)
    path = tmp_path / "arm.json"
    path.write_text(json.dumps(bad_range))
    with pytest.raises(ValueError, match=str(path)):
        Calibration.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Calibration.load(path)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        Calibration.load(tmp_path / "nowhere.json")
    path.write_text(json.dumps(["not", "a", "dict"]))
    with pytest.raises(ValueError, match=str(path)):
        Calibration.load(path)
    conv = UnitConverter()
    with pytest.raises(KeyError, match="gripper.pos"):
        conv.to_radians({k: 0.0 for k in KEYS[:5]})
    with pytest.raises(ValueError, match="last dimension 6"):
        conv.to_radians(np.zeros(5))


@pytest.mark.lerobot
def test_save_load_is_lerobot_format(tmp_path):
    import draccus
    from lerobot.motors import MotorCalibration as LeRobotMotorCalibration

    cal = Calibration.default()
    path = tmp_path / "so_follower" / "x.json"
    cal.save(path)
    with open(path) as f, draccus.config_type("json"):
        loaded = draccus.load(dict[str, LeRobotMotorCalibration], f)  # what LeRobot's Robot does
    assert {n: vars(m) for n, m in loaded.items()} == cal.to_dict()
    assert Calibration.load(path) == cal


@pytest.mark.parametrize("use_degrees", [True, False])
@pytest.mark.lerobot
def test_agrees_with_lerobot_normalize_on_the_virtual_bus(tmp_path, use_degrees):
    """LeRobot reads the virtual servos and writes goals; armtwin.units must give the same numbers."""
    from lerobot.motors import Motor, MotorCalibration as LMC, MotorNormMode
    from lerobot.motors.feetech import FeetechMotorsBus

    cal_d = Calibration.default().to_dict()
    cal_d["elbow_flex"]["drive_mode"] = 1  # LeRobot flips -100..100 and 0..100 motors, not degrees
    cal_d["gripper"]["drive_mode"] = 1
    cal_d["wrist_roll"].update(range_min=0, range_max=4095)
    for n, off in zip(C.JOINT_NAMES, (37, -122, 205, -58, 411, -297)):
        cal_d[n]["homing_offset"] = off
    cal_path = tmp_path / "cal.json"
    Calibration.from_dict(cal_d).save(cal_path)
    q0 = np.array([0.3, -0.5, 0.8, -1.0, 2.0, 0.4])
    cfg = VirtualArmConfig(role="follower", calibration=cal_path, calibration_dir=tmp_path / "d", initial_q=q0)
    body = MotorNormMode.DEGREES if use_degrees else MotorNormMode.RANGE_M100_100
    with RemoteVirtualArm(cfg) as arm:
        conv = UnitConverter(arm.calibration, use_degrees=use_degrees)
        motors = {
            n: Motor(C.MOTOR_IDS[n], "sts3215", MotorNormMode.RANGE_0_100 if n == "gripper" else body)
            for n in C.JOINT_NAMES
        }
        bus = FeetechMotorsBus(arm.port, motors, calibration={n: LMC(**m) for n, m in cal_d.items()})
        # This test is about numbers, not timing: give replies 1 s (LeRobot: 50 ms), as the kernel
        # sometimes hands pty bytes over late on this shared machine. Same formula as LeRobot's patch.
        ph = bus.port_handler

        def set_packet_timeout(packet_length):
            ph.packet_start_time = ph.getCurrentTime()
            ph.packet_timeout = ph.tx_time_per_byte * (packet_length + 3.0) + 1000.0

        ph.setPacketTimeout = set_packet_timeout
        bus.connect()
        try:
            assert bus.is_calibrated
            raw = bus.sync_read("Present_Position", normalize=False)
            norm = bus.sync_read("Present_Position")
            ticks = np.array([raw[n] for n in C.JOINT_NAMES], dtype=float)
            ours = conv.ticks_to_lerobot(ticks)
            assert np.allclose([norm[n] for n in C.JOINT_NAMES], ours, atol=1e-9)
            # and the angle is the physical one (the servo was placed at q0, homing applied)
            assert np.allclose(conv.to_radians(ours), q0, atol=C.RAD_PER_TICK)
            bus.enable_torque()
            rng = np.random.default_rng(0)
            for i in range(10):
                q = in_range_radians(arm.calibration, rng.uniform(0, 1, 6))
                values = conv.to_lerobot_dict(q)
                bus.sync_write("Goal_Position", {k.removesuffix(".pos"): v for k, v in values.items()})
                goals = arm.bus.wait_goal_writes(i + 1, start=i)[-1].goals
                wire = np.array([goals[C.MOTOR_IDS[n]] for n in C.JOINT_NAMES])
                # LeRobot's _unnormalize is ours truncated to an integer tick.
                assert np.array_equal(wire, np.trunc(conv.lerobot_to_ticks(values)))
                assert np.all(np.abs(ticks_to_radians(wire) - q) <= C.RAD_PER_TICK + 1e-9)
        finally:
            bus.disconnect()


def test_leader_pose_means_the_same_angle_on_the_follower(tmp_path):
    """Different leader/follower calibrations: the leader's LeRobot values mean the follower's radians."""
    lead = Calibration.default().to_dict()
    for n, off in zip(C.JOINT_NAMES, (100, -50, 20, 300, -400, 7)):
        lead[n]["homing_offset"] = off
        lead[n]["range_min"] += 250  # range middles 100 ticks (~0.15 rad) off the follower's
        lead[n]["range_max"] -= 50
    lead_cal = Calibration.from_dict(lead)
    q = np.array([0.5, -0.3, 0.2, 0.9, -1.5, 0.6])
    leader_values = UnitConverter(lead_cal).to_lerobot_dict(q)  # what the leader arm reports at pose q
    follower_conv = UnitConverter(Calibration.default())
    on_follower = follower_conv.from_radians(UnitConverter(lead_cal).to_radians(leader_values))
    assert np.allclose(follower_conv.to_radians(on_follower), q, atol=1e-9)
    # Passing the leader's numbers straight to a differently calibrated follower would be wrong:
    naive = follower_conv.to_radians(leader_values)
    assert not np.allclose(naive, q, atol=0.01)
