"""``armtwin eval`` on the OMX: a tiny ACT trained on converted OMX demos runs through the same runner as the
SO-101's, in the OMX's LeRobot units (body joints -100..100) behind the OMX's safety limits; a policy of the
other arm, or of the other task's object count, is refused before anything moves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from armtwin.policy.features import STATE_KEY, FeatureMismatch

OMX_PICK = "armtwin/OMX-PickPlace-v0"
OMX_LIFT = "armtwin/OMX-Lift-v0"
SO101_PICK = "armtwin/SO101-PickPlace-v0"


@pytest.fixture(scope="module")
def omx_state_act(tmp_path_factory):
    """A tiny ACT (lerobot-train, 10 steps) on 3 scripted OMX PickPlace demos converted with
    ``--environment-state`` (joint state in omx_follower units + cube and plate positions)."""
    from conftest import HAVE_LEROBOT, NO_LEROBOT_REASON

    if not HAVE_LEROBOT:
        pytest.skip(NO_LEROBOT_REASON)
    from policy_data import tiny_act, tiny_state_dataset

    root = tmp_path_factory.mktemp("omx_policy")
    ds = tiny_state_dataset(root / "lerobot", env_id=OMX_PICK)
    assert json.loads((ds / "meta" / "info.json").read_text())["robot_type"] == "omx_follower"
    return tiny_act(ds, root / "train")


@pytest.mark.lerobot
def test_omx_policy_runs_in_omx_units_behind_omx_limits(omx_state_act):
    from armtwin.policy.episodes import EpisodeRunner, EvalJob
    from armtwin.policy.local import policy_robot_type
    from armtwin.robots.safety import SafetyConfig
    from armtwin.units import Calibration, UnitConverter

    assert policy_robot_type(omx_state_act)[0] == "omx_follower"
    runner = EpisodeRunner(EvalJob(policy=str(omx_state_act), env_id=OMX_PICK, max_steps=6))
    try:
        # the units the converter wrote the dataset in: the OMX's default calibration, body joints -100..100
        pct = UnitConverter(Calibration.default("omx"), use_degrees=False)
        assert runner.sim.converter.robot == "omx" and runner.sim.converter.use_degrees is False
        want = SafetyConfig.for_converter(pct)
        assert runner.follower.config.lower == want.lower and runner.follower.config.upper == want.upper
        deg = SafetyConfig.for_converter(UnitConverter(Calibration.default("omx"), use_degrees=True))
        assert want.upper != deg.upper  # the limits depend on the units: the check above can fail
        seen, sent = [], []
        act, send = runner.policy.act, runner.sim.send_action

        def spy_act(frame):
            q = runner.sim.last_obs["joint_pos"]
            seen.append((frame[STATE_KEY].copy(), pct.to_lerobot_dict(q)))
            return act(frame)

        def spy_send(action):
            sent.append(dict(action))
            return send(action)

        runner.policy.act, runner.sim.send_action = spy_act, spy_send
        out = runner.run(0)
    finally:
        runner.close()
    assert out.steps == 6 and not (out.failure or "").startswith("safety stop")
    assert len(seen) == 6 and len(sent) == 6
    for state, contract in seen:  # observation.state: the sim's joints in the OMX's LeRobot units
        assert np.allclose(state, [contract[k] for k in pct.C.LEROBOT_MOTOR_KEYS], atol=1e-4)
    # the OMX's home wrist_flex (1.53 rad, 88 deg) is ~47 in -100..100: not degrees
    assert 30 < seen[0][0][3] < 60
    for a in sent:  # what reached the twin is inside the OMX's limits in those units
        assert all(want.lower[k] - 1e-9 <= a[k] <= want.upper[k] + 1e-9 for k in a)


@pytest.mark.lerobot
def test_armtwin_eval_on_omx_pickplace(omx_state_act, tmp_path):
    from armtwin.cli import main

    out = tmp_path / "eval"
    assert main(["eval", "--policy", str(omx_state_act), "--env", OMX_PICK, "--episodes", "2", "--max-steps", "10",
                 "--out", str(out), "--no-progress"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["armtwin"]["env_id"] == OMX_PICK and len(info["per_episode"]) == 2
    assert {"pc_success", "avg_sum_reward", "eval_s"} <= set(info["aggregated"])
    lines = [json.loads(s) for s in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and not any((ln["failure"] or "").startswith("safety stop") for ln in lines)


@pytest.mark.lerobot
def test_policy_of_the_other_arm_or_task_is_refused_before_motion(omx_state_act, tmp_path, capsys):
    from armtwin.cli import main
    from armtwin.policy.episodes import EpisodeRunner, EvalJob

    # an OMX policy on the SO-101's PickPlace: the same shapes (6 joints, 2 objects), other units
    with pytest.raises(FeatureMismatch, match=r"trained on 'omx_follower' data.*'so_follower' arm"):
        EpisodeRunner(EvalJob(policy=str(omx_state_act), env_id=SO101_PICK))
    # an OMX PickPlace policy (cube + plate) on the OMX's Lift (cube only): the environment state's size
    with pytest.raises(FeatureMismatch, match=r"observation.environment_state.*\(6,\).*\(3,\)"):
        EpisodeRunner(EvalJob(policy=str(omx_state_act), env_id=OMX_LIFT))
    # through the CLI: a clear error naming both arms, a nonzero exit
    assert main(["eval", "--policy", str(omx_state_act), "--env", SO101_PICK, "--episodes", "1",
                 "--out", str(tmp_path / "bad"), "--no-progress"]) != 0
    assert "'omx_follower'" in capsys.readouterr().err
