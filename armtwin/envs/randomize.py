"""Domain randomization as configuration: one dataclass per group, presets by name, and the randomizer that
applies a draw to a compiled model on reset.

Groups (``Randomization`` fields; each group field's valid range is checked on construction; 0 turns it off):
``objects`` (:class:`ObjectRandomization`: pose offsets and size), ``colours`` (:class:`ColourRandomization`:
table, objects, arm), ``lighting`` (:class:`LightingRandomization`: direction, intensity, colour), ``camera``
(:class:`CameraRandomization`: front and wrist pose, field of view), ``physics``
(:class:`PhysicsRandomization`: friction, object mass, servo gains and damping), ``latency``
(:class:`LatencyRandomization`: action latency range), ``noise`` (:class:`NoiseRandomization`: Gaussian
observation noise). Every field's unit, meaning, valid range, default and the presets' values are in the
table of ``docs/randomization.md``, generated from these dataclasses by ``python -m
armtwin.envs.randomize_table`` (a test keeps it equal to the code).

The identified servo model (``so101_constants``) publishes no uncertainty; the presets take +-10 % on the
gains and +-20 % on damping, the spread our twin-gap fits see between arms. Observation noise is drawn from
a per-episode seed and the step counter, so the observation of a restored state is the same.

Everything is drawn on reset from the env's seeded generator, after the task's own scene sampling. The
draw is a parameter vector (:attr:`Randomizer.size` numbers: the randomized model fields' values) that
the env's ``get_state`` carries and ``set_state`` writes back, so a saved state restores the scene.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

import numpy as np


def _check(owner: str, name: str, value, lo: float, hi: float) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and lo <= value <= hi):
        raise ValueError(f"{owner}.{name} must be a number in [{lo}, {hi}], got {value!r}")


def _knob(unit: str, doc: str, *, default=0.0):
    """A group's field: off by default; ``unit`` and ``doc`` feed the ranges table (docs/randomization.md)."""
    return field(default=default, metadata={"unit": unit, "doc": doc})


class _Group:
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {}

    def __post_init__(self):
        for name, (lo, hi) in self.RANGES.items():
            _check(type(self).__name__, name, getattr(self, name), lo, hi)

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, kw_only=True)
class ObjectRandomization(_Group):
    """Object pose and size (see the module docstring)."""

    xy: float = _knob("m", "uniform offset U(-xy, xy) per axis added to each free object's reset position")
    yaw: float = _knob("rad", "uniform offset U(-yaw, yaw) added to each free object's reset yaw")
    size: float = _knob("fraction", "each object scaled by U(1 - size, 1 + size) (a box's half extents, a "
                        "cylinder's radius and half height)")
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"xy": (0.0, 0.03), "yaw": (0.0, 0.5), "size": (0.0, 0.2)}


@dataclass(frozen=True, kw_only=True)
class ColourRandomization(_Group):
    """Colours of the table, objects and arm (see the module docstring)."""

    table: float = _knob("RGB", "per-channel offset U(-v, v) of the table's colour (clipped to [0, 1])")
    objects: float = _knob("RGB", "per-channel offset U(-v, v) of each object's colour (clipped to [0, 1])")
    arm: float = _knob("RGB", "per-channel offsets U(-v, v) of the arm's shell and of its motors (clipped to [0, 1])")
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"table": (0.0, 1.0), "objects": (0.0, 1.0), "arm": (0.0, 1.0)}


@dataclass(frozen=True, kw_only=True)
class LightingRandomization(_Group):
    """Light direction, intensity and colour (see the module docstring)."""

    direction: float = _knob("rad", "tilt of the top light from vertical, U(0, direction), any azimuth")
    intensity: float = _knob("fraction", "the top light's diffuse and the headlight, each x U(1 - i, 1 + i)")
    colour: float = _knob("fraction", "per-channel tint of both lights x (1 + U(-c, c))")
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"direction": (0.0, 1.2), "intensity": (0.0, 0.9), "colour": (0.0, 0.5)}


@dataclass(frozen=True, kw_only=True)
class CameraRandomization(_Group):
    """Camera poses and field of view (see the module docstring)."""

    pos: float = _knob("m", "front camera position + U(-pos, pos) per axis")
    rot: float = _knob("rad", "front camera turned by U(0, rot) about a random axis")
    fov: float = _knob("deg", "vertical field of view + U(-fov, fov), both cameras (intrinsics scaled to match)")
    wrist_pos: float = _knob("m", "wrist camera position + U(-v, v) per axis")
    wrist_rot: float = _knob("rad", "wrist camera turned by U(0, v) about a random axis")
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"pos": (0.0, 0.1), "rot": (0.0, 0.3), "fov": (0.0, 15.0), "wrist_pos": (0.0, 0.01),
              "wrist_rot": (0.0, 0.15)}


@dataclass(frozen=True, kw_only=True)
class PhysicsRandomization(_Group):
    """Friction, object mass and servo parameters (see the module docstring)."""

    friction: float = _knob("fraction", "sliding friction of the objects, table and gripper pads x U(1 - f, 1 + f), "
                            "per geom")
    object_mass: float = _knob("fraction", "each object's mass (and inertia) x U(1 - m, 1 + m)")
    servo_kp: float = _knob("fraction", "servo position gain x U(1 - v, 1 + v), per joint")
    servo_kv: float = _knob("fraction", "servo velocity gain x U(1 - v, 1 + v), per joint")
    servo_damping: float = _knob("fraction", "joint damping x U(1 - v, 1 + v), per joint")
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"friction": (0.0, 0.5), "object_mass": (0.0, 0.5), "servo_kp": (0.0, 0.3), "servo_kv": (0.0, 0.3),
              "servo_damping": (0.0, 0.3)}


@dataclass(frozen=True, kw_only=True)
class LatencyRandomization(_Group):
    """Action latency range, seconds (see the module docstring)."""

    #: for the table only: lo and hi each in this range, lo <= hi (``__post_init__`` checks both)
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"action_latency": (0.0, 0.2)}
    action_latency: tuple[float, float] = _knob(
        "s", "(lo, hi): the servos act on each command that much later, a whole number of physics steps "
        "drawn uniformly in [lo, hi] per episode (added to a calibration's latency)", default=(0.0, 0.0))

    def __post_init__(self):
        lat = self.action_latency
        try:
            lo, hi = (float(x) for x in lat)
        except (TypeError, ValueError):
            raise ValueError(f"LatencyRandomization.action_latency must be (lo, hi) seconds, got {lat!r}") from None
        if not (0.0 <= lo <= hi <= 0.2):
            raise ValueError(f"LatencyRandomization.action_latency must satisfy 0 <= lo <= hi <= 0.2 s, got {lat!r}")
        object.__setattr__(self, "action_latency", (lo, hi))

    @property
    def enabled(self) -> bool:
        return self.action_latency[1] > 0


@dataclass(frozen=True, kw_only=True)
class NoiseRandomization(_Group):
    """Observation noise standard deviations (see the module docstring)."""

    joint_pos: float = _knob("rad", "standard deviation of Gaussian noise on the observed joint positions")
    joint_vel: float = _knob("rad/s", "standard deviation of Gaussian noise on the observed joint velocities")
    object_pos: float = _knob("m", "standard deviation of Gaussian noise on the observed object positions")
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"joint_pos": (0.0, 0.05), "joint_vel": (0.0, 1.0), "object_pos": (0.0, 0.02)}


_GROUPS = {"objects": ObjectRandomization, "colours": ColourRandomization, "lighting": LightingRandomization,
           "camera": CameraRandomization, "physics": PhysicsRandomization, "latency": LatencyRandomization,
           "noise": NoiseRandomization}


@dataclass(frozen=True, kw_only=True)
class Randomization:
    """Every group (fields named as in ``GROUPS``). ``name``: the preset it came from ("custom" otherwise)."""

    objects: ObjectRandomization = field(default_factory=ObjectRandomization)
    colours: ColourRandomization = field(default_factory=ColourRandomization)
    lighting: LightingRandomization = field(default_factory=LightingRandomization)
    camera: CameraRandomization = field(default_factory=CameraRandomization)
    physics: PhysicsRandomization = field(default_factory=PhysicsRandomization)
    latency: LatencyRandomization = field(default_factory=LatencyRandomization)
    noise: NoiseRandomization = field(default_factory=NoiseRandomization)
    name: str = "custom"

    def __post_init__(self):
        for g, cls in _GROUPS.items():
            v = getattr(self, g)
            if isinstance(v, dict):
                try:
                    v = cls(**v)
                except TypeError as e:
                    raise ValueError(f"randomize.{g}: {e}; valid keys: {', '.join(f.name for f in fields(cls))}") from None
                object.__setattr__(self, g, v)
            if not isinstance(v, cls):
                raise ValueError(f"randomize.{g} must be a {cls.__name__} or a dict of its fields, got {type(v).__name__}")

    @property
    def enabled(self) -> bool:
        return any(getattr(self, g).enabled for g in _GROUPS)

    def to_dict(self) -> dict:
        """JSON-friendly (``env_args``): {group: {field: value}}, plus ``name``."""
        d = asdict(self)
        d["latency"]["action_latency"] = list(self.latency.action_latency)
        return d


GROUPS: tuple[str, ...] = tuple(_GROUPS)

_VISUAL = dict(
    colours=ColourRandomization(table=0.25, objects=0.15, arm=0.2),
    lighting=LightingRandomization(direction=0.6, intensity=0.4, colour=0.15),
    camera=CameraRandomization(pos=0.02, rot=0.04, fov=4.0, wrist_pos=0.003, wrist_rot=0.04),
)
_PHYSICS = dict(
    objects=ObjectRandomization(xy=0.005, yaw=0.1, size=0.08),
    physics=PhysicsRandomization(friction=0.3, object_mass=0.3, servo_kp=0.1, servo_kv=0.1, servo_damping=0.2),
    latency=LatencyRandomization(action_latency=(0.0, 0.04)),
    noise=NoiseRandomization(joint_pos=0.002, joint_vel=0.02, object_pos=0.002),
)
#: Presets by name: "none" (the default: v0 behaviour), "visual" (colours, lighting, cameras), "physics"
#: (object pose and size, friction, masses, servos, latency, observation noise), "all" (both).
PRESETS: dict[str, Randomization] = {
    "none": Randomization(name="none"),
    "visual": Randomization(name="visual", **_VISUAL),
    "physics": Randomization(name="physics", **_PHYSICS),
    "all": Randomization(name="all", **_VISUAL, **_PHYSICS),
}


def resolve_randomization(value) -> Randomization:
    """EnvConfig's ``randomize``: None or a preset name (``PRESETS``), a dict ({group: {field: value}}, optional
    ``"preset"`` key to start from; a ``name`` key is kept), or a Randomization."""
    if value is None:
        return PRESETS["none"]
    if isinstance(value, Randomization):
        return value
    if isinstance(value, str):
        if value not in PRESETS:
            raise ValueError(f"randomize must be one of the presets {tuple(PRESETS)}, a dict of groups "
                             f"({', '.join(GROUPS)}) or a Randomization, got {value!r}")
        return PRESETS[value]
    if isinstance(value, dict):
        d = dict(value)
        base = resolve_randomization(d.pop("preset", "none"))
        bad = [k for k in d if k not in GROUPS and k != "name"]
        if bad:
            raise ValueError(f"randomize: unknown group(s) {bad}; valid: {', '.join(GROUPS)}, preset, name")
        merged = {g: getattr(base, g) for g in GROUPS}
        for g, v in d.items():
            if g in GROUPS:
                merged[g] = v if not isinstance(v, dict) else {**asdict(getattr(base, g)), **v}
        return Randomization(**merged, name=str(d.get("name", "custom")))
    raise ValueError(f"randomize must be None, a preset name {tuple(PRESETS)}, a dict or a Randomization, "
                     f"got {type(value).__name__}")


# ------------------------------------------------------------------ applying a draw


def _axis_angle_quat(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])


def _quat_mul(a, b) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _random_rotation(rng, max_angle: float) -> np.ndarray:
    axis = rng.normal(size=3)
    return _axis_angle_quat(axis, rng.uniform(0.0, max_angle))


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
                    q = _quat_mul(q0, _random_rotation(rng, r)) if r else q0
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


__all__ = [
    "GROUPS",
    "PRESETS",
    "CameraRandomization",
    "ColourRandomization",
    "LatencyRandomization",
    "LightingRandomization",
    "NoiseRandomization",
    "ObjectRandomization",
    "PhysicsRandomization",
    "Randomization",
    "Randomizer",
    "SceneHandles",
    "observation_noise",
    "resolve_randomization",
]
