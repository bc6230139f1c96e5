"""Leaders: whatever produces actions for the control loop, each an ``armtwin.robots.contract.Leader``.

Every leader returns contract units from ``get_action()``: a dict keyed
``C.LEROBOT_MOTOR_KEYS`` (body joints degrees when ``use_degrees``, else
-100..100; gripper 0..100). Sim-side quantities are radians.

- :class:`KeyboardLeader`: jog the end-effector (IK through ``armtwin.envs.ik``) and the gripper with keys.
- :class:`ExpertLeader`: the env's scripted expert (``armtwin.envs.experts``), bound to a :class:`SimFollower`.
- :class:`ReplayLeader`: the actions of a recorded HDF5 episode.
- The network leader (a leader on one machine drives a follower on another, UDP) is
  ``armtwin.teleop.net.NetLeader``; the real SO-101 leader arm is ``armtwin.robots.real.RealLeader``
  (LeRobot's ``SO101Leader``).

The loop's hooks (``reset_request``, ``on_episode_reset``, ``handle_key``, ``data_stamp``) are
declared with do-nothing defaults on ``Leader``; each leader here overrides the ones it uses.
A leader raises :class:`LeaderExhausted` from ``get_action`` when it has no more actions.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.robots.contract import Leader, LeaderExhausted
from armtwin.units import UnitConverter

log = logging.getLogger(__name__)

__all__ = ["ExpertLeader", "KeyboardLeader", "KeyboardLeaderConfig", "LeaderExhausted", "ReplayLeader"]


def _check_connected(leader) -> None:
    if not leader.is_connected:
        raise RuntimeError(f"{leader.name} is not connected: call connect() first")


def _action_features() -> dict[str, Any]:
    return {k: float for k in C.LEROBOT_MOTOR_KEYS}


# ------------------------------------------------------------------ keyboard


#: Keyboard jog keys -> (axis, sign). Axes 0..2: end-effector x/y/z in the base frame; 3: wrist roll.
JOG_KEYS: dict[str, tuple[int, int]] = {
    "w": (0, +1), "s": (0, -1),  # forward / back
    "a": (1, +1), "d": (1, -1),  # left / right
    "i": (2, +1), "k": (2, -1),  # up / down
    "j": (3, +1), "l": (3, -1),  # wrist roll
}
GRIPPER_KEYS: dict[str, float] = {"o": C.GRIPPER_OPEN, "c": C.GRIPPER_CLOSED}


@dataclass
class KeyboardLeaderConfig:
    """Jog sizes per key press: step_m metres, roll_step radians. use_degrees: contract unit."""

    step_m: float = 0.01
    roll_step: float = 0.1
    use_degrees: bool = True
    calibration: str | Path | None = None

    def __post_init__(self):
        if not (0 < self.step_m <= 0.1):
            raise ValueError(f"step_m must be in (0, 0.1] metres, got {self.step_m}")
        if not (0 < self.roll_step <= 1.0):
            raise ValueError(f"roll_step must be in (0, 1] radians, got {self.roll_step}")


class KeyboardLeader(Leader):
    """End-effector jogging: each key press moves the target gripper position and IK follows.

    Keys (see ``JOG_KEYS``, ``GRIPPER_KEYS``): w/s +-x, a/d +-y, i/k +-z (``step_m`` each),
    j/l wrist roll, o/c open/close the gripper. Feed keys with :meth:`handle_key` (the loop
    does, from a terminal in cbreak mode) or call :meth:`jog` directly. The target starts at
    the follower's pose (``on_episode_reset``) or at ``C.HOME_QPOS``-like joint zero.
    """

    name = "keyboard"

    def __init__(self, config: KeyboardLeaderConfig | None = None):
        from armtwin.units import Calibration

        self.config = config or KeyboardLeaderConfig()
        cal = Calibration.default() if self.config.calibration is None else Calibration.load(self.config.calibration)
        self.converter = UnitConverter(cal, use_degrees=self.config.use_degrees)
        self._ik = None
        self._q = np.zeros(C.NUM_JOINTS)
        self._target_pos: np.ndarray | None = None
        self._target_quat: np.ndarray | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[int, int]] = []
        self._connected = False
        self.ik_failures = 0

    @property
    def action_features(self) -> dict[str, Any]:
        return _action_features()

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, calibrate: bool = True) -> None:
        from armtwin.envs.ik import IK

        self._ik = IK()
        q0 = np.array(C.HOME_QPOS, dtype=float)
        self._sync(q0)
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def _sync(self, q) -> None:
        self._q = np.asarray(q, dtype=float).copy()
        self._target_pos, self._target_quat = self._ik.fk(self._q)

    def on_episode_reset(self, observation: dict[str, Any]) -> None:
        """Start jogging from the follower's current pose (contract units)."""
        with self._lock:
            self._pending.clear()
            self._sync(self.converter.to_radians(observation))

    def handle_key(self, ch: str) -> bool:
        """Queue a key press; True if the key is one of ours."""
        if ch in JOG_KEYS:
            with self._lock:
                self._pending.append(JOG_KEYS[ch])
            return True
        if ch in GRIPPER_KEYS:
            with self._lock:
                self._pending.append((-1, 1 if ch == "o" else -1))
            return True
        return False

    def jog(self, axis: int, sign: int) -> None:
        """Jog one step along axis 0..2 (x, y, z), 3 (wrist roll) or -1 (gripper: +1 open, -1 close)."""
        with self._lock:
            self._pending.append((int(axis), int(sign)))

    @property
    def target_position(self) -> np.ndarray:
        """(3,) metres: the gripper site target in the base frame."""
        return self._target_pos.copy()

    def get_action(self) -> dict[str, float]:
        _check_connected(self)
        with self._lock:
            pending, self._pending = self._pending, []
        q = self._q.copy()
        moved = False
        for axis, sign in pending:
            if axis == -1:
                q[5] = C.GRIPPER_OPEN if sign > 0 else C.GRIPPER_CLOSED
            elif axis == 3:
                lo, hi = C.JOINT_LIMITS["wrist_roll"]
                q[4] = float(np.clip(q[4] + sign * self.config.roll_step, lo, hi))
                # Roll changes the orientation target; keep the position target.
                self._target_quat = self._ik.fk(q)[1]
            else:
                self._target_pos = self._target_pos.copy()
                self._target_pos[axis] += sign * self.config.step_m
                moved = True
        if moved:
            sol, ok, err = self._ik.solve(self._target_pos, self._target_quat, q_init=q)
            if not ok:
                self.ik_failures += 1
                log.debug("keyboard: IK did not converge (%.1f mm)", err * 1e3)
            sol[5] = q[5]
            q = sol
            # Track what was reached, so unreachable targets do not accumulate.
            self._target_pos = self._ik.fk(q)[0]
        self._q = q
        return self.converter.to_lerobot_dict(q)


# ------------------------------------------------------------------ scripted expert


class ExpertLeader(Leader):
    """The scripted expert of the follower's env (``armtwin.envs.experts.make_expert``).

    Bound to a :class:`~armtwin.robots.sim.SimFollower`: it reads the follower's env
    observation (radians) and resets with it. noise: action noise of the expert, seed its RNG.
    """

    name = "scripted"

    def __init__(self, follower, *, noise: float = 0.0, seed: int | None = None):
        self.follower = follower
        self.noise = float(noise)
        self.seed = seed
        self.expert = None
        self._seen_reset = -1

    @property
    def action_features(self) -> dict[str, Any]:
        return _action_features()

    @property
    def is_connected(self) -> bool:
        return self.expert is not None

    def connect(self, calibrate: bool = True) -> None:
        from armtwin.envs.experts import make_expert

        self.expert = make_expert(self.follower.config.env_id, noise=self.noise, seed=self.seed)

    def disconnect(self) -> None:
        self.expert = None

    def on_episode_reset(self, observation: dict[str, Any]) -> None:
        self._reset()

    def _reset(self) -> None:
        self.expert.reset(self.follower.env.unwrapped, self.follower.last_obs)
        self._seen_reset = self.follower.reset_count

    def get_action(self) -> dict[str, float]:
        _check_connected(self)
        if self._seen_reset != self.follower.reset_count:
            self._reset()
        q = np.asarray(self.expert.act(self.follower.last_obs), dtype=np.float64)
        return self.follower.converter.to_lerobot_dict(q)


# ------------------------------------------------------------------ replay


class ReplayLeader(Leader):
    """Plays the actions (radians, converted to contract units) of one recorded episode.

    ``reset_request()`` asks the loop to reset a sim follower to the episode's
    ``initial_state`` (and seed), so a replay in sim reproduces the recorded states.
    Raises :class:`LeaderExhausted` after the last action or once its episode was ended (e.g. on
    success) and the scene reset; ``loop=True`` restarts instead.
    """

    name = "replay"

    def __init__(self, path: str | Path, demo: int | str = 0, *, use_degrees: bool = True,
                 calibration: str | Path | None = None, loop: bool = False):
        from armtwin.units import Calibration

        self.path = Path(path)
        self.demo = demo
        self.loop = loop
        cal = Calibration.default() if calibration is None else Calibration.load(calibration)
        self.converter = UnitConverter(cal, use_degrees=use_degrees)
        self.episode = None
        self.index = 0
        self._finished = False

    @property
    def action_features(self) -> dict[str, Any]:
        return _action_features()

    @property
    def is_connected(self) -> bool:
        return self.episode is not None

    def connect(self, calibrate: bool = True) -> None:
        from armtwin.data import load_episode

        self.episode = load_episode(self.path, self.demo)
        self.index = 0
        self._finished = False

    def disconnect(self) -> None:
        self.episode = None

    def __len__(self) -> int:
        return 0 if self.episode is None else self.episode.num_samples

    def reset_request(self) -> dict[str, Any]:
        ep = self.episode
        seed = int(ep.attrs.get("seed", -1))
        return {"seed": None if seed < 0 else seed, "state": ep.initial_state}

    def on_episode_reset(self, observation: dict[str, Any]) -> None:
        # One episode per replay: a reset after actions were played ends it (unless looping).
        if self.index > 0 and not self.loop:
            self._finished = True
        self.index = 0

    def get_action(self) -> dict[str, float]:
        _check_connected(self)
        if self._finished:
            raise LeaderExhausted(f"replay of {self.path}:{self.episode.name} finished (episode ended)")
        if self.index >= len(self):
            if not self.loop:
                raise LeaderExhausted(f"replay of {self.path}:{self.episode.name} finished ({len(self)} actions)")
            self.index = 0
        q = self.episode.actions[self.index]
        self.index += 1
        return self.converter.to_lerobot_dict(q)
