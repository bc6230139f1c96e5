"""Domain randomization applied: the randomizer that draws a :class:`Randomization` on a compiled model on
reset, and the observation noise.

The configuration (one dataclass per group, presets by name, ``resolve_randomization``) is
:mod:`armtwin.envs.randomize_config`, which imports neither NumPy nor this module (an env config needs
only it).

Observation noise is drawn from a per-episode seed and the step counter, so the observation of a restored
state is the same.

Everything is drawn on reset from the env's seeded generator, after the task's own scene sampling. The
draw is a parameter vector (:attr:`Randomizer.size` numbers: the randomized model fields' values) that
the env's ``get_state`` carries and ``set_state`` writes back, so a saved state restores the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from armtwin.envs.randomize_config import NoiseRandomization, Randomization
from armtwin.poses import quat_from_axis_angle, quat_mul


# ------------------------------------------------------------------ applying a draw


def _random_rotation(rng, max_angle: float) -> np.ndarray:
    """(4,) wxyz: a turn by U(0, max_angle) radians about an isotropic random axis."""
    axis = rng.normal(size=3)
    return quat_from_axis_angle(axis, rng.uniform(0.0, max_angle))


@dataclass
class SceneHandles:
    """Ids of what the randomizer touches in a compiled model (built by the env).

    objects: [(geom id, body id, kind)] of the free objects. table: geom id. pads: geom ids. arm_shell,
    arm_motors: geom ids of the arm's two colours. light: light id. front, wrist: camera ids.
    """

    objects: list[tuple[int, int, str]]
    table: int
    pads: tuple[int, ...]
    arm_shell: np.ndarray
    arm_motors: np.ndarray
    light: int
    front: int
    wrist: int


class Randomizer:
    """Draws a :class:`Randomization` on a model (see the module docstring).

    ``sample(rng) -> (P,) float64`` draws a parameter vector and writes it to the model;
    ``apply(params)`` writes a saved one. Model fields are always written from the nominal values
    cached at construction, so draws never accumulate. ``latency_substeps(params)`` and
    ``noise_seed(params)`` read the per-episode latency and noise seed back out of a vector.
    """

    def __init__(self, model, cfg: Randomization, handles: SceneHandles, servo, *, sim_dt: float,
                 base_latency_substeps: int = 0):
        self.model, self.cfg, self.h, self.servo = model, cfg, handles, servo
        self.sim_dt = sim_dt
        self.base_latency = int(base_latency_substeps)
        m = model
        self._slots: list[tuple[int, object, object]] = []  # (size, sample(rng) -> values, write(values))
        oc, cc, lc, cam, pc = cfg.objects, cfg.colours, cfg.lighting, cfg.camera, cfg.physics
        objs = handles.objects
        geoms = np.array([g for g, _, _ in objs], dtype=int)
        bodies = np.array([b for _, b, _ in objs], dtype=int)
        self._size0, self._rbound0 = m.geom_size[geoms].copy(), m.geom_rbound[geoms].copy()
        self._aabb0 = m.geom_aabb[geoms].copy()
        self._mass0, self._inertia0 = m.body_mass[bodies].copy(), m.body_inertia[bodies].copy()
        self._geoms, self._bodies = geoms, bodies
        n = len(objs)
        if (oc.size or pc.object_mass) and n:
            def sample_bodies(rng):
                return np.concatenate([rng.uniform(1 - oc.size, 1 + oc.size, n),
                                       rng.uniform(1 - pc.object_mass, 1 + pc.object_mass, n)])
            self._slots.append((2 * n, sample_bodies, self._write_bodies))
        if cc.enabled:
            groups = [np.array([handles.table])] + [np.array([g]) for g in geoms] + [handles.arm_shell, handles.arm_motors]
            amps = [cc.table] + [cc.objects] * n + [cc.arm, cc.arm]
            rgb0 = [m.geom_rgba[ids[0], :3].copy() for ids in groups]

            def sample_colours(rng):
                return np.concatenate([np.clip(c + rng.uniform(-a, a, 3), 0, 1) for c, a in zip(rgb0, amps)])

            def write_colours(v):
                for i, ids in enumerate(groups):
                    if len(ids):
                        m.geom_rgba[ids, :3] = v[3 * i : 3 * i + 3]
            self._slots.append((3 * len(groups), sample_colours, write_colours))
        if lc.enabled:
            L = handles.light
            dir0, dif0 = m.light_dir[L].copy(), m.light_diffuse[L].copy()
            hd0, ha0 = m.vis.headlight.diffuse.copy(), m.vis.headlight.ambient.copy()

            def sample_light(rng):
                tilt, az = rng.uniform(0, lc.direction), rng.uniform(0, 2 * math.pi)
                d = np.array([math.sin(tilt) * math.cos(az), math.sin(tilt) * math.sin(az), -math.cos(tilt)])
                if not lc.direction:
                    d = dir0
                s, s_head = rng.uniform(1 - lc.intensity, 1 + lc.intensity, 2)
                tint = 1 + rng.uniform(-lc.colour, lc.colour, 3)
                return np.concatenate([d, np.clip(dif0 * s * tint, 0, 1), np.clip(hd0 * s_head * tint, 0, 1),
                                       np.clip(ha0 * s_head * tint, 0, 1)])

            def write_light(v):
                m.light_dir[L] = v[0:3]
                m.light_diffuse[L] = v[3:6]
                m.vis.headlight.diffuse[:] = v[6:9]
                m.vis.headlight.ambient[:] = v[9:12]
            self._slots.append((12, sample_light, write_light))
        if cam.enabled:
            cams = [(handles.front, cam.pos, cam.rot), (handles.wrist, cam.wrist_pos, cam.wrist_rot)]
            nominal = [(m.cam_pos[c].copy(), m.cam_quat[c].copy(), float(m.cam_fovy[c]), m.cam_intrinsic[c].copy(),
                        bool(m.cam_sensorsize[c].any())) for c, _, _ in cams]

            def sample_cams(rng):
                out = []
                for (c, p, r), (pos0, q0, fovy0, k0, intr) in zip(cams, nominal):
                    pos = pos0 + rng.uniform(-p, p, 3)
                    q = quat_mul(q0, _random_rotation(rng, r)) if r else q0
                    fovy = fovy0 + rng.uniform(-cam.fov, cam.fov)
                    k = k0.copy()
                    if intr:  # intrinsics rule the projection: scale the focal lengths to the new fov
                        k[:2] *= math.tan(math.radians(fovy0) / 2) / math.tan(math.radians(fovy) / 2)
                    out.append(np.concatenate([pos, q / np.linalg.norm(q), [fovy], k]))
                return np.concatenate(out)

            def write_cams(v):
                for i, (c, _, _) in enumerate(cams):
                    w = v[12 * i : 12 * i + 12]
                    m.cam_pos[c], m.cam_quat[c], m.cam_fovy[c], m.cam_intrinsic[c] = w[0:3], w[3:7], w[7], w[8:12]
            self._slots.append((24, sample_cams, write_cams))
        if pc.friction:
            fg = np.concatenate([geoms, [handles.table], list(handles.pads)]).astype(int)
            f0 = m.geom_friction[fg, 0].copy()

            def write_friction(v):
                m.geom_friction[fg, 0] = v
            self._slots.append((len(fg), lambda rng: f0 * rng.uniform(1 - pc.friction, 1 + pc.friction, len(fg)),
                                write_friction))
        if pc.servo_kp or pc.servo_kv or pc.servo_damping:
            kp0, kv0, d0 = servo.read()

            def sample_servo(rng):
                return np.concatenate([kp0 * rng.uniform(1 - pc.servo_kp, 1 + pc.servo_kp, 6),
                                       kv0 * rng.uniform(1 - pc.servo_kv, 1 + pc.servo_kv, 6),
                                       d0 * rng.uniform(1 - pc.servo_damping, 1 + pc.servo_damping, 6)])
            self._slots.append((18, sample_servo, lambda v: servo.write(v[0:6], v[6:12], v[12:18])))
        lo, hi = cfg.latency.action_latency
        self._lat_range = (int(round(lo / sim_dt)), int(round(hi / sim_dt)))
        self._has_latency = cfg.latency.enabled
        self._has_noise = cfg.noise.enabled
        self.size = sum(s for s, _, _ in self._slots) + int(self._has_latency) + int(self._has_noise)

    @property
    def max_latency_substeps(self) -> int:
        return self.base_latency + (self._lat_range[1] if self._has_latency else 0)

    def _write_bodies(self, v) -> None:
        m, n = self.model, len(self._geoms)
        s, ms = v[:n], v[n:]
        for i, (g, b, kind) in enumerate(self.h.objects):
            # a box scales its half extents, a cylinder its radius and half height (its size[2] is unused)
            m.geom_size[g] = self._size0[i] * s[i] if kind == "box" else (*self._size0[i][:2] * s[i], self._size0[i][2])
            m.geom_rbound[g] = self._rbound0[i] * s[i]
            m.geom_aabb[g] = np.concatenate([self._aabb0[i][:3] * s[i], self._aabb0[i][3:] * s[i]])
            m.body_mass[b] = self._mass0[i] * ms[i]
            m.body_inertia[b] = self._inertia0[i] * ms[i] * s[i] ** 2

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        parts = [np.asarray(sample(rng), dtype=np.float64) for _, sample, _ in self._slots]
        if self._has_latency:
            parts.append([float(rng.integers(self._lat_range[0], self._lat_range[1] + 1))])
        if self._has_noise:
            parts.append([float(rng.integers(0, 2**52))])
        params = np.concatenate(parts) if parts else np.zeros(0)
        self.apply(params)
        return params

    def apply(self, params) -> None:
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.size,):
            raise ValueError(f"randomization parameters must have shape ({self.size},), got {params.shape}")
        i = 0
        for size, _, write in self._slots:
            write(params[i : i + size])
            i += size

    def object_scales(self, params) -> np.ndarray:
        """(n_obj,) size scale of each object in a parameter vector (ones when sizes are not drawn)."""
        n = len(self._geoms)
        if self._slots and self._slots[0][2] == self._write_bodies:
            return np.asarray(params[:n])
        return np.ones(n)

    def latency_substeps(self, params) -> int:
        extra = int(params[self.size - 1 - int(self._has_noise)]) if self._has_latency else 0
        return self.base_latency + extra

    def noise_seed(self, params) -> int | None:
        return int(params[-1]) if self._has_noise else None

    def object_pose_offsets(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        """((n, 2) m, (n,) rad): offsets added to the objects' reset xy and yaw."""
        oc = self.cfg.objects
        return rng.uniform(-oc.xy, oc.xy, (n, 2)), rng.uniform(-oc.yaw, oc.yaw, n)


def observation_noise(cfg: NoiseRandomization, seed: int, step: int, obs: dict) -> None:
    """Add Gaussian noise to ``obs`` in place, drawn from (episode ``seed``, ``step``): replayable."""
    rng = np.random.default_rng([seed, step])
    if cfg.joint_pos:
        obs["joint_pos"] = obs["joint_pos"] + rng.normal(0, cfg.joint_pos, obs["joint_pos"].shape)
    if cfg.joint_vel:
        obs["joint_vel"] = obs["joint_vel"] + rng.normal(0, cfg.joint_vel, obs["joint_vel"].shape)
    if cfg.object_pos:
        obs["object_pos"] = obs["object_pos"] + rng.normal(0, cfg.object_pos, obs["object_pos"].shape)


__all__ = ["Randomizer", "SceneHandles", "observation_noise"]
