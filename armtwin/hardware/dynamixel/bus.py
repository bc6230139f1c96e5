"""A virtual bus of Dynamixel X-series servos on a pseudo-terminal (Protocol 2.0).

:class:`VirtualBus` answers PING, READ, WRITE, REG_WRITE, ACTION, SYNC_READ, SYNC_WRITE,
BULK_READ and BULK_WRITE byte for byte as a real bus does, so that ``dynamixel_sdk`` and
LeRobot's ``DynamixelMotorsBus`` (``OmxFollower``, ``OmxLeader``) run against it unmodified.

The pty server, the wire log of goal writes, the counters and the fault injection (corrupted,
dropped, late replies, a hang-up) are the Feetech bus's (:class:`armtwin.hardware.feetech.bus.VirtualBus`):
they do not depend on the protocol, so this class inherits them and replaces only the packet
parser, the instruction dispatch and what a servo "error" is (here Hardware_Error_Status plus the
status packet's alert bit). A corrupted reply has its CRC's low byte flipped.
"""

from __future__ import annotations

from typing import Sequence

from armtwin.hardware.dynamixel.protocol import (
    BROADCAST_ID,
    ERRNUM_DATA_LENGTH,
    ERRNUM_INSTRUCTION,
    INST_ACTION,
    INST_BULK_READ,
    INST_BULK_WRITE,
    INST_PING,
    INST_READ,
    INST_REG_WRITE,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    INSTRUCTION_NAMES,
    Packet,
    PacketParser,
    encode_status,
)
from armtwin.hardware.dynamixel.servo import Servo
from armtwin.hardware.feetech.bus import BusCounters, GoalWrite, Plant
from armtwin.hardware.feetech.bus import VirtualBus as _PtyBus

__all__ = ["BusCounters", "GoalWrite", "Plant", "VirtualBus"]

_READS = (INST_PING, INST_READ, INST_SYNC_READ, INST_BULK_READ)


def _u16(b: bytes, i: int) -> int:
    return b[i] | (b[i + 1] << 8)


class VirtualBus(_PtyBus):
    """X-series servos on a pseudo-terminal, served by a background thread (see the Feetech bus
    for the lifecycle, the wire log and the fault injection; ``set_error`` here sets a servo's
    Hardware_Error_Status bits, e.g. ``protocol.HW_OVERLOAD``)."""

    def __init__(self, servos: Sequence[Servo], plant: Plant | None = None, *, name: str = "dxl-bus"):
        super().__init__(servos, plant, name=name)
        self._parser = PacketParser()

    def set_error(self, servo_id: int, error_bits: int) -> None:
        with self._lock:
            self.servo(servo_id).set_hardware_error(int(error_bits))

    def clear_faults(self) -> None:
        with self._lock:
            self._corrupt = self._drop = self._delay_n = 0
            self._rates = (0.0, 0.0, 0.0, self._rates[3])
            for s in self.servos:
                s.set_hardware_error(0)

    def _reply(self, s: Servo, instruction: int, errnum: int = 0, data: bytes = b"") -> bytes | None:
        """A status packet from ``s``, or None where its Status_Return_Level says to keep quiet."""
        level = s.status_return_level()
        if level == 0 and instruction != INST_PING:
            return None
        if level == 1 and instruction not in _READS:
            return None
        return encode_status(s.id, s.error | errnum, data)

    def _handle(self, p: Packet) -> list[tuple[bytes, float]]:
        """Apply one instruction; returns the replies to send (bytes, delay s)."""
        c = self.counters
        c.rx_packets += 1
        inst, prm = p.instruction, p.params
        name = INSTRUCTION_NAMES.get(inst, f"0x{inst:02X}")
        c.instructions[name] = c.instructions.get(name, 0) + 1
        broadcast = p.id == BROADCAST_ID
        by_id = {s.id: s for s in self.servos}
        targets = self.servos if broadcast else [s for s in self.servos if s.id == p.id]
        out: list[bytes | None] = []

        if inst == INST_PING:
            for s in targets:
                model = s.get("Model_Number")
                out.append(self._reply(s, inst, 0, bytes([model & 0xFF, model >> 8, s.get("Firmware_Version")])))
        elif inst == INST_READ and not broadcast:
            for s in targets:
                if len(prm) != 4:
                    out.append(self._reply(s, inst, ERRNUM_DATA_LENGTH))
                    continue
                self._advance_plant()
                err, data = s.read(_u16(prm, 0), _u16(prm, 2))
                out.append(self._reply(s, inst, err, data))
        elif inst in (INST_WRITE, INST_REG_WRITE):
            for s in targets:
                if len(prm) < 3:
                    out.append(None if broadcast else self._reply(s, inst, ERRNUM_DATA_LENGTH))
                    continue
                addr, data = _u16(prm, 0), bytes(prm[2:])
                old_id = s.id
                if inst == INST_WRITE:
                    self._advance_plant()
                    err, goal = s.write(addr, data)
                    if goal:
                        self._log_goal(name, {old_id: s.get("Goal_Position")})
                else:
                    err = s.check_write(addr, data)
                    if not err:
                        s.pending = (addr, data)
                        s.mem[69] = 1  # Registered_Instruction
                if not broadcast:
                    status = self._reply(s, inst, err)
                    # An ID write answers from the old id.
                    out.append(encode_status(old_id, s.error | err) if status is not None and old_id != s.id else status)
        elif inst == INST_ACTION:
            self._advance_plant()
            goals = {}
            for s in targets:
                if s.pending is not None:
                    _, goal = s.write(*s.pending)
                    if goal:
                        goals[s.id] = s.get("Goal_Position")
                    s.pending = None
                    s.mem[69] = 0
                if not broadcast:
                    out.append(self._reply(s, inst))
            if goals:
                self._log_goal(name, goals)
        elif inst == INST_SYNC_READ and broadcast and len(prm) >= 4:
            self._advance_plant()
            addr, n = _u16(prm, 0), _u16(prm, 2)
            for i in prm[4:]:
                if i in by_id:
                    err, data = by_id[i].read(addr, n)
                    out.append(self._reply(by_id[i], inst, err, data))
        elif inst == INST_SYNC_WRITE and broadcast and len(prm) >= 4:
            self._advance_plant()
            addr, n = _u16(prm, 0), _u16(prm, 2)
            body = prm[4:]
            goals = {}
            for k in range(0, len(body) - n, n + 1):
                sid, data = body[k], bytes(body[k + 1 : k + 1 + n])
                if sid in by_id:
                    err, goal = by_id[sid].write(addr, data)
                    if goal:
                        goals[sid] = by_id[sid].get("Goal_Position")
            if goals:
                self._log_goal(name, goals)
        elif inst == INST_BULK_READ and broadcast:
            self._advance_plant()
            for k in range(0, len(prm) - 4, 5):
                sid, addr, n = prm[k], _u16(prm, k + 1), _u16(prm, k + 3)
                if sid in by_id:
                    err, data = by_id[sid].read(addr, n)
                    out.append(self._reply(by_id[sid], inst, err, data))
        elif inst == INST_BULK_WRITE and broadcast:
            self._advance_plant()
            goals = {}
            k = 0
            while k + 5 <= len(prm):
                sid, addr, n = prm[k], _u16(prm, k + 1), _u16(prm, k + 3)
                data = bytes(prm[k + 5 : k + 5 + n])
                k += 5 + n
                if sid in by_id and len(data) == n:
                    err, goal = by_id[sid].write(addr, data)
                    if goal:
                        goals[sid] = by_id[sid].get("Goal_Position")
            if goals:
                self._log_goal(name, goals)
        elif not broadcast:
            # An instruction this bus does not serve (REBOOT, FACTORY_RESET, CLEAR, FAST_SYNC_READ
            # unicast, ...): the servo says so rather than going silent.
            out = [self._reply(s, INST_READ, ERRNUM_INSTRUCTION) for s in targets]
        return [self._fault(r) for r in out if r is not None and self._keep(r)]
