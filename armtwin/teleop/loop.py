"""The fixed-rate control loop: read the leader, command the follower, observe, record.

One tick (period ``1/hz``):

1. ``obs = follower.get_observation()`` and the recording frame (the state *before* the action);
2. ``leader.observe(obs)``, ``action = leader.get_action()``  (t_read taken just before);
3. ``sent = follower.send_action(action)`` (t_sent taken just after; latency = t_sent - t_read);
4. ``recorder.add_step(frame.obs, sent in radians, state, datagen_info)`` while an episode is recorded;
5. sleep until the next deadline (``armtwin.timing.RateKeeper``: ``time.sleep`` to within ``spin_s``,
   then a short spin).

Measured: achieved rate, period jitter (|period - 1/hz|), leader->follower latency, overruns;
:meth:`LoopStats.table` prints them at the end.

Episodes: :class:`ControlLoop` has ``start_episode``, ``mark_success``, ``mark_failure``,
``discard`` (drop and re-record), ``reset`` and ``stop``; they may be called from any thread
(keys, a GUI, a test) and take effect at the next tick. ``handle_key`` maps keys to them
(``EPISODE_KEYS``). Headless by default: episodes start by themselves, end on task success
(when the follower side can tell), after ``episode_steps`` or at the sim env's own horizon.

What differs between sim and real is only the :class:`~armtwin.teleop.sides.EpisodeSide` object
(how to reset, what to record; :mod:`armtwin.teleop.sides`), which
:func:`armtwin.teleop.factory.build_session` picks once.

Size: over 400 lines because :class:`ControlLoop` is one state machine: its tick, the episode commands
posted from other threads and the episode bookkeeping share the loop's state; :class:`LoopConfig` and
:class:`LoopStats` are only what it takes and what it returns.
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from armtwin.robots.contract import Leader, LeaderExhausted, StaleInput
from armtwin.robots.safety import SafeFollower, SafetyStop
from armtwin.teleop.sides import EpisodeSide
from armtwin.timing import RateKeeper

log = logging.getLogger(__name__)

MAX_HZ = 60.0


# ------------------------------------------------------------------ measurements


def period_jitter_ms(tick_starts, hz: float) -> np.ndarray:
    """Tick start times (s, perf_counter) -> each period's jitter |period - 1/hz| in ms, shape (n - 1,)."""
    return np.abs(np.diff(np.asarray(tick_starts, dtype=float)) - 1.0 / hz) * 1e3


@dataclass
class LoopStats:
    """Per-tick measurements (seconds). ``tick_starts``: perf_counter at each tick start."""

    hz: float
    tick_starts: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    overruns: int = 0

    def summary(self) -> dict[str, float]:
        """achieved_hz, jitter_p50/p99/max_ms (|period - nominal|), latency_p50/p99/max_ms, ticks, overruns."""
        t = np.asarray(self.tick_starts)
        lat = np.asarray(self.latencies) * 1e3
        out: dict[str, float] = {"target_hz": self.hz, "ticks": float(len(t)), "overruns": float(self.overruns)}
        if len(t) >= 2:
            periods = np.diff(t)
            jit = period_jitter_ms(t, self.hz)
            out.update(
                achieved_hz=(len(t) - 1) / (t[-1] - t[0]),
                period_mean_ms=float(periods.mean() * 1e3),
                jitter_p50_ms=float(np.percentile(jit, 50)),
                jitter_p99_ms=float(np.percentile(jit, 99)),
                jitter_max_ms=float(jit.max()),
            )
        if len(lat):
            out.update(
                latency_p50_ms=float(np.percentile(lat, 50)),
                latency_p99_ms=float(np.percentile(lat, 99)),
                latency_max_ms=float(lat.max()),
            )
        return out

    def table(self) -> str:
        s = self.summary()
        rows = [
            ("ticks", f"{int(s['ticks'])}"),
            ("rate (target / achieved)", f"{s['target_hz']:.1f} / {s.get('achieved_hz', math.nan):.2f} Hz"),
            ("period jitter p50 / p99 / max",
             f"{s.get('jitter_p50_ms', math.nan):.3f} / {s.get('jitter_p99_ms', math.nan):.3f} / "
             f"{s.get('jitter_max_ms', math.nan):.3f} ms"),
            ("leader->follower latency p50 / p99 / max",
             f"{s.get('latency_p50_ms', math.nan):.3f} / {s.get('latency_p99_ms', math.nan):.3f} / "
             f"{s.get('latency_max_ms', math.nan):.3f} ms"),
            ("overruns (re-anchored deadlines)", f"{int(s['overruns'])}"),
        ]
        w = max(len(r[0]) for r in rows)
        return "\n".join(f"  {k:<{w}}  {v}" for k, v in rows)


# ------------------------------------------------------------------ loop


@dataclass
class LoopConfig:
    """hz: control rate, 1..60. episodes: stop after this many saved episodes (None: no limit).
    episode_steps: longest episode (None: no limit). duration_s: stop after this long (None: no
    limit). reset_s: teleop without recording after each reset (the real arm's reset period).
    end_on_success: end an episode when the follower side reports success, after
    ``success_hold`` more steps. auto_start: start each episode by itself (headless); otherwise
    wait for ``start_episode()``. seed: episode k (counting discarded ones) resets with seed+k.
    spin_s: busy-wait before each deadline. print_summary: print the stats table at the end.
    real_time: False runs ticks back to back, without waiting for deadlines or freezing the heap
    (headless evaluation: a simulated follower steps 1/hz of sim time per command anyway)."""

    hz: float = 30.0
    episodes: int | None = None
    episode_steps: int | None = None
    duration_s: float | None = None
    reset_s: float = 0.0
    end_on_success: bool = True
    success_hold: int = 0
    auto_start: bool = True
    seed: int | None = 0
    spin_s: float = 0.002
    print_summary: bool = True
    real_time: bool = True

    def __post_init__(self):
        if not (isinstance(self.hz, (int, float)) and 1.0 <= self.hz <= MAX_HZ):
            raise ValueError(f"hz must be between 1 and {MAX_HZ:g}, got {self.hz!r}")
        for name in ("episodes", "episode_steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"duration_s must be > 0 or None, got {self.duration_s!r}")
        if not self.reset_s >= 0:
            raise ValueError(f"reset_s must be >= 0 seconds, got {self.reset_s!r}")
        if self.success_hold < 0:
            raise ValueError(f"success_hold must be >= 0, got {self.success_hold}")
        if not 0 <= self.spin_s < 1.0 / self.hz:
            raise ValueError(f"spin_s must be in [0, 1/hz), got {self.spin_s}")


#: Keys -> episode commands (KeyboardLeader's jog keys do not overlap).
EPISODE_KEYS: dict[str, str] = {
    " ": "start_episode",
    "y": "mark_success",
    "n": "mark_failure",
    "x": "discard",
    "r": "reset",
    "Q": "stop",
}


@dataclass
class EpisodeResult:
    name: str | None  # demo name when recorded
    steps: int
    success: bool
    seed: int | None
    end_reason: str | None = None  # why it ended other than by success/failure ("stale_input"), else None


class ControlLoop:
    """``ControlLoop(leader, follower, recorder=None, side=None, config=LoopConfig())``.

    leader: an ``armtwin.robots.contract.Leader`` (its hooks are called directly). follower: the
    :class:`armtwin.robots.safety.SafeFollower` to command (``armtwin.robots.factory.make_follower``
    builds one): the loop never commands an arm around the safety layer. recorder: an open
    :class:`armtwin.data.Recorder` or None. side: the :class:`EpisodeSide`
    (None: no resets, and recording is not possible). ``run()`` connects what is not
    connected, loops until done, and returns the :class:`LoopStats`; ``results`` lists
    the finished episodes.
    """

    def __init__(self, leader: Leader, follower: SafeFollower, recorder=None, side: EpisodeSide | None = None,
                 config: LoopConfig | None = None, *, on_tick: Callable[["ControlLoop"], None] | None = None):
        if not isinstance(leader, Leader):
            raise TypeError(f"leader must be an armtwin.robots.contract.Leader, got {type(leader).__name__}")
        if not isinstance(follower, SafeFollower):
            raise TypeError(
                f"follower must be a SafeFollower (armtwin.robots.safety), got {type(follower).__name__}: wrap it, "
                "SafeFollower(follower, SafetyConfig.for_converter(converter)), or build it with "
                "armtwin.robots.factory.make_follower"
            )
        if recorder is not None and side is None:
            raise ValueError("recording needs an EpisodeSide (SimSide or RealSide) to know what to store")
        self.leader = leader
        self.follower = follower
        self.recorder = recorder
        self.side = side
        self.config = config or LoopConfig()
        self.on_tick = on_tick
        self.stats = LoopStats(self.config.hz)
        self.results: list[EpisodeResult] = []
        self.state = "idle"  # idle | recording | resetting
        self.episode_steps = 0
        self.attempt = 0
        self._cmds: list[str] = []
        self._lock = threading.Lock()
        self._stop = False
        self._success_streak = 0
        self._reset_until = 0.0
        self._ep_t0 = 0.0
        self._seed: int | None = None
        self.last_observation: dict[str, Any] | None = None
        self.last_action: dict[str, Any] | None = None  # what the leader gave at the last tick
        self.last_sent: dict[str, float] | None = None
        #: Why the safety layer stopped the follower (None: it did not); ``run()`` then ended early.
        self.safety_stop: str | None = None
        #: Why the leader's input was lost (``armtwin.robots.contract.StaleInput``), None: it was not.
        self.input_lost: str | None = None
        #: Hold-only steps dropped from the end of the episode the lost input ended (0: none).
        self.stale_trimmed = 0
        self._fresh_steps = 0  # episode steps up to the last one whose action was fresh leader data
        self._last_stamp: float | None = None
        #: The signal number that asked the loop to stop (set by armtwin.teleop.factory.run_teleop), or None.
        self.stop_signal: int | None = None

    # ---------------------------------------------------------------- episode API (any thread)
    def _post(self, cmd: str) -> None:
        with self._lock:
            self._cmds.append(cmd)

    def start_episode(self) -> None:
        """Start recording an episode (no-op if one is being recorded)."""
        self._post("start")

    def mark_success(self) -> None:
        """End the episode being recorded as a success, then reset."""
        self._post("success")

    def mark_failure(self) -> None:
        """End the episode being recorded as a failure (it is kept), then reset."""
        self._post("failure")

    def discard(self) -> None:
        """Drop the episode being recorded, reset, and record it again under the same number."""
        self._post("discard")

    def reset(self) -> None:
        """Reset the scene (dropping an episode being recorded) and begin the reset period."""
        self._post("reset")

    def stop(self) -> None:
        """Leave the loop after the current tick (an episode being recorded is ended as a failure)."""
        self._stop = True

    def handle_key(self, ch: str) -> bool:
        """Dispatch a key: episode keys (``EPISODE_KEYS``) here, others to the leader. True if used."""
        cmd = EPISODE_KEYS.get(ch)
        if cmd is not None:
            getattr(self, cmd)()
            return True
        return bool(self.leader.handle_key(ch))

    # ---------------------------------------------------------------- internals
    @property
    def saved_episodes(self) -> int:
        """Episodes finished and kept (recorded when there is a recorder)."""
        return len(self.results)

    def _do_reset(self) -> None:
        self._seed = None if self.config.seed is None else self.config.seed + self.attempt
        state = None
        r = self.leader.reset_request()
        if r is not None:
            self._seed = r.get("seed", self._seed)
            state = r.get("state")
        if self.side is not None:
            self.side.reset(self._seed, state)
        self.leader.on_episode_reset(self.follower.get_observation())
        self._reset_until = time.perf_counter() + self.config.reset_s
        self.state = "resetting" if self.config.reset_s > 0 else "idle"

    def _begin(self) -> None:
        self.episode_steps = 0
        self._fresh_steps = 0
        self._success_streak = 0
        self._ep_t0 = time.perf_counter()
        if self.recorder is not None:
            self.recorder.begin_episode(seed=self._seed, instruction=self.side.instruction, source=self.side.source)
        self.state = "recording"

    def _end(self, success: bool, keep: bool = True, *, reason: str | None = None,
             keep_steps: int | None = None) -> None:
        """reason: stored as the episode's ``end_reason`` attribute. keep_steps: keep only the first
        ``keep_steps`` steps (0: nothing left to keep, the episode is dropped)."""
        name = None
        steps = self.episode_steps if keep_steps is None else min(keep_steps, self.episode_steps)
        keep = keep and steps > 0
        if self.recorder is not None and self.recorder.in_episode:
            if keep and reason is None and keep_steps is None:
                name = self.recorder.end_episode(success)
            elif keep:
                name = self.recorder.end_episode(success, attrs={"end_reason": reason or ""}, keep_steps=steps)
            else:
                self.recorder.discard_episode()
        if keep:
            self.results.append(EpisodeResult(name, steps, bool(success), self._seed, reason))
            log.info("episode %s: %d steps, success=%s", name or len(self.results) - 1, self.episode_steps, success)
        self.attempt += 1
        self.state = "idle"

    def _process_commands(self) -> None:
        with self._lock:
            cmds, self._cmds = self._cmds, []
        for cmd in cmds:
            if cmd == "start":
                if self.state != "recording":
                    self._begin()
            elif cmd in ("success", "failure"):
                if self.state == "recording":
                    self._end(cmd == "success")
                    self._after_episode()
            elif cmd in ("discard", "reset"):
                if self.state == "recording":
                    self._end(False, keep=False)
                    if cmd == "discard":
                        self.attempt -= 1  # re-record the same scene
                self._do_reset()

    def _after_episode(self) -> None:
        if self.config.episodes is not None and self.saved_episodes >= self.config.episodes:
            self._stop = True
            return
        self._do_reset()

    def _side_success(self) -> bool:
        return bool(self.side.success()) if self.side is not None else False

    def tick(self) -> None:
        """One loop iteration (without the wait)."""
        cfg = self.config
        self._process_commands()
        if self._stop:  # the last episode ended on a command: no further command to the follower
            return
        if self.state == "resetting" and time.perf_counter() >= self._reset_until:
            self.state = "idle"
        if self.state == "idle" and cfg.auto_start and not self._stop:
            self._begin()
        recording = self.state == "recording"
        obs = self.follower.get_observation()
        frame = self.side.frame(obs) if (recording and self.recorder is not None) else None
        t_read = time.perf_counter()
        stamp = time.monotonic()
        self.leader.observe(obs)
        action = self.leader.get_action()
        # Fresh: new leader data since the last tick (a leader without data stamps always is).
        fresh = self.leader.data_stamp is None or self.leader.data_stamp != self._last_stamp
        self._last_stamp = self.leader.data_stamp
        # A leader that knows when its data was produced (the network leader: when it arrived) says
        # so; the safety layer's watchdog then holds the follower once that data is too old.
        if self.leader.data_stamp is not None:
            stamp = self.leader.data_stamp
        sent = self.follower.send_action(action, stamp=stamp)
        self.stats.latencies.append(time.perf_counter() - t_read)
        self.last_observation, self.last_action, self.last_sent = obs, action, sent
        if recording:
            if frame is not None:
                sent_rad = self.side.sent_radians(sent)
                self.side.complete(frame, sent_rad)
                self.recorder.add_step(frame["obs"], sent_rad, state=frame["state"],
                                       datagen_info=frame["datagen_info"], timestamp=t_read - self._ep_t0)
            self.episode_steps += 1
            if fresh:
                self._fresh_steps = self.episode_steps
            ok = cfg.end_on_success and self._side_success()
            self._success_streak = self._success_streak + 1 if ok else 0
            if ok and self._success_streak > cfg.success_hold:
                self._end(True)
                self._after_episode()
            elif (cfg.episode_steps is not None and self.episode_steps >= cfg.episode_steps) or (
                self.side is not None and self.side.over()
            ):
                self._end(self._side_success())
                self._after_episode()
        if self.on_tick is not None:
            self.on_tick(self)

    def run(self) -> LoopStats:
        """Connect, loop until done (episodes / duration / stop / leader exhausted), print and return stats."""
        cfg = self.config
        # Cleared first: a stop() (a signal) that arrives while connecting still ends the run.
        self._stop = False
        for dev in (self.follower, self.leader):
            if not dev.is_connected:
                dev.connect()
        self._do_reset()
        # Everything allocated so far (LeRobot, torch, MuJoCo: a large heap) leaves the garbage
        # collector's reach: a full collection over it stalls a tick for tens of milliseconds.
        if cfg.real_time:
            gc.collect()
            gc.freeze()
        rate = RateKeeper(cfg.hz, spin_s=cfg.spin_s)
        t_end = None if cfg.duration_s is None else time.perf_counter() + cfg.duration_s
        try:
            while not self._stop:
                self.stats.tick_starts.append(time.perf_counter())
                try:
                    self.tick()
                except LeaderExhausted as e:
                    log.info("%s", e)
                    # Lost input (a network stream silent past its bounded hold) ends the episode
                    # and the run: the episode is kept as a failure with end_reason "stale_input",
                    # cut after the last step with fresh input (what followed was a hold, not a
                    # demonstration); the caller reads ``input_lost`` (armtwin teleop exits 1).
                    if isinstance(e, StaleInput):
                        self.input_lost = str(e)
                    if self.state == "recording" and self.input_lost:
                        self.stale_trimmed = self.episode_steps - self._fresh_steps
                        self._end(False, reason="stale_input", keep_steps=self._fresh_steps)
                    elif self.state == "recording":
                        self._end(self._side_success())
                    break
                except SafetyStop as e:
                    # The follower is holding (or limp, per its fault policy) and refuses commands
                    # until rearmed: nothing more this loop can do. The episode in progress is kept
                    # as a failure below; the caller reads ``safety_stop``.
                    self.safety_stop = str(e)
                    log.error("safety stop, leaving the control loop: %s", e)
                    break
                if t_end is not None and time.perf_counter() >= t_end:
                    break
                if cfg.real_time:
                    rate.wait()
        finally:
            if self.state == "recording":
                # Interrupted (Ctrl-C, error, duration): keep what was recorded, as a failure
                # unless the task reports success.
                try:
                    success = False if self.safety_stop else self._side_success()
                    self._end(success, keep=self.episode_steps > 0)
                except Exception as e:  # noqa: BLE001 - do not mask the original error
                    log.error("could not finish the last episode: %s", e)
            self.stats.overruns = rate.overruns
            if cfg.real_time:
                gc.unfreeze()
        if cfg.print_summary:
            print(self.stats.table())
            if self.safety_stop:
                print(f"stopped by the safety layer: {self.safety_stop}")
            if self.input_lost:
                print(f"ended, input lost: {self.input_lost} (the episode in progress was kept as a failure, "
                      f"end_reason=stale_input, without its last {self.stale_trimmed} hold-only steps)")
        return self.stats
