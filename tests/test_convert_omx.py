"""OMX twin recordings -> LeRobot v3.0: ``robot_type`` and feature names of LeRobot's own ``omx_follower``,
values in its units (factory calibration, -100..100 body joints, 0..100 gripper), read back with LeRobot's
``LeRobotDataset`` and checked against LeRobot's own ``DynamixelMotorsBus`` normalisation."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from armtwin.assets import omx_constants as OC
from armtwin.convert.h5io import ConvertError
from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
from armtwin.mimic.sources import record_expert_demos
from armtwin.units import Calibration, UnitConverter


@pytest.fixture(scope="module")
def omx_recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("omx") / "omx_lift.h5"
    record_expert_demos("armtwin/OMX-Lift-v0", path, num=2, image_size=(48, 64))
    return path


@pytest.fixture(scope="module")
def omx_dataset(omx_recording, tmp_path_factory):
    root = tmp_path_factory.mktemp("omx_ds") / "ds"
    return export_lerobot(LeRobotExportConfig(inputs=[omx_recording], repo_id="armtwin/omx", root=root, vcodec="h264",
                                              progress=False))


def test_info_names_the_omx_follower(omx_dataset):
    info = json.loads((omx_dataset.root / "meta/info.json").read_text())
    assert info["robot_type"] == OC.LEROBOT_ROBOT_TYPE == "omx_follower"
    for key in ("observation.state", "action"):
        assert info["features"][key]["names"] == list(OC.LEROBOT_MOTOR_KEYS)


def test_default_calibration_is_lerobots_factory_calibration():
    cal = Calibration.default("omx")
    assert {n: (m.id, m.homing_offset, m.range_min, m.range_max, m.drive_mode) for n, m in cal.motors.items()} == {
        n: (OC.FOLLOWER_MOTORS[n][0], 0, 0, 4095, 0) for n in OC.JOINT_NAMES}
    with pytest.raises(ValueError, match="OMX uses id 11"):
        Calibration({**cal.motors, "shoulder_pan": cal.motors["gripper"]}, "omx")


def test_mixed_arms_are_refused(omx_recording, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from convert_data import write_synthetic_recording

    so101 = write_synthetic_recording(tmp_path / "so.h5", lengths=(5,), success=(True,), instructions=("x",),
                                      image_size=(48, 64), seed=1)
    with pytest.raises(ConvertError, match="different arms"):
        export_lerobot(LeRobotExportConfig(inputs=[omx_recording, so101], repo_id="u/mix", root=tmp_path / "ds",
                                           vcodec="h264", progress=False))


@pytest.mark.lerobot
def test_lerobot_reads_it_with_omx_follower_features_and_units(omx_recording, omx_dataset):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.motors import MotorCalibration
    from lerobot.robots.omx_follower import OmxFollower, OmxFollowerConfig

    ds = LeRobotDataset("armtwin/omx", root=omx_dataset.root)
    assert ds.meta.robot_type == "omx_follower"
    # the feature names LeRobot's own OmxFollower declares (its motors, "<motor>.pos")
    robot = OmxFollower(OmxFollowerConfig(port="/dev/null", id="t"))
    assert ds.meta.features["action"]["names"] == list(robot.action_features)
    assert ds.meta.features["observation.state"]["names"] == list(robot.action_features)
    assert set(ds.meta.camera_keys) == {f"observation.images.{c}" for c in OC.CAMERA_NAMES}

    # values: the recorded radians as LeRobot's bus would report them at its factory calibration
    bus = robot.bus
    bus.calibration = {n: MotorCalibration(id=m.id, drive_mode=0, homing_offset=0, range_min=0, range_max=4095)
                       for n, m in bus.motors.items()}
    with h5py.File(omx_recording) as f:
        q = f["data/demo_0/obs/joint_pos"][()]
        a = f["data/demo_0/actions"][()]
    ticks = OC.radians_to_ticks(q)
    ids = [bus.motors[n].id for n in OC.JOINT_NAMES]
    expected = np.array([[bus._normalize({i: int(round(t))})[i] for i, t in zip(ids, row)] for row in ticks])
    state = np.stack([ds[t]["observation.state"].numpy() for t in range(len(q))])
    # LeRobot's bus reads whole ticks: within one tick of -100..100 over 4095 ticks (0.05) of ours
    np.testing.assert_allclose(state, expected, atol=200 / 4095 + 1e-4)
    conv = UnitConverter(Calibration.default("omx"), use_degrees=False)
    np.testing.assert_allclose(state, conv.from_radians(q).astype(np.float32), atol=1e-4)
    action = np.stack([ds[t]["action"].numpy() for t in range(len(a))])
    np.testing.assert_allclose(action, conv.from_radians(a).astype(np.float32), atol=1e-4)
    # and the units are not the SO-101's degrees
    assert not np.allclose(state, UnitConverter(Calibration.default("omx"), use_degrees=True).from_radians(q), atol=1)


def test_a_file_named_by_its_lerobot_robot_type_exports_as_that_arm(omx_recording, tmp_path):
    """A recording without a registered env id (what ``convert hdf5`` writes from a LeRobot dataset: its
    env_args name the dataset's robot_type) is still the OMX's when exported again, not the SO-101's."""
    import shutil

    src = tmp_path / "from_lerobot.h5"
    shutil.copy(omx_recording, src)
    with h5py.File(src, "r+") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        env_args["env_name"] = ""
        env_args["lerobot_robot_type"] = OC.LEROBOT_ROBOT_TYPE
        f["data"].attrs["env_args"] = json.dumps(env_args)
    out = export_lerobot(LeRobotExportConfig(inputs=[src], repo_id="armtwin/omx2", root=tmp_path / "ds",
                                             vcodec="h264", progress=False))
    info = json.loads((out.root / "meta" / "info.json").read_text())
    assert info["robot_type"] == "omx_follower"
