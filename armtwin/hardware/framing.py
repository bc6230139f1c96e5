"""The byte-stream framing both virtual servo buses share (Feetech and Dynamixel Protocol 2.0).

:class:`FramedParser` turns a serial byte stream into packets: find the header, read the total length,
check the checksum, emit; whatever cannot start a packet costs one byte, never more, so a real header
right behind a false one is found. Bytes left waiting longer than ``stale_s`` (a truncated packet, or
noise that looks like a long one) are abandoned whole when new bytes arrive, so nothing sent before
can swallow a request sent after a pause (``tests/test_bus_fuzz.py``). A protocol defines ``HEADER``,
``HEAD_LEN`` (bytes needed to know the packet's length) and the three hooks.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod


class FramedParser(ABC):
    """Incremental parser; counts packets with a bad checksum in ``bad_checksums`` and dropped bytes in
    ``skipped_bytes``."""

    HEADER: bytes = b""
    HEAD_LEN: int = 0

    def __init__(self, *, stale_s: float = 0.05):
        self.buf = bytearray()
        self.bad_checksums = 0
        self.skipped_bytes = 0
        self.stale_s = stale_s
        self._partial_since: float | None = None

    # ---------------------------------------------------------------- the protocol's hooks
    @abstractmethod
    def _total(self, buf: bytearray) -> int | None:
        """The packet's total length in bytes from its first ``HEAD_LEN`` bytes; None: not a header."""

    @abstractmethod
    def _checksum_ok(self, buf: bytearray, total: int) -> bool:
        """Whether the checksum of the packet ``buf[:total]`` is right."""

    @abstractmethod
    def _packet(self, buf: bytearray, total: int):
        """The packet ``buf[:total]`` (checked) as the protocol's Packet."""

    # ---------------------------------------------------------------- framing
    def _tail_to_keep(self, buf: bytearray) -> int:
        """Length of the longest end of ``buf`` that may be the start of a header split across reads."""
        h = self.HEADER
        return next((k for k in range(min(len(h) - 1, len(buf)), 0, -1) if buf[-k:] == h[:k]), 0)

    def _drop(self, n: int) -> None:
        del self.buf[:n]
        self.skipped_bytes += n

    def feed(self, data: bytes, now: float | None = None) -> list:
        now = time.monotonic() if now is None else now
        if self._partial_since is not None and self.buf and now - self._partial_since > self.stale_s:
            # The client gave up on these bytes long ago; keeping any of them could swallow this request.
            self._drop(len(self.buf))
        if not self.buf:
            self._partial_since = None
        self.buf += data
        out = []
        buf = self.buf
        consumed = False
        while True:
            start = buf.find(self.HEADER)
            if start < 0:
                n = len(buf) - self._tail_to_keep(buf)
                consumed |= n > 0
                self._drop(n)
                break
            if start:
                self._drop(start)
                consumed = True
            if len(buf) < self.HEAD_LEN:
                break
            total = self._total(buf)
            if total is None:
                self._drop(1)
                consumed = True
                continue
            if len(buf) < total:
                break
            if not self._checksum_ok(buf, total):
                self.bad_checksums += 1
                self._drop(1)
                consumed = True
                continue
            out.append(self._packet(buf, total))
            del buf[:total]
            consumed = True
        # The age of what is left counts from when its first byte became the head of the buffer.
        if not buf:
            self._partial_since = None
        elif consumed or self._partial_since is None:
            self._partial_since = now
        return out
