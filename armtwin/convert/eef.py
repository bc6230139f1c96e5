"""Joint-position actions <-> end-effector pose actions through the SO-101 kinematics.

End-effector action, (T, 8) float64 per demo: gripper-site position (3,) metres, orientation
quaternion (4,) wxyz, both in the arm base frame (= world frame of the sims, z up), then the
gripper joint target (1,) radians. ``--to eef`` maps each joint action (T, 6) radians through
forward kinematics (``armtwin.envs.ik.IK.fk``); ``--to joint`` maps pose actions back with the
5-DoF-aware IK (``IK.solve``: position weighed against orientation, joint limits respected),
warm-started from the joint state observed at that step (``obs/joint_pos``), so consecutive
solutions stay on the recorded branch.

The output is the input file with ``actions`` replaced and the previous actions kept beside it
(``actions_joint`` or ``actions_eef``); ``/data`` gets attr ``action_space`` ("eef" or "joint").
Every conversion also runs the way back and reports, per demo, the round-trip joint error
(degrees) and end-effector error (mm, degrees), max and mean. Written to a temporary file
beside the output and renamed at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.convert.h5io import ConvertError, scan_recordings
from armtwin.data.schema import ACTION_DIMS
from armtwin.poses import quat_angle_deg
from armtwin.staging import check_output

EEF_DIM = ACTION_DIMS["eef"]  # the recording format's (armtwin.data.schema)
ACTION_SPACES = ("eef", "joint")


@dataclass
class ActionsConfig:
    """``armtwin convert actions``: ``input`` -> ``output`` with actions in space ``to``.

    ``orientation_weight``: IK weight of the orientation error relative to position (1.0): poses
    made by FK of a real configuration are reachable, so both can be met. ``tol``: IK position
    tolerance, metres.
    """

    input: Path
    output: Path
    to: str = "eef"
    overwrite: bool = False
    orientation_weight: float = 1.0
    tol: float = 1e-5
    max_iters: int = 200
    ik_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.input = Path(self.input)
        self.output = Path(self.output)
        if self.to not in ACTION_SPACES:
            raise ConvertError(f"unknown action space {self.to!r}; valid choices: {', '.join(ACTION_SPACES)}")
        if self.output.suffix not in (".h5", ".hdf5"):
            raise ConvertError(f"output must end in .h5 or .hdf5, got {str(self.output)!r}")
        check_output(self.output, [self.input], overwrite=self.overwrite, error=ConvertError)


def joint_to_eef(ik, q: np.ndarray) -> np.ndarray:
    """(T, 6) joint targets, radians -> (T, 8) pose actions (pos m, quat wxyz, gripper rad)."""
    out = np.empty((len(q), EEF_DIM))
    for t, qt in enumerate(q):
        pos, quat = ik.fk(qt)
        out[t, :3], out[t, 3:7], out[t, 7] = pos, quat, qt[5]
    return out


def eef_to_joint(ik, eef: np.ndarray, q_init: np.ndarray, *, orientation_weight=1.0, tol=1e-5, max_iters=200) -> np.ndarray:
    """(T, 8) pose actions -> (T, 6) joint targets, radians, by IK warm-started at ``q_init`` (T, 6)."""
    out = np.empty((len(eef), C.NUM_JOINTS))
    for t, a in enumerate(eef):
        start = np.array(q_init[t], dtype=float)
        start[5] = a[7]
        q, _, _ = ik.solve(a[:3], a[3:7], start, orientation_weight=orientation_weight, tol=tol, max_iters=max_iters)
        q[5] = a[7]
        out[t] = q
    return out


def _errors(ik, q_ref: np.ndarray, q_rt: np.ndarray, eef_ref: np.ndarray) -> dict:
    eef_rt = joint_to_eef(ik, q_rt)
    pos_mm = np.linalg.norm(eef_rt[:, :3] - eef_ref[:, :3], axis=1) * 1000
    rot_deg = quat_angle_deg(eef_rt[:, 3:7], eef_ref[:, 3:7])
    jd = np.degrees(np.abs(q_rt - q_ref)).max(axis=1) if q_ref is not None else np.full(len(q_rt), np.nan)
    return {
        "frames": len(q_rt),
        "eef_pos_err_mm_max": float(pos_mm.max()),
        "eef_pos_err_mm_mean": float(pos_mm.mean()),
        "eef_rot_err_deg_max": float(rot_deg.max()),
        "joint_err_deg_max": float(np.nanmax(jd)) if q_ref is not None else float("nan"),
        "joint_err_deg_mean": float(np.nanmean(jd)) if q_ref is not None else float("nan"),
    }


def convert_actions(cfg: ActionsConfig) -> dict:
    """Convert every demo's actions of ``cfg.input`` to ``cfg.to``; returns per-demo round-trip errors."""
    from armtwin.data import edited_copy, open_recording
    from armtwin.envs.ik import IK

    scan = scan_recordings([cfg.input], episodes="all", action_dims=tuple(ACTION_DIMS.values()))
    with open_recording(cfg.input) as rec:
        space = str(rec.attrs.get("action_space", "joint"))
        if space == cfg.to:
            raise ConvertError(f"{cfg.input}: actions are already in {space!r} space")
        want = C.NUM_JOINTS if space == "joint" else EEF_DIM
        for ep in scan.episodes:
            shape = rec.demo(ep.demo).dataset("actions").shape
            if shape[1:] != (want,):
                raise ConvertError(f"{cfg.input}:/data/{ep.demo}/actions has shape {shape}; {space} actions are (T, {want})")
    ik = IK(**cfg.ik_kwargs)
    per_episode = []
    with edited_copy(cfg.input, cfg.output) as out:
        out.set_data_attrs({"action_space": cfg.to})
        for ep in scan.episodes:
            a = out.read(ep.demo, "actions")
            q_obs = out.read(ep.demo, "obs/joint_pos")
            if cfg.to == "eef":
                eef = joint_to_eef(ik, a)
                q_rt = eef_to_joint(ik, eef, q_obs, orientation_weight=cfg.orientation_weight, tol=cfg.tol,
                                    max_iters=cfg.max_iters)
                err = _errors(ik, a, q_rt, eef)
                out.put(ep.demo, "actions", eef)
                out.put(ep.demo, "actions_joint", a)
            else:
                q = eef_to_joint(ik, a, q_obs, orientation_weight=cfg.orientation_weight, tol=cfg.tol,
                                 max_iters=cfg.max_iters)
                has_ref = out.has(ep.demo, "actions_joint")
                q_ref = out.read(ep.demo, "actions_joint") if has_ref else None
                err = _errors(ik, q_ref, q, a)
                if has_ref:
                    out.delete(ep.demo, "actions_joint")
                out.put(ep.demo, "actions", q)
                out.put(ep.demo, "actions_eef", a)
            err["demo"] = ep.demo
            per_episode.append(err)
    return {"output": cfg.output, "episodes": per_episode}
