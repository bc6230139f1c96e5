"""The bus layer under :mod:`armtwin.robots.real`: what the real follower and leader share around LeRobot's
unmodified drivers. Split from ``real.py`` along its seam: ``real.py`` builds LeRobot's devices and speaks
the device contract; this module keeps a bus transaction honest.

* :class:`BusDevice`: bounded retries around bus reads (a corrupted or late status packet makes LeRobot
  raise ``ConnectionError`` at once, ``num_retry=0``), flushing stale bytes so a late reply does not
  answer the next request; retries of LeRobot's whole connect; the check that the arm's calibration
  registers match its LeRobot calibration file (:class:`CalibrationMismatch`, :class:`UnfinishedCalibration`).
* :class:`StatusErrorWatch`: servo status errors (overload, overheating, input voltage...) arrive in the
  error byte of every status reply, which LeRobot's sync read drops; the watch records them and raises
  :class:`ServoFault` naming the servo and the error. On a Dynamixel bus the byte only says "alert"
  (bit 7); the watch then reads the servo's Hardware_Error_Status (X-series address 70) to name it.

Imports nothing of LeRobot; the devices it wraps are LeRobot's, built by ``real.py``.
"""

from __future__ import annotations

import logging
import termios
import time
from typing import Any, Callable, TypeVar

from armtwin.assets import so101_constants as C

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that mean "this bus transaction failed" (LeRobot: ConnectionError on a timeout or bad
#: checksum; pyserial: SerialException (an OSError) or termios.error when the adapter is unplugged).
BUS_ERRORS = (ConnectionError, OSError, termios.error)


class ServoFault(RuntimeError):
    """A servo reported an error in its status reply (overload, overheating, input voltage...)."""


class CalibrationMismatch(ValueError):
    """The arm's calibration registers and its LeRobot calibration file disagree (or there is no file)."""


class UnfinishedCalibration(CalibrationMismatch):
    """The arm holds the registers a LeRobot calibration leaves when it does not finish (see
    :func:`unfinished_calibration`); its file still holds the arm's last complete calibration."""


def unfinished_calibration(on_arm: dict, in_file: dict) -> bool:
    """Whether the calibration registers ``on_arm`` ({motor: LeRobot ``MotorCalibration``}) are what an
    unfinished ``lerobot-calibrate`` leaves, while ``in_file`` (the id's file) holds a calibration.

    LeRobot's ``calibrate()`` first resets every motor (``reset_calibration``: Homing_Offset 0,
    Min/Max_Position_Limit 0..4095), writes half-turn homing offsets (``set_half_turn_homings``), records
    the ranges while a person moves the joints, and only then writes the ranges and saves the file.
    An attempt that fails or is interrupted in between (e.g. "Some motors have the same min and max
    values" when ENTER comes before the joints moved) leaves every motor at the reset range with new
    homing offsets, and the file untouched: the registers no longer match the id's file. Every motor
    at the full 0..4095 range while the file has a narrower one is that state; a complete calibration
    (of another arm, or another file) never looks like it, because LeRobot writes recorded ranges."""
    full = (0, C.TICKS_PER_REV - 1)
    return bool(on_arm) and all(
        (on_arm[m].range_min, on_arm[m].range_max) == full
        and m in in_file and (in_file[m].range_min, in_file[m].range_max) != full
        for m in on_arm if m != "wrist_roll"  # LeRobot gives wrist_roll the full turn itself
    )


class StatusErrorWatch:
    """The error byte of every status reply LeRobot's sync read takes (it discards it), per servo id.

    ``install(bus)`` wraps the LeRobot bus's ``packet_handler.readRx`` (the SDK call a sync read makes for
    each reply); ``raise_if_any(bus, ...)`` raises :class:`ServoFault` naming every servo that reported an
    error since the last check, and forgets them."""

    def __init__(self):
        self.errors: dict[int, int] = {}

    def install(self, bus) -> None:
        self.errors.clear()
        ph = bus.packet_handler
        read_rx = ph.readRx
        errors = self.errors

        def watched(port, scs_id, length):
            data, result, error = read_rx(port, scs_id, length)
            if error:
                errors[scs_id] = errors.get(scs_id, 0) | int(error)
            return data, result, error

        ph.readRx = watched

    def raise_if_any(self, bus, *, bus_kind: str, who: str, retries: int = 0) -> None:
        """ServoFault ``"<who>: servo <id> (<motor>) reports <errors> (status error 0x..[, Hardware_Error_Status
        0x..])"`` if a reply carried an error. ``bus_kind``: "feetech" | "dynamixel"; ``retries``: extra tries
        at reading a Dynamixel servo's Hardware_Error_Status."""
        if not self.errors:
            return
        names = {m.id: name for name, m in bus.motors.items()}
        parts = []
        for sid, err in sorted(self.errors.items()):
            if bus_kind == "dynamixel":
                from armtwin.hardware.dynamixel.protocol import ERRBIT_ALERT, error_names

                hw = _hardware_error_status(bus, sid, retries) if err & ERRBIT_ALERT else None
                what = ", ".join(error_names(err, hw or 0))
                regs = f"status error 0x{err:02X}" + ("" if hw is None else f", Hardware_Error_Status 0x{hw:02X}")
            else:
                from armtwin.hardware.feetech.protocol import error_names

                what, regs = ", ".join(error_names(err)), f"status error 0x{err:02X}"
            parts.append(f"servo {sid} ({names.get(sid, '?')}) reports {what} ({regs})")
        self.errors.clear()
        raise ServoFault(f"{who}: " + "; ".join(parts))


def _hardware_error_status(bus, servo_id: int, retries: int) -> int | None:
    """A Dynamixel servo's Hardware_Error_Status (X-series control table, 1 byte), read with the SDK's own
    ``read1ByteTxRx`` (LeRobot's ``read`` refuses a reply whose alert bit is set, which this one has);
    None when it cannot be read."""
    from dynamixel_sdk import COMM_SUCCESS  # the SDK LeRobot's Dynamixel bus runs on

    from armtwin.hardware.dynamixel.protocol import REGISTERS

    addr, _ = REGISTERS["Hardware_Error_Status"]
    for _ in range(1 + retries):
        try:
            value, comm, _error = bus.packet_handler.read1ByteTxRx(bus.port_handler, servo_id, addr)
        except BUS_ERRORS:
            continue
        if comm == COMM_SUCCESS:
            return int(value)
    return None


class BusDevice:
    """What the follower and the leader share: the wrapped LeRobot device, retry logic (flush stale
    bytes: a late reply would otherwise answer the next request), action features, disconnect."""

    config: Any  # armtwin.robots.real._RealArmConfig
    _device: Any

    def __init__(self, config):
        from armtwin.robots.registry import get

        self.config = config
        self.spec = get(config.robot)
        self.C = self.spec.constants_module()
        self._device = None
        self.bus_errors = 0

    @property
    def action_features(self) -> dict[str, Any]:
        return {k: float for k in self.C.LEROBOT_MOTOR_KEYS}

    def disconnect(self) -> None:
        if self._device is None:
            return
        self._close_device()

    def _retry(self, what: str, fn: Callable[[], T]) -> T:
        attempts = 1 + self.config.read_retries
        for i in range(attempts):
            try:
                result = fn()
                if i > 0:
                    # A late reply to a failed try may have answered this one; this try's own replies
                    # are then still coming and would answer the *next* request. Let them land, drop them.
                    self._flush(self.config.settle_s)
                return result
            except BUS_ERRORS as e:
                self.bus_errors += 1
                if i == attempts - 1:
                    raise ConnectionError(f"{self.name}: {what} failed after {attempts} tries: {e}") from e
                logger.debug("%s: %s failed (%s), retrying", self.name, what, e)
                self._flush(min(self.config.retry_pause_s * 5**i, self.config.max_retry_pause_s))
        raise AssertionError("unreachable")

    def _flush(self, pause_s: float) -> None:
        # Wait out the rest of a reply burst (or a late reply), then drop it: otherwise it would be
        # taken as the answer to the next request. Backing off rides out short stalls.
        time.sleep(pause_s)
        port = self._device.bus.port_handler
        try:
            port.ser.reset_input_buffer()
        except Exception as e:  # the port itself is gone; the retry will say so
            logger.debug("%s: could not flush the serial input (%s)", self.name, e)
        port.is_using = False

    def _motor_dict(self) -> dict[str, float]:
        values = self._retry("reading Present_Position", lambda: self._device.bus.sync_read("Present_Position"))
        return {f"{m}.pos": float(v) for m, v in values.items()}

    @property
    def is_connected(self) -> bool:
        return self._device is not None and self._device.is_connected

    def _check_calibration(self) -> None:
        dev = self._device
        if not self.config.require_calibrated:
            return
        path = dev.calibration_fpath
        if not dev.calibration:
            self.disconnect()
            raise CalibrationMismatch(
                f"{self.name}: no calibration file {path}; calibrate the arm with LeRobot "
                f"(lerobot-calibrate) or pass the id/calibration_dir of an existing file"
            )
        diffs, missing = self._calibration_diffs()
        if diffs or missing:
            # A status packet names only its servo, not the register it answers: a late reply to an
            # earlier timed-out read (LeRobot's connect does not retry) is taken for this read's answer.
            # A real mismatch survives a second read after the input has settled and been dropped.
            self._flush(max(self.config.settle_s, self.config.max_retry_pause_s))
            diffs, missing = self._calibration_diffs()
        if diffs and not missing and unfinished_calibration(self._on_arm, dev.calibration):
            if self.config.restore_calibration:
                # What LeRobot's own connect does when one presses ENTER at "use provided calibration file".
                logger.warning("%s: the arm on %s holds an unfinished calibration; writing %s (id %s) back to "
                               "its motors", self.name, self.config.port, path, self.config.id)
                self._retry("writing the calibration", lambda: dev.bus.write_calibration(dev.calibration))
                diffs, missing = self._calibration_diffs()
            else:
                self.disconnect()
                raise UnfinishedCalibration(
                    f"{self.name}: the arm on {self.config.port} holds the registers of a LeRobot calibration "
                    f"that did not finish (every range at 0..4095, new homing offsets), so it no longer matches "
                    f"{path} (id {self.config.id!r}), which still holds its last complete calibration. Restore "
                    f"that one with restore_calibration=True (armtwin --restore-calibration; or LeRobot's "
                    f"connect with this id, pressing ENTER at its prompt), or run lerobot-calibrate to the end."
                )
        if diffs or missing:
            self.disconnect()
            raise CalibrationMismatch(
                f"{self.name}: the arm on {self.config.port} does not match {path}: "
                + "; ".join(diffs + [f"{m}: missing in the file" for m in missing])
                + ". Connect with calibrate=True to write the file to the motors, or recalibrate."
            )

    def _calibration_diffs(self) -> tuple[list[str], list[str]]:
        """Calibration registers on the arm vs the file: (differences, motors missing in the file)."""
        dev = self._device
        on_arm = self._on_arm = self._retry("reading calibration registers", dev.bus.read_calibration)
        diffs = [
            f"{m}.{f}: arm {getattr(on_arm[m], f)} != file {getattr(dev.calibration[m], f)}"
            for m in on_arm
            for f in ("homing_offset", "range_min", "range_max")
            if m in dev.calibration and getattr(on_arm[m], f) != getattr(dev.calibration[m], f)
        ]
        return diffs, [m for m in on_arm if m not in dev.calibration]

    def _connect_with_retries(self, make_device, calibrate: bool) -> None:
        attempts = 1 + self.config.connect_retries
        for i in range(attempts):
            self._device = make_device()
            try:
                self._device.connect(calibrate=calibrate)
                break
            except (*BUS_ERRORS, RuntimeError) as e:
                self.bus_errors += 1
                try:
                    self._device.bus.port_handler.closePort()
                except Exception:  # noqa: BLE001  never opened
                    pass
                self._device = None
                if i == attempts - 1:
                    raise
                logger.warning("%s: connect failed (%s), retrying", self.name, str(e).splitlines()[0])
                time.sleep(0.05)
        self._check_calibration()

    def _close_device(self) -> None:
        """LeRobot's disconnect (torque off with retries); if that fails, still close the port."""
        try:
            if self._device.is_connected:
                self._device.disconnect()
        except Exception as e:  # noqa: BLE001  bus gone or servo error bits: closing matters more
            logger.warning("%s: disconnect failed (%s); closing the port", self.name, e)
            try:
                self._device.bus.port_handler.closePort()
            except Exception:  # noqa: BLE001  the adapter is gone already
                pass
        self._device = None

    def _require(self) -> None:
        if not self.is_connected:
            raise ConnectionError(f"{self.name} is not connected; call connect() first")


