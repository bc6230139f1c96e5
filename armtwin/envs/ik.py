"""Inverse kinematics of an arm (the SO-101 by default, any of :mod:`armtwin.assets.models`) that
respects its 5 degrees of freedom.

The arm has five joints before the gripper, so a full 6-D gripper pose is not
always reachable. :class:`IK` solves a weighted least-squares problem with mink
(a ``FrameTask`` on the ``gripperframe`` site, a ``PostureTask`` that keeps the
solution near the start and the joint-limit constraint, QP solver ``daqp``):
position error weighs ``position_weight``, orientation error weighs
``orientation_weight`` (scalar or (3,) per axis of the site frame, whose x axis
is the approach axis pointing out of the jaws and z the jaw-closing axis), so
the solver trades a little orientation for exact position when both cannot hold.

Units: metres, radians, quaternions wxyz, world frame = arm base frame (z up).
It runs on a standalone arm-only model (no environment needed); the gripper
joint is carried through unchanged. Joint vectors are (6,), the robot's ``C.JOINT_NAMES`` order; a
model with more joints (the OMX's passive second jaw) keeps the others at zero.
"""

from __future__ import annotations

import numpy as np

from armtwin.assets.models import robot_model
from armtwin.poses import pose_from_pos_quat

_ARM = 5  # joints that move the gripper frame


def site_quat(mat) -> np.ndarray:
    """A frame's (3, 3) rotation matrix as read from MuJoCo (e.g. ``site_xmat``) -> (4,) wxyz, w >= 0,
    by MuJoCo's own ``mju_mat2Quat``: the simulator's frames keep MuJoCo's arithmetic, as its body
    quaternions (``xquat``) do. Every other conversion is :func:`armtwin.poses.mat_to_quat`."""
    import mujoco

    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(mat, dtype=float).reshape(9))
    return q if q[0] >= 0 else -q


class IK:
    """Weighted IK for the gripper site.

    ``IK(model=None, *, robot="so101")``: ``robot`` names the arm (:mod:`armtwin.assets.models`);
    ``model`` is an arm-only MjModel with hinge joints named like its ``C.JOINT_NAMES`` (default: the
    robot's ``load_arm_model()``). Kinematics are the same as in every env scene (the base sits at the
    world origin). ``site`` defaults to the robot's ``C.GRIPPER_SITE``.
    """

    def __init__(self, model=None, *, robot: str = "so101", site: str | None = None, posture_cost: float = 1e-3):
        import mink
        import mujoco

        rm = robot_model(robot)
        C = rm.C
        if model is None:
            model = rm.M.load_arm_model()
        if model.nq != model.njnt or not all(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) >= 0
                                             for n in C.JOINT_NAMES):
            raise ValueError(
                f"IK needs an arm-only model (hinge joints only) with joints {C.JOINT_NAMES} (got nq={model.nq}); "
                f"use {rm.mjcf}.load_arm_model()"
            )
        site = C.GRIPPER_SITE if site is None else site
        self._mujoco = mujoco
        self._mink = mink
        self.model = model
        self.robot = robot
        self.site = site
        # qpos (= dof) address of each of the robot's joints; the arm's five move the site
        self._qadr = np.array([model.joint(n).qposadr[0] for n in C.JOINT_NAMES])
        self._frozen = np.setdiff1d(np.arange(model.nv), self._qadr[:_ARM])
        self._data = mujoco.MjData(model)
        self._site_id = model.site(site).id
        self._cfg = mink.Configuration(model)
        self._frame = mink.FrameTask(site, "site", position_cost=1.0, orientation_cost=0.1, lm_damping=1e-3)
        self._posture = mink.PostureTask(model, cost=posture_cost)
        self._limits = [mink.ConfigurationLimit(model, gain=0.95)]
        self.lower = model.jnt_range[self._qadr, 0].copy()
        self.upper = model.jnt_range[self._qadr, 1].copy()
        self._nj = len(self._qadr)

    def _full(self, q) -> np.ndarray:
        """(6,) joint vector -> (nq,) qpos (other joints zero)."""
        out = np.zeros(self.model.nq)
        out[self._qadr] = q
        return out

    def fk(self, q) -> tuple[np.ndarray, np.ndarray]:
        """q (6,) rad -> gripper site (pos (3,) m, quat (4,) wxyz) in the world/base frame."""
        d = self._data
        d.qpos[:] = self._full(np.asarray(q, dtype=float))
        self._mujoco.mj_kinematics(self.model, d)
        return d.site_xpos[self._site_id].copy(), site_quat(d.site_xmat[self._site_id].reshape(3, 3))

    def fk_mat(self, q) -> np.ndarray:
        """q (6,) rad -> (4, 4) gripper site pose in the world/base frame."""
        return pose_from_pos_quat(*self.fk(q))

    def solve(
        self,
        target_pos,
        target_quat=None,
        q_init=None,
        *,
        position_weight: float = 1.0,
        orientation_weight=0.05,
        max_iters: int = 60,
        tol: float = 5e-4,
        dt: float = 0.5,
    ) -> tuple[np.ndarray, bool, float]:
        """Joint positions that bring the gripper site to ``target_pos`` (3,) m and, weighed by
        ``orientation_weight``, to ``target_quat`` (4,) wxyz (None: position only).

        q_init (6,) rad (default: zeros) is the start and the posture reference; its gripper
        value is kept. Returns ``(q (6,) rad within joint limits, converged, pos_err_m)`` where
        converged means the position error is below ``tol`` metres.
        """
        mink = self._mink
        target_pos = np.asarray(target_pos, dtype=float).reshape(3)
        q0 = np.zeros(self._nj) if q_init is None else np.asarray(q_init, float).reshape(-1)
        q = np.clip(q0, self.lower, self.upper)
        if target_quat is None:
            target_quat = self.fk(q)[1]
            ori = np.zeros(3)
        else:
            ori = np.broadcast_to(np.asarray(orientation_weight, dtype=float), (3,)).copy()
        self._frame.set_position_cost(position_weight)
        self._frame.set_orientation_cost(ori)
        rot = mink.SO3(np.asarray(target_quat, float))
        self._frame.set_target(mink.SE3.from_rotation_and_translation(rot, target_pos))
        cfg = self._cfg
        cfg.update(self._full(q))
        self._posture.set_target(self._full(q))
        tasks = [self._frame, self._posture]
        err = np.inf
        for _ in range(max_iters):
            vel = mink.solve_ik(cfg, tasks, dt, "daqp", damping=1e-6, limits=self._limits)
            vel[self._frozen] = 0.0
            cfg.integrate_inplace(vel, dt)
            err = float(np.linalg.norm(cfg.data.site_xpos[self._site_id] - target_pos))
            if err < tol and np.abs(vel).max() * dt < 1e-4:
                break
        q = np.clip(cfg.q[self._qadr], self.lower, self.upper)
        q[_ARM:] = q0[_ARM:]
        err = float(np.linalg.norm(self.fk(q)[0] - target_pos))
        return q, err < tol, err
