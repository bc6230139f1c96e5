"""What an env's sim-to-real settings do to it: the per-env part of :class:`armtwin.envs.base.SO101Env`.

:class:`SimToReal` owns, for one env, the servo calibration (written into the model once), the camera
specs, the randomizer and its current draw, the command history that a latency needs, the observation
noise and the real-background compositing. With the default config (no randomization, no calibration,
v0 cameras, no background) it changes nothing: no draws from the generator, an empty state tail, the
one-command stepping of v0.

State tail (what ``get_state`` appends, in order): the randomization parameter vector (P,) (the
randomized model fields, :class:`armtwin.envs.randomize.Randomizer`), then the K-1 most recent commands
(K-1, 6) rad that a latency of up to K-1 control steps still has to apply.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from armtwin.assets.scene import TABLE_GEOM, TOP_LIGHT
from armtwin.envs.camera import apply_camera, background_mask, load_background
from armtwin.envs.randomize import Randomizer, SceneHandles, observation_noise
from armtwin.envs.servo import ServoModel, command_ages, history_length


def scene_handles(model, pads, obj_geoms: dict, obj_bodies, objects, *, C, M) -> SceneHandles:
    """The ids the randomizer touches (see :class:`SceneHandles`); ``C``, ``M``: the arm's constants and MJCF
    modules (:mod:`armtwin.assets.models`)."""
    import mujoco

    arm = {model.body(b).id for b in M.ARM_BODIES}
    shell, motors = [], []
    for g in range(model.ngeom):
        if model.geom_bodyid[g] in arm and g not in pads and model.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH:
            (motors if np.allclose(model.geom_rgba[g], M.MOTOR_RGBA) else shell).append(g)
    return SceneHandles(
        objects=[(obj_geoms[o.name], int(b), o.kind) for o, b in zip(objects, obj_bodies)],
        table=model.geom(TABLE_GEOM).id, pads=tuple(pads), arm_shell=np.array(shell, dtype=int),
        arm_motors=np.array(motors, dtype=int), light=model.light(TOP_LIGHT).id,
        front=model.camera(C.MJCF_CAMERAS["front"]).id, wrist=model.camera(C.MJCF_CAMERAS["wrist"]).id)


class SimToReal:
    """The sim-to-real state of one env (see the module docstring)."""

    def __init__(self, env):
        self.env = env
        cfg = env.config
        model = env.model
        self.servo = ServoModel(model)
        if cfg.servo is not None:
            self.servo.apply(cfg.servo)
        C = env.C
        for cam, spec in cfg.camera_specs.items():
            apply_camera(model, model.camera(C.MJCF_CAMERAS[cam]).id, spec)
        self.base_latency = cfg.servo.latency_substeps(cfg.sim_dt) if cfg.servo is not None else 0
        self.n = cfg.n_substeps
        self.randomizer: Randomizer | None = None
        if cfg.randomization.enabled:
            handles = scene_handles(model, env._pads, env._obj_geom, env._obj_body, env.OBJECTS, C=C, M=env.M)
            self.randomizer = Randomizer(model, cfg.randomization, handles, self.servo, sim_dt=cfg.sim_dt,
                                         base_latency_substeps=self.base_latency)
        max_lat = self.randomizer.max_latency_substeps if self.randomizer else self.base_latency
        self.history = np.zeros((history_length(max_lat, self.n), C.NUM_JOINTS))
        self.params = np.zeros(self.randomizer.size if self.randomizer else 0)
        self.ages = command_ages(self.base_latency, self.n)
        self.noise_seed: int | None = None
        self._specs = {o.name: o for o in env.OBJECTS}
        self._background: dict[tuple[int, int], np.ndarray] = {}
        self._bg_geoms = np.array([model.geom(TABLE_GEOM).id])

    # -------------------------------------------------------------- reset, state
    def on_reset(self, rng) -> None:
        """After the task's scene sampling: draw the randomization (from ``rng``, the env's generator), move
        the objects by the pose offsets and onto the table at their new sizes, fill the command history."""
        env = self.env
        if self.randomizer is not None:
            self.params = self.randomizer.sample(rng)
            self._use_params()
            rz = self.randomizer
            scales = rz.object_scales(self.params)
            dxy, dyaw = rz.object_pose_offsets(rng, len(env.OBJECTS)) if env.config.randomization.objects.xy or \
                env.config.randomization.objects.yaw else (None, None)
            for i, o in enumerate(env.OBJECTS):
                a = env._obj_qpos[i]
                q = env.data.qpos
                q[a + 2] += (scales[i] - 1.0) * o.half_height
                if dxy is not None and o.name not in env.FIXED_OBJECTS:
                    q[a : a + 2] += dxy[i]
                    c, s = np.cos(dyaw[i] / 2), np.sin(dyaw[i] / 2)
                    w, x, y, z = q[a + 3 : a + 7]
                    q[a + 3 : a + 7] = (c * w - s * z, c * x - s * y, c * y + s * x, c * z + s * w)
        self.history[:] = env.data.ctrl

    def _use_params(self) -> None:
        rz = self.randomizer
        self.ages = command_ages(rz.latency_substeps(self.params), self.n)
        self.noise_seed = rz.noise_seed(self.params)
        scales = rz.object_scales(self.params)
        for o, s in zip(self.env.OBJECTS, scales):
            self._specs[o.name] = o if s == 1.0 else dataclasses.replace(o, size=tuple(float(v) * s for v in o.size))

    @property
    def state_size(self) -> int:
        return len(self.params) + (len(self.history) - 1) * self.history.shape[1]

    def get_state(self) -> np.ndarray:
        return np.concatenate([self.params, self.history[:-1].reshape(-1)])

    def set_state(self, tail) -> None:
        tail = np.asarray(tail, dtype=np.float64)
        P = len(self.params)
        if self.randomizer is not None:
            self.params = tail[:P].copy()
            self.randomizer.apply(self.params)
            self._use_params()
        self.history[:-1] = tail[P:].reshape(-1, self.history.shape[1])

    # -------------------------------------------------------------- per step
    def object_spec(self, name: str):
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"{type(self.env).__name__} has no object {name!r}; valid: "
                           f"{', '.join(self.env.object_names)}") from None

    def noisy(self, obs: dict) -> None:
        """Observation noise in place (nothing without it)."""
        if self.noise_seed is None:
            return
        observation_noise(self.env.config.randomization.noise, self.noise_seed, self.env._elapsed, obs)
        obs["joint_pos"] = np.clip(obs["joint_pos"], self.env.lower, self.env.upper)

    def composite(self, rgb: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """The front image with the background photo wherever the segmentation shows the table or nothing."""
        size = rgb.shape[:2]
        bg = self._background.get(size)
        if bg is None:
            bg = self._background[size] = load_background(self.env.config.background, size)
        out = rgb.copy()
        mask = background_mask(seg, self._bg_geoms)
        out[mask] = bg[mask]
        return out
