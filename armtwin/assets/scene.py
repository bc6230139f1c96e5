"""What every arm's scene shares: the task objects' specs and the scene around an arm (table, light,
front camera, free objects, fixed boxes), written as MJCF.

Each robot's model module (``so101_mjcf``, ``omx_mjcf``) writes its own arm (bodies, defaults,
actuators) and hands the pieces to :func:`scene_xml`, so the table, the objects and the render settings
are the same for every arm. Frames: world z up, table top at z = 0, arm base at the origin, +x towards
the workspace. Lengths in metres, angles in radians.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Name of the table's geom in every scene (the real-background compositing replaces it).
TABLE_GEOM = "table"
#: Name of the scene's top light (lighting randomization).
TOP_LIGHT = "top"


def fmt(v) -> str:
    """Numbers as an MJCF attribute value (``repr`` of each float, space separated)."""
    return " ".join(repr(float(x)) for x in v)


@dataclass(frozen=True)
class ObjectSpec:
    """A free-floating task object.

    kind: "box" (size = half extents (3,)) or "cylinder" (size = (radius, half height)), metres.
    mass: kg. rgba: colour. friction: (sliding, torsional, rolling).
    """

    name: str
    kind: str
    size: tuple[float, ...]
    rgba: tuple[float, float, float, float]
    mass: float
    friction: tuple[float, float, float] = (1.0, 0.01, 0.0001)

    def __post_init__(self):
        if self.kind not in ("box", "cylinder"):
            raise ValueError(f"ObjectSpec.kind must be 'box' or 'cylinder', got {self.kind!r}")
        want = 3 if self.kind == "box" else 2
        if len(self.size) != want or min(self.size) <= 0:
            raise ValueError(f"ObjectSpec.size for {self.kind} needs {want} positive numbers, got {self.size!r}")
        if self.mass <= 0:
            raise ValueError(f"ObjectSpec.mass must be > 0, got {self.mass}")

    @property
    def half_height(self) -> float:
        """Half extent along the body z axis, metres."""
        return float(self.size[2] if self.kind == "box" else self.size[1])


@dataclass(frozen=True)
class StaticSpec:
    """A fixed box in the world (e.g. an ingredient holder's walls): pos (3,), half size (3,), metres."""

    name: str
    pos: tuple[float, float, float]
    size: tuple[float, float, float]
    rgba: tuple[float, float, float, float] = (0.55, 0.45, 0.35, 1.0)


def look_at_xyaxes(pos, target) -> str:
    """MJCF ``xyaxes`` of a camera at ``pos`` looking at ``target`` (same frame), image up towards +z."""
    import numpy as np

    f = np.asarray(target, float) - np.asarray(pos, float)
    f /= np.linalg.norm(f)
    x = np.cross(f, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(-f, x)
    return fmt(list(x) + list(y))


@dataclass(frozen=True)
class ArmParts:
    """One arm's MJCF pieces for :func:`scene_xml`: ``model`` (the model's name), ``option`` (the
    ``<option>``/``<compiler>`` lines), ``defaults`` (the ``<default>`` block), ``assets`` (an
    ``<asset>`` block or ""), ``bodies`` (the arm's bodies, worldbody children), ``tail`` (what follows
    the worldbody: contact exclusions, equalities, actuators)."""

    model: str
    option: str
    defaults: str
    assets: str
    bodies: str
    tail: str


def scene_xml(
    arm: ArmParts,
    objects: tuple[ObjectSpec, ...] = (),
    statics: tuple[StaticSpec, ...] = (),
    *,
    front_camera: tuple[str, tuple, tuple] | None = None,
) -> str:
    """The arm on a table (top at z = 0) with free ``objects`` and fixed ``statics``.

    front_camera: (MJCF name, position (3,), target (3,)) world-frame metres, or None for no scene camera.
    Each object gets a body and a free joint both named after it; free joints come after the arm's
    joints in qpos, in ``objects`` order.
    """
    obj_xml = []
    for o in objects:
        if o.kind == "box":
            geom = f'type="box" size="{fmt(o.size)}"'
        else:
            geom = f'type="cylinder" size="{fmt(o.size)}"'
        obj_xml.append(
            f'    <body name="{o.name}" pos="0 0 {o.half_height + 0.5}">\n'
            f'      <freejoint name="{o.name}"/>\n'
            # condim 3 against the table and each other; contacts with the pads take the pads' condim 4
            # (MuJoCo uses the larger), so grasps keep torsional friction at fewer constraint rows
            f'      <geom name="{o.name}" {geom} rgba="{fmt(o.rgba)}" mass="{o.mass}" friction="{fmt(o.friction)}"'
            ' condim="3" solref="0.004 1"/>\n'
            "    </body>"
        )
    static_xml = [
        f'    <geom name="{s.name}" type="box" pos="{fmt(s.pos)}" size="{fmt(s.size)}" rgba="{fmt(s.rgba)}"/>'
        for s in statics
    ]
    front = ""
    if front_camera is not None:
        name, pos, target = front_camera
        front = f'    <camera name="{name}" pos="{fmt(pos)}" xyaxes="{look_at_xyaxes(pos, target)}" fovy="58"/>'
    nl = "\n"
    return f"""<mujoco model="{arm.model}">
{arm.option}
  <visual>
    <global offwidth="640" offheight="480"/>
    <!-- coarse tessellation (numquads 1: boxes as 6 quads; 12 slices for round shapes) and no
         multisampling: 7x faster in the software renderer at 128x128, no visible difference there -->
    <quality shadowsize="0" numslices="12" numstacks="4" numquads="1" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.6 0.6 0.6" specular="0 0 0"/>
  </visual>
{arm.defaults}
{arm.assets}
  <worldbody>
    <light name="{TOP_LIGHT}" pos="0.2 0 1.2" dir="0 0 -1" directional="true" castshadow="false" diffuse="0.35 0.35 0.35"/>
    <!-- a plane (analytic contacts, ~30 % faster than a box) drawn as a 90 x 90 cm table top -->
    <geom name="{TABLE_GEOM}" type="plane" pos="0.15 0 0" size="0.45 0.45 0.05" rgba="0.60 0.56 0.50 1"
          friction="1 0.005 0.0001"/>
{front}
{arm.bodies}
{nl.join(static_xml)}
{nl.join(obj_xml)}
  </worldbody>
{arm.tail}
</mujoco>
"""
