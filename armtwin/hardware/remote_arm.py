"""A virtual SO-101 arm served by its own process: :class:`RemoteVirtualArm`.

Same surface as :class:`armtwin.hardware.virtual_arm.VirtualArm` (``port``, ``id``,
``calibration_dir``, ``calibration_path``, ``calibration``, ``joint_positions()``), its ``bus``
forwarding the :class:`~armtwin.hardware.feetech.bus.VirtualBus` methods in
``REMOTE_BUS_METHODS`` over a pipe. A separate process keeps replies on time when the caller
imports LeRobot/torch (a full GC pass over that heap takes ~0.7 s on a 2-core machine) or spins
on the port the way ``scservo_sdk`` does: LeRobot gives a servo ~50 ms.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from armtwin.hardware.virtual_arm import VirtualArm, VirtualArmConfig
from armtwin.units import Calibration

#: VirtualBus methods a RemoteVirtualArm's ``bus`` forwards.
REMOTE_BUS_METHODS = frozenset(
    {
        "goal_writes", "goal_write_count", "wait_goal_writes", "clear_goal_writes", "wait_idle", "joint_ticks", "get_counters",
        "torque_enabled", "recent_events", "get_register", "put_register", "corrupt_next", "drop_next", "delay_next",
        "set_fault_rates", "set_error", "clear_faults", "hang_up",
    }
)


def _serve_remote_arm(config: VirtualArmConfig, conn, priority_boost: int = 0) -> None:
    """Child process: run the arm and answer ``(target, method, args, kwargs)`` requests until None."""
    if priority_boost > 0:
        try:  # real servos answer in microseconds whatever the PC is doing; let this one jump the queue
            os.nice(-priority_boost)
        except OSError:  # not permitted: run at normal priority
            pass
    try:
        arm = VirtualArm(config).start()
    except Exception as e:  # noqa: BLE001  reported to the parent
        conn.send((False, e))
        return
    conn.send((True, {"port": arm.port, "calibration_dir": str(arm.calibration_dir),
                      "calibration_path": str(arm.calibration_path), "calibration": arm.calibration.to_dict(),
                      "frame_socket": arm.frame_socket}))
    try:
        while True:
            msg = conn.recv()
            if msg is None:
                break
            target, name, args, kwargs = msg
            try:
                obj = arm if target == "arm" else arm.bus
                conn.send((True, getattr(obj, name)(*args, **kwargs)))
            except Exception as e:  # noqa: BLE001
                conn.send((False, e))
    except EOFError:  # the parent went away
        pass
    finally:
        arm.close()
        conn.close()


class _RemoteBus:
    def __init__(self, owner: "RemoteVirtualArm"):
        self._owner = owner

    def __getattr__(self, name: str):
        if name not in REMOTE_BUS_METHODS:
            raise AttributeError(f"a remote bus forwards only {sorted(REMOTE_BUS_METHODS)}, not {name!r}")
        return lambda *args, **kwargs: self._owner._call("bus", name, *args, **kwargs)


class RemoteVirtualArm:
    """A :class:`VirtualArm` served by its own process, so its replies never wait for this process's
    GIL or garbage collector (LeRobot gives a servo ~50 ms). Same ``port``, ``id``, ``calibration_dir``,
    ``calibration_path``, ``calibration``, ``joint_positions()``; ``bus`` forwards the VirtualBus
    methods in ``REMOTE_BUS_METHODS`` (``bus.get_counters()`` for the counters).

    priority_boost: the serving process lowers its nice value by this much when allowed, so a
    loaded machine does not make the virtual servos miss LeRobot's deadline (0: leave it)."""

    def __init__(self, config: VirtualArmConfig, *, start_timeout_s: float = 60.0, priority_boost: int = 5):
        if not 0 <= priority_boost <= 19:
            raise ValueError(f"priority_boost must be in 0..19 (nice decrement), got {priority_boost}")
        self.priority_boost = priority_boost
        self.config = config
        self.id = config.id
        self.role = config.role
        self.start_timeout_s = start_timeout_s
        self._proc = None
        self._conn = None
        self._lock = threading.Lock()
        self.bus = _RemoteBus(self)

    def start(self) -> "RemoteVirtualArm":
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a fresh interpreter: no threads or locks inherited
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve_remote_arm, args=(self.config, child, self.priority_boost), daemon=True
        )
        self._proc.start()
        child.close()
        if not self._conn.poll(self.start_timeout_s):
            self.close()
            raise TimeoutError(f"virtual {self.role} process did not start within {self.start_timeout_s} s")
        try:
            ok, info = self._conn.recv()
        except EOFError:
            self.close()
            raise RuntimeError(f"virtual {self.role} process exited while starting") from None
        if not ok:
            self.close()
            raise info
        self.port = info["port"]
        self.calibration_dir = Path(info["calibration_dir"])
        self.calibration_path = Path(info["calibration_path"])
        self.calibration = Calibration.from_dict(info["calibration"])
        self.frame_socket = info["frame_socket"]  # twin camera frames (VirtualArmConfig.frame_socket) or None
        return self

    def _call(self, target: str, name: str, *args, **kwargs):
        if self._conn is None:
            raise RuntimeError("remote virtual arm is not running")
        with self._lock:
            self._conn.send((target, name, args, kwargs))
            ok, result = self._conn.recv()
        if not ok:
            raise result
        return result

    def joint_positions(self) -> np.ndarray:
        """(6,) radians: where the virtual arm's joints are (ground truth, not read over the wire)."""
        return self._call("arm", "joint_positions")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def __enter__(self) -> "RemoteVirtualArm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
