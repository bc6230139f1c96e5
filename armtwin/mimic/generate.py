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
``timeout`` (everything executed, task not solved).
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
from armtwin.mimic.annotate import SourceDemo
from armtwin.poses import interpolate_poses, path_length, perturb_pose, pose_to_pos_quat, transform_segment
from armtwin.mimic.select import select_source
from armtwin.mimic.spec import TaskSpec

FAILURE_REASONS: tuple[str, ...] = ("ik_unreachable", "grasp_missed", "drop", "timeout")
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
        self.ik = IK()
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
        job, spec, sources = self.job, self.job.spec, self.job.sources
        rng = trial_rng(job.seed, trial_index)
        reset_seed = int(rng.integers(0, 2**31 - 1))
        t0 = time.perf_counter()
        env, u, ik = self.env, self.env.unwrapped, self.ik
        obs, info = env.reset(seed=reset_seed)
        bounds = randomize_boundaries(sources, spec, rng)

        rows_obs, rows_dg, actions, states = [], [], [], []
        src_inds: list[int] = []
        chosen = None
        last_target = None
        q_prev = np.asarray(obs["joint_pos"], dtype=np.float64).copy()
        success_streak = 0
        success = False
        reason = None
        grasp_seen_in_subtask = []
        held = False
        dropped = False
        grip_at_grasp = C.GRIPPER_CLOSED
        ik_missed = 0
        grasp = spec.grasp_signal
        done = False

        env_objects = u.subtask_objects(spec)
        for s_i, st in enumerate(spec.subtasks):
            dg = u.get_datagen_info()
            obj_name = env_objects[s_i]
            obj_pose = np.asarray(dg["object_poses"][obj_name]) if obj_name is not None else None
            if chosen is None or spec.select_src_per_subtask:
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
                chosen = cand[pick]
            src_inds.append(int(chosen))
            src = sources[chosen]
            a, b = bounds[chosen, s_i]
            seg = src.target_pose[a:b]
            grip = src.gripper_action[a:b]
            if s_i == 0:
                # MimicGen: the first segment starts at the source robot's own pose, so the approach
                # is re-attached to the object too, not only the targets.
                seg = np.concatenate([src.eef_pose[a:a + 1], seg])
                grip = np.concatenate([grip[:1], grip])
            if obj_name is not None:
                seg = transform_segment(seg, src.object_poses[src.subtask_objects[s_i]][a], obj_pose)
            start_pose = last_target if last_target is not None else np.asarray(dg["eef_pose"])
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
            last_target = seg[-1]
            grasp_seen = False

            for k in range(len(poses)):
                target = poses[k]
                if noisy[k]:
                    target = perturb_pose(target, rng, pos_sigma=st.action_noise_pos, rot_sigma=st.action_noise_rot)
                pos, quat = pose_to_pos_quat(target)
                q, err = self._solve_ik(pos, quat, q_prev)
                if err > spec.ik_pos_tolerance:
                    ik_missed += 1
                    if spec.abort_on_ik_failure:
                        done = True
                        break
                action = q.copy()
                action[-1] = grips[k]
                q_prev = action
                dg = u.get_datagen_info()
                states.append(np.array(u.get_state(), copy=True))
                rows_obs.append(_obs_row(obs))
                rows_dg.append({
                    "eef_pose": np.asarray(dg["eef_pose"], dtype=np.float64),
                    "target_eef_pose": ik.fk_mat(action),
                    "gripper_action": np.array([grips[k]]),
                    "object_poses": {n: np.asarray(p, dtype=np.float64) for n, p in dg["object_poses"].items()},
                    "subtask_term_signals": {n: np.int8(v) for n, v in dg["subtask_term_signals"].items()},
                })
                # float64 as the env applies it (a float32 cast would make the stored action differ
                # from the applied one and break bit-exact replay)
                obs, _, terminated, truncated, info = env.step(action)
                actions.append(np.asarray(info.get("action", action), dtype=np.float64))
                sig = info.get("subtask_signals", {})
                now_held = bool(sig.get(grasp, False))
                if now_held:
                    grasp_seen = True
                if now_held and not held:
                    grip_at_grasp = grips[k]
                # a drop: the grasp is lost while the gripper is still commanded as closed as when it
                # took the object (not while the source opens it to release)
                if held and not now_held and grips[k] <= grip_at_grasp + GRIPPER_OPENING_MARGIN:
                    dropped = True
                held = now_held
                if info.get("is_success", False):
                    success_streak += 1
                    if success_streak >= spec.success_hold_steps:
                        success, done = True, True
                        break
                else:
                    success_streak = 0
                if truncated or terminated:
                    success = bool(info.get("is_success", False))
                    done = True
                    break
            grasp_seen_in_subtask.append(grasp_seen or st.end_signal != grasp)
            if done:
                break
        if not done:
            success = bool(info.get("is_success", False))
        if not success:
            if ik_missed:
                reason = "ik_unreachable"
            elif not all(grasp_seen_in_subtask):
                reason = "grasp_missed"
            elif dropped:
                reason = "drop"
            else:
                reason = "timeout"
        if success:
            reason = None
        t_phys = time.perf_counter() - t0

        result = TrialResult(trial_index=int(trial_index), success=bool(success), reason=reason,
                             src_demo_inds=src_inds, reset_seed=reset_seed, num_steps=len(actions),
                             seconds_physics=t_phys, instruction=str(getattr(u, "instruction", "")))
        if (success or job.keep_failed) and actions:
            t1 = time.perf_counter()
            st_arr = np.stack(states)
            obs_tree = _stack_tree(rows_obs)
            if job.image_size is not None:
                obs_tree["images"] = self.render_states(st_arr)
            result.episode = {
                "actions": np.stack(actions),
                "timestamps": np.arange(len(actions), dtype=np.float64) * self.ctrl_dt,
                "obs": obs_tree,
                "states": st_arr,
                "datagen_info": _stack_tree(rows_dg),
            }
            result.seconds_render = time.perf_counter() - t1
        return result


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
