"""Non-blocking key events from the terminal (cbreak mode, no echo), delivered to a callback.

``with TerminalKeys(loop.handle_key): loop.run()`` — a daemon thread waits on stdin with
``select`` and calls the callback with each character; the terminal mode is restored on exit.
When stdin is not a TTY (pipes, CI) nothing is read and the loop runs headless.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from typing import Callable


class TerminalKeys:
    def __init__(self, callback: Callable[[str], object], *, stream=None):
        self.callback = callback
        self.stream = stream if stream is not None else sys.stdin
        self._old = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def __enter__(self):
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        self._old = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._thread = threading.Thread(target=self._run, args=(fd,), name="armtwin-keys", daemon=True)
        self._thread.start()
        return self

    def _run(self, fd: int) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                ch = os.read(fd, 1).decode(errors="ignore")
                if ch:
                    self.callback(ch)

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._old is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._old)
        self._thread = None
