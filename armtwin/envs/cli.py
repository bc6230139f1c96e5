"""``armtwin envs`` and ``armtwin rollout``: thin commands over :mod:`armtwin.envs`.

``armtwin envs``: one line per env id.
``armtwin rollout --env ID --expert --episodes N --seed S [--video out.mp4]``: roll the scripted expert,
print the success rate, and optionally write an MP4 (front | wrist side by side) a person can watch.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from armtwin.envs import ENV_IDS, TASKS, check_env_id
from armtwin.video import Mp4Writer

#: ``armtwin rollout`` flags that are :class:`RolloutConfig` fields of the same name
#: (:func:`armtwin.cli_fields.add_field`: the default and type live in the config).
ROLLOUT_FIELDS = ("episodes", "seed", "noise", "video", "overwrite")


def add_envs(subparsers) -> None:
    p = subparsers.add_parser("envs", help="list the simulated environments")
    p.set_defaults(func=_run_envs)


def _run_envs(args) -> int:
    width = max(len(k) for k in ENV_IDS)
    for env_id, task in TASKS.items():
        print(f"{env_id:<{width}}  {task.description}")
    return 0


@dataclass(kw_only=True)
class RolloutConfig:
    """One ``armtwin rollout`` run. env_id: an id of ENV_IDS; episodes >= 1; seed: first reset seed
    (episode i uses seed + i); expert: roll the scripted expert (the only policy this command knows);
    noise: expert action noise, radians; video: MP4 path or None (an existing one is replaced only with
    overwrite); image_size: (H, W) of each camera in the video; reset_distribution: "D0" or "D1"."""

    env_id: str
    episodes: int = 10
    seed: int = 0
    expert: bool = True
    noise: float = 0.0
    video: str | None = None
    image_size: tuple[int, int] = (240, 320)
    reset_distribution: str = "D0"
    overwrite: bool = False

    def __post_init__(self):
        from armtwin.cli_fields import check_count, check_image_size, check_number
        from armtwin.staging import check_output

        check_env_id(self.env_id)
        self.image_size = check_image_size(self.image_size, what="--size")
        if self.image_size is None:
            raise ValueError("--size must be H W (the video's camera size)")
        check_count(self.episodes, what="--episodes", optional=False)
        check_count(self.seed, what="--seed", minimum=0, optional=False)  # gymnasium takes no negative seed
        if not self.expert:
            raise ValueError("rollout needs a policy: pass --expert (the scripted expert is the only one here)")
        self.noise = check_number(self.noise, what="--noise (radians)", minimum=0, optional=False)
        if self.video is not None and not self.video.lower().endswith(".mp4"):
            raise ValueError(f"video must be an .mp4 path, got {self.video!r}")
        if self.video is not None:
            check_output(self.video, overwrite=self.overwrite, what="--video")
        if self.reset_distribution not in ("D0", "D1"):
            raise ValueError(f"reset_distribution must be D0 or D1, got {self.reset_distribution!r}")


def rollout(cfg: RolloutConfig, *, progress: bool = True) -> dict:
    """Roll the expert for ``cfg.episodes`` episodes. Returns {"successes": [bool], "success_rate": float,
    "steps": [int], "video": path or None}. The video is written to a temp file beside it
    (:func:`armtwin.staging.staged_file`), then renamed; a failed run leaves no video behind."""
    from contextlib import ExitStack, closing

    import numpy as np
    from tqdm import tqdm

    from armtwin.envs import make
    from armtwin.envs.experts import make_expert, run_episode
    from armtwin.staging import staged_file

    env = make(cfg.env_id, image_size=None, reset_distribution=cfg.reset_distribution)
    u = env.unwrapped

    def frame():
        ims = u.render_images(image_size=cfg.image_size, cameras=("front", "wrist"))
        return np.concatenate([ims["front"], ims["wrist"]], axis=1)

    successes, steps = [], []
    bar = tqdm(range(cfg.episodes), desc=f"rollout {cfg.env_id}", unit="ep", disable=not progress)
    try:
        # Unwound last-in first-out: the writer is closed before the staged file is renamed (or removed).
        with ExitStack() as stack:
            writer = None
            if cfg.video:
                # exists=False: PyAV creates the file (with the umask's permissions, not mkstemp's 0600)
                tmp = stack.enter_context(staged_file(Path(cfg.video), exists=False))
                writer = stack.enter_context(closing(Mp4Writer(str(tmp), fps=round(1.0 / u.config.ctrl_dt))))
            for i in bar:
                expert = make_expert(cfg.env_id, noise=cfg.noise, seed=cfg.seed + i)
                # a frame of the state before every step, then the final state
                ok, n = run_episode(env, expert, seed=cfg.seed + i,
                                    before_step=(lambda obs, action: writer.write(frame())) if writer else None)
                if writer:
                    writer.write(frame())
                successes.append(ok)
                steps.append(n)
                bar.set_postfix(success=f"{np.mean(successes):.0%}")
    finally:
        env.close()
    return {
        "successes": successes,
        "success_rate": float(np.mean(successes)),
        "steps": steps,
        "video": cfg.video,
    }


def add_rollout(subparsers) -> None:
    from armtwin.cli_fields import add_field

    p = subparsers.add_parser("rollout", help="roll the scripted expert in an env, print success, write a video")
    p.add_argument("--env", required=True, help=f"env id, one of: {', '.join(ENV_IDS)}")
    p.add_argument("--expert", action="store_true", help="use the scripted expert (required)")
    add_field(p, RolloutConfig, "episodes", None)
    add_field(p, RolloutConfig, "seed", "seed of the first episode (episode i: seed + i)")
    add_field(p, RolloutConfig, "noise", "expert action noise, radians (std)")
    p.add_argument("--dist", default="D0", choices=("D0", "D1"), help="reset distribution")
    add_field(p, RolloutConfig, "video", "write front|wrist MP4 here")
    p.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"), help="camera size in the video")
    add_field(p, RolloutConfig, "overwrite", "replace an existing --video")
    p.set_defaults(func=_run_rollout)


def _run_rollout(args: argparse.Namespace) -> int:
    from armtwin.cli_fields import field_values

    try:
        cfg = RolloutConfig(
            env_id=args.env,
            expert=args.expert,
            image_size=tuple(args.size),
            reset_distribution=args.dist,
            **field_values(args, RolloutConfig, ROLLOUT_FIELDS),
        )
    except ValueError as e:
        print(f"armtwin rollout: {e}", file=sys.stderr)
        return 2
    res = rollout(cfg)
    n = len(res["successes"])
    print(f"{cfg.env_id} {cfg.reset_distribution}: success {sum(res['successes'])}/{n} = {res['success_rate']:.1%}")
    if res["video"]:
        print(f"video: {res['video']}")
    return 0
