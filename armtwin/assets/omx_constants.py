"""The one source of truth for the ROBOTIS OMX arm (LeRobot's ``omx_follower`` / ``omx_leader``).

Joint names and order, motor ids and Dynamixel models, tick conversions and the LeRobot names
live here; the virtual Dynamixel bus and the robot registry import them from this module only.

Frames and units as for the SO-101 (``so101_constants``): radians, joint zero at servo tick 2048
(the middle of the Dynamixel X-series' 0..4095 turn, where ROBOTIS's OMX description puts each
joint's zero). Sources: motor ids, models and joint names are LeRobot 0.4.4's
``lerobot/robots/omx_follower/omx_follower.py`` and ``lerobot/teleoperators/omx_leader/omx_leader.py``;
model numbers and the 4096-tick resolution the Dynamixel eManual (LeRobot's ``dynamixel/tables.py``).
"""

from __future__ import annotations

import math

#: Joint (motor) names in the order used everywhere; the same six names as the SO-101's.
JOINT_NAMES: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
ARM_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES[:5]
GRIPPER_JOINT: str = "gripper"
NUM_JOINTS: int = len(JOINT_NAMES)

#: Follower motors, name -> (Dynamixel id, model): LeRobot's OmxFollower.
FOLLOWER_MOTORS: dict[str, tuple[int, str]] = {
    "shoulder_pan": (11, "xl430-w250"),
    "shoulder_lift": (12, "xl430-w250"),
    "elbow_flex": (13, "xl430-w250"),
    "wrist_flex": (14, "xl330-m288"),
    "wrist_roll": (15, "xl330-m288"),
    "gripper": (16, "xl330-m288"),
}
#: Leader motors, name -> (Dynamixel id, model): LeRobot's OmxLeader.
LEADER_MOTORS: dict[str, tuple[int, str]] = {
    "shoulder_pan": (1, "xl330-m288"),
    "shoulder_lift": (2, "xl330-m288"),
    "elbow_flex": (3, "xl330-m288"),
    "wrist_flex": (4, "xl330-m288"),
    "wrist_roll": (5, "xl330-m288"),
    "gripper": (6, "xl330-m077"),
}
#: Dynamixel model numbers (eManual, control table address 0).
MODEL_NUMBERS: dict[str, int] = {"xl430-w250": 1060, "xl330-m288": 1200, "xl330-m077": 1190}

# --- ticks -------------------------------------------------------------------------------
TICKS_PER_REV: int = 4096
TICK_AT_ZERO: int = 2048
RAD_PER_TICK: float = 2 * math.pi / TICKS_PER_REV

#: Joint limits, radians: the servo's one turn around joint zero, which is what LeRobot's factory
#: calibration (range 0..4095) admits. The kinematic model's own limits belong to the OMX MJCF.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    n: (-TICK_AT_ZERO * RAD_PER_TICK, (TICKS_PER_REV - 1 - TICK_AT_ZERO) * RAD_PER_TICK) for n in JOINT_NAMES
}

# --- LeRobot ---------------------------------------------------------------------------------
LEROBOT_ROBOT_TYPE: str = "omx_follower"
LEROBOT_TELEOP_TYPE: str = "omx_leader"
LEROBOT_MOTOR_KEYS: tuple[str, ...] = tuple(f"{n}.pos" for n in JOINT_NAMES)
#: Camera names of the twin (the SO-101's pair): a fixed front camera and one on the wrist.
CAMERA_NAMES: tuple[str, ...] = ("front", "wrist")


def motors(role: str) -> dict[str, tuple[int, str]]:
    """``"follower"`` or ``"leader"`` -> its motors, name -> (id, model)."""
    table = {"follower": FOLLOWER_MOTORS, "leader": LEADER_MOTORS}
    if role not in table:
        raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(table)}")
    return table[role]


def radians_to_ticks(q):
    """(..., 6) radians -> joint-frame ticks (float)."""
    import numpy as np

    return np.asarray(q, dtype=np.float64) / RAD_PER_TICK + TICK_AT_ZERO


def ticks_to_radians(ticks):
    import numpy as np

    return (np.asarray(ticks, dtype=np.float64) - TICK_AT_ZERO) * RAD_PER_TICK
