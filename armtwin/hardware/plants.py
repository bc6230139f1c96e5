"""What moves a virtual bus's joints (:class:`armtwin.hardware.feetech.Plant` implementations).

All positions are joint-frame ticks (``armtwin.units.radians_to_ticks``:
tick ``TICK_AT_ZERO`` is joint zero), ``(6,)`` float, ``C.JOINT_NAMES`` order;
time is ``time.monotonic()`` seconds.

* :class:`ServoPlant`: a follower's servos as a rate-limited first-order lag (NumPy only).
* :class:`SimPlant`: a follower that is the MuJoCo twin: goals become the env's
  actions (radians), the env's ``joint_pos`` becomes the present positions.
* :class:`ScriptPlant`: a leader arm moved by a person (torque off): the joints
  follow a script (sinusoids, hold, or a ``(T, 6)`` radian trajectory such as
  a recorded HDF5 episode's ``actions``) and ignore any goal.
"""

from __future__ import annotations

import math
import threading
from typing import Callable

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.units import radians_to_ticks, ticks_to_radians

#: STS3215 no-load speed at 12 V (~0.222 s / 60 deg) in ticks/s.
STS3215_MAX_SPEED_TICKS = 3000.0


class ServoPlant:
    """Position servos as ``x' = clip((goal - x) / tau, -vmax, vmax)``; holds still with torque off."""

    def __init__(self, *, tau_s: float = 0.03, max_speed: float = STS3215_MAX_SPEED_TICKS):
        if tau_s <= 0 or max_speed <= 0:
            raise ValueError(f"tau_s and max_speed must be > 0, got {tau_s}, {max_speed}")
        self.tau_s = tau_s
        self.max_speed = max_speed
        self.x: np.ndarray | None = None
        self._t: float | None = None

    def reset(self, joint_ticks) -> None:
        self.x = np.asarray(joint_ticks, dtype=np.float64).copy()
        self._t = None

    def advance(self, goal_ticks, torque_on, now: float) -> np.ndarray:
        dt = 0.0 if self._t is None else max(0.0, now - self._t)
        self._t = now
        goal = np.asarray(goal_ticks, dtype=np.float64)
        if dt > 0:
            step = (goal - self.x) * (1.0 - math.exp(-dt / self.tau_s))
            step = np.clip(step, -self.max_speed * dt, self.max_speed * dt)
            self.x = np.where(np.asarray(torque_on, dtype=bool), self.x + step, self.x)
        return self.x.copy()


def sine_script(*, amplitude: float = 0.5, period_s: float = 4.0) -> Callable[[float], np.ndarray]:
    """Every joint swings ``amplitude`` x half its range around the range middle, phases staggered.

    Returns ``f(t_seconds) -> (6,) radians``, always inside ``C.JOINT_LIMITS``.
    """
    lo, hi = C.lower_limits(), C.upper_limits()
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    phase = np.arange(C.NUM_JOINTS) * (2 * math.pi / C.NUM_JOINTS)

    def f(t: float) -> np.ndarray:
        return mid + amplitude * half * np.sin(2 * math.pi * t / period_s + phase)

    return f


def trajectory_script(q: np.ndarray, *, fps: float, loop: bool = True) -> Callable[[float], np.ndarray]:
    """Play a ``(T, 6)`` radian trajectory at ``fps`` (linear interpolation); loops or holds the end."""
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != C.NUM_JOINTS or len(q) == 0:
        raise ValueError(f"trajectory must be (T, {C.NUM_JOINTS}) radians, got shape {q.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    T = len(q)

    def f(t: float) -> np.ndarray:
        s = t * fps
        if loop and T > 1:
            s = s % (T - 1)
        s = min(max(s, 0.0), T - 1.0)
        i = int(s)
        if i >= T - 1:
            return q[-1].copy()
        a = s - i
        return (1 - a) * q[i] + a * q[i + 1]

    return f


def load_hdf5_actions(path, demo: str | None = None) -> tuple[np.ndarray, float]:
    """``(T, 6)`` radian actions of one demo (default: the first) of a recording and its fps (else 30).

    RecordingError (a ValueError) for a file that is not a recording, KeyError for an unknown demo."""
    from armtwin.data import ACTIONS_ONLY, check_demo, open_recording

    with open_recording(path) as rec:
        names = rec.demo_names
        if not names:
            raise ValueError(f"{path}: /data has no demos")
        view = rec.demo(demo or names[0])
        check_demo(view, required=ACTIONS_ONLY)
        actions = np.asarray(view["actions"], dtype=np.float64)
        fps = rec.fps if rec.fps is not None else 1.0 / C.CTRL_DT
    return actions, fps


class ScriptPlant:
    """A leader moved by hand: joints follow ``script(t - t0)`` (radians), goals are ignored."""

    def __init__(self, script: Callable[[float], np.ndarray]):
        self.script = script
        self._t0: float | None = None

    def reset(self, joint_ticks) -> None:
        self._t0 = None

    def advance(self, goal_ticks, torque_on, now: float) -> np.ndarray:
        if self._t0 is None:
            self._t0 = now
        return radians_to_ticks(self.script(now - self._t0))


class SimPlant:
    """The MuJoCo twin as a follower's plant: goals -> env actions, ``obs["joint_pos"]`` -> positions.

    ``env``: an ``armtwin.envs`` environment (actions ``(6,)`` radians). The
    env is stepped at its own control period as wall time passes (at most
    ``max_steps_per_advance`` steps per call, so a long pause does not stall
    the bus); with torque off the joints are commanded to stay where they are.
    """

    def __init__(self, env, *, ctrl_dt: float | None = None, max_steps_per_advance: int = 5, seed: int | None = 0):
        self.env = env
        base = getattr(env, "unwrapped", env)
        self.ctrl_dt = float(ctrl_dt or getattr(getattr(base, "config", None), "ctrl_dt", C.CTRL_DT))
        self.max_steps = max_steps_per_advance
        self.seed = seed
        self._t: float | None = None
        self.q: np.ndarray | None = None
        self.steps = 0
        # held while the env steps or resets: a camera frame (armtwin.hardware.frame_server) never sees half a step
        self.lock = threading.RLock()

    @classmethod
    def from_env_id(cls, env_id: str = "armtwin/SO101-Lift-v0", *, servo_calibration=None, **kwargs) -> "SimPlant":
        """The twin of ``env_id`` as the plant; ``servo_calibration``: its servo model (a calibration file
        path such as ``armtwin twin-gap --fit`` writes, or anything ``EnvConfig.servo_calibration`` takes;
        None: the identified defaults)."""
        import armtwin.envs

        env_kwargs = {} if servo_calibration is None else {"servo_calibration": servo_calibration}
        return cls(armtwin.envs.make(env_id, image_size=None, **env_kwargs), **kwargs)

    def reset(self, joint_ticks) -> None:
        with self.lock:
            obs, _ = self.env.reset(seed=self.seed)
        self.q = np.asarray(obs["joint_pos"], dtype=np.float64).copy()
        self._t = None

    def advance(self, goal_ticks, torque_on, now: float) -> np.ndarray:
        if self.q is None:
            self.reset(None)
        if self._t is None:
            self._t = now
        n = int((now - self._t) / self.ctrl_dt)
        if n > 0:
            target = np.where(np.asarray(torque_on, dtype=bool), ticks_to_radians(goal_ticks), self.q)
            lo, hi = C.lower_limits(), C.upper_limits()
            action = np.clip(target, lo, hi).astype(np.float32)
            with self.lock:
                for _ in range(min(n, self.max_steps)):
                    obs, *_ = self.env.step(action)
                    self.steps += 1
            self.q = np.asarray(obs["joint_pos"], dtype=np.float64).copy()
            self._t = now if n > self.max_steps else self._t + n * self.ctrl_dt
        return radians_to_ticks(self.q)

    def close(self) -> None:
        self.env.close()


class HandSweep:
    """A person moving a torque-off follower through its range while LeRobot's calibration records it.

    Nobody moves a virtual arm by hand, so ``lerobot-calibrate`` would record min == max for every
    joint. Between a Homing_Offset write with every servo's torque off (LeRobot's
    ``set_half_turn_homings``) and the next torque-on or Min/Max_Position_Limit write (the calibration
    being saved), each joint sweeps from where it was to ``hi`` and ``lo`` and back, a sine of
    ``period_s`` (phase-shifted per joint), starting ``delay_s`` after the homing write (as a person
    would: the positions read right after homing still show the middle of the range); then it returns
    to where the sweep began.
    ``lo``/``hi``: (n,) joint ticks. :meth:`override` returns the positions to report, or None.
    """

    def __init__(self, lo, hi, *, period_s: float = 1.5, delay_s: float = 0.5):
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.period_s, self.delay_s = float(period_s), float(delay_s)
        self._t0: float | None = None
        self._mid: np.ndarray | None = None
        self._seen: tuple | None = None

    @staticmethod
    def _registers(servos, names) -> tuple:
        return tuple(tuple(s.get(n) for n in names) for s in servos)

    def override(self, servos, now: float) -> np.ndarray | None:
        homing = self._registers(servos, ("Homing_Offset",))
        limits = self._registers(servos, ("Min_Position_Limit", "Max_Position_Limit"))
        torque_off = not any(s.torque_enabled for s in servos)
        if self._t0 is None:
            started = self._seen is not None and homing != self._seen[0] and torque_off
            self._seen = (homing, limits)
            if not started:
                return None
            self._t0, self._mid = now, np.array([s.joint for s in servos], dtype=np.float64)
        elif not torque_off or limits != self._seen[1]:
            mid, self._t0, self._mid = self._mid, None, None
            self._seen = (homing, limits)
            return mid  # back where the person picked it up
        t = now - self._t0 - self.delay_s
        if t < 0:
            return None
        phase = 2 * np.pi * (t / self.period_s + np.arange(len(servos)) / len(servos))
        s = np.sin(phase)
        return self._mid + np.where(s > 0, (self.hi - self._mid) * s, (self._mid - self.lo) * s)
