"""``armtwin bridge mirror``: the digital-twin mirror. A JointState topic (a real SO-101 driven
from anywhere in a ROS 2 graph) drives the simulated follower, which tracks it.

Each control tick (``rate_hz``, also the sim follower's control rate) takes what arrived,
drops malformed / out-of-order / stale messages (counted), and sends the latest target
(radians -> LeRobot units) to the sim follower; then reads the follower back and records
the tracking error per joint (sim position - latest target, radians) and the message ages
(receive time - header stamp). Joints never named by any message are held where the sim
started.
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


#: The report's trace keeps at most this many rows (every ``trace_every``-th tick from the start).
MAX_TRACE_ROWS = 20_000


@dataclass
class MirrorConfig(TransportConfig):
    """What ``armtwin bridge mirror`` does. Seconds, Hz, radians. ``network`` False (default): DDS on
    loopback only (whoever reaches the participant drives the twin)."""

    network: bool = False

    env_id: str = "armtwin/SO101-Lift-v0"
    topic: str = C.ROS_JOINT_STATES_TOPIC
    rate_hz: float = 100.0
    max_age_s: float = 0.25
    duration_s: float | None = None
    twin_topic: str | None = None
    trace_every: int = 5
    print_every_s: float = 2.0
    settle_s: float = 1.0

    def __post_init__(self):
        check_transport(self, max_rate_hz=1000)
        self.max_age_s = check_max_age(self.max_age_s)
        if self.settle_s < 0:
            raise ValueError(f"settle_s must be >= 0, got {self.settle_s}")
        if self.trace_every < 0:
            raise ValueError(f"trace_every must be >= 0 (0: no trace), got {self.trace_every}")
        from armtwin.envs import check_env_id

        check_env_id(self.env_id)
        M.dds_topic_name(self.topic)
        if self.twin_topic is not None:
            M.dds_topic_name(self.twin_topic)
            if self.twin_topic == self.topic:
                raise ValueError("twin_topic must differ from topic, or the mirror would follow itself")
        check_outputs(self)


def run_mirror(cfg: MirrorConfig, *, out=sys.stdout, follower=None, converter=None) -> dict:
    """Run the mirror until ``duration_s`` or SIGINT/SIGTERM; returns (and writes) the report.

    ``follower``/``converter`` default to the sim follower over ``cfg.env_id``.
    """
    log = RateLimitedLog()
    topics = {cfg.topic: M.JOINT_STATE_ROS_TYPE}
    if cfg.twin_topic:
        topics[cfg.twin_topic] = M.JOINT_STATE_ROS_TYPE
    with BridgeSession("mirror", cfg, topics, out=out) as s:
        if follower is None:  # ours to build, and so to disconnect
            from armtwin.robots.factory import make_follower

            follower, converter = make_follower("sim", env_id=cfg.env_id, rate_hz=cfg.rate_hz)
            s.follower = follower
        reader = FollowerReader(follower, converter)
        sub = s.backend.create_subscription(cfg.topic, M.JOINT_STATE_ROS_TYPE, qos=s.qos)
        twin = (JointStatePublisher(s.backend, cfg.twin_topic, qos=s.qos, recorder=s.recorder)
                if cfg.twin_topic else None)
        rx = JointStreamReceiver(M.JOINT_STATE_ROS_TYPE, max_age_s=cfg.max_age_s, log=log, recorder=s.recorder,
                                 topic=cfg.topic)
        q0, _ = reader.read()
        rx.target = q0.copy()
        have_target = False
        safety_stop = None
        tracking = TrackingStats(cfg.settle_s)
        trace = []
        s.say(f"{cfg.topic} -> sim follower on {cfg.env_id} at {cfg.rate_hz:g} Hz")
        ticker = RateKeeper(cfg.rate_hz, spin_s=0, due_now=True)  # receive until due, then act
        t0 = time.monotonic()
        next_print = t0 + cfg.print_every_s
        win_err = win_age = 0
        while not s.stop.stopped:
            if cfg.duration_s is not None and time.monotonic() - t0 >= cfg.duration_s:
                break
            have_target |= receive_until_due(rx, sub, s.backend, ticker)
            target = rx.current_target()
            try:
                follower.send_action(converter.to_lerobot_dict(target))
                q, dq = reader.read()
            except SafetyStop as e:
                safety_stop = report_safety_stop("mirror", e, out)
                break
            if twin is not None:
                twin.publish(q, dq)
            if have_target:
                tracking.add(q - target)
                if cfg.trace_every and ticker.ticks % cfg.trace_every == 0 and len(trace) < MAX_TRACE_ROWS:
                    trace.append([time.time_ns(), *q.tolist(), *target.tolist()])
            ticker.advance()
            if time.monotonic() >= next_print:
                # Figures over the last print period only, so a long session stays cheap to report.
                next_print += cfg.print_every_s
                err = np.abs(np.asarray(tracking.errors[win_err:]))
                ages = np.asarray(rx.stats.ages_s[win_age:]) * 1e3
                win_err, win_age = len(tracking.errors), len(rx.stats.ages_s)
                rms = np.sqrt(np.nanmean(err**2, axis=0)) if err.size else np.full(C.NUM_JOINTS, np.nan)
                worst = int(np.nanargmax(rms)) if err.size else 0
                st = rx.stats
                age = (f"age p50 {np.percentile(ages, 50):.2f} p99 {np.percentile(ages, 99):.2f} ms" if ages.size
                       else "no messages")
                print(f"armtwin bridge mirror: {st.accepted} accepted, {st.out_of_order} out-of-order, {st.stale} "
                      f"stale, {sum(st.malformed.values())} malformed; last {cfg.print_every_s:g} s: {age}, "
                      f"worst RMS error {rms[worst]:.4f} rad ({C.JOINT_NAMES[worst]})", file=out, flush=True)
        elapsed = time.monotonic() - t0
        report = s.loop_report(
            cfg, elapsed_s=elapsed, ticker=ticker, rx=rx,
            tracking=tracking.summary(),
            trace_columns=["t_ns", *(f"q.{n}" for n in C.JOINT_NAMES), *(f"target.{n}" for n in C.JOINT_NAMES)],
            trace=trace,
            safety_stop=safety_stop,
        )
    s.finish(report)
    print_summary("mirror", report, out)
    write_report(cfg.report, report)
    return report
