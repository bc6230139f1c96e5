"""Why a twin: a policy trained on a few demos plus generated ones against one trained on the few alone.

For each task and reset distribution, in one run:

1. record ``--sources`` scripted expert demos with action noise (``--expert-noise``: human demos are not
   noise-free, and noise-free sources make an unfairly poor baseline), D0, no cameras;
2. annotate them and generate ``--generate`` demos MimicGen-style on the distribution (D0 or D1);
3. convert (a) the sources alone and (b) the sources plus the generated demos into state-only LeRobot
   datasets (joints + object positions, ``--environment-state``);
4. train the same policy (``--preset``, ``--steps``, batch 32, same seed) with ``lerobot-train`` on each;
5. evaluate both with ``armtwin eval`` on ``--episodes`` seeded scenes of that distribution.

Prints one table (success rate with its 95% Wilson interval, per policy, task, distribution), the
policy and its inputs, steps and wall time of every stage, next to MimicGen's published comparison
(policies trained on 1000 generated demos vs the 10 sources alone: Stack 100% vs 26%, Square 90.7% vs
11.3%). Goals (issue 9): (b) >= 90% on D0 where (a) <= 50%, and (b) >= 70% on D1. Writes the table and
every number to ``--out``/results.json.

    MUJOCO_GL=egl .venv/bin/python benchmarks/data_efficiency.py [--tasks PickPlace,Stack] [--dists D0,D1]
        [--generate 1000] [--steps 3000] [--episodes 100] [--workers 2] [--out runs/data_efficiency]

On 2 CPU cores one task and distribution with the defaults takes ~25 minutes (generation ~6 min, two
trainings ~6 min each, evaluation ~2 min); images would need a GPU (see stack.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

TASKS = ("PickPlace", "Stack")
MIMICGEN = {"Stack": (26.0, 100.0), "Square": (11.3, 90.7), "Coffee": (74.0, 100.0)}


def _stage(times: dict, name: str, fn):
    t0 = time.perf_counter()
    out = fn()
    times[name] = round(time.perf_counter() - t0, 1)
    print(f"  {name}: {times[name]:.1f} s", flush=True)
    return out


def run_cell(task: str, dist: str, args, root: Path) -> dict:
    """One task x distribution: both policies trained and evaluated; returns their numbers."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.runner import GenerateConfig, run_generate
    from armtwin.mimic.sources import record_expert_demos
    from armtwin.policy.eval import EvalConfig, run_eval, wilson_interval
    from armtwin.policy.train import TrainConfig, train_policy

    env_id = f"armtwin/SO101-{task}-v0"
    cell = root / f"{task}_{dist}"
    shutil.rmtree(cell, ignore_errors=True)
    cell.mkdir(parents=True)
    times: dict[str, float] = {}
    print(f"\n=== {task} {dist} ===", flush=True)
    _stage(times, "record sources", lambda: record_expert_demos(
        env_id, cell / "sources.h5", num=args.sources, seed=args.seed, noise=args.expert_noise))
    _stage(times, "annotate", lambda: annotate_file(str(cell / "sources.h5"), str(cell / "annotated.h5")))
    stats = _stage(times, "generate", lambda: run_generate(GenerateConfig(
        source=str(cell / "annotated.h5"), env_id=env_id, num=args.generate, out=str(cell / "generated.h5"),
        workers=args.workers, seed=args.seed, reset_distribution=dist, image_size=None, progress=False)))
    out: dict = {"task": task, "dist": dist, "generated": stats["kept"],
                 "generation_rate": stats["data_generation_rate"], "times": times, "policies": {}}
    for label, inputs in (("sources only", [cell / "sources.h5"]),
                          ("sources + generated", [cell / "sources.h5", cell / "generated.h5"])):
        key = "a" if label == "sources only" else "b"
        repo = f"bench/{task.lower()}_{dist.lower()}_{key}"
        ds = _stage(times, f"convert ({key})", lambda: export_lerobot(LeRobotExportConfig(
            inputs=tuple(inputs), repo_id=repo, root=cell / f"lerobot_{key}", environment_state=True,
            episodes="all", progress=False)))
        model = _stage(times, f"train ({key})", lambda: train_policy(TrainConfig(
            dataset_root=cell / f"lerobot_{key}", repo_id=repo, out_dir=cell / f"train_{key}", preset=args.preset,
            steps=args.steps, seed=args.seed, log_freq=max(1, args.steps // 5)), echo=False))
        res = _stage(times, f"eval ({key})", lambda: run_eval(EvalConfig(
            policy=model, env_id=env_id, episodes=args.episodes, out=cell / f"eval_{key}", dist=dist,
            seed=args.seed + 10_000, workers=args.workers, progress=False, print_table=False)))
        lo, hi = wilson_interval(res.successes, len(res.outcomes))
        out["policies"][key] = {"label": label, "episodes": ds.episodes, "frames": ds.frames,
                                "success_rate": res.success_rate, "ci95": [lo, hi],
                                "failures": dict(res.failures())}
    return out


def table(cells: list[dict], args) -> str:
    rows = [f"policy: {args.preset} (LeRobot ACT), inputs observation.state (6) + observation.environment_state "
            f"(object positions), {args.steps} steps x batch 32, seed {args.seed}; sources: {args.sources} "
            f"scripted demos with {args.expert_noise} rad action noise; eval: {args.episodes} seeded episodes",
            "",
            f"{'task':<10}{'dist':<6}{'(a) sources only':<26}{'(b) + generated':<26}{'generated (rate)':<20}"]
    for c in cells:
        a, b = c["policies"]["a"], c["policies"]["b"]

        def fmt(p):
            return f"{100 * p['success_rate']:5.1f}% [{100 * p['ci95'][0]:.0f}, {100 * p['ci95'][1]:.0f}]"

        rows.append(f"{c['task']:<10}{c['dist']:<6}{fmt(a):<26}{fmt(b):<26}"
                    f"{c['generated']} ({100 * c['generation_rate']:.0f}%)")
    rows.append("")
    rows.append("MimicGen (published, 1000 generated vs 10 sources): "
                + ", ".join(f"{k} {v[1]:g}% vs {v[0]:g}%" for k, v in MIMICGEN.items()))
    rows.append("goals: (b) >= 90% on D0 where (a) <= 50%; (b) >= 70% on D1")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--dists", default="D0,D1")
    ap.add_argument("--sources", type=int, default=10)
    ap.add_argument("--expert-noise", type=float, default=0.02)
    ap.add_argument("--generate", type=int, default=1000)
    ap.add_argument("--preset", default="act-lowdim")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/data_efficiency")
    args = ap.parse_args(argv)
    root = Path(args.out)
    t0 = time.perf_counter()
    cells = [run_cell(t, d, args, root) for t in args.tasks.split(",") for d in args.dists.split(",")]
    text = table(cells, args)
    print("\n" + text + f"\n\ntotal wall time {time.perf_counter() - t0:.0f} s")
    root.mkdir(parents=True, exist_ok=True)
    (root / "results.json").write_text(json.dumps({"args": vars(args), "cells": cells}, indent=2, default=str))
    (root / "results.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
