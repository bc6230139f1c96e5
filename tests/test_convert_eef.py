"""Joint <-> end-effector actions on demos recorded from the env's scripted expert (real MuJoCo)."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from convert_data import write_sim_recording  # noqa: E402

from armtwin.convert.eef import ActionsConfig, convert_actions, quat_angle_deg  # noqa: E402
from armtwin.convert.h5io import ConvertError  # noqa: E402


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    return write_sim_recording(tmp_path_factory.mktemp("eef") / "expert.h5", n_episodes=2, max_steps=250,
                               image_size=None, seed=3)


def test_recorded_demos_succeed_and_fk_matches_env(demos):
    """The FK used for eef actions is the env's kinematics: FK(obs/joint_pos) == the env's recorded eef pose."""
    from armtwin.envs.ik import IK

    ik = IK()
    with h5py.File(demos) as f:
        for name in f["data"]:
            g = f[f"data/{name}"]
            assert bool(g.attrs["success"]), f"{name}: expert demo did not succeed"
            q, pos, quat = g["obs/joint_pos"][()], g["obs/eef_pos"][()], g["obs/eef_quat"][()]
            for t in range(0, len(q), 7):
                p, qu = ik.fk(q[t])
                np.testing.assert_allclose(p, pos[t], atol=1e-6)
                assert quat_angle_deg(qu, quat[t]) < 1e-3


def test_eef_round_trip_below_1mm(demos, tmp_path):
    eef_path, joint_path = tmp_path / "eef.h5", tmp_path / "joint.h5"
    res = convert_actions(ActionsConfig(demos, eef_path, to="eef"))
    assert [e["demo"] for e in res["episodes"]] == ["demo_0", "demo_1"]
    for e in res["episodes"]:
        assert e["eef_pos_err_mm_max"] < 1.0 and e["joint_err_deg_max"] < 0.1, e
    from armtwin.envs.ik import IK

    ik = IK()
    with h5py.File(demos) as src, h5py.File(eef_path) as f:
        assert f["data"].attrs["action_space"] == "eef"
        for name in src["data"]:
            a, eef = src[f"data/{name}/actions"][()], f[f"data/{name}/actions"][()]
            assert eef.shape == (len(a), 8)
            np.testing.assert_array_equal(f[f"data/{name}/actions_joint"][()], a)
            p, qu = ik.fk(a[len(a) // 2])
            np.testing.assert_allclose(eef[len(a) // 2, :3], p, atol=1e-9)
            np.testing.assert_allclose(np.linalg.norm(eef[:, 3:7], axis=1), 1.0, atol=1e-9)
            np.testing.assert_array_equal(eef[:, 7], a[:, 5])
            assert f[f"data/{name}/obs/joint_pos"].shape == src[f"data/{name}/obs/joint_pos"].shape
    res2 = convert_actions(ActionsConfig(eef_path, joint_path, to="joint"))
    with h5py.File(demos) as src, h5py.File(joint_path) as f:
        assert f["data"].attrs["action_space"] == "joint"
        for name, e in zip(src["data"], res2["episodes"]):
            a = src[f"data/{name}/actions"][()]
            back = f[f"data/{name}/actions"][()]
            assert back.shape == a.shape and "actions_joint" not in f[f"data/{name}"]
            assert np.degrees(np.abs(back - a)).max() < 0.1
            pos_err = np.linalg.norm([ik.fk(x)[0] - ik.fk(y)[0] for x, y in zip(back, a)], axis=1)
            assert pos_err.max() < 1e-3 and e["eef_pos_err_mm_max"] < 1.0


def test_ik_cannot_fake_a_round_trip(demos, tmp_path):
    """Control: corrupting eef targets shows up as a large reported error (the check can fail)."""
    eef_path = tmp_path / "eef.h5"
    convert_actions(ActionsConfig(demos, eef_path, to="eef"))
    with h5py.File(eef_path, "a") as f:
        a = f["data/demo_0/actions"][()]
        a[:, 0] += 0.5  # 50 cm out: beyond the SO-101's reach
        f["data/demo_0/actions"][...] = a
    res = convert_actions(ActionsConfig(eef_path, tmp_path / "j.h5", to="joint", max_iters=30))
    assert res["episodes"][0]["eef_pos_err_mm_max"] > 50


def test_bad_requests(demos, tmp_path):
    with pytest.raises(ConvertError, match="valid choices: eef, joint"):
        ActionsConfig(demos, tmp_path / "x.h5", to="cartesian")
    out = tmp_path / "e.h5"
    convert_actions(ActionsConfig(demos, out, to="eef"))
    with pytest.raises(ConvertError, match="already in 'eef' space"):
        convert_actions(ActionsConfig(out, tmp_path / "e2.h5", to="eef"))
    with pytest.raises(ConvertError, match="already exists"):
        ActionsConfig(demos, out, to="eef")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.h5"]


def test_cli_reports_errors(demos, tmp_path, capsys):
    from armtwin.cli import main

    rc = main(["convert", "actions", str(demos), str(tmp_path / "e.h5"), "--to", "eef"])
    out = capsys.readouterr().out
    assert rc == 0 and "eef pos max mm" in out and "demo_1" in out and "joint max deg" in out


def test_inspect_accepts_an_end_effector_file_and_flags_a_wrong_width(demos, tmp_path):
    """``armtwin inspect`` checks actions against the file's own ``action_space``: the (T, 8) actions of
    ``convert actions --to eef`` are valid there, and (T, 8) actions in a joint file are not."""
    import shutil

    from armtwin.data import summarize

    eef_path = tmp_path / "eef.h5"
    convert_actions(ActionsConfig(demos, eef_path, to="eef"))
    s = summarize(eef_path)
    assert [e["error"] for e in s["episodes"]] == [None, None]
    bad = tmp_path / "joint_labelled.h5"
    shutil.copy(eef_path, bad)
    with h5py.File(bad, "r+") as f:
        f["data"].attrs["action_space"] = "joint"
    assert all(e["error"] for e in summarize(bad)["episodes"])
