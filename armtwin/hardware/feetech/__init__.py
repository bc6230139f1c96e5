"""Feetech STS3215 serial protocol (protocol 0) and a virtual bus of servos on a pseudo-terminal.

Three layers, NumPy and the standard library only, one module each:

* :mod:`.protocol`: constants, the control table and the codec: instruction/status packets,
  checksums, sign-magnitude register encodings (:func:`encode_instruction`, :func:`encode_status`,
  :class:`PacketParser`, :func:`encode_sign_magnitude`);
* :mod:`.servo`: :class:`Servo`, one STS3215's register file (model 777, firmware version,
  EEPROM and RAM registers, Torque_Enable, Lock, homing offset, position limits) on top of a
  physical joint position, and :func:`make_so101_servos`;
* :mod:`.bus`: :class:`VirtualBus`, several servos behind a pseudo-terminal that
  ``scservo_sdk`` and LeRobot's ``FeetechMotorsBus`` drive unmodified, with its wire log,
  counters and fault injection; :class:`Plant` is what moves its joints.

The names below are re-exported for callers that want the whole protocol at hand
(``from armtwin.hardware import feetech as ft``); code inside armtwin imports from the submodules.
"""

from armtwin.hardware.feetech.bus import BusCounters, GoalWrite, Plant, VirtualBus
from armtwin.hardware.feetech.protocol import (
    BROADCAST_ID,
    ERR_ANGLE,
    ERR_OVERCURRENT,
    ERR_OVERHEAT,
    ERR_OVERLOAD,
    ERR_VOLTAGE,
    HEADER,
    INST_ACTION,
    INST_PING,
    INST_READ,
    INST_REG_WRITE,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    INSTRUCTION_NAMES,
    MAX_ID,
    REGISTERS,
    SIGN_BITS,
    Packet,
    PacketParser,
    checksum,
    decode_register,
    decode_sign_magnitude,
    encode_instruction,
    encode_register,
    encode_sign_magnitude,
    encode_status,
)
from armtwin.hardware.feetech.servo import STS3215_FIRMWARE, Servo, make_so101_servos

__all__ = [
    "BROADCAST_ID",
    "ERR_ANGLE",
    "ERR_OVERCURRENT",
    "ERR_OVERHEAT",
    "ERR_OVERLOAD",
    "ERR_VOLTAGE",
    "HEADER",
    "INSTRUCTION_NAMES",
    "INST_ACTION",
    "INST_PING",
    "INST_READ",
    "INST_REG_WRITE",
    "INST_SYNC_READ",
    "INST_SYNC_WRITE",
    "INST_WRITE",
    "MAX_ID",
    "REGISTERS",
    "SIGN_BITS",
    "STS3215_FIRMWARE",
    "BusCounters",
    "GoalWrite",
    "Packet",
    "PacketParser",
    "Plant",
    "Servo",
    "VirtualBus",
    "checksum",
    "decode_register",
    "decode_sign_magnitude",
    "encode_instruction",
    "encode_register",
    "encode_sign_magnitude",
    "encode_status",
    "make_so101_servos",
]
