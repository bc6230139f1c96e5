"""``armtwin run --target real`` with cameras: a virtual follower whose twin renders the cameras is a complete
"real" robot through LeRobot's unmodified SO101Follower; the bytes on the wire respect the safety layer."""

from __future__ import annotations

import numpy as np
import pytest

from armtwin.assets import so101_constants as C

LIFT = "armtwin/SO101-Lift-v0"


def test_camera_specs_are_checked():
    from armtwin.robots.factory import parse_camera_spec

    assert parse_camera_spec("wrist=/dev/video0") == ("wrist", "/dev/video0", None)
    assert parse_camera_spec("front=2@640x480") == ("front", "2", (480, 640))
    for bad in ("wrist", "=/dev/video0", "wrist=", "wrist=0@640", "side=/dev/video0"):
        with pytest.raises(ValueError, match="camera"):
            parse_camera_spec(bad)


def test_frame_socket_needs_the_twin():
    from armtwin.hardware.virtual_arm import VirtualArmConfig

    with pytest.raises(ValueError, match="env_id"):
        VirtualArmConfig(role="follower", frame_socket="/tmp/x.sock")


@pytest.mark.lerobot
def test_opencv_cameras_reach_lerobots_follower_config():
    from lerobot.cameras.opencv import OpenCVCameraConfig

    from armtwin.robots.factory import opencv_cameras
    from armtwin.robots.real import RealFollowerConfig

    cams = opencv_cameras(["wrist=/dev/video0", "front=1@64x48"], image_size=(32, 32))
    assert isinstance(cams["wrist"], OpenCVCameraConfig) and (cams["wrist"].height, cams["wrist"].width) == (32, 32)
    assert cams["front"].index_or_path == 1 and (cams["front"].height, cams["front"].width) == (48, 64)
    cfg = RealFollowerConfig(port="/dev/null", id="x", calibration_dir="/tmp", cameras=cams)
    assert cfg.cameras == cams


@pytest.mark.lerobot
def test_checkpoint_drives_a_virtual_follower_with_twin_cameras_through_lerobot(tiny_act_checkpoint, tmp_path,
                                                                              monkeypatch):
    from armtwin.hardware.remote_arm import RemoteVirtualArm
    from armtwin.hardware.virtual_arm import VirtualArmConfig
    from armtwin.policy.run import run_policy
    from armtwin.robots.config_twin_camera import TwinCameraConfig
    from armtwin.robots.twin_camera import TwinCamera
    from armtwin.units import UnitConverter, ticks_to_radians

    sock = tmp_path / "frames.sock"
    cfg = VirtualArmConfig(role="follower", env_id=LIFT, frame_socket=sock,
                           calibration_dir=tmp_path / "robots" / "so_follower")
    max_step = 0.05
    with RemoteVirtualArm(cfg) as arm:
        assert arm.frame_socket == str(sock)
        # LeRobot's camera factory finds the device class from the config type, as for any plugin camera
        from lerobot.cameras.utils import make_cameras_from_configs

        cam = make_cameras_from_configs({"front": TwinCameraConfig(socket=str(sock), camera="front", width=32,
                                                                   height=32)})["front"]
        assert isinstance(cam, TwinCamera)
        cam.connect()
        img = cam.async_read()
        cam.disconnect()
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.std() > 1.0  # a scene, not a blank

        from armtwin.robots.safety import KEYS, SafeFollower

        sent_log = []
        real_send = SafeFollower.send_action

        def observed_send(self, action, **kw):  # observes each command and the present it was clamped to
            sent = real_send(self, action, **kw)
            sent_log.append((dict(self.last_present), dict(sent)))
            return sent

        monkeypatch.setattr(SafeFollower, "send_action", observed_send)
        loop = run_policy(policy=tiny_act_checkpoint, env_id=LIFT, target="real", follower_port=arm.port,
                          follower_id=arm.id, follower_calibration_dir=arm.calibration_dir, twin_cameras=sock,
                          episodes=1, episode_steps=20, reset_s=0.0, max_step_rad=max_step, print_summary=False)
        assert [r.steps for r in loop.results] == [20] and loop.safety_stop is None
        assert loop.leader.steps == 20
        assert set(loop.follower.observation_features) >= {"wrist", "front"}
        writes = arm.bus.goal_writes()
    assert len(sent_log) >= 20 and len(writes) >= len(sent_log)
    conv = UnitConverter(arm.calibration)
    cal = arm.calibration
    ids = [C.MOTOR_IDS[n] for n in C.JOINT_NAMES]
    ticks = np.array([[w.goals[i] for i in ids] for w in writes[-len(sent_log):]])
    for k, (present, sent) in enumerate(sent_log):
        # what the safety layer returned is what went over the wire (LeRobot truncates to a tick)
        assert np.array_equal(ticks[k], np.trunc(conv.lerobot_to_ticks(sent)))
        q = ticks_to_radians(ticks[k])
        assert np.all(q >= C.lower_limits() - 1e-12) and np.all(q <= C.upper_limits() + 1e-12)
        assert all(cal.motors[n].range_min <= t <= cal.motors[n].range_max for n, t in zip(C.JOINT_NAMES, ticks[k]))
        # one step of the present position at most (+1 tick of LeRobot's truncation)
        assert np.all(np.abs(ticks[k] - conv.lerobot_to_ticks(present)) <= max_step / C.RAD_PER_TICK + 1 + 1e-6)
    assert sorted(present) == sorted(KEYS)
