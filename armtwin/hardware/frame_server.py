"""Camera frames of a virtual follower's MuJoCo twin, served on a local Unix socket.

The twin (:class:`armtwin.hardware.plants.SimPlant`) lives in the virtual arm's process
(``armtwin virtual-arm --role follower --env ID``); :class:`FrameServer` renders its cameras there, so a
camera driver in another process (:class:`armtwin.robots.twin_camera.TwinCamera`, a LeRobot ``Camera``)
sees what a real camera on the arm would. Protocol, one request per line, one reply each:

* request: ``b"<camera> <height> <width>\\n"`` (camera one of ``C.CAMERA_NAMES``, pixels);
* reply: a 4-byte little-endian length ``n`` then ``n`` bytes: ``height * width * 3`` uint8 RGB, row-major
  ``(H, W, 3)``; ``n == 0`` is followed by a 4-byte length and a UTF-8 error message.

All frames are rendered by one thread (an OpenGL/EGL context belongs to the thread that made it
current; each client connection has its own reading thread). Rendering takes the plant's lock, so a frame never shows a half-stepped physics state; it costs ~1-3 ms
per 128x128 camera here, well inside the ~50 ms LeRobot gives a servo reply on the same process.
The socket file is created owner-only (0600) and removed on close.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from armtwin.assets import so101_constants as C

MAX_SIDE = 2048


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("frame socket closed")
        buf += chunk
    return bytes(buf)


def request_frame(conn: socket.socket, camera: str, height: int, width: int):
    """One frame over a connected socket: ``(height, width, 3) uint8``; RuntimeError with the server's reason."""
    import numpy as np

    conn.sendall(f"{camera} {int(height)} {int(width)}\n".encode())
    (n,) = struct.unpack("<I", _recv_exact(conn, 4))
    if n == 0:
        (m,) = struct.unpack("<I", _recv_exact(conn, 4))
        raise RuntimeError(f"twin camera {camera!r}: {_recv_exact(conn, m).decode(errors='replace')}")
    return np.frombuffer(_recv_exact(conn, n), dtype=np.uint8).reshape(int(height), int(width), 3)


class FrameServer:
    """``FrameServer(plant, path).start()``: renders ``plant.env``'s cameras for clients of ``path``."""

    def __init__(self, plant, path: str | Path):
        self.plant = plant
        self.path = Path(path)
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._render_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="armtwin-render")
        self.frames = 0

    def start(self) -> "FrameServer":
        if self.path.exists():
            raise FileExistsError(f"frame socket {self.path} exists; remove it or choose another path")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # owner-only socket file
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(8)
        self._sock = sock
        t = threading.Thread(target=self._accept, name="armtwin-frames", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), name="armtwin-frames-client", daemon=True)
            t.start()
            self._threads.append(t)

    def _render(self, camera: str, h: int, w: int) -> bytes:
        if camera not in C.CAMERA_NAMES:
            raise ValueError(f"unknown camera {camera!r}; valid cameras: {', '.join(C.CAMERA_NAMES)}")
        if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
            raise ValueError(f"image size {h}x{w} out of range 1..{MAX_SIDE}")
        env = getattr(self.plant.env, "unwrapped", self.plant.env)
        with self.plant.lock:
            img = env.render_images(image_size=(h, w), cameras=(camera,))[camera]
        self.frames += 1
        return img.tobytes()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                try:
                    camera, h, w = line.decode().split()
                    payload = self._render_pool.submit(self._render, camera, int(h), int(w)).result()
                    conn.sendall(struct.pack("<I", len(payload)) + payload)
                except (ValueError, UnicodeDecodeError) as e:
                    msg = str(e).encode()
                    try:
                        conn.sendall(struct.pack("<II", 0, len(msg)) + msg)
                    except OSError:
                        return
                except OSError:
                    return

    def _release(self) -> None:
        # The env's renderers hold EGL contexts of the render thread: free them there, not in env.close()
        env = getattr(self.plant.env, "unwrapped", self.plant.env)
        with self.plant.lock:
            env.close()

    def close(self) -> None:
        self._closed.set()
        try:
            self._render_pool.submit(self._release).result(timeout=10)
        except Exception:  # noqa: BLE001 - closing: the plant's own close runs next either way
            pass
        self._render_pool.shutdown(wait=True, cancel_futures=True)
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
