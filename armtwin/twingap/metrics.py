"""Per-joint tracking error between a real and a simulated joint trajectory: RMS, max, lag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from armtwin.assets import so101_constants as C

#: Largest lag searched, seconds.
MAX_LAG_S = 0.5


@dataclass(frozen=True)
class JointGap:
    """One joint: rms_rad, max_rad: |sim - real| over the frames; lag_s: seconds by which the real joint
    trails the simulated one (negative: it leads), the shift that best aligns them (sub-frame by a
    parabola through the best three shifts; 0 for a joint that does not move)."""

    joint: str
    rms_rad: float
    max_rad: float
    lag_s: float


def _lag(real: np.ndarray, sim: np.ndarray, fps: float) -> float:
    if np.ptp(real) < 1e-3 and np.ptp(sim) < 1e-3:
        return 0.0
    T = len(real)
    K = min(int(MAX_LAG_S * fps), T // 3)
    ks = np.arange(-K, K + 1)
    cost = np.empty(len(ks))
    for i, k in enumerate(ks):
        # real[t] against sim[t - k]
        if k >= 0:
            a, b = real[k:], sim[: T - k]
        else:
            a, b = real[: T + k], sim[-k:]
        cost[i] = np.mean((a - b) ** 2)
    j = int(np.argmin(cost))
    frac = 0.0
    if 0 < j < len(ks) - 1:
        c0, c1, c2 = cost[j - 1], cost[j], cost[j + 1]
        den = c0 - 2 * c1 + c2
        frac = 0.5 * (c0 - c2) / den if den > 0 else 0.0
    return float((ks[j] + frac) / fps)


def tracking_error(real: np.ndarray, sim: np.ndarray, fps: float) -> list[JointGap]:
    """Per joint (``C.JOINT_NAMES`` order) of two (T, 6) radian trajectories at ``fps``."""
    real, sim = np.asarray(real, float), np.asarray(sim, float)
    if real.shape != sim.shape or real.ndim != 2 or real.shape[1] != C.NUM_JOINTS:
        raise ValueError(f"real and sim must both be (T, {C.NUM_JOINTS}) radians, got {real.shape} and {sim.shape}")
    err = sim - real
    return [JointGap(name, float(np.sqrt(np.mean(err[:, j] ** 2))), float(np.max(np.abs(err[:, j]))),
                     _lag(real[:, j], sim[:, j], fps)) for j, name in enumerate(C.JOINT_NAMES)]


def format_table(gaps: list[JointGap]) -> str:
    """A plain-text table, degrees and milliseconds."""
    rows = [f"{'joint':<14} {'rms (deg)':>10} {'max (deg)':>10} {'lag (ms)':>9}"]
    for g in gaps:
        rows.append(f"{g.joint:<14} {np.degrees(g.rms_rad):>10.3f} {np.degrees(g.max_rad):>10.3f} "
                    f"{1000 * g.lag_s:>9.1f}")
    return "\n".join(rows)
