"""The OMX tasks beyond what the registry-wide env/expert tests check: each id's arm, and MimicGen
generating new OMX demos from scripted sources (the task's own ``TASK_SPEC``, the OMX's IK)."""

from __future__ import annotations

import h5py
import pytest

import armtwin.envs as E
from armtwin.mimic.annotate import annotate_file
from armtwin.mimic.runner import GenerateConfig, run_generate
from armtwin.mimic.sources import record_expert_demos

OMX_IDS = [i for i in E.ENV_IDS if E.get_task(i).robot == "omx"]


def test_the_omx_ids_are_registered_with_their_arm():
    assert OMX_IDS == ["armtwin/OMX-Lift-v0", "armtwin/OMX-PickPlace-v0"]
    for env_id in E.ENV_IDS:
        entry = E.get_task(env_id)
        cls = entry.env_class()  # raises when the class's ROBOT disagrees with the entry
        assert cls.ROBOT == entry.robot
        assert entry.robot_constants().ROBOT_NAME == entry.robot
    assert E.get_task("armtwin/OMX-Lift-v0").robot_constants().LEROBOT_ROBOT_TYPE == "omx_follower"


def test_an_env_of_an_unknown_arm_fails_when_the_class_is_defined():
    from armtwin.envs.tasks.lift import LiftEnv

    with pytest.raises(ValueError, match="unknown robot model 'ur5'; valid robots: so101, omx"):
        type("UR5Lift", (LiftEnv,), {"ROBOT": "ur5"})


def test_omx_env_uses_the_omx_model():
    env = E.make("armtwin/OMX-PickPlace-v0", image_size=None)
    u = env.unwrapped
    assert u.model.nu == 6 and u.model.joint("gripper_mimic") is not None
    obs, _ = env.reset(seed=0)
    assert obs["joint_pos"][5] == pytest.approx(u.C.HOME_QPOS[5])
    # the passive jaw starts where the mimic puts it
    assert u.data.qpos[u.model.joint("gripper_mimic").qposadr[0]] == pytest.approx(-u.C.HOME_QPOS[5])
    assert u.object_spec("cube").size == (0.0125, 0.0125, 0.0125)


def test_mimicgen_generates_omx_pickplace_demos(tmp_path):
    env_id = "armtwin/OMX-PickPlace-v0"
    raw, ann, out = tmp_path / "src.h5", tmp_path / "ann.h5", tmp_path / "gen.h5"
    record_expert_demos(env_id, raw, num=3, seed=100)
    annotate_file(str(raw), str(ann))
    st = run_generate(GenerateConfig(source=str(ann), env_id=env_id, out=str(out), num=3, image_size=None,
                                     progress=False, seed=7))
    assert st["kept"] == 3 and st["data_generation_rate"] >= 0.5, st
    with h5py.File(out) as f:
        assert len(f["data"]) == 3
        assert all(f["data"][d].attrs["success"] for d in f["data"])
