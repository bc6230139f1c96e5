"""The policy runner: feature mapping and checks, PolicyLeader in the control loop, armtwin eval / run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.policy.features import (
    ENV_STATE_KEY,
    STATE_KEY,
    FeatureMismatch,
    action_to_contract,
    check_features,
    follower_features,
    image_key,
    to_frame,
)

LIFT = "armtwin/SO101-Lift-v0"


def _feat(kind, *shape):
    return {"type": kind, "shape": list(shape)}


def _follower(cams=(("wrist", (32, 32, 3)), ("front", (32, 32, 3)))):
    return {**{k: float for k in C.LEROBOT_MOTOR_KEYS}, **dict(cams)}


# ---------------------------------------------------------------- features (no torch)


def test_check_features_accepts_matching_inputs():
    pol = {STATE_KEY: _feat("STATE", 6), image_key("wrist"): _feat("VISUAL", 3, 32, 32)}
    check_features(pol, _follower())


def test_check_features_names_both_sides():
    pol = {
        STATE_KEY: _feat("STATE", 7),
        image_key("side"): _feat("VISUAL", 3, 32, 32),
        image_key("wrist"): _feat("VISUAL", 3, 64, 64),
        ENV_STATE_KEY: _feat("ENV", 6),
    }
    with pytest.raises(FeatureMismatch) as e:
        check_features(pol, _follower())
    msg = str(e.value)
    assert "observation.state: the policy expects shape (7,), the follower gives (6,)" in msg
    assert "observation.images.side: the policy expects camera 'side'" in msg and "cameras wrist, front" in msg
    assert "(3, 64, 64)" in msg and "(3, 32, 32)" in msg
    assert "observation.environment_state" in msg and "--target sim" in msg
    assert "follower gives:" in msg and "policy expects:" in msg


def test_check_features_environment_state_size():
    pol = {STATE_KEY: _feat("STATE", 6), ENV_STATE_KEY: _feat("ENV", 6)}
    check_features(pol, follower_features(_follower(), environment_state_size=6))
    with pytest.raises(FeatureMismatch, match=r"expects shape \(6,\), the follower's task gives \(3,\)"):
        check_features(pol, follower_features(_follower(), environment_state_size=3))


def test_frame_and_action_units():
    obs = {k: float(i) for i, k in enumerate(C.LEROBOT_MOTOR_KEYS)}
    obs["wrist"] = np.full((32, 32, 3), 7, np.uint8)
    pol = {STATE_KEY: _feat("STATE", 6), image_key("wrist"): _feat("VISUAL", 3, 32, 32), ENV_STATE_KEY: _feat("ENV", 3)}
    joints = list(C.LEROBOT_MOTOR_KEYS)
    frame = to_frame(obs, pol, joints=joints, task="lift", environment_state=np.array([[0.1, 0.2, 0.3]]))
    assert frame[STATE_KEY].dtype == np.float32 and frame[STATE_KEY].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame[image_key("wrist")].shape == (32, 32, 3) and frame["task"] == "lift"
    assert frame[ENV_STATE_KEY].shape == (3,)
    act = action_to_contract(np.arange(6), joints=joints)
    assert list(act) == list(C.LEROBOT_MOTOR_KEYS) and act["gripper.pos"] == 5.0
    with pytest.raises(ValueError, match="shape"):
        action_to_contract(np.zeros(5), joints=joints)
    with pytest.raises(ValueError, match="non-finite"):
        action_to_contract([0, 0, 0, 0, 0, np.nan], joints=joints)


def test_eval_helpers():
    from armtwin.policy.episodes import episode_seed, failure_reason
    from armtwin.policy.eval import wilson_interval

    assert episode_seed(0, 3) == episode_seed(0, 3) != episode_seed(0, 4) != episode_seed(1, 4)
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    order = ("grasp", "place", "success")
    assert failure_reason(order, set(), False) == "grasp missed"
    assert failure_reason(order, {"grasp"}, False) == "place missed"
    assert failure_reason(order, {"grasp", "place", "success"}, False) == "timeout"
    assert failure_reason(order, {"grasp"}, True) is None


def test_policy_package_is_import_light():
    code = ("import sys, armtwin.policy.features, armtwin.policy.source, armtwin.policy.eval, armtwin.policy.run, "
            "armtwin.policy.local; print(any(m in sys.modules for m in ('torch', 'lerobot')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


class _HoldBackend:
    """A PolicyBackend that commands the observed state plus a fixed offset (state-only policy)."""

    input_features = {STATE_KEY: _feat("STATE", 6)}

    def __init__(self):
        self.resets = 0
        self.closes = 0
        self.frames = []

    def reset(self):
        self.resets += 1

    def act(self, frame):
        self.frames.append(frame)
        return frame[STATE_KEY] + np.array([2.0, 0, 0, 0, 0, 0], np.float32)

    def close(self):
        self.closes += 1


def test_policy_leader_drives_the_sim_through_the_loop():
    from armtwin.policy.source import PolicyBackend, PolicyLeader
    from armtwin.robots.factory import make_follower
    from armtwin.teleop.loop import ControlLoop, LoopConfig
    from armtwin.teleop.sides import SimSide

    backend = _HoldBackend()
    assert isinstance(backend, PolicyBackend)
    built = make_follower("sim", env_id=LIFT, rate_hz=30, image_size=None, seed=0)
    try:
        leader = PolicyLeader(backend, task="lift the red cube")
        leader.check(built.follower.observation_features)
        start = built.device.get_joint_positions()["shoulder_pan.pos"]
        loop = ControlLoop(leader, built.follower, None, SimSide(built.device),
                           LoopConfig(hz=30, episodes=2, episode_steps=5, real_time=False, print_summary=False))
        loop.run()
        assert [r.steps for r in loop.results] == [5, 5]
        assert backend.resets == 2  # before episode 1 and before episode 2 (none after the last)
        assert len(backend.frames) == 10 and backend.frames[0]["task"] == "lift the red cube"
        # the pan joint moved towards +2 degrees per step, within the safety clamp
        assert built.device.get_joint_positions()["shoulder_pan.pos"] > start + 1.0
        assert backend.closes == 0
        leader.disconnect()
        assert backend.closes == 1  # the declared close(), called on the leader's disconnect
    finally:
        built.follower.disconnect()


def test_policy_leader_refuses_a_backend_without_the_declared_members():
    from armtwin.policy.source import PolicyLeader

    class _NoClose:
        input_features = {STATE_KEY: _feat("STATE", 6)}

        def reset(self):
            pass

        def act(self, frame):
            return frame[STATE_KEY]

    with pytest.raises(TypeError, match=r"not a PolicyBackend.*close\(\)"):
        PolicyLeader(_NoClose())


def test_policy_leader_refuses_to_run_unchecked_and_mismatch_is_before_motion():
    from armtwin.policy.source import PolicyLeader
    from armtwin.robots.factory import make_follower

    class _Cam(_HoldBackend):
        input_features = {STATE_KEY: _feat("STATE", 6), image_key("wrist"): _feat("VISUAL", 3, 96, 96)}

    built = make_follower("sim", env_id=LIFT, rate_hz=30, image_size=(32, 32), seed=0)
    try:
        leader = PolicyLeader(_Cam())
        with pytest.raises(RuntimeError, match="check"):
            leader.observe(built.follower.get_observation())
        before = built.device.unwrapped.get_state().copy()
        with pytest.raises(FeatureMismatch, match=r"\(3, 96, 96\).*\(3, 32, 32\)"):
            leader.check(built.follower.observation_features)
        assert np.array_equal(built.device.unwrapped.get_state(), before)
    finally:
        built.follower.disconnect()


# ---------------------------------------------------------------- with a lerobot-train checkpoint


@pytest.mark.lerobot
def test_checkpoint_drives_the_sim_follower(tiny_act_checkpoint, tmp_path):
    from armtwin.data import open_recording
    from armtwin.policy.run import run_policy

    rec = tmp_path / "run.h5"
    loop = run_policy(policy=tiny_act_checkpoint, env_id=LIFT, episodes=2, episode_steps=8, record=rec,
                      print_summary=False)
    assert [r.steps for r in loop.results] == [8, 8]
    assert loop.leader.steps == 16 and loop.safety_stop is None
    with open_recording(rec) as r:
        assert len(r.demo_names) == 2
        assert r.demo(r.demo_names[0])["actions"].shape == (8, 6)


@pytest.mark.lerobot
def test_checkpoint_feature_mismatch_before_motion(tiny_act_checkpoint):
    from armtwin.policy.run import run_policy

    with pytest.raises(FeatureMismatch, match=r"observation.images.wrist.*\(3, 32, 32\).*\(3, 48, 48\)"):
        run_policy(policy=tiny_act_checkpoint, env_id=LIFT, episodes=1, image_size=(48, 48), print_summary=False)


@pytest.mark.lerobot
def test_eval_same_results_with_1_and_2_workers(tiny_act_checkpoint, tmp_path):
    from armtwin.cli import main

    rows = {}
    for w in (1, 2):
        out = tmp_path / f"w{w}"
        args = ["eval", "--policy", str(tiny_act_checkpoint), "--env", LIFT, "--episodes", "3", "--max-steps", "12",
                "--seed", "5", "--workers", str(w), "--out", str(out), "--no-progress"]
        if w == 1:
            args += ["--videos", "2", "--record", str(out / "rollouts.h5")]
        assert main(args) == 0
        info = json.loads((out / "eval_info.json").read_text())
        assert {"pc_success", "avg_sum_reward", "avg_max_reward", "eval_s", "eval_ep_s"} <= set(info["aggregated"])
        assert [e["episode_ix"] for e in info["per_episode"]] == [0, 1, 2]
        for e in info["per_episode"]:
            assert {"episode_ix", "success", "seed", "sum_reward", "max_reward"} <= set(e)
        lines = [json.loads(s) for s in (out / "episodes.jsonl").read_text().splitlines()]
        assert len(lines) == 3 and all(ln["success"] or ln["failure"] for ln in lines)
        rows[w] = [(ln["seed"], ln["success"], ln["steps"], ln["signals_reached"], ln["failure"]) for ln in lines]
    assert rows[1] == rows[2]
    assert len({r[0] for r in rows[1]}) == 3
    w1 = tmp_path / "w1"
    assert sorted(p.name for p in (w1 / "videos").glob("eval_episode_*.mp4")) == ["eval_episode_0.mp4",
                                                                                 "eval_episode_1.mp4"]
    from armtwin.data import open_recording

    with open_recording(w1 / "rollouts.h5") as r:
        assert len(r.demo_names) == 3


# ---------------------------------------------------------------- environment state (state-only policies)


@pytest.mark.lerobot
def test_environment_state_dataset_loads_in_lerobot(tiny_state_dataset_dir):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from policy_data import REPO_ID

    ds = LeRobotDataset(REPO_ID, root=tiny_state_dataset_dir)
    assert ENV_STATE_KEY in ds.meta.features and ds.meta.features[ENV_STATE_KEY]["shape"] == (3,)
    assert not ds.meta.video_keys and not ds.meta.camera_keys
    item = ds[5]
    env = item[ENV_STATE_KEY].numpy()
    assert env.shape == (3,) and env.dtype == np.float32
    # the cube rests on the table near the arm: metres, world frame
    assert 0.0 < env[2] < 0.1 and np.all(np.abs(env[:2]) < 0.6)
    st = ds.meta.stats[ENV_STATE_KEY]
    assert {"mean", "std", "min", "max"} <= set(st) and np.asarray(st["mean"]).shape == (3,)
    # the stats are those of the column: the cube is lifted in every demo, so z ranges over centimetres
    col = np.stack([ds.hf_dataset[i][ENV_STATE_KEY].numpy() for i in range(len(ds))])
    np.testing.assert_allclose(np.asarray(st["max"]), col.max(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(st["mean"]), col.mean(0), rtol=1e-4, atol=1e-6)
    assert col[:, 2].max() - col[:, 2].min() > 0.02


def test_environment_state_matches_the_live_env(tmp_path):
    """The converter's numbers are :func:`environment_state` of the env observation at each step."""
    import pyarrow.parquet as pq

    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.data import open_recording
    from armtwin.mimic.sources import record_expert_demos
    from armtwin.policy.features import environment_state

    h5 = tmp_path / "src.h5"
    record_expert_demos(LIFT, h5, num=1, seed=3, image_size=None)
    export_lerobot(LeRobotExportConfig(inputs=(h5,), repo_id="armtwin/env_state", root=tmp_path / "ds",
                                       vcodec="h264", progress=False, environment_state=True))
    table = pq.read_table(next((tmp_path / "ds" / "data").rglob("*.parquet")))
    col = np.stack(table.column(ENV_STATE_KEY).to_numpy(zero_copy_only=False))
    with open_recording(h5) as r:
        obj = r.demo(0)["obs/object_pos"]
    want = np.stack([environment_state({"object_pos": p}) for p in obj])
    assert col.dtype == np.float32 and col.shape == want.shape == (len(obj), 3)
    np.testing.assert_array_equal(col, want)
    info = json.loads((tmp_path / "ds" / "meta" / "info.json").read_text())
    assert info["features"][ENV_STATE_KEY]["shape"] == [3] and info["video_path"] is None


def test_no_cameras_without_environment_state_is_refused(tmp_path):
    from armtwin.convert.h5io import ConvertError
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.mimic.sources import record_expert_demos

    h5 = tmp_path / "src.h5"
    record_expert_demos(LIFT, h5, num=1, seed=0, image_size=None)
    with pytest.raises(ConvertError, match="--environment-state"):
        export_lerobot(LeRobotExportConfig(inputs=(h5,), repo_id="armtwin/x", root=tmp_path / "ds", vcodec="h264",
                                           progress=False))
    assert not (tmp_path / "ds").exists()


@pytest.mark.lerobot
def test_state_and_environment_state_checkpoint_evaluates(tiny_state_act_checkpoint, tmp_path):
    from armtwin.cli import main
    from armtwin.policy.run import policy_input_features

    feats = policy_input_features(tiny_state_act_checkpoint)
    assert set(feats) == {STATE_KEY, ENV_STATE_KEY}
    out = tmp_path / "eval"
    assert main(["eval", "--policy", str(tiny_state_act_checkpoint), "--env", LIFT, "--episodes", "2",
                 "--max-steps", "12", "--out", str(out), "--no-progress"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert len(info["per_episode"]) == 2
    lines = [json.loads(s) for s in (out / "episodes.jsonl").read_text().splitlines()]
    assert [ln["steps"] for ln in lines] == [12, 12] or all(ln["success"] for ln in lines)


@pytest.mark.lerobot
def test_eval_on_randomized_scenes(tiny_state_act_checkpoint, tmp_path):
    """armtwin eval --randomize: the episodes run in randomized scenes (the rollouts' env_args carry it, each
    episode's scene is its own and replays bit-exactly); a bad preset is refused up front."""
    from armtwin.cli import main
    from armtwin.data import demo_names, load_episode
    from armtwin.teleop.replay import make_env_from_recording, replay_in_sim

    out, rec = tmp_path / "eval", tmp_path / "rollouts.h5"
    assert main(["eval", "--policy", str(tiny_state_act_checkpoint), "--env", LIFT, "--episodes", "2",
                 "--max-steps", "8", "--randomize", "physics", "--record", str(rec), "--out", str(out),
                 "--no-progress"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["armtwin"]["randomize"]["name"] == "physics"
    env = make_env_from_recording(rec)
    assert env.unwrapped.config.randomization.name == "physics" and env.unwrapped.config.randomization.enabled
    params = []
    for n in demo_names(rec):
        ep = load_episode(rec, n)
        env.reset(seed=int(ep.attrs["seed"]))
        assert np.array_equal(env.unwrapped.get_state(), ep.initial_state), n  # the scene of the episode's seed
        params.append(env.unwrapped._s2r.params.copy())
        assert replay_in_sim(rec, n).max_state_error == 0.0
    assert len(params) == 2 and not np.array_equal(params[0], params[1])
    env.close()
    assert main(["eval", "--policy", str(tiny_state_act_checkpoint), "--env", LIFT, "--episodes", "1",
                 "--randomize", "everything", "--out", str(tmp_path / "bad"), "--no-progress"]) == 2
    assert not (tmp_path / "bad").exists()


@pytest.mark.lerobot
def test_local_policy_fast_paths_give_lerobots_actions(tiny_act_checkpoint):
    """The queued-action path and the free eval() give bit for bit what predict_action gives every step."""
    import torch
    from lerobot.utils.control_utils import predict_action

    from armtwin.policy.local import LocalPolicy

    fast = LocalPolicy.from_pretrained(tiny_act_checkpoint)
    ref = LocalPolicy.from_pretrained(tiny_act_checkpoint)
    assert fast._act_queue
    rng = np.random.default_rng(0)
    fast.reset()
    ref.reset()
    for _ in range(25):  # three chunks of 10
        frame = {STATE_KEY: rng.uniform(-30, 30, 6).astype(np.float32), "task": ""}
        for cam in ("wrist", "front"):
            frame[image_key(cam)] = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        obs = {k: v for k, v in frame.items() if k != "task"}
        want = predict_action(obs, ref.policy, torch.device("cpu"), ref.preprocessor, ref.postprocessor,
                              use_amp=False).squeeze(0).numpy()
        np.testing.assert_array_equal(fast.act(frame), want.astype(np.float32))
    assert not fast.policy.training
    fast.policy.train()
    fast.policy.eval()  # after a train(), eval() walks the modules again
    assert not any(m.training for m in fast.policy.modules())


def test_eval_out_never_lands_in_the_policy_nor_replaces_silently(tmp_path):
    """`armtwin eval --out` is checked when the config is built: not inside the policy, not an existing
    folder without --overwrite (issue 13's rule for every command that writes)."""
    from armtwin.policy.eval import EvalConfig
    from armtwin.staging import OutputError

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "config.json").write_text("{}")
    with pytest.raises(OutputError, match="inside"):
        EvalConfig(policy=policy, env_id="armtwin/SO101-Lift-v0", episodes=1, out=policy / "eval")
    (tmp_path / "old").mkdir()
    with pytest.raises(OutputError, match="exists"):
        EvalConfig(policy=policy, env_id="armtwin/SO101-Lift-v0", episodes=1, out=tmp_path / "old")
    cfg = EvalConfig(policy=policy, env_id="armtwin/SO101-Lift-v0", episodes=1, out=tmp_path / "old", overwrite=True)
    assert cfg.out == tmp_path / "old"


def test_policy_options_are_checked_against_the_policy_config(tmp_path):
    """--policy-option KEY=VALUE (lerobot-eval's --policy.KEY=VALUE): values read as JSON, keys checked
    against the policy's config.json before anything loads; what the policy was trained on is not an option."""
    from armtwin.policy.eval import EvalConfig
    from armtwin.policy.local import policy_options

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "config.json").write_text(json.dumps({
        "type": "act", "n_action_steps": 10, "temporal_ensemble_coeff": None, "vision_backbone": "resnet18",
        "input_features": {STATE_KEY: {"type": "STATE", "shape": [6]}}}))
    assert policy_options(policy, ["n_action_steps=1", "temporal_ensemble_coeff=0.01", "vision_backbone=resnet34"]) \
        == {"n_action_steps": 1, "temporal_ensemble_coeff": 0.01, "vision_backbone": "resnet34"}
    assert policy_options(policy, None) == {} and policy_options(policy, {"n_action_steps": 2}) == {"n_action_steps": 2}
    with pytest.raises(ValueError, match="'n_action_steps' is not KEY=VALUE"):
        policy_options(policy, ["n_action_steps"])
    with pytest.raises(ValueError, match=r"unknown policy option\(s\) 'nope' for this act policy; valid: "
                                         r"n_action_steps, temporal_ensemble_coeff, vision_backbone"):
        policy_options(policy, ["nope=1"])
    with pytest.raises(ValueError, match="unknown policy option.*'input_features'"):
        policy_options(policy, {"input_features": {}})
    cfg = EvalConfig(policy=policy, env_id=LIFT, episodes=1, out=tmp_path / "eval", policy_options=["n_action_steps=1"])
    assert cfg.job().policy_options == {"n_action_steps": 1}
    with pytest.raises(ValueError, match="valid: n_action_steps"):
        EvalConfig(policy=policy, env_id=LIFT, episodes=1, out=tmp_path / "eval2", policy_options=["chunk=1"])
    with pytest.raises(ValueError, match="not on --policy-server"):
        EvalConfig(policy=policy, env_id=LIFT, episodes=1, out=tmp_path / "eval3", policy_server="127.0.0.1:8080",
                   policy_options=["n_action_steps=1"])


@pytest.mark.lerobot
def test_eval_with_acts_temporal_ensembling(tiny_act_checkpoint, tmp_path):
    """`armtwin eval --policy-option n_action_steps=1 --policy-option temporal_ensemble_coeff=0.01` runs the
    policy as ACT's paper does (queried every step, overlapping chunks averaged): the loaded config has them,
    the actions are the ensemble's (the first is the first chunk's first action, later ones differ from a
    policy queried every step without ensembling), and a combination ACT refuses is refused before any
    episode runs."""
    from armtwin.cli import main
    from armtwin.policy.local import LocalPolicy

    opts = {"n_action_steps": 1, "temporal_ensemble_coeff": 0.01}
    ens = LocalPolicy.from_pretrained(tiny_act_checkpoint, options=opts)
    assert (ens.policy.config.n_action_steps, ens.policy.config.temporal_ensemble_coeff) == (1, 0.01)
    plain = LocalPolicy.from_pretrained(tiny_act_checkpoint, options={"n_action_steps": 1})
    ens.reset()
    plain.reset()
    rng = np.random.default_rng(1)
    gaps = []
    for _ in range(4):
        frame = {STATE_KEY: rng.uniform(-30, 30, 6).astype(np.float32), "task": ""}
        for cam in ("wrist", "front"):
            frame[image_key(cam)] = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        gaps.append(float(np.abs(ens.act(frame) - plain.act(frame)).max()))
    assert gaps[0] < 1e-4 and min(gaps[1:]) > 1e-3, gaps
    with pytest.raises(ValueError, match="must be 1 when using temporal ensembling"):
        LocalPolicy.from_pretrained(tiny_act_checkpoint, options={"temporal_ensemble_coeff": 0.01})
    out = tmp_path / "eval"
    base = ["eval", "--policy", str(tiny_act_checkpoint), "--env", LIFT, "--episodes", "1", "--max-steps", "6",
            "--no-progress"]
    assert main([*base, "--policy-option", "n_action_steps=1", "--policy-option", "temporal_ensemble_coeff=0.01",
                 "--out", str(out)]) == 0
    assert json.loads((out / "eval_info.json").read_text())["armtwin"]["policy_options"] == opts
    assert main([*base, "--policy-option", "nope=1", "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
