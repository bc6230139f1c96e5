"""The virtual Feetech bus is never made deaf: after ANY byte sequence, a valid PING sent after a
pause is answered (parser level with many examples, then the served bus on its pty); and the
``disconnect`` fault the README promises works from the command line."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import armtwin.hardware.feetech as ft
from armtwin.hardware.feetech.protocol import BROADCAST_ID, INST_PING, encode_instruction, encode_status

PING = encode_instruction(1, INST_PING)

#: Junk built from pieces that look like packet starts (headers, header + id, header + bad length)
#: as well as arbitrary bytes: what a noisy line or a hostile client can send.
_pieces = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b"\xff", b"\xff\xff", b"\xff\xff\x01", b"\xff\xff\x00\xff", b"\xff\xff\x01\x00",
                     b"\xff\xff\x01\x01", b"\xff\xff\xfe\xf0", PING[:-1], PING[:3]]),
)
junk = st.lists(_pieces, max_size=24)


@settings(max_examples=1500, deadline=None)
@given(chunks=junk)
def test_parser_answers_a_ping_after_any_bytes(chunks):
    p = ft.PacketParser(stale_s=0.05)
    for c in chunks:
        p.feed(c, now=0.0)
    out = p.feed(PING, now=0.2)
    assert out and out[-1].to_bytes() == PING


def test_a_run_of_headers_with_bad_lengths_costs_one_byte_each():
    """``FF FF 00 FF`` claims a 255-byte body, beyond any packet: not a header, and the real
    header right behind it is found even when everything arrives at once."""
    p = ft.PacketParser()
    out = p.feed(b"\xff\xff\x00\xff" * 3 + b"\xff\xff\x01\x01" + PING, now=0.0)
    assert [x.to_bytes() for x in out] == [PING]


def _read_reply(fd: int, timeout_s: float) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.02)
        if r:
            got += os.read(fd, 4096)
            if len(got) >= 6 and got[:2] == b"\xff\xff":
                time.sleep(0.02)  # let the other servos' replies land
                r, _, _ = select.select([fd], [], [], 0)
                if r:
                    got += os.read(fd, 4096)
                return got
    return got


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=junk)
def test_served_bus_answers_a_ping_after_any_bytes(chunks):
    # A fresh bus per example: junk may hold a valid WRITE (to an id, say), which must not leak
    # into the next example. The broadcast PING is answered by every servo, whatever their ids.
    with ft.VirtualBus(ft.make_so101_servos(), name="fuzz") as bus:
        import tty

        fd = os.open(bus.port, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            for c in chunks:
                os.write(fd, c)
            bus.wait_idle(timeout=2.0)
            time.sleep(2 * 0.05)  # the parser's stale_s: the client's retry comes after its timeout
            _read_reply(fd, 0.05)  # whatever the junk itself made the servos answer
            os.write(fd, encode_instruction(BROADCAST_ID, INST_PING))
            reply = _read_reply(fd, 3.0)
        finally:
            os.close(fd)
    assert encode_status(1, 0) in reply, reply.hex(" ")


@pytest.mark.lerobot
def test_cli_fault_disconnect_unplugs_the_adapter(tmp_path):
    """``armtwin virtual-arm --fault disconnect`` (promised in the README): accepted, and once the
    fault fires the client's I/O on the port fails."""
    import termios

    import serial

    proc = subprocess.Popen(
        [sys.executable, "-m", "armtwin", "virtual-arm", "--role", "follower", "--calibration-dir", str(tmp_path),
         "--fault", "disconnect", "--faults-after", "1.0", "--duration", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        port = None
        while port is None:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.startswith("port: "):
                port = line.split(": ", 1)[1].strip()
        with serial.Serial(port, 1_000_000, timeout=0.2) as s:
            failed = False
            deadline = time.monotonic() + 20.0
            while time.monotonic() < deadline and not failed:
                try:
                    s.reset_input_buffer()
                    s.write(PING)
                    reply = s.read(6)
                    # Before the fault the servo answers; after it, nothing does.
                    if reply != encode_status(1, 0):
                        failed = True
                except (serial.SerialException, OSError, termios.error):
                    failed = True
                time.sleep(0.05)
            assert failed, "the port still answered 20 s after --fault disconnect was due"
        assert proc.poll() is None  # the arm's process lives on, unplugged
    finally:
        proc.kill()
        proc.wait()
