"""Conversions between LeRobot's units, servo ticks and sim radians, for the SO-101 (default) or any arm
of :mod:`armtwin.assets.models` (``robot=``: its constants give the motor ids, the tick at joint zero,
the joint signs and the default calibration).

LeRobot 0.4.4's Feetech bus reports every motor in one of three norm modes:
degrees (body joints when ``use_degrees=True``), -100..100 (body joints when
``use_degrees=False``) and 0..100 (the gripper). Those numbers are derived from
the raw servo tick (``Present_Position``, after the homing offset) and the
calibrated ``range_min``/``range_max``. Sim radians are derived from the same
raw tick: tick ``TICK_AT_ZERO`` is joint zero of the "new calibration" model.
So a leader pose means the same physical angle on the sim follower as on the
real one, as long as both use the same calibration.

Everything here is NumPy only (no LeRobot import): the formulas mirror
``lerobot.motors.motors_bus.MotorsBusBase._normalize/_unnormalize`` but keep
floats instead of truncating to integer ticks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.assets.models import robot_model
from armtwin.staging import staged_file

#: LeRobot's resolution-1 divisor for degrees mode (STS3215: 4096 - 1).
_MAX_RES = C.TICKS_PER_REV - 1


@dataclass(frozen=True)
class MotorCalibration:
    """One motor's LeRobot calibration, same fields as ``lerobot.motors.MotorCalibration``.

    Ticks are integers in [0, 4095]; ``homing_offset`` is what the servo holds
    in its Homing_Offset register (Present_Position = actual - homing_offset).
    """

    id: int
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int

    def __post_init__(self):
        if not 0 <= self.range_min < self.range_max <= C.TICKS_PER_REV - 1:
            raise ValueError(
                f"motor id {self.id}: calibration range must satisfy 0 <= range_min < range_max <= 4095, "
                f"got range_min={self.range_min}, range_max={self.range_max}"
            )
        if self.drive_mode not in (0, 1):
            raise ValueError(f"motor id {self.id}: drive_mode must be 0 or 1, got {self.drive_mode}")


def _constants(robot: str):
    return robot_model(robot).C


@dataclass(frozen=True)
class Calibration:
    """A whole arm's calibration: one :class:`MotorCalibration` per joint of ``robot`` (default the SO-101).

    Reads and writes LeRobot's calibration JSON
    (``$HF_LEROBOT_CALIBRATION/robots/so_follower/<id>.json``) unchanged.
    """

    motors: Mapping[str, MotorCalibration]
    robot: str = "so101"

    def __post_init__(self):
        C = _constants(self.robot)
        missing = [n for n in C.JOINT_NAMES if n not in self.motors]
        extra = [n for n in self.motors if n not in C.JOINT_NAMES]
        if missing or extra:
            raise ValueError(
                f"calibration does not match the {C.DISPLAY_NAME} motors: "
                + (f"missing {missing} " if missing else "")
                + (f"unknown {extra} " if extra else "")
                + f"(expected exactly: {', '.join(C.JOINT_NAMES)})"
            )
        for name in C.JOINT_NAMES:
            if self.motors[name].id != C.MOTOR_IDS[name]:
                raise ValueError(
                    f"calibration for {name!r} has id {self.motors[name].id}, {C.DISPLAY_NAME} uses id {C.MOTOR_IDS[name]}"
                )

    @classmethod
    def default(cls, robot: str = "so101") -> "Calibration":
        """The robot's factory calibration when LeRobot has one (``C.FACTORY_CALIBRATION_RANGE``: the OMX),
        else that of an ideal arm: ranges equal to the model's joint limits, zero homing offset."""
        C = _constants(robot)
        if C.FACTORY_CALIBRATION_RANGE is not None:
            lo, hi = C.FACTORY_CALIBRATION_RANGE
            return cls({n: MotorCalibration(id=C.MOTOR_IDS[n], drive_mode=0, homing_offset=0, range_min=lo,
                                            range_max=hi) for n in C.JOINT_NAMES}, robot)
        motors = {}
        for name in C.JOINT_NAMES:
            lo, hi = C.JOINT_LIMITS[name]
            motors[name] = MotorCalibration(
                id=C.MOTOR_IDS[name],
                drive_mode=0,
                homing_offset=0,
                range_min=int(math.ceil(C.TICK_AT_ZERO + lo / C.RAD_PER_TICK)),
                range_max=int(math.floor(C.TICK_AT_ZERO + hi / C.RAD_PER_TICK)),
            )
        return cls(motors)

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, int]], *, robot: str = "so101") -> "Calibration":
        if not isinstance(data, Mapping) or not all(isinstance(m, Mapping) for m in data.values()):
            raise ValueError(
                "calibration must map each motor name to {id, drive_mode, homing_offset, range_min, range_max}, "
                f"got {type(data).__name__}"
            )
        try:
            fields = {name: {k: int(v) for k, v in m.items()} for name, m in data.items()}
        except (TypeError, ValueError) as e:
            raise ValueError(f"calibration values must be integers ({e})") from None
        try:
            motors = {name: MotorCalibration(**f) for name, f in fields.items()}
        except TypeError as e:
            raise ValueError(
                f"bad calibration entry ({e}); each motor needs id, drive_mode, homing_offset, range_min, range_max"
            ) from None
        return cls(motors, robot)

    @classmethod
    def load(cls, path: str | Path, *, robot: str = "so101") -> "Calibration":
        """Read LeRobot's calibration JSON; errors name the file and what is wrong."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"calibration file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"calibration file {path} is not valid JSON: {e}") from None
        try:
            return cls.from_dict(data, robot=robot)
        except ValueError as e:
            raise ValueError(f"calibration file {path}: {e}") from None

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            n: {
                "id": m.id,
                "drive_mode": m.drive_mode,
                "homing_offset": m.homing_offset,
                "range_min": m.range_min,
                "range_max": m.range_max,
            }
            for n, m in self.motors.items()
        }

    def save(self, path: str | Path) -> None:
        """Write LeRobot's calibration JSON to ``path`` (its folder is made): staged beside it and renamed
        when written (:func:`armtwin.staging.staged_file`), so a reader never sees half a file."""
        # exists=False: the JSON is created by write_text, with the umask's permissions (mkstemp's are 0600)
        with staged_file(Path(path), exists=False) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=4))


def ticks_to_radians(ticks, names=None, *, robot: str = "so101") -> np.ndarray:
    """Raw Present_Position ticks -> joint angles, radians. ``ticks``: (..., len(names)); names default to
    the robot's ``C.JOINT_NAMES``."""
    C = _constants(robot)
    names = C.JOINT_NAMES if names is None else names
    t = np.asarray(ticks, dtype=np.float64)
    sign = np.array([C.JOINT_SIGN[n] for n in names], dtype=np.float64)
    return sign * (t - C.TICK_AT_ZERO) * C.RAD_PER_TICK


def radians_to_ticks(q, names=None, *, robot: str = "so101") -> np.ndarray:
    """Joint angles, radians -> raw ticks (float; round at the bus). ``q``: (..., len(names))."""
    C = _constants(robot)
    names = C.JOINT_NAMES if names is None else names
    q = np.asarray(q, dtype=np.float64)
    sign = np.array([C.JOINT_SIGN[n] for n in names], dtype=np.float64)
    return sign * q / C.RAD_PER_TICK + C.TICK_AT_ZERO


@dataclass(frozen=True)
class UnitConverter:
    """LeRobot motor values <-> sim radians for one calibrated arm.

    LeRobot values are dicts keyed ``"<joint>.pos"`` (``C.LEROBOT_MOTOR_KEYS``)
    or (6,) arrays in JOINT_NAMES order; radians are (6,) float arrays (or
    (T, 6) for trajectories). Body joints are degrees when ``use_degrees`` (the
    SO101Follower default in LeRobot 0.4.4), else -100..100; the gripper is
    always 0..100. The robot is the calibration's (``calibration.robot``).
    """

    calibration: Calibration = field(default_factory=Calibration.default)
    use_degrees: bool = True

    @property
    def robot(self) -> str:
        return self.calibration.robot

    @cached_property
    def C(self):  # noqa: N802 (the robot's constants module)
        return _constants(self.calibration.robot)

    @cached_property
    def _ranges(self):
        """(mins (6,), maxs (6,), drive (6,) bool), derived once: the converter runs every control tick."""
        names = self.C.JOINT_NAMES
        mins = np.array([self.calibration.motors[n].range_min for n in names], dtype=np.float64)
        maxs = np.array([self.calibration.motors[n].range_max for n in names], dtype=np.float64)
        drive = np.array([self.calibration.motors[n].drive_mode for n in names], dtype=bool)
        return mins, maxs, drive

    def lerobot_to_ticks(self, values) -> np.ndarray:
        """LeRobot values (dict or (..., 6)) -> raw ticks (float), like ``_unnormalize`` without int()."""
        v = self._as_array(values)
        mins, maxs, drive = self._ranges
        out = np.empty_like(v)
        body = slice(0, 5)
        if self.use_degrees:
            mid = (mins + maxs) / 2
            out[..., body] = v[..., body] * _MAX_RES / 360.0 + mid[body]
        else:
            b = np.where(drive[body], -v[..., body], v[..., body])
            b = np.clip(b, -100.0, 100.0)
            out[..., body] = (b + 100.0) / 200.0 * (maxs[body] - mins[body]) + mins[body]
        g = np.where(drive[5], 100.0 - v[..., 5], v[..., 5])
        g = np.clip(g, 0.0, 100.0)
        out[..., 5] = g / 100.0 * (maxs[5] - mins[5]) + mins[5]
        return out

    def ticks_to_lerobot(self, ticks) -> np.ndarray:
        """Raw ticks (..., 6) -> LeRobot values (..., 6), like ``_normalize``."""
        t = np.asarray(ticks, dtype=np.float64)
        mins, maxs, drive = self._ranges
        out = np.empty_like(t)
        body = slice(0, 5)
        if self.use_degrees:
            mid = (mins + maxs) / 2
            out[..., body] = (t[..., body] - mid[body]) * 360.0 / _MAX_RES
        else:
            b = np.clip(t[..., body], mins[body], maxs[body])
            n = (b - mins[body]) / (maxs[body] - mins[body]) * 200.0 - 100.0
            out[..., body] = np.where(drive[body], -n, n)
        g = np.clip(t[..., 5], mins[5], maxs[5])
        n = (g - mins[5]) / (maxs[5] - mins[5]) * 100.0
        out[..., 5] = np.where(drive[5], 100.0 - n, n)
        return out

    def to_radians(self, values) -> np.ndarray:
        """LeRobot values (dict keyed "<joint>.pos", or (..., 6)) -> (..., 6) radians."""
        return ticks_to_radians(self.lerobot_to_ticks(values), robot=self.robot)

    def from_radians(self, q) -> np.ndarray:
        """(..., 6) radians -> (..., 6) LeRobot values."""
        return self.ticks_to_lerobot(radians_to_ticks(q, robot=self.robot))

    def to_lerobot_dict(self, q) -> dict[str, float]:
        """(6,) radians -> {"shoulder_pan.pos": value, ...} in LeRobot units."""
        v = self.from_radians(np.asarray(q, dtype=np.float64).reshape(self.C.NUM_JOINTS))
        return {k: float(x) for k, x in zip(self.C.LEROBOT_MOTOR_KEYS, v)}

    def _as_array(self, values) -> np.ndarray:
        C = self.C
        if isinstance(values, Mapping):
            missing = [k for k in C.LEROBOT_MOTOR_KEYS if k not in values]
            if missing:
                raise KeyError(f"missing motor values {missing}; expected keys: {', '.join(C.LEROBOT_MOTOR_KEYS)}")
            return np.array([float(values[k]) for k in C.LEROBOT_MOTOR_KEYS], dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if v.shape[-1:] != (C.NUM_JOINTS,):
            raise ValueError(f"expected motor values with last dimension {C.NUM_JOINTS}, got shape {v.shape}")
        return v
