"""One MimicGen trial: a new scene, source segments re-attached to its objects, IK, execution.

:class:`TrialRunner` owns a camera-less env (attempts cost physics only), the
5-DoF IK and, lazily, a camera env used to re-render kept episodes from their
saved states (bit-exact replay through ``set_state``). :meth:`TrialRunner.run`
executes trial ``i`` of a job with the RNG derived from ``(job.seed, i)``, so a
trial's outcome depends on nothing else (not the worker, not the order).

Per subtask (MimicGen, Mandlekar et al. 2023): select a source segment, express
its target eef poses in the frame of the subtask's object in the source and
re-attach them to the object's current pose, prepend an interpolation (lerp +
slerp) from the last target, add Gaussian pose noise, solve IK (position first,
the approach axis weighed in, as the SO-101 has 5 DoF), send the joint targets
with the source's gripper command; after the last segment, hold its final target for the spec's
``settle_steps``. A trial fails as ``ik_unreachable`` (a target
whose IK position error exceeds the spec's tolerance; execution stops there),
``grasp_missed`` (a grasp subtask ended without the grasp signal firing),
``drop`` (the grasp was lost while the gripper was still commanded closed) or
``timeout`` (everything executed, task not solved) or ``unstable`` (the physics diverged: MuJoCo flagged a
bad acceleration or velocity and reset the simulation, which can look like a solved task; a randomized scene's
parameters can do that rarely: 3 of 30 PickPlace trials with the ``physics`` preset before this check).

Size: over 400 lines because one trial's stages (:meth:`TrialRunner.run`: plan, execute, classify, package)
share that trial's ``_Execution`` state and the runner's envs and IK; :class:`GenerationJob` and
:class:`TrialResult` are only what a worker receives and returns.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.data.schema import datagen_row
from armtwin.mimic.annotate import SourceDemo
from armtwin.poses import interpolate_poses, path_length, perturb_pose, pose_to_pos_quat, transform_segment
from armtwin.mimic.select import select_source
from armtwin.envs.task_spec import TaskSpec

FAILURE_REASONS: tuple[str, ...] = ("ik_unreachable", "grasp_missed", "drop", "timeout", "unstable")
#: A grasp lost while the gripper command is within this many radians of the command at the moment
#: the grasp was taken counts as a drop (the gripper was not opening).
GRIPPER_OPENING_MARGIN: float = 0.05


@dataclass
class GenerationJob:
    """Everything a worker needs to run trials, picklable (sent once per worker / Ray object).

    env_kwargs: kwargs of the attempt env (``image_size`` is forced to None there);
    image_size/cameras: what kept episodes are re-rendered with (image_size None: no images).
    """

    env_id: str
    spec: TaskSpec
    sources: list[SourceDemo]
    seed: int
    env_kwargs: dict = field(default_factory=dict)
    image_size: tuple[int, int] | None = (128, 128)
    cameras: tuple[str, ...] = C.CAMERA_NAMES
    keep_failed: bool = False
    max_steps: int | None = None

    def fingerprint(self) -> str:
        """Hash of everything that determines the trials' outcomes (checked on resume)."""
        h = hashlib.sha256()
        h.update(json.dumps({
            "env_id": self.env_id, "spec": self.spec.to_dict(), "seed": int(self.seed),
            "env_kwargs": self.env_kwargs, "image_size": self.image_size, "cameras": list(self.cameras),
            "max_steps": self.max_steps, "keep_failed": self.keep_failed,
        }, sort_keys=True, default=str).encode())
        for s in self.sources:
            h.update(s.name.encode())
            for a in (s.eef_pose, s.target_pose, s.gripper_action, *[s.object_poses[k] for k in sorted(s.object_poses)]):
                h.update(np.ascontiguousarray(a).tobytes())
            h.update(np.asarray(s.boundaries).tobytes())
        return h.hexdigest()[:16]


@dataclass
class TrialResult:
    """Outcome of one trial. ``episode`` (nested dict of (T, ...) arrays in the recorder's layout,
    plus ``initial_state``) is present for kept trials only (successes, or all with keep_failed)."""

    trial_index: int
    success: bool
    reason: str | None
    src_demo_inds: list[int]
    reset_seed: int
    num_steps: int
    seconds_physics: float
    seconds_render: float = 0.0
    episode: dict[str, Any] | None = None
    instruction: str = ""

    def summary(self) -> dict:
        return {"trial_index": self.trial_index, "success": self.success, "reason": self.reason or "",
                "src_demo_inds": list(self.src_demo_inds), "reset_seed": self.reset_seed,
                "num_steps": self.num_steps, "seconds_physics": self.seconds_physics,
                "seconds_render": self.seconds_render}


def trial_rng(seed: int, trial_index: int) -> np.random.Generator:
    """The RNG of trial ``trial_index`` of a run with ``seed``: independent of workers and order."""
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(int(trial_index),)))


def randomize_boundaries(sources: list[SourceDemo], spec: TaskSpec, rng: np.random.Generator) -> np.ndarray:
    """(N, S, 2) [start, end) per source and subtask, with each subtask end (but the last) shifted by a
    random offset in its ``term_offset_range``, clipped so every segment keeps at least one step."""
    out = np.array([s.boundaries for s in sources], dtype=np.int64)
    for i, st in enumerate(spec.subtasks[:-1]):
        lo, hi = st.term_offset_range
        offs = rng.integers(lo, hi + 1, size=len(sources)) if hi > lo else np.full(len(sources), lo)
        new_end = np.clip(out[:, i, 1] + offs, out[:, i, 0] + 1, out[:, i + 1, 1] - 1)
        out[:, i, 1] = new_end
        out[:, i + 1, 0] = new_end
    return out


def _stack_tree(rows: list[dict]) -> dict:
    out = {}
    for k, v in rows[0].items():
        if isinstance(v, dict):
            out[k] = _stack_tree([r[k] for r in rows])
        else:
            out[k] = np.stack([np.asarray(r[k]) for r in rows])
    return out


def _obs_row(obs: dict) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else np.array(v, copy=True))
            for k, v in obs.items() if not isinstance(v, str) and k != "images"}


class TrialRunner:
    """Runs trials of one :class:`GenerationJob` in this process (one per worker)."""

    def __init__(self, job: GenerationJob):
        from armtwin import envs
        from armtwin.envs.ik import IK

        self.job = job
        kwargs = dict(job.env_kwargs)
        kwargs["image_size"] = None
        if job.max_steps is not None:
            kwargs["max_episode_steps"] = job.max_steps
        self._envs = envs
        self.env = envs.make(job.env_id, **kwargs)
        u = self.env.unwrapped
        self.ik = IK(robot=u.ROBOT)
        self._render_env = None
        self.ctrl_dt = float(getattr(getattr(u, "config", None), "ctrl_dt", C.CTRL_DT))

    # ------------------------------------------------------------------ rendering
    def _renderer(self):
        if self._render_env is None:
            kwargs = dict(self.job.env_kwargs)
            kwargs["image_size"] = tuple(self.job.image_size)
            kwargs["cameras"] = tuple(self.job.cameras)
            if self.job.max_steps is not None:
                kwargs["max_episode_steps"] = self.job.max_steps
            self._render_env = self._envs.make(self.job.env_id, **kwargs)
            self._render_env.reset(seed=0)
        return self._render_env

    def render_states(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """Images {cam: (T, H, W, 3) uint8} of the scene at each saved state (T, S)."""
        u = self._renderer().unwrapped
        frames: dict[str, list[np.ndarray]] = {}
        for s in states:
            u.set_state(s)
            for cam, img in u.render_images().items():
                frames.setdefault(cam, []).append(np.array(img, copy=True))
        return {cam: np.stack(v) for cam, v in frames.items()}

    def close(self):
        self.env.close()
        if self._render_env is not None:
            self._render_env.close()

    def _solve_ik(self, pos, quat, q_prev):
        """Joint targets for a gripper pose: orientation relaxed step by step until the position is
        within the spec's precision (position first on the 5-DoF arm). -> (q (6,) rad, pos error m)."""
        spec = self.job.spec
        best = None
        for w in spec.ik_orientation_weights:
            q, _, err = self.ik.solve(pos, quat if w > 0 else None, q_prev, orientation_weight=w)
            if best is None or err < best[1]:
                best = (q, err)
            if err <= spec.ik_pos_precision:
                break
        return best

    # ------------------------------------------------------------------ a trial
    def run(self, trial_index: int) -> TrialResult:
        """Trial ``trial_index``: plan each subtask's targets, execute them, classify, package."""
        job = self.job
        rng = trial_rng(job.seed, trial_index)
        reset_seed = int(rng.integers(0, 2**31 - 1))
        t0 = time.perf_counter()
        obs, info = self.env.reset(seed=reset_seed)
        bounds = randomize_boundaries(job.sources, job.spec, rng)
        ex = _Execution(obs=obs, info=info, q_prev=np.asarray(obs["joint_pos"], dtype=np.float64).copy())
        for s_i, st in enumerate(job.spec.subtasks):
            poses, grips, noisy = self._plan_segment(s_i, st, bounds, rng, ex)
            self._execute_segment(st, poses, grips, noisy, rng, ex)
            if ex.done:
                break
        if not ex.done:
            ex.success = bool(ex.info.get("is_success", False))
        result = TrialResult(trial_index=int(trial_index), success=bool(ex.success), reason=self._classify(ex),
                             src_demo_inds=ex.src_inds, reset_seed=reset_seed, num_steps=len(ex.actions),
                             seconds_physics=time.perf_counter() - t0,
                             instruction=str(getattr(self.env.unwrapped, "instruction", "")))
        if (ex.success or job.keep_failed) and ex.actions:
            t1 = time.perf_counter()
            result.episode = self._package(ex)
            result.seconds_render = time.perf_counter() - t1
        return result

    def _plan_segment(self, s_i: int, st, bounds: np.ndarray, rng: np.random.Generator, ex: "_Execution"):
        """Subtask ``s_i``'s targets: ``(poses (N, 4, 4) world frame, gripper commands (N,) rad, noisy (N,) bool)``.

        Selects the source (once, or per subtask), re-attaches its segment to the object's current pose,
        prepends the interpolation from the last target and, after the last subtask, the settle hold."""
        spec, sources, u = self.job.spec, self.job.sources, self.env.unwrapped
        env_objects = u.subtask_objects(spec)
        dg = u.get_datagen_info()
        obj_name = env_objects[s_i]
        obj_pose = np.asarray(dg["object_poses"][obj_name]) if obj_name is not None else None
        if ex.chosen is None or spec.select_src_per_subtask:
            # Sources whose subtask used the same object come first (Sandwich: same ingredient).
            cand = [j for j, src in enumerate(sources) if src.subtask_objects[s_i] == obj_name] \
                or list(range(len(sources)))
            starts = bounds[cand, s_i, 0]
            pick = select_source(
                st, rng,
                src_eef_poses=np.stack([sources[j].eef_pose[a] for j, a in zip(cand, starts)]),
                src_obj_poses=(np.stack([sources[j].object_poses[sources[j].subtask_objects[s_i]][a]
                                         for j, a in zip(cand, starts)]) if obj_name is not None else None),
                eef_pose=np.asarray(dg["eef_pose"]), obj_pose=obj_pose,
            )
            ex.chosen = cand[pick]
        ex.src_inds.append(int(ex.chosen))
        src = sources[ex.chosen]
        a, b = bounds[ex.chosen, s_i]
        seg = src.target_pose[a:b]
        grip = src.gripper_action[a:b]
        if s_i == 0:
            # MimicGen: the first segment starts at the source robot's own pose, so the approach
            # is re-attached to the object too, not only the targets.
            seg = np.concatenate([src.eef_pose[a:a + 1], seg])
            grip = np.concatenate([grip[:1], grip])
        if obj_name is not None:
            seg = transform_segment(seg, src.object_poses[src.subtask_objects[s_i]][a], obj_pose)
        start_pose = ex.last_target if ex.last_target is not None else np.asarray(dg["eef_pose"])
        n_interp = st.num_interpolation_steps
        cyl = st.interpolation_space == "cylindrical"
        if st.interpolation_step_size is not None:
            dist = path_length(start_pose, seg[0], cylindrical=cyl)
            n_interp = max(n_interp, int(np.ceil(dist / st.interpolation_step_size)) - 1)
        interp = interpolate_poses(start_pose, seg[0], n_interp, cylindrical=cyl)  # ends at seg[0]
        fixed = np.repeat(seg[:1], st.num_fixed_steps, axis=0)
        poses = np.concatenate([interp, fixed, seg[1:]])
        grips = np.concatenate([np.full(len(interp) + len(fixed), grip[0]), grip[1:]])
        noisy = np.concatenate([np.full(len(interp) + len(fixed), st.apply_noise_during_interpolation),
                                np.ones(len(seg) - 1, dtype=bool)])
        if s_i == len(spec.subtasks) - 1 and spec.settle_steps:
            # hold the final target so a release can finish and the object come to rest
            n_settle = spec.settle_steps
            poses = np.concatenate([poses, np.repeat(poses[-1:], n_settle, axis=0)])
            grips = np.concatenate([grips, np.full(n_settle, grips[-1])])
            noisy = np.concatenate([noisy, np.zeros(n_settle, dtype=bool)])
        ex.last_target = seg[-1]
        return poses, grips, noisy

    def _execute_segment(self, st, poses, grips, noisy, rng: np.random.Generator, ex: "_Execution") -> None:
        """Noise, IK and one env step per target, recording each step; sets ``ex.done`` when the trial ends
        (IK failure with ``abort_on_ik_failure``, success held for ``success_hold_steps``, env end)."""
        spec, env, ik = self.job.spec, self.env, self.ik
        u = env.unwrapped
        grasp = spec.grasp_signal
        grasp_seen = False
        for k in range(len(poses)):
            target = poses[k]
            if noisy[k]:
                target = perturb_pose(target, rng, pos_sigma=st.action_noise_pos, rot_sigma=st.action_noise_rot)
            pos, quat = pose_to_pos_quat(target)
            q, err = self._solve_ik(pos, quat, ex.q_prev)
            if err > spec.ik_pos_tolerance:
                ex.ik_missed += 1
                if spec.abort_on_ik_failure:
                    ex.done = True
                    break
            action = q.copy()
            action[-1] = grips[k]
            ex.q_prev = action
            ex.states.append(np.array(u.get_state(), copy=True))
            ex.rows_obs.append(_obs_row(ex.obs))
            ex.rows_dg.append(datagen_row(u.get_datagen_info(), target_eef_pose=ik.fk_mat(action), action=action))
            # float64 as the env applies it (a float32 cast would make the stored action differ
            # from the applied one and break bit-exact replay)
            ex.obs, _, terminated, truncated, ex.info = env.step(action)
            ex.actions.append(np.asarray(ex.info.get("action", action), dtype=np.float64))
            if _diverged(u.data):
                # MuJoCo has reset the state to the model's defaults: nothing after this step is physics
                ex.unstable, ex.done = True, True
                break
            now_held = bool(ex.info.get("subtask_signals", {}).get(grasp, False))
            if now_held:
                grasp_seen = True
            if now_held and not ex.held:
                ex.grip_at_grasp = grips[k]
            # a drop: the grasp is lost while the gripper is still commanded as closed as when it
            # took the object (not while the source opens it to release)
            if ex.held and not now_held and grips[k] <= ex.grip_at_grasp + GRIPPER_OPENING_MARGIN:
                ex.dropped = True
            ex.held = now_held
            if ex.info.get("is_success", False):
                ex.success_streak += 1
                if ex.success_streak >= spec.success_hold_steps:
                    ex.success, ex.done = True, True
                    break
            else:
                ex.success_streak = 0
            if truncated or terminated:
                ex.success = bool(ex.info.get("is_success", False))
                ex.done = True
                break
        ex.grasp_seen_in_subtask.append(grasp_seen or st.end_signal != grasp)

    @staticmethod
    def _classify(ex: "_Execution") -> str | None:
        """None for a success, else the first of FAILURE_REASONS that applies."""
        if ex.success:
            return None
        if ex.unstable:
            return "unstable"
        if ex.ik_missed:
            return "ik_unreachable"
        if not all(ex.grasp_seen_in_subtask):
            return "grasp_missed"
        return "drop" if ex.dropped else "timeout"

    def _package(self, ex: "_Execution") -> dict[str, Any]:
        """The kept episode in the recorder's layout (nested (T, ...) arrays), cameras re-rendered from states."""
        st_arr = np.stack(ex.states)
        obs_tree = _stack_tree(ex.rows_obs)
        if self.job.image_size is not None:
            obs_tree["images"] = self.render_states(st_arr)
        return {
            "actions": np.stack(ex.actions),
            "timestamps": np.arange(len(ex.actions), dtype=np.float64) * self.ctrl_dt,
            "obs": obs_tree,
            "states": st_arr,
            "datagen_info": _stack_tree(ex.rows_dg),
        }


@dataclass
class _Execution:
    """What one trial has done so far: the rows it recorded and what the classification looks at."""

    obs: dict
    info: dict
    q_prev: np.ndarray  # (6,) rad, the last joint targets (IK warm start)
    rows_obs: list = field(default_factory=list)
    rows_dg: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    states: list = field(default_factory=list)
    src_inds: list[int] = field(default_factory=list)
    chosen: int | None = None
    last_target: np.ndarray | None = None
    success_streak: int = 0
    success: bool = False
    done: bool = False
    grasp_seen_in_subtask: list[bool] = field(default_factory=list)
    held: bool = False
    dropped: bool = False
    grip_at_grasp: float = C.GRIPPER_CLOSED
    ik_missed: int = 0
    unstable: bool = False


def _diverged(data) -> bool:
    """Whether MuJoCo flagged a bad qacc/qvel (it then resets the data) since the env's last reset (which clears
    the counters: mj_resetData)."""
    import mujoco

    w = data.warning
    return bool(w[mujoco.mjtWarning.mjWARN_BADQACC].number or w[mujoco.mjtWarning.mjWARN_BADQVEL].number)


# ---------------------------------------------------------------------------------------------
# worker entry points (process pool and Ray): one TrialRunner per process, cached by job


_RUNNER: TrialRunner | None = None
_RUNNER_KEY: str | None = None


def _runner_for(job: GenerationJob) -> TrialRunner:
    global _RUNNER, _RUNNER_KEY
    key = job.fingerprint()
    if _RUNNER is None or _RUNNER_KEY != key:
        if _RUNNER is not None:
            _RUNNER.close()
        _RUNNER = TrialRunner(job)
        _RUNNER_KEY = key
    return _RUNNER


def run_batch(job: GenerationJob | bytes, trial_indices: list[int]) -> list[TrialResult]:
    """Run trials ``trial_indices`` in this process; the job may be given pickled (bytes)."""
    if isinstance(job, (bytes, bytearray)):
        job = pickle.loads(job)
    runner = _runner_for(job)
    return [runner.run(i) for i in trial_indices]
