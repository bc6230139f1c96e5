"""Helper processes (generation workers, video encoders) die with the process that started them.

A ``kill -9`` of ``armtwin mimic generate`` or ``armtwin convert lerobot`` gives its children no
chance to be told; without a watch they wait forever on a queue nobody reads (~240 MB each).
:func:`die_with_parent`, called first thing in a child, starts a daemon thread that polls
``os.getppid()`` and ends the child (``os._exit``: no cleanup that could block on the dead
parent's pipes) once it has been re-parented. Polling rather than Linux's ``PR_SET_PDEATHSIG``:
that signal fires when the *thread* that forked exits, which need not be the parent's death.
"""

from __future__ import annotations

import os
import threading
import time

#: Seconds between two looks at the parent pid (a child outlives its parent by about this much).
POLL_S = 0.25
#: Exit status of a child whose parent died.
ORPHAN_EXIT = 70


def die_with_parent(*, poll_s: float = POLL_S) -> threading.Thread:
    """Start the watch in this (child) process; returns the thread. The parent is the one at the call."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(ORPHAN_EXIT)

    t = threading.Thread(target=watch, name="armtwin-lifeline", daemon=True)
    t.start()
    return t
