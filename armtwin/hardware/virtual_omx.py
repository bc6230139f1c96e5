"""A virtual ROBOTIS OMX leader or follower: six X-series servos on a virtual Dynamixel bus.

    with VirtualOmxArm(VirtualOmxArmConfig(role="follower")) as arm:
        robot = OmxFollower(OmxFollowerConfig(port=arm.port, id="omx", calibration_dir=tmp))
        robot.connect()   # LeRobot writes the OMX factory calibration itself; nothing is asked

Unlike the SO-101, LeRobot calibrates an OMX without a person (factory values: homing offset 0,
range 0..4095; the leader's gripper reversed with homing offset 100), so the virtual arm writes no
calibration file: its servos power up with factory registers and ``mount_offset`` 0, so a servo's
Present_Position is its joint-frame tick (``omx_constants.TICK_AT_ZERO`` = joint zero).
A follower's joints track goals (:class:`armtwin.hardware.plants.ServoPlant`, the XL430's speed);
a leader's follow a script (a hand moving them), as the SO-101's virtual leader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from armtwin.assets import omx_constants as C
from armtwin.hardware.dynamixel.bus import VirtualBus
from armtwin.hardware.dynamixel.servo import Servo
from armtwin.hardware.plants import ServoPlant
from armtwin.hardware.virtual_arm import Fault

ROLES = ("leader", "follower")
SCRIPTS = ("sine", "hold")
#: XL430-W250 no-load speed at 12 V, 57 rev/min (eManual), in ticks/s.
XL430_MAX_SPEED_TICKS = 57 / 60 * C.TICKS_PER_REV


class _ScriptHand:
    """A leader moved by a hand: joint ticks follow ``f(t)``, goals and torque ignored."""

    def __init__(self, f):
        self.f, self._t0 = f, None

    def reset(self, joint_ticks) -> None:
        self._t0 = None

    def advance(self, goal_ticks, torque_on, now: float) -> np.ndarray:
        self._t0 = now if self._t0 is None else self._t0
        return np.asarray(self.f(now - self._t0), dtype=np.float64)


@dataclass
class VirtualOmxArmConfig:
    """role: "leader" | "follower"; script: leader motion ("sine" | "hold"); initial_q: (6,) radians;
    faults: as for the SO-101's virtual arm (:class:`armtwin.hardware.virtual_arm.Fault`)."""

    role: str = "follower"
    script: str = "sine"
    initial_q: Sequence[float] | None = None
    sine_amplitude_rad: float = 0.4
    sine_period_s: float = 4.0
    faults: tuple = field(default_factory=tuple)
    id: str | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; valid roles: {', '.join(ROLES)}")
        if self.script not in SCRIPTS:
            raise ValueError(f"unknown leader script {self.script!r}; valid scripts: {', '.join(SCRIPTS)}")
        if self.initial_q is not None and np.shape(self.initial_q) != (C.NUM_JOINTS,):
            raise ValueError(f"initial_q must be {C.NUM_JOINTS} radians, got shape {np.shape(self.initial_q)}")
        if self.id is None:
            self.id = f"armtwin_virtual_omx_{self.role}"
        self.faults = tuple(Fault.parse(f) if isinstance(f, str) else f for f in self.faults)


class VirtualOmxArm:
    """A running virtual OMX (context manager): ``port``, ``id``, ``bus``, :meth:`joint_positions`."""

    def __init__(self, config: VirtualOmxArmConfig):
        self.config = config
        self.role = config.role
        self.id = config.id
        self.bus: VirtualBus | None = None

    @property
    def port(self) -> str:
        if self.bus is None:
            raise RuntimeError("virtual arm is not started; use it as a context manager or call start()")
        return self.bus.port

    def start(self) -> "VirtualOmxArm":
        cfg = self.config
        q0 = np.zeros(C.NUM_JOINTS) if cfg.initial_q is None else np.asarray(cfg.initial_q, dtype=float)
        t0 = C.radians_to_ticks(q0)
        servos = [Servo(i, m, joint_ticks=t) for (i, m), t in zip(C.motors(cfg.role).values(), t0)]
        if cfg.role == "follower":
            plant = ServoPlant(max_speed=XL430_MAX_SPEED_TICKS)
        elif cfg.script == "hold":
            plant = _ScriptHand(lambda t: t0)
        else:
            phase = np.arange(C.NUM_JOINTS) * (2 * math.pi / C.NUM_JOINTS)
            amp = cfg.sine_amplitude_rad / C.RAD_PER_TICK
            plant = _ScriptHand(lambda t: t0 + amp * np.sin(2 * math.pi * t / cfg.sine_period_s + phase))
        self.bus = VirtualBus(servos, plant, name=f"omx-{cfg.role}:{cfg.id}").start()
        for fault in cfg.faults:
            fault.apply(self.bus)
        return self

    def close(self) -> None:
        if self.bus is not None:
            self.bus.close()

    def __enter__(self) -> "VirtualOmxArm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def joint_positions(self) -> np.ndarray:
        """(6,) radians: where the virtual arm's joints are (ground truth, not read over the wire)."""
        return C.ticks_to_radians(self.bus.joint_ticks())
