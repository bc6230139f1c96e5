"""``TwinCamera``: a LeRobot ``Camera`` whose frames the virtual follower's MuJoCo twin renders.

With ``armtwin virtual-arm --role follower --env ID --frame-socket PATH`` and cameras
``{name: TwinCameraConfig(socket=PATH, camera=name)}`` in LeRobot's ``SO101FollowerConfig``, the
virtual arm is a complete "real" robot: servos on a pty bus and cameras, through LeRobot's unmodified
``SO101Follower``. Frames come from :class:`armtwin.hardware.frame_server.FrameServer` (``(H, W, 3)``
uint8 RGB of the twin's current state). Imports LeRobot.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from lerobot.cameras.camera import Camera

from armtwin.hardware.frame_server import request_frame
from armtwin.robots.config_twin_camera import TwinCameraConfig


class TwinCamera(Camera):
    """A LeRobot camera reading the twin's ``config.camera`` at ``config.height x config.width``."""

    def __init__(self, config: TwinCameraConfig):
        super().__init__(config)
        self.config = config
        self._conn: socket.socket | None = None
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return f"TwinCamera({self.config.camera} @ {self.config.socket})"

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    @staticmethod
    def find_cameras() -> list[dict[str, Any]]:
        return []  # twin cameras are named by their virtual arm's socket, not discovered

    def connect(self, warmup: bool = True) -> None:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.config.socket)
        except OSError as e:
            conn.close()
            raise ConnectionError(f"{self}: cannot connect to the virtual arm's frame socket ({e}); start "
                                  "armtwin virtual-arm --role follower --env ID --frame-socket PATH") from None
        self._conn = conn
        if warmup:
            self.read()

    def read(self, color_mode=None):
        if self._conn is None:
            raise ConnectionError(f"{self} is not connected")
        with self._lock:
            return request_frame(self._conn, self.config.camera, self.config.height, self.config.width)

    def async_read(self, timeout_ms: float = 200):
        return self.read()  # rendered on request: always the latest state

    def read_latest(self, max_age_ms: int = 500):
        return self.read()

    def disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
