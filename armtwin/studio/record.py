"""The record page's teleop session: the same ``ControlLoop`` and ``Recorder`` as ``armtwin teleop``.

:class:`RecordController` builds the session with ``armtwin.teleop.factory.build_session`` from a
:class:`~armtwin.teleop.factory.TeleopConfig`, runs ``loop.run()`` on its own thread (episodes start
on the page's command: ``auto_start`` off), and forwards the page's commands to the loop's
thread-safe episode API. The loop's ``on_tick`` hook only hands the observation to a
:class:`~armtwin.studio.frames.LatestSlot`: nothing on the loop thread waits on the network.

Losing the page (:meth:`RecordController.page_lost`, the last websocket gone) ends an episode being
recorded safely: ``mark_failure`` keeps the partial episode (``success=False`` in the recording), then
the loop stops so the follower holds its last commanded position (the session stays connected:
a real arm keeps its torque) until the page connects again or disconnects.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from armtwin.studio.frames import FrameEncoder, LatestSlot, split_observation

log = logging.getLogger(__name__)

#: Page commands -> ControlLoop methods.
COMMANDS = {"start": "start_episode", "success": "mark_success", "failure": "mark_failure",
            "discard": "discard", "reset": "reset"}


def explain_error(e: BaseException, cfg: Any = None) -> str:
    """A readable message with the fix for what goes wrong when connecting (busy port, no calibration, ...)."""
    text = str(e) or type(e).__name__
    low = text.lower()
    port = getattr(cfg, "follower_port", None) or getattr(cfg, "port", None)
    if "busy" in low or "resource temporarily unavailable" in low or "could not exclusively lock" in low:
        return (f"serial port {port or ''} is busy: another program holds it (a terminal, lerobot-*, another "
                f"studio). Close it (find it with: lsof {port or '/dev/ttyACM0'}) and connect again. [{text}]")
    if isinstance(e, FileNotFoundError) and "calibration" in low:
        return f"missing calibration: {text}"
    if "no such file" in low or "could not open port" in low or "errno 2" in low:
        return (f"serial port {port or ''} not found: check the cable and the port name (ls /dev/ttyACM* "
                f"/dev/ttyUSB*), and that your user may open it (group dialout). [{text}]")
    if isinstance(e, ImportError):
        return text
    return f"{type(e).__name__}: {text}"


class RecordController:
    """One teleop session at a time. ``connect(cfg)`` / ``command(name)`` / ``disconnect()`` / ``snapshot()``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.slot = LatestSlot()
        self.encoder = FrameEncoder(self.slot)
        self.session = None
        self.config = None
        self.error: str | None = None
        self.notice: str | None = None  # why the loop stopped (page lost, safety stop)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop_when_idle = False
        self._running = False
        self._resume = threading.Event()  # set: run the loop again (on the thread that owns the sim)

    # ------------------------------------------------------------ the session
    def resolve(self, path: str | Path | None) -> Path | None:
        """A record path from the page: relative paths are under the root."""
        if path in (None, ""):
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    @property
    def running(self) -> bool:
        """The control loop is ticking (False: not connected, or stopped with the follower holding)."""
        return self._running

    def connect(self, cfg, *, timeout: float = 120.0) -> None:
        """Build the session from a TeleopConfig and run its loop on the loop thread (raises with a
        readable message). The session is built *on* the loop thread: an offscreen MuJoCo (EGL) context
        belongs to the thread that made it, so the sim must be created where it renders."""
        with self._lock:
            if self.session is not None:
                raise RuntimeError("a session is already connected; disconnect it first")
            self.error = self.notice = None
            ready = threading.Event()
            self._stop_when_idle = False
            self._thread = threading.Thread(target=self._build_and_run, args=(cfg, ready), name="armtwin-studio-loop",
                                            daemon=True)
            self._thread.start()
            if not ready.wait(timeout):
                raise RuntimeError(f"connecting took longer than {timeout:.0f} s")
            if self.session is None:
                raise RuntimeError(self.error or "connecting failed")

    def _build_and_run(self, cfg, ready: threading.Event) -> None:
        from armtwin.teleop.factory import build_session

        try:
            session = build_session(cfg)
            for dev in (session.follower, session.leader):
                if not dev.is_connected:
                    dev.connect()
        except Exception as e:  # noqa: BLE001 - shown in the page with its fix
            log.warning("connecting failed: %s", e)
            self.error = explain_error(e, cfg)
            ready.set()
            return
        session.loop.config.auto_start = False  # the page starts episodes
        session.loop.on_tick = self._on_tick
        self.session, self.config = session, cfg
        ready.set()
        self._run()
        # Resumed runs (after the page was lost) continue on this same thread: see command("resume").
        while self.session is session and self._resume.wait():
            self._resume.clear()
            if self.session is not session:
                break
            self.notice = None
            self._stop_when_idle = False
            self._running = True
            self._run()
        session.close()  # on this thread too: the sim's GL context is this thread's

    def _run(self) -> None:
        loop = self.session.loop
        self._running = True
        try:
            loop.run()
        except Exception as e:  # noqa: BLE001 - the page shows it; the partial episode was kept by run()
            log.exception("control loop failed")
            self.error = explain_error(e, self.config)
        finally:
            self._running = False
        if loop.safety_stop:
            self.notice = f"safety stop: {loop.safety_stop}"

    def _on_tick(self, loop) -> None:
        # Runs on the loop thread: a reference swap, nothing else (no copy, no encoding, no I/O).
        self.slot.put(loop.last_observation)
        if self._stop_when_idle and loop.state != "recording":
            loop.stop()

    def command(self, name: str) -> None:
        """One of COMMANDS (start, success, failure, discard, reset), or "resume" after the loop stopped."""
        if self.session is None:
            raise RuntimeError("not connected: connect a leader and a target first")
        if name == "resume":
            if not self.running:
                self._resume.set()
            return
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; valid commands: {', '.join([*COMMANDS, 'resume'])}")
        if not self.running:
            raise RuntimeError("the control loop is stopped (follower holding); resume it first")
        getattr(self.session.loop, COMMANDS[name])()

    def page_lost(self) -> None:
        """The last page went away: keep a partial episode as a failure and hold the follower."""
        if self.session is None or not self.running:
            return
        loop = self.session.loop
        if loop.state == "recording":
            loop.mark_failure()
            self.notice = "page lost while recording: the partial episode was kept (success=False); follower holding"
        else:
            self.notice = "page lost: follower holding"
        self._stop_when_idle = True  # on_tick stops the loop once the failure is processed

    def wait_stopped(self, timeout: float = 5.0) -> bool:
        t_end = time.monotonic() + timeout
        while self.running and time.monotonic() < t_end:
            time.sleep(0.01)
        return not self.running

    def disconnect(self) -> None:
        """Stop the loop (an episode being recorded is kept as a failure), close devices and the file."""
        with self._lock:
            session = self.session
            if session is None:
                return
            if self.running and session.loop.state == "recording":
                session.loop.mark_failure()
                self._stop_when_idle = True
                self.wait_stopped(2.0)
            session.loop.stop()
            self.wait_stopped(5.0)
            self.session = None
            self._resume.set()  # release the loop thread: it sees the session is gone, closes it and ends
            if self._thread is not None:
                self._thread.join(10)

    def close(self) -> None:
        self.disconnect()
        self.encoder.close()

    # ------------------------------------------------------------ what the page shows
    def snapshot(self) -> dict[str, Any]:
        """The page's status: connection, loop state, counters, joints (LeRobot units), last episodes."""
        s = self.session
        out: dict[str, Any] = {"connected": s is not None, "running": self.running, "error": self.error,
                               "notice": self.notice, "t": time.time()}
        if s is None:
            return out
        loop = s.loop
        follower, _ = split_observation(loop.last_observation or {})
        leader = {k: float(v) for k, v in (loop.last_action or {}).items() if isinstance(v, (int, float))}
        stats = loop.stats
        n = len(stats.tick_starts)
        hz = (min(n, 60) - 1) / (stats.tick_starts[-1] - stats.tick_starts[-min(n, 60)]) if n > 2 else 0.0
        out.update(
            state=loop.state, episode_steps=loop.episode_steps, saved=loop.saved_episodes, attempt=loop.attempt,
            hz=hz, target_hz=loop.config.hz, follower=follower, leader=leader,
            record=str(s.recorder.path) if s.recorder is not None else None,
            next_demo=s.recorder.next_demo_name if s.recorder is not None else None,
            results=[{"name": r.name, "steps": r.steps, "success": r.success} for r in loop.results[-10:]],
            cameras=sorted(self.encoder.latest()),
        )
        return out
