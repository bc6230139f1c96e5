"""The twin's servo model: gains, damping and command latency, the calibration file, and the stepping.

One owner for how a joint command reaches the simulated joints, shared by the envs
(:class:`armtwin.envs.base.SO101Env`) and the twin gap (:mod:`armtwin.twingap`), so a calibration fitted
by ``armtwin twin-gap --fit`` is the model the env then runs.

Units: ``kp`` N*m/rad, ``kv`` N*m*s/rad, ``damping`` N*m*s/rad, each (6,) float in ``C.JOINT_NAMES`` order;
``latency_s`` seconds between an env step's command and the servos acting on it (rounded to whole
physics steps, ``sim_dt``). Defaults are MuJoCo Menagerie's identification (``so101_constants``).

Calibration file (JSON, what ``--fit`` writes and ``EnvConfig.servo_calibration`` loads)::

    {"format": "armtwin-servo-calibration", "version": 1, "joint_names": [...6 names...],
     "kp": [6 floats], "kv": [6 floats], "damping": [6 floats], "latency_s": float, "fit": {...optional}}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C

FORMAT = "armtwin-servo-calibration"
#: Largest latency a calibration or randomization may ask for, seconds (a sane bound for a USB servo bus).
MAX_LATENCY_S = 0.5


def _joint_vector(name: str, value) -> tuple[float, ...]:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(C.NUM_JOINTS, float(a))
    if a.shape != (C.NUM_JOINTS,) or not np.isfinite(a).all() or (a < 0).any():
        raise ValueError(f"{name} must be a number or {C.NUM_JOINTS} finite numbers >= 0 ({C.JOINT_NAMES}), "
                         f"got {value!r}")
    return tuple(float(x) for x in a)


@dataclass(frozen=True, kw_only=True)
class ServoParams:
    """Position-servo parameters of the six joints (see the module docstring for units).

    kp: (6,) position gain. kv: (6,) velocity gain of the actuator. damping: (6,) passive joint damping.
    latency_s: command latency, seconds in [0, MAX_LATENCY_S]. A scalar for kp/kv/damping means all joints.
    fit: free-form notes of how the values were obtained (e.g. the fit's residual), kept in the file.
    """

    kp: tuple[float, ...] = (C.SERVO_KP,) * C.NUM_JOINTS
    kv: tuple[float, ...] = (C.SERVO_KV,) * C.NUM_JOINTS
    damping: tuple[float, ...] = (C.SERVO_DAMPING,) * C.NUM_JOINTS
    latency_s: float = 0.0
    fit: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for name in ("kp", "kv", "damping"):
            object.__setattr__(self, name, _joint_vector(name, getattr(self, name)))
        if min(self.kp) <= 0:
            raise ValueError(f"kp must be > 0 for every joint, got {self.kp}")
        lat = self.latency_s
        if not (isinstance(lat, (int, float)) and math.isfinite(lat) and 0 <= lat <= MAX_LATENCY_S):
            raise ValueError(f"latency_s must be seconds in [0, {MAX_LATENCY_S}], got {lat!r}")
        object.__setattr__(self, "latency_s", float(lat))

    def scaled(self, *, kp: float = 1.0, kv: float = 1.0, damping: float = 1.0, latency_s: float | None = None):
        """A copy with every joint's kp/kv/damping multiplied by the factors (and latency replaced)."""
        return ServoParams(kp=np.multiply(self.kp, kp), kv=np.multiply(self.kv, kv),
                           damping=np.multiply(self.damping, damping),
                           latency_s=self.latency_s if latency_s is None else latency_s)

    def latency_substeps(self, sim_dt: float) -> int:
        """Latency in whole physics steps of ``sim_dt`` seconds (rounded)."""
        return int(round(self.latency_s / sim_dt))

    # -------------------------------------------------------------- file
    def to_json(self) -> dict:
        return {"format": FORMAT, "version": 1, "joint_names": list(C.JOINT_NAMES), "kp": list(self.kp),
                "kv": list(self.kv), "damping": list(self.damping), "latency_s": self.latency_s,
                "fit": dict(self.fit)}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ServoParams:
        """Read a calibration file; ValueError naming the file and what is wrong with it."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"servo calibration {path}: cannot read it as JSON ({e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"servo calibration {path}: not an {FORMAT!r} file (write one with armtwin twin-gap --fit)")
        if list(d.get("joint_names", C.JOINT_NAMES)) != list(C.JOINT_NAMES):
            raise ValueError(f"servo calibration {path}: joint_names {d.get('joint_names')} are not {list(C.JOINT_NAMES)}")
        missing = [k for k in ("kp", "kv", "damping", "latency_s") if k not in d]
        if missing:
            raise ValueError(f"servo calibration {path}: missing {', '.join(missing)}")
        try:
            return cls(kp=d["kp"], kv=d["kv"], damping=d["damping"], latency_s=d["latency_s"], fit=d.get("fit", {}))
        except ValueError as e:
            raise ValueError(f"servo calibration {path}: {e}") from None


def resolve_servo(value) -> ServoParams | None:
    """EnvConfig's ``servo_calibration``: None, a path, a dict of ServoParams fields, or ServoParams."""
    if value is None or isinstance(value, ServoParams):
        return value
    if isinstance(value, (str, Path)):
        return ServoParams.load(value)
    if isinstance(value, dict):
        d = {k: v for k, v in value.items() if k not in ("format", "version", "joint_names")}
        try:
            return ServoParams(**d)
        except TypeError as e:
            raise ValueError(f"servo_calibration dict: {e}; valid keys: kp, kv, damping, latency_s, fit") from None
    raise ValueError(f"servo_calibration must be None, a calibration file path, a dict or ServoParams, got "
                     f"{type(value).__name__}")


# ------------------------------------------------------------------ the model


class ServoModel:
    """The servo parameters of a compiled model: read, written per joint (actuators and dofs named
    like ``C.JOINT_NAMES``)."""

    def __init__(self, model):
        self.model = model
        self.act = np.array([model.actuator(n).id for n in C.JOINT_NAMES])
        self.dof = np.array([model.joint(n).dofadr[0] for n in C.JOINT_NAMES])

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kp, kv, damping), each (6,) float copies."""
        m = self.model
        return m.actuator_gainprm[self.act, 0].copy(), -m.actuator_biasprm[self.act, 2], m.dof_damping[self.dof].copy()

    def write(self, kp, kv, damping) -> None:
        m = self.model
        m.actuator_gainprm[self.act, 0] = kp
        m.actuator_biasprm[self.act, 1] = -np.asarray(kp)
        m.actuator_biasprm[self.act, 2] = -np.asarray(kv)
        m.dof_damping[self.dof] = damping

    def apply(self, params: ServoParams) -> None:
        self.write(params.kp, params.kv, params.damping)


def command_ages(latency_substeps: int, n_substeps: int) -> np.ndarray:
    """(n_substeps,) int: for each physics substep of a control step, how many control steps old the
    command it applies is (0: this step's). Substep j of step k runs at time k*n + j substeps; with a
    latency of m substeps it applies the command sent at step floor((k*n + j - m) / n)."""
    j = np.arange(n_substeps)
    return np.maximum(0, -np.floor_divide(j - latency_substeps, n_substeps)).astype(int)


def history_length(max_latency_substeps: int, n_substeps: int) -> int:
    """Commands to keep (this step's included) for latencies up to ``max_latency_substeps``."""
    return int(command_ages(max_latency_substeps, n_substeps).max()) + 1


def step_servos(model, data, history: np.ndarray, action: np.ndarray, ages: np.ndarray) -> None:
    """One control step: push ``action`` (6,) rad into ``history`` (K, 6) (row 0 newest), then run the
    physics substeps, each with the command of its age (``ages`` from :func:`command_ages`; all zero:
    no latency, one command for the whole step, exactly the arithmetic of ``mj_step`` x n).

    Each control step starts with ``mj_step2`` (the previous ended with ``mj_step1``, see
    ``SO101Env.step``) and ends with ``mj_step1``, so positions and contacts are current afterwards.
    """
    import mujoco

    if len(history) > 1:
        history[1:] = history[:-1]
    history[0] = action
    n = len(ages)
    if not ages.any():
        data.ctrl[:] = action
        mujoco.mj_step2(model, data)
        if n > 1:
            mujoco.mj_step(model, data, nstep=n - 1)
    else:
        # runs of equal age: at most two per control step when the latency is under one step
        j = 0
        while j < n:
            k = j
            while k + 1 < n and ages[k + 1] == ages[j]:
                k += 1
            data.ctrl[:] = history[ages[j]]
            if j == 0:
                mujoco.mj_step2(model, data)
                if k > 0:
                    mujoco.mj_step(model, data, nstep=k)
            else:
                mujoco.mj_step(model, data, nstep=k - j + 1)
            j = k + 1
    mujoco.mj_step1(model, data)
