"""Evaluation speed of ``armtwin eval``: episodes per minute and env steps per second, against real time.

A tiny ACT (tests/policy_data.py's flags: dim 32, one encoder and decoder layer, chunk 10, ResNet-18
without pretrained weights) trained by ``lerobot-train`` for a few steps on scripted Lift demos with two
cameras at 128x128, then ``armtwin eval`` on ``--episodes`` seeded episodes of ``--max-steps`` steps at
30 Hz with 1 and with 2 workers. Real time is what a LeIsaac-style evaluation runs at: 30 env steps/s.
The policy is barely trained (its success rate is not the point here): every episode runs to the horizon,
so steps/s measures the full cost (render two cameras, ACT inference, the safety layer, physics).

    .venv/bin/python benchmarks/eval_speed.py [--episodes 12] [--max-steps 150] [--json out.json]

Reported: wall time including worker start-up (spawn, torch and LeRobot imports, policy load) and the
steady-state rate (the summed per-episode loop time divided by the workers), both against real time;
goal: >= 20x real time with 2 workers.

Where one step goes (cProfile of one 60-step episode in one process, 128x128, two cameras, this tiny ACT,
on the shared 2-core machine): the network forward ~5.7 ms a step (one ResNet-18 pass per camera per
10-step chunk, ~57 ms; conv2d is most of it), rendering both cameras ~1.5 ms, physics + env ~0.3 ms,
safety layer ~0.4 ms, the rest of the loop ~0.6 ms. Removed from the policy path (armtwin.policy.local):
``eval()`` on every ``select_action`` (~1.8 ms a step) and, for ACT, the observation conversion and
preprocessing of steps whose action is already queued (~0.9 ms): 103 -> 120 steps/s in one process.
The forward pass alone bounds one core at ~175 steps/s (~6x real time), two cores at ~12x: 20x needs a
smaller backbone or fewer/smaller cameras, not less overhead.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=12)
    ap.add_argument("--max-steps", type=int, default=150)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--chunks", type=int, nargs="+", default=[10, 100],
                    help="ACT chunk sizes to measure (n_action_steps = chunk): the act-tiny preset's 10 and "
                         "LeRobot ACT's default 100")
    ap.add_argument("--json", help="save the figures here")
    args = ap.parse_args()

    from policy_data import tiny_act, tiny_dataset

    from armtwin.policy.eval import EvalConfig, run_eval

    hz = 30.0
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        ds = tiny_dataset(tmp / "ds" / "lerobot", num=3, image_size=(128, 128))
        print(f"dataset at 128x128: {time.perf_counter() - t0:.1f} s")
        for chunk in args.chunks:
            ckpt = tiny_act(ds, tmp / f"train_c{chunk}", steps=args.train_steps,
                            overrides={"chunk_size": chunk, "n_action_steps": chunk})
            for w in args.workers:
                res = run_eval(EvalConfig(policy=ckpt, env_id="armtwin/SO101-Lift-v0", episodes=args.episodes,
                                          out=tmp / f"eval_c{chunk}_w{w}", workers=w, max_steps=args.max_steps,
                                          hz=hz, progress=False, print_table=False))
                steps = res.env_steps
                loop_s = sum(o.wall_s for o in res.outcomes) / w
                row = {
                    "chunk": chunk, "workers": w, "episodes": args.episodes, "env_steps": steps,
                    "wall_s": res.eval_s, "episodes_per_min": 60 * args.episodes / res.eval_s,
                    "env_steps_per_s": steps / res.eval_s, "x_real_time": steps / hz / res.eval_s,
                    "steady_env_steps_per_s": steps / loop_s, "steady_x_real_time": steps / hz / loop_s,
                    "steady_episodes_per_min": 60 * args.episodes / loop_s,
                }
                out[f"chunk{chunk}_workers{w}"] = row
                print(f"chunk {chunk:>3}, workers {w}: {args.episodes} episodes x {args.max_steps} steps in "
                      f"{res.eval_s:.1f} s: {row['episodes_per_min']:.1f} episodes/min, "
                      f"{row['env_steps_per_s']:.0f} env steps/s = {row['x_real_time']:.1f}x real time (steady "
                      f"state: {row['steady_env_steps_per_s']:.0f} steps/s = {row['steady_x_real_time']:.1f}x, "
                      f"{row['steady_episodes_per_min']:.1f} episodes/min)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
