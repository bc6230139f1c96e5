"""armtwin.envs: Gymnasium API, determinism, state save/restore, pickling, images, bad actions."""

import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import armtwin.envs as E
from armtwin.assets import so101_constants as C
from armtwin.envs.config import EnvConfig

IDS = list(E.ENV_IDS)


def _random_walk(env, seed, n):
    """n actions that wander around the home pose (deterministic in seed)."""
    rng = np.random.default_rng(seed)
    RC = env.unwrapped.C  # the env's robot's constants
    q = np.array(RC.HOME_QPOS)
    out = []
    for _ in range(n):
        q = np.clip(q + rng.normal(0, 0.05, 6), RC.lower_limits(), RC.upper_limits())
        out.append(q.astype(np.float32))
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_check_env(env_id):
    env = E.make(env_id, image_size=(32, 40), render_mode="rgb_array")
    with warnings.catch_warnings():
        # advisory only: absolute joint targets are deliberately not normalized, poses are unbounded
        warnings.filterwarnings("ignore", message=".*(symmetric and normalized|infinity).*")
        check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    keys = {"joint_pos", "joint_vel", "eef_pos", "eef_quat", "object_pos", "object_quat", "instruction", "images"}
    assert set(obs) == keys
    assert obs["images"]["wrist"].shape == (32, 40, 3) and obs["images"]["wrist"].dtype == np.uint8
    u = env.unwrapped
    assert obs["object_pos"].shape == (len(u.object_names), 3)
    assert isinstance(info["is_success"], bool) and not info["is_success"]
    assert set(info["subtask_signals"]) == set(u.SIGNALS)
    spec = u.subtask_spec
    assert spec[-1][1] is None and all(s is not None for _, s in spec[:-1])
    assert all(o in u.pose_names for o, _ in spec)
    assert u.pose_names == u.object_names + u.frame_names
    assert all(s in u.SIGNALS for _, s in spec[:-1])
    assert obs["instruction"] == u.instruction and len(u.instruction) > 5
    frame = env.render()
    assert frame.shape == (32, 80, 3)
    dg = u.get_datagen_info()
    assert dg["eef_pose"].shape == (4, 4)
    np.testing.assert_allclose(dg["eef_pose"][:3, 3], obs["eef_pos"])
    assert set(dg["object_poses"]) == set(u.pose_names)
    for name in u.frame_names:
        pose = dg["object_poses"][name]
        assert pose.shape == (4, 4) and np.isfinite(pose).all()
        np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(dg["object_poses"][u.object_names[0]][:3, 3], obs["object_pos"][0])
    assert set(dg["subtask_term_signals"]) == set(u.SIGNALS)
    env.close()


def _fresh(code: str) -> None:
    """Run ``code`` in a fresh interpreter with warnings as errors (a re-registration warns)."""
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_import_registers_every_id_idempotently_without_mujoco():
    _fresh(
        "import sys, importlib, gymnasium as gym, armtwin;"
        "from armtwin.envs import ENV_IDS, TASKS, register;"
        "assert ENV_IDS and all(k in gym.registry for k in ENV_IDS);"
        "assert all(gym.registry[k].entry_point == TASKS[k].entry_point for k in ENV_IDS);"
        "register(); register(); importlib.reload(sys.modules['armtwin.envs']);"
        "assert sorted(k for k in gym.registry if k.startswith('armtwin/')) == sorted(ENV_IDS);"
        "bad = {m for m in sys.modules if m.split('.')[0] in ('mujoco', 'mink', 'torch', 'lerobot')};"
        "assert not bad, bad;"
        "assert not any(m.startswith('armtwin.envs.tasks.') for m in sys.modules)"
    )
    with pytest.raises(ValueError, match="valid ids: armtwin/SO101-Lift-v0"):
        E.make("armtwin/SO101-Nope-v0")


@pytest.mark.parametrize("env_id", IDS)
def test_gym_make_takes_config_fields_after_import(env_id):
    """The Gymnasium convention (LeRobot's make_env): import the package, then gym.make(id, **fields)."""
    _fresh(
        "import gymnasium as gym, numpy as np, armtwin.envs;"
        f"env = gym.make({env_id!r}, image_size=(24, 32), reset_distribution='D1', cameras=['front']);"
        "u = env.unwrapped; c = u.config;"
        "assert c.image_size == (24, 32) and c.reset_distribution == 'D1' and c.cameras == ('front',);"
        "assert env.spec.max_episode_steps == c.max_episode_steps == 300;"
        "obs, info = env.reset(seed=0);"
        "assert obs['images']['front'].shape == (24, 32, 3) and set(obs['images']) == {'front'};"
        "assert env.observation_space.contains(obs) and info['is_success'] is False;"
        "ref = armtwin.envs.make("
        f"{env_id!r}, image_size=(24, 32), reset_distribution='D1', cameras=('front',)).reset(seed=0)[0];"
        "np.testing.assert_array_equal(obs['object_pos'], ref['object_pos']);"
        "np.testing.assert_array_equal(obs['images']['front'], ref['images']['front']);"
        f"short = gym.make({env_id!r}, config=armtwin.envs.config.EnvConfig(max_episode_steps=4, image_size=None),"
        " max_episode_steps=4); short.reset(seed=0);"
        "flags = [short.step(short.unwrapped.data.ctrl.astype('float32'))[3] for _ in range(4)];"
        "assert flags == [False, False, False, True] and short.unwrapped.config.max_episode_steps == 4"
    )


def test_config_is_validated():
    with pytest.raises(ValueError, match="divide"):
        EnvConfig(sim_dt=0.007)
    with pytest.raises(ValueError, match="reset_distribution"):
        EnvConfig(reset_distribution="D7")
    with pytest.raises(ValueError, match="cameras"):
        EnvConfig(cameras=("top",))
    with pytest.raises(ValueError, match="image_size"):
        EnvConfig(image_size=(128,))
    with pytest.raises(TypeError):
        EnvConfig(1 / 30)  # keyword-only
    cfg = EnvConfig(ctrl_dt=0.05, sim_dt=0.005)
    assert cfg.n_substeps == 10
    env = E.make("armtwin/SO101-Lift-v0", ctrl_dt=0.05, sim_dt=0.005, image_size=None)
    env.reset(seed=0)
    t0 = env.unwrapped.data.time
    env.step(np.array(C.HOME_QPOS, np.float32))
    assert env.unwrapped.data.time - t0 == pytest.approx(0.05)
    assert env.unwrapped.model.opt.timestep == 0.005


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_rollout_and_different_seed_different_scene(env_id):
    def roll(seed):
        env = E.make(env_id, image_size=None, reset_distribution="D1")
        obs, _ = env.reset(seed=seed)
        out = [obs["object_pos"].copy(), obs["instruction"]]
        for a in _random_walk(env, 7, 20):
            obs, *_ = env.step(a)
            out.append(np.concatenate([obs["joint_pos"], obs["object_pos"].ravel()]))
        return out

    a, b, c = roll(3), roll(3), roll(4)
    assert a[1] == b[1]
    for x, y in zip(a[2:], b[2:]):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("env_id", IDS)
def test_state_save_restore_replays_bit_exactly_and_rerenders(env_id):
    env = E.make(env_id, image_size=(48, 48))
    u = env.unwrapped
    obs, _ = env.reset(seed=11)
    actions = _random_walk(env, 1, 30)
    states, images = [], []
    for a in actions:
        states.append(u.get_state())
        images.append(obs["images"])
        obs, *_ = env.step(a)
    final = u.get_state()
    assert states[0].shape == (u.state_size,)
    # replay from a state in the middle, in a fresh env
    env2 = E.make(env_id, image_size=(48, 48))
    env2.reset(seed=999)  # a different scene (and for Sandwich possibly a different ingredient)
    env2.unwrapped.set_state(states[10])
    assert env2.unwrapped.instruction == u.instruction
    for a in actions[10:]:
        env2.step(a)
    np.testing.assert_array_equal(env2.unwrapped.get_state(), final)
    # re-render a saved state later: the same pixels as seen live
    env2.unwrapped.set_state(states[20])
    ims = env2.unwrapped.render_images()
    for cam in C.CAMERA_NAMES:
        np.testing.assert_array_equal(ims[cam], images[20][cam])
    with pytest.raises(ValueError, match="state must have shape"):
        u.set_state(final[:-1])


@pytest.mark.parametrize("env_id", IDS)
def test_pickle_round_trip(env_id):
    env = E.make(env_id, image_size=(32, 32))
    obs, _ = env.reset(seed=5)
    for a in _random_walk(env, 2, 5):
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(clone.unwrapped.get_state(), env.unwrapped.get_state())
    for a in _random_walk(env, 3, 10):
        o1, *_ = env.step(a)
        o2, *_ = clone.step(a)
        np.testing.assert_array_equal(o1["joint_pos"], o2["joint_pos"])
        np.testing.assert_array_equal(o1["images"]["front"], o2["images"]["front"])
    # the seeded generator travels too: the next reset draws the same scene
    np.testing.assert_array_equal(env.reset()[0]["object_pos"], clone.reset()[0]["object_pos"])


@pytest.mark.parametrize("env_id", IDS)
def test_images_are_not_blank_and_differ_between_cameras(env_id):
    env = E.make(env_id, image_size=(64, 64))
    obs, _ = env.reset(seed=0)
    w, f = obs["images"]["wrist"], obs["images"]["front"]
    for im in (w, f):
        assert im.shape == (64, 64, 3) and im.dtype == np.uint8
        assert im.std() > 10 and len(np.unique(im.reshape(-1, 3), axis=0)) > 20
    assert np.abs(w.astype(int) - f.astype(int)).mean() > 20
    # the images follow the arm
    obs2, *_ = env.step(np.array([0.4, -0.2, 0.2, 1.2, 0.5, 1.0], np.float32))
    for _ in range(10):
        obs2, *_ = env.step(np.array([0.4, -0.2, 0.2, 1.2, 0.5, 1.0], np.float32))
    assert np.abs(obs2["images"]["wrist"].astype(int) - w.astype(int)).mean() > 5
    assert np.abs(obs2["images"]["front"].astype(int) - f.astype(int)).mean() > 1
    no_cam = E.make(env_id, image_size=None)
    assert "images" not in no_cam.reset(seed=0)[0]
    one_cam = E.make(env_id, image_size=(16, 16), cameras=("front",))
    assert set(one_cam.reset(seed=0)[0]["images"]) == {"front"}


@pytest.mark.parametrize("env_id", IDS)
def test_bad_actions_raise_or_clamp_without_blowing_up(env_id):
    env = E.make(env_id, image_size=None)
    env.reset(seed=0)
    u = env.unwrapped
    RC = u.C  # the env's robot's constants
    before = u.get_state()
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        env.step(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        env.step(np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match="NaN or inf.*elbow_flex"):
        env.step(np.array([0, 0, np.nan, 0, 0, 0], np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.array([0, 0, 0, 0, np.inf, 0], np.float32))
    with pytest.raises(ValueError):
        env.step("not an action")
    # nothing was applied by the rejected actions: no physics step, no step counted
    np.testing.assert_array_equal(u.get_state(), before)
    huge = np.array([100, -100, 100, -100, 100, 100], np.float32)
    for _ in range(60):
        obs, r, term, trunc, info = env.step(huge)
        assert info["action_clamped"]
        np.testing.assert_array_equal(info["action"], np.clip(huge, RC.lower_limits(), RC.upper_limits()))
        assert np.all(np.isfinite(obs["joint_pos"])) and np.all(np.isfinite(obs["object_pos"]))
    # the arm went to (near) the clamped targets, no blow-up
    assert np.all(obs["joint_pos"] >= RC.lower_limits() - 0.05) and np.all(obs["joint_pos"] <= RC.upper_limits() + 0.05)
    assert np.abs(obs["joint_vel"]).max() < 50
    _, _, _, _, info = env.step(np.array(RC.HOME_QPOS, np.float32))
    assert not info["action_clamped"]


def test_truncation_and_terminate_on_success():
    env = E.make("armtwin/SO101-Lift-v0", image_size=None, max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(np.array(C.HOME_QPOS, np.float32))[3] for _ in range(3)]
    assert flags == [False, False, True]
    assert env.unwrapped.config.max_episode_steps == 3 and env.spec.max_episode_steps == 3
    assert EnvConfig().max_episode_steps == gym.spec("armtwin/SO101-Lift-v0").max_episode_steps
    env = E.make("armtwin/SO101-Lift-v0", image_size=None, terminate_on_success=True)
    env.reset(seed=0)
    u = env.unwrapped
    cube = u._obj_qpos[0]
    u.data.qpos[cube + 2] = 0.2  # hold the cube up in the air: lifted
    import mujoco

    mujoco.mj_forward(u.model, u.data)
    _, r, term, _, info = env.step(np.array(C.HOME_QPOS, np.float32))
    assert info["is_success"] and term and r == 1.0


def test_sandwich_instruction_names_the_target_and_varies():
    env = E.make("armtwin/SO101-Sandwich-v0", image_size=None)
    seen = set()
    for seed in range(12):
        obs, _ = env.reset(seed=seed)
        u = env.unwrapped
        assert obs["instruction"] == f"pick up the {u.target} and place it on the plate"
        assert u.subtask_spec == [(u.target, "grasp"), ("holder_slot", "extract"), ("plate", None)]
        seen.add(u.target)
    assert seen == {"bread", "cheese", "patty"}


@pytest.mark.parametrize("dist", ["D0", "D1"])
def test_sandwich_holder_slot_frame_is_where_the_named_ingredient_stands(dist):
    """``holder_slot`` is the slot the named ingredient starts in (D1 shuffles the slots), it survives a
    state round trip, and it does not move when the ingredient is carried away."""
    import mujoco

    from armtwin.envs.tasks.sandwich import EXTRACT_CLEARANCE, HOLDER_TOP

    env = E.make("armtwin/SO101-Sandwich-v0", image_size=None, reset_distribution=dist)
    slots = set()
    for seed in range(12):
        obs, _ = env.reset(seed=seed)
        u = env.unwrapped
        slot = u.get_datagen_info()["object_poses"]["holder_slot"]
        ing = obs["object_pos"][u.object_names.index(u.target)]
        # the ingredient is jittered by 2 mm in its slot; the slots are 5 cm apart
        assert np.linalg.norm(slot[:2, 3] - ing[:2]) < 0.004, (seed, slot[:3, 3], ing)
        assert slot[2, 3] == 0.0 and np.array_equal(slot[:3, :3], np.eye(3))
        slots.add(round(float(slot[1, 3]), 3))
        state = u.get_state()
        env.reset(seed=seed + 100)
        u.set_state(state)
        np.testing.assert_array_equal(u.get_datagen_info()["object_poses"]["holder_slot"], slot)
        # lift the ingredient bodily (no grasp): the frame stays, and extract needs a grasp
        a = u._obj_qpos[u.object_names.index(u.target)]
        u.data.qpos[a + 2] += HOLDER_TOP + EXTRACT_CLEARANCE + 0.05
        mujoco.mj_forward(u.model, u.data)
        dg = u.get_datagen_info()
        np.testing.assert_array_equal(dg["object_poses"]["holder_slot"], slot)
        assert dg["subtask_term_signals"]["extract"] == 0
    assert len(slots) > 1


@pytest.mark.parametrize("env_id", IDS)
def test_d1_is_wider_than_d0(env_id):
    """Every object's (x, y) spreads more under D1, except Sandwich's ingredients, whose holder is fixed
    (D1 shuffles their slots instead): there the plate spreads and the slot order varies."""

    def positions(dist):
        env = E.make(env_id, image_size=None, reset_distribution=dist)
        return np.array([env.reset(seed=s)[0]["object_pos"][:, :2] for s in range(30)])  # (30, n_obj, 2)

    d0, d1 = positions("D0"), positions("D1")
    names = E.env_class(env_id).OBJECTS
    wide = [i for i, o in enumerate(names) if not (env_id.endswith("Sandwich-v0") and o.name != "plate")]
    assert wide
    for i in wide:
        assert np.all(d1[:, i].std(axis=0) > 2 * d0[:, i].std(axis=0)), names[i].name
    if env_id.endswith("Sandwich-v0"):
        slot_order = lambda p: tuple(np.argsort(p[:3, 1]))  # noqa: E731  ingredients by y (slot)
        assert len({slot_order(p) for p in d0}) == 1 and len({slot_order(p) for p in d1}) > 1


def test_any_finite_action_is_clamped_and_keeps_the_physics_finite():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    env = E.make("armtwin/SO101-Stack-v0", image_size=None)
    env.reset(seed=0)
    lo, hi = C.lower_limits(), C.upper_limits()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(arrays(np.float64, 6, elements=st.floats(-1e6, 1e6, allow_nan=False)))
    def check(a):
        obs, _, _, _, info = env.step(a)
        np.testing.assert_array_equal(info["action"], np.clip(a, lo, hi))
        assert info["action_clamped"] == bool(np.any((a < lo) | (a > hi)))
        assert np.isfinite(obs["joint_pos"]).all() and np.isfinite(obs["object_pos"]).all()
        assert np.abs(obs["joint_vel"]).max() < 100

    check()


@pytest.mark.parametrize("env_id", IDS)
def test_task_spec_is_the_envs_own(env_id):
    """One statement of the subtasks: the registry's spec is the env class's, and the env's signals,
    ``subtask_spec`` and datagen poses follow from it."""
    from armtwin.envs.registry import get_task, get_task_spec

    cls = E.env_class(env_id)
    spec = get_task_spec(env_id)
    assert spec is cls.TASK_SPEC and spec.env_id == env_id and get_task(env_id).entry_point.endswith(cls.__name__)
    assert cls.SIGNALS == tuple(st.end_signal for st in spec.subtasks[:-1]) + (cls.SUCCESS_SIGNAL,)
    env = E.make(env_id, image_size=None)
    env.reset(seed=1)
    u = env.unwrapped
    objects = u.subtask_objects()
    assert u.subtask_spec == [(o, st.end_signal) for o, st in zip(objects, spec.subtasks)]
    dg = u.get_datagen_info()
    assert all(o in dg["object_poses"] for o in objects)
    assert all(st.accepts(o) for st, o in zip(spec.subtasks, objects))
    assert set(dg["subtask_term_signals"]) == set(cls.SIGNALS)
    # a spec naming an object the env lacks is refused with the valid names
    with pytest.raises(ValueError, match="not one of its pose names"):
        u.subtask_objects(spec.with_subtask_overrides(object_ref="anvil"))
    env.close()
    with pytest.raises(KeyError, match="valid env ids"):
        get_task_spec("armtwin/SO101-Nope-v0")


def test_a_task_spec_that_does_not_fit_its_env_fails_when_the_class_is_defined():
    from armtwin.envs.tasks.lift import LiftEnv
    from armtwin.envs.tasks.sandwich import INGREDIENTS, SandwichEnv
    from armtwin.envs.task_spec import SubtaskSpec, TaskSpec

    def define(base, spec, **attrs):
        return type("Bad", (base,), {"TASK_SPEC": spec, **attrs})

    lift = LiftEnv.TASK_SPEC
    with pytest.raises(ValueError, match="'plate' is not one of its pose names.*cube"):
        define(LiftEnv, lift.with_subtask_overrides(object_ref="plate"))
    # a frame is a pose name, but not a per-episode candidate (those must be free objects)
    with pytest.raises(ValueError, match="'holder_slot' is not one of its free objects"):
        define(SandwichEnv, SandwichEnv.TASK_SPEC.replace(subtasks=(
            SubtaskSpec(("bread", "holder_slot"), "grasp"), SubtaskSpec("plate", None))))
    with pytest.raises(ValueError, match="grasp_signal 'hold'"):
        define(LiftEnv, lift.replace(grasp_signal="hold"))
    with pytest.raises(ValueError, match="distinct"):
        define(LiftEnv, lift, SUCCESS_SIGNAL="grasp")
    # an inherited spec is checked against the subclass's own objects
    with pytest.raises(ValueError, match="'cube' is not one of its pose names"):
        type("Bad", (LiftEnv,), {"OBJECTS": SandwichEnv.OBJECTS})
    with pytest.raises(TypeError, match="TaskSpec"):
        define(LiftEnv, lift.to_dict())
    # the env picks the per-episode candidate: Sandwich's named ingredient
    assert SandwichEnv.TASK_SPEC.subtasks[0].object_ref == INGREDIENTS
    spec = TaskSpec("x", (SubtaskSpec(("cube",), "grasp"), SubtaskSpec("cube", None)))
    env = E.make("armtwin/SO101-Lift-v0", image_size=None)
    with pytest.raises(ValueError, match="does not choose subtask objects per episode"):
        env.unwrapped.subtask_objects(spec)
