"""``armtwin virtual-arm``: run a virtual SO-101 leader or follower on a pseudo-terminal until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: ``armtwin virtual-arm`` flags that are :class:`armtwin.hardware.virtual_arm.VirtualArmConfig` fields of the
#: same name (:func:`armtwin.cli_fields.add_field`: the default and type live in the config).
VIRTUAL_ARM_FIELDS = ("script", "servo_calibration", "calibration", "id", "frame_socket")


def add_virtual_arm(subparsers) -> None:
    from armtwin.cli_fields import add_field
    from armtwin.hardware.virtual_arm import FAULT_KINDS, ROLES, SCRIPTS, VirtualArmConfig

    p = subparsers.add_parser(
        "virtual-arm",
        help="serve a virtual SO-101 arm (six STS3215 servos) on a pseudo-terminal for LeRobot's drivers",
        description="Start a virtual SO-101 arm whose Feetech bus LeRobot drives unmodified. Prints the port "
        "and the calibration id/dir to pass to LeRobot (--robot.port/--robot.id/--robot.calibration_dir).",
    )
    from armtwin.robots.registry import ROBOTS

    p.add_argument("--robot", choices=sorted(ROBOTS), default="so101", help="which arm to emulate [so101]")
    p.add_argument("--role", choices=ROLES, required=True)
    add_field(p, VirtualArmConfig, "script",
              f"leader motion: {' | '.join(SCRIPTS)} | FILE.h5 (replay a recorded demo's actions)")
    p.add_argument("--env", dest="env_id", default=None, help="follower: drive this armtwin sim env (the twin)")
    add_field(p, VirtualArmConfig, "servo_calibration",
              "follower with --env: the twin's servo model (the file `armtwin twin-gap --fit` writes) [identified "
              "defaults]", metavar="PATH")
    add_field(p, VirtualArmConfig, "calibration", "LeRobot calibration JSON to emulate (e.g. your real arm's)")
    p.add_argument(
        "--calibration-dir",
        default=None,
        help="where to write <id>.json for LeRobot [LeRobot's default dir for the role]",
    )
    add_field(p, VirtualArmConfig, "id", "calibration id [armtwin_virtual_<role>]")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help=f"inject a fault ({', '.join(FAULT_KINDS)}), e.g. corrupt:3, delay:2:80, drop-rate:0.01, error:3:32, disconnect",
    )
    p.add_argument(
        "--faults-after", type=float, default=0.0, metavar="S",
        help="start the faults S seconds after launch, e.g. once LeRobot has connected [0]",
    )
    p.add_argument(
        "--priority-boost", type=int, default=0, metavar="N",
        help="lower this process's nice value by N (needs permission) so a busy machine does not make "
        "the virtual servos miss LeRobot's ~50 ms reply deadline [0]",
    )
    add_field(p, VirtualArmConfig, "frame_socket",
              "follower with --env: serve the twin's camera frames on this Unix socket (LeRobot camera type "
              "armtwin_twin; armtwin run --target real --twin-cameras PATH)", metavar="PATH")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds [run until Ctrl-C]")
    p.set_defaults(func=run_virtual_arm)


def virtual_arm_calibration_dir(role: str) -> Path:
    """Where ``armtwin virtual-arm --role ROLE`` keeps its calibration file by default: the folder LeRobot
    looks in (``armtwin.robots.calibration``), so LeRobot's drivers find the virtual arm's file."""
    from armtwin.robots.calibration import lerobot_calibration_dir

    return lerobot_calibration_dir(role)


def run_virtual_arm(args: argparse.Namespace) -> int:
    from armtwin.cli_fields import field_values
    from armtwin.hardware.virtual_arm import VirtualArm, VirtualArmConfig
    from armtwin.cli_fields import check_number
    from armtwin.robots.registry import get

    try:  # the serve loop's, not the arm's: checked before any arm (pty, calibration file) exists
        check_number(args.duration, what="--duration (s)", minimum=0, exclusive=True)
    except ValueError as e:
        print(f"armtwin virtual-arm: {e}", file=sys.stderr)
        return 2
    spec = get(getattr(args, "robot", "so101"))
    if spec.virtual_arm != "armtwin.hardware.virtual_arm:VirtualArm":
        return _run_registered_arm(spec, args)

    try:
        config = VirtualArmConfig(
            role=args.role,
            env_id=args.env_id,
            calibration_dir=Path(args.calibration_dir or virtual_arm_calibration_dir(args.role)),
            faults=tuple(args.fault),
            faults_after_s=args.faults_after,
            **field_values(args, VirtualArmConfig, VIRTUAL_ARM_FIELDS),
        )
    except (ValueError, KeyError) as e:
        print(f"armtwin virtual-arm: {e}", file=sys.stderr)
        return 2
    if args.priority_boost:
        import os

        try:
            os.nice(-args.priority_boost)
        except OSError as e:
            print(f"armtwin virtual-arm: cannot raise priority ({e}); running at normal priority", file=sys.stderr)
    try:
        arm = VirtualArm(config).start()
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"armtwin virtual-arm: {e}", file=sys.stderr)
        return 2
    lines = [f"port: {arm.port}", f"id: {arm.id}", f"calibration_dir: {arm.calibration_dir}",
             f"calibration: {arm.calibration_path}"]
    if arm.frame_socket:
        lines.append(f"frame_socket: {arm.frame_socket}")
    kind = "robot" if args.role == "follower" else "teleop"
    lines.append(f"LeRobot: --{kind}.port={arm.port} --{kind}.id={arm.id} --{kind}.calibration_dir={arm.calibration_dir}")
    return _serve(arm, lines, args.duration)


def _run_registered_arm(spec, args: argparse.Namespace) -> int:
    """A robot whose virtual arm needs no calibration file (LeRobot calibrates it unattended)."""
    twin_only = [flag for flag, value in (("--env", args.env_id), ("--servo-calibration", args.servo_calibration),
                                          ("--frame-socket", args.frame_socket)) if value is not None]
    if twin_only:
        # This robot's virtual servos are plants, not its MuJoCo twin: saying so beats ignoring the flags.
        print(f"armtwin virtual-arm: {', '.join(twin_only)} drive(s) a virtual follower from the MuJoCo twin, which "
              f"only --robot so101 has; --robot {spec.name} serves servo plants", file=sys.stderr)
        return 2
    try:
        config = spec.resolve("virtual_arm_config")(role=args.role, script=args.script, faults=tuple(args.fault), id=args.id)
        arm = spec.resolve("virtual_arm")(config).start()
    except (ValueError, KeyError) as e:
        print(f"armtwin virtual-arm: {e}", file=sys.stderr)
        return 2
    kind = "robot" if args.role == "follower" else "teleop"
    return _serve(arm, [f"port: {arm.port}", f"LeRobot: --{kind}.port={arm.port} --{kind}.id={arm.id}"], args.duration)


def _serve(arm, lines: list[str], duration: float | None) -> int:
    """Print what to hand to LeRobot, serve until ``duration`` s (None: until Ctrl-C), close, print the counts."""
    try:
        for line in lines:
            print(line, flush=True)
        t_end = None if duration is None else time.monotonic() + duration
        while t_end is None or time.monotonic() < t_end:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        c = arm.bus.counters
        print(f"served {c.rx_packets} packets ({c.instructions}), {c.bad_checksums} bad checksums", file=sys.stderr)
        arm.close()
    return 0
