"""MJCF of the ROBOTIS OMX twin (the OMX-F follower LeRobot drives as ``omx_follower``), generated in Python.

The kinematic tree (joint origins and axes, the two-jaw gripper whose second jaw mimics the first with
multiplier -1, the end-effector frame) and the masses and inertias reproduce ROBOTIS's OMX-F
description (``omx_f_arm.urdf.xacro`` / ``omx_f.urdf.xacro`` of github.com/ROBOTIS-GIT/open_manipulator,
Apache-2.0) number for number; ``tests/golden/omx_chain.json`` holds those numbers as extracted from
the URDF, and ``tests/test_omx_model.py`` checks this model against them. Joint limits and the servo
model are ``omx_constants``' (README.md in this folder says where each comes from). Visual and
collision geometry is ours, primitives only: only the two jaw pads collide.

Frames: world z up, the arm base (ROBOTIS's ``link0``) at the origin on the table top (z = 0), +x
towards the workspace. Lengths in metres, angles in radians, quaternions wxyz. Bodies keep ROBOTIS's
link names (``link0`` .. ``link7``); joints take armtwin's names (``omx_constants.JOINT_NAMES``, plus
``gripper_mimic`` for ROBOTIS's passive ``gripper_joint_2``).

Public functions, as ``so101_mjcf``'s: :func:`arm_xml`, :func:`scene_xml`, :func:`load_arm_model`,
:func:`load_scene_model`.
"""

from __future__ import annotations

from armtwin.assets import omx_constants as C
from armtwin.assets.scene import TABLE_GEOM, TOP_LIGHT, ArmParts, ObjectSpec, StaticSpec, look_at_xyaxes
from armtwin.assets.scene import fmt as _fmt
from armtwin.assets.scene import scene_xml as _scene_xml

__all__ = ["ObjectSpec", "StaticSpec", "TABLE_GEOM", "TOP_LIGHT", "arm_xml", "scene_xml", "load_arm_model",
           "load_scene_model"]

# (body, parent, pos (3,) of the joint origin in the parent, joint name or None, joint axis (3,),
#  mass kg, com (3,), full inertia (6,) Ixx Iyy Izz Ixy Ixz Iyz). Every joint origin's rpy is 0 in
#  ROBOTIS's URDF, so every body keeps its parent's orientation. Numbers from omx_f_arm.urdf.xacro.
_LINKS: tuple[tuple, ...] = (
    ("link0", "world", (0.0, 0.0, 0.0), None, None, 2.238905100e-01,
     (-1.441250800e-02, -3.149887900e-03, 1.927659900e-02),
     (3.568046100e-04, 2.194193200e-04, 4.557589900e-04, -3.297178900e-06, 1.907676700e-05, 1.407164200e-06)),
    ("link1", "link0", (-0.01125, 0.0, 0.034), "shoulder_pan", (0, 0, 1), 6.598704100e-02,
     (-6.223620500e-06, 6.049232000e-04, 4.741880300e-02),
     (2.173166700e-05, 2.135151300e-05, 1.165795500e-05, -7.670221200e-09, 6.604697700e-09, -3.790671700e-07)),
    ("link2", "link1", (0.0, 0.0, 0.0635), "shoulder_lift", (0, 1, 0), 8.722147100e-02,
     (1.808991600e-02, 2.977875800e-04, 9.900545200e-02),
     (1.030791500e-04, 1.208632700e-04, 4.199367700e-05, -9.237869700e-07, -2.259657800e-05, -1.937414500e-06)),
    ("link3", "link2", (0.0415, 0.0, 0.11315), "elbow_flex", (0, 1, 0), 8.375912900e-02,
     (8.739860200e-02, 4.131006500e-04, -3.582921000e-03),
     (1.520310100e-05, 2.260615800e-04, 2.306688700e-04, -5.856958300e-07, -8.201398200e-06, 4.169928000e-07)),
    ("link4", "link3", (0.162, 0.0, 0.0), "wrist_flex", (0, 1, 0), 2.997506300e-02,
     (2.323498000e-02, 6.773537800e-05, 5.976131200e-03),
     (5.099513000e-06, 7.099047100e-06, 6.311949500e-06, 2.633166800e-08, -7.760319700e-07, 1.637967900e-09)),
    ("link5", "link4", (0.0287, 0.0, 0.0), "wrist_roll", (1, 0, 0), 4.381088700e-02,
     (2.807240700e-02, 2.413594100e-05, 1.352891400e-02),
     (2.369445900e-05, 2.323692400e-05, 7.180629100e-06, -2.614252600e-08, -2.939284100e-06, 7.543040500e-08)),
    ("link6", "link5", (0.0295, 0.0075, 0.0), "gripper", (0, 0, 1), 1.209067700e-02,
     (1.616456500e-02, 1.273103200e-03, 2.729159800e-04),
     (2.708328700e-06, 6.873372800e-06, 4.694188100e-06, 1.397245300e-07, 5.888794300e-08, 1.537070800e-08)),
    ("link7", "link5", (0.0295, -0.0108, 0.0), C.GRIPPER_MIMIC_JOINT, (0, 0, 1), 1.209067700e-02,
     (1.616456500e-02, 1.273103200e-03, 2.729159800e-04),
     (2.708328700e-06, 6.873372800e-06, 4.694188100e-06, 1.397245300e-07, 5.888794300e-08, 1.537070800e-08)),
)

#: The arm's bodies, base to jaws.
ARM_BODIES: tuple[str, ...] = tuple(link[0] for link in _LINKS)
#: The body that carries the gripper site and the wrist camera.
GRIPPER_BODY = "link5"
#: The two collision pads, one per jaw (``is_grasped``: both touch the object).
PAD_GEOMS: tuple[str, str] = ("left_pad", "right_pad")

#: ROBOTIS's ``end_effector_joint``: the end-effector frame in link5, midway between the jaws' tips.
END_EFFECTOR_POS = (0.09193, -0.0016, 0.0)
#: The site's orientation in link5: ROBOTIS's end-effector frame turned -90 degrees about its x axis, so
#: that the site's z axis (armtwin's jaw-closing axis) is link5's y, along which the jaws close.
GRIPPER_SITE_QUAT = (0.7071067811865476, -0.7071067811865476, 0.0, 0.0)

#: Jaw pads, in each jaw's frame (x along the finger from its pivot): half size (length, thickness,
#: width) and centre; the inner faces meet the mid-plane (link5 y = -0.0016) with 0.5 mm to spare at
#: gripper = 0 (ROBOTIS's "close") and end at the finger tip, where the end-effector frame is.
PAD_HALF = (0.0137, 0.003, 0.009)
_PAD_X = END_EFFECTOR_POS[0] - 0.0295 - PAD_HALF[0]
_GAP = 0.0005
_MID = END_EFFECTOR_POS[1]
PAD_FRICTION = (1.5, 0.02, 0.0002)

_ARM = "0.86 0.86 0.88 1"
_MOTOR = "0.12 0.12 0.12 1"
ARM_RGBA: tuple[float, ...] = tuple(float(x) for x in _ARM.split())
MOTOR_RGBA: tuple[float, ...] = tuple(float(x) for x in _MOTOR.split())
_PAD_RGBA = "0.25 0.25 0.28 1"


def _pad(name: str, pivot_y: float, side: int) -> str:
    # side +1: the jaw above the mid-plane (inner face towards -y), -1 the one below
    y = (_MID - pivot_y) + side * (_GAP + PAD_HALF[1])
    return (f'<geom name="{name}" type="box" pos="{_PAD_X!r} {y!r} 0" size="{_fmt(PAD_HALF)}" rgba="{_PAD_RGBA}"'
            ' class="omx_pad"/>')


# Primitive geometry per body (visual only unless class omx_pad). Sizes follow the servos (XL430-W250
# 28.5 x 46.5 x 34 mm, XL330 20 x 34 x 26 mm, eManual) and the link lengths.
_GEOMS: dict[str, tuple[str, ...]] = {
    "link0": (
        f'<geom type="box" pos="-0.015 0 0.012" size="0.045 0.035 0.012" rgba="{_ARM}"/>',
        f'<geom type="box" pos="-0.01125 0 0.03" size="0.017 0.023 0.008" rgba="{_MOTOR}"/>',
    ),
    "link1": (
        f'<geom type="box" pos="0 0 0.035" size="0.0143 0.0233 0.017" rgba="{_MOTOR}"/>',
        f'<geom type="cylinder" fromto="0 -0.025 0.0635 0 0.025 0.0635" size="0.013" rgba="{_ARM}"/>',
    ),
    "link2": (
        f'<geom type="capsule" fromto="0.004 0 0.012 0.035 0 0.10" size="0.013" rgba="{_ARM}"/>',
        f'<geom type="box" pos="0.0415 0 0.11315" size="0.017 0.0143 0.0233" rgba="{_MOTOR}"/>',
    ),
    "link3": (
        f'<geom type="capsule" fromto="0.02 0 0 0.145 0 0" size="0.011" rgba="{_ARM}"/>',
        f'<geom type="box" pos="0.155 0 0" size="0.013 0.017 0.01" rgba="{_MOTOR}"/>',
    ),
    "link4": (
        f'<geom type="box" pos="0.018 0 0.004" size="0.012 0.013 0.01" rgba="{_ARM}"/>',
    ),
    "link5": (
        f'<geom type="box" pos="0.012 0 0.014" size="0.013 0.017 0.01" rgba="{_MOTOR}"/>',
        f'<geom type="box" pos="0.026 -0.0016 0" size="0.004 0.02 0.011" rgba="{_ARM}"/>',
    ),
    "link6": (
        f'<geom type="box" pos="0.025 0.0005 0" size="0.025 0.003 0.009" rgba="{_ARM}"/>',
        _pad(PAD_GEOMS[0], 0.0075, +1),
    ),
    "link7": (
        f'<geom type="box" pos="0.025 -0.0005 0" size="0.025 0.003 0.009" rgba="{_ARM}"/>',
        _pad(PAD_GEOMS[1], -0.0108, -1),
    ),
}

#: Front camera (world frame, metres): in front of the workspace, looking back at the arm and table.
FRONT_CAMERA_POS = (0.44, 0.0, 0.34)
FRONT_CAMERA_TARGET = (0.13, 0.0, 0.05)
#: Wrist camera on link5: above the wrist servo (link5 +z), looking along the jaws at their tips.
WRIST_CAMERA_POS = (0.005, -0.0016, 0.045)
WRIST_CAMERA_TARGET = (0.11, -0.0016, -0.005)


def _joint_attrs(name: str) -> str:
    if name == C.GRIPPER_MIMIC_JOINT:
        # passive: moved by the equality constraint with the gripper joint; the range mirrors it
        lo, hi = sorted(C.GRIPPER_MIMIC_MULTIPLIER * v for v in C.JOINT_LIMITS[C.GRIPPER_JOINT])
        return f'range="{lo!r} {hi!r}" damping="0" armature="0.0001"'
    lo, hi = C.JOINT_LIMITS[name]
    return (f'range="{lo!r} {hi!r}" damping="{C.SERVO_DAMPING[name]!r}" frictionloss="{C.SERVO_FRICTIONLOSS[name]!r}"'
            f' armature="{C.SERVO_ARMATURE[name]!r}"')


def _defaults() -> str:
    return f"""
  <default>
    <default class="omx">
      <geom contype="0" conaffinity="0" group="1"/>
      <site group="3"/>
      <default class="omx_pad">
        <geom contype="1" conaffinity="1" condim="4" group="1" friction="{_fmt(PAD_FRICTION)}"
              solref="0.004 1" solimp="0.95 0.99 0.001" priority="1"/>
      </default>
    </default>
  </default>"""


def _bodies(*, wrist_camera: bool) -> str:
    children: dict[str, list] = {}
    for link in _LINKS:
        children.setdefault(link[1], []).append(link)

    def emit(link, indent: int) -> str:
        name, _parent, pos, joint, axis, mass, com, inertia = link
        pad = "  " * indent
        cls = ' childclass="omx"' if name == "link0" else ""
        out = [f'{pad}<body name="{name}" pos="{_fmt(pos)}"{cls}>']
        if joint is not None:
            out.append(f'{pad}  <joint name="{joint}" type="hinge" axis="{_fmt(axis)}" {_joint_attrs(joint)}/>')
        out.append(f'{pad}  <inertial pos="{_fmt(com)}" mass="{mass}" fullinertia="{_fmt(inertia)}"/>')
        for g in _GEOMS.get(name, ()):
            out.append(f"{pad}  {g}")
        if name == "link0":
            out.append(f'{pad}  <site name="{C.BASE_SITE}" pos="0 0 0"/>')
        if name == GRIPPER_BODY:
            out.append(f'{pad}  <site name="{C.GRIPPER_SITE}" pos="{_fmt(END_EFFECTOR_POS)}"'
                       f' quat="{_fmt(GRIPPER_SITE_QUAT)}"/>')
            if wrist_camera:
                out.append(f'{pad}  <camera name="{C.MJCF_CAMERAS["wrist"]}" pos="{_fmt(WRIST_CAMERA_POS)}"'
                           f' xyaxes="{look_at_xyaxes(WRIST_CAMERA_POS, WRIST_CAMERA_TARGET)}" fovy="80"/>')
        for child in children.get(name, ()):
            out.append(emit(child, indent + 1))
        out.append(f"{pad}</body>")
        return "\n".join(out)

    return "\n".join(emit(link, 2) for link in children["world"])


def _tail() -> str:
    rows = []
    for name in C.JOINT_NAMES:
        lo, hi = C.JOINT_LIMITS[name]
        f = C.SERVO_FORCE[name]
        rows.append(f'    <position name="{name}" joint="{name}" kp="{C.SERVO_KP[name]!r}" kv="{C.SERVO_KV[name]!r}"'
                    f' forcerange="{-f!r} {f!r}" ctrlrange="{lo!r} {hi!r}"/>')
    actuators = "\n".join(rows)
    return f"""  <contact>
    <exclude body1="link6" body2="link7"/>
  </contact>
  <equality>
    <!-- ROBOTIS's mimic: gripper_joint_2 = -1 x gripper_joint_1 -->
    <joint joint1="{C.GRIPPER_MIMIC_JOINT}" joint2="{C.GRIPPER_JOINT}" polycoef="0 {C.GRIPPER_MIMIC_MULTIPLIER!r} 0 0 0"
           solref="0.005 1"/>
  </equality>
  <actuator>
{actuators}
  </actuator>"""


def _option(sim_dt: float) -> str:
    # the SO-101's settings (implicitfast, elliptic cones, impratio 10: grasped objects do not slip)
    return (
        f'  <option timestep="{sim_dt!r}" integrator="implicitfast" cone="elliptic" impratio="10"/>\n'
        '  <compiler angle="radian" autolimits="true"/>'
    )


def arm_xml(*, sim_dt: float = C.SIM_DT, wrist_camera: bool = False) -> str:
    """The arm alone on its base (no table, no objects): for IK and forward kinematics."""
    return f"""<mujoco model="omx_armtwin">
{_option(sim_dt)}
{_defaults()}
  <worldbody>
{_bodies(wrist_camera=wrist_camera)}
  </worldbody>
{_tail()}
</mujoco>
"""


VISUALS: tuple[str, ...] = ("primitive",)


def scene_xml(
    objects: tuple[ObjectSpec, ...] = (),
    statics: tuple[StaticSpec, ...] = (),
    *,
    sim_dt: float = C.SIM_DT,
    cameras: bool = True,
    visual: str = "primitive",
) -> str:
    """The OMX on the table with free ``objects``, fixed ``statics`` and both cameras (see
    :func:`armtwin.assets.scene.scene_xml`). visual: only "primitive" (no meshes are shipped)."""
    if visual not in VISUALS:
        raise ValueError(f"the OMX twin has visuals {VISUALS} only (no meshes), got visual={visual!r}")
    arm = ArmParts("omx_armtwin_scene", _option(sim_dt), _defaults(), "", _bodies(wrist_camera=cameras), _tail())
    front = (C.MJCF_CAMERAS["front"], FRONT_CAMERA_POS, FRONT_CAMERA_TARGET) if cameras else None
    return _scene_xml(arm, objects, statics, front_camera=front)


def load_arm_model(*, sim_dt: float = C.SIM_DT):
    """Compiled arm-only ``mujoco.MjModel``."""
    import mujoco

    return mujoco.MjModel.from_xml_string(arm_xml(sim_dt=sim_dt))


def load_scene_model(
    objects=(), statics=(), *, sim_dt: float = C.SIM_DT, cameras: bool = True, visual: str = "primitive"
):
    """Compiled scene ``mujoco.MjModel`` (see :func:`scene_xml`)."""
    import mujoco

    return mujoco.MjModel.from_xml_string(scene_xml(tuple(objects), tuple(statics), sim_dt=sim_dt, cameras=cameras,
                                                    visual=visual))
