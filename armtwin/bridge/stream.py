"""Pieces every bridge loop shares: graceful stop on SIGINT/SIGTERM,
rate-limited logging, summary statistics (receive, tracking error), the receiving side that
turns a stream of joint messages into a current joint target while dropping what must be
dropped, and the sending side: a follower's joints read in radians (:class:`FollowerReader`)
and published as JointState (:class:`JointStatePublisher`).
"""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge import validate as V
from armtwin.bridge.transport import QosProfile
from armtwin.timing import RateKeeper


class RateLimitedLog:
    """At most one line per ``key`` every ``interval_s``; says how many were suppressed."""

    def __init__(self, interval_s: float = 2.0, stream=None):
        self.interval_s = interval_s
        self.stream = stream if stream is not None else sys.stderr
        self._last: dict[str, float] = {}
        self._suppressed: Counter = Counter()

    def __call__(self, key: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -1e18) < self.interval_s:
            self._suppressed[key] += 1
            return
        n = self._suppressed.pop(key, 0)
        self._last[key] = now
        more = f" ({n} more like this suppressed)" if n else ""
        print(f"armtwin bridge: {text}{more}", file=self.stream, flush=True)


class StopFlag:
    """Set by SIGINT/SIGTERM so loops finish cleanly (flush bags, write reports) when killed."""

    def __init__(self):
        self.stopped = False
        self._old = {}

    def install(self) -> "StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: the caller stops us another way
                pass
        return self

    def _handle(self, signum, frame):
        self.stopped = True

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def percentiles(values, qs=(50, 99)) -> dict[str, float | None]:
    v = np.asarray(values, dtype=np.float64)
    return {f"p{q}": (float(np.percentile(v, q)) if v.size else None) for q in qs} | {
        "max": float(v.max()) if v.size else None,
        "n": int(v.size),
    }


@dataclass
class ReceiveStats:
    """Counters of a receiving loop; ``ages_s`` are message ages (receive time - header stamp)."""

    received: int = 0
    accepted: int = 0
    out_of_order: int = 0
    stale: int = 0
    future: int = 0
    resets: int = 0
    malformed: Counter = field(default_factory=Counter)
    ages_s: list = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "dropped_out_of_order": self.out_of_order,
            "dropped_stale": self.stale,
            "dropped_future": self.future,
            "stamp_resets": self.resets,
            "malformed": dict(self.malformed),
            "malformed_total": int(sum(self.malformed.values())),
            "age_s": percentiles(self.ages_s),
        }


class JointStreamReceiver:
    """Turns received JointState (or JointTrajectory) bytes into the current joint target.

    Freshness and ordering are judged on this machine's clock, inside bounded windows, so that no
    single message can lock the stream (a stamp an hour ahead would otherwise make every later
    message look out of order, and keep the watchdog from ever firing). A message is dropped and
    counted when it is:

    * malformed (see ``messages.MalformedMessage``);
    * stale: stamped more than ``max_age_s`` before its receive time (JointState only: a
      trajectory may start in the past);
    * from the future: stamped more than ``max_future_s`` after its receive time (a wrong or
      hostile clock; default ``max_age_s``);
    * out of order: stamped at or before the last accepted message, by at most
      ``reorder_window_s`` (default ``max_age_s``; a late or duplicated sample). For ordering a
      stamp counts as no later than its receive time, so one stamped ahead of this clock cannot
      make the messages after it look old.

    A stamp further back than ``reorder_window_s`` (a trajectory restarted with an old stamp, a
    clock stepped back; a JointState that old is stale anyway) is a *reset*: accepted, logged and
    counted (``stats.resets``), never a lock. Freshness needs publisher and receiver clocks to
    agree within those windows (same machine, or NTP/PTP).
    ``last_rx_ns`` (``time.time_ns()`` when the last accepted message arrived) is what the safety
    layer's watchdog measures from. Joints a message does not name keep their previous target.
    ``target`` is (6,) radians, NaN until first set.
    """

    def __init__(self, ros_type: str = M.JOINT_STATE_ROS_TYPE, *, max_age_s: float = 0.5, log=None,
                 recorder=None, topic: str | None = None, max_future_s: float | None = None,
                 reorder_window_s: float | None = None):
        if ros_type not in (M.JOINT_STATE_ROS_TYPE, M.JOINT_TRAJECTORY_ROS_TYPE):
            raise ValueError(
                f"cannot follow {ros_type!r}; valid: {M.JOINT_STATE_ROS_TYPE}, {M.JOINT_TRAJECTORY_ROS_TYPE}"
            )
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        max_future_s = max_age_s if max_future_s is None else max_future_s
        reorder_window_s = max_age_s if reorder_window_s is None else reorder_window_s
        if not max_future_s >= 0:
            raise ValueError(f"max_future_s must be >= 0, got {max_future_s}")
        if not reorder_window_s >= 0:
            raise ValueError(f"reorder_window_s must be >= 0, got {reorder_window_s}")
        self.ros_type = ros_type
        self.max_age_s = max_age_s
        self.max_future_s = float(max_future_s)
        self.reorder_window_s = float(reorder_window_s)
        self.log = log if log is not None else RateLimitedLog()
        self.recorder = recorder
        self.topic = topic
        self.stats = ReceiveStats()
        self.target = np.full(C.NUM_JOINTS, np.nan)
        self.last_stamp_ns: int | None = None
        self.last_rx_ns: int | None = None
        self.last_key_ns: int | None = None
        self.plan: V.TrajectoryPlan | None = None

    def feed(self, received) -> int:
        """Process a batch of ``transport.Received``; returns how many were accepted."""
        n = 0
        for r in received:
            n += self._one(r)
        return n

    def _one(self, r) -> bool:
        self.stats.received += 1
        if self.recorder is not None:
            self.recorder.write(self.topic, r.recv_ns, r.data)
        try:
            msg = M.decode(self.ros_type, r.data)
            if self.ros_type == M.JOINT_STATE_ROS_TYPE:
                item = V.validate_joint_state(msg)
            else:
                item = V.validate_joint_trajectory(msg)
        except M.MalformedMessage as e:
            self.stats.malformed[e.reason] += 1
            self.log(f"malformed:{e.reason}", f"dropped malformed {self.ros_type.rsplit('/', 1)[-1]}: {e}")
            return False
        age = (r.recv_ns - item.stamp_ns) * 1e-9
        if -age > self.max_future_s:
            self.stats.future += 1
            self.log("future", f"dropped message stamped {-age:.3f} s in the future (> {self.max_future_s:g} s; "
                               "clocks disagree, or a forged stamp)")
            return False
        if self.ros_type == M.JOINT_STATE_ROS_TYPE and age > self.max_age_s:
            self.stats.stale += 1
            self.log("stale", f"dropped stale message ({age * 1e3:.1f} ms old > {self.max_age_s * 1e3:.0f} ms)")
            return False
        # Ordering key: the stamp, but never later than this machine's receive time, so a stamp
        # ahead of our clock (within max_future_s) cannot make the messages after it look old.
        key = min(item.stamp_ns, r.recv_ns)
        if self.last_key_ns is not None and key <= self.last_key_ns:
            back_s = (self.last_key_ns - key) * 1e-9
            if back_s <= self.reorder_window_s:
                self.stats.out_of_order += 1
                self.log("out_of_order", f"dropped out-of-order message (stamp {item.stamp_ns}, "
                                         f"{back_s * 1e3:.1f} ms before the last accepted)")
                return False
            self.stats.resets += 1
            self.log("reset", f"stamp jumped back {back_s:.3f} s (> {self.reorder_window_s:g} s window): "
                              "taken as a restarted stream, accepted")
        self.last_key_ns = key
        self.last_stamp_ns = item.stamp_ns
        self.last_rx_ns = r.recv_ns
        self.stats.accepted += 1
        self.stats.ages_s.append(age)
        if self.ros_type == M.JOINT_STATE_ROS_TYPE:
            self.target = np.where(item.mask, item.position, self.target)
        else:
            self.plan = item
        return True

    def current_target(self, now_ns: int | None = None) -> np.ndarray:
        """(6,) radians (NaN for joints never set). Trajectories are sampled at ``now_ns``."""
        if self.plan is not None:
            now_ns = time.time_ns() if now_ns is None else now_ns
            self.target = np.where(self.plan.mask, self.plan.sample(now_ns), self.target)
        return self.target.copy()


def report_safety_stop(command: str, error: BaseException, out) -> str:
    """One clear line when the safety layer stopped the follower (the bridge then ends its loop and
    still writes its report and bag); returns the reason for the report's ``safety_stop``."""
    reason = str(error)
    print(f"armtwin bridge {command}: the safety layer stopped the follower: {reason}", file=out, flush=True)
    return reason


def receive_until_due(rx: "JointStreamReceiver", sub, backend, ticker: RateKeeper) -> bool:
    """Feed ``rx`` what arrives on ``sub`` until ``ticker``'s tick is due (the backend's wait returns
    early when data arrives); True when at least one message was accepted."""
    accepted = False
    while True:
        if backend.wait(max(0.0, ticker.remaining())):
            accepted |= rx.feed(sub.take()) > 0
        if ticker.remaining() <= 0:
            break
    return (rx.feed(sub.take()) > 0) or accepted


class TrackingStats:
    """Per-joint tracking error (rad) over the ticks that had a target.

    ``settled`` leaves out the first ``settle_s`` seconds after the first target: the sim starts
    wherever its env reset put it, so the first target is a step it needs a moment to reach.
    """

    def __init__(self, settle_s: float = 1.0):
        self.settle_s = settle_s
        self.errors: list[np.ndarray] = []
        self.times: list[float] = []

    def add(self, err: np.ndarray, t: float | None = None) -> None:
        self.errors.append(np.asarray(err, dtype=np.float64))
        self.times.append(time.monotonic() if t is None else t)

    @staticmethod
    def _stats(e: np.ndarray) -> dict:
        if len(e) == 0:
            return {"ticks": 0}
        e = np.abs(e)
        ok = ~np.isnan(e)
        e0 = np.where(ok, e, 0.0)
        n = ok.sum(axis=0).clip(min=1)
        return {
            "ticks": int(len(e)),
            "joints": list(C.JOINT_NAMES),
            "rms_rad": np.sqrt((e0**2).sum(axis=0) / n).tolist(),
            "p99_rad": [float(np.percentile(e[ok[:, j], j], 99)) if ok[:, j].any() else None
                        for j in range(C.NUM_JOINTS)],
            "max_rad": e0.max(axis=0).tolist(),
        }

    def summary(self) -> dict:
        if not self.errors:
            return {"ticks": 0, "settle_s": self.settle_s, "settled": {"ticks": 0}}
        e = np.stack(self.errors)
        t = np.asarray(self.times)
        out = self._stats(e)
        out["settle_s"] = self.settle_s
        out["settled"] = self._stats(e[t >= t[0] + self.settle_s])
        return out


class JointStatePublisher:
    """Publishes (6,) joint states; ``publish(q, dq, stamp_ns)`` encodes, sends and records."""

    def __init__(self, backend, topic: str, *, frame_id: str = C.ROS_FRAME_ID, qos: QosProfile = QosProfile(),
                 recorder=None):
        self.topic = topic
        self.frame_id = frame_id
        self.recorder = recorder
        self.pub = backend.create_publisher(topic, M.JOINT_STATE_ROS_TYPE, qos=qos)
        self.sent = 0

    def publish(self, position, velocity=None, effort=None, *, stamp_ns: int | None = None) -> bytes:
        stamp_ns = time.time_ns() if stamp_ns is None else stamp_ns
        data = M.encode(M.make_joint_state(stamp_ns, position, velocity=velocity, effort=effort,
                                           frame_id=self.frame_id))
        self.pub.publish(data)
        self.sent += 1
        if self.recorder is not None:
            self.recorder.write(self.topic, stamp_ns, data)
        return data


class FollowerReader:
    """Reads a follower's joints in radians; velocities (rad/s) from the reads themselves.

    The contract reports no velocity, so it is the slope over the last ``window`` reads: wider
    than one read because a single tick's difference is dominated by bus and scheduling jitter
    (the read time is not the sampling time of the servo); the cost is ``window/2`` ticks of lag.
    """

    def __init__(self, follower, converter, *, window: int = 3):
        from collections import deque

        self.follower = follower
        self.converter = converter
        self._hist: deque = deque(maxlen=max(2, window))

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        obs = self.follower.get_observation()
        q = self.converter.to_radians({k: obs[k] for k in C.LEROBOT_MOTOR_KEYS})
        now = time.monotonic()
        self._hist.append((now, q))
        t0, q0 = self._hist[0]
        dq = (q - q0) / (now - t0) if now > t0 else np.zeros(C.NUM_JOINTS)
        return q, dq
