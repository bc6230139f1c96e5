"""ROS 2 message types on the DDS wire, their codec, and what a refusal says (validation: ``validate``).

The types are the ROS 2 ones as ``rmw_cyclonedds`` puts them on the wire:
DDS type names ``<pkg>::msg::dds_::<Msg>_``, XCDR1 (plain CDR) little-endian
with the 4-byte encapsulation header. They are declared here with
``cyclonedds.idl.IdlStruct`` (the wheel's ``idlc`` crashes), and the codec is
pure Python, so both transports (Cyclone and rclpy) move CDR bytes and this
module encodes and decodes them. ``rosbags``' ``serialize_cdr`` is the
reference for the bytes (see ``tests/golden/regen_joint_state.py``).

Units: positions radians, velocities rad/s, efforts N*m; stamps are
nanoseconds since the Unix epoch (``time.time_ns()`` clock, which is what ROS 2
uses for ``header.stamp``).
"""

# No "from __future__ import annotations": Cyclone resolves member annotations at run time.

import math
import typing
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl.types import float64, int32, sequence, uint32

from armtwin.assets import so101_constants as C

# --- names on the wire ----------------------------------------------------------

JOINT_STATE_ROS_TYPE = "sensor_msgs/msg/JointState"
JOINT_TRAJECTORY_ROS_TYPE = "trajectory_msgs/msg/JointTrajectory"

#: RIHS01 type hashes (ROS 2 Iron and later put them in endpoint USER_DATA as
#: ``typehash=<hash>;``). ``tests/test_bridge_messages.py`` recomputes them
#: with rosbags' ``hash_rihs01`` so a drift is caught.
TYPE_HASHES: dict[str, str] = {
    JOINT_STATE_ROS_TYPE: "RIHS01_a13ee3a330e346c9d87b5aa18d24e11690752bd33a0350f11c5882bc9179260e",
    JOINT_TRAJECTORY_ROS_TYPE: "RIHS01_179b33eba59d676f6d967ac71fe35e7ca2f64b2f3928f4a018cec115e213796e",
}

#: Default topic for joint commands sent to ``armtwin bridge command``.
DEFAULT_COMMAND_TOPIC = "/joint_command"


def dds_type_name(ros_type: str) -> str:
    """``"sensor_msgs/msg/JointState"`` -> ``"sensor_msgs::msg::dds_::JointState_"`` (rmw_cyclonedds' mangling)."""
    parts = ros_type.split("/")
    if len(parts) != 3 or parts[1] != "msg" or not all(parts):
        raise ValueError(f"not a ROS 2 message type name: {ros_type!r} (expected '<package>/msg/<Name>')")
    return f"{parts[0]}::msg::dds_::{parts[2]}_"


def dds_topic_name(ros_topic: str) -> str:
    """``"/joint_states"`` -> ``"rt/joint_states"``: ROS 2 topics live under the ``rt`` prefix in DDS."""
    if not ros_topic.startswith("/") or ros_topic.endswith("/") or "//" in ros_topic or " " in ros_topic:
        raise ValueError(f"not a fully qualified ROS 2 topic name: {ros_topic!r} (expected e.g. '/joint_states')")
    return "rt" + ros_topic


def user_data(ros_type: str) -> bytes:
    """Endpoint USER_DATA as rmw_cyclonedds (Iron+) writes it."""
    return f"typehash={TYPE_HASHES[ros_type]};".encode()


# --- IDL types ---------------------------------------------------------------------


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Duration(IdlStruct, typename="builtin_interfaces::msg::dds_::Duration_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    """``sensor_msgs/msg/JointState``: names, positions (rad), velocities (rad/s), efforts (N*m)."""

    header: Header
    name: sequence[str]
    position: sequence[float64]
    velocity: sequence[float64]
    effort: sequence[float64]


@dataclass
class JointTrajectoryPoint(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectoryPoint_"):
    positions: sequence[float64]
    velocities: sequence[float64]
    accelerations: sequence[float64]
    effort: sequence[float64]
    time_from_start: Duration


@dataclass
class JointTrajectory(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectory_"):
    """``trajectory_msgs/msg/JointTrajectory``: points in ``joint_names`` order, times from ``header.stamp``."""

    header: Header
    joint_names: sequence[str]
    points: sequence[JointTrajectoryPoint]


#: ROS type name -> IDL class.
IDL_TYPES: dict[str, type] = {JOINT_STATE_ROS_TYPE: JointState, JOINT_TRAJECTORY_ROS_TYPE: JointTrajectory}


class RawBytes(bytes):
    """CDR bytes as a raw reader returns them; Cyclone attaches ``sample_info`` (source timestamp...)."""

    sample_info = None


def _raw_type(cls: type) -> type:
    """A twin of ``cls`` (same DDS type name and members, so the same type on the wire) whose
    ``deserialize`` returns the CDR bytes untouched and whose instances serialize to given bytes.

    Readers of this type hand the application the exact bytes that were on the wire (the
    recorder stores them, the validator decodes them, and garbage is counted instead of
    raising inside Cyclone's reader); a writer of this type can put arbitrary bytes on the
    wire, which is how tests inject malformed messages.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    raw = make_idl_struct(
        "Raw" + cls.__name__,
        cls.__idl_typename__,
        {f.name: hints[f.name] for f in fields(cls)},
    )

    def deserialize(_cls, data, has_header=True, use_version_2=None):
        return RawBytes(data)

    def serialize(self, buffer=None, endianness=None, use_version_2=None):
        return self._raw_bytes

    raw.deserialize = classmethod(deserialize)
    raw.serialize = serialize
    return raw


RAW_TYPES: dict[str, type] = {name: _raw_type(cls) for name, cls in IDL_TYPES.items()}


def raw_sample(ros_type: str, data: bytes):
    """An instance of the raw twin of ``ros_type`` that a Cyclone writer sends as exactly ``data``."""
    cls = RAW_TYPES[ros_type]
    obj = cls.__new__(cls)
    obj._raw_bytes = bytes(data)
    return obj


# --- encode ------------------------------------------------------------------------


def stamp_from_ns(t_ns: int) -> Time:
    return Time(sec=int(t_ns // 1_000_000_000), nanosec=int(t_ns % 1_000_000_000))


def stamp_to_ns(t: Time) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def make_joint_state(
    stamp_ns: int,
    position,
    *,
    velocity=None,
    effort=None,
    names: Sequence[str] = C.JOINT_NAMES,
    frame_id: str = C.ROS_FRAME_ID,
) -> JointState:
    """A JointState for ``names`` (default the six SO-101 joints, JOINT_NAMES order).

    position: (n,) radians; velocity: (n,) rad/s or None (sent empty); effort: (n,) N*m or None.
    """

    def seq(v):
        return [] if v is None else [float(x) for x in np.asarray(v, dtype=np.float64).reshape(-1)]

    return JointState(
        header=Header(stamp=stamp_from_ns(stamp_ns), frame_id=frame_id),
        name=list(names),
        position=seq(position),
        velocity=seq(velocity),
        effort=seq(effort),
    )


def encode(msg) -> bytes:
    """CDR bytes (with the 4-byte XCDR1 little-endian header) of an IDL message."""
    return msg.serialize(use_version_2=False)


# --- decode, and what a refusal says --------------------------------------------------------------


#: Characters of sender data a refusal message quotes (a hostile sender must not make a log line
#: megabytes long: :class:`RateLimitedLog` bounds how often, this bounds how much).
QUOTE_CHARS = 200


def quote(values, limit: int = QUOTE_CHARS) -> str:
    """Sender data for a message: ``values`` (a sequence) as a list of reprs, cut to about ``limit``
    characters, the rest counted (``[a, b, ... (N more)]``); one over-long item is cut itself."""
    items = list(values)
    parts, used = [], 0
    for v in items:
        r = repr(v)
        if len(r) > limit:
            r = f"{r[:limit]}... ({len(r) - limit} more characters)"
        if parts and used + len(r) > limit:
            break
        parts.append(r)
        used += len(r) + 2
    rest = len(items) - len(parts)
    return "[" + ", ".join(parts) + (f", ... ({rest} more)" if rest else "") + "]"


class MalformedMessage(ValueError):
    """A message the bridge refuses; ``reason`` is a short counter key. Sender data in ``detail`` goes
    through :func:`quote`."""

    REASONS = (
        "undecodable",
        "wrong_type",
        "length_mismatch",
        "unknown_joint",
        "duplicate_joint",
        "non_finite",
        "empty",
    )

    def __init__(self, reason: str, detail: str):
        assert reason in self.REASONS, reason
        cap = 4 * QUOTE_CHARS  # what escapes quote() (e.g. a parser's message holding a sent string)
        if len(detail) > cap:
            detail = f"{detail[:cap]}... ({len(detail) - cap} more characters)"
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def decode(ros_type: str, data: bytes):
    """CDR bytes -> IDL message; anything that does not parse raises MalformedMessage("undecodable")."""
    cls = IDL_TYPES[ros_type]
    try:
        data = bytes(data)
        if len(data) < 4 or data[0] != 0 or data[1] not in (0, 1):
            # Only plain CDR (XCDR1) BE/LE is what ROS 2 sends; anything else is not ours.
            raise ValueError(f"encapsulation header {data[:4].hex()!r} is not CDR")
        return cls.deserialize(data)
    except MalformedMessage:
        raise
    except Exception as e:  # the CDR machine raises several types on truncated or garbled input
        raise MalformedMessage("undecodable", f"{ros_type} does not parse ({type(e).__name__}: {e})") from None


def make_joint_trajectory(stamp_ns: int, times_s, positions, *, names: Sequence[str] = C.JOINT_NAMES,
                          frame_id: str = C.ROS_FRAME_ID) -> JointTrajectory:
    """times_s: (K,) seconds from the stamp; positions: (K, len(names)) radians."""
    pts = []
    for t, q in zip(times_s, np.asarray(positions, dtype=np.float64)):
        sec = math.floor(t)
        pts.append(JointTrajectoryPoint(positions=[float(x) for x in q], velocities=[], accelerations=[],
                                        effort=[], time_from_start=Duration(sec=int(sec),
                                                                             nanosec=int(round((t - sec) * 1e9)))))
    return JointTrajectory(header=Header(stamp=stamp_from_ns(stamp_ns), frame_id=frame_id),
                           joint_names=list(names), points=pts)
