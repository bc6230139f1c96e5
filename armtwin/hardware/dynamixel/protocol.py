"""Dynamixel Protocol 2.0: constants, the X-series control table, packet codec (CRC-16, byte stuffing).

The byte-level layer, standard library only. An instruction packet is
``FF FF FD 00 id len_l len_h inst params.. crc_l crc_h`` and a status packet
``FF FF FD 00 id len_l len_h 55 err params.. crc_l crc_h``, where ``len`` counts
the bytes after it (instruction, parameters, CRC) *after* byte stuffing: inside
the instruction and parameters, every ``FF FF FD`` gets an extra ``FD`` so it
cannot be read as a header. The CRC-16 (polynomial 0x8005, init 0) covers
everything from the header to the last stuffed parameter byte. This mirrors
``dynamixel_sdk.protocol2_packet_handler`` (``addStuffing``, ``updateCRC``)
byte for byte; ``tests/golden/dynamixel_packets.json`` holds the SDK's own bytes.

Register values are little-endian two's complement where the register is
signed (LeRobot's ``X_SERIES_ENCODINGS_TABLE``; Drive_Mode and limits unsigned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from armtwin.hardware.framing import FramedParser

# --- protocol constants ------------------------------------------------------

HEADER = b"\xff\xff\xfd"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC
#: The SDK's RXPACKET_MAX_LEN / TXPACKET_MAX_LEN: a length field that claims more is not a packet.
MAX_PACKET_LEN = 1024

INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_FACTORY_RESET = 0x06
INST_REBOOT = 0x08
INST_CLEAR = 0x10
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83
INST_FAST_SYNC_READ = 0x8A
INST_BULK_READ = 0x92
INST_BULK_WRITE = 0x93
INSTRUCTION_NAMES = {
    INST_PING: "PING",
    INST_READ: "READ",
    INST_WRITE: "WRITE",
    INST_REG_WRITE: "REG_WRITE",
    INST_ACTION: "ACTION",
    INST_FACTORY_RESET: "FACTORY_RESET",
    INST_REBOOT: "REBOOT",
    INST_CLEAR: "CLEAR",
    INST_SYNC_READ: "SYNC_READ",
    INST_SYNC_WRITE: "SYNC_WRITE",
    INST_FAST_SYNC_READ: "FAST_SYNC_READ",
    INST_BULK_READ: "BULK_READ",
    INST_BULK_WRITE: "BULK_WRITE",
}

#: Status error byte, bits 0-6: an error number (eManual "Protocol 2.0", Status Packet / Error).
ERRNUM_RESULT_FAIL = 1
ERRNUM_INSTRUCTION = 2
ERRNUM_CRC = 3
ERRNUM_DATA_RANGE = 4
ERRNUM_DATA_LENGTH = 5
ERRNUM_DATA_LIMIT = 6
ERRNUM_ACCESS = 7
#: Status error byte, bit 7: a hardware error; what it is lives in Hardware_Error_Status (70).
ERRBIT_ALERT = 0x80
ERROR_NUMBERS = {
    ERRNUM_RESULT_FAIL: "result fail",
    ERRNUM_INSTRUCTION: "instruction error",
    ERRNUM_CRC: "CRC error",
    ERRNUM_DATA_RANGE: "data range error",
    ERRNUM_DATA_LENGTH: "data length error",
    ERRNUM_DATA_LIMIT: "data limit error",
    ERRNUM_ACCESS: "access error",
}

#: Hardware_Error_Status (70) bits (X-series eManual).
HW_INPUT_VOLTAGE = 0x01
HW_OVERHEATING = 0x04
HW_MOTOR_ENCODER = 0x08
HW_ELECTRICAL_SHOCK = 0x10
HW_OVERLOAD = 0x20
HARDWARE_ERROR_BITS = {
    HW_INPUT_VOLTAGE: "input voltage",
    HW_OVERHEATING: "overheating",
    HW_MOTOR_ENCODER: "motor encoder",
    HW_ELECTRICAL_SHOCK: "electrical shock",
    HW_OVERLOAD: "overload",
}


def error_names(error: int, hardware_error: int = 0) -> list[str]:
    """A status error byte (and Hardware_Error_Status) -> what they report, e.g. ``["alert", "overload"]``."""
    out = []
    if error & 0x7F:
        out.append(ERROR_NUMBERS.get(error & 0x7F, f"error {error & 0x7F}"))
    if error & ERRBIT_ALERT:
        out.append("alert")
        out += [HARDWARE_ERROR_BITS.get(1 << b, f"bit {b}") for b in range(8) if hardware_error & (1 << b)]
    return out


#: X-series control table (XL430-W250, XL330-M288, XL330-M077 share it), name -> (address, size).
#: The same table as LeRobot's ``lerobot.motors.dynamixel.tables.X_SERIES_CONTROL_TABLE``.
REGISTERS: dict[str, tuple[int, int]] = {
    "Model_Number": (0, 2),
    "Model_Information": (2, 4),
    "Firmware_Version": (6, 1),
    "ID": (7, 1),
    "Baud_Rate": (8, 1),
    "Return_Delay_Time": (9, 1),
    "Drive_Mode": (10, 1),
    "Operating_Mode": (11, 1),
    "Secondary_ID": (12, 1),
    "Protocol_Type": (13, 1),
    "Homing_Offset": (20, 4),
    "Moving_Threshold": (24, 4),
    "Temperature_Limit": (31, 1),
    "Max_Voltage_Limit": (32, 2),
    "Min_Voltage_Limit": (34, 2),
    "PWM_Limit": (36, 2),
    "Current_Limit": (38, 2),
    "Acceleration_Limit": (40, 4),
    "Velocity_Limit": (44, 4),
    "Max_Position_Limit": (48, 4),
    "Min_Position_Limit": (52, 4),
    "Shutdown": (63, 1),
    "Torque_Enable": (64, 1),
    "LED": (65, 1),
    "Status_Return_Level": (68, 1),
    "Registered_Instruction": (69, 1),
    "Hardware_Error_Status": (70, 1),
    "Velocity_I_Gain": (76, 2),
    "Velocity_P_Gain": (78, 2),
    "Position_D_Gain": (80, 2),
    "Position_I_Gain": (82, 2),
    "Position_P_Gain": (84, 2),
    "Feedforward_2nd_Gain": (88, 2),
    "Feedforward_1st_Gain": (90, 2),
    "Bus_Watchdog": (98, 1),
    "Goal_PWM": (100, 2),
    "Goal_Current": (102, 2),
    "Goal_Velocity": (104, 4),
    "Profile_Acceleration": (108, 4),
    "Profile_Velocity": (112, 4),
    "Goal_Position": (116, 4),
    "Realtime_Tick": (120, 2),
    "Moving": (122, 1),
    "Moving_Status": (123, 1),
    "Present_PWM": (124, 2),
    "Present_Current": (126, 2),
    "Present_Velocity": (128, 4),
    "Present_Position": (132, 4),
    "Velocity_Trajectory": (136, 4),
    "Position_Trajectory": (140, 4),
    "Present_Input_Voltage": (144, 2),
    "Present_Temperature": (146, 1),
}
#: One past the last control-table byte (Present_Temperature); reads beyond it are a data range error.
CONTROL_TABLE_END = 147
#: Addresses below this are EEPROM: writable only with torque off (else an access error).
EEPROM_END = 64

#: Two's complement registers (LeRobot's X_SERIES_ENCODINGS_TABLE).
SIGNED = frozenset(
    {"Homing_Offset", "Goal_PWM", "Goal_Current", "Goal_Velocity", "Goal_Position", "Present_Position",
     "Present_PWM", "Present_Current", "Present_Velocity"}
)

# --- codec ---------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | Sequence[int]) -> int:
    """CRC-16/BUYPASS (poly 0x8005, init 0, no reflection): the Protocol 2.0 packet CRC."""
    crc = 0
    for b in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ b) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Insert an ``FD`` after every ``FF FF FD`` in an instruction+params block."""
    out = bytearray()
    for b in body:
        out.append(b)
        if b == 0xFD and out[-3:-1] == b"\xff\xff" and len(out) >= 3:
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    """Undo :func:`stuff`: drop the ``FD`` that follows every ``FF FF FD``."""
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if body[i] == 0xFD and out[-3:-1] == b"\xff\xff" and len(out) >= 3 and i + 1 < len(body) and body[i + 1] == 0xFD:
            i += 1
        i += 1
    return bytes(out)


def _frame(servo_id: int, body: bytes) -> bytes:
    if not 0 <= servo_id <= 0xFF:
        raise ValueError(f"servo id must be in 0..255, got {servo_id}")
    body = stuff(body)
    length = len(body) + 2
    if length + 7 > MAX_PACKET_LEN:
        raise ValueError(f"packet of {length + 7} bytes exceeds {MAX_PACKET_LEN}")
    head = HEADER + bytes([0x00, servo_id, length & 0xFF, length >> 8])
    crc = crc16(head + body)
    return head + body + bytes([crc & 0xFF, crc >> 8])


def encode_instruction(servo_id: int, instruction: int, params: bytes | Sequence[int] = ()) -> bytes:
    """An instruction packet (stuffed, with CRC), as ``dynamixel_sdk`` transmits it."""
    return _frame(servo_id, bytes([instruction, *params]))


def encode_status(servo_id: int, error: int = 0, data: bytes | Sequence[int] = ()) -> bytes:
    """A status packet: ``FF FF FD 00 id len 55 err data.. crc``, a servo's reply."""
    return _frame(servo_id, bytes([INST_STATUS, error, *data]))


def to_unsigned(value: int, size: int) -> int:
    """Signed int -> its two's complement in ``size`` bytes (LeRobot's ``encode_twos_complement``)."""
    lo, hi = -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
    if not lo <= value <= hi:
        raise ValueError(f"value {value} does not fit in {size} signed byte(s) [{lo}, {hi}]")
    return value & ((1 << (8 * size)) - 1)


def to_signed(raw: int, size: int) -> int:
    bits = 8 * size
    return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw


def encode_register(name: str, value: int) -> bytes:
    """A register's value -> its little-endian bytes (two's complement where :data:`SIGNED`)."""
    _, size = REGISTERS[name]
    raw = to_unsigned(int(value), size) if name in SIGNED else int(value)
    if not 0 <= raw < (1 << (8 * size)):
        raise ValueError(f"{name}: value {value} does not fit in {size} unsigned byte(s)")
    return raw.to_bytes(size, "little")


def decode_register(name: str, data: bytes | Sequence[int]) -> int:
    _, size = REGISTERS[name]
    raw = int.from_bytes(bytes(data), "little")
    return to_signed(raw, size) if name in SIGNED else raw


@dataclass(frozen=True)
class Packet:
    """A parsed packet: ``instruction`` (0x55 for a status), ``params`` unstuffed (a status's error
    byte is its first parameter)."""

    id: int
    instruction: int
    params: bytes

    def to_bytes(self) -> bytes:
        return encode_instruction(self.id, self.instruction, self.params)


class PacketParser(FramedParser):
    """Incremental parser of a byte stream into Protocol 2.0 packets.

    Resynchronises on ``FF FF FD 00``: whatever cannot start a packet (reserved byte not 0, a
    length below 3 or beyond :data:`MAX_PACKET_LEN`, a bad CRC) costs one byte, so a real header
    right behind a false one is found. Bad CRCs are counted in ``bad_checksums``, dropped bytes in
    ``skipped_bytes``. Bytes left waiting longer than ``stale_s`` are abandoned whole when new bytes
    arrive, so a truncated packet cannot swallow a request sent after a pause (as the Feetech parser).
    """

    HEADER = HEADER
    HEAD_LEN = 7

    def _total(self, buf):
        length = buf[5] | (buf[6] << 8)
        if buf[3] != 0x00 or length < 3 or length + 7 > MAX_PACKET_LEN:
            return None
        return length + 7

    def _checksum_ok(self, buf, total):
        return crc16(buf[: total - 2]) == buf[total - 2] | (buf[total - 1] << 8)

    def _packet(self, buf, total):
        body = unstuff(bytes(buf[7 : total - 2]))
        return Packet(buf[4], body[0], body[1:])
