"""The main job, ``armtwin demo``: the whole twin pipeline on the embedded MuJoCo default.

1. record scripted source demos of a task through the teleop loop (expert leader -> sim follower
   -> HDF5 recorder), exactly as a human's demos would be recorded;
2. annotate their subtask boundaries from the env's subtask signals;
3. generate new demos MimicGen-style (headless attempts, worker processes, re-render what is kept);
4. convert the generated demos into a LeRobot v3 dataset;
5. write a video of a few generated demos side by side with the source demo each was built from.

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


@dataclass(kw_only=True)
class DemoConfig:
    """``armtwin demo``.

    out_dir: where every stage writes. env_id: the task. sources: scripted source demos recorded through
    the teleop loop. generate: successful demos to generate. workers: generation processes. seed: run seed.
    image_size: (H, W) camera frames of the recorded and generated demos. hz: teleop loop rate (also the
    dataset fps). vcodec: LeRobot video codec. side_by_side: generated demos shown in the video.
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

    def __post_init__(self):
        from armtwin.envs import check_env_id

        check_env_id(self.env_id)
        self.out_dir = Path(self.out_dir)
        for name in ("sources", "generate", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.side_by_side < 0:
            raise ValueError(f"--side-by-side must be >= 0, got {self.side_by_side}")
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def record_sources(cfg: DemoConfig, path: Path) -> dict:
    """Stage 1: scripted demos through the same teleop loop a human uses."""
    from armtwin.teleop.factory import TeleopConfig, run_teleop
    from armtwin.teleop.recorder import format_summary, summarize

    tmp = path.with_name(path.stem + ".part.h5")
    tmp.unlink(missing_ok=True)
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
    tmp.replace(path)
    summary = summarize(path)
    print(format_summary(summary))
    return {"loop": loop, "summary": summary}


def side_by_side_video(sources_h5: Path, generated_h5: Path, out: Path, *, count: int, fps: float) -> int:
    """Stage 5: for ``count`` generated demos, the source demo it was built from (left) next to it (right).

    Front camera on top, wrist camera below, one clip after the other; returns the number of clips.
    """
    import h5py
    import numpy as np

    from armtwin.video import Mp4Writer

    tmp = out.with_name(out.stem + ".part.mp4")
    writer = Mp4Writer(str(tmp), fps=round(fps))
    clips = 0
    with h5py.File(sources_h5, "r") as fs, h5py.File(generated_h5, "r") as fg:
        gen_names = sorted(fg["data"].keys(), key=lambda n: int(n.split("_")[-1]))[:count]
        for name in gen_names:
            g = fg["data"][name]
            src_inds = np.atleast_1d(g.attrs.get("src_demo_inds", [0]))
            src_name = f"demo_{int(src_inds[0])}"
            if src_name not in fs["data"]:
                src_name = sorted(fs["data"].keys())[0]
            s = fs["data"][src_name]

            def column(demo):
                ims = [demo["obs/images"][c][()] for c in C.CAMERA_NAMES[::-1] if c in demo["obs/images"]]
                return np.concatenate(ims, axis=1) if len(ims) > 1 else ims[0]  # (T, H*k, W, 3)

            a, b = column(s), column(g)
            n = max(len(a), len(b))
            for t in range(n):
                left, right = a[min(t, len(a) - 1)], b[min(t, len(b) - 1)]
                sep = np.full((left.shape[0], 4, 3), 255, np.uint8)
                writer.write(np.concatenate([left, sep, right], axis=1))
            clips += 1
    writer.close()
    tmp.replace(out)
    return clips


def run_demo(cfg: DemoConfig) -> dict:
    """Run the five stages; returns {stage: {"seconds": float, "output": str, ...}}."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.convert.report import format_export
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.runner import GenerateConfig, format_stats, run_generate

    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "sources": out / "sources.h5",
        "annotated": out / "sources_annotated.h5",
        "generated": out / "generated.h5",
        "dataset": out / "lerobot",
        "video": out / "generated_vs_source.mp4",
    }
    stages: dict[str, dict] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        result = fn()
        stages[name] = {"seconds": time.perf_counter() - t0, "output": str(paths[name])}
        return result

    _banner(f"1/5 record {cfg.sources} scripted source demos of {cfg.env_id} through the teleop loop")
    rec = timed("sources", lambda: record_sources(cfg, paths["sources"]))
    episodes = rec["summary"].get("episodes", [])
    stages["sources"]["episodes"] = len(episodes)
    stages["sources"]["successful"] = sum(bool(e.get("success")) for e in episodes)

    _banner("2/5 annotate subtask boundaries from the subtask signals")
    report = timed("annotated", lambda: annotate_file(str(paths["sources"]), str(paths["annotated"])))
    print(report.summary())

    _banner(f"3/5 generate {cfg.generate} demos MimicGen-style with {cfg.workers} workers")
    for stale in (paths["generated"], Path(str(paths["generated"]) + ".stats.json")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(str(paths["generated"]) + ".shards", ignore_errors=True)
    gen_cfg = GenerateConfig(
        source=str(paths["annotated"]),
        env_id=cfg.env_id,
        num=cfg.generate,
        out=str(paths["generated"]),
        workers=cfg.workers,
        seed=cfg.seed,
        image_size=cfg.image_size,
    )
    stats = timed("generated", lambda: run_generate(gen_cfg))
    print(format_stats(stats))
    stages["generated"]["kept"] = stats["kept"]

    _banner("4/5 convert the generated demos to a LeRobot v3 dataset")
    export = timed(
        "dataset",
        lambda: export_lerobot(
            LeRobotExportConfig(
                inputs=(paths["generated"],),
                repo_id="armtwin/so101_pickplace_mimic",
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

    _banner("5/5 video: generated demos side by side with their sources")
    clips = timed(
        "video",
        lambda: side_by_side_video(
            paths["sources"], paths["generated"], paths["video"], count=cfg.side_by_side, fps=cfg.hz
        ),
    )
    stages["video"]["clips"] = clips

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
        )
    except (ValueError, KeyError) as e:
        print(f"armtwin demo: {e}", file=sys.stderr)
        return 2
    stages = run_demo(cfg)
    return 0 if stages["generated"].get("kept", 0) >= cfg.generate else 1
