"""``armtwin teleop``, ``armtwin inspect`` and ``armtwin virtual-arm``: thin parsers over the library."""

from __future__ import annotations

import argparse
import json
import sys

#: ``armtwin teleop`` flags that are :class:`armtwin.teleop.factory.TeleopConfig` fields of the same name
#: (:func:`armtwin.cli_fields.add_field`: the default and type live in the config).
TELEOP_FIELDS = ("robot", "leader", "target", "port", "leader_id", "leader_calibration_dir", "follower_port",
                 "follower_id", "follower_calibration_dir", "restore_calibration", "replay", "record", "resume",
                 "compression", "flush_every", "episodes", "episode_steps", "hz", "reset_s", "seed", "image_size",
                 "expert_noise")


def _cmd_inspect(args) -> int:
    from armtwin.data import format_summary, summarize

    try:
        s = summarize(args.file)
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"armtwin inspect: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(s, indent=2, default=list))
    else:
        print(format_summary(s))
    if s["errors"]:  # a demo every reader refuses is a finding, not a detail of the summary
        print(f"armtwin inspect: {'error' if args.check else 'warning'}: {args.file}: {len(s['errors'])} invalid "
              "episode(s) that every reader refuses: " + "; ".join(s["errors"].values()), file=sys.stderr)
        return 1 if args.check else 0
    return 0


def add_inspect(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="summarise an HDF5 recording (episodes, lengths, success, keys, shapes)",
        description="Summarise an armtwin/robomimic HDF5 recording. Demos that every reader refuses (e.g. one "
                    "without actions) are listed as invalid, with a warning on stderr; with --check the exit "
                    "status is then 1.",
    )
    p.add_argument("file", help="the .h5/.hdf5 recording")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--check", action="store_true", help="exit 1 when a demo is invalid (every reader refuses it)")
    p.set_defaults(func=_cmd_inspect)


def _size(text: str):
    if text.lower() == "none":
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image size must be HxW (e.g. 128x128) or none, got {text!r}") from None
    return (h, w)


def _cmd_teleop(args) -> int:
    from armtwin.cli_fields import field_values
    from armtwin.teleop.factory import TeleopConfig, run_publish, run_teleop

    try:
        cfg = TeleopConfig(
            env_id=args.env,
            replay_demo=args.demo,
            net_listen=args.listen,
            duration_s=args.duration,
            **field_values(args, TeleopConfig, TELEOP_FIELDS),
            env_kwargs={k: v for k, v in (("randomize", args.randomize),
                                          ("servo_calibration", args.servo_calibration)) if v is not None},
            use_degrees=False if args.range_m100_100 else None,
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"armtwin teleop: {e}", file=sys.stderr)
        return 2
    if args.publish:
        try:
            sent = run_publish(cfg, args.publish)
        except (ValueError, KeyError, ConnectionError, FileNotFoundError) as e:
            print(f"armtwin teleop: {e}", file=sys.stderr)
            return 1
        print(f"published {sent} actions to {args.publish}")
        return 0
    from armtwin.data import RecordingError
    from armtwin.robots.safety import SafetyStop

    try:
        loop = run_teleop(cfg, keys=not args.headless)
    except SafetyStop as e:  # stopped before the loop ran (e.g. the first observation at reset)
        print(f"armtwin teleop: the safety layer stopped the follower: {e}", file=sys.stderr)
        return 1
    except FileExistsError as e:
        print(f"armtwin teleop: {e}", file=sys.stderr)
        return 2
    except RecordingError as e:  # a bad file, found when it was opened
        print(f"armtwin teleop: {e}", file=sys.stderr)
        return 1
    except (KeyError, TimeoutError, ConnectionError, FileNotFoundError) as e:
        # Bad input found at connect time (missing episode, silent publisher, unplugged arm).
        print(f"armtwin teleop: {e.args[0] if isinstance(e, KeyError) and e.args else e}", file=sys.stderr)
        return 1
    except OSError as e:  # e.g. --leader net: the --listen port is taken (the message says which)
        print(f"armtwin teleop: {e}", file=sys.stderr)
        return 1
    n_ok = sum(r.success for r in loop.results)
    print(f"episodes: {len(loop.results)} (success {n_ok})" + (f", recorded to {cfg.record}" if cfg.record else ""))
    from armtwin.teleop.net import NetLeader

    if isinstance(loop.leader, NetLeader):
        print(loop.leader.summary())
    return end_status(loop, "armtwin teleop")


def end_status(loop, prog: str) -> int:
    """The exit status of a finished session's loop, with the reason on stderr: 1 after a safety stop
    or stale input, 128 + N after stop signal N (closed cleanly), else 0. Shared by ``armtwin run``."""
    if loop.safety_stop:
        print(f"{prog}: the safety layer stopped the follower: {loop.safety_stop}. It holds its last "
              "clamped goal; fix the cause (cable, power, bus) and run again.", file=sys.stderr)
        return 1
    if loop.input_lost:
        kept = bool(loop.results) and loop.results[-1].end_reason == "stale_input"
        what = (f"The episode in progress was kept as a failure (end_reason=stale_input) without its last "
                f"{loop.stale_trimmed} hold-only steps; " if kept else "No episode was in progress with fresh input; ")
        print(f"{prog}: the leader's input went stale: {loop.input_lost}. {what}the session ended. Check the "
              "publisher and the network, then run again (--resume to add to the recording).", file=sys.stderr)
        return 1
    if loop.stop_signal is not None:
        import signal

        name = signal.Signals(loop.stop_signal).name
        print(f"{prog}: stopped by {name}; the session was closed cleanly", file=sys.stderr)
        return 128 + int(loop.stop_signal)
    return 0


def add_teleop(subparsers) -> None:
    from armtwin.cli_fields import add_field
    from armtwin.teleop.factory import COMPRESSIONS, TARGET_KINDS, TeleopConfig
    from armtwin.teleop.leader_builders import TELEOP_LEADER_KINDS
    from armtwin.teleop.loop import EPISODE_KEYS

    keys = ", ".join(f"{'space' if k == ' ' else k}={v}" for k, v in EPISODE_KEYS.items())
    p = subparsers.add_parser(
        "teleop",
        help="teleoperate the simulated or the real SO-101 from a leader, optionally recording HDF5",
        description="Fixed-rate teleoperation: leader -> (safety layer) -> follower, recorded to HDF5 "
        f"(robomimic layout). Episode keys on a terminal: {keys}; keyboard leader: w/s a/d i/k move the "
        "gripper in x/y/z, j/l roll, o/c open/close. Without a terminal (or with --headless) episodes "
        "start by themselves and end on success or after --episode-steps (sim: at the env's horizon).",
    )
    p.add_argument("--env", default=None, help="task id (see `armtwin envs`) [the robot's first: armtwin/SO101-Lift-v0]")
    from armtwin.robots.registry import ROBOTS

    add_field(p, TeleopConfig, "robot", "the arm (default: the --env task's); --leader so101|omx must name the "
              "same arm", choices=tuple(ROBOTS))
    add_field(p, TeleopConfig, "leader", "who leads (a policy: armtwin run --policy PATH)", choices=TELEOP_LEADER_KINDS)
    add_field(p, TeleopConfig, "target", "simulated or real follower", choices=TARGET_KINDS)
    add_field(p, TeleopConfig, "port", "--leader so101|omx: the leader arm's serial port")
    add_field(p, TeleopConfig, "leader_id", "LeRobot calibration id of the leader arm")
    add_field(p, TeleopConfig, "leader_calibration_dir", "directory of <leader-id>.json (LeRobot's default if unset)")
    add_field(p, TeleopConfig, "follower_port", "--target real: the follower arm's serial port")
    add_field(p, TeleopConfig, "follower_id", "LeRobot calibration id of the real follower")
    add_field(p, TeleopConfig, "follower_calibration_dir", "directory of <follower-id>.json")
    add_field(p, TeleopConfig, "restore_calibration",
              "an arm that holds what an unfinished lerobot-calibrate leaves (every range 0..4095): write "
              "its id's calibration file back to its motors (LeRobot's ENTER at its prompt) instead of refusing")
    add_field(p, TeleopConfig, "replay", "--leader replay: the HDF5 recording")
    p.add_argument("--demo", default=0, type=int, help="--leader replay: episode number [0]")
    p.add_argument("--listen", default="127.0.0.1:5555", help="--leader net: HOST:PORT to receive on")
    p.add_argument("--publish", metavar="HOST:PORT",
                   help="send the leader's actions over UDP to a `--leader net` session instead of driving a follower")
    add_field(p, TeleopConfig, "record", "HDF5 file to record episodes into")
    add_field(p, TeleopConfig, "resume", "append to an existing --record file")
    add_field(p, TeleopConfig, "compression", None, choices=COMPRESSIONS)
    add_field(p, TeleopConfig, "flush_every", "steps between writes to disk")
    add_field(p, TeleopConfig, "episodes", "stop after this many recorded episodes")
    add_field(p, TeleopConfig, "episode_steps", "longest episode, in steps [sim: the env's horizon]")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    add_field(p, TeleopConfig, "hz", "control rate, 1..60 [30; replay: the recording's]")
    add_field(p, TeleopConfig, "reset_s", "reset period after each episode, s [sim 0, real 10]")
    add_field(p, TeleopConfig, "seed", "episode k resets the sim with seed+k")
    add_field(p, TeleopConfig, "image_size", "sim camera HxW or none", type=_size)
    p.add_argument("--randomize", default=None, help="sim: domain randomization preset (none, visual, physics, "
                   "all; armtwin.envs.randomize_config) [none]")
    p.add_argument("--servo-calibration", default=None, metavar="PATH",
                   help="sim: the twin's servo model, the file `armtwin twin-gap --fit` writes [identified defaults]")
    p.add_argument("--range-m100-100", action="store_true", help="body joints in -100..100 instead of degrees")
    add_field(p, TeleopConfig, "expert_noise", "--leader scripted: action noise")
    p.add_argument("--headless", action="store_true", help="do not read keys from the terminal")
    p.set_defaults(func=_cmd_teleop)


def add_virtual_arm(subparsers) -> None:
    """``armtwin virtual-arm`` lives with the virtual hardware (armtwin.hardware.cli)."""
    from armtwin.hardware.cli import add_virtual_arm as add

    add(subparsers)
