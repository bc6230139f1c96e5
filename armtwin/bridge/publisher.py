"""``armtwin bridge publish``: a follower's joint states on ``/joint_states`` at a fixed rate.

Each tick reads the follower (``get_observation``, LeRobot units), converts to radians with
``armtwin.units.UnitConverter`` and publishes a ``sensor_msgs/msg/JointState``: names
``C.JOINT_NAMES``, positions rad, velocities rad/s (finite differences of the positions,
which is what the contract gives), efforts empty (the contract does not report them),
``header.stamp`` = wall clock at the read, ``header.frame_id`` = ``C.ROS_FRAME_ID``.

Optionally the publisher also moves the follower along a scripted trajectory (``motion=
"sine"``), which is how tests and benchmarks get a known motion; ``source="script"``
publishes the scripted trajectory itself with no follower at all.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge.session import (
    BridgeSession,
    TransportConfig,
    check_follower,
    check_outputs,
    check_transport,
    write_report,
)
from armtwin.bridge.stream import FollowerReader, JointStatePublisher, percentiles, report_safety_stop
from armtwin.bridge.transport import wait_for_match
from armtwin.robots.safety import SafetyStop
from armtwin.timing import RateKeeper

SOURCES = ("sim", "real", "virtual", "script")
#: Pause after the wanted subscribers matched, before the first message (see run_publish).
DISCOVERY_SETTLE_S = 0.25
MOTIONS = ("none", "sine")


def scripted_trajectory(t: float, *, amplitude: float = 0.3, period_s: float = 4.0) -> np.ndarray:
    """The test/benchmark motion: (6,) radians at ``t`` seconds.

    Joint j swings ``amplitude`` x half its range around the middle of ``C.JOINT_LIMITS``
    with phase ``j * pi / 3``; always inside the limits for amplitude <= 1.
    """
    lo, hi = C.lower_limits(), C.upper_limits()
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    phase = np.arange(C.NUM_JOINTS) * math.pi / 3
    return mid + amplitude * half * np.sin(2 * math.pi * t / period_s + phase)


def scripted_velocity(t: float, *, amplitude: float = 0.3, period_s: float = 4.0) -> np.ndarray:
    """d/dt of :func:`scripted_trajectory`, (6,) rad/s."""
    lo, hi = C.lower_limits(), C.upper_limits()
    half = (hi - lo) / 2
    phase = np.arange(C.NUM_JOINTS) * math.pi / 3
    w = 2 * math.pi / period_s
    return amplitude * half * w * np.cos(w * t + phase)


@dataclass
class PublishConfig(TransportConfig):
    """What ``armtwin bridge publish`` does. Times in seconds, rates in Hz, angles radians."""

    source: str = "sim"
    rate_hz: float = 100.0
    topic: str = C.ROS_JOINT_STATES_TOPIC
    frame_id: str = C.ROS_FRAME_ID
    duration_s: float | None = None
    motion: str = "none"
    amplitude: float = 0.3
    period_s: float = 4.0
    env_id: str = "armtwin/SO101-Lift-v0"
    port: str | None = None
    calibration: str | None = None
    robot_id: str = "armtwin_follower"
    wait_for_subscribers: int = 0
    wait_timeout_s: float = 10.0

    def __post_init__(self):
        check_follower(self, SOURCES)
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion {self.motion!r}; valid motions: {', '.join(MOTIONS)}")
        check_transport(self, max_rate_hz=2000)
        if not 0 <= self.amplitude <= 1:
            raise ValueError(f"amplitude is a fraction of each joint's half range, in [0, 1]; got {self.amplitude}")
        if not self.period_s > 0:
            raise ValueError(f"period_s must be > 0, got {self.period_s}")
        if self.source == "script" and self.motion == "none":
            self.motion = "sine"
        M.dds_topic_name(self.topic)
        from armtwin.cli_fields import check_count, check_number

        check_count(self.wait_for_subscribers, what="--wait-for-subscribers", minimum=0, optional=False)
        self.wait_timeout_s = check_number(self.wait_timeout_s, what="--wait-timeout (s)", minimum=0,
                                           exclusive=True, optional=False)
        check_outputs(self, [self.calibration])


def run_publish(cfg: PublishConfig, *, out=sys.stdout) -> dict:
    """Run until ``duration_s`` passes or SIGINT/SIGTERM; returns (and optionally writes) a report."""
    from armtwin.robots.factory import make_follower

    follower = converter = None
    with BridgeSession("publish", cfg, {cfg.topic: M.JOINT_STATE_ROS_TYPE}, out=out) as s:
        pub = JointStatePublisher(s.backend, cfg.topic, frame_id=cfg.frame_id, qos=s.qos, recorder=s.recorder)
        if cfg.source != "script":
            follower, converter = make_follower(cfg.source, env_id=cfg.env_id, rate_hz=cfg.rate_hz, port=cfg.port,
                                                calibration=cfg.calibration, robot_id=cfg.robot_id)
            s.follower = follower
            reader = FollowerReader(follower, converter)
        if cfg.wait_for_subscribers:
            ok = wait_for_match(pub.pub, s.backend, timeout_s=cfg.wait_timeout_s, count=cfg.wait_for_subscribers)
            if not ok:
                s.say(f"no subscriber matched within {cfg.wait_timeout_s} s, publishing anyway")
            else:
                # Matching is two-sided: this writer sees the reader before the reader has seen this
                # writer, and what is sent in between arrives only by retransmission (~100 ms late).
                time.sleep(DISCOVERY_SETTLE_S)
        s.say(f"{cfg.source} -> {cfg.topic} at {cfg.rate_hz:g} Hz")
        ticker = RateKeeper(cfg.rate_hz, spin_s=0)
        t0 = time.monotonic()
        read_s = []
        safety_stop = None
        while not s.stop.stopped:
            t = time.monotonic() - t0
            if cfg.duration_s is not None and t >= cfg.duration_s:
                break
            if cfg.source == "script":
                q = scripted_trajectory(t, amplitude=cfg.amplitude, period_s=cfg.period_s)
                dq = scripted_velocity(t, amplitude=cfg.amplitude, period_s=cfg.period_s)
            else:
                r0 = time.perf_counter()
                try:
                    if cfg.motion == "sine":
                        target = scripted_trajectory(t, amplitude=cfg.amplitude, period_s=cfg.period_s)
                        follower.send_action(converter.to_lerobot_dict(target))
                    q, dq = reader.read()
                except SafetyStop as e:
                    safety_stop = report_safety_stop("publish", e, out)
                    break
                read_s.append(time.perf_counter() - r0)
            pub.publish(q, dq)
            ticker.wait()
        elapsed = time.monotonic() - t0
        report = {
            "command": "publish",
            "config": asdict(cfg),
            "transport": s.backend.name,
            "sent": pub.sent,
            "elapsed_s": elapsed,
            "achieved_rate_hz": pub.sent / elapsed if elapsed > 0 else 0.0,
            "overruns": ticker.overruns,
            "follower_io_s": percentiles(read_s),
            "matched_subscribers": pub.pub.matched(),
            "safety_stop": safety_stop,
        }
    s.finish(report)
    s.say(f"sent {report['sent']} messages in {elapsed:.1f} s ({report['achieved_rate_hz']:.1f} Hz, "
          f"{ticker.overruns} overruns)")
    write_report(cfg.report, report)
    return report
