"""Feetech STS/SMS serial protocol 0: constants, control table, packet codec.

The byte-level layer, standard library only: instruction/status packets
(``FF FF id len inst|err params.. ~sum``), checksums, the STS3215 control
table (register name -> address, size) and its sign-magnitude encodings
(:func:`encode_instruction`, :func:`encode_status`, :class:`PacketParser`,
:func:`encode_register`). Both the emulated servos (:mod:`.servo`) and the bus
server (:mod:`.bus`) speak through it; so can a test that plays the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from armtwin.hardware.framing import FramedParser

# --- protocol constants ------------------------------------------------------

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC
#: Longest packet on the wire, header to checksum (the Feetech SDK's TXPACKET_MAX_LEN): a length
#: byte that claims more is not a packet, so it must not make the parser wait for it.
MAX_PACKET_LEN = 250

INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83
INSTRUCTION_NAMES = {
    INST_PING: "PING",
    INST_READ: "READ",
    INST_WRITE: "WRITE",
    INST_REG_WRITE: "REG_WRITE",
    INST_ACTION: "ACTION",
    INST_SYNC_READ: "SYNC_READ",
    INST_SYNC_WRITE: "SYNC_WRITE",
}

#: Status error bits (LeRobot raises RuntimeError on any of them).
ERR_VOLTAGE = 1
ERR_ANGLE = 2
ERR_OVERHEAT = 4
ERR_OVERCURRENT = 8
ERR_OVERLOAD = 32
ERROR_BITS = {ERR_VOLTAGE: "input voltage", ERR_ANGLE: "angle sensor", ERR_OVERHEAT: "overheating",
              ERR_OVERCURRENT: "overcurrent", ERR_OVERLOAD: "overload"}


def error_names(error: int) -> list[str]:
    """A status packet's error byte -> what it reports (``["overload", ...]``; unknown bits as ``bit N``)."""
    return [ERROR_BITS.get(1 << b, f"bit {b}") for b in range(8) if error & (1 << b)]

#: STS/SMS control table, name -> (address, size in bytes), little-endian.
REGISTERS: dict[str, tuple[int, int]] = {
    "Firmware_Major_Version": (0, 1),
    "Firmware_Minor_Version": (1, 1),
    "Model_Number": (3, 2),
    "ID": (5, 1),
    "Baud_Rate": (6, 1),
    "Return_Delay_Time": (7, 1),
    "Response_Status_Level": (8, 1),
    "Min_Position_Limit": (9, 2),
    "Max_Position_Limit": (11, 2),
    "Max_Temperature_Limit": (13, 1),
    "Max_Voltage_Limit": (14, 1),
    "Min_Voltage_Limit": (15, 1),
    "Max_Torque_Limit": (16, 2),
    "Phase": (18, 1),
    "Unloading_Condition": (19, 1),
    "LED_Alarm_Condition": (20, 1),
    "P_Coefficient": (21, 1),
    "D_Coefficient": (22, 1),
    "I_Coefficient": (23, 1),
    "Minimum_Startup_Force": (24, 2),
    "CW_Dead_Zone": (26, 1),
    "CCW_Dead_Zone": (27, 1),
    "Protection_Current": (28, 2),
    "Angular_Resolution": (30, 1),
    "Homing_Offset": (31, 2),
    "Operating_Mode": (33, 1),
    "Protective_Torque": (34, 1),
    "Protection_Time": (35, 1),
    "Overload_Torque": (36, 1),
    "Torque_Enable": (40, 1),
    "Acceleration": (41, 1),
    "Goal_Position": (42, 2),
    "Goal_Time": (44, 2),
    "Goal_Velocity": (46, 2),
    "Torque_Limit": (48, 2),
    "Lock": (55, 1),
    "Present_Position": (56, 2),
    "Present_Velocity": (58, 2),
    "Present_Load": (60, 2),
    "Present_Voltage": (62, 1),
    "Present_Temperature": (63, 1),
    "Status": (65, 1),
    "Moving": (66, 1),
    "Present_Current": (69, 2),
    "Maximum_Acceleration": (85, 1),
}

#: Registers stored sign-magnitude, name -> sign bit.
SIGN_BITS: dict[str, int] = {
    "Homing_Offset": 11,
    "Goal_Position": 15,
    "Goal_Velocity": 15,
    "Present_Position": 15,
    "Present_Velocity": 15,
    "Present_Load": 10,
}


# --- codec ---------------------------------------------------------------------


def checksum(body: Iterable[int]) -> int:
    """Protocol checksum of ``id, len, inst/err, params...``: ``~sum & 0xFF``."""
    return ~sum(body) & 0xFF


def encode_instruction(servo_id: int, instruction: int, params: Sequence[int] = ()) -> bytes:
    """``FF FF id len inst params.. checksum`` with ``len = len(params) + 2``."""
    body = [servo_id, len(params) + 2, instruction, *params]
    if any(not 0 <= b <= 0xFF for b in body):
        raise ValueError(f"packet bytes must be in 0..255, got {body}")
    return HEADER + bytes(body) + bytes([checksum(body)])


def encode_status(servo_id: int, error: int = 0, data: Sequence[int] = ()) -> bytes:
    """``FF FF id len err data.. checksum``: a servo's reply."""
    return encode_instruction(servo_id, error, data)


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """Signed int -> sign-magnitude register value (LeRobot's ``encode_sign_magnitude``)."""
    max_magnitude = (1 << sign_bit) - 1
    magnitude = abs(int(value))
    if magnitude > max_magnitude:
        raise ValueError(f"magnitude {magnitude} exceeds {max_magnitude} (sign bit {sign_bit})")
    return ((1 << sign_bit) | magnitude) if value < 0 else magnitude


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    """Sign-magnitude register value -> signed int."""
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


def encode_register(name: str, value: int) -> bytes:
    """A register's value -> its little-endian bytes (sign-magnitude where the table says so)."""
    _, size = REGISTERS[name]
    raw = encode_sign_magnitude(value, SIGN_BITS[name]) if name in SIGN_BITS else int(value)
    if not 0 <= raw < (1 << (8 * size)):
        raise ValueError(f"{name}: value {value} does not fit in {size} byte(s)")
    return raw.to_bytes(size, "little")


def decode_register(name: str, data: bytes | Sequence[int]) -> int:
    raw = int.from_bytes(bytes(data), "little")
    return decode_sign_magnitude(raw, SIGN_BITS[name]) if name in SIGN_BITS else raw


@dataclass(frozen=True)
class Packet:
    """A parsed packet: ``code`` is the instruction (from a client) or the error byte (from a servo)."""

    id: int
    code: int
    params: bytes

    def to_bytes(self) -> bytes:
        return encode_instruction(self.id, self.code, self.params)


class PacketParser(FramedParser):
    """Incremental parser of a byte stream into packets.

    Resynchronises on ``FF FF``: whatever cannot start a packet (a length byte below 2 or beyond
    :data:`MAX_PACKET_LEN`, a bad checksum) costs one byte, never two, so a real header right behind
    a false one is found. Packets with a bad checksum are counted in ``bad_checksums``, dropped
    bytes in ``skipped_bytes``. Bytes left waiting longer than ``stale_s`` (a truncated packet, or
    noise that looks like a long one) are abandoned whole when new bytes arrive, so nothing sent
    before can swallow a request sent after a pause: after any byte sequence, a valid packet sent
    ``stale_s`` later is parsed (``tests/test_bus_fuzz.py``).
    """

    HEADER = HEADER
    HEAD_LEN = 4

    def _total(self, buf):
        length = buf[3]
        if buf[2] == 0xFF or length < 2 or length + 4 > MAX_PACKET_LEN:
            return None  # FF FF FF: the first FF was noise; a length no packet has: not a header
        return length + 4

    def _checksum_ok(self, buf, total):
        return checksum(buf[2 : total - 1]) == buf[total - 1]

    def _packet(self, buf, total):
        return Packet(buf[2], buf[4], bytes(buf[5 : total - 1]))
