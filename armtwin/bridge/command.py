"""``armtwin bridge command``: joint commands from a ROS 2 graph drive a follower, through the
same safety layer as teleop (``armtwin.robots.safety.SafeFollower``: joint limits, per-step
clamp, watchdog, NaN rejection). A command from ROS 2 is never trusted more than a leader arm.

Commands are ``sensor_msgs/msg/JointState`` positions (radians; joints not named keep their
last target) or ``trajectory_msgs/msg/JointTrajectory`` (points interpolated linearly in
time from ``header.stamp``, held at the last point). Malformed, out-of-order, stale and
future-stamped messages are dropped and counted (``JointStreamReceiver``: freshness on this
machine's clock, bounded windows, a jump back is a counted reset); the watchdog measures the
input's age from its local receive time. While no valid command has arrived nothing is sent,
so the safety layer's watchdog, not this loop, decides what a silent graph means.
The follower's state is published on ``state_topic`` (``/joint_states``) so ROS 2 tools see
what the arm really did.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge.session import (
    BridgeSession,
    TransportConfig,
    check_follower,
    check_max_age,
    check_outputs,
    check_transport,
    print_summary,
    write_report,
)
from armtwin.bridge.stream import (
    FollowerReader,
    JointStatePublisher,
    JointStreamReceiver,
    RateLimitedLog,
    TrackingStats,
    receive_until_due,
    report_safety_stop,
)
from armtwin.robots.safety import SafetyStop
from armtwin.timing import RateKeeper

COMMAND_SOURCES = ("sim", "real", "virtual")
MSG_TYPES = {"joint_state": M.JOINT_STATE_ROS_TYPE, "joint_trajectory": M.JOINT_TRAJECTORY_ROS_TYPE}


@dataclass
class CommandConfig(TransportConfig):
    """What ``armtwin bridge command`` does. Seconds, Hz, radians; ``max_step_rad`` is the safety
    layer's per-step clamp, radians per command, and ``watchdog_s`` its input-age limit (None: the
    safety layer's defaults). ``network`` False (default): DDS on loopback only, since anyone who
    reaches the participant can command the arm."""

    network: bool = False

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

    def __post_init__(self):
        check_follower(self, COMMAND_SOURCES)
        if self.msg_type not in MSG_TYPES:
            raise ValueError(f"unknown message type {self.msg_type!r}; valid: {', '.join(MSG_TYPES)}")
        check_transport(self, max_rate_hz=1000)
        self.max_age_s = check_max_age(self.max_age_s)
        if self.max_step_rad is not None and not self.max_step_rad > 0:
            raise ValueError(f"max_step_rad must be > 0, got {self.max_step_rad}")
        if self.watchdog_s is not None and not self.watchdog_s > 0:
            raise ValueError(f"watchdog_s must be > 0, got {self.watchdog_s}")
        M.dds_topic_name(self.topic)
        if self.state_topic is not None:
            M.dds_topic_name(self.state_topic)
            if self.state_topic == self.topic:
                raise ValueError("state_topic must differ from the command topic")
        check_outputs(self, [self.calibration])


def _input_stamp(rx: JointStreamReceiver, follower) -> float:
    """When the current command was produced, on ``follower.config.clock``'s time base, measured
    from this machine's receive time (never from the sender's stamp, which a wrong or hostile clock
    could put anywhere).

    JointState: when the last accepted message arrived. JointTrajectory: now while the plan runs
    (its remaining time counted from its arrival, at most the plan's own duration), then the time
    it ran out (holding the final pose goes stale like a silent JointState stream).
    """
    now_wall = time.time_ns()
    if rx.last_rx_ns is None:
        produced = now_wall
    elif rx.plan is not None:
        duration_ns = int(rx.plan.times[-1] * 1e9)
        left_ns = min(max(0, rx.plan.stamp_ns + duration_ns - rx.last_rx_ns), duration_ns)
        produced = min(now_wall, rx.last_rx_ns + left_ns)
    else:
        produced = rx.last_rx_ns
    return follower.config.clock() - (now_wall - produced) * 1e-9


def run_command(cfg: CommandConfig, *, out=sys.stdout) -> dict:
    """Run until ``duration_s`` or SIGINT/SIGTERM; returns (and writes) the report."""
    from armtwin.robots.factory import make_follower

    log = RateLimitedLog()
    ros_type = MSG_TYPES[cfg.msg_type]
    topics = {cfg.topic: ros_type}
    if cfg.state_topic:
        topics[cfg.state_topic] = M.JOINT_STATE_ROS_TYPE
    with BridgeSession("command", cfg, topics, out=out) as s:
        follower, converter = make_follower(cfg.source, env_id=cfg.env_id, rate_hz=cfg.rate_hz, port=cfg.port,
                                            calibration=cfg.calibration, robot_id=cfg.robot_id,
                                            max_step_rad=cfg.max_step_rad, watchdog_s=cfg.watchdog_s)
        s.follower = follower
        reader = FollowerReader(follower, converter)
        sub = s.backend.create_subscription(cfg.topic, ros_type, qos=s.qos)
        state = (JointStatePublisher(s.backend, cfg.state_topic, qos=s.qos, recorder=s.recorder)
                 if cfg.state_topic else None)
        rx = JointStreamReceiver(ros_type, max_age_s=cfg.max_age_s, log=log, recorder=s.recorder, topic=cfg.topic)
        q0, _ = reader.read()
        q = q0
        rx.target = q0.copy()
        have_target = False
        safety_stop = None
        sent_count = 0
        clamped = 0
        tracking = TrackingStats()
        s.say(f"{cfg.topic} ({ros_type}) -> safe {cfg.source} follower at {cfg.rate_hz:g} Hz")
        ticker = RateKeeper(cfg.rate_hz, spin_s=0, due_now=True)  # receive until due, then act
        t0 = time.monotonic()
        while not s.stop.stopped:
            if cfg.duration_s is not None and time.monotonic() - t0 >= cfg.duration_s:
                break
            have_target |= receive_until_due(rx, sub, s.backend, ticker)
            try:
                if have_target:
                    target = rx.current_target()
                    wanted = converter.to_lerobot_dict(target)
                    # The safety layer's watchdog judges the age of the input, on its own clock.
                    sent = follower.send_action(wanted, stamp=_input_stamp(rx, follower))
                    sent_count += 1
                    if any(abs(float(sent[k]) - wanted[k]) > 1e-6 for k in C.LEROBOT_MOTOR_KEYS if k in sent):
                        clamped += 1
                q, dq = reader.read()
            except SafetyStop as e:
                safety_stop = report_safety_stop("command", e, out)
                break
            if have_target:
                tracking.add(q - target)
            if state is not None:
                state.publish(q, dq)
            ticker.advance()
        elapsed = time.monotonic() - t0
        report = s.loop_report(
            cfg, elapsed_s=elapsed, ticker=ticker, rx=rx,
            actions_sent=sent_count,
            actions_clamped_by_safety=clamped,
            safety_events=dict(follower.events),
            tracking=tracking.summary(),
            final_position_rad=np.asarray(q).tolist(),
            safety_stop=safety_stop,
        )
    s.finish(report)
    print_summary("command", report, out)
    print(f"armtwin bridge command: {sent_count} actions sent, {clamped} changed by the safety layer", file=out,
          flush=True)
    write_report(cfg.report, report)
    return report
