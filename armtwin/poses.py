"""The one home of armtwin's pose math: rotations, quaternions, homogeneous transforms (pure NumPy).

Envs, IK, experts, MimicGen-style augmentation and the action-space converter all import from here.
Conventions (docs/interfaces.md): poses are homogeneous (4, 4) float64
matrices mapping points from the pose's own frame into the world frame
(``world_T_frame``), positions in metres, quaternions **wxyz**. Every function
accepts a single pose (4, 4) or a batch (..., 4, 4) where it says so.

The central operation of MimicGen (:mod:`armtwin.mimic`) is :func:`transform_segment`: a source
segment of end-effector poses recorded next to an object is expressed in that
object's frame and then re-attached to the object's new pose, so the gripper
keeps the same relative motion with respect to the object.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "axis_angle_to_mat",
    "interpolate_poses",
    "make_pose",
    "mat_to_axis_angle",
    "mat_to_quat",
    "path_length",
    "perturb_pose",
    "pose_distance",
    "pose_from_pos_quat",
    "pose_inv",
    "pose_to_pos_quat",
    "quat_angle_deg",
    "quat_from_axis_angle",
    "quat_mul",
    "quat_slerp",
    "quat_to_mat",
    "rotation_angle",
    "topdown_quat",
    "transform_segment",
    "unmake_pose",
    "yaw_of",
]


def make_pose(pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Build (..., 4, 4) poses from positions (..., 3) metres and rotations (..., 3, 3)."""
    pos = np.asarray(pos, dtype=np.float64)
    rot = np.asarray(rot, dtype=np.float64)
    out = np.zeros(rot.shape[:-2] + (4, 4))
    out[..., :3, :3] = rot
    out[..., :3, 3] = pos
    out[..., 3, 3] = 1.0
    return out


def unmake_pose(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split (..., 4, 4) poses into positions (..., 3) and rotations (..., 3, 3) (copies)."""
    pose = np.asarray(pose, dtype=np.float64)
    return pose[..., :3, 3].copy(), pose[..., :3, :3].copy()


def pose_inv(pose: np.ndarray) -> np.ndarray:
    """Inverse of rigid (..., 4, 4) poses: R^T, -R^T p (no general matrix inverse, so no drift)."""
    pos, rot = unmake_pose(pose)
    rot_t = np.swapaxes(rot, -1, -2)
    return make_pose(-np.einsum("...ij,...j->...i", rot_t, pos), rot_t)


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """(..., 4) wxyz quaternions (normalised here) -> (..., 3, 3) rotation matrices."""
    q = np.asarray(quat, dtype=np.float64)
    # One quaternion: the plain vector norm (a reduction along an axis can round the last bit
    # differently, and the envs' and experts' numbers were produced with this one).
    q = q / (np.linalg.norm(q) if q.ndim == 1 else np.linalg.norm(q, axis=-1, keepdims=True))
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    out = np.empty(q.shape[:-1] + (3, 3))
    out[..., 0, 0] = 1 - 2 * (y * y + z * z)
    out[..., 0, 1] = 2 * (x * y - w * z)
    out[..., 0, 2] = 2 * (x * z + w * y)
    out[..., 1, 0] = 2 * (x * y + w * z)
    out[..., 1, 1] = 1 - 2 * (x * x + z * z)
    out[..., 1, 2] = 2 * (y * z - w * x)
    out[..., 2, 0] = 2 * (x * z - w * y)
    out[..., 2, 1] = 2 * (y * z + w * x)
    out[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return out


def mat_to_quat(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit wxyz quaternions with w >= 0.

    Shepperd's method: picks the largest of w, x, y, z to divide by, so it is
    stable for every rotation (including 180 degree turns).
    """
    r = np.asarray(rot, dtype=np.float64)
    batch = r.shape[:-2]
    r = r.reshape(-1, 3, 3)
    out = np.empty((r.shape[0], 4))
    tr = np.trace(r, axis1=-2, axis2=-1)
    diag = np.stack([tr, r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]], axis=-1)
    case = np.argmax(diag, axis=-1)
    for i in range(r.shape[0]):
        m = r[i]
        c = case[i]
        if c == 0:
            s = np.sqrt(max(tr[i] + 1.0, 0.0)) * 2
            q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
        elif c == 1:
            s = np.sqrt(max(1.0 + m[0, 0] - m[1, 1] - m[2, 2], 0.0)) * 2
            q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
        elif c == 2:
            s = np.sqrt(max(1.0 + m[1, 1] - m[0, 0] - m[2, 2], 0.0)) * 2
            q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
        else:
            s = np.sqrt(max(1.0 + m[2, 2] - m[0, 0] - m[1, 1], 0.0)) * 2
            q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
        out[i] = q
    out /= np.linalg.norm(out, axis=-1, keepdims=True)
    out[out[:, 0] < 0] *= -1
    return out.reshape(batch + (4,))


def pose_from_pos_quat(pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Positions (..., 3) m and wxyz quaternions (..., 4) -> poses (..., 4, 4)."""
    return make_pose(pos, quat_to_mat(quat))


def pose_to_pos_quat(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poses (..., 4, 4) -> positions (..., 3) m and wxyz quaternions (..., 4)."""
    pos, rot = unmake_pose(pose)
    return pos, mat_to_quat(rot)


def quat_from_axis_angle(axis, angle: float) -> np.ndarray:
    """(4,) wxyz unit quaternion of a turn by ``angle`` radians (right hand) about ``axis`` (3,) (any
    non-zero length; normalised here), both in the same frame.

    A zero component of the axis gives +0.0 (never -0.0 for a negative angle), so the quaternion reads the
    same when it is written out (``env_args`` JSON); adding 0.0 leaves every other value's bits unchanged.
    """
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis + 0.0])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of wxyz quaternions (..., 4) (not normalised): the rotation ``b`` then
    ``a`` for vectors, i.e. ``b`` expressed in the frame ``a`` turns to (as MuJoCo's ``mju_mulQuat``)."""
    w1, x1, y1, z1 = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    w2, x2, y2, z2 = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2], axis=-1)


def axis_angle_to_mat(rotvec: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3) (axis * angle, radians) -> (..., 3, 3) via Rodrigues."""
    v = np.asarray(rotvec, dtype=np.float64)
    theta = np.linalg.norm(v, axis=-1)[..., None, None]
    k = np.zeros(v.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -v[..., 2], v[..., 1]
    k[..., 1, 0], k[..., 1, 2] = v[..., 2], -v[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -v[..., 1], v[..., 0]
    small = theta < 1e-12
    safe = np.where(small, 1.0, theta)
    # sin(t)/t and (1-cos t)/t^2 applied to the unnormalised skew matrix K = t * [axis]x.
    a = np.where(small, 1.0, np.sin(safe) / safe)
    b = np.where(small, 0.5, (1 - np.cos(safe)) / safe**2)
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + a * k + b * (k @ k)


def mat_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> rotation vectors (..., 3), angle in [0, pi]."""
    q = mat_to_quat(rot)
    w = np.clip(q[..., 0], -1.0, 1.0)
    angle = 2 * np.arccos(w)
    s = np.sqrt(np.maximum(1 - w * w, 0.0))
    axis = np.where(s[..., None] < 1e-12, 0.0, q[..., 1:] / np.where(s < 1e-12, 1.0, s)[..., None])
    return axis * angle[..., None]


def quat_slerp(q1: np.ndarray, q2: np.ndarray, tau: float | np.ndarray) -> np.ndarray:
    """Spherical linear interpolation between wxyz quaternions along the shorter arc.

    ``tau`` 0 gives q1, 1 gives q2 (scalar or (N,) array -> (N, 4)).
    """
    q1 = np.asarray(q1, dtype=np.float64) / np.linalg.norm(q1)
    q2 = np.asarray(q2, dtype=np.float64) / np.linalg.norm(q2)
    dot = float(np.dot(q1, q2))
    if dot < 0.0:  # q and -q are the same rotation: take the short way round
        q2, dot = -q2, -dot
    tau_arr = np.asarray(tau, dtype=np.float64)
    if dot > 1.0 - 1e-10:
        out = q1 + tau_arr[..., None] * (q2 - q1)
    else:
        theta = np.arccos(np.clip(dot, -1.0, 1.0))
        s = np.sin(theta)
        out = (np.sin((1 - tau_arr) * theta) / s)[..., None] * q1 + (np.sin(tau_arr * theta) / s)[..., None] * q2
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def quat_angle_deg(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Angle between wxyz quaternions (..., 4) (normalised here), degrees in [0, 180] (q and -q are the
    same rotation)."""
    q1 = np.asarray(q1, dtype=np.float64)
    q2 = np.asarray(q2, dtype=np.float64)
    q1 = q1 / np.linalg.norm(q1, axis=-1, keepdims=True)
    q2 = q2 / np.linalg.norm(q2, axis=-1, keepdims=True)
    d = np.clip(np.abs(np.sum(q1 * q2, axis=-1)), 0.0, 1.0)
    return np.degrees(2 * np.arccos(d))


def topdown_quat(yaw: float) -> np.ndarray:
    """Gripper orientation (4,) wxyz with the approach axis (site x) pointing straight down and the
    jaw-closing axis (site z) at angle ``yaw`` (radians, about world z) in the table plane."""
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[0.0, -s, c], [0.0, c, s], [-1.0, 0.0, 0.0]])
    return mat_to_quat(rot)


def yaw_of(quat: np.ndarray) -> float:
    """Heading, radians in (-pi, pi]: the angle about world z of the frame's x axis projected on the
    table plane, for a (4,) wxyz quaternion."""
    rot = quat_to_mat(quat)
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


def rotation_angle(rot_a: np.ndarray, rot_b: np.ndarray) -> np.ndarray:
    """Angle (radians, [0, pi]) of the relative rotation between (..., 3, 3) rotations."""
    rel = np.swapaxes(rot_a, -1, -2) @ rot_b
    c = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(c, -1.0, 1.0))


def pose_distance(pose_a: np.ndarray, pose_b: np.ndarray, *, pos_weight: float = 1.0, rot_weight: float = 1.0):
    """Weighted distance pos_weight * |dp| (m) + rot_weight * angle (rad), broadcasting over (..., 4, 4)."""
    pa, ra = unmake_pose(pose_a)
    pb, rb = unmake_pose(pose_b)
    return pos_weight * np.linalg.norm(pa - pb, axis=-1) + rot_weight * rotation_angle(ra, rb)


def transform_segment(src_eef_poses: np.ndarray, src_obj_pose: np.ndarray, new_obj_pose: np.ndarray) -> np.ndarray:
    """Re-attach a source end-effector segment to an object's new pose.

    Args:
        src_eef_poses: (T, 4, 4) world_T_eef from the source demo.
        src_obj_pose: (4, 4) world_T_obj in the source demo (at the segment start).
        new_obj_pose: (4, 4) world_T_obj in the new scene.

    Returns:
        (T, 4, 4) world_T_eef' = new_obj_pose @ inv(src_obj_pose) @ src_eef_poses, so that
        obj_T_eef' equals the source's obj_T_eef at every step.
    """
    rel = pose_inv(np.asarray(src_obj_pose))[None] @ np.asarray(src_eef_poses, dtype=np.float64)
    return np.asarray(new_obj_pose, dtype=np.float64)[None] @ rel


def interpolate_poses(pose_1: np.ndarray, pose_2: np.ndarray, num_steps: int, *, cylindrical: bool = False) -> np.ndarray:
    """Poses strictly between pose_1 and pose_2 followed by pose_2 itself.

    Positions are interpolated linearly, orientations with slerp, at
    tau = k / (num_steps + 1), k = 1..num_steps+1. Returns (num_steps + 1, 4, 4):
    ``num_steps`` intermediate poses then the end pose (the start is not repeated,
    because it is where the robot already is or was last sent).

    ``cylindrical=True`` interpolates the position linearly in (radius, azimuth, z) about the
    world z axis (the arm's pan axis) instead of along the straight chord, so a move from one side
    of the base to the other keeps its distance from the base rather than cutting through the
    unreachable space next to it.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    p1, r1 = unmake_pose(pose_1)
    p2, r2 = unmake_pose(pose_2)
    tau = np.arange(1, num_steps + 2, dtype=np.float64) / (num_steps + 1)
    if cylindrical:
        rad1, rad2 = np.hypot(p1[0], p1[1]), np.hypot(p2[0], p2[1])
        az1 = np.arctan2(p1[1], p1[0])
        daz = (np.arctan2(p2[1], p2[0]) - az1 + np.pi) % (2 * np.pi) - np.pi  # short way round
        rad = rad1 + tau * (rad2 - rad1)
        az = az1 + tau * daz
        pos = np.stack([rad * np.cos(az), rad * np.sin(az), p1[2] + tau * (p2[2] - p1[2])], axis=-1)
    else:
        pos = p1[None] + tau[:, None] * (p2 - p1)[None]
    quats = quat_slerp(mat_to_quat(r1), mat_to_quat(r2), tau)
    out = make_pose(pos, quat_to_mat(quats))
    out[-1] = np.asarray(pose_2, dtype=np.float64)  # exact end point, no round-off
    return out


def path_length(pose_1: np.ndarray, pose_2: np.ndarray, *, cylindrical: bool = False) -> float:
    """Length, metres, of the position path :func:`interpolate_poses` takes (chord or cylindrical)."""
    p1, p2 = np.asarray(pose_1)[:3, 3], np.asarray(pose_2)[:3, 3]
    if not cylindrical:
        return float(np.linalg.norm(p2 - p1))
    rad1, rad2 = np.hypot(p1[0], p1[1]), np.hypot(p2[0], p2[1])
    daz = (np.arctan2(p2[1], p2[0]) - np.arctan2(p1[1], p1[0]) + np.pi) % (2 * np.pi) - np.pi
    return float(np.sqrt((rad2 - rad1) ** 2 + (0.5 * (rad1 + rad2) * daz) ** 2 + (p2[2] - p1[2]) ** 2))


def perturb_pose(pose: np.ndarray, rng: np.random.Generator, *, pos_sigma: float, rot_sigma: float) -> np.ndarray:
    """Add Gaussian noise to a (4, 4) pose: N(0, pos_sigma^2) metres per axis on the position and a
    rotation vector N(0, rot_sigma^2) radians per axis applied in the world frame."""
    pos, rot = unmake_pose(pose)
    if pos_sigma > 0:
        pos = pos + rng.normal(0.0, pos_sigma, size=3)
    if rot_sigma > 0:
        rot = axis_angle_to_mat(rng.normal(0.0, rot_sigma, size=3)) @ rot
    return make_pose(pos, rot)
