"""Regenerate tests/golden/omx_chain.json: the OMX follower's kinematic chain as ROBOTIS publishes it.

Reads ROBOTIS's public OMX description (github.com/ROBOTIS-GIT/open_manipulator, Apache-2.0), numbers
only (no meshes), from a clone or a bare git directory of that repository:

- ``open_manipulator_description/urdf/omx_f/omx_f_arm.urdf.xacro``: every joint's parent, child,
  origin (xyz, rpy), axis, URDF limit and mimic; each link's inertial (mass, centre of mass, inertia);
- ``open_manipulator_description/urdf/omx_f/omx_f.urdf.xacro``: the fixed ``end_effector_joint``;
- ``open_manipulator_description/ros2_control/omx_f.ros2_control.xacro``: the servo each joint drives
  (``dxl11``..``dxl16``, in joint order) and its ``Min/Max Position Limit`` registers (ticks);
- ``open_manipulator_moveit_config/config/omx_f/omx_f.srdf``: the gripper's ``close``/``open`` states.

The URDF's own limits are +-2 pi for every joint (placeholders), so the usable range this file records
(``limit_rad``) is the servo's: its Min/Max Position Limit registers where ROBOTIS sets them, else the
X-series' full 0..4095, turned into radians with joint zero at tick 2048 (the Dynamixel eManual's
centre of a turn; ROBOTIS's hardware interface maps tick 2048 to 0 rad); the gripper's is the SRDF's
close..open. Independent of armtwin (no import of it).

    python tests/golden/regen_omx_chain.py /path/to/open_manipulator   # a clone or a bare git dir
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OUT = Path(__file__).with_name("omx_chain.json")
ARM = "open_manipulator_description/urdf/omx_f/omx_f_arm.urdf.xacro"
TOP = "open_manipulator_description/urdf/omx_f/omx_f.urdf.xacro"
CONTROL = "open_manipulator_description/ros2_control/omx_f.ros2_control.xacro"
SRDF = "open_manipulator_moveit_config/config/omx_f/omx_f.srdf"
#: Dynamixel X-series: 4096 ticks a turn, tick 2048 the centre (joint zero).
TICKS, ZERO = 4096, 2048
#: armtwin's joint names (LeRobot's omx_follower motors) for ROBOTIS's joints, in chain order.
NAMES = {"joint1": "shoulder_pan", "joint2": "shoulder_lift", "joint3": "elbow_flex", "joint4": "wrist_flex",
         "joint5": "wrist_roll", "gripper_joint_1": "gripper"}


def _reader(repo: Path):
    if (repo / ARM).exists():
        return lambda p: (repo / p).read_text(), None
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    return (lambda p: subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{p}"], check=True,
                                     capture_output=True, text=True).stdout), commit


def _strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _name(s: str) -> str:
    return s.replace("${prefix}", "").replace("$(arg prefix)", "")


def _num(s: str) -> float:
    """A number, or a xacro expression of pi such as ``${-pi*2.0}``."""
    s = s.strip()
    if s.startswith("${") and s.endswith("}"):
        return float(eval(s[2:-1], {"__builtins__": {}}, {"pi": math.pi}))  # noqa: S307 (trusted file)
    return float(s)


def _vec(s: str | None, n: int = 3) -> list[float]:
    return [0.0] * n if s is None else [float(v) for v in s.split()]


def _joint(el) -> dict:
    origin, axis, limit, mimic = el.find("origin"), el.find("axis"), el.find("limit"), el.find("mimic")
    j = {
        "urdf_name": _name(el.get("name")),
        "type": el.get("type"),
        "parent": _name(el.find("parent").get("link")),
        "child": _name(el.find("child").get("link")),
        "xyz": _vec(origin.get("xyz") if origin is not None else None),
        "rpy": _vec(origin.get("rpy") if origin is not None else None),
    }
    if el.get("type") == "revolute":
        j["axis"] = _vec(axis.get("xyz"))
        j["urdf_limit"] = [_num(limit.get("lower")), _num(limit.get("upper"))]
    if mimic is not None:
        j["mimic"] = {"joint": _name(mimic.get("joint")), "multiplier": float(mimic.get("multiplier", 1.0))}
    return j


def _inertial(link) -> dict | None:
    el = link.find("inertial")
    if el is None:
        return None
    i = el.find("inertia")
    return {"mass": float(el.find("mass").get("value")), "com": _vec(el.find("origin").get("xyz")),
            "inertia": [float(i.get(k)) for k in ("ixx", "iyy", "izz", "ixy", "ixz", "iyz")]}


def main(repo: str) -> None:
    read, commit = _reader(Path(repo))
    arm = _strip_ns(ET.fromstring(read(ARM))).find("macro")
    joints = [_joint(el) for el in arm.findall("joint")]
    links = {_name(link.get("name")): _inertial(link) for link in arm.findall("link")}
    top = _strip_ns(ET.fromstring(read(TOP)))
    fixed = [_joint(el) for el in top.findall("joint") if _name(el.get("name")) == "end_effector_joint"]

    control = _strip_ns(ET.fromstring(read(CONTROL))).find("macro").find("ros2_control")
    servos = []
    for g in control.findall("gpio"):
        params = {p.get("name"): p.text for p in g.findall("param")}
        lo, hi = params.get("Min Position Limit"), params.get("Max Position Limit")
        servos.append({"id": int(params["ID"]), "ticks": [int(lo), int(hi)] if lo is not None else None,
                       "operating_mode": int(params["Operating Mode"]), "drive_mode": int(params["Drive Mode"])})
    controlled = [_name(j.get("name")) for j in control.findall("joint")]

    srdf = ET.fromstring(read(SRDF))
    states = {s.get("name"): float(s.find("joint").get("value")) for s in srdf.findall("group_state")
              if s.get("group") == "gripper"}

    chain = []
    for j in joints:
        if j["urdf_name"] not in NAMES:
            continue
        servo = servos[controlled.index(j["urdf_name"])]
        if j["urdf_name"] == "gripper_joint_1":
            limit, why = [states["close"], states["open"]], "srdf gripper close..open"
        else:
            t = servo["ticks"] or [0, TICKS - 1]
            limit = [(t[0] - ZERO) * 2 * math.pi / TICKS, (t[1] - ZERO) * 2 * math.pi / TICKS]
            why = "ros2_control Min/Max Position Limit" if servo["ticks"] else "servo full turn 0..4095"
        chain.append({**j, "name": NAMES[j["urdf_name"]], "servo": servo, "limit_rad": limit, "limit_source": why,
                      "child_inertial": links[j["child"]]})
    passive = [{**j, "child_inertial": links[j["child"]]} for j in joints if "mimic" in j]
    out = {
        "source": {"repository": "https://github.com/ROBOTIS-GIT/open_manipulator", "commit": commit,
                   "files": [ARM, TOP, CONTROL, SRDF], "license": "Apache-2.0"},
        "tick_at_zero": ZERO, "ticks_per_rev": TICKS,
        "base_inertial": links["link0"],
        "joints": chain,
        "passive_joints": passive,
        "end_effector": fixed[0],
        "gripper_states": states,
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT} ({len(chain)} joints, {len(passive)} passive)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
