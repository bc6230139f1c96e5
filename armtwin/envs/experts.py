"""Scripted experts: waypoint state machines through IK, one per task.

Each expert plans, phase by phase, a gripper pose (approach above the object, descend, close, lift,
move above the goal, lower, open, retreat), turns it into joint targets with :class:`armtwin.envs.ik.IK`
(position weighed against a top-down approach axis, 5-DoF aware), and interpolates joint targets
linearly over the phase. Each phase's target is computed when the phase starts, from the observation
then (so a cube that sits a little off in the jaws is still put down where it should go).
``noise`` adds Gaussian noise (radians, std) to the arm joints of every action, so demos look less
perfect; it is low-pass filtered (AR(1), correlation ``NOISE_CORR`` per step, same std) so it drifts
like a hand rather than buzzing; ``seed`` seeds that noise.

Each task module (:mod:`armtwin.envs.tasks`) subclasses :class:`PickPlaceExpert` with its targets; the
registry names that class. ``make_expert(env_id, *, noise=0.0, seed=None)`` -> object with
``reset(env, obs)`` and ``act(obs) -> (6,) float32`` joint targets in radians.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np

from armtwin.envs.ik import IK
from armtwin.envs.registry import get_task
from armtwin.poses import quat_to_mat, topdown_quat, yaw_of

_IK: dict[str, IK] = {}


def shared_ik(robot: str = "so101") -> IK:
    """One IK per robot per process (building it costs a model compile)."""
    if robot not in _IK:
        _IK[robot] = IK(robot=robot)
    return _IK[robot]


@dataclass
class _Phase:
    name: str
    steps: int
    # gripper-site target: (3,) m, or "lift"/"above_place"/"place"/"retreat" (resolved from the
    # observation when the phase starts), or None to keep the arm where it is
    pos: np.ndarray | str | None
    gripper: float | None  # gripper joint target, radians; None keeps it
    hold: int = 0  # extra steps at the target


def _grasp_yaw(obj_yaw: float, obj_xy, symmetry: float, offset: float = 0.0) -> float:
    """Jaw-closing direction: the object's x axis modulo its symmetry, nearest the arm's natural yaw (the
    reach direction plus ``offset``, the robot's ``C.CLOSING_YAW_OFFSET``)."""
    natural = math.atan2(obj_xy[1], obj_xy[0]) + offset
    k = round((natural - obj_yaw) / symmetry)
    return obj_yaw + k * symmetry


class PickPlaceExpert(abc.ABC):
    """Pick object ``pick`` and put it down on ``place`` (or just lift it when ``place`` is None).

    Grasp frame: the jaw-closing axis along the object's x axis (2.5-3 cm across), approach straight
    down; the gripper site (``C.GRIPPER_SITE``) against the object's face when it is a jaw's inner face
    (the SO-101's fixed jaw), on the object's centre when it sits midway between the jaws
    (``C.GRIPPER_SITE_CENTRED``, the OMX). ``C`` is the env's robot constants (``env.C``)."""

    APPROACH_H = 0.055  # m above the grasp point
    LIFT_Z = 0.085  # m, site height while carrying
    ORI_W = 0.03  # ~1 mm of position weighs like 2 degrees of approach tilt
    NOISE_CORR = 0.8
    CLEARANCE = 0.006  # m between the fixed jaw and the object while descending

    def __init__(self, *, noise: float = 0.0, seed: int | None = None):
        if not (noise >= 0 and math.isfinite(noise)):
            raise ValueError(f"noise must be a finite number of radians >= 0, got {noise!r}")
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)
        self.ik: IK | None = None  # the env's robot's, set by reset

    # the task decides what to pick and where to put it
    @abc.abstractmethod
    def _targets(self, env) -> tuple[str, str | None]: ...

    def reset(self, env, obs) -> None:
        u = env.unwrapped
        self.env = u
        C = self.C = u.C
        self.ik = shared_ik(u.ROBOT)
        self.pick, self.place = self._targets(u)
        names = u.object_names
        i = names.index(self.pick)
        spec = u.object_spec(self.pick)
        p, q = obs["object_pos"][i], obs["object_quat"][i]
        sym = math.pi / 2 if abs(spec.size[0] - spec.size[1]) < 1e-9 else math.pi
        self.yaw = _grasp_yaw(yaw_of(q), p[:2], sym, C.CLOSING_YAW_OFFSET)
        self.quat = topdown_quat(self.yaw)
        closing = quat_to_mat(self.quat)[:, 2]
        if C.GRIPPER_SITE_CENTRED:
            grasp = np.array(p, dtype=float)
        else:
            # the site is the fixed jaw's inner face: offset it from the object centre by half the width
            grasp = p - closing * (spec.size[0] + self.CLEARANCE)
        grasp[2] = max(p[2] + 0.002, 0.012)
        self.half_h = spec.half_height
        opening = C.GRIPPER_HALF_OPEN if self._tight() else C.GRIPPER_OPEN
        phases = [
            _Phase("approach", 30, grasp + [0, 0, self.APPROACH_H], opening, 3),
            _Phase("descend", 22, grasp, None, 4),
            _Phase("close", 10, None, C.GRIPPER_CLOSED, 4),
            _Phase("lift", 20, "lift", C.GRIPPER_CLOSED, 2),
        ]
        if self.place is not None:
            phases += [
                _Phase("move", 28, "above_place", C.GRIPPER_CLOSED, 3),
                _Phase("lower", 18, "place", C.GRIPPER_CLOSED, 3),
                _Phase("open", 8, None, C.GRIPPER_HALF_OPEN, 3),
                _Phase("retreat", 15, "retreat", C.GRIPPER_HALF_OPEN, 0),
            ]
        self.phases = phases
        self.k = -1
        self._eps = np.zeros(5)
        self.q_cmd = np.asarray(obs["joint_pos"], float).copy()
        self._next_phase(obs)

    def _tight(self) -> bool:
        return False

    @property
    def done(self) -> bool:
        """All phases played (the expert then holds its last targets)."""
        return self.k >= len(self.phases)

    @property
    def phase(self) -> str:
        return "done" if self.done else self.phases[self.k].name

    def _resolve(self, target, obs) -> np.ndarray:
        if not isinstance(target, str):
            return np.asarray(target, float)
        u = self.env
        eef = np.asarray(obs["eef_pos"], float)
        obj = obs["object_pos"][u.object_names.index(self.pick)]
        # where the object hangs below the site right now (it may have shifted while closing)
        hang = eef - obj
        if target == "lift":
            return np.array([eef[0], eef[1], self.LIFT_Z])
        if target == "retreat":
            return eef + [0.0, 0.0, 0.05]
        base = obs["object_pos"][u.object_names.index(self.place)]
        top = base[2] + u.object_spec(self.place).half_height
        goal = np.array([base[0], base[1], top + self.half_h + 0.006]) + hang
        if target == "above_place":
            goal[2] = max(goal[2] + 0.04, self.LIFT_Z)
        return goal

    def _next_phase(self, obs) -> None:
        self.k += 1
        self.t = 0
        if self.done:
            return
        ph = self.phases[self.k]
        self.q_start = self.q_cmd.copy()
        q_goal = self.q_cmd.copy()
        if ph.pos is not None:
            pos = self._resolve(ph.pos, obs)
            q, _, _ = self.ik.solve(pos, self.quat, self.q_cmd, orientation_weight=self.ORI_W)
            q_goal[:5] = q[:5]
        if ph.gripper is not None:
            q_goal[5] = ph.gripper
        self.q_goal = q_goal

    def act(self, obs) -> np.ndarray:
        """(6,) float32 joint targets, radians."""
        if not self.done:
            ph = self.phases[self.k]
            a = min(1.0, (self.t + 1) / ph.steps)
            # smoothstep: gentle start and stop, so the jaws do not knock the object
            s = a * a * (3 - 2 * a)
            self.q_cmd = self.q_start + s * (self.q_goal - self.q_start)
            self.t += 1
            if self.t >= ph.steps + ph.hold:
                self._next_phase(obs)
        out = self.q_cmd.copy()
        if self.noise > 0:
            c = self.NOISE_CORR
            self._eps = c * self._eps + math.sqrt(1 - c * c) * self.rng.normal(0.0, self.noise, 5)
            out[:5] += self._eps
        return np.clip(out, self.env.lower, self.env.upper).astype(np.float32)


def make_expert(env_id: str, *, noise: float = 0.0, seed: int | None = None) -> PickPlaceExpert:
    """Scripted expert for ``env_id``: ``reset(env, obs)`` then ``act(obs) -> (6,) float32`` radians."""
    return get_task(env_id).expert_class()(noise=noise, seed=seed)


def run_episode(env, expert, *, seed: int | None = None, max_steps: int | None = None, extra_steps: int = 10,
                before_step=None):
    """Roll ``expert`` in ``env`` from ``env.reset(seed=seed)`` until it has played all phases (plus
    ``extra_steps``) or the env truncates/terminates. Returns (success at the end, number of steps).

    before_step: optional ``f(obs, action)`` called before every env step with the observation the
    expert acted on and its (6,) action, radians (e.g. to record the step or render a video frame)."""
    obs, info = env.reset(seed=seed)
    expert.reset(env, obs)
    limit = max_steps or env.unwrapped.config.max_episode_steps
    after = 0
    for t in range(limit):
        action = expert.act(obs)
        if before_step is not None:
            before_step(obs, action)
        obs, _, term, trunc, info = env.step(action)
        if expert.done:
            after += 1
        if term or trunc or after > extra_steps:
            return bool(info["is_success"]), t + 1
    return bool(info["is_success"]), limit
