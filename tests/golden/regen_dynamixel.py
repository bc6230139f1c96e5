"""Regenerate tests/golden/dynamixel_packets.json: reference Protocol 2.0 packet bytes.

Instruction packets are produced by ROBOTIS's ``dynamixel_sdk`` itself (the code LeRobot's
``DynamixelMotorsBus`` drives the real bus with), captured from a port object that records what
the SDK writes. Status packets are built with the SDK's own framing (``addStuffing`` and
``updateCRC`` on a ``FF FF FD 00 id len 55 err data..`` list), independently of
``armtwin.hardware.dynamixel.protocol``.

    .venv/bin/python tests/golden/regen_dynamixel.py
"""

from __future__ import annotations

import json
from pathlib import Path

import dynamixel_sdk as dxl

from capture_port import first_packet  # noqa: E402 (beside this script)

OUT = Path(__file__).with_name("dynamixel_packets.json")


def status(ph, servo_id: int, error: int, data: list[int]) -> bytes:
    return frame(ph, servo_id, [0x55, error, *data])


def frame(ph, servo_id: int, body: list[int]) -> bytes:
    """``FF FF FD 00 id len body.. crc`` with the SDK's addStuffing (its return value) and updateCRC."""
    length = len(body) + 2  # body, crc16
    pkt = [0xFF, 0xFF, 0xFD, 0x00, servo_id, length & 0xFF, length >> 8, *body, 0, 0]
    pkt = ph.addStuffing(pkt)
    total = dxl.DXL_MAKEWORD(pkt[5], pkt[6]) + 7
    crc = ph.updateCRC(0, pkt, total - 2)
    pkt[total - 2], pkt[total - 1] = crc & 0xFF, crc >> 8
    return bytes(pkt[:total])


def main() -> None:
    ph = dxl.PacketHandler(2.0)
    packets: dict[str, str] = {}

    def capture(name, fn):
        packets[name] = first_packet(fn).hex()

    capture("ping_11", lambda p: ph.ping(p, 11))
    capture("broadcast_ping", lambda p: ph.broadcastPing(p))
    capture("read_12_present_position", lambda p: ph.readTxRx(p, 12, 132, 4))
    capture("write_13_goal_position_2100", lambda p: ph.write4ByteTxRx(p, 13, 116, 2100))
    capture("write_14_torque_enable", lambda p: ph.write1ByteTxRx(p, 14, 64, 1))
    capture("write_15_homing_offset_-100", lambda p: ph.write4ByteTxRx(p, 15, 20, (-100) & 0xFFFFFFFF))
    # Parameters FF FF FD must be stuffed to FF FF FD FD. dynamixel_sdk 3.8.4 transmits them
    # unstuffed (its addStuffing rebinds a local list when the length grows, so txPacket sends the
    # caller's unstuffed list): "write_11_unstuffed_sdk" is what the SDK really sends (a servo must
    # parse it), "write_11_stuffed" the protocol's form, framed by the SDK's own addStuffing/updateCRC.
    capture("write_11_unstuffed_sdk", lambda p: ph.writeTxRx(p, 11, 116, 4, [0xFF, 0xFF, 0xFD, 0x00]))
    packets["write_11_stuffed"] = frame(ph, 11, [0x03, 116, 0, 0xFF, 0xFF, 0xFD, 0x00]).hex()

    def sync_read(p):
        g = dxl.GroupSyncRead(p, ph, 132, 4)
        for i in (11, 12, 13, 14, 15, 16):
            g.addParam(i)
        g.txPacket()

    def sync_write(p):
        g = dxl.GroupSyncWrite(p, ph, 116, 4)
        for i, v in zip((11, 12, 13), (2048, 1000, 3000)):
            g.addParam(i, list(v.to_bytes(4, "little")))
        g.txPacket()

    def bulk_read(p):
        g = dxl.GroupBulkRead(p, ph)
        g.addParam(11, 132, 4)
        g.addParam(16, 7, 1)
        g.txPacket()

    capture("sync_read_present_position", sync_read)
    capture("sync_write_goal_position", sync_write)
    capture("bulk_read", bulk_read)

    packets["status_ping_11"] = status(ph, 11, 0, [0x24, 0x04, 52]).hex()
    packets["status_read_12_2048"] = status(ph, 12, 0, list((2048).to_bytes(4, "little"))).hex()
    packets["status_write_14_access_error"] = status(ph, 14, 7, []).hex()
    packets["status_alert_13"] = status(ph, 13, 0x80, []).hex()
    packets["status_stuffed"] = status(ph, 12, 0, [0xFF, 0xFF, 0xFD, 0x00]).hex()
    OUT.write_text(json.dumps(packets, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(packets)} packets to {OUT}")


if __name__ == "__main__":
    main()
