"""One owner per concept in the recorded episode, and readers that agree (issues 14 and 13).

Each test drives the real code path (the recorder, the sim follower, the converters, the ``armtwin``
commands) and checks what one owner in :mod:`armtwin.data` decides: the demo order that numbers
``crashed_<k>``, the ``env_args`` shape and its reading, the datagen rows, the resume check, the arm
whose kinematics and joint limits a recording is checked against, and that a demo without ``actions``
is refused by every reader.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from convert_data import write_synthetic_recording  # noqa: E402
from mimic_data import write_layout_file  # noqa: E402

from armtwin.cli import main  # noqa: E402
from armtwin.data import (  # noqa: E402
    JOINT_LIMIT_MARGIN_RAD, Recorder, RecorderConfig, RecordingError, arm_datagen_row, check_demo, check_resumable,
    make_env_args, open_recording, recorded_env, robot_of, scan_recordings,
)

ROOT = Path(__file__).resolve().parents[1]
LIFT = "armtwin/SO101-Lift-v0"
OMX_LIFT = "armtwin/OMX-Lift-v0"


# ------------------------------------------------------------------ 1. demo order on resume


def test_resume_numbers_crashed_episodes_in_demo_order(tmp_path):
    path = tmp_path / "r.h5"
    with Recorder(RecorderConfig(path, env_args=make_env_args(LIFT), fps=30.0)):
        pass
    # two episodes a crash left behind: demo_9 (9 flushed rows) and demo_10 (10)
    with h5py.File(path, "a") as f:
        for i in (9, 10):
            f.create_dataset(f"incomplete/demo_{i}/actions", data=np.zeros((i, 6)))
    with Recorder(RecorderConfig(path, env_args=make_env_args(LIFT), fps=30.0, resume=True)) as rec:
        assert rec.recovered == ["/incomplete/crashed_0", "/incomplete/crashed_1"]
    with h5py.File(path) as f:
        # demo_9 before demo_10 (plain sorted() would put "demo_10" first)
        assert f["incomplete/crashed_0"].attrs["flushed_steps"] == 9
        assert f["incomplete/crashed_1"].attrs["flushed_steps"] == 10


# ------------------------------------------------------------------ 2./4. the sim follower's env_args and FK


@pytest.fixture(scope="module")
def omx_sim():
    from armtwin.robots.sim import SimFollower, SimFollowerConfig

    sim = SimFollower(SimFollowerConfig(env_id=OMX_LIFT, image_size=None))
    sim.connect()
    yield sim
    sim.disconnect()


def test_sim_env_args_are_the_data_packages_and_rebuild_the_env(omx_sim):
    import armtwin.envs

    args = omx_sim.env_args
    assert args == make_env_args(OMX_LIFT, omx_sim.unwrapped.config.to_kwargs())
    env_id, kwargs = recorded_env(json.loads(json.dumps(args)))
    env = armtwin.envs.make(env_id, **kwargs)
    try:
        assert env.unwrapped.config.to_kwargs() == omx_sim.unwrapped.config.to_kwargs()
    finally:
        env.close()
    with pytest.raises(ValueError, match="not recorded in an armtwin env"):
        recorded_env({"env_name": "", "type": "armtwin"}, where="x.h5")


def test_sim_follower_has_no_attribute_probes():
    tree = ast.parse((ROOT / "armtwin/robots/sim.py").read_text())
    probes = [n.lineno for n in ast.walk(tree)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")]
    assert probes == [], f"getattr/hasattr probes in armtwin/robots/sim.py at lines {probes}"


def test_omx_target_pose_is_the_omx_fk(omx_sim):
    from armtwin.envs.ik import IK

    q = np.array([0.3, -0.4, 0.5, 0.2, 0.1, 0.3])
    omx, so101 = IK(robot="omx").fk_mat(q), IK().fk_mat(q)
    assert np.linalg.norm(omx[:3, 3] - so101[:3, 3]) > 0.01  # the two arms really differ here
    np.testing.assert_allclose(omx_sim.target_pose(q), omx, atol=1e-12)


def test_omx_teleop_recording_stores_the_omx_target_pose(tmp_path):
    from armtwin.envs.ik import IK
    from armtwin.teleop.factory import TeleopConfig, run_teleop

    out = tmp_path / "omx.h5"
    run_teleop(TeleopConfig(env_id=OMX_LIFT, leader="scripted", record=out, episodes=1, episode_steps=4,
                            image_size=None, print_summary=False))
    ik = IK(robot="omx")
    with open_recording(out) as rec:
        ep = rec.load(0)
    target = ep.datagen_info["target_eef_pose"]
    assert target.shape == (4, 4, 4)
    np.testing.assert_allclose(target, np.stack([ik.fk_mat(a) for a in ep.actions]), atol=1e-9)


# ------------------------------------------------------------------ 3./4. LeRobot -> HDF5: arm rows of the dataset's arm


def test_arm_datagen_row_has_the_arm_fields_only():
    row = arm_datagen_row(eef_pose=np.eye(4), target_eef_pose=2 * np.eye(4), action=np.arange(6.0))
    assert sorted(row) == ["eef_pose", "gripper_action", "target_eef_pose"]
    np.testing.assert_array_equal(row["gripper_action"], [5.0])
    np.testing.assert_array_equal(row["target_eef_pose"], 2 * np.eye(4))


@pytest.mark.lerobot
def test_omx_dataset_back_to_hdf5_uses_the_omx_units_and_fk(tmp_path):
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.convert.to_hdf5 import HDF5ExportConfig, export_hdf5
    from armtwin.envs.ik import IK
    from armtwin.mimic.sources import record_expert_demos

    src = tmp_path / "omx.h5"
    record_expert_demos(OMX_LIFT, src, num=1, image_size=(32, 32))
    ds = export_lerobot(LeRobotExportConfig(inputs=[src], repo_id="u/omx", root=tmp_path / "ds", vcodec="h264",
                                            progress=False))
    back = export_hdf5(HDF5ExportConfig(dataset_root=ds.root, output=tmp_path / "back.h5", images=False))
    ik = IK(robot="omx")
    with open_recording(src) as a, open_recording(back["output"]) as b:
        assert robot_of(b.env_args) == "omx"
        x, y = a.load(0), b.load(0)
        # the OMX's LeRobot units (-100..100) read back as such: radians to float32 precision
        assert np.abs(y.actions - x.actions).max() < 1e-4
        np.testing.assert_allclose(y.datagen_info["target_eef_pose"], np.stack([ik.fk_mat(q) for q in y.actions]),
                                   atol=1e-9)
        np.testing.assert_allclose(y.datagen_info["eef_pose"], np.stack([ik.fk_mat(q) for q in y.obs["joint_pos"]]),
                                   atol=1e-9)
        check_demo(b.demo(0))


# ------------------------------------------------------------------ 5. one resume check


def test_writer_and_teleop_resume_share_one_check(tmp_path):
    from armtwin.teleop.factory import TeleopConfig

    path = write_synthetic_recording(tmp_path / "r.h5", lengths=(3,), image_size=None)
    with pytest.raises(RecordingError, match="records env 'armtwin/SO101-Lift-v0', not 'armtwin/OMX-Lift-v0'") as w:
        Recorder(RecorderConfig(path, env_args=make_env_args(OMX_LIFT), resume=True))
    with pytest.raises(RecordingError) as t:
        TeleopConfig(env_id=OMX_LIFT, leader="scripted", record=path, resume=True)
    assert str(w.value) == str(t.value)
    check_resumable(path, make_env_args(LIFT, {"image_size": [16, 16]}), env_id=LIFT, image_size=(16, 16))
    with pytest.raises(RecordingError, match="--image-size 16x16, not none"):
        check_resumable(path, make_env_args(LIFT, {"image_size": [16, 16]}), env_id=LIFT, image_size=None)


# ------------------------------------------------------------------ 6. the episode side declares its sim


def test_episode_sides_declare_sim(omx_sim):
    from armtwin.teleop.sides import RealSide, SimSide

    assert SimSide(omx_sim).sim is omx_sim
    assert RealSide(omx_sim.converter).sim is None
    for rel in ("armtwin/teleop/factory.py", "armtwin/teleop/leader_builders.py"):
        text = (ROOT / rel).read_text()
        assert 'getattr(side' not in text
        assert len(text.splitlines()) <= 400, rel


# ------------------------------------------------------------------ 7. a demo without actions: every reader refuses


def _lift_layout_file(path, *, drop_actions_of=None):
    """Two Lift demos with a grasp signal that rises at frame 3 (annotatable)."""
    grasp = [0, 0, 0, 1, 1, 1, 1, 1]
    write_layout_file(path, {"demo_0": {"grasp": grasp}, "demo_1": {"grasp": grasp}}, LIFT,
                      drop_actions_of=drop_actions_of)
    return path


def test_annotate_refuses_a_demo_without_actions(tmp_path, capsys):
    src = _lift_layout_file(tmp_path / "in.h5", drop_actions_of="demo_1")
    out = tmp_path / "out.h5"
    assert main(["mimic", "annotate", str(src), str(out), "--auto"]) != 0
    err = capsys.readouterr().err
    assert "demo_1" in err and "'actions'" in err, err
    assert not out.exists()


def test_generate_refuses_a_source_demo_without_actions(tmp_path, capsys):
    good = _lift_layout_file(tmp_path / "in.h5")
    annotated = tmp_path / "ann.h5"
    assert main(["mimic", "annotate", str(good), str(annotated), "--auto"]) == 0
    with h5py.File(annotated, "a") as f:
        del f["data/demo_1/actions"]
    capsys.readouterr()
    out = tmp_path / "gen.h5"
    rc = main(["mimic", "generate", str(annotated), "--env", LIFT, "--num", "1", "--out", str(out),
               "--image-size", "none", "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0
    assert "demo_1" in err and "'actions'" in err, err
    assert not out.exists()


def test_inspect_flags_a_demo_without_actions(tmp_path, capsys):
    path = write_synthetic_recording(tmp_path / "r.h5", lengths=(4, 5), image_size=None)
    assert main(["inspect", str(path), "--check"]) == 0
    cap = capsys.readouterr()
    assert "INVALID" not in cap.out and cap.err == ""
    with h5py.File(path, "a") as f:
        del f["data/demo_1/actions"]
    # a summary flags it (stdout section, stderr warning); as a check it fails
    assert main(["inspect", str(path)]) == 0
    cap = capsys.readouterr()
    assert "INVALID" in cap.out and "demo_1" in cap.out
    assert cap.err.startswith("armtwin inspect: warning:") and "missing dataset 'actions'" in cap.err
    assert main(["inspect", str(path), "--check"]) == 1
    assert capsys.readouterr().err.startswith("armtwin inspect: error:")
    assert main(["inspect", str(path), "--json", "--check"]) == 1
    s = json.loads(capsys.readouterr().out)
    assert s["episodes"][0]["error"] is None and "'actions'" in s["episodes"][1]["error"]


# ------------------------------------------------------------------ 8. joint limits of the recording's arm


def _with_pan(path, value):
    with h5py.File(path, "a") as f:
        a = f["data/demo_0/actions"][()]
        a[2, 0] = value
        f["data/demo_0/actions"][...] = a
    return path


def test_joint_limits_are_the_recordings_arms(tmp_path, capsys):
    from armtwin.assets import omx_constants as OC
    from armtwin.assets import so101_constants as SC
    from armtwin.teleop.factory import TeleopConfig

    # 3.0 rad shoulder_pan: inside the OMX's +-3.14, more than 1 rad past the SO-101's 1.92
    assert OC.upper_limits()[0] > 3.0 > SC.upper_limits()[0] + JOINT_LIMIT_MARGIN_RAD
    omx = _with_pan(write_synthetic_recording(tmp_path / "omx.h5", lengths=(5,), image_size=(16, 16),
                                              env_name=OMX_LIFT), 3.0)
    so = _with_pan(write_synthetic_recording(tmp_path / "so.h5", lengths=(5,), image_size=(16, 16)), 3.0)
    with open_recording(omx) as r:
        assert robot_of(r.env_args) == "omx"
        check_demo(r.demo(0))
    assert scan_recordings([omx]).episodes[0].length == 5
    TeleopConfig(env_id=OMX_LIFT, leader="replay", replay=omx)  # the replay leader's check accepts it
    assert main(["convert", "lerobot", str(omx), "--repo-id", "u/omx", "--root", str(tmp_path / "ds"),
                 "--vcodec", "h264"]) == 0
    capsys.readouterr()
    # the SO-101 recording is refused, the message naming the arm's limits and the margin
    with open_recording(so) as r, pytest.raises(RecordingError) as e:
        check_demo(r.demo(0))
    msg = str(e.value)
    assert "shoulder_pan is 3 rad at row 2" in msg and "SO-101" in msg
    assert "[-1.920, 1.920]" in msg and "1 rad margin" in msg
    with pytest.raises(RecordingError, match="1 rad margin"):
        TeleopConfig(env_id=LIFT, leader="replay", replay=so)
