"""MimicGen generation with domain randomization: each generated demo in its own randomized scene, within the
preset's ranges, regenerated from its recorded seed and replayed bit-exactly from its initial state.

Lift, 3 scripted (unrandomized) sources, 3 generated demos with the "all" preset (every group on), one
worker, 24x32 images (only to check that the stored frames are renders of the randomized scene).
"""

import json
import math

import h5py
import numpy as np
import pytest

from armtwin import envs
from armtwin.data import demo_names, load_episode
from armtwin.envs.randomize_config import PRESETS
from armtwin.mimic.annotate import annotate_file
from armtwin.mimic.runner import GenerateConfig, run_generate
from armtwin.teleop.replay import make_env_from_recording, replay_in_sim

LIFT = "armtwin/SO101-Lift-v0"
NUM = 3
IMG = (24, 32)
CFG = PRESETS["all"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from armtwin.mimic.sources import record_expert_demos

    d = tmp_path_factory.mktemp("mimic_rand")
    raw, ann, out = d / "src.h5", d / "ann.h5", d / "gen.h5"
    record_expert_demos(LIFT, raw, num=3, seed=100)
    annotate_file(str(raw), str(ann))
    stats = run_generate(GenerateConfig(source=str(ann), env_id=LIFT, out=str(out), num=NUM, seed=5,
                                        image_size=IMG, progress=False, env_kwargs={"randomize": "all"}))
    assert stats["kept"] == NUM
    return out


def _scene(u):
    """The randomized model fields of an env's current scene, by group."""
    m, h = u.model, u._s2r.randomizer.h
    geoms = [g for g, _, _ in h.objects]
    bodies = [b for _, b, _ in h.objects]
    kp, kv, damping = u._s2r.servo.read()
    return {
        "params": u._s2r.params.copy(),
        "light_dir": m.light_dir[h.light].copy(),
        "light_diffuse": m.light_diffuse[h.light].copy(),
        "table_rgb": m.geom_rgba[h.table, :3].copy(),
        "object_rgb": m.geom_rgba[geoms, :3].copy(),
        "front_fovy": float(m.cam_fovy[h.front]),
        "front_pos": m.cam_pos[h.front].copy(),
        "friction": m.geom_friction[[*geoms, h.table, *h.pads], 0].copy(),
        "object_mass": m.body_mass[bodies].copy(),
        "object_size": m.geom_size[geoms].copy(),
        "kp": kp.copy(), "kv": kv.copy(), "damping": damping.copy(),
        "latency": u._s2r.randomizer.latency_substeps(u._s2r.params),
    }


def test_each_generated_demo_has_its_own_randomized_scene_within_ranges(generated):
    with h5py.File(generated) as f:
        kwargs = json.loads(f["data"].attrs["env_args"])["env_kwargs"]
        names = sorted(f["data"], key=lambda n: int(n[5:]))
    assert kwargs["randomize"] == "all"
    env = make_env_from_recording(generated)  # the recorded env, randomization included
    u = env.unwrapped
    nominal = envs.make(LIFT, image_size=None).unwrapped
    nominal.reset(seed=0)
    nm, h = nominal.model, u._s2r.randomizer.h
    geoms = [g for g, _, _ in h.objects]
    bodies = [b for _, b, _ in h.objects]
    kp0, kv0, d0 = nominal._s2r.servo.read()
    scenes = []
    for n in names:
        ep = load_episode(generated, n)
        # the scene comes back from the recorded reset seed alone: the same state, bit for bit
        u.reset(seed=int(ep.attrs["seed"]))
        assert np.array_equal(u.get_state(), ep.initial_state), n
        s = _scene(u)
        scenes.append(s)
        # within the preset's ranges, relative to the unrandomized model
        tilt = math.acos(-s["light_dir"][2] / np.linalg.norm(s["light_dir"]))
        assert tilt <= CFG.lighting.direction + 1e-9
        assert np.abs(s["table_rgb"] - nm.geom_rgba[h.table, :3]).max() <= CFG.colours.table + 1e-9
        assert np.abs(s["object_rgb"] - nm.geom_rgba[geoms, :3]).max() <= CFG.colours.objects + 1e-9
        assert abs(s["front_fovy"] - nm.cam_fovy[h.front]) <= CFG.camera.fov + 1e-9
        assert np.abs(s["front_pos"] - nm.cam_pos[h.front]).max() <= CFG.camera.pos + 1e-9
        f0 = nm.geom_friction[[*geoms, h.table, *h.pads], 0]
        assert np.abs(s["friction"] / f0 - 1).max() <= CFG.physics.friction + 1e-9
        assert np.abs(s["object_mass"] / nm.body_mass[bodies] - 1).max() <= CFG.physics.object_mass + 1e-9
        assert np.abs(s["object_size"][:, 0] / nm.geom_size[geoms, 0] - 1).max() <= CFG.objects.size + 1e-9
        assert np.abs(s["kp"] / kp0 - 1).max() <= CFG.physics.servo_kp + 1e-9
        assert np.abs(s["kv"] / kv0 - 1).max() <= CFG.physics.servo_kv + 1e-9
        assert np.abs(s["damping"] / d0 - 1).max() <= CFG.physics.servo_damping + 1e-9
        lo, hi = CFG.latency.action_latency
        assert round(lo / u.config.sim_dt) <= s["latency"] <= round(hi / u.config.sim_dt)
    # and actually randomized: every group's fields differ from the nominal model and between every pair of demos
    for key in ("light_dir", "table_rgb", "object_rgb", "front_fovy", "friction", "object_mass", "object_size",
                "kp", "damping"):
        nominal_value = {"light_dir": nm.light_dir[h.light], "table_rgb": nm.geom_rgba[h.table, :3],
                         "object_rgb": nm.geom_rgba[geoms, :3], "front_fovy": nm.cam_fovy[h.front],
                         "friction": nm.geom_friction[[*geoms, h.table, *h.pads], 0],
                         "object_mass": nm.body_mass[bodies], "object_size": nm.geom_size[geoms],
                         "kp": kp0, "damping": d0}[key]
        for i, s in enumerate(scenes):
            assert not np.allclose(s[key], nominal_value), (key, i)
            for t in scenes[i + 1:]:
                assert not np.allclose(s[key], t[key]), key
    env.close()


def test_a_generated_randomized_demo_replays_bit_exactly(generated):
    env = make_env_from_recording(generated, image_size=IMG)
    u = env.unwrapped
    for n in demo_names(generated):
        ep = load_episode(generated, n)
        # states, bit for bit, and the task solved again (the replay helper the CLI uses)
        rep = replay_in_sim(generated, n)
        assert rep.max_state_error == 0.0 and rep.recorded_success and rep.replayed_success, rep
        # the noisy observations too (noise is drawn from the episode's seed and the step counter)
        env.reset(seed=0)  # another scene: set_state must bring the demo's back
        u.set_state(ep.initial_state)
        jp = ep.obs["joint_pos"]
        # (the recorded joint positions carry the preset's observation noise)
        assert not np.array_equal(jp[0], u.data.qpos[u._joint_qpos]), n
        for t, a in enumerate(ep.actions):
            obs = u.get_obs()
            assert np.array_equal(obs["joint_pos"], jp[t]), (n, t)
            assert np.array_equal(obs["object_pos"], ep.obs["object_pos"][t]), (n, t)
            if t in (0, len(ep.actions) - 1):
                imgs = u.render_images()
                for cam in ("front", "wrist"):
                    assert np.array_equal(imgs[cam], ep.obs["images"][cam][t]), (n, cam, t)
            env.step(a)
    env.close()


def test_a_trial_whose_physics_diverges_is_a_failure_not_a_demo(generated, tmp_path, monkeypatch):
    """MuJoCo resets a diverged simulation to the model's defaults, which can look like a solved task (a
    randomized scene did this in 3 of 30 PickPlace trials with the physics preset): such a trial fails as
    "unstable". Here the divergence is forced: a huge velocity on the cube mid-trial."""
    monkeypatch.chdir(tmp_path)  # MuJoCo writes its warning to MUJOCO_LOG.TXT in the working directory
    from armtwin.mimic.generate import TrialRunner
    from armtwin.mimic.runner import build_job

    job = build_job(GenerateConfig(source=str(generated.parent / "ann.h5"), env_id=LIFT, num=1, out=str(generated.parent / "x.h5"),
                                   image_size=None, progress=False, env_kwargs={"randomize": "all"}))
    runner = TrialRunner(job)
    u = runner.env.unwrapped
    assert runner.run(0).success  # trial 0 of seed 0 succeeds as is
    step = runner.env.step

    def kicked(action):
        if u._elapsed == 20:
            u.data.qvel[u.model.jnt_dofadr[u.model.body_jntadr[u._obj_body[0]]]] = 1e12
        return step(action)

    runner.env.step = kicked
    res = runner.run(0)
    assert not res.success and res.reason == "unstable" and res.num_steps == 21
    runner.close()
