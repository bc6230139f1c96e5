"""The real and simulated joints over time as a PNG, drawn with Pillow (matplotlib is not a core dependency).

Layout: one panel per joint (``C.JOINT_NAMES``, 3 rows x 2 columns), time in seconds on x, degrees on y;
the real joint in black, the twin in orange, the panel title carrying the joint's RMS error and lag.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.twingap.metrics import JointGap

_REAL, _SIM, _GRID, _TEXT = (20, 20, 20), (230, 120, 20), (225, 225, 225), (40, 40, 40)


def plot_png(real: np.ndarray, sim: np.ndarray, fps: float, gaps: list[JointGap], path: str | Path, *,
             title: str = "", panel: tuple[int, int] = (420, 180)) -> Path:
    """Write the plot of (T, 6) radian trajectories ``real`` and ``sim`` to ``path``; returns the path."""
    from PIL import Image, ImageDraw

    pw, ph = panel
    margin, head = 44, 28
    W, H = 2 * pw, 3 * ph + head
    im = Image.new("RGB", (W, H), "white")
    dr = ImageDraw.Draw(im)
    dr.text((8, 8), (title + "   " if title else "") + "black: real   orange: twin", fill=_TEXT)
    T = len(real)
    t = np.arange(T) / fps
    for j in range(C.NUM_JOINTS):
        x0, y0 = (j % 2) * pw, head + (j // 2) * ph
        box = (x0 + margin, y0 + 18, x0 + pw - 10, y0 + ph - 22)
        dr.rectangle(box, outline=_GRID)
        r, s = np.degrees(real[:, j]), np.degrees(sim[:, j])
        lo, hi = float(min(r.min(), s.min())), float(max(r.max(), s.max()))
        if hi - lo < 1e-6:
            lo, hi = lo - 1, hi + 1
        pad = 0.05 * (hi - lo)
        lo, hi = lo - pad, hi + pad

        def pts(v):
            xs = box[0] + (t / max(t[-1], 1e-9)) * (box[2] - box[0])
            ys = box[3] - (v - lo) / (hi - lo) * (box[3] - box[1])
            return list(zip(xs.tolist(), ys.tolist()))

        dr.line(pts(r), fill=_REAL, width=2)
        dr.line(pts(s), fill=_SIM, width=1)
        g = gaps[j]
        dr.text((x0 + margin, y0 + 4), f"{g.joint}: rms {np.degrees(g.rms_rad):.2f} deg, max "
                f"{np.degrees(g.max_rad):.2f} deg, lag {1000 * g.lag_s:.0f} ms", fill=_TEXT)
        dr.text((x0 + 2, box[1]), f"{hi:.0f}", fill=_TEXT)
        dr.text((x0 + 2, box[3] - 10), f"{lo:.0f}", fill=_TEXT)
        dr.text((box[2] - 40, box[3] + 4), f"{t[-1]:.1f} s", fill=_TEXT)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path
