"""A virtual SO-101 leader or follower arm: six servos on a virtual Feetech bus, plus its LeRobot calibration.

    with VirtualArm(VirtualArmConfig(role="follower", calibration_dir=tmp)) as arm:
        robot = SO101Follower(SO101FollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
        robot.connect(calibrate=False)   # finds the calibration it expects, asks nothing

The virtual servos are "already calibrated": each one's Homing_Offset and
Min/Max_Position_Limit registers hold the values of the arm's calibration,
and :func:`write_lerobot_calibration` writes the same values to
``<calibration_dir>/<id>.json`` (LeRobot's layout:
``$HF_LEROBOT_CALIBRATION/robots/so_follower`` for a follower,
``$HF_LEROBOT_CALIBRATION/teleoperators/so_leader`` for a leader), so LeRobot's
``is_calibrated`` check (registers 9, 11, 31 vs the file) passes.

:class:`VirtualArm` serves from a thread of the calling process;
:class:`armtwin.hardware.remote_arm.RemoteVirtualArm` (same surface, ``bus``
methods forwarded) from its own process, which keeps replies on time when the
caller imports LeRobot/torch or spins on the port the way ``scservo_sdk`` does.
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.hardware.feetech.bus import VirtualBus
from armtwin.hardware.feetech.servo import make_so101_servos
from armtwin.hardware import plants
from armtwin.units import Calibration, MotorCalibration, radians_to_ticks

ROLES = ("leader", "follower")
#: Encoder ticks at joint zero of each virtual servo (how its horn happens to be mounted);
#: non-zero so a wrong homing offset shows up as a wrong angle.
DEFAULT_MOUNT_OFFSETS: tuple[int, ...] = (37, -122, 205, -58, 411, -297)
SCRIPTS = ("sine", "hold")
FAULT_KINDS = ("corrupt", "drop", "delay", "error", "corrupt-rate", "drop-rate", "delay-rate", "disconnect")


def virtual_calibration(mount_offsets: Sequence[int] = DEFAULT_MOUNT_OFFSETS) -> Calibration:
    """The ideal arm's ranges (``Calibration.default()``) with these homing offsets."""
    base = Calibration.default()
    return Calibration(
        {
            n: MotorCalibration(m.id, m.drive_mode, int(off), m.range_min, m.range_max)
            for (n, m), off in zip(base.motors.items(), mount_offsets)
        }
    )


def write_lerobot_calibration(calibration: Calibration, calibration_dir: str | Path, robot_id: str) -> Path:
    """Write ``<calibration_dir>/<robot_id>.json`` in LeRobot's format (atomically).

    An existing file with different content is an error (it may be a real
    arm's calibration); the same content is left as is.
    """
    path = Path(calibration_dir) / f"{robot_id}.json"
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            existing = None
        if existing == calibration.to_dict():
            return path
        raise FileExistsError(
            f"{path} exists with a different calibration; pass another --id or --calibration-dir "
            f"(or --calibration {path} to emulate that arm)"
        )
    calibration.save(path)
    return path


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")


@dataclass(frozen=True)
class Fault:
    """One fault to inject. ``kind``: corrupt|drop|delay (next ``count`` replies), error (status bits on
    ``servo_id``), corrupt-rate|drop-rate|delay-rate (probability ``rate`` per reply), disconnect (the
    adapter is unplugged: the client's next read or write fails); delays last ``delay_ms``."""

    kind: str
    count: int = 1
    rate: float = 0.0
    delay_ms: float = 80.0
    servo_id: int = 1
    bits: int = 32

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; valid faults: {', '.join(FAULT_KINDS)}")
        if self.count < 0 or not 0.0 <= self.rate <= 1.0 or self.delay_ms < 0:
            raise ValueError(f"bad fault parameters: {self}")

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """``corrupt:N``, ``drop:N``, ``delay:N:MS``, ``error:ID:BITS``, ``corrupt-rate:P``, ``drop-rate:P``,
        ``delay-rate:P:MS``, ``disconnect``."""
        kind, *args = spec.split(":")
        try:
            if kind == "disconnect":
                if args:
                    raise ValueError("disconnect takes no parameters")
                return cls(kind)
            if kind in ("corrupt", "drop"):
                return cls(kind, count=int(args[0]) if args else 1)
            if kind == "delay":
                return cls(kind, count=int(args[0]) if args else 1, delay_ms=float(args[1]) if len(args) > 1 else 80.0)
            if kind == "error":
                return cls(kind, servo_id=int(args[0]), bits=int(args[1]) if len(args) > 1 else 32)
            if kind in ("corrupt-rate", "drop-rate", "delay-rate"):
                return cls(kind, rate=float(args[0]), delay_ms=float(args[1]) if len(args) > 1 else 80.0)
        except (IndexError, ValueError) as e:
            raise ValueError(f"bad fault spec {spec!r} ({e}); see Fault.parse for the forms") from None
        raise ValueError(f"unknown fault {kind!r}; valid faults: {', '.join(FAULT_KINDS)}")

    def apply(self, bus: VirtualBus) -> None:
        if self.kind == "corrupt":
            bus.corrupt_next(self.count)
        elif self.kind == "drop":
            bus.drop_next(self.count)
        elif self.kind == "delay":
            bus.delay_next(self.count, self.delay_ms / 1000.0)
        elif self.kind == "error":
            bus.set_error(self.servo_id, self.bits)
        elif self.kind == "disconnect":
            bus.hang_up()
        elif self.kind == "delay-rate":
            bus.set_fault_rates(delay=self.rate, delay_s=self.delay_ms / 1000.0)
        else:
            bus.set_fault_rates(**{self.kind.removesuffix("-rate"): self.rate})


@dataclass
class VirtualArmConfig:
    """A virtual SO-101 arm.

    role: "leader" (torque off, joints follow ``script``) or "follower" (servos track goals).
    script: leader motion: "sine", "hold", or a path to an HDF5 recording (its first demo's
        ``actions``, radians, replayed at its fps, looped).
    env_id: follower only: drive the MuJoCo twin ``armtwin.envs.make(env_id, image_size=None)``
        (present positions come from the sim); None: a NumPy servo model.
    servo_calibration: follower with ``env_id`` only: the twin's servo model, a calibration file
        (``armtwin twin-gap --fit`` writes one: :class:`armtwin.envs.servo.ServoParams`); None: the
        identified defaults.
    calibration: LeRobot calibration JSON to emulate (e.g. the user's real arm's); None: the ideal
        arm's ranges with ``DEFAULT_MOUNT_OFFSETS`` as homing offsets.
    calibration_dir: where to write the matching ``<id>.json`` for LeRobot; None: a fresh temporary
        directory (removed on close).
    initial_q: (6,) radians, the start pose (follower without env, leader "hold"); default joint zero.
    faults: faults to inject (see :class:`Fault`), ``faults_after_s`` seconds after start (e.g. once
        LeRobot has connected: its connect tries every packet only once).
    frame_socket: follower with ``env_id`` only: serve the twin's camera frames on this Unix socket path
        (:class:`armtwin.hardware.frame_server.FrameServer`; LeRobot reads them through
        :class:`armtwin.robots.twin_camera.TwinCamera`). None: no cameras.
    calibrated: True: the servos hold the calibration in their registers (an arm calibrated
        earlier). False: factory registers (Homing_Offset 0, limits 0..4095), the calibration's
        homing offsets are only where the horns are mounted, as before LeRobot's calibration.
    """

    role: str = "follower"
    script: str = "sine"
    env_id: str | None = None
    servo_calibration: str | Path | None = None
    calibration: str | Path | None = None
    calibration_dir: str | Path | None = None
    id: str | None = None
    initial_q: Sequence[float] | None = None
    sine_amplitude: float = 0.5
    sine_period_s: float = 4.0
    faults: tuple[Fault, ...] = field(default_factory=tuple)
    faults_after_s: float = 0.0
    calibrated: bool = True
    frame_socket: str | Path | None = None

    def __post_init__(self):
        _check_role(self.role)
        if self.id is None:
            self.id = f"armtwin_virtual_{self.role}"
        if not self.id or "/" in self.id:
            raise ValueError(f"id must be a non-empty file name, got {self.id!r}")
        if self.role == "leader":
            if self.script not in SCRIPTS and not Path(self.script).is_file():
                raise ValueError(f"leader script {self.script!r} is neither one of {', '.join(SCRIPTS)} nor a file")
            if self.env_id is not None:
                raise ValueError("env_id is for a follower; a leader's joints follow its script")
        if self.initial_q is not None and np.shape(self.initial_q) != (C.NUM_JOINTS,):
            raise ValueError(f"initial_q must be {C.NUM_JOINTS} radians, got shape {np.shape(self.initial_q)}")
        self.faults = tuple(Fault.parse(f) if isinstance(f, str) else f for f in self.faults)
        if self.servo_calibration is not None:
            if self.role != "follower" or self.env_id is None:
                raise ValueError("servo_calibration needs a follower with env_id: only the MuJoCo twin has a "
                                 "servo model")
            from armtwin.envs.servo import ServoParams

            ServoParams.load(self.servo_calibration)  # a bad file fails here, naming itself, not in the bus thread
        if self.frame_socket is not None and (self.role != "follower" or self.env_id is None):
            raise ValueError("frame_socket needs a follower with env_id: only the MuJoCo twin renders cameras")
        if not self.faults_after_s >= 0:
            raise ValueError(f"faults_after_s must be >= 0, got {self.faults_after_s}")


class VirtualArm:
    """A running virtual arm (context manager). Exposes ``port``, ``id``, ``calibration_dir``,
    ``calibration_path``, ``calibration`` (:class:`armtwin.units.Calibration`) and ``bus``."""

    def __init__(self, config: VirtualArmConfig):
        self.config = config
        self.id = config.id
        self.role = config.role
        self.calibration = (
            Calibration.load(config.calibration) if config.calibration is not None else virtual_calibration()
        )
        self._tmp = None
        if config.calibration_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="armtwin-virtual-calib-")
            self.calibration_dir = Path(self._tmp.name)
        else:
            self.calibration_dir = Path(config.calibration_dir)
        self.calibration_path: Path | None = None
        self.bus: VirtualBus | None = None
        self.plant = None
        self.frames = None  # FrameServer when config.frame_socket
        self.frame_socket = None if config.frame_socket is None else str(config.frame_socket)

    @property
    def port(self) -> str:
        if self.bus is None:
            raise RuntimeError("virtual arm is not started; use it as a context manager or call start()")
        return self.bus.port

    def _make_plant(self):
        cfg = self.config
        if cfg.role == "leader":
            if cfg.script == "sine":
                script = plants.sine_script(amplitude=cfg.sine_amplitude, period_s=cfg.sine_period_s)
            elif cfg.script == "hold":
                q0 = np.zeros(C.NUM_JOINTS) if cfg.initial_q is None else np.asarray(cfg.initial_q, dtype=float)
                script = lambda t: q0  # noqa: E731
            else:
                actions, fps = plants.load_hdf5_actions(cfg.script)
                script = plants.trajectory_script(actions, fps=fps)
            return plants.ScriptPlant(script)
        if cfg.env_id is not None:
            return plants.SimPlant.from_env_id(cfg.env_id, servo_calibration=cfg.servo_calibration)
        return plants.ServoPlant()

    def start(self) -> "VirtualArm":
        try:
            return self._start()
        except BaseException:
            self.close()  # a plant (MuJoCo env), a pty or a temporary directory may already exist
            raise

    def _start(self) -> "VirtualArm":
        cal = self.calibration
        offsets = [cal.motors[n].homing_offset for n in C.JOINT_NAMES]
        q0 = np.zeros(C.NUM_JOINTS) if self.config.initial_q is None else np.asarray(self.config.initial_q, float)
        servos = make_so101_servos(mount_offsets=offsets, joint_ticks=radians_to_ticks(q0))
        for s, n in zip(servos, C.JOINT_NAMES):  # calibrated earlier: the values live in EEPROM
            if not self.config.calibrated:
                break
            m = cal.motors[n]
            s.put("Homing_Offset", m.homing_offset)
            s.put("Min_Position_Limit", m.range_min)
            s.put("Max_Position_Limit", m.range_max)
            s.put("Goal_Position", s.get("Present_Position"))
        self.plant = self._make_plant()
        self.calibration_path = write_lerobot_calibration(cal, self.calibration_dir, self.id)
        hand = None
        if self.role == "follower":  # lerobot-calibrate asks a person to move the joints: the sweep does
            a, b = radians_to_ticks(C.lower_limits()), radians_to_ticks(C.upper_limits())
            hand = plants.HandSweep(np.minimum(a, b), np.maximum(a, b))
        self.bus = VirtualBus(servos, self.plant, name=f"{self.role}:{self.id}", hand=hand).start()
        if self.frame_socket is not None:
            from armtwin.hardware.frame_server import FrameServer

            self.frames = FrameServer(self.plant, self.frame_socket).start()
        self._fault_timer = None
        if self.config.faults_after_s > 0:
            self._fault_timer = threading.Timer(self.config.faults_after_s, self._apply_faults)
            self._fault_timer.daemon = True
            self._fault_timer.start()
        else:
            self._apply_faults()
        return self

    def _apply_faults(self) -> None:
        for fault in self.config.faults:
            fault.apply(self.bus)

    def close(self) -> None:
        if getattr(self, "_fault_timer", None) is not None:
            self._fault_timer.cancel()
        if getattr(self, "frames", None) is not None:
            self.frames.close()
            self.frames = None
        if self.bus is not None:
            self.bus.close()
        if hasattr(self.plant, "close"):
            self.plant.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "VirtualArm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def joint_positions(self) -> np.ndarray:
        """(6,) radians: where the virtual arm's joints are (ground truth, not read over the wire)."""
        from armtwin.units import ticks_to_radians

        return ticks_to_radians(self.bus.joint_ticks())
