"""A port object for the servo SDKs' packet handlers that records what they transmit and never replies.

Both golden-packet scripts (``regen_feetech.py`` for ``scservo_sdk``, ``regen_dynamixel.py`` for
``dynamixel_sdk``) capture instruction packets this way: the SDKs only ever call these methods on
their port handler, under the SDKs' own (camelCase) names.
"""

from __future__ import annotations

from typing import Callable


class CapturePort:
    """Just enough of the SDKs' ``PortHandler`` to capture transmitted bytes (no reply ever comes)."""

    baudrate = 1_000_000

    def __init__(self):
        self.is_using = False
        self.written: list[bytes] = []
        self.packet_start_time = 0.0
        self.packet_timeout = 0.0

    def clearPort(self):  # noqa: N802 (SDK names)
        pass

    def writePort(self, packet):  # noqa: N802
        self.written.append(bytes(packet))
        return len(packet)

    def readPort(self, length):  # noqa: N802
        return []

    def getBaudRate(self):  # noqa: N802
        return self.baudrate

    def setPacketTimeout(self, n):  # noqa: N802
        pass

    def setPacketTimeoutMillis(self, ms):  # noqa: N802
        pass

    def isPacketTimeout(self):  # noqa: N802
        return True


def first_packet(send: Callable[[CapturePort], object]) -> bytes:
    """The one packet ``send(port)`` transmits (an SDK call that would then wait for a reply)."""
    port = CapturePort()
    send(port)
    assert len(port.written) == 1, port.written
    return port.written[0]
