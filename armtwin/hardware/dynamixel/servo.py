"""One emulated Dynamixel X-series servo (XL430-W250, XL330-M288, XL330-M077): its control table
over a physical joint position.

Tick frames (as for the Feetech servos): the *joint frame* is the calibrated one the robot's
constants module defines (tick ``tick_at_zero`` = joint zero of the sim model). A servo's
*actual position* is ``joint + mount_offset`` (multi-turn ticks); it reports
``Present_Position = actual + Homing_Offset`` (the Dynamixel sign, opposite to Feetech's), with
``actual`` mirrored to ``4095 - actual`` in reverse Drive_Mode, and wrapped to 0..4095 in
Position mode (3) only. So a servo is calibrated (present position == joint ticks) when its
Homing_Offset is ``-mount_offset`` and its Drive_Mode is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from armtwin.hardware.dynamixel.protocol import (
    CONTROL_TABLE_END,
    EEPROM_END,
    ERRNUM_ACCESS,
    ERRNUM_DATA_RANGE,
    MAX_ID,
    REGISTERS,
    decode_register,
    encode_register,
)

TICKS_PER_REV = 4096
#: Operating modes (register 11).
MODE_CURRENT, MODE_VELOCITY, MODE_POSITION, MODE_EXTENDED, MODE_CURRENT_POSITION, MODE_PWM = 0, 1, 3, 4, 5, 16
#: Modes in which Goal_Position drives the joint.
POSITION_MODES = (MODE_POSITION, MODE_EXTENDED, MODE_CURRENT_POSITION)


@dataclass(frozen=True)
class ServoModel:
    """What differs between X-series models: model number (eManual control table, address 0),
    the operating modes the firmware accepts (LeRobot's ``MODEL_OPERATING_MODES``), a firmware version."""

    name: str
    model_number: int
    operating_modes: tuple[int, ...]
    firmware: int = 52


#: eManual: XL430-W250 model number 1060, XL330-M288 1200, XL330-M077 1190 (= LeRobot's MODEL_NUMBER_TABLE).
MODELS = {
    "xl430-w250": ServoModel("xl430-w250", 1060, (1, 3, 4, 16)),
    "xl330-m288": ServoModel("xl330-m288", 1200, (0, 1, 3, 4, 5, 16)),
    "xl330-m077": ServoModel("xl330-m077", 1190, (0, 1, 3, 4, 5, 16)),
}

#: Read-only addresses: identity (0-6), Registered_Instruction/Hardware_Error_Status (69-70),
#: Realtime_Tick and all present state (120-146).
_READ_ONLY = set(range(0, 7)) | {69, 70} | set(range(120, CONTROL_TABLE_END))


def _default_memory(servo_id: int, model: ServoModel) -> bytearray:
    """Power-on control table (eManual factory defaults where LeRobot reads them)."""
    mem = bytearray(CONTROL_TABLE_END)
    defaults = {
        "Model_Number": model.model_number,
        "Firmware_Version": model.firmware,
        "ID": servo_id,
        "Baud_Rate": 3,  # 1 Mbps, how ROBOTIS ships the OMX (LeRobot's default baud rate)
        "Return_Delay_Time": 250,
        "Drive_Mode": 0,
        "Operating_Mode": MODE_POSITION,
        "Protocol_Type": 2,
        "Homing_Offset": 0,
        "Moving_Threshold": 10,
        "Temperature_Limit": 72 if model.name == "xl430-w250" else 70,
        "Max_Voltage_Limit": 140 if model.name == "xl430-w250" else 70,
        "Min_Voltage_Limit": 60 if model.name == "xl430-w250" else 35,
        "PWM_Limit": 885,
        "Current_Limit": 0 if model.name == "xl430-w250" else 1750,
        "Acceleration_Limit": 32767,
        "Velocity_Limit": 265 if model.name == "xl430-w250" else 445,
        "Max_Position_Limit": TICKS_PER_REV - 1,
        "Min_Position_Limit": 0,
        "Shutdown": 52,  # overheating | electrical shock | overload
        "Status_Return_Level": 2,
        "Velocity_I_Gain": 1000,
        "Velocity_P_Gain": 100,
        "Position_D_Gain": 0,
        "Position_I_Gain": 0,
        "Position_P_Gain": 640 if model.name == "xl430-w250" else 400,
        "Bus_Watchdog": 0,
        "Goal_PWM": 885,
        "Present_Input_Voltage": 120 if model.name == "xl430-w250" else 50,
        "Present_Temperature": 30,
    }
    for name, value in defaults.items():
        addr, size = REGISTERS[name]
        mem[addr : addr + size] = encode_register(name, value)
    return mem


class Servo:
    """One X-series servo: its control table over a physical joint position (joint-frame ticks).

    ``mount_offset``: actual-position ticks at joint-frame tick 0. The bus owner moves the joint
    (:meth:`set_joint`); the servo turns it into Present_* registers and turns Goal_Position writes
    into a joint-frame goal (:meth:`joint_goal`).

    Modelled: read-only registers (access error), EEPROM (addresses < 64) writable only with torque
    off (access error otherwise, as the firmware), operating modes per model (data range error for
    one the model lacks), Drive_Mode reverse, Homing_Offset, Min/Max_Position_Limit clipping of goals
    in Position mode only, torque on takes the present position as goal, Status_Return_Level,
    REG_WRITE/ACTION, Hardware_Error_Status with the alert bit (a hardware error in ``Shutdown``
    turns torque off and keeps it off). Not modelled: Return_Delay_Time and Baud_Rate (bytes are not
    paced), current/PWM/velocity control (their goals are stored, the joint holds), profiles.
    """

    def __init__(self, servo_id: int, model: str, *, mount_offset: int = 0, joint_ticks: float = 2048.0):
        if not 0 <= servo_id <= MAX_ID:
            raise ValueError(f"servo id must be in 0..{MAX_ID}, got {servo_id}")
        if model not in MODELS:
            raise ValueError(f"unknown Dynamixel model {model!r}; valid models: {', '.join(MODELS)}")
        self.model = MODELS[model]
        self.mem = _default_memory(servo_id, self.model)
        self.mount_offset = int(mount_offset)
        self.joint = float(joint_ticks)
        self.velocity = 0.0  # joint ticks / s
        self.pending: tuple[int, bytes] | None = None  # REG_WRITE waiting for ACTION
        self._goal_joint = float(joint_ticks)
        self._refresh_present()
        self.put("Goal_Position", self.get("Present_Position"))

    # registers
    def get(self, name: str) -> int:
        addr, size = REGISTERS[name]
        return decode_register(name, self.mem[addr : addr + size])

    def put(self, name: str, value: int) -> None:
        """Set a register directly (no access checks; for the bus owner and tests)."""
        addr, size = REGISTERS[name]
        self.mem[addr : addr + size] = encode_register(name, value)
        self._update_goal()

    @property
    def id(self) -> int:
        return self.mem[REGISTERS["ID"][0]]

    @property
    def torque_enabled(self) -> bool:
        return self.mem[REGISTERS["Torque_Enable"][0]] != 0

    @property
    def error(self) -> int:
        """The status error byte's alert bit (0x80) when Hardware_Error_Status is non-zero."""
        return 0x80 if self.mem[REGISTERS["Hardware_Error_Status"][0]] else 0

    def set_hardware_error(self, bits: int) -> None:
        """Raise Hardware_Error_Status bits (e.g. ``HW_OVERLOAD``); those in Shutdown turn torque off."""
        self.mem[REGISTERS["Hardware_Error_Status"][0]] = int(bits) & 0xFF
        if bits & self.get("Shutdown"):
            self.mem[REGISTERS["Torque_Enable"][0]] = 0

    def status_return_level(self) -> int:
        return self.mem[REGISTERS["Status_Return_Level"][0]]

    def read(self, addr: int, length: int) -> tuple[int, bytes]:
        """A READ: ``(error number, data)``; beyond the control table is a data range error."""
        if addr + length > CONTROL_TABLE_END or length == 0:
            return ERRNUM_DATA_RANGE, b""
        self._refresh_present()
        return 0, bytes(self.mem[addr : addr + length])

    def check_write(self, addr: int, data: bytes) -> int:
        """The error number a WRITE of ``data`` at ``addr`` would get (0: accepted)."""
        end = addr + len(data)
        if not data or end > CONTROL_TABLE_END:
            return ERRNUM_DATA_RANGE
        if any(a in _READ_ONLY for a in range(addr, end)):
            return ERRNUM_ACCESS
        if addr < EEPROM_END and self.torque_enabled:
            return ERRNUM_ACCESS
        mode_addr = REGISTERS["Operating_Mode"][0]
        if addr <= mode_addr < end and data[mode_addr - addr] not in self.model.operating_modes:
            return ERRNUM_DATA_RANGE
        return 0

    def write(self, addr: int, data: bytes) -> tuple[int, bool]:
        """Apply a WRITE: ``(error number, whether Goal_Position was written)``; nothing changes on error."""
        err = self.check_write(addr, data)
        if err:
            return err, False
        was_enabled = self.torque_enabled
        self.mem[addr : addr + len(data)] = data
        torque_addr = REGISTERS["Torque_Enable"][0]
        if self.torque_enabled and self.get("Hardware_Error_Status") & self.get("Shutdown"):
            self.mem[torque_addr] = 0  # shut down: torque stays off until a reboot
        if self.torque_enabled and not was_enabled:
            # Torque on takes the present position as goal, so the arm does not jump.
            self._refresh_present()
            g_addr, g_size = REGISTERS["Goal_Position"]
            self.mem[g_addr : g_addr + g_size] = encode_register("Goal_Position", self.get("Present_Position"))
        self._update_goal()
        g_addr, g_size = REGISTERS["Goal_Position"]
        return 0, addr < g_addr + g_size and g_addr < addr + len(data)

    # physics
    def set_joint(self, joint_ticks: float, velocity: float = 0.0) -> None:
        self.joint = float(joint_ticks)
        self.velocity = float(velocity)

    def joint_goal(self) -> float:
        """Goal in the joint frame (ticks); the present joint when torque is off or not in a position mode."""
        if not self.torque_enabled or self.get("Operating_Mode") not in POSITION_MODES:
            return self.joint
        return self._goal_joint

    def _reversed(self) -> bool:
        return bool(self.mem[REGISTERS["Drive_Mode"][0]] & 1)

    def _update_goal(self) -> None:
        goal = self.get("Goal_Position")
        if self.get("Operating_Mode") == MODE_POSITION:
            goal = min(max(goal, self.get("Min_Position_Limit")), self.get("Max_Position_Limit"))
        actual = goal - self.get("Homing_Offset")
        if self._reversed():
            actual = TICKS_PER_REV - 1 - actual
        self._goal_joint = float(actual - self.mount_offset)

    def _refresh_present(self) -> None:
        actual = round(self.joint + self.mount_offset)
        if self._reversed():
            actual = TICKS_PER_REV - 1 - actual
        present = actual + self.get("Homing_Offset")
        if self.get("Operating_Mode") == MODE_POSITION:
            present %= TICKS_PER_REV
        # Present_Velocity is in units of 0.229 rev/min (eManual); joint velocity is ticks/s.
        vel_units = round(self.velocity * 60.0 / TICKS_PER_REV / 0.229)
        if self._reversed():
            vel_units = -vel_units
        for name, value in (("Present_Position", present), ("Present_Velocity", vel_units)):
            addr, size = REGISTERS[name]
            self.mem[addr : addr + size] = encode_register(name, value)
        self.mem[REGISTERS["Moving"][0]] = 1 if abs(vel_units) > self.get("Moving_Threshold") else 0
