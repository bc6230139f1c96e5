"""Leaders: whatever produces actions for the control loop, behind ``armtwin.robots.contract.Leader``.

Every leader returns contract units from ``get_action()``: a dict keyed
``C.LEROBOT_MOTOR_KEYS`` (body joints degrees when ``use_degrees``, else
-100..100; gripper 0..100). Sim-side quantities are radians.

- :class:`KeyboardLeader`: jog the end-effector (IK through ``armtwin.envs.ik``) and the gripper with keys.
- :class:`ExpertLeader`: the env's scripted expert (``armtwin.envs.experts``), bound to a :class:`SimFollower`.
- :class:`ReplayLeader`: the actions of a recorded HDF5 episode.
- :class:`NetLeader` / :class:`NetPublisher`: a leader on one machine drives a follower on another (UDP).
- The real SO-101 leader arm is ``armtwin.robots.real.RealLeader`` (LeRobot's ``SO101Leader``).

Optional hooks the loop calls when a leader has them:
``on_episode_reset(observation)`` after the follower was reset (``observation``:
the follower's contract observation), ``reset_request() -> dict`` (``seed``,
``state``) asked before a reset, ``handle_key(ch) -> bool`` for key events.
A leader raises :class:`LeaderExhausted` from ``get_action`` when it has no more actions.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.units import UnitConverter

log = logging.getLogger(__name__)


class LeaderExhausted(Exception):
    """A finite leader (replay) has no more actions."""


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


class KeyboardLeader:
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


class ExpertLeader:
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


class ReplayLeader:
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


# ------------------------------------------------------------------ network


#: Wire format of one UDP datagram: magic, sequence number, sender wall-clock time (s),
#: six joint values in contract units, C.LEROBOT_MOTOR_KEYS order. Little-endian, 68 bytes.
NET_MAGIC = b"ATW1"
NET_FORMAT = struct.Struct("<4sQd6d")


def parse_address(addr: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """"host:port" or ":port" or "port" -> (host, port); raises ValueError naming the input."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = default_host, addr
    try:
        p = int(port)
    except ValueError:
        raise ValueError(f"bad network address {addr!r}: expected HOST:PORT (e.g. 127.0.0.1:5555)") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"bad network address {addr!r}: port must be 0..65535")
    return host or default_host, p


class NetPublisher:
    """Sends actions (contract units) as UDP datagrams to ``host:port`` (see ``NET_FORMAT``).

    Wrap a leader: ``pub.publish(leader.get_action())`` at the leader's rate, or use
    :func:`run_publisher`. Datagrams carry a sequence number and the send time, so the
    receiver keeps only the newest and can tell how old it is.
    """

    def __init__(self, address: str | tuple[str, int]):
        self.address = parse_address(address) if isinstance(address, str) else address
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.seq = 0

    def publish(self, action: dict[str, Any], t: float | None = None) -> int:
        """Send one action; returns its sequence number."""
        self.seq += 1
        values = [float(action[k]) for k in C.LEROBOT_MOTOR_KEYS]
        msg = NET_FORMAT.pack(NET_MAGIC, self.seq, time.time() if t is None else t, *values)
        self._sock.sendto(msg, self.address)
        return self.seq

    def close(self) -> None:
        self._sock.close()


@dataclass
class NetLeaderConfig:
    """listen: "HOST:PORT" to bind (0.0.0.0 for LAN). stale_s: an action older than this (by
    arrival gap) makes the leader stale. wait_first_s: how long connect() waits for the first
    datagram (0: do not wait). on_stale: "hold" (repeat the last action) or "raise"."""

    listen: str = "127.0.0.1:5555"
    stale_s: float = 0.25
    wait_first_s: float = 5.0
    on_stale: str = "hold"

    def __post_init__(self):
        parse_address(self.listen)
        if self.stale_s <= 0:
            raise ValueError(f"stale_s must be > 0 seconds, got {self.stale_s}")
        if self.wait_first_s < 0:
            raise ValueError(f"wait_first_s must be >= 0 seconds, got {self.wait_first_s}")
        if self.on_stale not in ("hold", "raise"):
            raise ValueError(f"on_stale must be 'hold' or 'raise', got {self.on_stale!r}")


class NetLeader:
    """Receives a remote leader's actions over UDP; the newest datagram (by sequence number) wins.

    ``get_action`` drains the socket without blocking. Attributes: ``last_seq``,
    ``age_s`` (receive time minus the sender's timestamp: latency when clocks agree, e.g.
    loopback), ``received``, ``dropped_old`` (datagrams older than one already used),
    ``stale`` (no new datagram for ``stale_s``), ``stale_events``. ``data_stamp``: the
    ``time.monotonic()`` at which the action ``get_action`` returns arrived; the control loop passes
    it to the safety layer, whose watchdog then holds the follower when the network goes quiet.
    """

    name = "net"

    def __init__(self, config: NetLeaderConfig | None = None):
        self.config = config or NetLeaderConfig()
        self._sock: socket.socket | None = None
        self._last: dict[str, float] | None = None
        self.last_seq = 0
        self.last_sent_t = math.nan
        self.last_rx_t = math.nan
        self.data_stamp: float | None = None
        self.age_s = math.nan
        self.received = 0
        self.dropped_old = 0
        self.stale = False
        self.stale_events = 0
        self.address: tuple[str, int] | None = None

    @property
    def action_features(self) -> dict[str, Any]:
        return _action_features()

    @property
    def is_connected(self) -> bool:
        return self._sock is not None

    def connect(self, calibrate: bool = True) -> None:
        host, port = parse_address(self.config.listen)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            s.close()
            raise OSError(f"net leader: cannot listen on {host}:{port}: {e}") from None
        s.setblocking(False)
        self._sock = s
        self.address = s.getsockname()
        if self.config.wait_first_s > 0:
            deadline = time.monotonic() + self.config.wait_first_s
            while self._last is None and time.monotonic() < deadline:
                self._drain()
                time.sleep(0.002)
            if self._last is None:
                self.disconnect()
                raise TimeoutError(
                    f"net leader: nothing received on {host}:{port} within {self.config.wait_first_s} s; "
                    "is the publisher running (armtwin teleop ... --publish HOST:PORT)?"
                )

    def _drain(self) -> None:
        while True:
            try:
                data = self._sock.recv(256)
            except BlockingIOError:
                return
            now = time.time()
            if len(data) != NET_FORMAT.size:
                continue
            magic, seq, t_sent, *values = NET_FORMAT.unpack(data)
            if magic != NET_MAGIC:
                continue
            if seq <= self.last_seq:
                self.dropped_old += 1
                continue
            self.received += 1
            self.last_seq = seq
            self.last_sent_t = t_sent
            self.last_rx_t = now
            self.data_stamp = time.monotonic()
            self.age_s = now - t_sent
            self._last = dict(zip(C.LEROBOT_MOTOR_KEYS, values))

    def get_action(self) -> dict[str, float]:
        _check_connected(self)
        self._drain()
        if self._last is None:
            raise RuntimeError(f"net leader: no action received yet on {self.config.listen}")
        stale = time.time() - self.last_rx_t > self.config.stale_s
        if stale and not self.stale:
            self.stale_events += 1
            log.warning("net leader: no new action for %.0f ms; holding the last one", self.config.stale_s * 1e3)
        self.stale = stale
        if stale and self.config.on_stale == "raise":
            raise TimeoutError(f"net leader: no new action for more than {self.config.stale_s} s")
        return dict(self._last)

    def disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None


def run_publisher(leader, address: str, *, hz: float = 60.0, duration_s: float | None = None,
                  stop: threading.Event | None = None) -> int:
    """Read ``leader`` at ``hz`` and publish each action to ``address``; returns datagrams sent."""
    from armtwin.teleop.loop import RateKeeper

    pub = NetPublisher(address)
    rate = RateKeeper(hz)
    t_end = None if duration_s is None else time.perf_counter() + duration_s
    try:
        while not (stop is not None and stop.is_set()) and (t_end is None or time.perf_counter() < t_end):
            try:
                action = leader.get_action()
            except LeaderExhausted:
                break
            pub.publish(action)
            rate.wait()
    finally:
        pub.close()
    return pub.seq
