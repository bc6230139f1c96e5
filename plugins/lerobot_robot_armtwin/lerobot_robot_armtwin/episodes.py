"""Episode boundaries of ``lerobot-record`` as the twin sees them.

``lerobot-record`` (LeRobot 0.4.4 .. 0.6) never tells a robot that an episode ended: it runs
``record_loop`` for ``--dataset.episode_time_s`` seconds of wall time (frames saved), then, except after
the last episode, ``record_loop`` again for ``--dataset.reset_time_s`` seconds (nothing saved, "reset the
environment"), saves the episode and starts the next one. All the robot sees is a stream of
``get_observation``/``send_action`` calls. :class:`RecordSchedule` follows that schedule on the same
wall clock (``time.perf_counter``, LeRobot's): the first call starts episode 0; the first call at least
``episode_time_s`` after an episode's first call starts its reset phase; the first call at least
``reset_time_s`` after that starts the next episode, and that is when the twin puts a fresh scene
(:meth:`tick` returns True). With ``reset_time_s`` 0 LeRobot runs no reset loop and the next episode
starts with the first call after ``episode_time_s``.

Limits: LeRobot's keyboard events (right arrow "exit early", left arrow "re-record") are not visible to
the robot, so with them the twin still resets on the schedule; keep the durations fixed when recording
the twin, or reset it yourself (``ArmtwinSO101Sim.reset_scene``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

#: ``argv[0]`` names of LeRobot's recorder (console script, ``python -m lerobot.scripts.lerobot_record``).
RECORD_SCRIPTS = ("lerobot-record", "lerobot_record.py", "lerobot_record")
#: ``DatasetRecordConfig`` defaults of LeRobot 0.4.4 .. 0.6 (seconds).
LEROBOT_EPISODE_TIME_S = 60.0
LEROBOT_RESET_TIME_S = 60.0


class RecordSchedule:
    """lerobot-record's episode/reset phases (module docstring). ``clock``: seconds (LeRobot's)."""

    def __init__(self, episode_time_s: float, reset_time_s: float, *, clock: Callable[[], float] = time.perf_counter):
        if not episode_time_s > 0 or not reset_time_s >= 0:
            raise ValueError(
                f"episode_time_s must be > 0 and reset_time_s >= 0 (seconds), got {episode_time_s}, {reset_time_s}"
            )
        self.episode_time_s = float(episode_time_s)
        self.reset_time_s = float(reset_time_s)
        self.clock = clock
        self.phase: str | None = None  # None (no call yet), "episode", "reset"
        self.episode = 0
        self._t0 = 0.0

    def tick(self) -> bool:
        """Call once per loop iteration (the robot's ``get_observation``); True when this call is the
        first of a new episode (not the first episode), i.e. the scene must be fresh now."""
        now = self.clock()
        if self.phase is None:
            self.phase, self._t0 = "episode", now
            return False
        if self.phase == "episode" and now - self._t0 >= self.episode_time_s:
            self.phase, self._t0 = "reset", now
        if self.phase == "reset" and now - self._t0 >= self.reset_time_s:
            self.phase, self._t0 = "episode", now
            self.episode += 1
            return True
        return False


def _argv_value(argv: Sequence[str], name: str) -> str | None:
    """Value of ``--name=V`` or ``--name V`` in ``argv`` (the last one wins, as in draccus)."""
    value = None
    for i, a in enumerate(argv):
        if a.startswith(f"--{name}="):
            value = a.split("=", 1)[1]
        elif a == f"--{name}" and i + 1 < len(argv):
            value = argv[i + 1]
    return value


def record_durations(argv: Sequence[str] | None = None) -> tuple[float, float] | None:
    """(episode_time_s, reset_time_s) of the ``lerobot-record`` command line running this process
    (LeRobot's defaults where not given), or None when this process is not ``lerobot-record``."""
    argv = sys.argv if argv is None else argv
    if not argv or Path(argv[0]).name not in RECORD_SCRIPTS:
        return None
    ep = _argv_value(argv, "dataset.episode_time_s")
    rs = _argv_value(argv, "dataset.reset_time_s")
    return (float(ep) if ep is not None else LEROBOT_EPISODE_TIME_S,
            float(rs) if rs is not None else LEROBOT_RESET_TIME_S)
