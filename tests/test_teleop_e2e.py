"""End to end: a virtual SO-101 leader arm on an emulated Feetech bus -> LeRobot's SO101Leader driver ->
the loop -> the simulated follower -> HDF5 -> replay in sim; and the same loop with --target real against
a virtual follower bus (LeRobot's SO101Follower behind the SafeFollower)."""

from __future__ import annotations

import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.hardware.feetech.protocol import decode_register
from armtwin.hardware.remote_arm import RemoteVirtualArm
from armtwin.hardware.virtual_arm import VirtualArm, VirtualArmConfig
from armtwin.teleop.factory import TeleopConfig, build_session
from armtwin.data import load_episode, summarize
from armtwin.teleop.replay import replay_in_sim
from armtwin.units import ticks_to_radians

ENV = "armtwin/SO101-Lift-v0"


@pytest.fixture(autouse=True)
def _lerobot_home(tmp_path, monkeypatch):
    # LeRobot writes calibration folders under HF_LEROBOT_CALIBRATION; keep them in tmp.
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(tmp_path / "calibration"))


def expert_demo(path):
    """An expert episode on Lift (seed 0) to be the virtual leader arm's hand motion, played at 30 fps."""
    from armtwin.robots.safety import SafeFollower, SafetyConfig
    from armtwin.robots.sim import SimFollower, SimFollowerConfig
    from armtwin.teleop.leaders import ExpertLeader
    from armtwin.teleop.loop import ControlLoop, LoopConfig
    from armtwin.teleop.sides import SimSide
    from armtwin.data import Recorder, RecorderConfig

    sim = SimFollower(SimFollowerConfig(env_id=ENV, image_size=None, seed=0))
    sim.connect()
    with Recorder(RecorderConfig(path, env_args=sim.env_args, fps=30)) as rec:
        loop = ControlLoop(ExpertLeader(sim, seed=0), SafeFollower(sim, SafetyConfig.for_converter(sim.converter)),
                           rec, SimSide(sim), LoopConfig(hz=60, episodes=1, episode_steps=150, print_summary=False))
        loop.run()
    return load_episode(path, 0)


@pytest.mark.lerobot
def test_leader_arm_drives_sim_records_and_replays(tmp_path):
    hand = expert_demo(tmp_path / "hand.h5")
    path = tmp_path / "teleop.h5"
    # The leader arm is moved "by hand" along the expert's joint trajectory.
    with VirtualArm(VirtualArmConfig(role="leader", script=str(tmp_path / "hand.h5"))) as arm:
        cfg = TeleopConfig(
            env_id=ENV, leader="so101", target="sim", port=arm.port, leader_id=arm.id,
            leader_calibration_dir=arm.calibration_dir, record=path, episodes=1,
            episode_steps=hand.num_samples + 30, hz=30, image_size=(32, 32), seed=0, print_summary=False,
        )
        session = build_session(cfg)
        session.leader.connect()
        to_rad = session.side.converter.to_radians
        read, truth = [], []  # the leader as read through LeRobot's driver, and its true joint angles

        def on_tick(lp):
            read.append(to_rad(lp.last_action))
            truth.append(arm.joint_positions())

        session.loop.on_tick = on_tick
        arm.plant.reset(None)  # the hand starts its motion now
        try:
            stats = session.loop.run().summary()
        finally:
            session.close()
    s = summarize(path)
    ep = load_episode(path, 0)
    # The episode ended on the twin's task success (before the step limit), like the expert's.
    assert len(s["episodes"]) == 1 and ep.success and ep.num_samples < hand.num_samples + 30
    assert s["env_args"]["env_name"] == ENV and stats["ticks"] == ep.num_samples
    assert s["keys"]["obs/images/wrist"] == ((ep.num_samples, 32, 32, 3), "uint8")
    read, truth = np.array(read), np.array(truth)
    # LeRobot's driver reads the virtual arm's pose: one servo tick plus the motion between the
    # read and the ground-truth sample a few ms later.
    assert np.percentile(np.abs(read - truth), 95) < 0.02
    assert ep.attrs["source"] == "sim" and ep.attrs["seed"] == 0
    # The commands are the leader's reads, except where the safety layer's per-step clamp
    # (0.15 rad from the present position) held them back, e.g. the gripper closing on the cube.
    # In the sim the safety layer's present position is exactly obs["joint_pos"] of the same row, so
    # each command is either the leader's read or exactly 0.15 rad from that present position.
    same = np.abs(ep.actions - read) < 1e-6
    at_clamp = np.abs(np.abs(ep.actions - ep.obs["joint_pos"]) - 0.15) < 1e-6
    assert np.all(same | at_clamp), np.argwhere(~(same | at_clamp))[:5]
    assert same[:, :5].mean() > 0.9, same.mean(axis=0)  # the clamp mostly hits the gripper on the cube
    # The sim follower tracks its commands (servo lag of a few steps).
    assert np.median(np.abs(ep.obs["joint_pos"][5:, :5] - ep.actions[:-5, :5])) < 0.05
    r = replay_in_sim(path, 0)
    assert r.steps == ep.num_samples
    assert r.max_state_error == 0.0 and r.replayed_success  # bit-exact


def teleop_real_argv(leader_arm, follower_arm, path, *, steps: int) -> list[str]:
    """`armtwin teleop --target real`: the virtual leader drives the virtual follower bus, one episode."""
    return [
        "teleop", "--env", ENV, "--leader", "so101", "--port", leader_arm.port,
        "--leader-id", leader_arm.id, "--leader-calibration-dir", str(leader_arm.calibration_dir),
        "--target", "real", "--follower-port", follower_arm.port, "--follower-id", follower_arm.id,
        "--follower-calibration-dir", str(follower_arm.calibration_dir),
        "--record", str(path), "--episodes", "1", "--episode-steps", str(steps), "--reset-s", "0",
        "--hz", "30", "--headless",
    ]


def last_position_read(arm) -> np.ndarray:
    """(6,) radians: the Present_Position replies of the last read on ``arm``'s bus, decoded from the
    bytes its servos sent (a status packet with two data bytes; later writes' replies carry none)."""
    ticks = {}
    for _, kind, detail in reversed(arm.bus.recent_events()):
        raw = bytes.fromhex(detail) if kind == "out" else b""
        if len(raw) == 8 and raw[:2] == b"\xff\xff":
            ticks.setdefault(raw[2], decode_register("Present_Position", raw[5:7]))
            if len(ticks) == C.NUM_JOINTS:
                break
    return ticks_to_radians(np.array([ticks[C.MOTOR_IDS[n]] for n in C.JOINT_NAMES]))


@pytest.mark.lerobot
def test_target_real_drives_virtual_follower_through_safety(tmp_path):
    from armtwin.cli import main

    path = tmp_path / "real.h5"
    with (
        # Each bus served by its own process: a reply never waits for the loop's GIL.
        RemoteVirtualArm(VirtualArmConfig(role="leader", script="sine", sine_period_s=3.0)) as leader_arm,
        RemoteVirtualArm(VirtualArmConfig(role="follower", calibration_dir=tmp_path / "fcal")) as follower_arm,
    ):
        rc = main(teleop_real_argv(leader_arm, follower_arm, path, steps=45))
        assert rc == 0
        q_last_read = last_position_read(leader_arm)
        q_follower = follower_arm.joint_positions()
    ep = load_episode(path, 0)
    assert ep.num_samples == 45 and ep.attrs["source"] == "real"
    assert ep.states is None and "images" not in ep.obs
    assert ep.obs["joint_pos"].shape == (45, 6)
    # The follower arm followed the leader's commands: its present position (read over the wire at
    # the next ticks) reaches each command within the virtual servos' lag.
    lag = [np.median(np.abs(ep.obs["joint_pos"][k:] - ep.actions[:-k])) for k in (1, 2, 3)]
    assert min(lag) < 0.03, lag
    # The follower starts at rest far from the leader: the first command is the safety layer's
    # per-step clamp (0.15 rad from the present position), not the leader's pose.
    first = np.abs(ep.actions[0] - ep.obs["joint_pos"][0])
    assert first.max() <= 0.15 + 2e-3 and first.max() >= 0.15 - 2e-3, first
    assert np.abs(q_follower - ep.actions[-1]).max() < 0.1
    # The last command is the leader's last reading (decoded from the bytes its servos sent), or the
    # safety layer's per-step clamp of it; exact, whatever the machine's load did to the timing.
    as_read = np.abs(ep.actions[-1] - q_last_read) <= 2 * C.RAD_PER_TICK
    at_clamp = np.abs(np.abs(ep.actions[-1] - ep.obs["joint_pos"][-1]) - 0.15) < 2e-3
    assert np.all(as_read | at_clamp), (ep.actions[-1], q_last_read, ep.obs["joint_pos"][-1])
    assert as_read.sum() >= 3, as_read
    assert np.ptp(ep.actions[:, 1]) > 0.2


@pytest.mark.lerobot
def test_target_real_bus_failure_ends_the_loop_cleanly(tmp_path, capsys):
    """The follower's bus goes silent mid-episode: the safety layer stops the arm, the loop ends with a
    clear message and exit status 1 (no traceback), the partial episode is kept as a failure, and
    nothing more reaches the wire."""
    import threading
    import time

    from armtwin.cli import main

    path = tmp_path / "real.h5"
    with (
        RemoteVirtualArm(VirtualArmConfig(role="leader", script="sine", sine_period_s=3.0)) as leader_arm,
        RemoteVirtualArm(VirtualArmConfig(role="follower", calibration_dir=tmp_path / "fcal")) as follower_arm,
    ):
        writes_at_fault = []

        def unplug():
            writes_at_fault.append(follower_arm.bus.goal_write_count())
            follower_arm.bus.drop_next(float("inf"))

        def arm_timer():  # unplug 1 s after the first goal reached the wire (connect time varies)
            follower_arm.bus.wait_goal_writes(1, timeout=60)
            time.sleep(1.0)
            unplug()

        watcher = threading.Thread(target=arm_timer, daemon=True)
        watcher.start()
        rc = main(teleop_real_argv(leader_arm, follower_arm, path, steps=900))
        watcher.join(timeout=5)
        assert writes_at_fault, "the fault was never injected"
        # At most the command already in flight when the bus went silent; none after the stop.
        assert follower_arm.bus.goal_write_count() <= writes_at_fault[0] + 1
    err = capsys.readouterr().err
    assert rc == 1
    assert "the safety layer stopped the follower" in err and "Traceback" not in err
    ep = load_episode(path, 0)
    assert not ep.success and 0 < ep.num_samples < 900
