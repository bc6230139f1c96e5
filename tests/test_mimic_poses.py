"""Pose math (armtwin.poses), selection strategies and spec validation of armtwin.mimic (pure numpy, fast)."""

import dataclasses
import json

import numpy as np
import pytest

from armtwin import poses as P
from armtwin.envs import ENV_IDS, get_task_spec
from armtwin.mimic.select import select_nearest_object, select_nearest_robot_distance, select_random, select_source
from armtwin.envs.task_spec import SubtaskSpec, TaskSpec


def random_pose(rng):
    q = rng.normal(size=4)
    return P.pose_from_pos_quat(rng.uniform(-0.3, 0.3, 3), q / np.linalg.norm(q))


def test_quat_matrix_round_trip_and_inverse():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[0] >= 0 else -q
        R = P.quat_to_mat(q)
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.allclose(P.mat_to_quat(R), q, atol=1e-10)
        T = random_pose(rng)
        assert np.allclose(P.pose_inv(T) @ T, np.eye(4), atol=1e-12)
    # 180 degree turns (trace -1) are where naive conversions break
    for axis in np.eye(3):
        R = P.axis_angle_to_mat(np.pi * axis)
        assert np.allclose(P.quat_to_mat(P.mat_to_quat(R)), R, atol=1e-12)
        assert np.isclose(np.linalg.norm(P.mat_to_axis_angle(R)), np.pi)


def test_axis_angle_quaternion_and_product_agree_with_mujoco():
    import mujoco

    rng = np.random.default_rng(1)
    for _ in range(50):
        axis, angle = rng.normal(size=3), rng.uniform(-np.pi, np.pi)
        q = P.quat_from_axis_angle(axis * rng.uniform(0.1, 3.0), angle)  # any axis length
        ref = np.empty(4)
        mujoco.mju_axisAngle2Quat(ref, axis / np.linalg.norm(axis), angle)
        assert np.allclose(q, ref, atol=1e-15) and np.isclose(np.linalg.norm(q), 1.0)
        a, b = rng.normal(size=4), rng.normal(size=4)
        mujoco.mju_mulQuat(ref, a, b)
        assert np.allclose(P.quat_mul(a, b), ref, atol=1e-14)
        # the product composes the rotations: R(a * b) = R(a) R(b)
        assert np.allclose(P.quat_to_mat(P.quat_mul(a, b)), P.quat_to_mat(a) @ P.quat_to_mat(b), atol=1e-12)
    A, B = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4))
    assert np.array_equal(P.quat_mul(A, B)[1, 2], P.quat_mul(A[1, 2], B[1, 2]))  # batched = one by one
    # an axis-aligned turn by a negative angle: zero components are +0.0, as written to env_args JSON
    q = P.quat_from_axis_angle((1.0, 0.0, 0.0), -0.42)
    assert q[1] < 0 and q[2] == q[3] == 0 and not np.signbit(q[2:]).any()


def test_transform_segment_keeps_the_pose_relative_to_the_object():
    rng = np.random.default_rng(1)
    src_obj, new_obj = random_pose(rng), random_pose(rng)
    seg = np.stack([random_pose(rng) for _ in range(7)])
    out = P.transform_segment(seg, src_obj, new_obj)
    assert out.shape == (7, 4, 4)
    for t in range(7):
        rel_src = P.pose_inv(src_obj) @ seg[t]
        rel_new = P.pose_inv(new_obj) @ out[t]
        assert np.allclose(rel_src, rel_new, atol=1e-12)
    # a pure translation of the object translates the segment by the same amount
    shift = np.eye(4)
    shift[:3, 3] = [0.05, -0.02, 0.0]
    moved = P.transform_segment(seg, src_obj, shift @ src_obj)
    assert np.allclose(moved[:, :3, 3] - seg[:, :3, 3], [0.05, -0.02, 0.0], atol=1e-12)
    assert np.allclose(moved[:, :3, :3], seg[:, :3, :3], atol=1e-12)


def test_slerp_and_interpolation():
    q1 = np.array([1.0, 0, 0, 0])
    q2 = P.mat_to_quat(P.axis_angle_to_mat([0, 0, 1.2]))
    assert np.allclose(P.quat_slerp(q1, q2, 0.0), q1)
    assert np.allclose(P.quat_slerp(q1, q2, 1.0), q2)
    half = P.quat_slerp(q1, q2, 0.5)
    assert np.allclose(P.mat_to_axis_angle(P.quat_to_mat(half)), [0, 0, 0.6], atol=1e-12)
    # q and -q: slerp takes the short way
    assert np.allclose(P.quat_to_mat(P.quat_slerp(q1, -q2, 0.5)), P.quat_to_mat(half), atol=1e-12)

    a = P.make_pose([0, 0, 0], np.eye(3))
    b = P.make_pose([0.1, 0.2, -0.3], P.axis_angle_to_mat([0.0, 0.9, 0.0]))
    path = P.interpolate_poses(a, b, 4)
    assert path.shape == (5, 4, 4)
    assert np.allclose(path[-1], b)
    steps = np.diff(np.concatenate([a[None, :3, 3], path[:, :3, 3]]), axis=0)
    assert np.allclose(steps, steps[0], atol=1e-12)  # evenly spaced positions
    angles = [np.linalg.norm(P.mat_to_axis_angle(p[:3, :3])) for p in path]
    assert np.allclose(np.diff([0.0] + angles), 0.9 / 5, atol=1e-9)  # constant angular speed
    assert P.interpolate_poses(a, b, 0).shape == (1, 4, 4)


def test_perturb_pose_statistics():
    rng = np.random.default_rng(2)
    base = P.make_pose([0.2, 0.0, 0.1], np.eye(3))
    outs = np.stack([P.perturb_pose(base, rng, pos_sigma=0.002, rot_sigma=0.01) for _ in range(2000)])
    d = outs[:, :3, 3] - base[:3, 3]
    assert np.allclose(d.std(axis=0), 0.002, rtol=0.1)
    assert abs(d.mean()) < 2e-4
    ang = P.rotation_angle(outs[:, :3, :3], base[None, :3, :3])
    assert 0.005 < ang.mean() < 0.03
    assert np.allclose(P.perturb_pose(base, rng, pos_sigma=0.0, rot_sigma=0.0), base)


def test_selection_strategies():
    rng = np.random.default_rng(3)
    objs = np.stack([P.make_pose([x, 0, 0], np.eye(3)) for x in (0.0, 0.1, 0.2, 0.3)])
    here = P.make_pose([0.21, 0, 0], np.eye(3))
    assert all(select_nearest_object(objs, here, rng, nn_k=1) == 2 for _ in range(5))
    picks = {select_nearest_object(objs, here, rng, nn_k=2) for _ in range(60)}
    assert picks == {2, 3}  # 0.2 and 0.3 are the two nearest to 0.21
    # robot distance: the source whose eef start, re-attached to the object, is closest to the eef now
    eefs = np.stack([o @ P.make_pose([0, 0, z], np.eye(3)) for o, z in zip(objs, (0.3, 0.05, 0.2, 0.1))])
    eef_now = here @ P.make_pose([0, 0, 0.06], np.eye(3))
    assert select_nearest_robot_distance(eefs, objs, eef_now, here, rng, nn_k=1) == 1
    counts = np.bincount([select_random(4, rng) for _ in range(400)], minlength=4)
    assert counts.min() > 60
    spec = SubtaskSpec("cube", "grasp", selection_strategy="nearest_neighbor_object", nn_k=1)
    assert select_source(spec, rng, src_eef_poses=eefs, src_obj_poses=objs, eef_pose=eef_now, obj_pose=here) == 2
    # same generator state -> same choice
    a = select_source(dataclasses.replace(spec, nn_k=3), np.random.default_rng(9), src_eef_poses=eefs,
                      src_obj_poses=objs, eef_pose=eef_now, obj_pose=here)
    b = select_source(dataclasses.replace(spec, nn_k=3), np.random.default_rng(9), src_eef_poses=eefs,
                      src_obj_poses=objs, eef_pose=eef_now, obj_pose=here)
    assert a == b


def test_spec_validation_and_lookup():
    assert set(ENV_IDS) == ({f"armtwin/SO101-{t}-v0" for t in ("Lift", "PickPlace", "Stack", "Sandwich")}
                            | {f"armtwin/OMX-{t}-v0" for t in ("Lift", "PickPlace")})
    with pytest.raises(KeyError, match="valid env ids"):
        get_task_spec("armtwin/SO101-Nope-v0")
    with pytest.raises(ValueError, match="valid: random"):
        SubtaskSpec("cube", "grasp", selection_strategy="closest")
    with pytest.raises(ValueError, match="last subtask must have end_signal=None"):
        TaskSpec("x", (SubtaskSpec("cube", "grasp"),))
    with pytest.raises(TypeError):  # optional settings are keyword-only
        SubtaskSpec("cube", "grasp", "random")
    with pytest.raises(TypeError):
        TaskSpec("x", (SubtaskSpec("cube", None),), True)
    with pytest.raises(ValueError, match="settle_steps must be >= 0"):
        get_task_spec("armtwin/SO101-Lift-v0").replace(settle_steps=-1)
    with pytest.raises(ValueError, match="term_offset_range"):
        TaskSpec("x", (SubtaskSpec("cube", "grasp"), SubtaskSpec("cube", None, term_offset_range=(0, 3))))
    for env_id in ENV_IDS:
        spec = get_task_spec(env_id)
        assert TaskSpec.from_dict(spec.to_dict()) == spec
        # through JSON too (tuples come back as lists), e.g. Sandwich's per-episode candidates
        assert TaskSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ValueError, match="distinct non-empty names"):
        SubtaskSpec(("bread", "bread"), "grasp")
    with pytest.raises(ValueError, match="object_ref must be"):
        SubtaskSpec(3, "grasp")
    one_of = SubtaskSpec(("bread", "cheese"), "grasp")
    assert one_of.per_episode and one_of.accepts("cheese") and not one_of.accepts("plate")
    assert SubtaskSpec("cube", None).accepts("cube") and not SubtaskSpec("cube", None).accepts(None)
    assert SubtaskSpec(None, None, selection_strategy="random").accepts(None)


def test_cylindrical_interpolation_keeps_clear_of_the_base():
    """Moving from one side of the arm to the other: the chord passes 7 cm from the base axis, the
    cylindrical path keeps the 15 cm radius and ends exactly at the target."""
    a = P.make_pose([0.15 * np.cos(1.0), 0.15 * np.sin(1.0), 0.08], np.eye(3))
    b = P.make_pose([0.15 * np.cos(-1.0), 0.15 * np.sin(-1.0), 0.04], np.eye(3))
    chord = P.interpolate_poses(a, b, 9)
    cyl = P.interpolate_poses(a, b, 9, cylindrical=True)
    assert np.min(np.hypot(chord[:, 0, 3], chord[:, 1, 3])) < 0.085
    assert np.allclose(np.hypot(cyl[:, 0, 3], cyl[:, 1, 3]), 0.15)
    assert np.allclose(cyl[:, 2, 3], np.linspace(0.08, 0.04, 11)[1:])
    assert np.allclose(cyl[-1], b)
    assert np.isclose(P.path_length(a, b, cylindrical=True), np.hypot(0.15 * 2.0, 0.04))
    assert np.isclose(P.path_length(a, b), np.linalg.norm(a[:3, 3] - b[:3, 3]))
