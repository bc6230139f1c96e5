"""Source-segment selection strategies (MimicGen's ``random``, ``nearest_neighbor_object``,
``nearest_neighbor_robot_distance``).

Every function takes the candidates' poses at the start of their subtask
segment and an explicit ``numpy.random.Generator``, so a trial's choice depends
only on its own RNG stream.
"""

from __future__ import annotations

import numpy as np

from armtwin.envs.task_spec import SELECTION_STRATEGIES, SubtaskSpec
from armtwin.poses import pose_distance, transform_segment


def _pick_nearest(dists: np.ndarray, nn_k: int, rng: np.random.Generator) -> int:
    k = min(int(nn_k), len(dists))
    # stable sort: ties resolve by source index, so the choice is reproducible
    order = np.argsort(dists, kind="stable")[:k]
    return int(order[rng.integers(0, k)])


def select_random(n_sources: int, rng: np.random.Generator) -> int:
    """Uniform over the ``n_sources`` candidates."""
    return int(rng.integers(0, n_sources))


def select_nearest_object(
    src_obj_poses: np.ndarray, obj_pose: np.ndarray, rng: np.random.Generator, *, nn_k: int = 3,
    pos_weight: float = 1.0, rot_weight: float = 1.0,
) -> int:
    """Among the ``nn_k`` sources whose object pose (N, 4, 4) at the segment start is nearest to the
    current object pose (4, 4) (pos_weight * metres + rot_weight * radians), pick one uniformly."""
    d = pose_distance(src_obj_poses, obj_pose[None], pos_weight=pos_weight, rot_weight=rot_weight)
    return _pick_nearest(d, nn_k, rng)


def select_nearest_robot_distance(
    src_eef_poses: np.ndarray, src_obj_poses: np.ndarray, eef_pose: np.ndarray, obj_pose: np.ndarray,
    rng: np.random.Generator, *, nn_k: int = 3, pos_weight: float = 1.0, rot_weight: float = 1.0,
) -> int:
    """Among the ``nn_k`` sources whose first eef pose, re-attached to the current object pose,
    is nearest to the current eef pose (the shortest travel), pick one uniformly.

    src_eef_poses, src_obj_poses: (N, 4, 4) at each candidate segment's start; eef_pose, obj_pose: (4, 4).
    """
    starts = np.stack([transform_segment(src_eef_poses[i][None], src_obj_poses[i], obj_pose)[0]
                       for i in range(len(src_eef_poses))])
    d = pose_distance(starts, eef_pose[None], pos_weight=pos_weight, rot_weight=rot_weight)
    return _pick_nearest(d, nn_k, rng)


def select_source(
    spec: SubtaskSpec, rng: np.random.Generator, *, src_eef_poses: np.ndarray, src_obj_poses: np.ndarray | None,
    eef_pose: np.ndarray, obj_pose: np.ndarray | None,
) -> int:
    """Dispatch on ``spec.selection_strategy``; returns the chosen candidate's index."""
    name = spec.selection_strategy
    n = len(src_eef_poses)
    if n == 0:
        raise ValueError("no source segments to select from")
    if name == "random":
        return select_random(n, rng)
    if obj_pose is None or src_obj_poses is None:
        raise ValueError(f"selection strategy {name!r} needs an object pose (subtask has no object_ref)")
    if name == "nearest_neighbor_object":
        return select_nearest_object(src_obj_poses, obj_pose, rng, nn_k=spec.nn_k,
                                     pos_weight=spec.pos_weight, rot_weight=spec.rot_weight)
    if name == "nearest_neighbor_robot_distance":
        return select_nearest_robot_distance(src_eef_poses, src_obj_poses, eef_pose, obj_pose, rng, nn_k=spec.nn_k,
                                             pos_weight=spec.pos_weight, rot_weight=spec.rot_weight)
    raise ValueError(f"unknown selection strategy {name!r}; valid: {', '.join(SELECTION_STRATEGIES)}")
