"""``armtwin eval`` and ``armtwin run``: thin parsers over :mod:`armtwin.policy.eval` and :mod:`armtwin.policy.run`."""

from __future__ import annotations

import sys


#: EvalConfig fields whose flag is only the field (default and type from the config).
EVAL_FIELDS = ("dist", "seed", "seed_scheme", "videos", "hz", "max_steps", "device", "overwrite")


def _cmd_eval(args) -> int:
    from armtwin.cli_fields import field_values
    from armtwin.policy.eval import EvalConfig, run_eval
    from armtwin.policy.features import FeatureMismatch

    try:
        cfg = EvalConfig(policy=args.policy, env_id=args.env, episodes=args.episodes, out=args.out,
                         workers=args.workers, ray_address=args.ray_address, record=args.record,
                         policy_server=args.policy_server, progress=not args.no_progress,
                         randomize=args.randomize, policy_options=args.policy_option or {},
                         **field_values(args, EvalConfig, EVAL_FIELDS))
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as e:
        print(f"armtwin eval: {e}", file=sys.stderr)
        return 2
    try:
        res = run_eval(cfg)
    except FeatureMismatch as e:
        print(f"armtwin eval: {e}", file=sys.stderr)
        return 2
    except (ConnectionError, TimeoutError) as e:
        print(f"armtwin eval: {e}", file=sys.stderr)
        return 1
    print(f"wrote {cfg.out / 'eval_info.json'}, {cfg.out / 'episodes.jsonl'}"
          + (f", {len(res.video_paths)} videos" if res.video_paths else "")
          + (f", rollouts to {cfg.record}" if cfg.record else ""))
    return 0


def _add_policy_server(p) -> None:
    p.add_argument("--policy-server", metavar="HOST:PORT",
                   help="run the policy on LeRobot's async inference server (python -m "
                   "lerobot.async_inference.policy_server) instead of here. The server unpickles what it receives "
                   "and this client unpickles its replies: use only a server you trust, on loopback or a private "
                   "network (the server binds 127.0.0.1 by default). --policy is then the path or hub id the "
                   "server loads")


def add_eval(subparsers) -> None:
    from armtwin.cli_fields import add_field
    from armtwin.policy.episodes import SEED_SCHEMES
    from armtwin.policy.eval import DISTRIBUTIONS, EvalConfig

    p = subparsers.add_parser(
        "eval", help="evaluate a LeRobot policy in the twin: success rate, failure reasons, videos",
        description="Headless evaluation of a LeRobot pretrained policy (what lerobot-train writes under "
        "checkpoints/*/pretrained_model) on an armtwin task, as fast as the machine allows. Episode i is seeded "
        "from (--seed, i): results do not depend on --workers or Ray. Writes OUT/eval_info.json (lerobot-eval's "
        "keys), OUT/episodes.jsonl (with each failure's reason) and OUT/videos/*.mp4.",
    )
    p.add_argument("--policy", required=True, help="pretrained_model directory (or a lerobot-train output dir)")
    p.add_argument("--env", required=True, help="task id (see `armtwin envs`)")
    p.add_argument("--episodes", type=int, default=50, help="episodes to run [50]")
    add_field(p, EvalConfig, "dist", "reset distribution", choices=DISTRIBUTIONS)
    add_field(p, EvalConfig, "seed", "evaluation seed: episode i is seeded from (seed, i)")
    add_field(p, EvalConfig, "seed_scheme", "how episode i gets its seed: armtwin (a hash of (seed, i)) or lerobot "
              "(seed + i, as lerobot-eval --seed does: the same scenes as LeRobot's evaluator)", choices=SEED_SCHEMES)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=1, help="local worker processes [1]")
    g.add_argument("--ray-address", help="run the episodes on this Ray cluster (e.g. auto)")
    add_field(p, EvalConfig, "videos", "write MP4s of the first N episodes")
    p.add_argument("--record", help="also keep the rollouts as an armtwin HDF5 recording (DIR/rollouts.h5)")
    add_field(p, EvalConfig, "hz", "control rate the policy was trained at")
    add_field(p, EvalConfig, "max_steps", "episode horizon in steps [the task's]")
    add_field(p, EvalConfig, "device", "torch device (the server's with --policy-server)")
    p.add_argument("--randomize", default=None, help="domain randomization preset of the evaluation scenes (none, "
                   "visual, physics, all; docs/randomization.md) [none]")
    p.add_argument("--policy-option", action="append", metavar="KEY=VALUE",
                   help="change the policy's config for this evaluation, as lerobot-eval's --policy.KEY=VALUE "
                   "(repeatable; e.g. n_action_steps=1 with temporal_ensemble_coeff=0.01 for ACT's temporal "
                   "ensembling); the names are the keys of its config.json")
    _add_policy_server(p)
    p.add_argument("--out", required=True, help="output directory (must not exist unless --overwrite)")
    add_field(p, EvalConfig, "overwrite", "write into an existing --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)


def _cmd_run(args) -> int:
    from armtwin.policy.features import FeatureMismatch
    from armtwin.policy.run import run_policy
    from armtwin.robots.safety import SafetyStop

    kw = dict(env_id=args.env, target=args.target, follower_port=args.follower_port, follower_id=args.follower_id,
              follower_calibration_dir=args.follower_calibration_dir,
              restore_calibration=args.restore_calibration, record=args.record, episodes=args.episodes,
              episode_steps=args.episode_steps, duration_s=args.duration, hz=args.hz, seed=args.seed,
              policy_device=args.device, reset_s=args.reset_s, policy_server=args.policy_server)
    try:
        loop = run_policy(policy=args.policy, keys=not args.headless, cameras=tuple(args.camera or ()),
                          twin_cameras=args.twin_cameras, **kw)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as e:
        # FeatureMismatch is a ValueError: raised before the loop commands anything.
        what = "the policy does not fit the follower" if isinstance(e, FeatureMismatch) else "error"
        print(f"armtwin run: {what}: {e}", file=sys.stderr)
        return 2
    except (SafetyStop, TimeoutError, ConnectionError) as e:
        print(f"armtwin run: {e}", file=sys.stderr)
        return 1
    n_ok = sum(r.success for r in loop.results)
    print(f"episodes: {len(loop.results)} (success {n_ok})" + (f", recorded to {args.record}" if args.record else ""))
    from armtwin.teleop.cli import end_status

    return end_status(loop, "armtwin run")


def add_run(subparsers) -> None:
    from armtwin.teleop.factory import TARGET_KINDS
    from armtwin.teleop.loop import EPISODE_KEYS

    keys = ", ".join(f"{'space' if k == ' ' else k}={v}" for k, v in EPISODE_KEYS.items())
    p = subparsers.add_parser(
        "run", help="let a LeRobot policy drive the simulated or the real SO-101 in real time",
        description="The policy as the leader of the teleop loop: same safety layer, recorder and --target switch "
        f"as `armtwin teleop`. Episode keys on a terminal: {keys}. Inputs are checked against the follower "
        "before anything moves.",
    )
    p.add_argument("--policy", required=True, help="pretrained_model directory (or a lerobot-train output dir)")
    p.add_argument("--env", default="armtwin/SO101-Lift-v0", help="task id: the sim scene, or the real task's name")
    p.add_argument("--target", choices=TARGET_KINDS, default="sim", help="simulated or real follower [sim]")
    p.add_argument("--follower-port", help="--target real: the follower arm's serial port")
    p.add_argument("--follower-id", help="LeRobot calibration id of the real follower")
    p.add_argument("--follower-calibration-dir", help="directory of <follower-id>.json")
    p.add_argument("--restore-calibration", action="store_true",
                   help="an arm that holds what an unfinished lerobot-calibrate leaves (every range 0..4095): write "
                   "its id's calibration file back to its motors (LeRobot's ENTER at its prompt) instead of refusing")
    p.add_argument("--camera", action="append", metavar="NAME=DEVICE[@WxH]",
                   help="--target real: a camera through LeRobot's OpenCV driver, e.g. wrist=/dev/video0 (repeat; "
                   "size: the policy's unless @WxH)")
    p.add_argument("--twin-cameras", metavar="SOCKET",
                   help="--target real on a virtual arm: the policy's other cameras rendered by its twin (the "
                   "--frame-socket of armtwin virtual-arm --role follower --env ID)")
    p.add_argument("--episodes", type=int, default=1, help="episodes to run [1]")
    p.add_argument("--episode-steps", type=int, help="longest episode, in steps [sim: the env's horizon]")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--hz", type=float, default=30.0, help="control rate [30]")
    p.add_argument("--reset-s", type=float, help="reset period after each episode, s [sim 0, real 10]")
    p.add_argument("--seed", type=int, default=0, help="episode k resets the sim with seed+k [0]")
    p.add_argument("--record", help="HDF5 file to record the episodes into")
    p.add_argument("--device", default="cpu", help="torch device (the server's with --policy-server) [cpu]")
    _add_policy_server(p)
    p.add_argument("--headless", action="store_true", help="do not read keys from the terminal")
    p.set_defaults(func=_cmd_run)
