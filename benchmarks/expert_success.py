"""Success table of the scripted experts: every task, D0 and D1, optional action noise.

    MUJOCO_GL=egl python benchmarks/expert_success.py [--seeds 100] [--noise 0.0]
"""

from __future__ import annotations

import argparse

from tqdm import tqdm

import armtwin.envs as E
from armtwin.envs.experts import make_expert, run_episode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100, help="episodes per task and distribution (seeds 0..N-1)")
    ap.add_argument("--noise", type=float, default=0.0, help="expert action noise, radians")
    args = ap.parse_args()
    rows = []
    for env_id in E.ENV_IDS:
        rates = []
        for dist in ("D0", "D1"):
            env = E.make(env_id, image_size=None, reset_distribution=dist)
            ok = 0
            for s in tqdm(range(args.seeds), desc=f"{env_id} {dist}", unit="ep", leave=False):
                ok += run_episode(env, make_expert(env_id, noise=args.noise, seed=s), seed=s)[0]
            rates.append(ok / args.seeds)
        rows.append((env_id, *rates))
    print(f"expert success over seeds 0..{args.seeds - 1}, noise {args.noise} rad")
    print(f"{'env':28s} {'D0':>7s} {'D1':>7s}")
    for env_id, d0, d1 in rows:
        print(f"{env_id:28s} {d0:7.1%} {d1:7.1%}")


if __name__ == "__main__":
    main()
