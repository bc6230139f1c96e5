"""Camera frames from the control loop to the page, without the loop ever waiting on the network.

The loop's ``on_tick`` hook calls :meth:`LatestSlot.put` (a reference swap under a lock: no copy, no
encoding); :class:`FrameEncoder`'s own thread takes the newest observation, JPEG-encodes each camera
at its recorded size (Pillow releases the GIL while encoding) and publishes ``{camera: (seq, bytes)}``;
the websocket handlers read :meth:`FrameEncoder.latest` and send what is new. A slow page only
skips frames: nothing queues up.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import numpy as np

from armtwin.timing import RateKeeper


class LatestSlot:
    """One value, overwritten by :meth:`put`; :meth:`take` waits (up to ``timeout`` s) for one newer
    than the last taken and returns ``(seq, value)`` or ``None``."""

    def __init__(self):
        self._cond = threading.Condition()
        self._value: Any = None
        self._seq = 0
        self._taken = 0

    def put(self, value: Any) -> None:
        with self._cond:
            self._value = value
            self._seq += 1
            self._cond.notify_all()

    @property
    def seq(self) -> int:
        return self._seq

    def take(self, timeout: float) -> tuple[int, Any] | None:
        with self._cond:
            if self._seq == self._taken and not self._cond.wait_for(lambda: self._seq != self._taken, timeout):
                return None
            self._taken = self._seq
            return self._seq, self._value


def split_observation(obs: dict[str, Any]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """A follower observation -> (joints ``{"shoulder_pan.pos": float, ...}`` in LeRobot units,
    cameras ``{name: (H, W, 3) uint8}``)."""
    joints, cams = {}, {}
    for k, v in obs.items():
        if isinstance(v, np.ndarray) and v.ndim == 3:
            cams[k] = v
        elif isinstance(v, (int, float, np.floating, np.integer)):
            joints[k] = float(v)
    return joints, cams


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class FrameEncoder:
    """Encodes the newest observation of ``slot`` on its own thread while :meth:`wanted` (a page is open),
    at most ``max_fps`` observations a second (what a page shows; a faster loop's extra frames are skipped).

    ``latest()`` -> ``{camera: (seq, jpeg bytes)}``; ``encoded``: frames encoded per camera (benchmarks).
    ``watch(callback)`` / ``unwatch(callback)``: ``callback()`` is called on the encoder thread after each
    observation's cameras are published (the websocket handlers use it to wake up instead of polling)."""

    def __init__(self, slot: LatestSlot, *, quality: int = 80, max_fps: float = 30.0):
        if not max_fps > 0:
            raise ValueError(f"max_fps must be > 0, got {max_fps!r}")
        self.slot = slot
        self.quality = quality
        # At most one take per period, counted from the last take (restart()), not a fixed schedule: after a
        # slow frame the next one still waits a whole period, so a page never gets a burst to catch up.
        self._rate = RateKeeper(max_fps, spin_s=0.0, due_now=True)
        self.min_interval = self._rate.period
        self.clients = 0
        self.encoded: dict[str, int] = {}
        self._latest: dict[str, tuple[int, bytes]] = {}
        self._watchers: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="armtwin-studio-jpeg", daemon=True)
        self._thread.start()

    def wanted(self) -> bool:
        return self.clients > 0

    def latest(self) -> dict[str, tuple[int, bytes]]:
        with self._lock:
            return dict(self._latest)

    def watch(self, callback) -> None:
        with self._lock:
            self._watchers.append(callback)

    def unwatch(self, callback) -> None:
        with self._lock:
            if callback in self._watchers:
                self._watchers.remove(callback)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.wanted():
                time.sleep(0.05)
                continue
            wait = self._rate.remaining()
            if wait > 0:
                time.sleep(wait)
            got = self.slot.take(timeout=0.2)
            if got is None:
                continue
            self._rate.restart()
            seq, obs = got
            _, cams = split_observation(obs)
            encoded = {name: encode_jpeg(img, self.quality) for name, img in cams.items()}
            with self._lock:
                for name, data in encoded.items():
                    self._latest[name] = (seq, data)
                    self.encoded[name] = self.encoded.get(name, 0) + 1
                watchers = list(self._watchers)
            for callback in watchers:
                callback()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
