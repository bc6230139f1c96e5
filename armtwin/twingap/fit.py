"""Servo gains, damping and latency fitted to a recording: system identification from the user's own arm.

Model: every joint's ``kp``, ``kv`` and ``damping`` are the starting calibration's (default: the identified
``so101_constants``) times one factor each, shared by the joints, plus one command latency (whole physics
steps). Loss: mean squared joint error (rad^2) between the recording and the twin replaying its commands
open loop from the first reading (:mod:`.replay`).

What the data identify, and how the search uses it. The twin's servo is a position servo whose torque
saturates at ``C.SERVO_FORCE_RANGE``: a step of more than ~2 ticks saturates it, the joint accelerates to a
terminal speed set by the passive damping (force / damping), then brakes and rings, underdamped, at the
natural frequency sqrt(kp / inertia). Read at 30 fps and whole servo ticks, the damping shows in every
saturated move (the best-determined parameter); the approach time constant tau = (kv + damping) / kp and
the shape of the braking (the natural frequency) set kp and kv apart. The braking is where the loss is
rough: it switches saturation on and off at physics-step resolution, so a small change of kp or kv moves
a switch by one step (~25 mrad per step at 4 rad/s) and the loss jumps (derivatives are useless, which is
why the search is by scans, not gradients). Coordinates are those physical combinations, (log damping
factor, log tau factor, log kp factor); kv follows from them (mean over the joints). Search: latency
scanned with the starting gains; then each coordinate in turn scanned densely over [1/4, 4] (41 points),
again +-0.3 (21 points) and +-0.08 (17 points) around the best; latency rescanned +-3 physics steps with the
fitted gains (the finer scans rerun if it moved). Bounds: factors in [1/4, 4], latency in [0, ``max_latency_s``].

Recordings to fit: step-and-hold motions (each command held long enough for the servos to settle, ~0.4 s)
with steps from a few ticks to ~0.15 rad. Fast continuous sweeps chain saturated transients and the
replay diverges chaotically from the recording (a 0.1 % change of kp moves it by mrad), hiding the
parameters; see ``tests/twingap_data.py``. Accuracy measured on such recordings (12 s, 360 frames at 30
fps, virtual follower with a perturbed servo model, latency 45 ms; factors kp, kv, damping -> error of kp,
kv, damping): 0.8, 1.4, 1.3 -> 4.6 %, 5.1 %, 0.6 %; 0.75, 1.5, 1.4 -> 5.0 %, 6.1 %, 0.1 %; 1.2, 1.3, 0.7 ->
1.0 %, 1.4 %, 0.1 %; latency exact in all. Not recovered: a lightly damped servo (1.3, 0.7, 0.8: -28 %,
-39 %, 0.5 %), which rings through the holds so that even its own parameters replay it only to 1.3 mrad
RMS; near the tick-quantization floor (0.44 mrad RMS) kp and kv trade off along a shallow valley (the
natural frequency is only seen through 30 fps samples), which bounds the accuracy to a few percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from armtwin.envs.servo import ServoParams
from armtwin.twingap.replay import ArmTwin
from armtwin.twingap.source import Trajectory

_LOG_BOUND = math.log(4.0)
#: (half width in log units, points) of the successive scans of each coordinate
_PLAN = ((_LOG_BOUND, 41), (0.3, 21), (0.08, 17))


@dataclass(frozen=True)
class FitResult:
    """params: the fitted calibration. factors: (kp, kv, damping) multipliers of the start. latency_s.
    rms_before, rms_after: RMS joint error (rad, all joints and frames) with the start and the fit.
    evaluations: twin replays run."""

    params: ServoParams
    factors: tuple[float, float, float]
    latency_s: float
    rms_before: float
    rms_after: float
    evaluations: int


def _scan(loss, z: np.ndarray, best: float, i: int, half: float, pts: int) -> tuple[np.ndarray, float]:
    """Coordinate ``i`` of ``z`` at ``pts`` points over +-``half`` around its value (clipped to the
    bounds); returns the best point and its loss."""
    centre = z[i]
    for v in np.linspace(centre - half, centre + half, pts):
        zz = z.copy()
        zz[i] = float(np.clip(v, -_LOG_BOUND, _LOG_BOUND))
        if zz[i] == z[i]:
            continue
        f = loss(zz)
        if f < best:
            best, z = f, zz
    return z, best


def fit_servo(traj: Trajectory, *, start: ServoParams | None = None, max_latency_s: float = 0.15) -> FitResult:
    """Fit (see the module docstring). ``traj``: the recording (commands and measured joints)."""
    start = start or ServoParams()
    twin = ArmTwin(traj.dt)
    max_lat = int(round(max_latency_s / twin.sim_dt))
    kv0, d0 = float(np.mean(start.kv)), float(np.mean(start.damping))
    evaluations = 0

    def factors(z) -> np.ndarray:
        """(kp, kv, damping) factors of the coordinates z = log (damping, tau, kp) factors."""
        fd, ftau, fkp = np.exp(z)
        fkv = (ftau * fkp * (kv0 + d0) - fd * d0) / max(kv0, 1e-12)
        return np.clip([fkp, fkv, fd], 1 / 4, 4)

    def params(z, lat: int) -> ServoParams:
        k = factors(z)
        return start.scaled(kp=k[0], kv=k[1], damping=k[2], latency_s=lat * twin.sim_dt)

    def loss(z, lat: int) -> float:
        nonlocal evaluations
        evaluations += 1
        q = twin.run(traj.q[0], traj.actions, params(z, lat))
        return float(np.mean((q - traj.q) ** 2))

    z = np.zeros(3)
    before = loss(z, start.latency_substeps(twin.sim_dt))
    lat = min(range(max_lat + 1), key=lambda m: loss(z, m))
    plan = _PLAN
    for _ in range(3):
        best = loss(z, lat)
        for half, pts in plan:
            for i in range(3):
                z, best = _scan(lambda v, lat=lat: loss(v, lat), z, best, i, half, pts)
        new_lat = min(range(max(0, lat - 3), min(max_lat, lat + 3) + 1), key=lambda m, z=z: loss(z, m))
        if new_lat == lat:
            break
        lat, plan = new_lat, _PLAN[1:]
    best = loss(z, lat)
    k = factors(z)
    p = params(z, lat)
    fitted = ServoParams(kp=p.kp, kv=p.kv, damping=p.damping, latency_s=p.latency_s, fit={
        "source": traj.label, "frames": len(traj), "fps": traj.fps,
        "factors": {"kp": float(k[0]), "kv": float(k[1]), "damping": float(k[2])},
        "rms_rad_before": math.sqrt(before), "rms_rad_after": math.sqrt(best), "evaluations": evaluations})
    return FitResult(fitted, (float(k[0]), float(k[1]), float(k[2])), p.latency_s, math.sqrt(before),
                     math.sqrt(best), evaluations)
