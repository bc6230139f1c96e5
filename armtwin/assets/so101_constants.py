"""The one source of truth for the SO-101 arm.

Joint names and order, limits, servo identification, motor ids, tick
conversions, site and camera names all live here. IK, the environments, the
recorder, the LeRobot features, the unit conversions, the virtual Feetech bus
and the ROS 2 JointState names import them from this module and nowhere else.

Frames: the world frame has z up, the arm base at the origin, +x pointing away
from the arm towards the workspace in front of it. Angles are radians unless a
name says otherwise. Joint zero is the "new calibration" pose of the official
SO-101 model: every joint at the middle of its range, which is where LeRobot's
calibration puts tick 2047.

Where every number comes from is written up in ``armtwin/assets/README.md``.
"""

from __future__ import annotations

import math

from armtwin.assets import joints as _joints

# --- joints ---------------------------------------------------------------

#: Joint (and motor, and actuator) names in the order used everywhere:
#: action vectors, observation vectors, HDF5 columns, JointState.name.
JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)
ARM_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES[:5]
GRIPPER_JOINT: str = "gripper"
NUM_JOINTS: int = len(JOINT_NAMES)
#: Passive joints of the model, name -> (the joint it mimics, multiplier): none on the SO-101.
PASSIVE_JOINTS: dict[str, tuple[str, float]] = {}

#: Joint limits, radians, (lower, upper), from the official SO-101 "new
#: calibration" MJCF/URDF (so101_new_calib). elbow_flex carries the 5 degree
#: calibration offset that the official model applies.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "shoulder_pan": (-1.9198621771937616, 1.9198621771937634),
    "shoulder_lift": (-1.7453292519943224, 1.7453292519943366),
    "elbow_flex": (-1.69, 1.69),
    "wrist_flex": (-1.6580628494556928, 1.6580627293335335),
    "wrist_roll": (-2.7438472969992493, 2.841206309382605),
    "gripper": (-0.17453297762778586, 1.7453291995659765),
}

#: Gripper joint angles, radians: closed on nothing / fully open used by experts.
GRIPPER_CLOSED: float = -0.17
GRIPPER_OPEN: float = 1.2
#: Gripper opening the experts use next to obstacles (radians): ~5 cm between the pads.
GRIPPER_HALF_OPEN: float = 0.55
#: The gripper site sits on the fixed jaw's inner face (not midway between the jaws, as the OMX's):
#: a grasp puts it half the object's width plus a clearance beside the object's centre.
GRIPPER_SITE_CENTRED: bool = False
#: Angle (radians, about world z) of the jaw-closing axis from the direction the arm reaches in, with
#: the gripper pointing down and wrist_roll 0: the SO-101's jaws close along the reach.
CLOSING_YAW_OFFSET: float = 0.0

#: Joint positions (radians, JOINT_NAMES order) every env resets the arm to: the gripper
#: about 9 cm above the table, 17 cm in front of the base, pointing down (an IK solution
#: on the twin, see README.md), jaws neutral.
HOME_QPOS: tuple[float, ...] = (0.0, -0.45, 0.35, 1.55, 0.0, 0.0)

# --- servos (Feetech STS3215) ----------------------------------------------

MOTOR_MODEL: str = "sts3215"
#: Feetech bus ids as LeRobot's SO101Follower / SO101Leader assign them.
MOTOR_IDS: dict[str, int] = {name: i + 1 for i, name in enumerate(JOINT_NAMES)}
STS3215_MODEL_NUMBER: int = 777
TICKS_PER_REV: int = 4096
#: Tick at joint zero after LeRobot's calibration (half turn homing).
TICK_AT_ZERO: int = 2047
RAD_PER_TICK: float = 2.0 * math.pi / TICKS_PER_REV
BAUDRATE: int = 1_000_000

#: Direction of each sim joint relative to its servo's tick count (+1: ticks
#: increase with the MuJoCo joint angle). The official model is built so that
#: all are +1 with LeRobot's drive_mode 0.
JOINT_SIGN: dict[str, int] = {name: 1 for name in JOINT_NAMES}

#: Position-servo model from MuJoCo Menagerie's system identification of the
#: STS3215 at LeRobot's P=16: kp N*m/rad, kv N*m*s/rad, force range N*m.
SERVO_KP: float = 998.22
SERVO_KV: float = 2.731
SERVO_FORCE_RANGE: tuple[float, float] = (-2.94, 2.94)
SERVO_DAMPING: float = 0.60
SERVO_FRICTIONLOSS: float = 0.052
SERVO_ARMATURE: float = 0.028

# --- timing ----------------------------------------------------------------

#: Default control period, seconds: LeRobot records at 30 fps.
CTRL_DT: float = 1.0 / 30.0
#: Default physics step, seconds. Divides CTRL_DT exactly.
SIM_DT: float = 1.0 / 180.0

# --- LeRobot naming ----------------------------------------------------------

#: LeRobot's per-motor feature names ("shoulder_pan.pos", ...), in JOINT_NAMES order.
LEROBOT_MOTOR_KEYS: tuple[str, ...] = tuple(f"{n}.pos" for n in JOINT_NAMES)
#: LeRobot's name of the SO-101 follower (``SO101Follower.name``, ``so_follower`` in LeRobot 0.4.4; the
#: ``--robot.type`` flag is ``so101_follower``): what ``lerobot-record`` writes as a real SO-101 dataset's
#: ``robot_type`` and the folder of its calibration files. ``armtwin convert lerobot`` and the plugin robot
#: ``armtwin_so101_sim`` record it, so twin and real datasets aggregate (tests check it against the
#: installed LeRobot and a real ``lerobot-record`` run).
LEROBOT_ROBOT_TYPE: str = "so_follower"
#: LeRobot's name of the SO-101 leader (``SO101Leader.name``): the folder of its calibration files.
LEROBOT_TELEOP_TYPE: str = "so_leader"
#: LeRobot's ``SO101FollowerConfig.use_degrees`` default (0.4.4): body joints in degrees, gripper 0..100.
LEROBOT_USE_DEGREES: bool = True
#: None: the SO-101 is calibrated by hand (no factory calibration); armtwin's default calibration is an
#: ideal arm whose ranges are the model's joint limits (``armtwin.units.Calibration.default``).
FACTORY_CALIBRATION_RANGE: tuple[int, int] | None = None
#: The name ``armtwin.assets.models`` and ``armtwin.robots.registry`` know this arm by.
ROBOT_NAME: str = "so101"
#: How messages name this arm.
DISPLAY_NAME: str = "SO-101"
#: role -> (LeRobot's device kind folder, device name) of its calibration files.
LEROBOT_CALIBRATION_DIRS: dict[str, tuple[str, str]] = {"follower": ("robots", LEROBOT_ROBOT_TYPE),
                                                        "leader": ("teleoperators", LEROBOT_TELEOP_TYPE)}

# --- sites, bodies, cameras ---------------------------------------------------

#: Site between the jaws, the end-effector frame for IK and recorded eef poses.
GRIPPER_SITE: str = "gripperframe"
BASE_SITE: str = "baseframe"
#: Camera names as seen by users (observation keys, LeRobot image features).
CAMERA_NAMES: tuple[str, ...] = ("wrist", "front")
#: MJCF camera name for each user-facing camera name.
MJCF_CAMERAS: dict[str, str] = {"wrist": "wrist_cam", "front": "front_cam"}

# --- ROS 2 -----------------------------------------------------------------------

ROS_JOINT_STATES_TOPIC: str = "/joint_states"
ROS_FRAME_ID: str = "base_link"


def joint_index(name: str) -> int:
    """Index of joint ``name`` in JOINT_NAMES; raises KeyError listing the valid names."""
    return _joints.index_of(name, JOINT_NAMES, DISPLAY_NAME)


def lower_limits():
    """(6,) float, radians, JOINT_NAMES order."""
    return _joints.limit_array(JOINT_LIMITS, JOINT_NAMES, 0)


def upper_limits():
    """(6,) float, radians, JOINT_NAMES order."""
    return _joints.limit_array(JOINT_LIMITS, JOINT_NAMES, 1)
