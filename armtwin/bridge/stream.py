"""Pieces every bridge loop shares: graceful stop on SIGINT/SIGTERM,
rate-limited logging, summary statistics, and the receiving side that turns a stream of
joint messages into a current joint target while dropping what must be dropped.
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
    malformed: Counter = field(default_factory=Counter)
    ages_s: list = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "dropped_out_of_order": self.out_of_order,
            "dropped_stale": self.stale,
            "malformed": dict(self.malformed),
            "malformed_total": int(sum(self.malformed.values())),
            "age_s": percentiles(self.ages_s),
        }


class JointStreamReceiver:
    """Turns received JointState (or JointTrajectory) bytes into the current joint target.

    A message is dropped and counted when it is malformed (see ``messages.MalformedMessage``),
    older than or as old as the last one accepted (out of order), or older than ``max_age_s``
    (stale; ages use the header stamp against this machine's clock, so publisher and
    receiver clocks must agree: same machine, or NTP/PTP-synced). Joints a message does not
    name keep their previous target. ``target`` is (6,) radians, NaN until first set.
    """

    def __init__(self, ros_type: str = M.JOINT_STATE_ROS_TYPE, *, max_age_s: float = 0.5, log=None,
                 recorder=None, topic: str | None = None):
        if ros_type not in (M.JOINT_STATE_ROS_TYPE, M.JOINT_TRAJECTORY_ROS_TYPE):
            raise ValueError(
                f"cannot follow {ros_type!r}; valid: {M.JOINT_STATE_ROS_TYPE}, {M.JOINT_TRAJECTORY_ROS_TYPE}"
            )
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self.ros_type = ros_type
        self.max_age_s = max_age_s
        self.log = log if log is not None else RateLimitedLog()
        self.recorder = recorder
        self.topic = topic
        self.stats = ReceiveStats()
        self.target = np.full(C.NUM_JOINTS, np.nan)
        self.last_stamp_ns: int | None = None
        self.plan: M.TrajectoryPlan | None = None

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
                item = M.validate_joint_state(msg)
            else:
                item = M.validate_joint_trajectory(msg)
        except M.MalformedMessage as e:
            self.stats.malformed[e.reason] += 1
            self.log(f"malformed:{e.reason}", f"dropped malformed {self.ros_type.rsplit('/', 1)[-1]}: {e}")
            return False
        if self.last_stamp_ns is not None and item.stamp_ns <= self.last_stamp_ns:
            self.stats.out_of_order += 1
            self.log("out_of_order", f"dropped out-of-order message (stamp {item.stamp_ns} <= {self.last_stamp_ns})")
            return False
        age = (r.recv_ns - item.stamp_ns) * 1e-9
        if self.ros_type == M.JOINT_STATE_ROS_TYPE and age > self.max_age_s:
            self.stats.stale += 1
            self.log("stale", f"dropped stale message ({age * 1e3:.1f} ms old > {self.max_age_s * 1e3:.0f} ms)")
            return False
        self.last_stamp_ns = item.stamp_ns
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
