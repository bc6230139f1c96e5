"""A virtual bus of STS3215 servos on a pseudo-terminal, served by a background thread.

:class:`VirtualBus` answers PING/READ/WRITE/REG_WRITE/ACTION/SYNC_READ/SYNC_WRITE
byte for byte as the real bus does, so that ``scservo_sdk`` and LeRobot's
``FeetechMotorsBus`` run against it unmodified. It logs every goal position
written (the "wire log" tests compare with the commands), counts packets, and
injects faults (corrupted, dropped or late replies, servo error bits, a
hang-up). A :class:`Plant` moves the servos' joints between packets.

Size: one module over 400 lines because the pty server loop, the instruction dispatch and
the fault injection share one lock and one reply path (every reply goes through
``_keep`` then ``_fault``, in the order the seeded fault RNG is drawn), so
splitting them would spread one piece of state over several files.
"""

from __future__ import annotations

import collections
import fcntl
import os
import select
import struct
import termios
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from armtwin.hardware.feetech.protocol import (
    BROADCAST_ID,
    INST_ACTION,
    INST_PING,
    INST_READ,
    INST_REG_WRITE,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    INSTRUCTION_NAMES,
    REGISTERS,
    Packet,
    PacketParser,
    encode_status,
)
from armtwin.hardware.feetech.servo import Servo



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

    def __init__(self, servos: Sequence[Servo], plant: Plant | None = None, *, name: str = "bus", hand=None):
        if len({s.id for s in servos}) != len(servos):
            raise ValueError(f"duplicate servo ids: {[s.id for s in servos]}")
        self.servos = list(servos)
        self.plant = plant
        #: ``override(servos, now) -> joint ticks | None`` (``armtwin.hardware.plants.HandSweep``): someone
        #: moving the arm by hand, which wins over the plant while it returns positions.
        self.hand = hand
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
        if self.hand is not None:
            by_hand = self.hand.override(self.servos, now)
            if by_hand is not None:
                pos = np.asarray(by_hand, dtype=np.float64)
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

