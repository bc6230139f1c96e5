"""The one fixed-rate schedule every armtwin loop keeps: teleop, the UDP publisher, the ROS 2 bridge.

:class:`RateKeeper` holds deadlines every ``1/hz`` seconds on ``time.perf_counter``. Two ways to
drive it:

* ``wait()`` after each tick's work: sleep to within ``spin_s`` of the deadline, spin the rest
  (``time.sleep`` alone wakes up to a scheduler tick late), then move to the next deadline;
* ``remaining()`` / ``advance()`` for a loop that waits on something else until its tick is due
  (the bridge waits on its DDS wait set, which returns early when a message arrives).

A tick more than one period late re-anchors the schedule one period from now (counted in
``overruns``) instead of firing a burst of late ticks to catch up.
"""

from __future__ import annotations

import math
import time


class RateKeeper:
    """``RateKeeper(hz, *, spin_s=0.002, due_now=False)``.

    hz: ticks per second (> 0). spin_s: seconds before each deadline that ``wait()`` spins
    instead of sleeping (0: sleep only). due_now: the first deadline is now (a loop that waits
    before its work) instead of one period from now (a loop that works, then waits).
    Attributes: ``period`` (s), ``next`` (perf_counter time of the next deadline), ``ticks``
    (deadlines passed), ``overruns`` (re-anchored deadlines).
    """

    def __init__(self, hz: float, *, spin_s: float = 0.002, due_now: bool = False):
        if not (isinstance(hz, (int, float)) and math.isfinite(hz) and hz > 0):
            raise ValueError(f"rate must be a finite number of Hz > 0, got {hz!r}")
        self.period = 1.0 / float(hz)
        if not 0 <= spin_s < self.period:
            raise ValueError(f"spin_s must be in [0, 1/hz) = [0, {self.period:g}) s, got {spin_s!r}")
        self.spin_s = float(spin_s)
        self.next = time.perf_counter() + (0.0 if due_now else self.period)
        self.ticks = 0
        self.overruns = 0

    def restart(self) -> None:
        """The next deadline is one period from now."""
        self.next = time.perf_counter() + self.period

    def remaining(self) -> float:
        """Seconds until the next deadline (negative when it has passed)."""
        return self.next - time.perf_counter()

    def advance(self, now: float | None = None) -> None:
        """The tick due at ``next`` happened (at ``now``, perf_counter; None: now): schedule the next one."""
        now = time.perf_counter() if now is None else now
        self.ticks += 1
        if now - self.next > self.period:
            self.overruns += 1
            self.next = now + self.period
        else:
            self.next += self.period

    def wait(self) -> float:
        """Block until the next deadline, then advance; returns the time (perf_counter) it was reached."""
        remaining = self.next - time.perf_counter()
        if remaining > self.spin_s:
            time.sleep(remaining - self.spin_s)
        while True:
            now = time.perf_counter()
            if now >= self.next:
                break
            # sleep(0) releases the GIL: other threads (e.g. a camera or a virtual bus) keep running.
            time.sleep(0)
        self.advance(now)
        return now
