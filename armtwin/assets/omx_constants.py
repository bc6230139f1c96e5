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

from armtwin.assets import joints as _joints

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
#: Follower bus ids by joint (what a calibration file's ``id`` fields hold).
MOTOR_IDS: dict[str, int] = {n: i for n, (i, _m) in FOLLOWER_MOTORS.items()}
#: Dynamixel model numbers (eManual, control table address 0).
MODEL_NUMBERS: dict[str, int] = {"xl430-w250": 1060, "xl330-m288": 1200, "xl330-m077": 1190}

# --- ticks -------------------------------------------------------------------------------
TICKS_PER_REV: int = 4096
TICK_AT_ZERO: int = 2048
RAD_PER_TICK: float = 2 * math.pi / TICKS_PER_REV

#: Joint limits, radians (lower, upper): ROBOTIS's OMX-F description (``tests/golden/omx_chain.json``,
#: regenerated from it by ``tests/golden/regen_omx_chain.py``). The URDF's own limits are +-2 pi
#: placeholders, so these are the servos' Min/Max Position Limit registers that ROBOTIS's ros2_control
#: configuration writes (shoulder_lift 830..3129, elbow_flex 1024..3140 ticks; the others their full
#: 0..4095 turn) in radians around tick 2048, and for the gripper the SRDF's close (0) .. open (1 rad).
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "shoulder_pan": ((0 - TICK_AT_ZERO) * RAD_PER_TICK, (4095 - TICK_AT_ZERO) * RAD_PER_TICK),
    "shoulder_lift": ((830 - TICK_AT_ZERO) * RAD_PER_TICK, (3129 - TICK_AT_ZERO) * RAD_PER_TICK),
    "elbow_flex": ((1024 - TICK_AT_ZERO) * RAD_PER_TICK, (3140 - TICK_AT_ZERO) * RAD_PER_TICK),
    "wrist_flex": ((0 - TICK_AT_ZERO) * RAD_PER_TICK, (4095 - TICK_AT_ZERO) * RAD_PER_TICK),
    "wrist_roll": ((0 - TICK_AT_ZERO) * RAD_PER_TICK, (4095 - TICK_AT_ZERO) * RAD_PER_TICK),
    "gripper": (0.0, 1.0),
}
#: Where the ROBOTIS joint of each joint name is (their URDF's names), for the FK test and the README.
ROBOTIS_JOINTS: dict[str, str] = {
    "shoulder_pan": "joint1", "shoulder_lift": "joint2", "elbow_flex": "joint3", "wrist_flex": "joint4",
    "wrist_roll": "joint5", "gripper": "gripper_joint_1",
}
#: The second jaw's joint (ROBOTIS's ``gripper_joint_2``): passive, mimics the gripper with multiplier -1.
GRIPPER_MIMIC_JOINT: str = "gripper_mimic"
GRIPPER_MIMIC_MULTIPLIER: float = -1.0
#: Passive joints of the model, name -> (the joint it mimics, multiplier): the second jaw.
PASSIVE_JOINTS: dict[str, tuple[str, float]] = {GRIPPER_MIMIC_JOINT: (GRIPPER_JOINT, GRIPPER_MIMIC_MULTIPLIER)}

#: Gripper joint angles, radians, the experts use: closed (the SRDF's ``close``; on an object the servo
#: then squeezes at its torque limit), open (5.3 cm between the pads' near ends, 9.1 cm at the tips),
#: half open (3.3 / 5.7 cm). The jaws swing about their pivots, so the pads open in a V.
GRIPPER_CLOSED: float = 0.0
GRIPPER_OPEN: float = 0.75
GRIPPER_HALF_OPEN: float = 0.45
#: The gripper site sits midway between the two jaws (ROBOTIS's ``end_effector_link``), not on a jaw's
#: face as the SO-101's: a grasp centres the site on the object.
GRIPPER_SITE_CENTRED: bool = True
#: Angle (radians, about world z) of the jaw-closing axis from the direction the arm reaches in, with
#: the gripper pointing down and wrist_roll 0: the OMX's jaws close across the reach (link5's y axis).
CLOSING_YAW_OFFSET: float = math.pi / 2

#: Joint positions every env resets the arm to (radians, JOINT_NAMES order): the gripper site 9 cm
#: above the table, 17 cm in front of the base, approach axis down, jaws across the reach (an IK
#: solution on the twin; pan and roll 0.0088 rad take up the end-effector's 1.6 mm side offset), the
#: jaws a little open (0.1 rad: resting on the closed limit, 0, the soft limit lets the joint sink a
#: hair below it, outside the observation space).
HOME_QPOS: tuple[float, ...] = (0.0088, -0.1902, 0.2261, 1.5348, 0.0088, 0.1)

# --- servos (Dynamixel XL430-W250 / XL330-M288), see README.md "OMX" ------------------------------
#: Per motor model: stall torque N*m (eManual: XL430-W250 1.5 N*m at 12 V, XL330-M288 0.52 N*m at 5 V),
#: no-load speed rad/s (57 rev/min, 103 rev/min), factory Position P Gain (640, 400).
STALL_TORQUE: dict[str, float] = {"xl430-w250": 1.5, "xl330-m288": 0.52}
NO_LOAD_SPEED: dict[str, float] = {"xl430-w250": 57 * 2 * math.pi / 60, "xl330-m288": 103 * 2 * math.pi / 60}
#: PWM at full duty (eManual PWM Limit, 100 %).
PWM_MAX: int = 885
#: Position P Gain register per joint: factory values, and LeRobot's OmxFollower.configure sets the
#: elbow to 1500.
POSITION_P_GAIN: dict[str, int] = {
    "shoulder_pan": 640, "shoulder_lift": 640, "elbow_flex": 1500, "wrist_flex": 400, "wrist_roll": 400,
    "gripper": 400,
}


def _kp(name: str) -> float:
    # eManual position controller: PWM = (P Gain / 128) * error in ticks, torque ~ stall * PWM / PWM_MAX
    model = FOLLOWER_MOTORS[name][1]
    return STALL_TORQUE[model] * (POSITION_P_GAIN[name] / 128.0) / RAD_PER_TICK / PWM_MAX


#: Position servo per joint: kp N*m/rad (from the P gain above), kv N*m*s/rad (0: the D gain is 0 at
#: the factory), force range +-stall torque N*m, damping N*m*s/rad = stall torque / no-load speed (a
#: voltage-driven DC motor's back-EMF slope), armature kg*m^2 and friction loss N*m (estimates, README).
SERVO_KP: dict[str, float] = {n: _kp(n) for n in JOINT_NAMES}
SERVO_KV: dict[str, float] = {n: 0.0 for n in JOINT_NAMES}
SERVO_FORCE: dict[str, float] = {n: STALL_TORQUE[FOLLOWER_MOTORS[n][1]] for n in JOINT_NAMES}
SERVO_DAMPING: dict[str, float] = {
    n: STALL_TORQUE[FOLLOWER_MOTORS[n][1]] / NO_LOAD_SPEED[FOLLOWER_MOTORS[n][1]] for n in JOINT_NAMES
}
SERVO_ARMATURE: dict[str, float] = {n: {"xl430-w250": 0.010, "xl330-m288": 0.004}[FOLLOWER_MOTORS[n][1]]
                                    for n in JOINT_NAMES}
#: Friction loss: the STS3215's identified 0.052 N*m scaled by stall torque (0.052 / 2.94 of it).
SERVO_FRICTIONLOSS: dict[str, float] = {n: SERVO_FORCE[n] * 0.052 / 2.94 for n in JOINT_NAMES}

# --- timing (as the SO-101's: LeRobot records at 30 fps) ---------------------------------------------
CTRL_DT: float = 1.0 / 30.0
SIM_DT: float = 1.0 / 180.0

# --- LeRobot ---------------------------------------------------------------------------------
#: Direction of each joint relative to its servo's ticks: all +1 (ROBOTIS's Drive Mode 4 and LeRobot's
#: DriveMode.NON_INVERTED leave the direction as built).
JOINT_SIGN: dict[str, int] = {n: 1 for n in JOINT_NAMES}
#: LeRobot calibrates an OMX without a person: its factory calibration (``OmxFollower.calibrate``) is
#: homing offset 0, drive mode 0, range 0..4095 for every motor.
FACTORY_CALIBRATION_RANGE: tuple[int, int] | None = (0, 4095)
#: LeRobot's ``OmxFollowerConfig.use_degrees`` default: body joints -100..100, gripper 0..100.
LEROBOT_USE_DEGREES: bool = False
LEROBOT_ROBOT_TYPE: str = "omx_follower"
LEROBOT_TELEOP_TYPE: str = "omx_leader"
LEROBOT_MOTOR_KEYS: tuple[str, ...] = tuple(f"{n}.pos" for n in JOINT_NAMES)
ROBOT_NAME: str = "omx"
#: How messages name this arm.
DISPLAY_NAME: str = "OMX"
#: role -> (LeRobot's device kind folder, device name) of its calibration files (``OmxFollower.name``,
#: ``OmxLeader.name``).
LEROBOT_CALIBRATION_DIRS: dict[str, tuple[str, str]] = {"follower": ("robots", LEROBOT_ROBOT_TYPE),
                                                        "leader": ("teleoperators", LEROBOT_TELEOP_TYPE)}

# --- sites, cameras -----------------------------------------------------------------------------------
#: Site midway between the jaws at the finger tips (ROBOTIS's ``end_effector_link``, turned so that its
#: x axis is the approach axis and z the jaw-closing axis, as the SO-101's ``gripperframe``).
GRIPPER_SITE: str = "gripperframe"
BASE_SITE: str = "baseframe"
#: Camera names of the twin (the SO-101's pair, same order): one on the wrist, a fixed front camera.
CAMERA_NAMES: tuple[str, ...] = ("wrist", "front")
MJCF_CAMERAS: dict[str, str] = {"wrist": "wrist_cam", "front": "front_cam"}


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


def joint_index(name: str) -> int:
    """Index of joint ``name`` in JOINT_NAMES; raises KeyError listing the valid names."""
    return _joints.index_of(name, JOINT_NAMES, DISPLAY_NAME)


def lower_limits():
    """(6,) float, radians, JOINT_NAMES order."""
    return _joints.limit_array(JOINT_LIMITS, JOINT_NAMES, 0)


def upper_limits():
    """(6,) float, radians, JOINT_NAMES order."""
    return _joints.limit_array(JOINT_LIMITS, JOINT_NAMES, 1)
