"""MimicGen data-generation rate and throughput on the four armtwin tasks.

For each task: record 10 scripted expert source demos on D0 (no cameras), annotate them
automatically, then generate ``--num`` demos with ``--workers`` processes and both cameras at
128x128 on D0 and on D1 (the sources stay D0, as in MimicGen). Prints per task and distribution the
data-generation rate (successes / attempts), successful demos per minute (wall clock, worker start
and merging included), the failure reasons, next to the published reference numbers:

- MimicGen (Mandlekar et al., CoRL 2023, 10 source demos, 7-DoF Panda with OSC): Stack D0 94.3%,
  Stack D1 ~ (not comparable: other scene ranges), Square D0 73.7%, Coffee D0 78.2%.
- ChefMate (MimicGen in Isaac Sim on an RTX 4080): ~2 min per generated demo = 0.5 demos/min.

and, as the peer measured in this same run, the scripted expert's own throughput (demos per minute,
one process, no cameras) while recording the sources.

Goals: rate >= 90% on PickPlace D0, >= 85% on Stack D0; >= 30 successful demos/min on 2 cores.

With ``--robot so101,omx`` (default: every arm of ``armtwin.assets.models``) each further arm runs the
tasks of --tasks it has (the OMX: Lift, PickPlace) the same way, in a table of its own after the
SO-101's, with the same goals per task and its demos/min relative to the SO-101's same task and
distribution of this run (``x SO-101``). The SO-101 table is unchanged.

    MUJOCO_GL=egl .venv/bin/python benchmarks/mimic_rate.py [--num 50] [--workers 2] [--tasks Lift,Stack]
        [--robot so101,omx]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

TASKS = ("Lift", "PickPlace", "Stack", "Sandwich")
#: Published data-generation rates, D0, 10 sources (MimicGen paper, Table 1 / appendix).
MIMICGEN_D0 = {"Stack": 94.3, "StackThree": 71.3, "Square": 73.7, "Threading": 51.0, "Coffee": 78.2}
CHEFMATE_DEMOS_PER_MIN = 0.5
GOALS = {("PickPlace", "D0"): 90.0, ("Stack", "D0"): 85.0}
GOAL_DPM = 30.0


def _env_id(robot: str, task: str) -> str | None:
    """The registered env id of ``task`` on ``robot`` (``armtwin/<PREFIX>-<task>-v0``), None if it has none."""
    from armtwin.envs.registry import TASKS as REGISTRY

    for env_id, entry in REGISTRY.items():
        if entry.robot == robot and env_id.split("/", 1)[1].split("-", 1)[1] == f"{task}-v0":
            return env_id
    return None


def _sheet_row(path, n=4):
    """(H, 2nW, 3) uint8: first | last front-camera frame of the first n demos of a generated file."""
    import numpy as np

    from armtwin.data import open_recording

    tiles = []
    with open_recording(path) as rec:
        for name in rec.demo_names[:n]:
            imgs = rec.demo(name).dataset("obs/images/front")
            tiles += [imgs[0], imgs[-1]]
    return np.concatenate(tiles, axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--num", type=int, default=50, help="successful demos to generate per task and distribution")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sources", type=int, default=10)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--dists", default="D0,D1")
    ap.add_argument("--robot", default=None, help="comma-separated arms [every arm: so101,omx]; an arm runs "
                    "only the tasks of --tasks it has")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None, help="keep files here (default: a temporary directory)")
    ap.add_argument("--json", default=None, help="also write the results as JSON to this path")
    ap.add_argument("--png", default=None, help="also save a contact sheet (front camera, first and last frame "
                    "of 4 generated demos per task and distribution) to this PNG")
    args = ap.parse_args(argv)
    from armtwin.assets.models import MODELS

    robots = [r for r in (args.robot or ",".join(MODELS)).split(",") if r]
    for r in robots:
        if r not in MODELS:
            ap.error(f"unknown robot {r!r}; valid robots: {', '.join(MODELS)}")

    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.runner import GenerateConfig, run_generate
    from armtwin.mimic.sources import record_expert_demos

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mimic_rate_"))
    work.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in args.tasks.split(",") if t]
    dists = [d for d in args.dists.split(",") if d]
    rows = []
    sheet_rows = []
    print(f"# {args.sources} scripted D0 sources per task, {args.num} demos per run, {args.workers} workers, "
          f"cameras wrist+front at {args.image_size}x{args.image_size}; machine: {os.cpu_count()} cores",
          flush=True)
    runs = [(r, t, _env_id(r, t)) for r in robots for t in tasks]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        ap.error(f"unknown task(s) {', '.join(unknown)}; valid tasks: {', '.join(TASKS)}")
    for robot, task, env_id in runs:
        if env_id is None:  # an arm without this task
            continue
        stem = task if robot == "so101" else f"{robot}_{task}"
        raw, ann = work / f"{stem}_src.h5", work / f"{stem}_ann.h5"
        for p in (raw, ann):
            if p.exists():
                p.unlink()
        t0 = time.perf_counter()
        record_expert_demos(env_id, raw, num=args.sources, seed=1000, reset_distribution="D0")
        expert_dpm = args.sources / ((time.perf_counter() - t0) / 60.0)
        annotate_file(str(raw), str(ann))
        for dist in dists:
            out = work / f"{stem}_{dist}.h5"
            for p in (out, Path(str(out) + ".stats.json")):
                if p.exists():
                    p.unlink()
            shutil.rmtree(str(out) + ".shards", ignore_errors=True)
            st = run_generate(GenerateConfig(
                source=str(ann), env_id=env_id, num=args.num, out=str(out), workers=args.workers, seed=args.seed,
                reset_distribution=dist, image_size=(args.image_size, args.image_size), progress=True,
                max_failures=4 * args.num,
            ))
            row = {
                "robot": robot, "task": task, "dist": dist, "attempts": st["attempts"], "successes": st["successes"],
                "rate_pct": 100.0 * st["data_generation_rate"], "demos_per_min": st["demos_per_minute"],
                "wall_s": st["wall_seconds"], "failures": st["failures"], "expert_demos_per_min": expert_dpm,
                "mean_steps": st["mean_steps"],
            }
            rows.append(row)
            label = task if robot == "so101" else f"{robot} {task}"
            print(f"{label:<{max(10, len(label) + 1)}}{dist}  rate {row['rate_pct']:5.1f}%  ({st['successes']}/{st['attempts']})  "
                  f"{row['demos_per_min']:6.1f} demos/min  failures {st['failures']}", flush=True)
            if args.png and out.exists():
                sheet_rows.append(_sheet_row(out))
            if out.exists():
                out.unlink()

    print()
    so101_rows = [r for r in rows if r["robot"] == "so101"]
    if "so101" in robots:
        hdr = (f"{'task':<10}{'dist':<5}{'attempts':>9}{'rate %':>8}{'goal %':>8}{'MimicGen %':>11}"
               f"{'demos/min':>10}{'x ChefMate':>11}{'x expert':>9}  failures (ik/grasp/drop/timeout)")
        print(hdr)
        print("-" * len(hdr))
        for r in so101_rows:
            goal = GOALS.get((r["task"], r["dist"]))
            ref = MIMICGEN_D0.get(r["task"]) if r["dist"] == "D0" else None
            f = r["failures"]
            print(f"{r['task']:<10}{r['dist']:<5}{r['attempts']:>9}{r['rate_pct']:>8.1f}"
                  f"{(f'{goal:.0f}' if goal else '-'):>8}{(f'{ref:.1f}' if ref else '-'):>11}"
                  f"{r['demos_per_min']:>10.1f}{r['demos_per_min'] / CHEFMATE_DEMOS_PER_MIN:>11.0f}"
                  f"{r['demos_per_min'] / r['expert_demos_per_min']:>9.2f}  "
                  f"{f['ik_unreachable']}/{f['grasp_missed']}/{f['drop']}/{f['timeout']}")
        ok_rate = all(r["rate_pct"] >= GOALS[(r["task"], r["dist"])]
                      for r in so101_rows if (r["task"], r["dist"]) in GOALS)
        ok_dpm = all(r["demos_per_min"] >= GOAL_DPM for r in so101_rows if r["dist"] == "D0")
        print(f"\nMimicGen Stack D0 (7-DoF Panda): {MIMICGEN_D0['Stack']}%; ChefMate (Isaac Sim, RTX 4080): "
              f"~{CHEFMATE_DEMOS_PER_MIN} demos/min.")
        print(f"goals: rate (PickPlace D0 >= 90%, Stack D0 >= 85%): {'met' if ok_rate else 'NOT met'}; "
              f">= {GOAL_DPM:.0f} demos/min on every D0 task: {'met' if ok_dpm else 'NOT met'}")
    for robot in [r for r in robots if r != "so101"]:
        _print_robot_table(robot, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if args.png and sheet_rows:
        import imageio.v3 as iio
        import numpy as np

        iio.imwrite(args.png, np.concatenate(sheet_rows, axis=0))
        names = [f"{t}/{d}" if r == "so101" else f"{r} {t}/{d}" for r, t, e in runs if e for d in dists]
        print(f"contact sheet: {args.png} (rows: {', '.join(names)})")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _print_robot_table(robot: str, rows: list[dict]) -> None:
    """The table of an arm other than the SO-101: the SO-101's columns, its goals per task, and its demos/min
    over the SO-101's of the same task and distribution in this run."""
    mine = [r for r in rows if r["robot"] == robot]
    if not mine:
        print(f"\n{robot}: none of the tasks asked for exists on this arm")
        return
    ref = {(r["task"], r["dist"]): r for r in rows if r["robot"] == "so101"}
    print(f"\n{robot}:")
    hdr = (f"{'task':<10}{'dist':<5}{'attempts':>9}{'rate %':>8}{'goal %':>8}{'demos/min':>10}{'x ChefMate':>11}"
           f"{'x expert':>9}{'x SO-101':>9}  failures (ik/grasp/drop/timeout)")
    print(hdr)
    print("-" * len(hdr))
    for r in mine:
        goal = GOALS.get((r["task"], r["dist"]))
        so = ref.get((r["task"], r["dist"]))
        f = r["failures"]
        vs = f"{r['demos_per_min'] / so['demos_per_min']:.2f}" if so and so["demos_per_min"] else "-"
        print(f"{r['task']:<10}{r['dist']:<5}{r['attempts']:>9}{r['rate_pct']:>8.1f}"
              f"{(f'{goal:.0f}' if goal else '-'):>8}{r['demos_per_min']:>10.1f}"
              f"{r['demos_per_min'] / CHEFMATE_DEMOS_PER_MIN:>11.0f}"
              f"{r['demos_per_min'] / r['expert_demos_per_min']:>9.2f}"
              f"{vs:>9}  {f['ik_unreachable']}/{f['grasp_missed']}/{f['drop']}/{f['timeout']}")
    ok_rate = all(r["rate_pct"] >= GOALS[(r["task"], r["dist"])] for r in mine if (r["task"], r["dist"]) in GOALS)
    ok_dpm = all(r["demos_per_min"] >= GOAL_DPM for r in mine if r["dist"] == "D0")
    print(f"{robot} goals: rate (PickPlace D0 >= 90%): {'met' if ok_rate else 'NOT met'}; "
          f">= {GOAL_DPM:.0f} demos/min on every D0 task: {'met' if ok_dpm else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
