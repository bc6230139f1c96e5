"""``TwinCameraConfig``: LeRobot camera config ``type: armtwin_twin``, a camera rendered by a virtual arm's twin.

Registered with LeRobot's ``CameraConfig`` registry on import (this module imports LeRobot). LeRobot's
``make_cameras_from_configs`` finds the device class :class:`armtwin.robots.twin_camera.TwinCamera` from
this module's name (``config_twin_camera`` -> ``twin_camera``), as for any third-party camera.
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.cameras.configs import CameraConfig

from armtwin.assets import so101_constants as C


@CameraConfig.register_subclass("armtwin_twin")
@dataclass
class TwinCameraConfig(CameraConfig):
    """socket: the virtual arm's frame socket (``armtwin virtual-arm ... --frame-socket PATH``). camera: one of
    ``C.CAMERA_NAMES`` (the twin's camera). width, height: pixels (default 128). fps: nominal rate (30)."""

    socket: str = ""
    camera: str = "wrist"

    def __post_init__(self):
        if not self.socket:
            raise ValueError("TwinCameraConfig needs socket: the virtual arm's frame socket path")
        if self.camera not in C.CAMERA_NAMES:
            raise ValueError(f"unknown twin camera {self.camera!r}; valid cameras: {', '.join(C.CAMERA_NAMES)}")
        self.width = int(self.width or 128)
        self.height = int(self.height or 128)
        self.fps = int(self.fps or 30)
