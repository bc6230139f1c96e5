"""The OMX twin's MuJoCo model against ROBOTIS's published OMX-F description.

The reference is ``tests/golden/omx_chain.json`` (extracted from ROBOTIS's URDF/xacro, SRDF and
ros2_control files by ``tests/golden/regen_omx_chain.py``); the forward kinematics here is computed
from that file alone (URDF convention: parent * translate(xyz) * rpy * rotate(axis, q)), never from
the MJCF.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import mujoco
import numpy as np
import pytest

from armtwin.assets import omx_constants as C
from armtwin.assets import omx_mjcf as M

CHAIN = json.loads((Path(__file__).parent / "golden" / "omx_chain.json").read_text())


def _rot(axis, angle) -> np.ndarray:
    """Rodrigues: (3, 3) rotation by ``angle`` about unit ``axis``."""
    a = np.asarray(axis, float)
    a /= np.linalg.norm(a)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def _rpy(r, p, y) -> np.ndarray:
    return _rot((0, 0, 1), y) @ _rot((0, 1, 0), p) @ _rot((1, 0, 0), r)


def _origin(j) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = _rpy(*j["rpy"])
    T[:3, 3] = j["xyz"]
    return T


def _joint_T(j, q) -> np.ndarray:
    R = np.eye(4)
    R[:3, :3] = _rot(j["axis"], q)
    return _origin(j) @ R


def urdf_fk(q) -> dict[str, np.ndarray]:
    """q (6,) rad, armtwin joint order -> {ROBOTIS link name: (4, 4) world pose}, plus "end_effector_link"."""
    frames = {"link0": np.eye(4)}
    by_name = {j["name"]: j for j in CHAIN["joints"]}
    for name, qi in zip(C.JOINT_NAMES, q):
        j = by_name[name]
        frames[j["child"]] = frames[j["parent"]] @ _joint_T(j, qi)
    for j in CHAIN["passive_joints"]:
        m = j["mimic"]
        master = next(k for k in CHAIN["joints"] if k["urdf_name"] == m["joint"])
        frames[j["child"]] = frames[j["parent"]] @ _joint_T(j, m["multiplier"] * q[C.JOINT_NAMES.index(master["name"])])
    ee = CHAIN["end_effector"]
    frames["end_effector_link"] = frames[ee["parent"]] @ _origin(ee)
    return frames


def test_golden_chain_names_the_constants_joints():
    assert [j["name"] for j in CHAIN["joints"]] == list(C.JOINT_NAMES)
    assert {j["name"]: j["urdf_name"] for j in CHAIN["joints"]} == C.ROBOTIS_JOINTS
    assert [j["servo"]["id"] for j in CHAIN["joints"]] == [C.FOLLOWER_MOTORS[n][0] for n in C.JOINT_NAMES]


def test_joint_limits_equal_robotis():
    model = M.load_arm_model()
    for j in CHAIN["joints"]:
        np.testing.assert_allclose(C.JOINT_LIMITS[j["name"]], j["limit_rad"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.jnt_range[model.joint(j["name"]).id], j["limit_rad"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.actuator_ctrlrange[model.actuator(j["name"]).id], j["limit_rad"], atol=1e-12)
    # the passive jaw's range is the gripper's, mirrored by the mimic multiplier
    mimic = CHAIN["passive_joints"][0]["mimic"]
    assert mimic == {"joint": "gripper_joint_1", "multiplier": C.GRIPPER_MIMIC_MULTIPLIER}
    lo, hi = sorted(mimic["multiplier"] * v for v in C.JOINT_LIMITS["gripper"])
    np.testing.assert_allclose(model.jnt_range[model.joint(C.GRIPPER_MIMIC_JOINT).id], (lo, hi), atol=1e-12)


def test_masses_and_inertias_equal_robotis():
    model = M.load_arm_model()
    links = {"link0": CHAIN["base_inertial"]}
    links |= {j["child"]: j["child_inertial"] for j in CHAIN["joints"] + CHAIN["passive_joints"]}
    for name, ref in links.items():
        b = model.body(name).id
        assert model.body_mass[b] == pytest.approx(ref["mass"], rel=1e-9), name
        # MuJoCo stores the principal frame: compare the full tensor rotated back into the body frame
        Ixx, Iyy, Izz, Ixy, Ixz, Iyz = ref["inertia"]
        I_ref = np.array([[Ixx, Ixy, Ixz], [Ixy, Iyy, Iyz], [Ixz, Iyz, Izz]])
        R = np.empty(9)
        mujoco.mju_quat2Mat(R, model.body_iquat[b])
        R = R.reshape(3, 3)
        I_model = R @ np.diag(model.body_inertia[b]) @ R.T
        np.testing.assert_allclose(I_model, I_ref, rtol=0, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(model.body_ipos[b], ref["com"], atol=1e-12, err_msg=name)


def test_fk_matches_robotis_description_over_1000_random_configurations():
    model = M.load_arm_model()
    data = mujoco.MjData(model)
    site = model.site(C.GRIPPER_SITE).id
    lo, hi = C.lower_limits(), C.upper_limits()
    rng = np.random.default_rng(12)
    qadr = [model.joint(n).qposadr[0] for n in C.JOINT_NAMES]
    mimic = model.joint(C.GRIPPER_MIMIC_JOINT).qposadr[0]
    # the site is ROBOTIS's end-effector frame turned -90 degrees about x (its z = the jaw-closing axis)
    R_site = _rot((1, 0, 0), -math.pi / 2)
    worst_pos, worst_rot, worst_jaw = 0.0, 0.0, 0.0
    for _ in range(1000):
        q = rng.uniform(lo, hi)
        data.qpos[:] = 0.0
        data.qpos[qadr] = q
        data.qpos[mimic] = C.GRIPPER_MIMIC_MULTIPLIER * q[5]
        mujoco.mj_kinematics(model, data)
        ref = urdf_fk(q)
        ee = ref["end_effector_link"]
        worst_pos = max(worst_pos, float(np.linalg.norm(data.site_xpos[site] - ee[:3, 3])))
        dR = data.site_xmat[site].reshape(3, 3).T @ (ee[:3, :3] @ R_site)
        worst_rot = max(worst_rot, float(math.acos(np.clip((np.trace(dR) - 1) / 2, -1, 1))))
        for link in ("link1", "link2", "link3", "link4", "link5", "link6", "link7"):
            worst_jaw = max(worst_jaw, float(np.linalg.norm(data.xpos[model.body(link).id] - ref[link][:3, 3])))
    assert worst_pos < 1e-3, f"end-effector site off by {worst_pos * 1e3:.3f} mm"
    assert worst_rot < 1e-3, f"end-effector frame off by {worst_rot:.2e} rad"
    assert worst_jaw < 1e-3, f"a link origin off by {worst_jaw * 1e3:.3f} mm"


def test_second_jaw_mimics_the_gripper_in_simulation():
    """ROBOTIS's mimic (multiplier -1) as an equality constraint: commanding the gripper opens both jaws."""
    model = M.load_arm_model()
    data = mujoco.MjData(model)
    g, mimic = model.joint("gripper").qposadr[0], model.joint(C.GRIPPER_MIMIC_JOINT).qposadr[0]
    data.ctrl[:] = 0.0
    data.ctrl[model.actuator("gripper").id] = C.GRIPPER_OPEN
    mujoco.mj_step(model, data, nstep=int(1.5 / model.opt.timestep))
    assert data.qpos[g] == pytest.approx(C.GRIPPER_OPEN, abs=0.03)
    assert data.qpos[mimic] == pytest.approx(-data.qpos[g], abs=2e-3)


def test_servo_model_follows_the_constants():
    model = M.load_arm_model()
    for n in C.JOINT_NAMES:
        a, j = model.actuator(n).id, model.joint(n).id
        assert model.actuator_gainprm[a, 0] == pytest.approx(C.SERVO_KP[n])
        np.testing.assert_allclose(model.actuator_forcerange[a], (-C.SERVO_FORCE[n], C.SERVO_FORCE[n]))
        assert model.dof_damping[model.jnt_dofadr[j]] == pytest.approx(C.SERVO_DAMPING[n])
        assert model.dof_armature[model.jnt_dofadr[j]] == pytest.approx(C.SERVO_ARMATURE[n])


def test_scene_has_the_sites_cameras_and_pads_the_envs_use():
    model = M.load_scene_model()
    for cam in C.CAMERA_NAMES:
        model.camera(C.MJCF_CAMERAS[cam])
    model.site(C.GRIPPER_SITE)
    model.site(C.BASE_SITE)
    for pad in M.PAD_GEOMS:
        assert model.geom_contype[model.geom(pad).id] == 1
    with pytest.raises(ValueError, match="primitive"):
        M.scene_xml(visual="official")
