"""The main job, ``armtwin demo``: the whole twin pipeline on the embedded MuJoCo default.

1. record scripted source demos of a task through the teleop loop (expert leader -> sim follower
   -> HDF5 recorder), exactly as a human's demos would be recorded;
2. annotate their subtask boundaries from the env's subtask signals;
3. generate new demos MimicGen-style (headless attempts, worker processes, re-render what is kept);
4. convert the generated demos into a LeRobot v3 dataset;
5. write a video of a few generated demos side by side with the source demo each was built from;
6. train a policy on the generated demos with LeRobot's own trainer (``lerobot-train``): an ACT on
   joint state plus the task objects' positions (``observation.environment_state``), because an image
   policy does not reach a useful success rate in a few minutes of CPU training (the image dataset of
   stage 4 is what a GPU run would train on);
7. evaluate that policy in the twin (``armtwin eval``) on scenes it has not seen, and print its success rate.

Every stage prints its own table; the last table lists each stage's time and output. Outputs go to
``out_dir`` (default ``runs/demo``); a stage's output is written under a temporary name by that stage
and replaced only when it is complete.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from armtwin.assets import so101_constants as C
from armtwin.cli_fields import check_count, check_image_size, check_number


#: What ``armtwin demo`` writes in its ``out_dir``: stage -> name.
OUTPUTS = {
    "sources": "sources.h5",
    "annotated": "sources_annotated.h5",
    "generated": "generated.h5",
    "dataset": "lerobot",
    "video": "generated_vs_source.mp4",
    "state_dataset": "lerobot_state",
    "policy": "policy",
    "eval": "eval",
}


@dataclass(kw_only=True)
class DemoConfig:
    """``armtwin demo``.

    out_dir: where every stage writes. env_id: the task. sources: scripted source demos recorded through
    the teleop loop. generate: successful demos to generate. workers: generation processes. seed: run seed.
    image_size: (H, W) camera frames of the recorded and generated demos. hz: teleop loop rate (also the
    dataset fps). vcodec: LeRobot video codec. side_by_side: generated demos shown in the video.
    train: run stages 6-7 (needs LeRobot); train_steps: lerobot-train steps (batch 32); eval_episodes:
    evaluation episodes in the twin (seeded apart from every scene the demos came from). overwrite:
    replace the outputs of an earlier run in ``out_dir`` (:data:`OUTPUTS`); without it such a folder is
    refused.
    """

    out_dir: Path = Path("runs/demo")
    env_id: str = "armtwin/SO101-PickPlace-v0"
    sources: int = 10
    generate: int = 100
    workers: int = 2
    seed: int = 0
    image_size: tuple[int, int] = (128, 128)
    hz: float = 30.0
    vcodec: str = "h264"
    side_by_side: int = 4
    expert_noise: float = 0.005
    train_steps: int = 2000
    eval_episodes: int = 20
    train: bool = True
    overwrite: bool = False

    @property
    def repo_id(self) -> str:
        """The LeRobot dataset's repo id, named after the task: PickPlace -> armtwin/so101_pickplace_mimic."""
        task = self.env_id.split("/")[-1].rsplit("-v", 1)[0]  # SO101-PickPlace
        return f"armtwin/{task.lower().replace('-', '_')}_mimic"

    def __post_init__(self):
        from armtwin.envs import check_env_id

        check_env_id(self.env_id)
        self.out_dir = Path(self.out_dir)
        for name in ("sources", "generate", "workers", "train_steps", "eval_episodes"):
            check_count(getattr(self, name), what="--" + name.replace("_", "-"), optional=False)
        check_count(self.seed, what="--seed", minimum=0, optional=False)
        if self.side_by_side < 0:
            raise ValueError(f"--side-by-side must be >= 0, got {self.side_by_side}")
        self.image_size = check_image_size(self.image_size)
        check_number(self.hz, what="hz", minimum=0, exclusive=True, optional=False)
        check_number(self.expert_noise, what="expert_noise", minimum=0, optional=False)
        # Stage 4 encodes with it: a codec this build lacks must fail now, not after stages 1-3.
        from armtwin.convert.lerobot_video import check_vcodec

        check_vcodec(self.vcodec)
        from armtwin.staging import check_output

        check_output(self.out_dir, overwrite=True, kind="dir", what="--out-dir")
        found = [n for n in OUTPUTS.values() if (self.out_dir / n).exists()]
        if found and not self.overwrite:
            raise ValueError(f"--out-dir {self.out_dir} holds an earlier run's outputs ({', '.join(found)}); "
                             "pass --overwrite to replace them, or choose another --out-dir")


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def record_sources(cfg: DemoConfig, path: Path) -> dict:
    """Stage 1: scripted demos through the same teleop loop a human uses."""
    from armtwin.data import format_summary, summarize
    from armtwin.staging import staged_file
    from armtwin.teleop.factory import TeleopConfig, run_teleop

    # an interrupted recording must not be mistaken for a complete one: it becomes ``path`` only whole
    with staged_file(path, exists=False) as tmp:
        loop = run_teleop(
            TeleopConfig(
                env_id=cfg.env_id,
                leader="scripted",
                target="sim",
                record=tmp,
                episodes=cfg.sources,
                hz=cfg.hz,
                seed=cfg.seed,
                image_size=cfg.image_size,
                expert_noise=cfg.expert_noise,
            )
        )
    summary = summarize(path)
    print(format_summary(summary))
    return {"loop": loop, "summary": summary}


def _label(text: str, width: int, *, height: int = 20, color=(255, 255, 255)):
    """(height, width, 3) uint8: ``text`` in ``color`` on a dark strip (a caption for a video panel)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (width, height), (30, 30, 30))
    try:
        font = ImageFont.load_default(size=max(8, height - 6))
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    ImageDraw.Draw(img).text((4, 2), text, fill=color, font=font)
    return np.asarray(img)


def side_by_side_video(sources_h5: Path, generated_h5: Path, out: Path, *, count: int, fps: float,
                       scale: int = 2) -> list[dict]:
    """Stage 5: for ``count`` generated demos, the source demo it was built from (left) next to it (right).

    Each panel: a caption (which demo), then the front camera over the wrist camera, upscaled ``scale``
    times (nearest pixel) so 128x128 frames are watchable; clips one after the other, the shorter side
    holding its last frame. The source shown is that of the first subtask (``src_demo_names[0]``); the
    caption lists every subtask's source. Written to a temp file, renamed when complete; returns one
    {"generated": name, "sources": [name per subtask], "frames": int} per clip (none: nothing written).
    Raises KeyError when a generated demo names a source that ``sources_h5`` lacks.
    """
    import numpy as np

    from contextlib import closing as _closing

    from armtwin.data import demo_name, open_recording
    from armtwin.staging import staged_file
    from armtwin.video import Mp4Writer

    def column(demo) -> np.ndarray:  # (T, H*k*scale, W*scale, 3)
        cams = demo.children("obs/images")
        ims = [demo[f"obs/images/{c}"] for c in C.CAMERA_NAMES[::-1] if c in cams]
        col = np.concatenate(ims, axis=1) if len(ims) > 1 else ims[0]
        return col.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else col

    clips: list[dict] = []
    with staged_file(out) as tmp, _closing(Mp4Writer(str(tmp), fps=round(fps))) as writer:
        with open_recording(sources_h5) as fs, open_recording(generated_h5) as fg:
            for name in fg.demo_names[:count]:
                g = fg.demo(name)
                attrs = g.attrs
                if "src_demo_names" in attrs:
                    src_names = [str(n) for n in json.loads(attrs["src_demo_names"])]
                else:
                    src_names = [demo_name(int(i)) for i in np.atleast_1d(attrs["src_demo_inds"])]
                if src_names[0] not in fs.demo_names:
                    raise KeyError(f"{generated_h5}:{name} was built from {src_names[0]!r}, which {sources_h5} "
                                   f"lacks (it holds {', '.join(fs.demo_names)})")
                a, b = column(fs.demo(src_names[0])), column(g)
                used = " + ".join(dict.fromkeys(src_names))  # distinct sources, subtask order
                ok = "success" if attrs.get("success", True) else "failed"
                head_a = _label(f"source {used}", a.shape[2])
                head_b = _label(f"generated {name} ({ok})", b.shape[2], color=(140, 255, 140))
                sep = np.full((head_a.shape[0] + a.shape[1], 4, 3), 255, np.uint8)
                for t in range(max(len(a), len(b))):
                    left = np.concatenate([head_a, a[min(t, len(a) - 1)]], axis=0)
                    right = np.concatenate([head_b, b[min(t, len(b) - 1)]], axis=0)
                    writer.write(np.concatenate([left, sep, right], axis=1))
                clips.append({"generated": name, "sources": src_names, "frames": max(len(a), len(b))})
        writer.close()
        if not clips:  # no clip, no frame: no video (and no empty file)
            tmp.unlink(missing_ok=True)
    return clips


def _timed(stages: dict, name: str, output, fn):
    """Run a stage, noting its wall time and output in ``stages[name]``."""
    t0 = time.perf_counter()
    result = fn()
    stages[name] = {"seconds": time.perf_counter() - t0, "output": str(output)}
    return result


def train_and_evaluate(cfg: DemoConfig, paths: dict, stages: dict) -> None:
    """Stages 6-7: a state + object-position dataset of the generated demos, lerobot-train, armtwin eval."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.policy.eval import EvalConfig, run_eval
    from armtwin.policy.train import TrainConfig, train_policy
    from armtwin.staging import staged_dir

    def timed(name, fn):
        return _timed(stages, name, paths[name], fn)

    _banner(f"6/7 train a policy with lerobot-train ({cfg.train_steps} steps, ACT on joints + object positions)")
    export = timed("state_dataset", lambda: export_lerobot(LeRobotExportConfig(
        inputs=(paths["generated"],), repo_id=cfg.repo_id + "_state", root=paths["state_dataset"],
        fps=int(round(cfg.hz)), environment_state=True, cameras=(), overwrite=True, progress=False)))
    stages["state_dataset"]["episodes"] = export.episodes

    def train():
        # lerobot-train refuses an existing output folder: train into a fresh one, then swap it in whole.
        with staged_dir(paths["policy"]) as tmp:
            model = train_policy(TrainConfig(dataset_root=paths["state_dataset"], repo_id=cfg.repo_id + "_state",
                                             out_dir=tmp / "run", steps=cfg.train_steps, seed=cfg.seed))
            rel = model.relative_to(tmp)
        return paths["policy"] / rel

    model = timed("policy", train)
    stages["policy"]["output"] = str(model)
    stages["policy"]["steps"] = cfg.train_steps

    _banner(f"7/7 evaluate the policy in the twin ({cfg.eval_episodes} unseen scenes)")
    shutil.rmtree(paths["eval"], ignore_errors=True)
    result = timed("eval", lambda: run_eval(EvalConfig(
        policy=model, env_id=cfg.env_id, episodes=cfg.eval_episodes, out=paths["eval"], seed=cfg.seed + 10_000,
        workers=cfg.workers, videos=min(4, cfg.eval_episodes), hz=cfg.hz)))
    stages["eval"]["success_rate"] = round(result.success_rate, 3)
    stages["eval"]["successes"] = f"{result.successes}/{len(result.outcomes)}"


def run_demo(cfg: DemoConfig) -> dict:
    """Run the five stages; returns {stage: {"seconds": float, "output": str, ...}}."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.convert.report import format_export
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.runner import GenerateConfig, format_stats, run_generate

    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = {stage: out / name for stage, name in OUTPUTS.items()}
    stages: dict[str, dict] = {}

    def timed(name, fn):
        return _timed(stages, name, paths[name], fn)

    n = 7 if cfg.train else 5
    _banner(f"1/{n} record {cfg.sources} scripted source demos of {cfg.env_id} through the teleop loop")
    rec = timed("sources", lambda: record_sources(cfg, paths["sources"]))
    episodes = rec["summary"].get("episodes", [])
    stages["sources"]["episodes"] = len(episodes)
    stages["sources"]["successful"] = sum(bool(e.get("success")) for e in episodes)

    _banner(f"2/{n} annotate subtask boundaries from the subtask signals")
    report = timed("annotated", lambda: annotate_file(str(paths["sources"]), str(paths["annotated"]), overwrite=True))
    print(report.summary())

    _banner(f"3/{n} generate {cfg.generate} demos MimicGen-style with {cfg.workers} workers")
    # Shards left by an interrupted earlier run were built from other sources (stage 1 has just
    # re-recorded them): drop them. The previous generated.h5 stays until the new one replaces it.
    shutil.rmtree(str(paths["generated"]) + ".shards", ignore_errors=True)
    gen_cfg = GenerateConfig(
        source=str(paths["annotated"]),
        env_id=cfg.env_id,
        num=cfg.generate,
        out=str(paths["generated"]),
        workers=cfg.workers,
        seed=cfg.seed,
        image_size=cfg.image_size,
        overwrite=True,
    )
    stats = timed("generated", lambda: run_generate(gen_cfg))
    print(format_stats(stats))
    stages["generated"]["kept"] = stats["kept"]

    _banner(f"4/{n} convert the generated demos to a LeRobot v3 dataset")
    export = timed(
        "dataset",
        lambda: export_lerobot(
            LeRobotExportConfig(
                inputs=(paths["generated"],),
                repo_id=cfg.repo_id,
                root=paths["dataset"],
                fps=int(round(cfg.hz)),
                vcodec=cfg.vcodec,
                overwrite=True,
            )
        ),
    )
    print(format_export(export))
    stages["dataset"]["episodes"] = export.episodes
    stages["dataset"]["frames"] = export.frames

    _banner(f"5/{n} video: generated demos side by side with their sources")
    clips = timed(
        "video",
        lambda: side_by_side_video(
            paths["sources"], paths["generated"], paths["video"], count=cfg.side_by_side, fps=cfg.hz
        ),
    )
    stages["video"]["clips"] = len(clips)
    if not clips:
        stages["video"]["output"] = None  # no clip, no video written
    for c in clips:
        print(f"  {c['generated']:<10} from {' + '.join(dict.fromkeys(c['sources'])):<20} {c['frames']:>5} frames")

    if cfg.train:
        train_and_evaluate(cfg, paths, stages)
    # --overwrite: an earlier run's output this run did not write (no clip, so no video; --no-train, so
    # no policy or eval) would sit beside this run's as if it were one of them. This run is complete:
    # they go now, not before (a failed run keeps them).
    for key, name in OUTPUTS.items():
        old = out / name
        if old.exists() and stages.get(key, {}).get("output") is None:
            shutil.rmtree(old) if old.is_dir() else old.unlink()

    _banner("summary")
    width = max(len(s) for s in stages)
    total = sum(s["seconds"] for s in stages.values())
    for name, s in stages.items():
        extra = ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("seconds", "output"))
        print(f"{name:<{width}}  {s['seconds']:7.1f} s  {s['output']}  {extra}")
    print(f"{'total':<{width}}  {total:7.1f} s")
    (out / "summary.json").write_text(json.dumps(stages, indent=2, default=str))
    return stages


def add_demo(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on the embedded default (record -> annotate -> generate -> LeRobot -> video)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = DemoConfig()
    p.add_argument("--out-dir", default=str(d.out_dir), help=f"output folder (default {d.out_dir})")
    p.add_argument("--env", default=d.env_id, help=f"task id (default {d.env_id})")
    p.add_argument("--sources", type=int, default=d.sources, help=f"scripted source demos (default {d.sources})")
    p.add_argument("--generate", type=int, default=d.generate, help=f"demos to generate (default {d.generate})")
    p.add_argument("--workers", type=int, default=d.workers, help=f"generation processes (default {d.workers})")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--vcodec", default=d.vcodec, help=f"LeRobot video codec (default {d.vcodec})")
    p.add_argument("--train-steps", type=int, default=d.train_steps,
                   help=f"lerobot-train steps of the policy trained on the generated demos (default {d.train_steps})")
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes,
                   help=f"episodes the policy is evaluated on in the twin (default {d.eval_episodes})")
    p.add_argument("--no-train", action="store_true", help="stop after the video (no training, no evaluation)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's outputs in --out-dir")
    p.add_argument("--side-by-side", type=int, default=d.side_by_side,
                   help=f"generated demos shown next to their sources in the video (default {d.side_by_side})")
    p.set_defaults(func=_run)


def _run(args) -> int:
    try:
        cfg = DemoConfig(
            out_dir=Path(args.out_dir),
            env_id=args.env,
            sources=args.sources,
            generate=args.generate,
            workers=args.workers,
            seed=args.seed,
            vcodec=args.vcodec,
            side_by_side=args.side_by_side,
            train_steps=args.train_steps,
            eval_episodes=args.eval_episodes,
            train=not args.no_train,
            overwrite=args.overwrite,
        )
    except (ValueError, KeyError) as e:
        print(f"armtwin demo: {e}", file=sys.stderr)
        return 2
    stages = run_demo(cfg)
    return 0 if stages["generated"].get("kept", 0) >= cfg.generate else 1
