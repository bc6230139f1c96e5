"""Domain randomization: reproducible from the seed and the saved state, different across seeds, in range."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import armtwin.envs as E
from armtwin.envs.randomize_config import PRESETS, CameraRandomization, LatencyRandomization, resolve_randomization

PICK = "armtwin/SO101-PickPlace-v0"


def _make(env_id=PICK, **kw):
    kw.setdefault("image_size", (48, 64))
    return E.make(env_id, **kw).unwrapped


def _rollout(env, seed, steps=12):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [obs]
    for _ in range(steps):
        a = np.clip(obs["joint_pos"] + rng.normal(0, 0.1, 6), env.lower, env.upper)
        obs, *_ = env.step(a)
        out.append(obs)
    return out


def _same(a, b):
    for k in ("joint_pos", "joint_vel", "object_pos"):
        np.testing.assert_array_equal(a[k], b[k])
    for c in a["images"]:
        np.testing.assert_array_equal(a["images"][c], b["images"][c])


@pytest.mark.parametrize("env_id", E.ENV_IDS)
def test_same_seed_same_randomized_scene_and_rollout(env_id):
    a, b = _make(env_id, randomize="all"), _make(env_id, randomize="all")
    ra, rb = _rollout(a, 5), _rollout(b, 5)
    for x, y in zip(ra, rb):
        _same(x, y)
    np.testing.assert_array_equal(a._s2r.params, b._s2r.params)


def test_different_seeds_differ_in_lighting_colours_and_camera():
    env = _make(randomize="visual")
    env.reset(seed=1)
    m = env.model
    snap1 = (m.light_dir.copy(), m.light_diffuse.copy(), m.geom_rgba.copy(), m.cam_pos.copy(), m.cam_quat.copy(),
             m.cam_fovy.copy())
    im1 = env.render_images()
    env.reset(seed=2)
    snap2 = (m.light_dir.copy(), m.light_diffuse.copy(), m.geom_rgba.copy(), m.cam_pos.copy(), m.cam_quat.copy(),
             m.cam_fovy.copy())
    im2 = env.render_images()
    for x, y in zip(snap1, snap2):
        assert not np.array_equal(x, y)
    for cam in ("front", "wrist"):
        assert np.abs(im1[cam].astype(int) - im2[cam].astype(int)).mean() > 2.0


def test_randomize_none_is_v0():
    a, b = _make(), _make(randomize="none")
    assert a.state_size == b.state_size
    for x, y in zip(_rollout(a, 3), _rollout(b, 3)):
        _same(x, y)
    assert "randomize" not in a.config.to_kwargs()


def test_saved_state_restores_the_randomized_model_and_replays_bit_exactly():
    env = _make(randomize="all")
    env.reset(seed=11)
    for _ in range(4):
        env.step(env.action_space.sample() * 0 + env.data.qpos[env._joint_qpos] + 0.05)
    state = env.get_state()
    rest = [np.full(6, 0.1) + 0.02 * i for i in range(6)]
    ref = [env.step(a)[0] for a in rest]
    other = _make(randomize="all")
    other.reset(seed=99)  # another scene
    other.set_state(state)
    for a, r in zip(rest, ref):
        _same(other.step(a)[0], r)
    again = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(again.get_state(), env.get_state())


def test_ranges_are_respected_over_many_draws():
    cfg = resolve_randomization({"preset": "all", "camera": {"fov": 5.0}, "latency": {"action_latency": [0.01, 0.05]}})
    env = _make(randomize=cfg, image_size=None)
    m = env.model
    h = env._s2r.randomizer.h
    fovy0 = 58.0
    table0 = np.array([0.60, 0.56, 0.50])
    for seed in range(40):
        env.reset(seed=seed)
        d = m.light_dir[h.light]
        assert math.acos(-d[2] / np.linalg.norm(d)) <= cfg.lighting.direction + 1e-9
        assert abs(m.cam_fovy[h.front] - fovy0) <= 5.0 + 1e-9
        assert np.abs(m.geom_rgba[h.table, :3] - table0).max() <= cfg.colours.table + 1e-9
        assert ((m.geom_rgba[:, :3] >= 0) & (m.geom_rgba[:, :3] <= 1)).all()
        lat = int(env._s2r.ages.max())  # command ages: a latency of 0.01-0.05 s is 2-9 substeps of 1/180 s
        assert 0 <= lat <= 2
        steps = env._s2r.randomizer.latency_substeps(env._s2r.params)
        assert 2 <= steps <= 9
        for (g, b, kind), o in zip(h.objects, env.OBJECTS):
            s = env.object_spec(o.name).size[0] / o.size[0]
            assert 1 - cfg.objects.size - 1e-9 <= s <= 1 + cfg.objects.size + 1e-9
            mass0 = o.mass
            assert abs(m.body_mass[b] / mass0 - 1) <= cfg.physics.object_mass + 1e-9
    with pytest.raises(ValueError, match="fov"):
        CameraRandomization(fov=30.0)
    with pytest.raises(ValueError, match="action_latency"):
        LatencyRandomization(action_latency=(0.1, 0.05))
    with pytest.raises(ValueError, match="presets"):
        E.make(PICK, randomize="everything")
    with pytest.raises(ValueError, match="unknown group"):
        E.make(PICK, randomize={"colour": {}})


def test_presets_and_env_args_round_trip():
    assert set(PRESETS) >= {"none", "visual", "physics", "all"}
    env = _make(randomize={"preset": "visual", "lighting": {"intensity": 0.2}})
    kw = env.config.to_kwargs()
    again = E.make(PICK, **kw).unwrapped
    assert again.config.randomization == env.config.randomization
    env.reset(seed=4)
    again.reset(seed=4)
    _same(env.get_obs(), again.get_obs())


def test_ranges_table_in_docs_is_what_the_code_prints():
    """docs/randomization.md is generated (python -m armtwin.envs.randomize_table --out ...): it cannot drift."""
    import subprocess
    import sys
    from dataclasses import fields
    from pathlib import Path

    from armtwin.envs.randomize_config import GROUPS, Randomization
    from armtwin.envs.randomize_table import ranges_table

    page = (Path(__file__).parents[1] / "docs" / "randomization.md").read_text()
    text = ranges_table()
    assert page == text, "docs/randomization.md is stale: python -m armtwin.envs.randomize_table --out docs/randomization.md"
    printed = subprocess.run([sys.executable, "-m", "armtwin.envs.randomize_table"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert printed == text
    # every field has a row, and the valid range the row states is the one construction enforces
    for g in GROUPS:
        cls = type(getattr(Randomization(), g))
        for f in fields(cls):
            lo, hi = cls.RANGES[f.name]
            assert f"| `{g}.{f.name}` |" in text
            if f.name == "action_latency":
                cls(action_latency=(lo, hi))
                with pytest.raises(ValueError, match=f.name):
                    cls(action_latency=(lo, hi + 1e-6))
            else:
                cls(**{f.name: hi})
                with pytest.raises(ValueError, match=f.name):
                    cls(**{f.name: hi + 1e-6})
                with pytest.raises(ValueError, match=f.name):
                    cls(**{f.name: lo - 1e-6})
