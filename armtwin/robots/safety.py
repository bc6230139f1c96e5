"""The one safety layer between any command source and a follower (teleop, policy runner, ROS 2 bridge).

Every :meth:`SafeFollower.send_action` runs, in this order:

1. **finite check**: an action with NaN/inf (or a missing joint) is not used; the
   follower holds (``events["nan_hold"]``);
2. **watchdog**: an action whose input is older than ``watchdog_timeout_s``
   (the caller passes ``stamp=``, the ``clock()`` time its input was
   produced, e.g. when the leader was read) is not used; the follower holds
   (``events["stale_hold"]``);
3. **joint limits**: the model's joint limits (``C.JOINT_LIMITS``, radians)
   intersected with the calibrated range, converted to the follower's LeRobot
   units and kept half a tick inside, so the integer tick LeRobot puts on the
   wire stays within them;
4. **per-step clamp** (LeRobot's ``max_relative_target``): at most
   ``max_relative_target[key]`` away from the *present* position, read from
   the follower before every command.

"Hold" re-commands the last command sent (or the present position before the
first one), through limits and the per-step clamp like any other command.

Faults (LeRobot's ``ConnectionError``/``RuntimeError`` after the follower's own retries, a
vanished serial port, a servo reporting overload/overheating/voltage in its status reply
(``armtwin.robots.real.ServoFault``), a present position that is not finite; in fact any exception
while reading the present position, sending, or in ``get_observation``): nothing more is sent, the
follower is told (``Follower.on_safety_stop``) and :class:`SafetyStop` is raised, naming the cause;
every later ``send_action`` raises it too until :meth:`SafeFollower.rearm`.

The safety stop (``on_fault="hold"``, the default) is one state for every servo: **torque on,
holding its last goal**, which was clamped, and the session's close keeps it so (a faulted
``RealFollower`` closes its port without LeRobot's torque-off, which with replies lost would
release one servo and leave the others stiff). ``"torque_off"`` is an explicit opt-in for arms
that rest safely when limp: it releases every servo, each written on its own with retries. An
unclamped command can never be sent: without a fresh present position there is no command at
all. See ``docs/safety.md``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.robots.contract import Follower
from armtwin.units import UnitConverter, radians_to_ticks

logger = logging.getLogger(__name__)

FAULT_POLICIES = ("hold", "torque_off")
KEYS = C.LEROBOT_MOTOR_KEYS


class SafetyStop(RuntimeError):
    """The follower was stopped after a fault (every servo holding its last goal, torque on, unless
    the ``"torque_off"`` policy released them); call ``rearm()`` once the cause is fixed."""


def _per_key(value, name: str) -> dict[str, float]:
    if isinstance(value, Mapping):
        missing = [k for k in KEYS if k not in value]
        extra = [k for k in value if k not in KEYS]
        if missing or extra:
            raise ValueError(f"{name}: missing {missing}, unknown {extra}; expected keys: {', '.join(KEYS)}")
        return {k: float(value[k]) for k in KEYS}
    return {k: float(value) for k in KEYS}


def units_per_tick(converter: UnitConverter) -> np.ndarray:
    """(6,) LeRobot units per servo tick for each joint under ``converter`` (absolute values)."""
    RC = converter.C  # the arm's constants
    cal = converter.calibration.motors
    span = np.array([cal[n].range_max - cal[n].range_min for n in RC.JOINT_NAMES], dtype=np.float64)
    out = np.where(np.arange(RC.NUM_JOINTS) < 5, 200.0 / span, 100.0 / span)
    if converter.use_degrees:
        out[:5] = 360.0 / (RC.TICKS_PER_REV - 1)
    return out


@dataclass
class SafetyConfig:
    """Limits in the follower's LeRobot units, keyed ``C.LEROBOT_MOTOR_KEYS``.

    lower, upper: joint limits (LeRobot units). max_relative_target: largest change from the
    present position per command (LeRobot units, > 0). watchdog_timeout_s: oldest usable input.
    on_fault: "hold" or "torque_off" (see the module docstring). Build it with :meth:`for_converter`.
    """

    lower: dict[str, float]
    upper: dict[str, float]
    max_relative_target: dict[str, float]
    watchdog_timeout_s: float = 0.25
    on_fault: str = "hold"
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self):
        self.lower = _per_key(self.lower, "lower")
        self.upper = _per_key(self.upper, "upper")
        self.max_relative_target = _per_key(self.max_relative_target, "max_relative_target")
        for k in KEYS:
            if not (math.isfinite(self.lower[k]) and math.isfinite(self.upper[k]) and self.lower[k] < self.upper[k]):
                raise ValueError(f"{k}: need finite lower < upper, got {self.lower[k]}, {self.upper[k]}")
            if not (math.isfinite(self.max_relative_target[k]) and self.max_relative_target[k] > 0):
                raise ValueError(f"{k}: max_relative_target must be finite and > 0, got {self.max_relative_target[k]}")
        if not (math.isfinite(self.watchdog_timeout_s) and self.watchdog_timeout_s > 0):
            raise ValueError(f"watchdog_timeout_s must be > 0, got {self.watchdog_timeout_s}")
        if self.on_fault not in FAULT_POLICIES:
            raise ValueError(f"unknown on_fault {self.on_fault!r}; valid: {', '.join(FAULT_POLICIES)}")

    @classmethod
    def for_converter(
        cls,
        converter: UnitConverter | None = None,
        *,
        max_step_rad: float | Mapping[str, float] = 0.15,
        max_relative_target: float | Mapping[str, float] | None = None,
        watchdog_timeout_s: float = 0.25,
        on_fault: str = "hold",
        clock: Callable[[], float] = time.monotonic,
    ) -> "SafetyConfig":
        """Limits from ``C.JOINT_LIMITS`` (the converter's robot's) and the calibration, in ``converter``'s units.

        The per-step clamp is ``max_relative_target`` (LeRobot units) when given, else
        ``max_step_rad`` radians per command converted to LeRobot units.
        """
        conv = converter or UnitConverter()
        RC = conv.C  # the arm's constants
        cal = conv.calibration.motors
        rmin = np.array([cal[n].range_min for n in RC.JOINT_NAMES], dtype=np.float64)
        rmax = np.array([cal[n].range_max for n in RC.JOINT_NAMES], dtype=np.float64)
        lo_t = np.maximum(np.ceil(radians_to_ticks(RC.lower_limits(), robot=conv.robot)), rmin)
        hi_t = np.minimum(np.floor(radians_to_ticks(RC.upper_limits(), robot=conv.robot)), rmax)
        if np.any(hi_t - lo_t < 2):
            bad = [n for n, a, b in zip(RC.JOINT_NAMES, lo_t, hi_t) if b - a < 2]
            raise ValueError(f"calibrated ranges of {bad} do not overlap the model's joint limits")
        # Half a tick inside: LeRobot truncates to int ticks, which must stay within [lo_t, hi_t].
        a = conv.ticks_to_lerobot(lo_t + 0.5)
        b = conv.ticks_to_lerobot(hi_t - 0.5)
        lower, upper = np.minimum(a, b), np.maximum(a, b)
        if max_relative_target is None:
            steps = np.array([v for v in _per_key(max_step_rad, "max_step_rad").values()])
            mrt = steps / RC.RAD_PER_TICK * units_per_tick(conv)
            max_relative_target = dict(zip(KEYS, mrt.tolist()))
        return cls(
            lower=dict(zip(KEYS, lower.tolist())),
            upper=dict(zip(KEYS, upper.tolist())),
            max_relative_target=_per_key(max_relative_target, "max_relative_target"),
            watchdog_timeout_s=watchdog_timeout_s,
            on_fault=on_fault,
            clock=clock,
        )


class SafeFollower:
    """Wraps any follower (contract in ``armtwin.robots.contract``); every command passes the checks above.

    ``send_action(action, *, stamp=None)``: ``action`` keyed ``C.LEROBOT_MOTOR_KEYS`` (LeRobot
    units); ``stamp``: ``config.clock()`` time the input was produced (None: now, i.e. no
    watchdog for callers that cannot say). Returns what the follower really sent.
    ``events`` counts nan_hold, stale_hold, limited (a joint hit a limit), step_clamped,
    bus_errors, stops. ``last_sent`` is the last command sent, ``last_present`` the present
    position it was clamped against.
    """

    def __init__(self, follower: Follower, config: SafetyConfig):
        if not isinstance(follower, Follower):
            raise TypeError(
                f"SafeFollower wraps an armtwin.robots.contract.Follower (SimFollower, RealFollower, ...), "
                f"got {type(follower).__name__}: it must declare get_joint_positions and disable_torque"
            )
        self.follower = follower
        self.config = config
        self.name = follower.name
        self.events: dict[str, int] = dict.fromkeys(
            ("commands", "nan_hold", "stale_hold", "limited", "step_clamped", "bus_errors", "stops"), 0
        )
        self.last_sent: dict[str, float] | None = None
        self.last_present: dict[str, float] | None = None  # the reading the last command was clamped to
        self.stopped: str | None = None  # reason, while stopped
        self._lo = np.array([config.lower[k] for k in KEYS])
        self._hi = np.array([config.upper[k] for k in KEYS])
        self._mrt = np.array([config.max_relative_target[k] for k in KEYS])

    # contract passthrough
    @property
    def observation_features(self) -> dict[str, Any]:
        return self.follower.observation_features

    @property
    def action_features(self) -> dict[str, Any]:
        return self.follower.action_features

    @property
    def is_connected(self) -> bool:
        return self.follower.is_connected

    def connect(self, calibrate: bool = True) -> None:
        self.follower.connect(calibrate=calibrate)

    def get_observation(self) -> dict[str, Any]:
        """The follower's observation; a failure to read it stops the follower like a failed command."""
        if self.stopped is not None:
            raise SafetyStop(f"{self.name} is stopped ({self.stopped}); call rearm() to resume")
        try:
            return self.follower.get_observation()
        except Exception as e:  # noqa: BLE001  same policy as send_action
            self._stop(e)

    def disconnect(self) -> None:
        self.follower.disconnect()

    # the checks
    def _present(self) -> np.ndarray:
        values = self.follower.get_joint_positions()
        present = np.array([float(values[k]) for k in KEYS])
        if not np.all(np.isfinite(present)):
            raise RuntimeError(f"{self.name}: present position is not finite: {present}")
        return present

    def _target(self, action: Mapping[str, Any], stamp: float | None) -> tuple[np.ndarray | None, str | None]:
        try:
            target = np.array([float(action[k]) for k in KEYS])
        except KeyError:
            missing = [k for k in KEYS if k not in action]
            raise KeyError(f"action is missing {missing}; expected keys: {', '.join(KEYS)}") from None
        except (TypeError, ValueError):
            return None, "nan_hold"
        if not np.all(np.isfinite(target)):
            return None, "nan_hold"
        if stamp is not None:
            age = self.config.clock() - float(stamp)
            if not math.isfinite(age) or age > self.config.watchdog_timeout_s:
                return None, "stale_hold"
        return target, None

    def safe_command(self, target: np.ndarray, present: np.ndarray) -> np.ndarray:
        """(6,) target and present (LeRobot units) -> the command: within limits and one step of present.

        When the arm is outside the limits by more than one step, the command moves it back by one step.
        """
        limited = np.clip(target, self._lo, self._hi)
        if np.any(limited != target):
            self.events["limited"] += 1
        lo = np.maximum(self._lo, present - self._mrt)
        hi = np.minimum(self._hi, present + self._mrt)
        out = np.clip(limited, lo, hi)
        outside = lo > hi  # present is further than one step outside the limits
        out = np.where(outside, np.where(present < self._lo, present + self._mrt, present - self._mrt), out)
        if np.any(out != limited):
            self.events["step_clamped"] += 1
        return out

    def send_action(self, action: Mapping[str, Any], *, stamp: float | None = None) -> dict[str, float]:
        if self.stopped is not None:
            raise SafetyStop(f"{self.name} is stopped ({self.stopped}); call rearm() to resume")
        self.events["commands"] += 1
        target, hold = self._target(action, stamp)
        try:
            present = self._present()
            self.last_present = dict(zip(KEYS, present.tolist()))
            if hold is not None:
                self.events[hold] += 1
                target = np.array([self.last_sent[k] for k in KEYS]) if self.last_sent else present
            command = self.safe_command(target, present)
            sent = self.follower.send_action(dict(zip(KEYS, command.tolist())))
        except Exception as e:  # noqa: BLE001  any failure talking to the arm stops it; see module doc
            self._stop(e)
        self.last_sent = {k: float(sent[k]) for k in KEYS}
        return dict(self.last_sent)

    def _stop(self, error: Exception):
        self.events["bus_errors"] += 1
        self.events["stops"] += 1
        self.stopped = f"{type(error).__name__}: {error}"
        logger.error("%s: safety stop after %s: %s", self.name, type(error).__name__, error)
        # Every stop, whether the follower raised or this layer refused its reading (a present position
        # that is not finite), leaves the servos in the one stated state, through the close too.
        self.follower.on_safety_stop(self.stopped)
        if self.config.on_fault == "torque_off":
            try:
                self.follower.disable_torque()
            except Exception as e2:  # noqa: BLE001  already faulted; report the first error
                logger.error("%s: could not disable torque: %s", self.name, e2)
        raise SafetyStop(f"{self.name} stopped: {self.stopped}") from error

    def rearm(self) -> None:
        """Resume after a stop. The next command is clamped to the freshly read present position."""
        self.stopped = None
        self.last_sent = None
