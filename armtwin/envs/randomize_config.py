"""Domain randomization as configuration: one dataclass per group, the groups together, presets by name.

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
gains and +-20 % on damping, the spread our twin-gap fits see between arms.

Applying a draw to a compiled model is :mod:`armtwin.envs.randomize` (which re-exports these names).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar


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
    "resolve_randomization",
]
