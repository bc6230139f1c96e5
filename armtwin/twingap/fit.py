"""Servo gains, damping and latency fitted to a recording: system identification from the user's own arm.

Model: every joint's ``kv`` and ``damping`` are the starting calibration's (default: the identified
``so101_constants``) times one factor each, shared by the joints, plus one command latency (whole physics
steps); ``kp`` stays the start's. Why not kp: from joint positions at servo-tick resolution only the
approach time constant ((kv + damping) / kp, in the unsaturated region) and the damping (the only
velocity term while the servo torque saturates) are identifiable; kp alone shows as the sag under gravity
(~0.3 mrad at kp = 998, a fifth of a tick), so kp and kv trade off along a flat valley. The fit keeps the
identified kp and moves kv, which sets the same time constant. Loss: mean squared joint error (rad^2) between the recording and the twin replaying its commands
(:mod:`.replay`). Search: latency scanned with the starting gains, then the two log-factors by
Levenberg-Marquardt on the joint residuals, then the latency rescanned around its value with the fitted
gains (and the factors refined again if it moved). Bounds: factors in [1/4, 4], latency in [0, ``max_latency_s``].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from armtwin.envs.servo import ServoParams
from armtwin.twingap.replay import ArmTwin
from armtwin.twingap.source import Trajectory

_LOG_BOUND = math.log(4.0)


@dataclass(frozen=True)
class FitResult:
    """params: the fitted calibration. factors: (kp, kv, damping) multipliers of the start. latency_s.
    rms_before, rms_after: RMS joint error (rad, all joints and frames) with the start and the fit.
    evaluations: twin replays run."""

    params: ServoParams
    factors: tuple[float, float]
    latency_s: float
    rms_before: float
    rms_after: float
    evaluations: int


def _levenberg_marquardt(res, x0, *, iters: int = 40, h: float = 0.05):
    """Minimise ``|res(x)|^2`` from ``x0``: Levenberg-Marquardt with forward-difference Jacobians (each
    iteration costs len(x) + 1 or more residual evaluations). Returns (x, cost)."""
    x = np.asarray(x0, float)
    r = res(x)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(iters):
        J = np.stack([(res(x + h * e) - r) / h for e in np.eye(len(x))], axis=1)
        A, g = J.T @ J, J.T @ r
        improved = False
        for _ in range(8):
            step = np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), -g)
            xn = np.clip(x + step, -_LOG_BOUND, _LOG_BOUND)
            rn = res(xn)
            cn = float(rn @ rn)
            if cn < cost:
                improved = True
                rel = (cost - cn) / max(cost, 1e-300)
                x, r, cost, lam = xn, rn, cn, max(lam / 3, 1e-9)
                break
            lam *= 4
        if not improved or rel < 1e-7 or np.abs(step).max() < 1e-6:
            break
    return x, cost


def fit_servo(traj: Trajectory, *, start: ServoParams | None = None, max_latency_s: float = 0.15) -> FitResult:
    """Fit (see the module docstring). ``traj``: the recording (commands and measured joints)."""
    start = start or ServoParams()
    twin = ArmTwin(traj.dt)
    max_lat = int(round(max_latency_s / twin.sim_dt))
    evaluations = 0

    def params(x, lat: int) -> ServoParams:
        k = np.exp(np.clip(x, -_LOG_BOUND, _LOG_BOUND))
        return start.scaled(kv=k[0], damping=k[1], latency_s=lat * twin.sim_dt)

    def residual(x, lat: int) -> np.ndarray:
        nonlocal evaluations
        evaluations += 1
        q = twin.run(traj.q[0], traj.actions, params(x, lat))
        return (q - traj.q).reshape(-1) / math.sqrt(traj.q.size)

    def loss(x, lat: int) -> float:
        r = residual(x, lat)
        return float(r @ r)

    x = np.zeros(2)
    before = loss(x, start.latency_substeps(twin.sim_dt))
    lat = min(range(max_lat + 1), key=lambda m: loss(x, m))
    for _ in range(3):
        x, best = _levenberg_marquardt(lambda v, lat=lat: residual(v, lat), x)
        new_lat = min(range(max(0, lat - 3), min(max_lat, lat + 3) + 1), key=lambda m, x=x: loss(x, m))
        if new_lat == lat:
            break
        lat = new_lat
    best = loss(x, lat)
    k = np.exp(np.clip(x, -_LOG_BOUND, _LOG_BOUND))
    p = params(x, lat)
    fitted = ServoParams(kp=p.kp, kv=p.kv, damping=p.damping, latency_s=p.latency_s, fit={
        "source": traj.label, "frames": len(traj), "fps": traj.fps,
        "factors": {"kv": float(k[0]), "damping": float(k[1])}, "kp": "kept from the start (see fit.py)",
        "rms_rad_before": math.sqrt(before), "rms_rad_after": math.sqrt(best), "evaluations": evaluations})
    return FitResult(fitted, (float(k[0]), float(k[1])), p.latency_s, math.sqrt(before),
                     math.sqrt(best), evaluations)
