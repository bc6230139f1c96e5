"""The one place a follower is built: teleop, the ROS 2 bridge and the LeRobot plugin all call
:func:`make_follower`.

Targets (``TARGETS``):

* ``sim``: :class:`armtwin.robots.sim.SimFollower` over an armtwin env; each ``send_action``
  simulates one control period ``1/rate_hz`` (real time when the caller ticks at ``rate_hz``).
* ``real``: :class:`armtwin.robots.real.RealFollower` (LeRobot's ``SO101Follower``) on ``port``,
  with the LeRobot calibration file ``<calibration_dir>/<robot_id>.json`` (default folder:
  :func:`armtwin.robots.calibration.lerobot_calibration_dir`, where LeRobot itself looks).
* ``virtual``: the same RealFollower, LeRobot's driver unmodified, on a virtual Feetech bus
  (:class:`armtwin.hardware.remote_arm.RemoteVirtualArm`, served by its own process) whose servos
  are a NumPy servo model, or the MuJoCo twin of ``env_id`` with ``virtual_sim=True``. The bus
  goes away with the follower's ``disconnect()``.

Every target comes wrapped in :class:`armtwin.robots.safety.SafeFollower` (joint limits, per-step
clamp, watchdog, NaN hold): whatever drives the arm (the teleop loop, a bridge command, LeRobot's
scripts through the plugin), nothing reaches it around the safety layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from armtwin.assets import so101_constants as C
from armtwin.robots.contract import Follower
from armtwin.robots.real import RealFollower, RealFollowerConfig
from armtwin.robots.safety import SafeFollower, SafetyConfig
from armtwin.robots.sim import SimFollower, SimFollowerConfig
from armtwin.units import Calibration, UnitConverter

TARGETS = ("sim", "real", "virtual")


class VirtualFollower(RealFollower):
    """A RealFollower that owns the virtual bus it talks to: ``disconnect()`` also stops the bus
    (even when it never connected). ``arm``: the :class:`armtwin.hardware.remote_arm.RemoteVirtualArm`."""

    def __init__(self, config: RealFollowerConfig, arm):
        super().__init__(config)
        self.arm = arm

    def disconnect(self) -> None:
        try:
            super().disconnect()
        finally:
            self.arm.close()


class BuiltFollower(NamedTuple):
    """What :func:`make_follower` returns; unpacks as ``follower, converter = make_follower(...)``.

    follower: the :class:`SafeFollower` to drive. converter: contract (LeRobot) units <-> radians
    with the follower's calibration. ``device`` is the follower inside the safety layer
    (SimFollower for sim-side access: ``device.env``; RealFollower: ``device.config.calibration_fpath``).
    """

    follower: SafeFollower
    converter: UnitConverter

    @property
    def device(self) -> Follower:
        return self.follower.follower


@dataclass(kw_only=True)
class FollowerOptions:
    """The options of :func:`make_follower`; each applies to the targets named, the others ignore it.

    env_id: armtwin env (sim; virtual with ``virtual_sim``). rate_hz: control rate, Hz (sim: each
        command simulates 1/rate_hz s). image_size: (H, W) camera frames or None (sim).
        cameras: which of ``C.CAMERA_NAMES`` (sim). seed: first reset seed (sim).
        env_kwargs: more ``armtwin.envs.make`` arguments (sim). name: the follower's name (sim).
    use_degrees: LeRobot's body-joint unit (all; None: the arm's LeRobot default,
        ``C.LEROBOT_USE_DEGREES``: degrees for the SO-101, -100..100 for the OMX). calibration: a LeRobot calibration JSON: the
        units the sim speaks, the arm a virtual bus emulates, or the real arm's file (then its
        folder and stem are ``calibration_dir`` and ``robot_id``).
    port: serial device (real). robot_id: LeRobot id, the calibration file's stem (real).
        calibration_dir: folder of ``<robot_id>.json`` (real; default where LeRobot looks).
        restore_calibration: an arm left by an unfinished ``lerobot-calibrate`` gets its file written
        back to its motors instead of being refused (real; ``RealFollowerConfig.restore_calibration``).
    virtual_sim: the virtual bus's servos are the MuJoCo twin of ``env_id`` (virtual).
    real_cameras: ``{camera: LeRobot CameraConfig}`` given to LeRobot's ``SO101FollowerConfig(cameras=...)``
        (real, virtual): :func:`opencv_cameras` for real ones, :func:`twin_cameras` for a virtual arm's twin.
    max_step_rad: the safety layer's per-step clamp, radians per command; watchdog_s: its
        input-age limit, s (all; None: the safety layer's defaults).
    robot: the arm (``armtwin.robots.registry``; real: its LeRobot driver; sim: must be the env's
        arm; None: the env's for sim, the SO-101 otherwise). An arm LeRobot calibrates without a
        person (the OMX) needs no calibration file for real: LeRobot's factory calibration is used.
    """

    env_id: str = "armtwin/SO101-Lift-v0"
    rate_hz: float = 100.0
    image_size: tuple[int, int] | None = None
    cameras: tuple[str, ...] = C.CAMERA_NAMES
    seed: int | None = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    use_degrees: bool | None = None
    calibration: str | Path | None = None
    port: str | None = None
    robot_id: str | None = "armtwin_follower"
    calibration_dir: str | Path | None = None
    virtual_sim: bool = False
    real_cameras: dict[str, Any] = field(default_factory=dict)
    restore_calibration: bool = False
    max_step_rad: float | None = None
    watchdog_s: float | None = None
    robot: str | None = None

    def __post_init__(self):
        if self.robot is not None:
            from armtwin.robots.registry import get

            try:
                get(self.robot)
            except KeyError as e:
                raise ValueError(e.args[0]) from None
        if not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"rate_hz must be a finite number of Hz > 0, got {self.rate_hz!r}")
        if self.calibration is not None and self.calibration_dir is not None:
            raise ValueError("give either calibration (a file) or calibration_dir (with robot_id), not both")
        for k in ("max_step_rad", "watchdog_s"):
            v = getattr(self, k)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be > 0 or None, got {v!r}")


def make_follower(target: str, *, connect: bool = True, **options) -> BuiltFollower:
    """The follower for ``target`` (one of ``TARGETS``) behind the safety layer, and its converter.

    options: the fields of :class:`FollowerOptions`. connect: connect it now (LeRobot's
    ``calibrate=False``: nothing is asked on stdin; a RealFollower still refuses an arm whose
    calibration registers differ from its file); False: the caller connects it (the teleop loop,
    LeRobot's scripts).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown follower target {target!r}; valid targets: {', '.join(TARGETS)}")
    opts = FollowerOptions(**options)
    device, converter = _BUILDERS[target](opts)
    try:
        kw = {}
        if opts.max_step_rad is not None:
            kw["max_step_rad"] = opts.max_step_rad
        if opts.watchdog_s is not None:
            kw["watchdog_timeout_s"] = opts.watchdog_s
        follower = SafeFollower(device, SafetyConfig.for_converter(converter, **kw))
        if connect and not follower.is_connected:
            follower.connect(calibrate=False)
    except BaseException:
        device.disconnect()
        raise
    return BuiltFollower(follower, converter)


def _degrees(opts: FollowerOptions, robot: str) -> bool:
    """The body-joint unit of ``robot``'s contract: ``opts.use_degrees``, or the arm's LeRobot default."""
    from armtwin.assets.models import robot_model

    return robot_model(robot).C.LEROBOT_USE_DEGREES if opts.use_degrees is None else opts.use_degrees


def _sim(opts: FollowerOptions) -> tuple[Follower, UnitConverter]:
    from armtwin.envs import get_task

    env_robot = get_task(opts.env_id).robot
    if opts.robot is not None and opts.robot != env_robot:
        raise ValueError(f"env {opts.env_id!r} simulates the {env_robot!r} arm, not robot {opts.robot!r}; pick an env "
                         f"of that arm")
    kw = {} if opts.name is None else {"name": opts.name}
    sim = SimFollower(SimFollowerConfig(
        env_id=opts.env_id, image_size=opts.image_size, cameras=opts.cameras, ctrl_dt=1.0 / opts.rate_hz,
        calibration=opts.calibration, use_degrees=_degrees(opts, env_robot), seed=opts.seed,
        env_kwargs=dict(opts.env_kwargs), **kw,
    ))
    return sim, sim.converter


def _real(opts: FollowerOptions) -> tuple[Follower, UnitConverter]:
    if not opts.port:
        raise ValueError("target 'real' needs the follower's serial port (e.g. /dev/ttyACM0)")
    robot_id, cal_dir = opts.robot_id, opts.calibration_dir
    if opts.calibration is not None:
        # LeRobot finds <calibration_dir>/<id>.json: point it at the given file.
        cal_dir, robot_id = Path(opts.calibration).parent, Path(opts.calibration).stem
    robot = opts.robot or "so101"
    degrees = _degrees(opts, robot)
    real = RealFollower(RealFollowerConfig(port=opts.port, id=robot_id, calibration_dir=cal_dir, robot=robot,
                                           use_degrees=degrees, cameras=dict(opts.real_cameras),
                                           restore_calibration=opts.restore_calibration))
    # The file LeRobot's driver will read (RealFollowerConfig resolved the folder LeRobot's way).
    path = real.config.calibration_fpath
    if not path.is_file() and real.C.FACTORY_CALIBRATION_RANGE is not None:
        # LeRobot writes its factory calibration on connect (RealFollower.connect): the same numbers
        return real, UnitConverter(Calibration.default(robot), use_degrees=degrees)
    if not path.is_file():
        raise FileNotFoundError(
            f"no LeRobot calibration file for follower id {robot_id!r}: {path} does not exist; calibrate "
            f"the arm with lerobot-calibrate, or pass the id and folder (or the file) of an existing calibration"
        )
    converter = UnitConverter(Calibration.load(path, robot=robot), use_degrees=degrees)
    return real, converter


def _virtual(opts: FollowerOptions) -> tuple[Follower, UnitConverter]:
    from armtwin.hardware.remote_arm import RemoteVirtualArm
    from armtwin.hardware.virtual_arm import VirtualArmConfig

    if opts.robot not in (None, "so101"):
        raise ValueError(f"target 'virtual' serves the SO-101's Feetech bus; for robot {opts.robot!r} start its virtual "
                         f"arm (armtwin virtual-arm --robot {opts.robot}) and use target 'real' with its port")

    # Served from its own process: a reply must never wait for this process's GIL or garbage
    # collector, LeRobot gives a servo ~50 ms.
    arm = RemoteVirtualArm(VirtualArmConfig(role="follower", env_id=opts.env_id if opts.virtual_sim else None,
                                            calibration=opts.calibration)).start()
    try:
        follower = VirtualFollower(
            RealFollowerConfig(port=arm.port, id=arm.id, calibration_dir=arm.calibration_dir,
                               use_degrees=_degrees(opts, "so101"), cameras=dict(opts.real_cameras)),
            arm,
        )
    except BaseException:
        arm.close()
        raise
    return follower, UnitConverter(arm.calibration, use_degrees=_degrees(opts, "so101"))


_BUILDERS = {"sim": _sim, "real": _real, "virtual": _virtual}


def parse_camera_spec(spec: str) -> tuple[str, str, tuple[int, int] | None]:
    """``"NAME=DEVICE[@WxH]"`` (``wrist=/dev/video0``, ``front=2@640x480``) -> (name, device, (H, W) or None)."""
    name, sep, rest = str(spec).partition("=")
    device, _, size = rest.partition("@")
    hw = None
    if size:
        w, x, h = size.lower().partition("x")
        if not (x and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
            raise ValueError(f"bad camera size {size!r} in {spec!r}; expected WxH, e.g. 640x480")
        hw = (int(h), int(w))
    if not sep or not name or not device:
        raise ValueError(f"bad camera {spec!r}; expected NAME=DEVICE[@WxH] with NAME one of "
                         f"{', '.join(C.CAMERA_NAMES)}, e.g. wrist=/dev/video0")
    if name not in C.CAMERA_NAMES:
        raise ValueError(f"unknown camera name {name!r} in {spec!r}; valid names: {', '.join(C.CAMERA_NAMES)}")
    return name, device, hw


def opencv_cameras(specs, *, image_size: tuple[int, int] | None = None, fps: int = 30) -> dict[str, Any]:
    """``{name: OpenCVCameraConfig}`` for ``NAME=DEVICE[@WxH]`` specs (:func:`parse_camera_spec`); a device
    that is all digits is a camera index. Size: the spec's, else ``image_size`` (H, W), else the camera's."""
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="real cameras (--camera, LeRobot's OpenCV camera)")
    from lerobot.cameras.opencv import OpenCVCameraConfig

    out: dict[str, Any] = {}
    for spec in specs:
        name, device, hw = parse_camera_spec(spec)
        if name in out:
            raise ValueError(f"camera {name!r} given twice")
        h, w = hw or image_size or (None, None)
        out[name] = OpenCVCameraConfig(index_or_path=int(device) if device.isdigit() else Path(device),
                                       fps=fps, width=w, height=h)
    return out


def twin_cameras(socket: str | Path, names, *, image_size: tuple[int, int] = (128, 128), fps: int = 30) -> dict[str, Any]:
    """``{name: TwinCameraConfig}``: cameras ``names`` rendered at ``image_size`` (H, W) by the twin of the
    virtual arm serving frames on ``socket`` (``armtwin virtual-arm --role follower --env ID --frame-socket``)."""
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="twin cameras (--twin-cameras, a LeRobot camera config)")
    from armtwin.robots.config_twin_camera import TwinCameraConfig  # imports LeRobot

    h, w = image_size
    return {n: TwinCameraConfig(socket=str(socket), camera=n, width=int(w), height=int(h), fps=int(fps)) for n in names}
