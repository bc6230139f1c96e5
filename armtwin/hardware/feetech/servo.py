"""One emulated STS3215: its register file (EEPROM and RAM) over a physical joint position.

Tick frames: the *joint frame* is the calibrated one used by
``armtwin.units`` (tick ``TICK_AT_ZERO`` = joint zero of the sim model); a
servo's encoder reads ``joint + mount_offset`` (mod 4096) and reports
``Present_Position = encoder - Homing_Offset`` (mod 4096), so a servo is
calibrated (present position == joint ticks) exactly when its Homing_Offset
register equals its mount offset, as after LeRobot's half-turn homing.
"""

from __future__ import annotations

from typing import Sequence

from armtwin.assets import so101_constants as C
from armtwin.hardware.feetech.protocol import MAX_ID, REGISTERS, decode_register, encode_register

#: Address ranges a WRITE may change (the rest is read-only: identity, present state).
_WRITABLE = (range(5, 56), range(80, 87))

STS3215_FIRMWARE = (3, 10)


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


def make_so101_servos(*, mount_offsets: Sequence[int] | None = None, joint_ticks: Sequence[float] | None = None):
    """Six STS3215 servos with the SO-101's ids (``C.MOTOR_IDS``), JOINT_NAMES order."""
    n = C.NUM_JOINTS
    offs = list(mount_offsets) if mount_offsets is not None else [0] * n
    pos = list(joint_ticks) if joint_ticks is not None else [C.TICK_AT_ZERO] * n
    if len(offs) != n or len(pos) != n:
        raise ValueError(f"need {n} mount offsets and joint positions, got {len(offs)} and {len(pos)}")
    return [Servo(C.MOTOR_IDS[name], mount_offset=o, joint_ticks=p) for name, o, p in zip(C.JOINT_NAMES, offs, pos)]
