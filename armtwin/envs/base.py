"""An arm twin as a Gymnasium environment: what every task shares (its settings: :mod:`.config`).

The arm is the class's ``ROBOT`` (a name of :mod:`armtwin.assets.models`: "so101" by default, "omx"); ``C``
below is that robot's constants module (``env.C``), the model that robot's MJCF module (``env.M``).

Size: over 400 lines because :class:`SO101Env` is one object, the MuJoCo model and data with its spaces,
signals, rendering and state; its parts share that state, so they stay in one class.

Observation (dict):
- ``joint_pos`` (6,) float64 rad, ``joint_vel`` (6,) float64 rad/s, ``C.JOINT_NAMES`` order;
- ``eef_pos`` (3,) float64 m, ``eef_quat`` (4,) float64 wxyz: site ``C.GRIPPER_SITE`` in the world frame
  (its x axis is the approach axis out of the jaws, z the jaw-closing axis);
- ``object_pos`` (n_obj, 3) float64 m, ``object_quat`` (n_obj, 4) float64 wxyz, ``object_names`` order;
- ``instruction`` str;
- ``images`` {"wrist": (H, W, 3) uint8, "front": ...} only when ``image_size`` is not None.

Action: (6,) float32 absolute joint position targets, radians, ``C.JOINT_NAMES`` order. A wrong shape or
a NaN/inf raises ValueError; values outside the joint limits are clamped to ``C.JOINT_LIMITS`` (the
command really applied is ``info["action"]``, and ``info["action_clamped"]`` says whether clamping
happened). One env step holds the targets for ``ctrl_dt`` seconds = ``ctrl_dt / sim_dt`` physics steps.

Subtasks: each task's MimicGen spec (``TASK_SPEC``, an :class:`armtwin.envs.task_spec.TaskSpec`) is the one
statement of its subtasks; the env's ``SIGNALS`` (the subtasks' end signals, then ``SUCCESS_SIGNAL``),
``subtask_spec`` and :meth:`SO101Env.subtask_objects` are derived from it, and the spec's names are
checked against the task's objects and frames when the task class is defined.

Reward: 1.0 when the task is solved, else 0.0. ``terminated`` is True on success only when
``terminate_on_success`` is set; ``truncated`` is True after ``max_episode_steps`` steps.

info: ``is_success`` bool, ``subtask_signals`` {name: bool}, ``action`` (6,) float64, ``action_clamped`` bool,
``time`` float seconds since reset.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from armtwin.assets.models import robot_model
from armtwin.assets.scene import ObjectSpec, StaticSpec
from armtwin.envs import sim2real as S2R
from armtwin.envs.config import EnvConfig
from armtwin.envs.ik import site_quat
from armtwin.envs.servo import step_servos
from armtwin.envs.task_spec import TaskSpec
from armtwin.poses import pose_from_pos_quat

_TEXT_CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.'-_!?()"
_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


class SO101Env(gym.Env, abc.ABC):
    """Base class of the armtwin tasks (see the module docstring for spaces and info).

    Subclasses define ``OBJECTS`` (tuple[ObjectSpec]), ``STATICS`` (tuple[StaticSpec]), ``FRAMES``
    (names of reference frames that are not free objects), ``TASK_VARS`` (number of task variables
    stored in the state), ``TASK_SPEC`` (the MimicGen spec) and ``SUCCESS_SIGNAL``, and implement
    ``_sample_scene(rng)``, ``_signals()`` and ``instruction`` (plus :meth:`frame_pose` when they have
    frames and :meth:`_episode_object` when a subtask's object is chosen per episode).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    #: The arm (:mod:`armtwin.assets.models`): its constants and model.
    ROBOT: ClassVar[str] = "so101"
    OBJECTS: ClassVar[tuple[ObjectSpec, ...]] = ()
    STATICS: ClassVar[tuple[StaticSpec, ...]] = ()
    FRAMES: ClassVar[tuple[str, ...]] = ()
    TASK_VARS: ClassVar[int] = 0
    #: The task's MimicGen subtasks and generation settings (its subtask objects and end signals are the
    #: env's own; see the module docstring).
    TASK_SPEC: ClassVar[TaskSpec]
    #: The signal that means the task is solved (``is_success``, reward).
    SUCCESS_SIGNAL: ClassVar[str]
    #: Signals reported in info["subtask_signals"], in order: derived, the spec's end signals then
    #: ``SUCCESS_SIGNAL``.
    SIGNALS: ClassVar[tuple[str, ...]] = ()
    #: Objects the pose randomization leaves where the task put them (e.g. ingredients in a tight holder).
    FIXED_OBJECTS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        robot_model(cls.ROBOT)  # a clear error for an unknown arm, when the class is defined
        # every class with a spec, also one that inherits it and changes its objects or success signal
        if getattr(cls, "TASK_SPEC", None) is not None:
            cls.SIGNALS = _check_task(cls)

    def __init__(self, config: EnvConfig | None = None, **kwargs):
        """config: an EnvConfig; keyword arguments (EnvConfig fields) build one or override its fields."""
        if config is None:
            config = EnvConfig(**kwargs)
        elif kwargs:
            # e.g. Gymnasium re-making an env from its spec with another render_mode
            config = dataclasses.replace(config, **kwargs)
        self.config = config
        self.render_mode = config.render_mode
        self.metadata = {"render_modes": ["rgb_array"], "render_fps": int(round(1.0 / config.ctrl_dt))}
        rm = robot_model(self.ROBOT)
        #: the arm's constants module and MJCF module
        C = self.C = rm.C
        self.M = rm.M
        self.model = self.M.load_scene_model(
            self.OBJECTS, self.STATICS, sim_dt=config.sim_dt, cameras=True, visual=config.visual
        )
        if config.image_size is not None:
            h, w = config.image_size
            self.model.vis.global_.offheight = max(int(self.model.vis.global_.offheight), h)
            self.model.vis.global_.offwidth = max(int(self.model.vis.global_.offwidth), w)
        self.data = mujoco.MjData(self.model)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._site = self.model.site(C.GRIPPER_SITE).id
        self._joint_qpos = np.array([self.model.joint(n).qposadr[0] for n in C.JOINT_NAMES])
        self._joint_dof = np.array([self.model.joint(n).dofadr[0] for n in C.JOINT_NAMES])
        self._names = tuple(o.name for o in self.OBJECTS)
        self._obj_qpos = np.array([self.model.joint(o.name).qposadr[0] for o in self.OBJECTS], dtype=int)
        self._obj_body = np.array([self.model.body(o.name).id for o in self.OBJECTS], dtype=int)
        self._obj_geom = {o.name: self.model.geom(o.name).id for o in self.OBJECTS}
        self._pads = tuple(self.model.geom(p).id for p in self.M.PAD_GEOMS)
        self.lower = C.lower_limits()
        self.upper = C.upper_limits()
        self._state_size = mujoco.mj_stateSize(self.model, _STATE_SPEC)
        # servo calibration, camera specs, randomization, latency and the real background (armtwin.envs.sim2real)
        self._s2r = S2R.SimToReal(self)
        self._task = np.zeros(self.TASK_VARS)
        self._elapsed = 0
        n = len(self.OBJECTS)
        f64 = np.float64
        spaces = {
            "joint_pos": gym.spaces.Box(self.lower, self.upper, dtype=f64),
            "joint_vel": gym.spaces.Box(-np.inf, np.inf, (C.NUM_JOINTS,), f64),
            "eef_pos": gym.spaces.Box(-np.inf, np.inf, (3,), f64),
            "eef_quat": gym.spaces.Box(-1.0, 1.0, (4,), f64),
            "object_pos": gym.spaces.Box(-np.inf, np.inf, (n, 3), f64),
            "object_quat": gym.spaces.Box(-1.0, 1.0, (n, 4), f64),
            "instruction": gym.spaces.Text(max_length=200, min_length=1, charset=_TEXT_CHARSET),
        }
        if config.image_size is not None:
            h, w = config.image_size
            spaces["images"] = gym.spaces.Dict(
                {c: gym.spaces.Box(0, 255, (h, w, 3), np.uint8) for c in config.cameras}
            )
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(
            self.lower.astype(np.float32), self.upper.astype(np.float32), dtype=np.float32
        )
        self._reset_sim(np.random.default_rng(0))

    # ----------------------------------------------------------------- task hooks
    @property
    def object_names(self) -> tuple[str, ...]:
        """Names of the free objects, the row order of ``object_pos``/``object_quat``."""
        return self._names

    @property
    def frame_names(self) -> tuple[str, ...]:
        """Names of reference frames that are not free objects (e.g. Sandwich's ``holder_slot``) but whose
        poses ``get_datagen_info()["object_poses"]`` reports too, so subtasks can be relative to them
        (the class's ``FRAMES``)."""
        return self.FRAMES

    @property
    def pose_names(self) -> tuple[str, ...]:
        """Every name in ``get_datagen_info()["object_poses"]``: ``object_names`` then ``frame_names``."""
        return self.object_names + self.frame_names

    def frame_pose(self, name: str) -> np.ndarray:
        """(4, 4) float64 world-frame pose (metres) of the reference frame ``name`` in ``frame_names``."""
        raise KeyError(f"{type(self).__name__} has no frame {name!r}; valid: {', '.join(self.frame_names) or 'none'}")

    @property
    @abc.abstractmethod
    def instruction(self) -> str: ...

    @property
    def subtask_spec(self) -> list[tuple[str | None, str | None]]:
        """MimicGen subtasks of this episode in order: (object the subtask is relative to, end signal or
        None for the last), from ``TASK_SPEC``."""
        objects = self.subtask_objects()
        return [(o, st.end_signal) for o, st in zip(objects, self.TASK_SPEC.subtasks)]

    def subtask_objects(self, spec: TaskSpec | None = None) -> list[str | None]:
        """The pose name (in ``pose_names``) each subtask of ``spec`` (default ``TASK_SPEC``) is relative to
        in this episode, or None for a world-frame subtask: a subtask whose ``object_ref`` lists several
        candidates gets the one this episode names (:meth:`_episode_object`). Raises ValueError for a
        name the env does not have."""
        out = []
        for st in (spec or self.TASK_SPEC).subtasks:
            name = self._episode_object(st.object_ref) if st.per_episode else st.object_ref
            if name is not None and name not in self.pose_names:
                raise ValueError(f"{type(self).__name__}: subtask object {name!r} is not one of its pose names "
                                 f"{', '.join(self.pose_names)}")
            out.append(name)
        return out

    def _episode_object(self, candidates: tuple[str, ...]) -> str:
        """The object among ``candidates`` this episode's subtask is relative to (tasks whose spec lists
        candidates override this)."""
        raise ValueError(f"{type(self).__name__} does not choose subtask objects per episode "
                         f"(a subtask lists candidates {candidates})")

    @abc.abstractmethod
    def _sample_scene(self, rng: np.random.Generator) -> None: ...

    @abc.abstractmethod
    def _signals(self) -> dict[str, bool]: ...

    def _success(self, signals: dict[str, bool]) -> bool:
        return bool(signals[self.SUCCESS_SIGNAL])

    # ----------------------------------------------------------------- helpers for tasks
    def _set_object(self, name: str, pos, yaw: float = 0.0) -> None:
        a = self._obj_qpos[self.object_names.index(name)]
        self.data.qpos[a : a + 3] = pos
        self.data.qpos[a + 3 : a + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))

    def object_pos(self, name: str) -> np.ndarray:
        """(3,) m, world frame."""
        return self.data.xpos[self._obj_body[self.object_names.index(name)]].copy()

    def object_spec(self, name: str) -> ObjectSpec:
        """The object's spec as it is this episode (its size scaled when sizes are randomized)."""
        return self._s2r.object_spec(name)

    def _contact_pairs(self) -> np.ndarray:
        """(ncon, 2) int geom ids of the active contacts."""
        n = self.data.ncon
        return self.data.contact.geom[:n] if n else np.zeros((0, 2), dtype=int)

    def is_grasped(self, name: str) -> bool:
        """Both jaw pads touch object ``name``."""
        pairs = self._contact_pairs()
        g = self._obj_geom[name]
        with_obj = (pairs == g).any(axis=1)
        return bool(all(((pairs[with_obj] == pad).any()) for pad in self._pads))

    def in_contact(self, name_a: str, name_b: str) -> bool:
        """Geoms of objects ``name_a`` and ``name_b`` touch."""
        pairs = self._contact_pairs()
        ga, gb = self._obj_geom[name_a], self._obj_geom[name_b]
        return bool((((pairs[:, 0] == ga) & (pairs[:, 1] == gb)) | ((pairs[:, 0] == gb) & (pairs[:, 1] == ga))).any())

    def rests_on(self, top: str, bottom: str, *, xy_margin: float) -> bool:
        """Object ``top`` sits on object ``bottom``: touching, its centre within ``bottom``'s footprint
        shrunk by ``xy_margin`` metres, and higher than ``bottom``'s centre."""
        pt, pb = self.object_pos(top), self.object_pos(bottom)
        spec = self.object_spec(bottom)
        if spec.kind == "cylinder":
            inside = np.linalg.norm(pt[:2] - pb[:2]) < spec.size[0] - xy_margin
        else:
            R = self.data.xmat[self._obj_body[self.object_names.index(bottom)]].reshape(3, 3)
            local = R.T @ (pt - pb)
            inside = abs(local[0]) < spec.size[0] - xy_margin and abs(local[1]) < spec.size[1] - xy_margin
        return bool(inside and pt[2] > pb[2] and self.in_contact(top, bottom))

    def _grasp_place_signals(self, obj: str, onto: str, *, xy_margin: float) -> dict[str, bool]:
        """Signals of a pick-and-place task: ``grasp`` (both jaw pads touch ``obj``) and ``place``
        (``obj`` released and resting on ``onto``, see :meth:`rests_on`)."""
        grasp = self.is_grasped(obj)
        return {"grasp": grasp, "place": (not grasp) and self.rests_on(obj, onto, xy_margin=xy_margin)}

    # ----------------------------------------------------------------- gym API
    def _reset_sim(self, rng: np.random.Generator) -> None:
        mujoco.mj_resetData(self.model, self.data)
        home = np.array(self.C.HOME_QPOS)
        self.data.qpos[self._joint_qpos] = home
        for name, (src, mult) in self.C.PASSIVE_JOINTS.items():  # e.g. a mimicking jaw, where it belongs
            self.data.qpos[self.model.joint(name).qposadr[0]] = mult * home[self.C.JOINT_NAMES.index(src)]
        self.data.ctrl[:] = home
        self._task[:] = 0.0
        self._sample_scene(rng)
        self._s2r.on_reset(rng)
        self._elapsed = 0
        mujoco.mj_forward(self.model, self.data)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._reset_sim(self.np_random)
        signals = self._signals()
        return self._obs(), self._info(signals, self.data.ctrl.copy(), False)

    def check_action(self, action) -> tuple[np.ndarray, bool]:
        """Validate an action: -> ((6,) float64 radians clamped to the joint limits, whether it was clamped).

        Raises ValueError for a wrong shape or non-finite values."""
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"action must be a ({self.C.NUM_JOINTS},) array of joint targets in radians: {e}") from None
        if a.shape != (self.C.NUM_JOINTS,):
            raise ValueError(
                f"action must have shape ({self.C.NUM_JOINTS},) (joint targets in radians, order {self.C.JOINT_NAMES}), "
                f"got shape {a.shape}"
            )
        if not np.isfinite(a).all():
            bad = [self.C.JOINT_NAMES[i] for i in np.flatnonzero(~np.isfinite(a))]
            raise ValueError(f"action contains NaN or inf for joints {bad}: {a.tolist()}")
        clipped = np.minimum(np.maximum(a, self.lower), self.upper)
        return clipped, bool((clipped != a).any())

    def step(self, action):
        a, clamped = self.check_action(action)
        # A plain mj_step leaves positions and contacts one substep stale, and recomputing them costs a
        # collision pass. Instead each control step ends with mj_step1 (positions, contacts, velocities
        # of the new state: what observations, signals and images need) and the next one starts with
        # mj_step2 (actuation, constraints, integration): the same arithmetic as mj_step, no pass wasted.
        # reset() and set_state() end with mj_forward, which includes mj_step1's work. With a command
        # latency each substep applies the command of its age (armtwin.envs.servo).
        step_servos(self.model, self.data, self._s2r.history, a, self._s2r.ages)
        self._elapsed += 1
        signals = self._signals()
        success = self._success(signals)
        terminated = bool(success and self.config.terminate_on_success)
        truncated = self._elapsed >= self.config.max_episode_steps
        return self._obs(), float(success), terminated, truncated, self._info(signals, a, clamped, success)

    def _info(self, signals, action, clamped, success=None) -> dict:
        if success is None:
            success = self._success(signals)
        return {
            "is_success": bool(success),
            "subtask_signals": dict(signals),
            "action": np.array(action, dtype=np.float64),
            "action_clamped": bool(clamped),
            "time": float(self._elapsed * self.config.ctrl_dt),
        }

    def get_obs(self) -> dict:
        """The observation dict of the current state (e.g. after :meth:`set_state`)."""
        return self._obs()

    def _obs(self) -> dict:
        d = self.data
        obs = {
            "joint_pos": d.qpos[self._joint_qpos].copy(),
            "joint_vel": d.qvel[self._joint_dof].copy(),
            "eef_pos": d.site_xpos[self._site].copy(),
            "eef_quat": site_quat(d.site_xmat[self._site].reshape(3, 3)),
            "object_pos": d.xpos[self._obj_body].copy().reshape(len(self.OBJECTS), 3),
            "object_quat": d.xquat[self._obj_body].copy().reshape(len(self.OBJECTS), 4),
            "instruction": self.instruction,
        }
        self._s2r.noisy(obs)
        if self.config.image_size is not None:
            obs["images"] = self.render_images()
        return obs

    # ----------------------------------------------------------------- rendering
    def render_images(self, *, image_size: tuple[int, int] | None = None, cameras=None) -> dict[str, np.ndarray]:
        """{camera: (H, W, 3) uint8} of the current state. image_size (H, W) defaults to the config's
        (or (128, 128) when the config has none); cameras default to the config's."""
        h, w = image_size or self.config.image_size or (128, 128)
        if h > self.model.vis.global_.offheight or w > self.model.vis.global_.offwidth:
            self.model.vis.global_.offheight = max(int(self.model.vis.global_.offheight), h)
            self.model.vis.global_.offwidth = max(int(self.model.vis.global_.offwidth), w)
        r = self._renderers.get((h, w))
        if r is None:
            r = self._renderers[(h, w)] = mujoco.Renderer(self.model, h, w)
        out = {}
        for cam in cameras or self.config.cameras:
            out[cam] = _render(r, self.data, self.C.MJCF_CAMERAS[cam])
            if cam == "front" and self.config.background is not None:
                r.enable_segmentation_rendering()
                try:
                    seg = _render(r, self.data, self.C.MJCF_CAMERAS[cam])
                finally:
                    r.disable_segmentation_rendering()
                out[cam] = self._s2r.composite(out[cam], seg)
        return out

    def render(self):
        """rgb_array: (H, 2W, 3) uint8, front | wrist side by side (None when render_mode is None)."""
        if self.render_mode is None:
            return None
        ims = self.render_images(cameras=("front", "wrist"))
        return np.concatenate([ims["front"], ims["wrist"]], axis=1)

    def close(self):
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    # ----------------------------------------------------------------- state
    @property
    def state_size(self) -> int:
        """S: MuJoCo integration state (mjSTATE_INTEGRATION) + elapsed steps + task variables + the
        sim-to-real tail (randomized model parameters, pending delayed commands; empty by default)."""
        return self._state_size + 1 + self.TASK_VARS + self._s2r.state_size

    def get_state(self) -> np.ndarray:
        """(S,) float64: everything needed to continue bit-exactly (time, qpos, qvel, act, warm start,
        ctrl, ...; the step counter; task variables such as the target ingredient)."""
        s = np.empty(self._state_size)
        mujoco.mj_getState(self.model, self.data, s, _STATE_SPEC)
        return np.concatenate([s, [float(self._elapsed)], self._task, self._s2r.get_state()])

    def set_state(self, state) -> None:
        """Restore a state from :meth:`get_state` (and recompute derived quantities)."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.state_size,):
            raise ValueError(f"state must have shape ({self.state_size},) for {type(self).__name__}, got {state.shape}")
        # the randomized model first: the state's positions are of that model
        tail = self._state_size + 1 + self.TASK_VARS
        self._s2r.set_state(state[tail:])
        mujoco.mj_setState(self.model, self.data, state[: self._state_size], _STATE_SPEC)
        self._elapsed = int(state[self._state_size])
        self._task[:] = state[self._state_size + 1 : tail]
        mujoco.mj_forward(self.model, self.data)

    def get_datagen_info(self) -> dict:
        """MimicGen's per-step info: eef_pose (4, 4), object_poses {name: (4, 4)} (``pose_names``: the free
        objects and the reference frames), subtask_term_signals {name: int}."""
        d = self.data
        eef = np.eye(4)
        eef[:3, :3] = d.site_xmat[self._site].reshape(3, 3)
        eef[:3, 3] = d.site_xpos[self._site]
        poses = {}
        for name, b in zip(self.object_names, self._obj_body):
            poses[name] = pose_from_pos_quat(d.xpos[b], d.xquat[b])
        for name in self.frame_names:
            poses[name] = self.frame_pose(name)
        return {
            "eef_pose": eef,
            "object_poses": poses,
            "subtask_term_signals": {k: int(v) for k, v in self._signals().items()},
        }

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        return {
            "config": self.config,
            "state": self.get_state(),
            "np_random": None if self._np_random is None else self._np_random.bit_generator.state,
        }

    def __setstate__(self, d):
        self.__init__(d["config"])
        self.set_state(d["state"])
        if d["np_random"] is not None:
            self.np_random = np.random.Generator(np.random.PCG64())
            self.np_random.bit_generator.state = d["np_random"]


def _render(r, data, mjcf_camera: str) -> np.ndarray:
    r.update_scene(data, camera=mjcf_camera)
    # Shadows and reflections cost ~10x in the software renderer and add nothing for learning.
    r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    r.scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
    return r.render()


def _check_task(cls) -> tuple[str, ...]:
    """Check a task class's ``TASK_SPEC`` against its objects, frames and ``SUCCESS_SIGNAL`` when the class is
    defined; returns its ``SIGNALS`` (the subtasks' end signals, then the success signal)."""
    spec = cls.TASK_SPEC
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"{cls.__name__}.TASK_SPEC must be an armtwin.envs.task_spec.TaskSpec, got {type(spec).__name__}")
    objects = tuple(o.name for o in cls.OBJECTS)
    poses = objects + tuple(cls.FRAMES)
    for i, st in enumerate(spec.subtasks):
        valid = objects if st.per_episode else poses
        bad = [n for n in st.candidates if n not in valid]
        if bad:
            kind = "free objects" if st.per_episode else "pose names (objects and frames)"
            raise ValueError(f"{cls.__name__}: subtask {i} object {bad[0]!r} is not one of its {kind}: "
                             f"{', '.join(valid)}")
    success = getattr(cls, "SUCCESS_SIGNAL", None)
    if not isinstance(success, str) or not success:
        raise ValueError(f"{cls.__name__} needs a SUCCESS_SIGNAL (the signal meaning the task is solved)")
    signals = tuple(st.end_signal for st in spec.subtasks[:-1]) + (success,)
    if len(set(signals)) != len(signals):
        raise ValueError(f"{cls.__name__}: signal names must be distinct, got {signals}")
    if spec.grasp_signal not in signals:
        raise ValueError(f"{cls.__name__}: TASK_SPEC.grasp_signal {spec.grasp_signal!r} is not one of its "
                         f"signals {', '.join(signals)}")
    return signals
