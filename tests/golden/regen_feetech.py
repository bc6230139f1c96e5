"""Regenerate tests/golden/feetech_packets.json: reference packet bytes of the Feetech protocol.

Instruction packets are produced by the Feetech SDK itself (``scservo_sdk``, the
code LeRobot drives the real bus with), captured from a port object that
records what the SDK writes; status packets are the replies the SDK's own
parser accepts, built from the protocol description (``FF FF id len err
data.. ~sum``) by hand below, independently of ``armtwin.hardware.feetech.protocol``.

    .venv/bin/python tests/golden/regen_feetech.py
"""

from __future__ import annotations

import json
from pathlib import Path

import scservo_sdk as scs

from capture_port import first_packet  # noqa: E402 (beside this script)

OUT = Path(__file__).with_name("feetech_packets.json")


def status(servo_id: int, error: int, data: list[int]) -> bytes:
    body = [servo_id, len(data) + 2, error, *data]
    return bytes([0xFF, 0xFF, *body, (~sum(body)) & 0xFF])


def main() -> None:
    ph = scs.PacketHandler(0)
    packets: dict[str, str] = {}

    def capture(name, fn):
        packets[name] = first_packet(fn).hex(" ")

    capture("ping_id1", lambda p: ph.txRxPacket(p, [0, 0, 1, 2, scs.INST_PING, 0]))
    capture("read_present_position_id1", lambda p: ph.readTxRx(p, 1, 56, 2))
    capture("write_goal_position_id1_2048", lambda p: ph.write2ByteTxRx(p, 1, 42, 2048))
    capture("write_torque_enable_id3_1", lambda p: ph.write1ByteTxRx(p, 3, 40, 1))
    capture("write_homing_offset_id2_minus_100", lambda p: ph.write2ByteTxRx(p, 2, 31, (1 << 11) | 100))
    capture("reg_write_goal_position_id4_1000", lambda p: ph.regWriteTxRx(p, 4, 42, 2, [0xE8, 0x03]))
    capture("action_broadcast", lambda p: ph.action(p, scs.BROADCAST_ID))

    def sync_read(p):
        g = scs.GroupSyncRead(p, ph, 56, 2)
        for i in range(1, 7):
            g.addParam(i)
        g.txPacket()

    def sync_write(p):
        g = scs.GroupSyncWrite(p, ph, 42, 2)
        for i, v in zip(range(1, 7), [2047, 1000, 3000, 2100, 4095, 1500]):
            g.addParam(i, [scs.SCS_LOBYTE(v), scs.SCS_HIBYTE(v)])
        g.txPacket()

    capture("sync_read_present_position_ids1to6", sync_read)
    capture("sync_write_goal_position_ids1to6", sync_write)

    packets["status_ping_id1"] = status(1, 0, []).hex(" ")
    packets["status_read_id1_2047"] = status(1, 0, [0xFF, 0x07]).hex(" ")
    packets["status_model_number_id6_777"] = status(6, 0, [0x09, 0x03]).hex(" ")
    packets["status_overload_id2"] = status(2, 32, []).hex(" ")

    OUT.write_text(json.dumps(packets, indent=2) + "\n")
    print(f"wrote {OUT} ({len(packets)} packets)")


if __name__ == "__main__":
    main()
