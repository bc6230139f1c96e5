"""Builds the follower a bridge command talks to, behind the one device contract.

* ``sim``: :class:`armtwin.robots.sim.SimFollower` over an armtwin env (no cameras; the
  control period is the bridge's tick so the sim runs in real time).
* ``real``: :class:`armtwin.robots.real.RealFollower` (LeRobot's SO101Follower) on ``port``.
* ``virtual``: the same RealFollower, LeRobot's driver unmodified, on a virtual Feetech bus
  (:class:`armtwin.hardware.remote_arm.RemoteVirtualArm`, served by its own process) whose servos are a NumPy servo model,
  or the MuJoCo twin when ``env_id`` is given with ``virtual_sim=True``.

Every source comes wrapped in :class:`armtwin.robots.safety.SafeFollower` (limits, per-step clamp,
watchdog, NaN hold), like teleop's follower: whichever bridge command moves the arm (``command``,
``publish --motion sine``, ``mirror``), nothing reaches it around the safety layer.

Returns ``(follower, converter)``; the converter (``armtwin.units.UnitConverter``) speaks
the follower's LeRobot units <-> radians with the follower's calibration.
"""

from __future__ import annotations

import math
from pathlib import Path

from armtwin.assets import so101_constants as C

from armtwin.units import Calibration, UnitConverter


class _OwnsVirtualArm:
    """A follower that also owns the virtual bus it talks to (closed on disconnect)."""

    def __init__(self, follower, arm):
        self._follower = follower
        self._arm = arm

    def __getattr__(self, name):
        return getattr(self._follower, name)

    def disconnect(self) -> None:
        try:
            self._follower.disconnect()
        finally:
            self._arm.close()


def make_follower(source: str, *, env_id: str = "armtwin/SO101-Lift-v0", rate_hz: float = 100.0,
                  port: str | None = None, calibration: str | None = None, robot_id: str = "armtwin_follower",
                  max_step_rad: float | None = None, watchdog_s: float | None = None,
                  virtual_sim: bool = False):
    """Connected ``SafeFollower`` for ``source`` in ("sim", "real", "virtual") and its UnitConverter.

    max_step_rad: the safety layer's per-step clamp (radians per command); watchdog_s: its input-age
    limit (s); None: the safety layer's defaults.
    """
    if source == "sim":
        from armtwin.robots.sim import SimFollower, SimFollowerConfig

        ctrl_dt = 1.0 / rate_hz
        # The physics step must divide the control period: the largest one <= the default that does.
        sim_dt = ctrl_dt / math.ceil(ctrl_dt / C.SIM_DT - 1e-9)
        follower = SimFollower(SimFollowerConfig(env_id=env_id, image_size=None, ctrl_dt=ctrl_dt,
                                                 calibration=calibration, env_kwargs={"sim_dt": sim_dt}))
        follower.connect()
        converter = follower.converter
    elif source == "real":
        from armtwin.robots.real import RealFollower, RealFollowerConfig

        if not port:
            raise ValueError("source 'real' needs the follower's serial port")
        cal_dir = None
        if calibration is not None:
            # LeRobot finds <calibration_dir>/<id>.json: point it at the given file.
            cal_dir, robot_id = str(Path(calibration).parent), Path(calibration).stem
        follower = RealFollower(RealFollowerConfig(port=port, id=robot_id, calibration_dir=cal_dir))
        follower.connect(calibrate=False)
        try:
            converter = UnitConverter(Calibration.load(_calibration_file(follower)), use_degrees=True)
        except BaseException:
            follower.disconnect()
            raise
    elif source == "virtual":
        from armtwin.hardware.remote_arm import RemoteVirtualArm
        from armtwin.hardware.virtual_arm import VirtualArmConfig
        from armtwin.robots.real import RealFollower, RealFollowerConfig

        # Served from its own process: a reply must never wait for this process's GIL or garbage
        # collector, LeRobot gives a servo ~50 ms.
        arm = RemoteVirtualArm(VirtualArmConfig(role="follower", env_id=env_id if virtual_sim else None,
                                          calibration=calibration)).start()
        try:
            real = RealFollower(RealFollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir))
            real.connect(calibrate=False)
        except BaseException:
            arm.close()
            raise
        follower = _OwnsVirtualArm(real, arm)
        converter = UnitConverter(arm.calibration, use_degrees=True)
    else:
        raise ValueError(f"unknown follower source {source!r}; valid: sim, real, virtual")
    from armtwin.robots.safety import SafeFollower, SafetyConfig

    kw = {}
    if max_step_rad is not None:
        kw["max_step_rad"] = max_step_rad
    if watchdog_s is not None:
        kw["watchdog_timeout_s"] = watchdog_s
    try:
        safety = SafetyConfig.for_converter(converter, **kw)
    except BaseException:
        follower.disconnect()
        raise
    return SafeFollower(follower, safety), converter


def _calibration_file(follower) -> Path:
    dev = follower.lerobot_robot
    return Path(dev.calibration_fpath)
