"""Feetech STS3215 serial protocol (protocol 0) and a virtual bus of servos on a pseudo-terminal.

Three layers, NumPy and the standard library only:

* the codec: instruction/status packets, checksums, sign-magnitude register
  encodings (:func:`encode_instruction`, :func:`encode_status`,
  :class:`PacketParser`, :func:`encode_sign_magnitude`);
* :class:`Servo`: one STS3215's register file (model 777, firmware version,
  EEPROM and RAM registers, Torque_Enable, Lock, homing offset, position
  limits) on top of a physical joint position;
* :class:`VirtualBus`: several servos behind a pseudo-terminal, answering
  PING/READ/WRITE/REG_WRITE/ACTION/SYNC_READ/SYNC_WRITE byte for byte as the
  real bus does, so that ``scservo_sdk`` and LeRobot's ``FeetechMotorsBus``
  run against it unmodified. It logs every goal position written (the "wire
  log" tests compare with the commands), counts packets, and injects faults
  (corrupted, dropped or late replies, servo error bits, a hang-up).

Tick frames: the *joint frame* is the calibrated one used by
``armtwin.units`` (tick ``TICK_AT_ZERO`` = joint zero of the sim model); a
servo's encoder reads ``joint + mount_offset`` (mod 4096) and reports
``Present_Position = encoder - Homing_Offset`` (mod 4096), so a servo is
calibrated (present position == joint ticks) exactly when its Homing_Offset
register equals its mount offset, as after LeRobot's half-turn homing.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import select
import struct
import termios
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import numpy as np

from armtwin.assets import so101_constants as C

logger = logging.getLogger(__name__)

# --- protocol constants ------------------------------------------------------

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC

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

#: Address ranges a WRITE may change (the rest is read-only: identity, present state).
_WRITABLE = (range(5, 56), range(80, 87))
_EEPROM_END = 40  # addresses below live in EEPROM

STS3215_FIRMWARE = (3, 10)


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


class PacketParser:
    """Incremental parser of a byte stream into packets.

    Resynchronises on ``FF FF``, drops packets with a bad checksum (counted in
    ``bad_checksums``) and bytes before a header (``skipped_bytes``). A partial
    packet older than ``stale_s`` is abandoned, so a truncated packet cannot
    swallow the next one.
    """

    def __init__(self, *, stale_s: float = 0.05):
        self.buf = bytearray()
        self.bad_checksums = 0
        self.skipped_bytes = 0
        self.stale_s = stale_s
        self._partial_since: float | None = None

    def feed(self, data: bytes, now: float | None = None) -> list[Packet]:
        now = time.monotonic() if now is None else now
        if self._partial_since is not None and self.buf and now - self._partial_since > self.stale_s:
            # Give up on the stale partial packet: drop its header and resync.
            del self.buf[:2]
            self.skipped_bytes += 2
        self.buf += data
        out: list[Packet] = []
        buf = self.buf
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = 1 if buf[-1:] == b"\xff" else 0
                self.skipped_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.skipped_bytes += start
                del buf[:start]
            if len(buf) < 4:
                break
            if buf[2] == 0xFF:  # FF FF FF: the first FF was noise
                del buf[0]
                self.skipped_bytes += 1
                continue
            length = buf[3]
            if length < 2:
                del buf[:2]
                self.skipped_bytes += 2
                continue
            total = length + 4
            if len(buf) < total:
                break
            if checksum(buf[2 : total - 1]) != buf[total - 1]:
                self.bad_checksums += 1
                del buf[:2]
                continue
            out.append(Packet(buf[2], buf[4], bytes(buf[5 : total - 1])))
            del buf[:total]
        self._partial_since = now if buf else None
        return out


# --- servo model -------------------------------------------------------------------


def _default_memory(servo_id: int) -> bytearray:
    """Power-on register values of an STS3215 (factory defaults where LeRobot reads them)."""
    mem = bytearray(256)

    def put(name: str, value: int):
        addr, size = REGISTERS[name]
        mem[addr : addr + size] = encode_register(name, value)

    put("Firmware_Major_Version", STS3215_FIRMWARE[0])
    put("Firmware_Minor_Version", STS3215_FIRMWARE[1])
    put("Model_Number", C.STS3215_MODEL_NUMBER)
    put("ID", servo_id)
    put("Baud_Rate", 0)
    put("Return_Delay_Time", 250)
    put("Response_Status_Level", 1)
    put("Min_Position_Limit", 0)
    put("Max_Position_Limit", C.TICKS_PER_REV - 1)
    put("Max_Temperature_Limit", 70)
    put("Max_Voltage_Limit", 140)
    put("Min_Voltage_Limit", 40)
    put("Max_Torque_Limit", 1000)
    put("Phase", 12)
    put("Unloading_Condition", 44)
    put("LED_Alarm_Condition", 47)
    put("P_Coefficient", 32)
    put("D_Coefficient", 32)
    put("I_Coefficient", 0)
    put("Minimum_Startup_Force", 16)
    put("CW_Dead_Zone", 1)
    put("CCW_Dead_Zone", 1)
    put("Protection_Current", 500)
    put("Angular_Resolution", 1)
    put("Homing_Offset", 0)
    put("Operating_Mode", 0)
    put("Protective_Torque", 20)
    put("Protection_Time", 200)
    put("Overload_Torque", 80)
    put("Torque_Enable", 0)
    put("Acceleration", 0)
    put("Torque_Limit", 1000)
    put("Lock", 1)
    put("Present_Voltage", 120)
    put("Present_Temperature", 30)
    put("Maximum_Acceleration", 0)
    return mem


class Servo:
    """One STS3215: its register file over a physical joint position.

    ``mount_offset``: encoder ticks at joint-frame tick 0 (a property of how the
    horn is mounted, in [-2047, 2047]). The bus owner moves the joint
    (:meth:`set_joint`); the servo turns it into Present_* registers and turns
    Goal_Position writes (clipped to the position limits, shifted by the
    homing offset) into a joint-frame goal (:meth:`joint_goal`).

    Modelled: read-only identity/present registers, torque on/off (a servo
    takes its present position as goal when torque comes on, so it never
    jumps), Min/Max_Position_Limit clipping of goals, Response_Status_Level 0
    (answers PING/READ only), REG_WRITE/ACTION, status error bits. Not
    modelled: Lock (EEPROM writes always take effect, nothing persists),
    Return_Delay_Time and Baud_Rate (bytes are not paced), load and current.
    """

    def __init__(self, servo_id: int, *, mount_offset: int = 0, joint_ticks: float = C.TICK_AT_ZERO):
        if not 0 <= servo_id <= MAX_ID:
            raise ValueError(f"servo id must be in 0..{MAX_ID}, got {servo_id}")
        if abs(mount_offset) > 2047:
            raise ValueError(f"mount_offset must be in -2047..2047, got {mount_offset}")
        self.mem = _default_memory(servo_id)
        self.mount_offset = int(mount_offset)
        self.joint = float(joint_ticks)
        self.velocity = 0.0  # joint ticks / s
        self.error = 0  # status error byte reported with every reply
        self.pending: tuple[int, bytes] | None = None  # REG_WRITE waiting for ACTION
        self._goal_joint = float(joint_ticks)
        self._refresh_present()
        self.put("Goal_Position", self.get("Present_Position"))

    # registers
    def get(self, name: str) -> int:
        addr, size = REGISTERS[name]
        return decode_register(name, self.mem[addr : addr + size])

    def put(self, name: str, value: int) -> None:
        """Set a register directly (bypasses write protection; for the bus owner and tests)."""
        addr, size = REGISTERS[name]
        self.mem[addr : addr + size] = encode_register(name, value)
        if name in ("Goal_Position", "Homing_Offset", "Min_Position_Limit", "Max_Position_Limit"):
            self._update_goal()

    @property
    def id(self) -> int:
        return self.mem[REGISTERS["ID"][0]]

    @property
    def torque_enabled(self) -> bool:
        return self.mem[REGISTERS["Torque_Enable"][0]] != 0

    def read(self, addr: int, length: int) -> bytes:
        self._refresh_present()
        return bytes(self.mem[addr : addr + length]).ljust(length, b"\x00")

    def write(self, addr: int, data: bytes) -> bool:
        """Apply a WRITE; read-only bytes are ignored. Returns True when Goal_Position was written."""
        was_enabled = self.torque_enabled
        goal_addr = REGISTERS["Goal_Position"][0]
        touched_goal = False
        for i, b in enumerate(data):
            a = addr + i
            if a < 256 and any(a in r for r in _WRITABLE):
                self.mem[a] = b
                touched_goal |= a in (goal_addr, goal_addr + 1)
        if self.torque_enabled and not was_enabled:
            # The STS firmware takes the present position as goal when torque comes on,
            # so enabling torque never makes the arm jump.
            self._refresh_present()
            self.put("Goal_Position", self.get("Present_Position"))
        self._update_goal()
        return touched_goal

    # physics
    def set_joint(self, joint_ticks: float, velocity: float = 0.0) -> None:
        self.joint = float(joint_ticks)
        self.velocity = float(velocity)

    def joint_goal(self) -> float:
        """Goal in the joint frame (ticks), or the present joint position when torque is off."""
        return self._goal_joint if self.torque_enabled else self.joint

    def _update_goal(self) -> None:
        goal = self.get("Goal_Position")
        lo, hi = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
        if hi > lo:  # min == max == 0 is multi-turn mode: no clipping
            goal = min(max(goal, lo), hi)
        self._goal_joint = float(goal + self.get("Homing_Offset") - self.mount_offset)

    def _refresh_present(self) -> None:
        encoder = round(self.joint + self.mount_offset) % C.TICKS_PER_REV
        present = (encoder - self.get("Homing_Offset")) % C.TICKS_PER_REV
        vel = int(max(-32767, min(32767, round(self.velocity))))
        moving = 1 if abs(vel) > 2 else 0
        for name, value in (("Present_Position", present), ("Present_Velocity", vel), ("Present_Load", 0)):
            addr, size = REGISTERS[name]
            self.mem[addr : addr + size] = encode_register(name, value)
        self.mem[REGISTERS["Moving"][0]] = moving


# --- plants ---------------------------------------------------------------------------


class Plant(Protocol):
    """What moves a bus's joints. Ticks are joint-frame ticks, (n,) float, bus servo order."""

    def reset(self, joint_ticks: np.ndarray) -> None: ...

    def advance(self, goal_ticks: np.ndarray, torque_on: np.ndarray, now: float) -> np.ndarray:
        """Move to wall time ``now`` (``time.monotonic()`` seconds) under ``goal_ticks``; returns positions."""


# --- virtual bus --------------------------------------------------------------------------


@dataclass
class BusCounters:
    """Traffic and fault counters of a :class:`VirtualBus` (read them via ``bus.counters``)."""

    rx_bytes: int = 0
    rx_packets: int = 0
    bad_checksums: int = 0
    skipped_bytes: int = 0
    tx_packets: int = 0
    corrupted_replies: int = 0
    dropped_replies: int = 0
    delayed_replies: int = 0
    instructions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class GoalWrite:
    """One packet that wrote Goal_Position: ``goals`` maps servo id -> decoded register value (ticks)."""

    t: float
    instruction: str
    goals: dict[int, int]


class VirtualBus:
    """Servos on a pseudo-terminal, served by a background thread.

    ``port`` is the slave side's path (``/dev/pts/N``): hand it to pyserial,
    ``scservo_sdk.PortHandler`` or LeRobot as a serial port. Bytes are not
    paced at the baud rate; replies come as soon as computed (plus any
    injected delay). Use as a context manager or call :meth:`start` /
    :meth:`close`.
    """

    def __init__(self, servos: Sequence[Servo], plant: Plant | None = None, *, name: str = "bus"):
        if len({s.id for s in servos}) != len(servos):
            raise ValueError(f"duplicate servo ids: {[s.id for s in servos]}")
        self.servos = list(servos)
        self.plant = plant
        self.name = name
        self.counters = BusCounters()
        self._goal_log: list[GoalWrite] = []
        self._lock = threading.RLock()
        self._parser = PacketParser()
        self._corrupt = 0
        self._drop = 0
        self._delay_n = 0
        self._delay_s = 0.0
        self._rates = (0.0, 0.0, 0.0, 0.08)
        self._rng = np.random.default_rng(0)
        self._hung_up = False
        self._closed_master = threading.Event()
        self._stop = threading.Event()
        self._busy = False
        self._events: collections.deque = collections.deque(maxlen=256)
        self._thread: threading.Thread | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._last_advance = time.monotonic()
        if plant is not None:
            plant.reset(np.array([s.joint for s in self.servos]))
            self._advance_plant()
            for s in self.servos:  # a servo powers up with its goal at its present position
                s.put("Goal_Position", s.get("Present_Position"))

    # lifecycle
    def start(self) -> "VirtualBus":
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=f"virtual-bus-{self.name}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def __enter__(self) -> "VirtualBus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # observation for tests and owners
    def servo(self, servo_id: int) -> Servo:
        for s in self.servos:
            if s.id == servo_id:
                return s
        raise KeyError(f"no servo with id {servo_id} on {self.name}; ids: {[s.id for s in self.servos]}")

    def goal_writes(self, *, wait: bool = True, start: int = 0) -> list[GoalWrite]:
        """The Goal_Position writes seen on the wire from the ``start``-th on, oldest first (a copy);
        ``wait``: after :meth:`wait_idle`, so a write the client just sent is included."""
        if wait:
            self.wait_idle()
        with self._lock:
            return self._goal_log[start:]

    def goal_write_count(self, *, wait: bool = True) -> int:
        """How many Goal_Position writes were seen (after :meth:`wait_idle` when ``wait``)."""
        if wait:
            self.wait_idle()
        with self._lock:
            return len(self._goal_log)

    def wait_goal_writes(self, count: int, timeout: float = 2.0, *, start: int = 0) -> list[GoalWrite]:
        """Wait until at least ``count`` goal writes were seen (a broadcast write has no reply to wait
        for, and the kernel hands pty bytes over asynchronously); returns them from the ``start``-th
        on. TimeoutError if not."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._goal_log) >= count:
                    return self._goal_log[start:]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {len(self._goal_log)} goal writes after {timeout} s, expected {count}")
            time.sleep(0.0002)

    def clear_goal_writes(self) -> None:
        with self._lock:
            self._goal_log.clear()

    def recent_events(self) -> list[tuple[float, str, str]]:
        """The last 256 ``(time.monotonic(), kind, detail)`` events: packets in, replies out, faults."""
        with self._lock:
            return list(self._events)

    def get_counters(self) -> BusCounters:
        """A copy of :attr:`counters`."""
        with self._lock:
            c = self.counters
            return BusCounters(**{**vars(c), "instructions": dict(c.instructions)})

    def torque_enabled(self) -> list[bool]:
        """Torque_Enable of every servo, bus order."""
        with self._lock:
            return [s.torque_enabled for s in self.servos]

    def get_register(self, servo_id: int, name: str) -> int:
        with self._lock:
            return self.servo(servo_id).get(name)

    def put_register(self, servo_id: int, name: str, value: int) -> None:
        """Set a register of one servo directly (e.g. to fake a wrong id or firmware in a test)."""
        with self._lock:
            self.servo(servo_id).put(name, value)

    def joint_ticks(self) -> np.ndarray:
        """(n,) float, joint-frame ticks of the servos, bus order."""
        with self._lock:
            self._advance_plant()
            return np.array([s.joint for s in self.servos])

    # fault injection
    def corrupt_next(self, n: int = 1) -> None:
        """Flip a byte in each of the next ``n`` replies (the checksum no longer matches)."""
        with self._lock:
            self._corrupt += n

    def drop_next(self, n: int = 1) -> None:
        """Swallow the next ``n`` replies (the client times out). ``math.inf``: go silent."""
        with self._lock:
            self._drop += n

    def delay_next(self, n: int, delay_s: float) -> None:
        """Send each of the next ``n`` replies ``delay_s`` late."""
        with self._lock:
            self._delay_n, self._delay_s = n, float(delay_s)

    def set_fault_rates(
        self,
        *,
        corrupt: float | None = None,
        drop: float | None = None,
        delay: float | None = None,
        delay_s: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Sporadic faults: each reply is corrupted / dropped / sent ``delay_s`` late with these
        probabilities. Arguments left at None keep their current value (all start at 0, delay_s 0.08)."""
        with self._lock:
            cur = dict(zip(("corrupt", "drop", "delay", "delay_s"), self._rates))
            new = {"corrupt": corrupt, "drop": drop, "delay": delay, "delay_s": delay_s}
            cur.update({k: float(v) for k, v in new.items() if v is not None})
            for label in ("corrupt", "drop", "delay"):
                if not 0.0 <= cur[label] <= 1.0:
                    raise ValueError(f"{label} rate must be a probability in [0, 1], got {cur[label]}")
            if cur["delay_s"] < 0:
                raise ValueError(f"delay_s must be >= 0, got {cur['delay_s']}")
            self._rates = (cur["corrupt"], cur["drop"], cur["delay"], cur["delay_s"])
            if seed is not None:
                self._rng = np.random.default_rng(seed)

    def set_error(self, servo_id: int, error_bits: int) -> None:
        """Report ``error_bits`` (e.g. ``ERR_OVERLOAD``) in every status packet of ``servo_id``."""
        with self._lock:
            self.servo(servo_id).error = int(error_bits)

    def clear_faults(self) -> None:
        with self._lock:
            self._corrupt = self._drop = self._delay_n = 0
            self._rates = (0.0, 0.0, 0.0, self._rates[3])
            for s in self.servos:
                s.error = 0

    def hang_up(self, timeout: float = 1.0) -> None:
        """Unplug the adapter: the serving thread closes the master side; the client's next I/O fails."""
        with self._lock:
            self._hung_up = True
        self._closed_master.wait(timeout)

    # serving
    def _serve(self) -> None:
        while not self._stop.is_set():
            if self._hung_up and self._master is not None:
                # Closed here, never from another thread, so no fd number is reused under a select().
                os.close(self._master)
                self._master = None
                self._closed_master.set()
            fd = self._master
            if fd is None:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.01)
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            if not ready:
                with self._lock:
                    self._advance_plant()
                continue
            self._busy = True
            try:
                data = os.read(fd, 4096)
            except OSError:  # client closed its side: wait for it to reopen
                self._busy = False
                time.sleep(0.001)
                continue
            if not data:
                self._busy = False
                continue
            now = time.monotonic()
            with self._lock:
                self.counters.rx_bytes += len(data)
                self._events.append((now, "in", data.hex(" ")))
                packets = self._parser.feed(data, now)
                self.counters.bad_checksums = self._parser.bad_checksums
                self.counters.skipped_bytes = self._parser.skipped_bytes
                replies: list[tuple[bytes, float]] = []
                for p in packets:
                    replies.extend(self._handle(p))
            for reply, delay in replies:
                if delay > 0:
                    time.sleep(delay)
                try:
                    if self._master is not None:
                        os.write(self._master, reply)
                        self._events.append((time.monotonic(), "out", reply.hex(" ")))
                except OSError as e:
                    self._events.append((time.monotonic(), "out-failed", str(e)))
            self._busy = False

    def wait_idle(self, timeout: float = 1.0, quiet_s: float = 0.005) -> bool:
        """Wait until every byte the client has written so far is handled: nothing pending and nothing
        new for ``quiet_s`` (the kernel hands pty bytes over asynchronously). Broadcast writes have no
        reply to wait for; tests call this before looking at the wire log. False on timeout."""
        deadline = time.monotonic() + timeout
        quiet_since, seen = None, -1
        while time.monotonic() < deadline:
            fd = self._master
            if fd is None:
                return True
            try:
                pending = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            except OSError:
                return True
            now = time.monotonic()
            if pending or self._busy or self.counters.rx_bytes != seen:
                seen, quiet_since = self.counters.rx_bytes, now
            elif now - quiet_since >= quiet_s:
                return True
            time.sleep(0.0005)
        return False

    def _advance_plant(self) -> None:
        if self.plant is None:
            return
        goal = np.array([s.joint_goal() for s in self.servos])
        torque = np.array([s.torque_enabled for s in self.servos])
        prev = np.array([s.joint for s in self.servos])
        now = time.monotonic()
        pos = np.asarray(self.plant.advance(goal, torque, now), dtype=np.float64)
        dt = now - self._last_advance
        self._last_advance = now
        vel = (pos - prev) / dt if dt > 1e-4 else np.array([s.velocity for s in self.servos])
        for s, p, v in zip(self.servos, pos, vel):
            s.set_joint(p, v)

    def _handle(self, p: Packet) -> list[tuple[bytes, float]]:
        """Apply one instruction; returns the replies to send (bytes, delay s)."""
        c = self.counters
        c.rx_packets += 1
        name = INSTRUCTION_NAMES.get(p.code, f"0x{p.code:02X}")
        c.instructions[name] = c.instructions.get(name, 0) + 1
        broadcast = p.id == BROADCAST_ID
        targets = self.servos if broadcast else [s for s in self.servos if s.id == p.id]
        out: list[bytes] = []

        if p.code == INST_PING:
            out = [encode_status(s.id, s.error) for s in targets]
        elif p.code == INST_READ and len(p.params) == 2 and not broadcast:
            self._advance_plant()
            addr, n = p.params
            out = [encode_status(s.id, s.error, s.read(addr, n)) for s in targets]
        elif p.code in (INST_WRITE, INST_REG_WRITE) and len(p.params) >= 2:
            addr, data = p.params[0], p.params[1:]
            for s in targets:
                old_id = s.id
                if p.code == INST_WRITE:
                    self._advance_plant()
                    if s.write(addr, data):
                        self._log_goal(name, {old_id: s.get("Goal_Position")})
                else:
                    s.pending = (addr, bytes(data))
                if not broadcast and s.mem[REGISTERS["Response_Status_Level"][0]]:
                    out.append(encode_status(old_id, s.error))  # an ID write answers with the old id
        elif p.code == INST_ACTION:
            self._advance_plant()
            goals = {}
            for s in targets:
                if s.pending is not None:
                    if s.write(*s.pending):
                        goals[s.id] = s.get("Goal_Position")
                    s.pending = None
                if not broadcast and s.mem[REGISTERS["Response_Status_Level"][0]]:
                    out.append(encode_status(s.id, s.error))
            if goals:
                self._log_goal(name, goals)
        elif p.code == INST_SYNC_READ and broadcast and len(p.params) >= 2:
            self._advance_plant()
            addr, n = p.params[0], p.params[1]
            by_id = {s.id: s for s in self.servos}
            out = [encode_status(i, by_id[i].error, by_id[i].read(addr, n)) for i in p.params[2:] if i in by_id]
        elif p.code == INST_SYNC_WRITE and broadcast and len(p.params) >= 2:
            self._advance_plant()
            addr, n = p.params[0], p.params[1]
            body = p.params[2:]
            by_id = {s.id: s for s in self.servos}
            goals = {}
            for k in range(0, len(body) - n, n + 1):
                sid, data = body[k], body[k + 1 : k + 1 + n]
                if sid in by_id and by_id[sid].write(addr, data):
                    goals[sid] = by_id[sid].get("Goal_Position")
            if goals:
                self._log_goal(name, goals)
        return [self._fault(r) for r in out if r is not None and self._keep(r)]

    def _log_goal(self, instruction: str, goals: dict[int, int]) -> None:
        self._goal_log.append(GoalWrite(time.monotonic(), instruction, goals))

    def _keep(self, reply: bytes) -> bool:
        if self._rates[1] and self._rng.random() < self._rates[1]:
            self._drop += 1
        if self._drop > 0:
            self._drop -= 1
            self.counters.dropped_replies += 1
            return False
        if self._hung_up:
            return False
        self.counters.tx_packets += 1
        return True

    def _fault(self, reply: bytes) -> tuple[bytes, float]:
        delay = 0.0
        if self._rates[0] and self._rng.random() < self._rates[0]:
            self._corrupt += 1
        if self._rates[2] and self._rng.random() < self._rates[2]:
            self._delay_n, self._delay_s = self._delay_n + 1, self._rates[3]
        if self._corrupt > 0:
            self._corrupt -= 1
            self.counters.corrupted_replies += 1
            b = bytearray(reply)
            b[-2] ^= 0x5A  # a data (or error) byte: the checksum no longer matches
            reply = bytes(b)
        if self._delay_n > 0:
            self._delay_n -= 1
            self.counters.delayed_replies += 1
            delay = self._delay_s
        return reply, delay


def make_so101_servos(*, mount_offsets: Sequence[int] | None = None, joint_ticks: Sequence[float] | None = None):
    """Six STS3215 servos with the SO-101's ids (``C.MOTOR_IDS``), JOINT_NAMES order."""
    n = C.NUM_JOINTS
    offs = list(mount_offsets) if mount_offsets is not None else [0] * n
    pos = list(joint_ticks) if joint_ticks is not None else [C.TICK_AT_ZERO] * n
    if len(offs) != n or len(pos) != n:
        raise ValueError(f"need {n} mount offsets and joint positions, got {len(offs)} and {len(pos)}")
    return [Servo(C.MOTOR_IDS[name], mount_offset=o, joint_ticks=p) for name, o, p in zip(C.JOINT_NAMES, offs, pos)]


__all__ = [
    "BROADCAST_ID",
    "REGISTERS",
    "SIGN_BITS",
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

