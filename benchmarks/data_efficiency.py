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

``--randomize PRESET`` adds, per cell, "randomization pays off" (issue 11): (c) the same policy trained on the
sources plus ``--generate`` demos generated with that randomization on (each generated demo in its own
randomized scene), and both (b) and (c) evaluated on ``--episodes`` scenes of the distribution with that
randomization on (the same seeded scenes for both). (a) and (b) on the plain scenes are run and reported as
without the option; without it the run and its output are unchanged. The policies read
``observation.state`` + ``observation.environment_state`` only, so only the groups that change what they
observe or how the arm and objects respond can matter: objects (pose, size), physics (friction, masses, servo
gains and damping), latency and observation noise, i.e. the ``physics`` preset (``all`` is accepted: its
visual groups are drawn but invisible to these policies; ``visual`` is refused as a no-op for them).
A visual-shift evaluation (lighting and colours changed, ``--randomize visual`` at eval time) needs image
policies (ACT with the front and wrist cameras, trained on rendered demos): on 2 CPU cores a tiny ACT step
at batch 4 and 96x96 takes 0.2-0.3 s (stack.md), so the 3000 steps x batch 32 of this benchmark would take
hours per policy; it belongs on a GPU machine and is not part of this script.
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


#: What ``--reuse`` compares (the arguments the data was made with) and keeps of a cell.
DATA_ARGS = ("sources", "expert_noise", "generate", "seed", "workers")
KEPT = {"data_args.json", "sources.h5", "annotated.h5", "generated.h5", "generated.h5.stats.json",
        "lerobot_a", "lerobot_b"}


def _make_data(task: str, dist: str, args, cell: Path, env_id: str, times: dict) -> dict:
    """Stages 1-3 into ``cell``: the sources, the generated demos and both datasets; returns the generation
    stats. With ``--reuse`` a cell these stages already finished with the same arguments is kept as it is."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.runner import GenerateConfig, run_generate
    from armtwin.mimic.sources import record_expert_demos

    made = {k: getattr(args, k) for k in DATA_ARGS}
    stamp = cell / "data_args.json"
    if args.reuse and stamp.is_file():
        before = json.loads(stamp.read_text())
        if before != made:
            raise SystemExit(f"--reuse: {cell} was made with {before}, this run asks for {made}; "
                             "run without --reuse to make it again")
        print(f"  reusing the sources, generated demos and datasets in {cell}", flush=True)
        for old in cell.iterdir():  # what this run makes again: trainings, evaluations, (c)'s data
            if old.name not in KEPT:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        return json.loads((cell / "generated.h5.stats.json").read_text())
    shutil.rmtree(cell, ignore_errors=True)
    cell.mkdir(parents=True)
    _stage(times, "record sources", lambda: record_expert_demos(
        env_id, cell / "sources.h5", num=args.sources, seed=args.seed, noise=args.expert_noise))
    _stage(times, "annotate", lambda: annotate_file(str(cell / "sources.h5"), str(cell / "annotated.h5")))
    stats = _stage(times, "generate", lambda: run_generate(GenerateConfig(
        source=str(cell / "annotated.h5"), env_id=env_id, num=args.generate, out=str(cell / "generated.h5"),
        workers=args.workers, seed=args.seed, reset_distribution=dist, image_size=None, progress=False)))
    for key, inputs in (("a", [cell / "sources.h5"]), ("b", [cell / "sources.h5", cell / "generated.h5"])):
        _stage(times, f"convert ({key})", lambda: export_lerobot(LeRobotExportConfig(
            inputs=tuple(inputs), repo_id=_repo(task, dist, key), root=cell / f"lerobot_{key}",
            environment_state=True, episodes="all", progress=False)))
    stamp.write_text(json.dumps(made))
    return stats


def _repo(task: str, dist: str, key: str) -> str:
    return f"bench/{task.lower()}_{dist.lower()}_{key}"


def _train(keys: list[str], task: str, dist: str, args, cell: Path, times: dict) -> None:
    """Train the same policy on each of ``keys``' datasets; with ``--train-together`` all at once, the
    cores shared between them. Measured on 2 cores with act-lowdim: one training alone makes 4.5 steps/s
    (half of each step is single-threaded data loading), two 1-thread trainings together 3.85 steps/s
    each: 1.7x the steps per second of one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    from armtwin.policy.train import TrainConfig, train_policy

    threads = max(1, (os.cpu_count() or 1) // len(keys)) if args.train_together else None

    def one(key):
        return train_policy(TrainConfig(
            dataset_root=cell / f"lerobot_{key}", repo_id=_repo(task, dist, key), out_dir=cell / f"train_{key}",
            preset=args.preset, steps=args.steps, seed=args.seed, log_freq=max(1, args.steps // 5),
            save_freq=args.checkpoint_every, threads=threads), echo=False)

    if args.train_together:
        _stage(times, f"train ({', '.join(keys)} together)",
               lambda: list(ThreadPoolExecutor(len(keys)).map(one, keys)))
    else:
        for key in keys:
            _stage(times, f"train ({key})", lambda: one(key))


def _evaluate(key: str, env_id: str, dist: str, args, cell: Path, times: dict, *, randomize=None) -> dict:
    """Evaluate ``train_<key>``'s final policy (and, with ``--checkpoint-every``, every earlier checkpoint
    on the same seeded scenes: the learning curve)."""
    from armtwin.policy.eval import EvalConfig, run_eval, wilson_interval
    from armtwin.policy.train import step_checkpoints

    suffix = "" if randomize is None else "_rand"
    checkpoints = step_checkpoints(cell / f"train_{key}")
    if args.checkpoint_every is None:
        checkpoints = {max(checkpoints): checkpoints[max(checkpoints)]}
    curve = []
    for step, model in checkpoints.items():
        name = f"eval_{key}{suffix}" if step == max(checkpoints) else f"eval_{key}{suffix}_{step}"
        label = f"eval ({key}{'' if randomize is None else ', randomize ' + randomize}, step {step})"
        res = _stage(times, label, lambda: run_eval(EvalConfig(
            policy=model, env_id=env_id, episodes=args.episodes, out=cell / name, dist=dist,
            seed=args.seed + 10_000, workers=args.workers, progress=False, print_table=False, randomize=randomize,
            policy_options=args.policy_option or {})))
        lo, hi = wilson_interval(res.successes, len(res.outcomes))
        curve.append({"step": step, "success_rate": res.success_rate, "ci95": [lo, hi],
                      "failures": dict(res.failures())})
    return {**curve[-1], "curve": curve}


def run_cell(task: str, dist: str, args, root: Path) -> dict:
    """One task x distribution: both policies trained and evaluated (with ``--randomize``: also (c), and (b)
    and (c) evaluated on randomized scenes; see the module docstring); returns their numbers."""
    env_id = f"armtwin/SO101-{task}-v0"
    cell = root / f"{task}_{dist}"
    times: dict[str, float] = {}
    print(f"\n=== {task} {dist} ===", flush=True)
    stats = _make_data(task, dist, args, cell, env_id, times)
    out: dict = {"task": task, "dist": dist, "generated": stats["kept"],
                 "generation_rate": stats["data_generation_rate"], "times": times, "policies": {}}
    _train(["a", "b"], task, dist, args, cell, times)
    for key, label in (("a", "sources only"), ("b", "sources + generated")):
        info = json.loads((cell / f"lerobot_{key}" / "meta" / "info.json").read_text())
        out["policies"][key] = {"label": label, "episodes": info["total_episodes"], "frames": info["total_frames"],
                                **_evaluate(key, env_id, dist, args, cell, times)}
    if args.randomize is not None:
        _randomized(task, dist, args, cell, env_id, times, out)
    return out


def _randomized(task: str, dist: str, args, cell: Path, env_id: str, times: dict, out: dict) -> None:
    """(c) trained on demos generated with ``--randomize``; (b) and (c) evaluated with it on (into ``out``)."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.mimic.runner import GenerateConfig, run_generate

    preset = args.randomize
    stats = _stage(times, f"generate (randomize {preset})", lambda: run_generate(GenerateConfig(
        source=str(cell / "annotated.h5"), env_id=env_id, num=args.generate, out=str(cell / "generated_rand.h5"),
        workers=args.workers, seed=args.seed, reset_distribution=dist, image_size=None, progress=False,
        env_kwargs={"randomize": preset})))
    ds = _stage(times, "convert (c)", lambda: export_lerobot(LeRobotExportConfig(
        inputs=(cell / "sources.h5", cell / "generated_rand.h5"), repo_id=_repo(task, dist, "c"),
        root=cell / "lerobot_c", environment_state=True, episodes="all", progress=False)))
    _train(["c"], task, dist, args, cell, times)
    out["randomized"] = {
        "preset": preset, "generated": stats["kept"], "generation_rate": stats["data_generation_rate"],
        "episodes_c": ds.episodes, "frames_c": ds.frames,
        "eval": {key: _evaluate(key, env_id, dist, args, cell, times, randomize=preset) for key in ("b", "c")}}


def _check_randomize(preset: str | None) -> None:
    """``--randomize`` must be a preset that changes what a state-only policy observes or meets."""
    if preset is None:
        return
    from armtwin.envs.randomize_config import PRESETS

    state_groups = ("objects", "physics", "latency", "noise")
    if preset not in PRESETS or not any(getattr(PRESETS[preset], g).enabled for g in state_groups):
        ok = [p for p in PRESETS if any(getattr(PRESETS[p], g).enabled for g in state_groups)]
        raise SystemExit(f"--randomize must be a preset that randomizes what a state-only policy sees "
                         f"({', '.join(state_groups)}): one of {', '.join(ok)}; got {preset!r}")


def _rate(p: dict) -> str:
    return f"{100 * p['success_rate']:5.1f}% [{100 * p['ci95'][0]:.0f}, {100 * p['ci95'][1]:.0f}]"


def table(cells: list[dict], args) -> str:
    rows = [f"policy: {args.preset} (LeRobot ACT), inputs observation.state (6) + observation.environment_state "
            f"(object positions), {args.steps} steps x batch 32, seed {args.seed}; sources: {args.sources} "
            f"scripted demos with {args.expert_noise} rad action noise; eval: {args.episodes} seeded episodes"
            + (f" with policy options {' '.join(args.policy_option)}" if args.policy_option else ""),
            "",
            f"{'task':<10}{'dist':<6}{'(a) sources only':<26}{'(b) + generated':<26}{'generated (rate)':<20}"]
    for c in cells:
        a, b = c["policies"]["a"], c["policies"]["b"]
        rows.append(f"{c['task']:<10}{c['dist']:<6}{_rate(a):<26}{_rate(b):<26}"
                    f"{c['generated']} ({100 * c['generation_rate']:.0f}%)")
    if args.checkpoint_every is not None:
        rows += ["", "learning curves (the same seeded scenes at every checkpoint):",
                 f"{'task':<10}{'dist':<6}{'step':>7}  {'(a) sources only':<26}{'(b) + generated':<26}"]
        for c in cells:
            a, b = c["policies"]["a"]["curve"], c["policies"]["b"]["curve"]
            for pa, pb in zip(a, b):
                rows.append(f"{c['task']:<10}{c['dist']:<6}{pa['step']:>7}  {_rate(pa):<26}{_rate(pb):<26}")
    rows.append("")
    rows.append("MimicGen (published, 1000 generated vs 10 sources): "
                + ", ".join(f"{k} {v[1]:g}% vs {v[0]:g}%" for k, v in MIMICGEN.items()))
    rows.append("goals: (b) >= 90% on D0 where (a) <= 50%; (b) >= 70% on D1")
    if args.randomize is not None:
        rows += ["", f"randomization pays off: evaluated on scenes with randomize={args.randomize!r} (same seeds "
                 f"for both); (c): sources + {args.generate} demos generated with randomize={args.randomize!r}",
                 f"{'task':<10}{'dist':<6}{'(b) + generated':<26}{'(c) + generated rand.':<26}{'generated (rate)':<20}"]
        for c in cells:
            r = c["randomized"]
            rows.append(f"{c['task']:<10}{c['dist']:<6}{_rate(r['eval']['b']):<26}{_rate(r['eval']['c']):<26}"
                        f"{r['generated']} ({100 * r['generation_rate']:.0f}%)")
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
    ap.add_argument("--checkpoint-every", type=int, default=None, metavar="K",
                    help="save a checkpoint every K steps and evaluate each (a learning curve)")
    ap.add_argument("--train-together", action="store_true",
                    help="train (a) and (b) at once, sharing the cores (more steps/s on 2 cores)")
    ap.add_argument("--policy-option", action="append", metavar="KEY=VALUE",
                    help="evaluate both policies with this change to their config (armtwin eval --policy-option), "
                         "e.g. n_action_steps=1 and temporal_ensemble_coeff=0.01: ACT's temporal ensembling")
    ap.add_argument("--reuse", action="store_true",
                    help="keep a cell's sources, generated demos and datasets made with the same arguments")
    ap.add_argument("--randomize", default=None, metavar="PRESET",
                    help="also train on demos generated with this randomization and evaluate on it (physics, all)")
    args = ap.parse_args(argv)
    _check_randomize(args.randomize)
    if args.checkpoint_every is not None and not 1 <= args.checkpoint_every <= args.steps:
        raise SystemExit(f"--checkpoint-every must be in [1, --steps={args.steps}], got {args.checkpoint_every}")
    root = Path(args.out)
    t0 = time.perf_counter()
    cells = [run_cell(t, d, args, root) for t in args.tasks.split(",") for d in args.dists.split(",")]
    text = table(cells, args)
    print("\n" + text + f"\n\ntotal wall time {time.perf_counter() - t0:.0f} s")
    root.mkdir(parents=True, exist_ok=True)
    saved = dict(vars(args))
    (root / "results.json").write_text(json.dumps({"args": saved, "cells": cells}, indent=2, default=str))
    (root / "results.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
