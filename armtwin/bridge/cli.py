"""``armtwin bridge publish|mirror|command|record``: thin argparse front ends; each builds its
config dataclass and calls the library function."""

from __future__ import annotations

import argparse
import sys

from armtwin.assets import so101_constants as C


def _common(p: argparse.ArgumentParser, *, depth: int = 10) -> None:
    g = p.add_argument_group("transport")
    g.add_argument("--backend", default="auto", choices=("auto", "cyclone", "rclpy"),
                   help="auto: rclpy when importable (a ROS 2 install), else Cyclone DDS (default: auto)")
    g.add_argument("--domain-id", type=int, default=None, help="ROS domain id (default: $ROS_DOMAIN_ID or 0)")
    g.add_argument("--best-effort", action="store_true", help="best-effort instead of reliable QoS")
    g.add_argument("--depth", type=int, default=depth, help=f"keep-last history depth (default: {depth})")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")


def _follower_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("follower")
    g.add_argument("--env", default="armtwin/SO101-Lift-v0", help="env id for --source sim")
    g.add_argument("--port", default=None, help="serial port for --source real")
    g.add_argument("--calibration", default=None, help="LeRobot calibration JSON (real/virtual)")
    g.add_argument("--robot-id", default="armtwin_follower", help="LeRobot robot id (real)")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--record", default=None, metavar="OUT.mcap", help="also write a rosbag2 MCAP bag")
    p.add_argument("--report", default=None, metavar="JSON", help="write a JSON report at the end")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --report")


def add_bridge(subparsers) -> None:
    bridge = subparsers.add_parser(
        "bridge", help="ROS 2 joint-state bridge (rclpy or a ROS 2-compatible Cyclone DDS participant)",
        description="Mirror the SO-101 between MuJoCo and a ROS 2 graph: sensor_msgs/JointState on /joint_states.",
    )
    sub = bridge.add_subparsers(dest="bridge_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("publish", help="publish a follower's joint states as sensor_msgs/JointState")
    p.add_argument("--source", default="sim", choices=("sim", "real", "virtual", "script"),
                   help="sim: MuJoCo follower; real: SO-101 over LeRobot; virtual: LeRobot driver on the virtual "
                        "Feetech bus; script: the scripted trajectory itself, no follower")
    p.add_argument("--rate", type=float, default=100.0, help="Hz (default: 100)")
    p.add_argument("--topic", default=C.ROS_JOINT_STATES_TOPIC)
    p.add_argument("--frame-id", default=C.ROS_FRAME_ID)
    p.add_argument("--motion", default="none", choices=("none", "sine"),
                   help="also drive the follower along the scripted sine trajectory (default: none)")
    p.add_argument("--amplitude", type=float, default=0.3, help="sine amplitude, fraction of half range")
    p.add_argument("--period", type=float, default=4.0, help="sine period, s")
    p.add_argument("--wait-for-subscribers", type=int, default=0, metavar="N",
                   help="wait until N subscribers matched before publishing (see --wait-timeout)")
    p.add_argument("--wait-timeout", type=float, default=10.0, help="s to wait for subscribers (default: 10)")
    _follower_args(p)
    _common(p)
    _report_args(p)
    p.set_defaults(func=_publish)

    p = sub.add_parser("mirror", help="drive the sim follower to track a JointState topic (the twin)")
    p.add_argument("--env", default="armtwin/SO101-Lift-v0", help="env id of the simulated follower")
    p.add_argument("--topic", default=C.ROS_JOINT_STATES_TOPIC)
    p.add_argument("--twin-topic", default=None, help="also publish the sim's joint states here")
    p.add_argument("--rate", type=float, default=100.0, help="control rate, Hz (default: 100)")
    p.add_argument("--max-age", type=float, default=0.25, help="drop messages older than this, s (default: 0.25)")
    _common(p)
    _network_arg(p)
    _report_args(p)
    p.set_defaults(func=_mirror)

    p = sub.add_parser("command", help="drive a follower from ROS 2 joint commands through the safety layer")
    p.add_argument("--source", default="sim", choices=("sim", "real", "virtual"))
    p.add_argument("--topic", default="/joint_command")
    p.add_argument("--type", dest="msg_type", default="joint_state", choices=("joint_state", "joint_trajectory"))
    p.add_argument("--state-topic", default=C.ROS_JOINT_STATES_TOPIC,
                   help="publish the follower's joint states here ('' to disable)")
    p.add_argument("--rate", type=float, default=100.0, help="control rate, Hz (default: 100)")
    p.add_argument("--max-age", type=float, default=0.25, help="drop messages older than this, s (default: 0.25)")
    p.add_argument("--max-step", type=float, default=None, help="safety clamp per step, rad (default: safety layer's)")
    p.add_argument("--watchdog", type=float, default=None, help="safety watchdog timeout, s")
    _follower_args(p)
    _common(p)
    _network_arg(p)
    _report_args(p)
    p.set_defaults(func=_command)

    p = sub.add_parser("record", help="record JointState topics to a rosbag2 MCAP bag")
    p.add_argument("--out", required=True, help="bag path; run.mcap makes run/run.mcap + run/metadata.yaml")
    p.add_argument("--topic", dest="topics", action="append", default=None,
                   help="topic[:joint_state|joint_trajectory], repeatable (default: /joint_states)")
    p.add_argument("--max-messages", type=int, default=None)
    _common(p, depth=100)
    p.set_defaults(func=_record)


def _network_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", action="store_true",
                   help="take part in DDS beyond this machine (CYCLONEDDS_URI / the RMW's setup); default: "
                   "loopback only, since DDS has no authentication and anyone on the domain could command the arm")


def _transport(args) -> dict:
    out = {"backend": args.backend, "domain_id": args.domain_id, "reliable": not args.best_effort,
           "depth": args.depth}
    if hasattr(args, "network"):
        out["network"] = args.network
    return out


def _run(fn, cfg_factory, args) -> int:
    try:
        cfg = cfg_factory()
    except (ValueError, FileExistsError) as e:
        print(f"armtwin bridge {args.bridge_command}: {e}", file=sys.stderr)
        return 2
    from armtwin.robots.safety import SafetyStop

    try:
        report = fn(cfg)
    except (ImportError, FileNotFoundError, ConnectionError, ValueError, SafetyStop) as e:
        # What a user can fix (no ROS 2 for --backend rclpy, a wrong port or calibration file,
        # an unknown env, a bus that failed before the loop): one line, not a traceback.
        print(f"armtwin bridge {args.bridge_command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    # The loop already said why (one line on stdout); the exit status tells scripts.
    return 1 if isinstance(report, dict) and report.get("safety_stop") else 0


def _publish(args) -> int:
    from armtwin.bridge.publisher import PublishConfig, run_publish

    return _run(run_publish, lambda: PublishConfig(
        source=args.source, rate_hz=args.rate, topic=args.topic, frame_id=args.frame_id, duration_s=args.duration,
        motion=args.motion, amplitude=args.amplitude, period_s=args.period, env_id=args.env, port=args.port,
        calibration=args.calibration, robot_id=args.robot_id, wait_for_subscribers=args.wait_for_subscribers,
        wait_timeout_s=args.wait_timeout,
        record=args.record, report=args.report, overwrite=args.overwrite, **_transport(args)), args)


def _mirror(args) -> int:
    from armtwin.bridge.mirror import MirrorConfig, run_mirror

    return _run(run_mirror, lambda: MirrorConfig(
        env_id=args.env, topic=args.topic, twin_topic=args.twin_topic, rate_hz=args.rate, max_age_s=args.max_age,
        duration_s=args.duration, record=args.record, report=args.report, overwrite=args.overwrite,
        **_transport(args)), args)


def _command(args) -> int:
    from armtwin.bridge.command import CommandConfig, run_command

    return _run(run_command, lambda: CommandConfig(
        source=args.source, topic=args.topic, msg_type=args.msg_type, state_topic=args.state_topic or None,
        rate_hz=args.rate, max_age_s=args.max_age, duration_s=args.duration, env_id=args.env, port=args.port,
        calibration=args.calibration, robot_id=args.robot_id, max_step_rad=args.max_step,
        watchdog_s=args.watchdog, record=args.record, report=args.report, overwrite=args.overwrite,
        **_transport(args)), args)


def _record(args) -> int:
    from armtwin.bridge.record import RecordConfig, run_record

    t = _transport(args)
    return _run(run_record, lambda: RecordConfig(
        out=args.out, topics=tuple(args.topics or (C.ROS_JOINT_STATES_TOPIC,)), duration_s=args.duration,
        max_messages=args.max_messages, **t), args)
