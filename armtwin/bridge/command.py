"""``armtwin bridge command``: joint commands from a ROS 2 graph drive a follower, through the
same safety layer as teleop (``armtwin.robots.safety.SafeFollower``: joint limits, per-step
clamp, watchdog, NaN rejection). A command from ROS 2 is never trusted more than a leader arm.

Commands are ``sensor_msgs/msg/JointState`` positions (radians; joints not named keep their
last target) or ``trajectory_msgs/msg/JointTrajectory`` (points interpolated linearly in
time from ``header.stamp``, held at the last point). Malformed, out-of-order and stale
messages are dropped and counted. While no valid command has arrived nothing is sent,
so the safety layer's watchdog, not this loop, decides what a silent graph means.
The follower's state is published on ``state_topic`` (``/joint_states``) so ROS 2 tools see
what the arm really did.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge.mirror import TrackingStats, print_summary
from armtwin.bridge.publisher import FollowerReader, JointStatePublisher, write_report
from armtwin.bridge.stream import JointStreamReceiver, RateLimitedLog, StopFlag, Ticker
from armtwin.bridge.transport import BACKENDS, QosProfile, choose_backend

COMMAND_SOURCES = ("sim", "real", "virtual")
MSG_TYPES = {"joint_state": M.JOINT_STATE_ROS_TYPE, "joint_trajectory": M.JOINT_TRAJECTORY_ROS_TYPE}


@dataclass
class CommandConfig:
    """What ``armtwin bridge command`` does. Seconds, Hz, radians; ``max_step_rad`` is the safety
    layer's per-step clamp, radians per command, and ``watchdog_s`` its input-age limit (None: the
    safety layer's defaults)."""

    source: str = "sim"
    topic: str = M.DEFAULT_COMMAND_TOPIC
    msg_type: str = "joint_state"
    state_topic: str | None = C.ROS_JOINT_STATES_TOPIC
    rate_hz: float = 100.0
    max_age_s: float = 0.25
    duration_s: float | None = None
    env_id: str = "armtwin/SO101-Lift-v0"
    port: str | None = None
    calibration: str | None = None
    robot_id: str = "armtwin_follower"
    max_step_rad: float | None = None
    watchdog_s: float | None = None
    backend: str = "auto"
    domain_id: int | None = None
    reliable: bool = True
    depth: int = 10
    record: str | None = None
    report: str | None = None

    def __post_init__(self):
        if self.source not in COMMAND_SOURCES:
            raise ValueError(f"unknown source {self.source!r}; valid sources: {', '.join(COMMAND_SOURCES)}")
        if self.msg_type not in MSG_TYPES:
            raise ValueError(f"unknown message type {self.msg_type!r}; valid: {', '.join(MSG_TYPES)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        if not 0 < self.rate_hz <= 1000:
            raise ValueError(f"rate_hz must be in (0, 1000], got {self.rate_hz}")
        if not self.max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {self.max_age_s}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"duration_s must be > 0 (or None to run until stopped), got {self.duration_s}")
        if self.source == "real" and not self.port:
            raise ValueError("source 'real' needs the follower's serial port (--port /dev/ttyACM0)")
        if self.max_step_rad is not None and not self.max_step_rad > 0:
            raise ValueError(f"max_step_rad must be > 0, got {self.max_step_rad}")
        if self.watchdog_s is not None and not self.watchdog_s > 0:
            raise ValueError(f"watchdog_s must be > 0, got {self.watchdog_s}")
        if self.source == "sim":
            from armtwin.envs import check_env_id

            check_env_id(self.env_id)
        M.dds_topic_name(self.topic)
        if self.state_topic is not None:
            M.dds_topic_name(self.state_topic)
            if self.state_topic == self.topic:
                raise ValueError("state_topic must differ from the command topic")


def _input_stamp(rx: JointStreamReceiver, follower) -> float:
    """When the current command was produced, on ``follower.config.clock``'s time base.

    JointState: the header stamp of the last accepted message. JointTrajectory: now while the
    plan runs, then the time of its last point (holding the final pose goes stale like a
    silent JointState stream).
    """
    now_wall = time.time_ns()
    if rx.plan is not None:
        produced = min(now_wall, rx.plan.stamp_ns + int(rx.plan.times[-1] * 1e9))
    else:
        produced = rx.last_stamp_ns if rx.last_stamp_ns is not None else now_wall
    return follower.config.clock() - (now_wall - produced) * 1e-9


def run_command(cfg: CommandConfig, *, out=sys.stdout) -> dict:
    """Run until ``duration_s`` or SIGINT/SIGTERM; returns (and writes) the report."""
    from armtwin.bridge.followers import make_follower
    from armtwin.bridge.recorder import BagRecorder

    stop = StopFlag().install()
    log = RateLimitedLog()
    ros_type = MSG_TYPES[cfg.msg_type]
    backend = choose_backend(cfg.backend, domain_id=cfg.domain_id)
    print(f"armtwin bridge command: {backend.describe()}", file=out, flush=True)
    topics = {cfg.topic: ros_type}
    if cfg.state_topic:
        topics[cfg.state_topic] = M.JOINT_STATE_ROS_TYPE
    recorder = BagRecorder(cfg.record, topics) if cfg.record else None
    follower = None
    try:
        follower, converter = make_follower(cfg.source, env_id=cfg.env_id, rate_hz=cfg.rate_hz, port=cfg.port,
                                            calibration=cfg.calibration, robot_id=cfg.robot_id, safe=True,
                                            max_step_rad=cfg.max_step_rad, watchdog_s=cfg.watchdog_s)
        reader = FollowerReader(follower, converter)
        qos = QosProfile(reliable=cfg.reliable, depth=cfg.depth)
        sub = backend.create_subscription(cfg.topic, ros_type, qos=qos)
        state = (JointStatePublisher(backend, cfg.state_topic, qos=qos, recorder=recorder)
                 if cfg.state_topic else None)
        rx = JointStreamReceiver(ros_type, max_age_s=cfg.max_age_s, log=log, recorder=recorder, topic=cfg.topic)
        q0, _ = reader.read()
        q = q0
        rx.target = q0.copy()
        have_target = False
        sent_count = 0
        clamped = 0
        tracking = TrackingStats()
        print(f"armtwin bridge command: {cfg.topic} ({ros_type}) -> safe {cfg.source} follower at {cfg.rate_hz:g} Hz",
              file=out, flush=True)
        ticker = Ticker(cfg.rate_hz)
        t0 = time.monotonic()
        while not stop.stopped:
            if cfg.duration_s is not None and time.monotonic() - t0 >= cfg.duration_s:
                break
            while True:
                if backend.wait(max(0.0, ticker.remaining())):
                    have_target |= rx.feed(sub.take()) > 0
                if ticker.remaining() <= 0:
                    break
            have_target |= rx.feed(sub.take()) > 0
            if have_target:
                target = rx.current_target()
                wanted = converter.to_lerobot_dict(target)
                # The safety layer's watchdog judges the age of the input, on its own clock.
                sent = follower.send_action(wanted, stamp=_input_stamp(rx, follower))
                sent_count += 1
                if any(abs(float(sent[k]) - wanted[k]) > 1e-6 for k in C.LEROBOT_MOTOR_KEYS if k in sent):
                    clamped += 1
            q, dq = reader.read()
            if have_target:
                tracking.add(q - target)
            if state is not None:
                state.publish(q, dq)
            ticker.advance()
        elapsed = time.monotonic() - t0
        report = {
            "command": "command",
            "config": asdict(cfg),
            "transport": backend.name,
            "elapsed_s": elapsed,
            "ticks": ticker.ticks,
            "overruns": ticker.overruns,
            "receive": rx.stats.summary(),
            "actions_sent": sent_count,
            "actions_clamped_by_safety": clamped,
            "safety_events": dict(getattr(follower, "events", {})),
            "tracking": tracking.summary(),
            "final_position_rad": np.asarray(q).tolist(),
        }
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        if follower is not None:
            follower.disconnect()
        backend.close()
        stop.restore()
    if recorder is not None:
        report["bag"] = str(recorder.close())
    print_summary("command", report, out)
    print(f"armtwin bridge command: {sent_count} actions sent, {clamped} changed by the safety layer", file=out,
          flush=True)
    write_report(cfg.report, report)
    return report
