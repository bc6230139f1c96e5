"""The real SO-101 (and OMX): LeRobot 0.4.4's own ``SO101Follower`` and ``SO101Leader`` behind the device contract.

LeRobot's classes are used unmodified; this module only builds their configs and speaks the device
contract, and exposes :meth:`RealFollower.get_joint_positions` so the safety layer can read the
present position without grabbing camera frames. What keeps a bus transaction honest (bounded retries
around bus reads, connect retries, the calibration-register check, the servo status-error watch) is
:mod:`armtwin.robots.real_bus`. Units are LeRobot's (``C.LEROBOT_MOTOR_KEYS``; body joints degrees when
``use_degrees``, else -100..100; gripper 0..100). LeRobot is imported when a device is built, never at
module import.

Commands sent here are *not* clamped: wrap the follower in
:class:`armtwin.robots.safety.SafeFollower` (``armtwin.robots.factory.make_follower`` does).

Faults. A servo that reports an error in its status reply (overload, overheating, input voltage...)
raises :class:`ServoFault` naming the servo and the error, which stops the follower like a bus error.
After any fault (a failed read, write, a servo error, or any other safety stop, which the safety layer
reports through :meth:`RealFollower.on_safety_stop`), :meth:`RealFollower.disconnect` leaves every
servo as the safety stop left it, torque on, holding its last goal, and only closes the port:
LeRobot's torque-off on disconnect would, with replies lost, release the first servo and leave the
others stiff (see ``docs/safety.md``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, TypeVar

from armtwin.assets import so101_constants as C
from armtwin.robots.calibration import lerobot_calibration_dir
from armtwin.robots.contract import Follower, Leader
from armtwin.robots.real_bus import (  # noqa: F401  BUS_ERRORS and the errors are part of this module's API
    BUS_ERRORS,
    BusDevice,
    CalibrationMismatch,
    ServoFault,
    StatusErrorWatch,
    UnfinishedCalibration,
    unfinished_calibration,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _import_lerobot():
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="a real SO-101 arm (--target real, LeRobot's Feetech driver)")


@dataclass
class _RealArmConfig:
    role: ClassVar[str]  # "follower" | "leader": which LeRobot calibration folder is the default
    port: str
    id: str | None = None
    calibration_dir: str | Path | None = None
    use_degrees: bool = True
    #: the arm (``armtwin.robots.registry``): its LeRobot driver, constants and calibration folder
    robot: str = "so101"
    read_retries: int = 4
    retry_pause_s: float = 0.002
    max_retry_pause_s: float = 0.1
    settle_s: float = 0.02
    connect_retries: int = 2
    require_calibrated: bool = True
    restore_calibration: bool = False

    def __post_init__(self):
        from armtwin.robots.registry import get

        try:
            get(self.robot)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        if not isinstance(self.port, str) or not self.port:
            raise ValueError(f"port must be a serial device path, got {self.port!r}")
        if self.id is not None and (not self.id or "/" in self.id):
            raise ValueError(f"id must be a calibration file name (no '/'), got {self.id!r}")
        if self.read_retries < 0:
            raise ValueError(f"read_retries must be >= 0, got {self.read_retries}")
        if self.connect_retries < 0:
            raise ValueError(f"connect_retries must be >= 0, got {self.connect_retries}")
        if self.retry_pause_s < 0 or self.settle_s < 0:
            raise ValueError(f"retry_pause_s and settle_s must be >= 0, got {self.retry_pause_s}, {self.settle_s}")
        # Resolved here, once, and handed to LeRobot: the file LeRobot's driver reads is the one
        # armtwin loads its unit converter from (``calibration_fpath``).
        if self.calibration_dir is None:
            self.calibration_dir = lerobot_calibration_dir(self.role, self.robot)
        self.calibration_dir = Path(self.calibration_dir)

    @property
    def calibration_fpath(self) -> Path:
        """The LeRobot calibration file of this arm: ``<calibration_dir>/<id>.json`` (LeRobot's name)."""
        return self.calibration_dir / f"{self.id}.json"


@dataclass
class RealFollowerConfig(_RealArmConfig):
    """The real follower arm.

    port: serial device (``/dev/ttyACM0``, or a virtual bus's ``/dev/pts/N``).
    id, calibration_dir: LeRobot's calibration file is ``<calibration_dir>/<id>.json``
        (default dir: ``armtwin.robots.calibration.lerobot_calibration_dir("follower")``, i.e.
        ``$HF_LEROBOT_CALIBRATION/robots/so_follower``, where LeRobot looks).
    cameras: LeRobot ``CameraConfig`` per camera name (``C.CAMERA_NAMES``); none by default.
    max_relative_target: LeRobot's own clamp (LeRobot units), normally None because
        ``SafeFollower`` clamps every command, sim or real, the same way.
    read_retries: extra attempts for a failed bus read; before try i+1 the input buffer is
        flushed after ``min(retry_pause_s * 5**i, max_retry_pause_s)`` seconds (2, 10, 50, 100 ms
        by default: with LeRobot's ~50 ms timeouts a read rides out ~0.4 s of silence), and after a read
        that succeeded only on a retry the input is flushed once more ``settle_s`` later (a late
        reply may have answered it, leaving its own replies to answer the next request).
    connect_retries: extra attempts at LeRobot's whole connect (handshake, configure), whose
        single-try pings and writes fail on one bad packet.
    require_calibrated: after LeRobot's connect, refuse to run (CalibrationMismatch) unless the
        servos' Homing_Offset/Min/Max_Position_Limit equal the calibration file (LeRobot itself
        would carry on with ``calibrate=False`` and report wrong angles).
    restore_calibration: when the arm holds what an unfinished ``lerobot-calibrate`` leaves
        (:func:`unfinished_calibration`), write the file's calibration back to the motors (as LeRobot's
        connect does when one presses ENTER at its prompt) instead of refusing (UnfinishedCalibration).
        Any other mismatch is still refused.
    """

    role: ClassVar[str] = "follower"
    cameras: dict[str, Any] = field(default_factory=dict)
    max_relative_target: float | dict[str, float] | None = None
    disable_torque_on_disconnect: bool = True

    def __post_init__(self):
        super().__post_init__()
        unknown = [c for c in self.cameras if c not in C.CAMERA_NAMES]
        if unknown:
            raise ValueError(f"unknown camera names {unknown}; valid names: {', '.join(C.CAMERA_NAMES)}")


@dataclass
class RealLeaderConfig(_RealArmConfig):
    """The real leader arm (torque off; read only). Calibration default dir:
    ``lerobot_calibration_dir("leader")`` (``$HF_LEROBOT_CALIBRATION/teleoperators/so_leader``)."""

    role: ClassVar[str] = "leader"


class RealFollower(BusDevice, Follower):
    """LeRobot's follower driver of ``config.robot`` (``SO101Follower``; ``OmxFollower`` for the OMX) with the
    contract's methods (connect, get_observation, send_action...).

    ``RealFollower(RealFollowerConfig(port=...))``. An arm LeRobot calibrates without a person (the OMX:
    ``C.FACTORY_CALIBRATION_RANGE``) gets LeRobot's own factory calibration when it has no file yet, even
    with ``calibrate=False``: nothing is asked."""

    name = C.LEROBOT_ROBOT_TYPE  # the SO-101's; an instance takes its robot's

    def __init__(self, config: "RealFollowerConfig"):
        super().__init__(config)
        self.name = self.C.LEROBOT_ROBOT_TYPE
        self._status = StatusErrorWatch()  # installed on the bus at connect

    @property
    def observation_features(self) -> dict[str, Any]:
        cams = {name: (cfg.height, cfg.width, 3) for name, cfg in self.config.cameras.items()}
        return {**{k: float for k in self.C.LEROBOT_MOTOR_KEYS}, **cams}

    @property
    def lerobot_robot(self):
        """The wrapped LeRobot robot (``lerobot.robots.so_follower.SO101Follower``, ...; None before connect)."""
        return self._device

    def connect(self, calibrate: bool = True) -> None:
        _import_lerobot()
        robot_cls = self.spec.resolve("lerobot_follower")
        config_cls = robot_cls.config_class

        cfg = self.config
        if self.C.FACTORY_CALIBRATION_RANGE is not None and not cfg.calibration_fpath.is_file():
            calibrate = True  # LeRobot writes its factory calibration; it asks nothing
        self._connect_with_retries(
            lambda: robot_cls(
                config_cls(
                    port=cfg.port,
                    id=cfg.id,
                    calibration_dir=cfg.calibration_dir,
                    use_degrees=cfg.use_degrees,
                    cameras=dict(cfg.cameras),
                    max_relative_target=cfg.max_relative_target,
                    disable_torque_on_disconnect=cfg.disable_torque_on_disconnect,
                )
            ),
            calibrate,
        )
        self.fault = None
        self._status.install(self._device.bus)

    #: Why the follower faulted (None: it did not); then disconnect leaves every servo holding.
    fault: str | None = None

    def on_safety_stop(self, reason: str) -> None:
        """The safety layer stopped the arm (``Follower.on_safety_stop``): from now on the close leaves
        every servo holding, as after a bus fault."""
        self.fault = self.fault or reason

    def _check_status_errors(self) -> None:
        self._status.raise_if_any(self._device.bus, bus_kind=self.spec.bus, who=f"{self.name} on {self.config.port}",
                                  retries=self.config.read_retries)

    def _guarded(self, fn: Callable[[], T]) -> T:
        try:
            result = fn()
            self._check_status_errors()
            return result
        except Exception as e:
            self.fault = f"{type(e).__name__}: {e}"
            raise

    def get_joint_positions(self) -> dict[str, float]:
        """Present position of every motor, LeRobot units, keyed ``C.LEROBOT_MOTOR_KEYS`` (no camera reads).
        Raises :class:`ServoFault` when a servo's reply carries an error."""
        self._require()
        return self._guarded(self._motor_dict)

    def get_observation(self) -> dict[str, Any]:
        """LeRobot's ``get_observation`` (motors, LeRobot units; cameras (H, W, 3) uint8), retried on bus errors."""
        self._require()
        obs = self._guarded(lambda: self._retry("get_observation", self._device.get_observation))
        return {k: (float(v) if k in self.C.LEROBOT_MOTOR_KEYS else v) for k, v in obs.items()}

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Sync-write goal positions as given (LeRobot units); returns what LeRobot sent."""
        self._require()
        keys = self.C.LEROBOT_MOTOR_KEYS
        missing = [k for k in keys if k not in action]
        if missing:
            raise KeyError(f"action is missing {missing}; expected keys: {', '.join(keys)}")
        sent = self._guarded(lambda: self._device.send_action({k: float(action[k]) for k in keys}))
        return {k: float(v) for k, v in sent.items()}

    def disable_torque(self) -> None:
        """Let go of the arm (it falls under gravity: SafeFollower's "torque_off" stop policy). Every
        servo is written on its own, each with retries, so a lost reply does not leave the rest
        stiff; raises ConnectionError naming the servos that could not be released."""
        self._require()
        self.fault = self.fault or "torque released by the safety layer"
        failed = []
        for motor in self._device.bus.motors:
            try:
                self._device.bus.disable_torque(motor, num_retry=5)
            except Exception as e:  # noqa: BLE001  try every servo, report them all
                failed.append(f"{motor}: {e}")
        if failed:
            raise ConnectionError(f"{self.name}: could not release {len(failed)} servo(s): " + "; ".join(failed))

    def disconnect(self) -> None:
        """Normal close: LeRobot's disconnect (torque off). After a fault: leave every servo as the
        safety stop left it (torque on, holding its last goal) and only close the port."""
        if self._device is None:
            return
        if self.fault is None:
            self._close_device()
            return
        logger.warning("%s: closing after a fault (%s); every servo is left as the safety stop left it, "
                       "torque on, holding its last goal", self.name, self.fault)
        try:
            self._device.bus.port_handler.closePort()
        except Exception:  # noqa: BLE001  the adapter is gone already
            pass
        for cam in self._device.cameras.values():  # LeRobot's Robot subclasses hold their cameras here
            try:
                cam.disconnect()
            except Exception as e:  # noqa: BLE001
                logger.warning("%s: camera disconnect failed (%s)", self.name, e)
        self._device = None


class RealLeader(BusDevice, Leader):
    """LeRobot's leader driver of ``config.robot`` (``SO101Leader``; ``OmxLeader`` for the OMX) with the
    contract's methods (connect, get_action...). LeRobot's OMX leader reports -100..100 only (its config
    has no ``use_degrees``): ``use_degrees=True`` is refused for it. Like the follower, an arm LeRobot
    calibrates without a person gets LeRobot's factory calibration when it has no file yet.

    ``RealLeader(RealLeaderConfig(port=...))``."""

    name = C.LEROBOT_TELEOP_TYPE  # the SO-101's; an instance takes its robot's

    def __init__(self, config: "RealLeaderConfig"):
        super().__init__(config)
        self.name = self.C.LEROBOT_TELEOP_TYPE

    @property
    def lerobot_teleop(self):
        """The wrapped ``lerobot.teleoperators.so_leader.SO101Leader`` (None before connect)."""
        return self._device

    def connect(self, calibrate: bool = True) -> None:
        _import_lerobot()
        import dataclasses

        teleop_cls = self.spec.resolve("lerobot_leader")
        config_cls = teleop_cls.config_class
        cfg = self.config
        kw = {"port": cfg.port, "id": cfg.id, "calibration_dir": cfg.calibration_dir}
        if "use_degrees" in {f.name for f in dataclasses.fields(config_cls)}:
            kw["use_degrees"] = cfg.use_degrees
        elif cfg.use_degrees:
            raise ValueError(f"LeRobot's {teleop_cls.name} reports body joints in -100..100 only; use use_degrees=False")
        if self.C.FACTORY_CALIBRATION_RANGE is not None and not cfg.calibration_fpath.is_file():
            calibrate = True  # LeRobot writes its factory calibration; it asks nothing
        self._connect_with_retries(lambda: teleop_cls(config_cls(**kw)), calibrate)

    def get_action(self) -> dict[str, float]:
        """LeRobot's ``get_action`` (Present_Position, LeRobot units), retried on bus errors."""
        self._require()
        action = self._retry("get_action", self._device.get_action)
        return {k: float(v) for k, v in action.items()}

