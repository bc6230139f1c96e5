"""Validation of what arrives from the ROS 2 wire: a decoded JointState or JointTrajectory becomes a
:class:`JointTarget` / :class:`TrajectoryPlan` over the arm's joints, or a
:class:`~armtwin.bridge.messages.MalformedMessage` that names what was wrong (sender data quoted
through :func:`~armtwin.bridge.messages.quote`, so a hostile sender cannot make a log line long).

Units: positions radians, velocities rad/s, efforts N*m, stamps ns since the Unix epoch,
``time_from_start`` seconds.
"""

from __future__ import annotations


from dataclasses import dataclass, field

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.bridge.messages import MalformedMessage, quote, stamp_to_ns

@dataclass(frozen=True)
class JointTarget:
    """A validated joint message, reduced to the SO-101 joints it names.

    ``mask``: (6,) bool, which of JOINT_NAMES the message set; ``position``: (6,) float radians
    (NaN where not set); ``velocity``/``effort``: (6,) or None when the message left them empty;
    ``stamp_ns``: header stamp, ns since the epoch; ``frame_id``: header frame.
    """

    stamp_ns: int
    frame_id: str
    mask: np.ndarray
    position: np.ndarray
    velocity: np.ndarray | None = None
    effort: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def _float_array(values, what: str) -> np.ndarray:
    try:
        arr = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MalformedMessage("wrong_type", f"{what} must be numbers ({e})") from None
    if arr.ndim != 1:
        raise MalformedMessage("wrong_type", f"{what} must be a flat sequence of numbers")
    return arr


def _joint_indices(names) -> list[int]:
    if isinstance(names, (str, bytes)) or not all(isinstance(n, str) for n in names):
        raise MalformedMessage("wrong_type", "joint names must be a sequence of strings")
    if len(names) == 0:
        raise MalformedMessage("empty", "message names no joints")
    unknown = [n for n in names if n not in C.JOINT_NAMES]
    if unknown:
        raise MalformedMessage(
            "unknown_joint", f"unknown joint names {quote(unknown)}; SO-101 joints are {', '.join(C.JOINT_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise MalformedMessage("duplicate_joint", f"joint names repeat: {quote(names)}")
    return [C.JOINT_NAMES.index(n) for n in names]


def _scatter(idx: list[int], values: np.ndarray) -> np.ndarray:
    out = np.full(C.NUM_JOINTS, np.nan)
    out[idx] = values
    return out


def validate_joint_state(msg) -> JointTarget:
    """Check a JointState (an IDL ``JointState`` or anything with the same fields, e.g. an rclpy
    message) and reduce it to a :class:`JointTarget`. Raises :class:`MalformedMessage`.

    Rules (ROS 2's own): ``position`` has one entry per name; ``velocity`` and ``effort`` are
    empty or have one entry per name. Here also: names are SO-101 joints, no repeats, all
    values finite.
    """
    try:
        names = list(msg.name)
        pos = _float_array(msg.position, "position")
        vel = _float_array(msg.velocity, "velocity")
        eff = _float_array(msg.effort, "effort")
        stamp_ns = stamp_to_ns(msg.header.stamp)
        frame_id = str(msg.header.frame_id)
    except AttributeError as e:
        raise MalformedMessage("wrong_type", f"not a JointState ({e})") from None
    idx = _joint_indices(names)
    n = len(names)
    if len(pos) != n:
        raise MalformedMessage("length_mismatch", f"{n} names but {len(pos)} positions")
    for arr, what in ((vel, "velocities"), (eff, "efforts")):
        if len(arr) not in (0, n):
            raise MalformedMessage("length_mismatch", f"{n} names but {len(arr)} {what} (must be 0 or {n})")
    for arr, what in ((pos, "position"), (vel, "velocity"), (eff, "effort")):
        if not np.all(np.isfinite(arr)):
            raise MalformedMessage("non_finite", f"{what} holds NaN or inf: {quote(arr.tolist())}")
    mask = np.zeros(C.NUM_JOINTS, dtype=bool)
    mask[idx] = True
    return JointTarget(
        stamp_ns=stamp_ns,
        frame_id=frame_id,
        mask=mask,
        position=_scatter(idx, pos),
        velocity=_scatter(idx, vel) if len(vel) else None,
        effort=_scatter(idx, eff) if len(eff) else None,
    )


@dataclass(frozen=True)
class TrajectoryPlan:
    """A validated JointTrajectory: ``times`` (K,) seconds from ``stamp_ns`` (increasing),
    ``positions`` (K, 6) radians with NaN for joints the trajectory does not name, ``mask`` (6,)."""

    stamp_ns: int
    mask: np.ndarray
    times: np.ndarray
    positions: np.ndarray

    def sample(self, t_ns: int) -> np.ndarray:
        """(6,) radians at wall time ``t_ns``: linear interpolation between points, held at the ends."""
        t = (t_ns - self.stamp_ns) * 1e-9
        out = np.full(C.NUM_JOINTS, np.nan)
        for j in np.flatnonzero(self.mask):
            out[j] = np.interp(t, self.times, self.positions[:, j])
        return out


def validate_joint_trajectory(msg) -> TrajectoryPlan:
    """Check a JointTrajectory: SO-101 joint names, every point with one finite position per
    name, ``time_from_start`` strictly increasing. Raises :class:`MalformedMessage`."""
    try:
        names = list(msg.joint_names)
        points = list(msg.points)
        stamp_ns = stamp_to_ns(msg.header.stamp)
    except AttributeError as e:
        raise MalformedMessage("wrong_type", f"not a JointTrajectory ({e})") from None
    idx = _joint_indices(names)
    if not points:
        raise MalformedMessage("empty", "trajectory has no points")
    times, rows = [], []
    for k, p in enumerate(points):
        pos = _float_array(p.positions, f"points[{k}].positions")
        if len(pos) != len(names):
            raise MalformedMessage("length_mismatch", f"{len(names)} joint names but points[{k}] has {len(pos)}")
        if not np.all(np.isfinite(pos)):
            raise MalformedMessage("non_finite", f"points[{k}].positions holds NaN or inf")
        times.append(p.time_from_start.sec + p.time_from_start.nanosec * 1e-9)
        rows.append(_scatter(idx, pos))
    times_a = np.asarray(times)
    if np.any(np.diff(times_a) <= 0):
        raise MalformedMessage("wrong_type", f"time_from_start must increase strictly, got {quote(times)}")
    mask = np.zeros(C.NUM_JOINTS, dtype=bool)
    mask[idx] = True
    return TrajectoryPlan(stamp_ns=stamp_ns, mask=mask, times=times_a, positions=np.stack(rows))
