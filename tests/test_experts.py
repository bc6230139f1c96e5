"""Scripted experts (>= 95 % over 50 D0 seeds per task), the IK they use, and the rollout command."""

import math
import os

import numpy as np
import pytest

import armtwin.envs as E
from armtwin.assets import so101_constants as C
from armtwin.envs.experts import make_expert, run_episode
from armtwin.envs.ik import IK
from armtwin.poses import pose_from_pos_quat, pose_to_pos_quat, quat_to_mat, topdown_quat

IDS = list(E.ENV_IDS)


@pytest.mark.parametrize("env_id", IDS)
def test_expert_succeeds_on_95_percent_of_50_d0_seeds(env_id):
    env = E.make(env_id, image_size=None, reset_distribution="D0")
    results = [run_episode(env, make_expert(env_id), seed=s)[0] for s in range(50)]
    rate = float(np.mean(results))
    failed = np.flatnonzero(~np.array(results)).tolist()
    assert rate >= 0.95, f"{env_id}: expert success {rate:.0%} over 50 D0 seeds (failed seeds {failed})"


def test_doing_nothing_does_not_succeed():
    for env_id in IDS:
        env = E.make(env_id, image_size=None)
        env.reset(seed=0)
        for _ in range(40):
            _, r, _, _, info = env.step(np.array(env.unwrapped.C.HOME_QPOS, np.float32))
        assert not info["is_success"] and r == 0.0 and not any(info["subtask_signals"].values())


def test_expert_emits_subtask_signals_in_order():
    env_id = "armtwin/SO101-PickPlace-v0"
    env = E.make(env_id, image_size=None)
    obs, _ = env.reset(seed=2)
    ex = make_expert(env_id)
    ex.reset(env, obs)
    first = {}
    for t in range(250):
        obs, _, _, _, info = env.step(ex.act(obs))
        for k, v in info["subtask_signals"].items():
            if v and k not in first:
                first[k] = t
        if ex.done:
            break
    assert info["is_success"]
    assert first["grasp"] < first["place"]
    # grasp ended before the place signal: the cube was released
    assert not info["subtask_signals"]["grasp"]


@pytest.mark.parametrize("dist", ["D0", "D1"])
def test_sandwich_expert_grasps_then_extracts_then_places(dist):
    """Sandwich's three subtask signals rise in order on expert demos; ``extract`` only while grasped,
    when the ingredient's lowest point is above the holder's walls by the margin."""
    from armtwin.envs.tasks.sandwich import EXTRACT_CLEARANCE, HOLDER_TOP

    env_id = "armtwin/SO101-Sandwich-v0"
    env = E.make(env_id, image_size=None, reset_distribution=dist)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        u = env.unwrapped
        ex = make_expert(env_id)
        ex.reset(env, obs)
        first, rows = {}, []
        for t in range(300):
            obs, _, _, _, info = env.step(ex.act(obs))
            sig = info["subtask_signals"]
            rows.append([sig["grasp"], sig["extract"], sig["place"]])
            for k, v in sig.items():
                if v and k not in first:
                    first[k] = t
            if sig["extract"]:
                bottom = obs["object_pos"][u.object_names.index(u.target)][2] - u.object_spec(u.target).half_height
                # the ingredient hangs nearly upright in the jaws: its centre tells its bottom within 3 mm
                assert bottom > HOLDER_TOP + EXTRACT_CLEARANCE - 0.003
            if ex.done:
                break
        rows = np.array(rows)
        assert info["is_success"], (dist, seed)
        assert not (rows[:, 1] & ~rows[:, 0]).any(), "extract fired without a grasp"
        assert first["grasp"] < first["extract"] < first["place"], first
        # the lift out of the holder takes time: not the same step as the grasp
        assert first["extract"] - first["grasp"] >= 5
        # released on the plate: neither grasp nor extract at the end
        assert not rows[-1, 0] and not rows[-1, 1]


def test_expert_noise_is_seeded_and_changes_actions():
    env_id = "armtwin/SO101-Lift-v0"
    env = E.make(env_id, image_size=None)

    def actions(noise, seed):
        obs, _ = env.reset(seed=0)
        ex = make_expert(env_id, noise=noise, seed=seed)
        ex.reset(env, obs)
        out = []
        for _ in range(30):
            a = ex.act(obs)
            out.append(a)
            obs, *_ = env.step(a)
        return np.array(out)

    clean, a1, a2, b = actions(0.0, 0), actions(0.01, 1), actions(0.01, 1), actions(0.01, 2)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, b)
    d = a1[:, :5] - clean[:, :5]
    assert 0.003 < d.std() < 0.03
    np.testing.assert_array_equal(a1[:, 5], clean[:, 5])  # the gripper is not noised
    with pytest.raises(ValueError, match="noise"):
        make_expert(env_id, noise=-1.0)
    with pytest.raises(ValueError, match="valid ids"):
        make_expert("armtwin/SO101-Nope-v0")


def test_noisy_expert_still_mostly_succeeds():
    env_id = "armtwin/SO101-PickPlace-v0"
    env = E.make(env_id, image_size=None)
    ok = [run_episode(env, make_expert(env_id, noise=0.005, seed=s), seed=s)[0] for s in range(10)]
    assert np.mean(ok) >= 0.8


# ----------------------------------------------------------------------------- IK
@pytest.fixture(scope="module")
def ik():
    return IK()


def test_ik_reaches_reachable_poses_topdown(ik):
    rng = np.random.default_rng(0)
    home = np.array(C.HOME_QPOS)
    for _ in range(30):
        r, a = rng.uniform(0.14, 0.24), rng.uniform(-0.7, 0.7)
        target = np.array([r * math.cos(a), r * math.sin(a), rng.uniform(0.015, 0.06)])
        yaw = a + rng.uniform(-0.5, 0.5)
        q, ok, err = ik.solve(target, topdown_quat(yaw), home, orientation_weight=0.03)
        assert ok and err < 5e-4, (target, err)
        assert np.all(q >= ik.lower) and np.all(q <= ik.upper)
        pos, quat = ik.fk(q)
        np.testing.assert_allclose(pos, target, atol=5e-4)
        R = quat_to_mat(quat)
        assert R[2, 0] < -0.99  # approach axis within ~8 degrees of straight down
        assert q[5] == home[5]


def test_ik_trades_orientation_for_position_when_both_cannot_hold(ik):
    """Top-down 12 cm above the table at 25 cm is out of the 5-DoF arm's reach: with a small orientation
    weight the position is met and the approach tilts; with a large one the position gives."""
    target, quat, home = np.array([0.25, 0.0, 0.12]), topdown_quat(0.0), np.array(C.HOME_QPOS)
    q_pos, ok_pos, err_pos = ik.solve(target, quat, home, orientation_weight=0.01)
    q_ori, ok_ori, err_ori = ik.solve(target, quat, home, orientation_weight=3.0)
    assert ok_pos and err_pos < 5e-4
    assert not ok_ori and err_ori > 0.005
    tilt = lambda q: -quat_to_mat(ik.fk(q)[1])[2, 0]  # noqa: E731  cos of the angle to straight down
    assert tilt(q_ori) > tilt(q_pos)
    # position only
    q, ok, err = ik.solve(target, None, home)
    assert ok


def test_ik_matches_env_kinematics_and_pose_helpers(ik):
    env = E.make("armtwin/SO101-Lift-v0", image_size=None)
    obs, _ = env.reset(seed=0)
    pos, quat = ik.fk(obs["joint_pos"])
    np.testing.assert_allclose(pos, obs["eef_pos"], atol=1e-9)
    np.testing.assert_allclose(quat, obs["eef_quat"], atol=1e-9)
    T = pose_from_pos_quat(pos, quat)
    np.testing.assert_allclose(T, ik.fk_mat(obs["joint_pos"]), atol=1e-12)
    p2, q2 = pose_to_pos_quat(T)
    np.testing.assert_allclose(p2, pos)
    np.testing.assert_allclose(q2, quat, atol=1e-12)
    with pytest.raises(ValueError, match="arm-only"):
        IK(env.unwrapped.model)


# ----------------------------------------------------------------------------- commands
def test_envs_and_rollout_commands(tmp_path, capsys):
    from armtwin.cli import main

    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert all(i in out for i in IDS) and len(out.strip().splitlines()) == len(IDS)
    video = tmp_path / "lift.mp4"
    rc = main(["rollout", "--env", "armtwin/SO101-Lift-v0", "--expert", "--episodes", "2", "--seed", "0",
               "--video", str(video), "--size", "64", "80"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "success 2/2 = 100.0%" in out
    import av

    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) > 100 and frames[0].shape == (64, 160, 3)
    assert os.listdir(tmp_path) == ["lift.mp4"]  # no temp file left behind
    assert main(["rollout", "--env", "armtwin/SO101-Nope-v0", "--expert"]) == 2
    assert "valid ids" in capsys.readouterr().err


def test_grasp_holds_the_cube_while_the_arm_swings():
    """The jaws really hold: after the expert's lift, swing the shoulder 0.6 rad out and back in 1 s."""
    env_id = "armtwin/SO101-Lift-v0"
    env = E.make(env_id, image_size=None)
    obs, _ = env.reset(seed=4)
    ex = make_expert(env_id)
    ex.reset(env, obs)
    while not ex.done:
        obs, _, _, _, info = env.step(ex.act(obs))
    assert info["subtask_signals"]["grasp"] and info["is_success"]
    q = ex.act(obs).astype(np.float64)
    for t in range(30):
        target = q.copy()
        target[0] += 0.6 * math.sin(math.pi * t / 15)
        obs, _, _, _, info = env.step(target)
    assert info["subtask_signals"]["grasp"] and info["is_success"]
    # released, it falls back to the table
    q = obs["joint_pos"].copy()
    q[5] = C.GRIPPER_OPEN
    for _ in range(30):
        obs, _, _, _, info = env.step(q)
    assert not info["subtask_signals"]["grasp"] and not info["is_success"]
    assert obs["object_pos"][0, 2] < 0.03
