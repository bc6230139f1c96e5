"""LeRobot's own SO101Follower / SO101Leader (via armtwin.robots.real) against virtual Feetech buses.

What is checked on the wire: the goal positions the virtual follower receives are
exactly LeRobot's encoding of the clamped commands SafeFollower returns, and a
corrupted, late or missing reply is retried or stops the arm without any
further (let alone unclamped) goal on the wire.
"""

from __future__ import annotations

import builtins
import json
import time

import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.hardware.remote_arm import RemoteVirtualArm
from armtwin.hardware.virtual_arm import VirtualArmConfig
from armtwin.robots.real import CalibrationMismatch, RealFollower, RealFollowerConfig, RealLeader, RealLeaderConfig
from armtwin.robots.safety import SafeFollower, SafetyConfig, SafetyStop
from armtwin.units import Calibration, UnitConverter


# LeRobot imported and the heap frozen before any virtual bus serves (see conftest.py).
pytestmark = pytest.mark.usefixtures("lerobot_loaded")


@pytest.fixture(autouse=True)
def no_prompts(monkeypatch):
    """LeRobot asks on stdin when the calibration does not match; here that is a failure."""

    def refuse(prompt=""):
        raise AssertionError(f"LeRobot prompted: {prompt!r}")

    monkeypatch.setattr(builtins, "input", refuse)


@pytest.fixture
def follower_arm(tmp_path):
    cfg = VirtualArmConfig(role="follower", calibration_dir=tmp_path / "robots" / "so_follower")
    with RemoteVirtualArm(cfg) as arm:  # its own process: replies never wait for this one's GIL
        yield arm


@pytest.fixture
def follower(follower_arm):
    f = RealFollower(
        RealFollowerConfig(port=follower_arm.port, id=follower_arm.id, calibration_dir=follower_arm.calibration_dir)
    )
    f.connect()
    yield f
    f.disconnect()


def wire_ticks(arm, count: int) -> np.ndarray:
    """Ticks of the last goal write, once ``count`` writes have arrived."""
    goals = arm.bus.wait_goal_writes(count, start=count - 1)[-1].goals
    return np.array([goals[C.MOTOR_IDS[n]] for n in C.JOINT_NAMES])


def lerobot_wire_encoding(conv: UnitConverter, sent: dict) -> np.ndarray:
    """LeRobot's _unnormalize: int() of the exact tick value."""
    return np.trunc(conv.lerobot_to_ticks(sent)).astype(int)


@pytest.mark.lerobot
def test_leader_and_follower_connect_with_their_calibration_files(tmp_path):
    cfg_l = VirtualArmConfig(role="leader", script="sine", calibration_dir=tmp_path / "teleoperators" / "so_leader")
    cfg_f = VirtualArmConfig(role="follower", calibration_dir=tmp_path / "f")
    with RemoteVirtualArm(cfg_f) as fa, RemoteVirtualArm(cfg_l) as la:
        assert la.calibration_path == tmp_path / "teleoperators" / "so_leader" / "armtwin_virtual_leader.json"
        saved = json.loads(la.calibration_path.read_text())
        assert saved["wrist_roll"]["homing_offset"] == la.calibration.motors["wrist_roll"].homing_offset
        leader = RealLeader(RealLeaderConfig(port=la.port, id=la.id, calibration_dir=la.calibration_dir))
        follower = RealFollower(RealFollowerConfig(port=fa.port, id=fa.id, calibration_dir=fa.calibration_dir))
        leader.connect()  # calibrate=True: would prompt (and fail) unless the registers match the file
        follower.connect()
        try:
            assert leader.lerobot_teleop.is_calibrated and follower.lerobot_robot.is_calibrated
            assert not any(la.bus.torque_enabled())  # a leader is moved by hand
            assert all(fa.bus.torque_enabled())
            action = leader.get_action()
            assert set(action) == set(C.LEROBOT_MOTOR_KEYS)
            # The leader's reading means the physical joint angle: within a tick (+ script motion).
            conv_l = UnitConverter(la.calibration)
            assert np.allclose(conv_l.to_radians(action), la.joint_positions(), atol=0.02)
            obs = follower.get_observation()
            conv_f = UnitConverter(fa.calibration)
            assert np.allclose(conv_f.to_radians(obs), fa.joint_positions(), atol=2 * C.RAD_PER_TICK)
            assert set(follower.observation_features) == set(C.LEROBOT_MOTOR_KEYS)
        finally:
            leader.disconnect()
            follower.disconnect()


@pytest.mark.lerobot
def test_wire_goals_equal_the_clamped_commands(follower_arm, follower):
    conv = UnitConverter(follower_arm.calibration)
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv, max_step_rad=0.1))
    rng = np.random.default_rng(0)
    for i in range(15):
        q = rng.uniform(C.lower_limits() - 0.5, C.upper_limits() + 0.5)  # some beyond the limits
        sent = safe.send_action(conv.to_lerobot_dict(q))
        s = np.array([sent[k] for k in C.LEROBOT_MOTOR_KEYS])
        present = np.array([safe.last_present[k] for k in C.LEROBOT_MOTOR_KEYS])
        mrt = np.array([safe.config.max_relative_target[k] for k in C.LEROBOT_MOTOR_KEYS])
        assert np.all(np.abs(s - present) <= mrt + 1e-9)
        lo = np.array([safe.config.lower[k] for k in C.LEROBOT_MOTOR_KEYS])
        hi = np.array([safe.config.upper[k] for k in C.LEROBOT_MOTOR_KEYS])
        assert np.all((s >= lo) & (s <= hi))
        assert np.array_equal(wire_ticks(follower_arm, i + 1), lerobot_wire_encoding(conv, sent))
        assert follower_arm.bus.goal_write_count() == i + 1
    assert safe.events["step_clamped"] > 0


@pytest.mark.lerobot
def test_corrupted_and_late_replies_are_retried(follower_arm, follower):
    conv = UnitConverter(follower_arm.calibration)
    truth = follower_arm.joint_positions()
    follower_arm.bus.corrupt_next(1)
    obs = follower.get_observation()
    assert follower.bus_errors >= 1  # the corrupted reply failed a try, the retry got it right
    assert np.allclose(conv.to_radians(obs), truth, atol=2 * C.RAD_PER_TICK)
    errors = follower.bus_errors
    follower_arm.bus.delay_next(1, 0.08)  # past LeRobot's ~50 ms packet timeout
    obs = follower.get_observation()
    assert follower.bus_errors > errors
    assert np.allclose(conv.to_radians(obs), truth, atol=2 * C.RAD_PER_TICK)
    # The late reply answered the retry; the retry's own replies must not answer the next request.
    # Move the arm without reading (a sync write has no reply): a reader one reply behind would then
    # report the pose from before the move.
    target = truth + np.array([0.1, -0.1, 0.1, -0.1, 0.1, 0.1])
    follower.send_action(conv.to_lerobot_dict(target))
    time.sleep(0.5)
    moved = follower_arm.joint_positions()
    assert np.allclose(moved, target, atol=2 * C.RAD_PER_TICK)
    assert np.allclose(conv.to_radians(follower.get_joint_positions()), moved, atol=2 * C.RAD_PER_TICK)
    n = follower_arm.bus.goal_write_count()
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv))
    follower_arm.bus.corrupt_next(2)
    sent = safe.send_action(conv.to_lerobot_dict(truth))
    assert np.array_equal(wire_ticks(follower_arm, n + 1), lerobot_wire_encoding(conv, sent))
    assert follower_arm.bus.goal_write_count() == n + 1


@pytest.mark.lerobot
def test_silent_bus_stops_safely_and_rearms(follower_arm, follower):
    conv = UnitConverter(follower_arm.calibration)
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv))
    safe.send_action(conv.to_lerobot_dict(np.zeros(6)))
    n_writes = len(follower_arm.bus.wait_goal_writes(1))
    follower_arm.bus.drop_next(float("inf"))
    with pytest.raises(SafetyStop, match="Present_Position|no status packet|failed after"):
        safe.send_action(conv.to_lerobot_dict(np.full(6, 1.0)))
    with pytest.raises(SafetyStop, match="rearm"):
        safe.send_action(conv.to_lerobot_dict(np.full(6, 1.0)))
    assert follower_arm.bus.goal_write_count() == n_writes  # nothing at all went on the wire
    assert safe.events["stops"] == 1 and all(follower_arm.bus.torque_enabled())  # holding
    follower_arm.bus.clear_faults()
    safe.rearm()
    sent = safe.send_action(conv.to_lerobot_dict(np.full(6, 1.0)))
    present = safe.last_present
    assert np.allclose(conv.to_radians(present), follower_arm.joint_positions(), atol=0.05)
    for k in C.LEROBOT_MOTOR_KEYS:  # the first command after rearm is one step from the present pose
        assert abs(sent[k] - present[k]) <= safe.config.max_relative_target[k] + 1e-9


@pytest.mark.lerobot
def test_torque_off_policy_after_retries_run_out(follower_arm, follower):
    conv = UnitConverter(follower_arm.calibration)
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv, on_fault="torque_off"))
    follower_arm.bus.corrupt_next(6 * (1 + follower.config.read_retries))  # every reply of every try
    with pytest.raises(SafetyStop, match=f"failed after {1 + follower.config.read_retries} tries"):
        safe.send_action(conv.to_lerobot_dict(np.zeros(6)))
    assert follower_arm.bus.goal_writes() == []
    assert not any(follower_arm.bus.torque_enabled())  # the torque_off policy ran


@pytest.mark.lerobot
def test_servo_error_bits_on_disconnect_do_not_leave_the_port_open(follower_arm, follower):
    follower_arm.bus.set_error(3, 32)  # overload: LeRobot's checked writes raise RuntimeError
    follower.disconnect()
    assert not follower.is_connected


@pytest.mark.lerobot
def test_hang_up_stops_without_crashing(follower_arm, follower):
    conv = UnitConverter(follower_arm.calibration)
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv))
    safe.send_action(conv.to_lerobot_dict(np.zeros(6)))
    follower_arm.bus.hang_up()
    with pytest.raises(SafetyStop):
        safe.send_action(conv.to_lerobot_dict(np.full(6, 0.5)))
    follower.disconnect()  # must not raise with the adapter gone
    assert not follower.is_connected


@pytest.mark.lerobot
def test_mismatched_calibration_file_is_a_clear_error(tmp_path, follower_arm):
    bad = follower_arm.calibration.to_dict()
    bad["elbow_flex"]["range_max"] -= 100
    d = tmp_path / "other"
    d.mkdir()
    (d / "arm.json").write_text(json.dumps(bad))
    f = RealFollower(RealFollowerConfig(port=follower_arm.port, id="arm", calibration_dir=d))
    with pytest.raises(CalibrationMismatch, match=r"elbow_flex\.range_max"):
        f.connect(calibrate=False)
    assert not f.is_connected
    f = RealFollower(RealFollowerConfig(port=follower_arm.port, id="nobody", calibration_dir=d))
    with pytest.raises(CalibrationMismatch, match="no calibration file"):
        f.connect(calibrate=False)


def test_configs_validate():
    with pytest.raises(ValueError, match="port"):
        RealFollowerConfig(port="")
    with pytest.raises(ValueError, match="camera"):
        RealFollowerConfig(port="/dev/null", cameras={"top": object()})
    with pytest.raises(ValueError, match="read_retries"):
        RealLeaderConfig(port="/dev/null", read_retries=-1)


@pytest.mark.lerobot
def test_virtual_follower_is_the_mujoco_twin(tmp_path):
    """--env: the present positions LeRobot reads come from the MuJoCo arm, which tracks the goals."""
    cfg = VirtualArmConfig(role="follower", env_id="armtwin/SO101-Lift-v0", calibration_dir=tmp_path)
    with RemoteVirtualArm(cfg) as arm:
        f = RealFollower(RealFollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
        f.connect()
        try:
            conv = UnitConverter(arm.calibration)
            start = arm.joint_positions()  # the sim's joint_pos after env.reset()
            assert np.allclose(conv.to_radians(f.get_observation()), start, atol=2 * C.RAD_PER_TICK)
            assert not np.allclose(start, 0.0, atol=0.1)  # the task's home pose, not the servo default
            safe = SafeFollower(f, SafetyConfig.for_converter(conv, max_step_rad=0.2))
            target = np.array([0.4, -0.2, 0.5, 1.0, 0.3, 0.8])
            t_end = time.monotonic() + 10.0  # generous for a loaded machine; usually done in < 1 s
            while time.monotonic() < t_end:
                safe.send_action(conv.to_lerobot_dict(target))
                time.sleep(1 / 30)
                if np.allclose(conv.to_radians(f.get_joint_positions()), target, atol=0.05):
                    break
            reached = conv.to_radians(f.get_joint_positions())
            assert np.allclose(reached, target, atol=0.05), reached
            time.sleep(0.5)  # settle (the MuJoCo gripper overshoots a little), then compare with the sim
            assert np.allclose(conv.to_radians(f.get_joint_positions()), arm.joint_positions(), atol=0.01)
        finally:
            f.disconnect()


@pytest.mark.lerobot
def test_cli_virtual_arm_process_serves_lerobot(tmp_path):
    """`armtwin virtual-arm` in its own process; LeRobot's leader driver connects to the printed port."""
    import os
    import signal
    import subprocess
    import sys

    cal_dir = tmp_path / "teleoperators" / "so_leader"
    proc = subprocess.Popen(
        [sys.executable, "-m", "armtwin", "virtual-arm", "--role", "leader", "--script", "hold",
         "--calibration-dir", str(cal_dir), "--id", "cli_leader", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = {}
        while "LeRobot" not in lines:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            key, _, value = line.partition(": ")
            lines[key] = value.strip()
        assert lines["id"] == "cli_leader" and lines["calibration"] == str(cal_dir / "cli_leader.json")
        leader = RealLeader(RealLeaderConfig(port=lines["port"], id="cli_leader", calibration_dir=cal_dir))
        leader.connect()
        try:
            action = leader.get_action()
            conv = UnitConverter(Calibration.load(cal_dir / "cli_leader.json"))
            assert np.allclose(conv.to_radians(action), np.zeros(6), atol=2 * C.RAD_PER_TICK)  # "hold" at zero
        finally:
            leader.disconnect()
        proc.send_signal(signal.SIGINT)
        # communicate() drains both pipes while waiting: a child blocked on a full stderr pipe cannot exit.
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "served" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.lerobot
def test_failed_observation_stops_the_follower_too(follower_arm, follower):
    conv = UnitConverter(follower_arm.calibration)
    safe = SafeFollower(follower, SafetyConfig.for_converter(conv))
    follower_arm.bus.drop_next(float("inf"))
    with pytest.raises(SafetyStop, match="get_observation failed"):
        safe.get_observation()
    with pytest.raises(SafetyStop, match="rearm"):
        safe.send_action(conv.to_lerobot_dict(np.zeros(6)))
    assert follower_arm.bus.goal_writes() == []


@pytest.mark.lerobot
def test_virtual_leader_replays_a_recorded_episode(tmp_path):
    import h5py

    q0, q1 = np.array([-0.5, 0.2, -0.3, 0.4, -1.0, 0.0]), np.array([0.5, -0.2, 0.3, -0.4, 1.0, 1.0])
    path = tmp_path / "demo.h5"
    with h5py.File(path, "w") as f:
        f.create_group("data").attrs["fps"] = 0.25  # one row every 4 s: slow enough to follow
        f["data"].create_dataset("demo_0/actions", data=np.stack([q0, q1]))
    cfg = VirtualArmConfig(role="leader", script=str(path), calibration_dir=tmp_path / "cal")
    with RemoteVirtualArm(cfg) as arm:
        leader = RealLeader(RealLeaderConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
        leader.connect()
        try:
            conv = UnitConverter(arm.calibration)
            fractions = []
            for _ in range(2):
                q = conv.to_radians(leader.get_action())
                a = np.dot(q - q0, q1 - q0) / np.dot(q1 - q0, q1 - q0)
                assert np.allclose(q, q0 + a * (q1 - q0), atol=3 * C.RAD_PER_TICK)  # on the recorded path
                fractions.append(a)
                time.sleep(0.3)
            assert 0 <= fractions[0] < fractions[1] <= 1  # and moving along it
        finally:
            leader.disconnect()


@pytest.mark.lerobot
def test_lerobot_calibration_runs_end_to_end_on_a_virtual_follower(tmp_path, monkeypatch):
    """LeRobot's own SO101Follower.calibrate() against a factory-fresh virtual follower: nobody moves a
    virtual arm by hand, so the arm sweeps its range while LeRobot records it (HandSweep), and the
    calibration LeRobot writes spans each joint's range instead of failing on min == max.
    The person at the keyboard is the only fake: input() and LeRobot's enter_pressed()."""
    import time

    import lerobot.motors.motors_bus as motors_bus
    from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig

    from armtwin.units import radians_to_ticks

    cfg = VirtualArmConfig(role="follower", calibrated=False, calibration_dir=tmp_path / "virtual")
    t_enter = []
    monkeypatch.setattr("builtins.input", lambda *a, **k: t_enter.append(time.monotonic()) or "")
    # "Press ENTER to stop" after 2.5 s: the sweep starts 0.5 s after homing, then more than one period.
    monkeypatch.setattr(motors_bus, "enter_pressed", lambda: bool(t_enter) and time.monotonic() - t_enter[-1] > 2.5)
    with RemoteVirtualArm(cfg) as arm:
        robot = SO101Follower(SO101FollowerConfig(port=arm.port, id="fresh_arm", calibration_dir=tmp_path / "cal"))
        robot.connect(calibrate=True)  # no calibration file: LeRobot runs its calibration
        try:
            saved = json.loads((tmp_path / "cal" / "fresh_arm.json").read_text())
            assert robot.is_calibrated
        finally:
            robot.disconnect()
    lo = radians_to_ticks(C.lower_limits())
    hi = radians_to_ticks(C.upper_limits())
    span = np.abs(hi - lo)
    for k, name in enumerate(C.JOINT_NAMES):
        m = saved[name]
        assert m["range_min"] < m["range_max"], (name, m)
        if name != "wrist_roll":  # LeRobot sets wrist_roll to the full turn itself
            assert m["range_max"] - m["range_min"] > 0.9 * span[k], (name, m, span[k])


@pytest.mark.lerobot
def test_failed_lerobot_calibration_leaves_an_arm_the_lookup_restores(tmp_path):
    """``lerobot-calibrate`` on a virtual follower with the id it printed, ENTER pressed before any joint
    moved: LeRobot fails ("Some motors have the same min and max values") after it reset the ranges and
    wrote new homing offsets, and leaves the id's file as it was. armtwin's lookup names that state
    (UnfinishedCalibration, not a wrong file) and, with restore_calibration, writes the id's file back:
    then the arm, its file and LeRobot's own check agree again."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig

    from armtwin.robots.real import UnfinishedCalibration

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    cfg = VirtualArmConfig(role="follower", calibration_dir=tmp_path / "cal", initial_q=[0.3, -0.4, 0.5, 0.2, 0.1, 0.4])
    with RemoteVirtualArm(cfg) as arm:
        printed = json.loads(arm.calibration_path.read_text())
        r = subprocess.run(
            [str(Path(sys.executable).parent / "lerobot-calibrate"), "--robot.type=so101_follower",
             f"--robot.port={arm.port}", f"--robot.id={arm.id}", f"--robot.calibration_dir={arm.calibration_dir}"],
            input="c\n\n\n", capture_output=True, text=True, timeout=300, env=env,
        )  # "c": recalibrate; ENTER: "middle of the range"; ENTER at once: stop recording the ranges
        assert r.returncode != 0 and "same min and max values" in r.stderr, r.stderr[-2000:]
        assert json.loads(arm.calibration_path.read_text()) == printed  # LeRobot saved nothing
        fcfg = dict(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir)
        with pytest.raises(UnfinishedCalibration, match=rf"did not finish.*{arm.id}"):
            RealFollower(RealFollowerConfig(**fcfg)).connect(calibrate=False)
        f = RealFollower(RealFollowerConfig(**fcfg, restore_calibration=True))
        f.connect(calibrate=False)
        try:
            on_arm = f.lerobot_robot.bus.read_calibration()
            assert {m: vars(c) for m, c in on_arm.items()} == printed
        finally:
            f.disconnect()
        robot = SO101Follower(SO101FollowerConfig(**fcfg))
        robot.connect(calibrate=False)
        try:
            assert robot.is_calibrated  # LeRobot's own check: registers == the printed id's file
        finally:
            robot.disconnect()


def test_unfinished_calibration_is_only_the_reset_range_state():
    from armtwin.robots.real import unfinished_calibration

    class M:  # LeRobot's MotorCalibration fields that matter here
        def __init__(self, homing, lo, hi):
            self.homing_offset, self.range_min, self.range_max = homing, lo, hi

    names = C.JOINT_NAMES
    in_file = {m: M(10, 800, 3200) for m in names}
    reset = {m: M(233, 0, 4095) for m in names}
    assert unfinished_calibration(reset, in_file)
    assert not unfinished_calibration({m: M(10, 700, 3300) for m in names}, in_file)  # another complete one
    assert not unfinished_calibration({**reset, "elbow_flex": M(5, 900, 3000)}, in_file)  # only partly reset
    assert not unfinished_calibration(reset, {m: M(0, 0, 4095) for m in names})  # the file holds no range either
