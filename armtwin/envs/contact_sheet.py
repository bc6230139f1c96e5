"""Contact sheets of randomized scenes: 16 front-camera frames per task (seeds 0..15) in a 4 x 4 grid.

``python -m armtwin.envs.contact_sheet --out docs/`` writes ``docs/randomization_<Task>.png`` for every task
(the README shows them); ``--randomize`` picks the preset (default "all").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def contact_sheet(env_id: str, *, randomize="all", n: int = 16, cols: int = 4, size=(150, 200), seed: int = 0):
    """(rows * H, cols * W, 3) uint8: the front camera after reset with seeds ``seed .. seed + n - 1``."""
    import armtwin.envs as E

    env = E.make(env_id, image_size=tuple(size), cameras=("front",), randomize=randomize).unwrapped
    frames = [env.reset(seed=seed + i)[0]["images"]["front"] for i in range(n)]
    env.close()
    rows = -(-n // cols)
    H, W = size
    sheet = np.full((rows * H + (rows - 1) * 2, cols * W + (cols - 1) * 2, 3), 255, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        sheet[r * (H + 2) : r * (H + 2) + H, c * (W + 2) : c * (W + 2) + W] = f
    return sheet


def main(argv=None) -> int:
    from PIL import Image

    import armtwin.envs as E

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs"))
    ap.add_argument("--randomize", default="all")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for env_id in E.ENV_IDS:
        task = env_id.split("-")[1]
        path = args.out / f"randomization_{task}.png"
        Image.fromarray(contact_sheet(env_id, randomize=args.randomize)).save(path)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
