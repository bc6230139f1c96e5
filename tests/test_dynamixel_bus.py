"""The virtual Dynamixel bus: Protocol 2.0 bytes against ROBOTIS's SDK, servo registers, resync,
faults, and LeRobot's unmodified OMX drivers (connect, read, write, leader -> follower teleop)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from armtwin.hardware.dynamixel import protocol as P
from armtwin.hardware.dynamixel.bus import VirtualBus
from armtwin.hardware.dynamixel.servo import MODE_EXTENDED, Servo
from armtwin.hardware.plants import ServoPlant

GOLDEN = json.loads((Path(__file__).parent / "golden" / "dynamixel_packets.json").read_text())
FOLLOWER = {"shoulder_pan": (11, "xl430-w250"), "shoulder_lift": (12, "xl430-w250"),
            "elbow_flex": (13, "xl430-w250"), "wrist_flex": (14, "xl330-m288"),
            "wrist_roll": (15, "xl330-m288"), "gripper": (16, "xl330-m288")}
LEADER = {"shoulder_pan": (1, "xl330-m288"), "shoulder_lift": (2, "xl330-m288"), "elbow_flex": (3, "xl330-m288"),
          "wrist_flex": (4, "xl330-m288"), "wrist_roll": (5, "xl330-m288"), "gripper": (6, "xl330-m077")}

pytestmark = pytest.mark.usefixtures("lerobot_loaded")


def golden(name: str) -> bytes:
    return bytes.fromhex(GOLDEN[name])


def servos(table, joint_ticks=None):
    pos = joint_ticks if joint_ticks is not None else [2048.0] * len(table)
    return [Servo(i, m, joint_ticks=p) for (i, m), p in zip(table.values(), pos)]


# --- codec against the SDK's bytes -----------------------------------------------------------


def test_instruction_packets_match_dynamixel_sdk():
    assert P.encode_instruction(11, P.INST_PING) == golden("ping_11")
    assert P.encode_instruction(P.BROADCAST_ID, P.INST_PING) == golden("broadcast_ping")
    assert P.encode_instruction(12, P.INST_READ, [132, 0, 4, 0]) == golden("read_12_present_position")
    assert P.encode_instruction(13, P.INST_WRITE, [116, 0, *P.encode_register("Goal_Position", 2100)]) == golden(
        "write_13_goal_position_2100")
    assert P.encode_instruction(14, P.INST_WRITE, [64, 0, 1]) == golden("write_14_torque_enable")
    assert P.encode_instruction(15, P.INST_WRITE, [20, 0, *P.encode_register("Homing_Offset", -100)]) == golden(
        "write_15_homing_offset_-100")
    assert P.encode_instruction(11, P.INST_WRITE, [116, 0, 0xFF, 0xFF, 0xFD, 0x00]) == golden("write_11_stuffed")
    # The SDK itself sends that packet unstuffed (see regen_dynamixel.py); the bus must still read it.
    (sdk_pkt,) = P.PacketParser().feed(golden("write_11_unstuffed_sdk"), now=0.0)
    assert sdk_pkt == P.Packet(11, P.INST_WRITE, bytes([116, 0, 0xFF, 0xFF, 0xFD, 0x00]))
    assert P.encode_instruction(P.BROADCAST_ID, P.INST_SYNC_READ, [132, 0, 4, 0, 11, 12, 13, 14, 15, 16]) == golden(
        "sync_read_present_position")
    sw = [116, 0, 4, 0]
    for i, v in zip((11, 12, 13), (2048, 1000, 3000)):
        sw += [i, *v.to_bytes(4, "little")]
    assert P.encode_instruction(P.BROADCAST_ID, P.INST_SYNC_WRITE, sw) == golden("sync_write_goal_position")
    assert P.encode_instruction(P.BROADCAST_ID, P.INST_BULK_READ, [11, 132, 0, 4, 0, 16, 7, 0, 1, 0]) == golden(
        "bulk_read")


def test_status_packets_match_dynamixel_sdk_framing():
    assert P.encode_status(11, 0, [0x24, 0x04, 52]) == golden("status_ping_11")
    assert P.encode_status(12, 0, (2048).to_bytes(4, "little")) == golden("status_read_12_2048")
    assert P.encode_status(14, P.ERRNUM_ACCESS) == golden("status_write_14_access_error")
    assert P.encode_status(13, P.ERRBIT_ALERT) == golden("status_alert_13")
    assert P.encode_status(12, 0, [0xFF, 0xFF, 0xFD, 0x00]) == golden("status_stuffed")


def test_parser_reads_every_golden_packet_back_unstuffed():
    parser = P.PacketParser()
    stream = b"".join(golden(k) for k in sorted(GOLDEN))
    packets = parser.feed(stream, now=0.0)
    assert len(packets) == len(GOLDEN) and parser.bad_checksums == 0 and parser.skipped_bytes == 0
    by_name = dict(zip(sorted(GOLDEN), packets))
    assert by_name["write_11_stuffed"].params == by_name["write_11_unstuffed_sdk"].params
    assert by_name["write_11_stuffed"].params == bytes([116, 0, 0xFF, 0xFF, 0xFD, 0x00])
    assert by_name["status_stuffed"].params == bytes([0, 0xFF, 0xFF, 0xFD, 0x00])


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=64), params=st.binary(max_size=40), sid=st.integers(0, P.MAX_ID))
def test_parser_resyncs_after_garbage(garbage, params, sid):
    """Whatever came before, a valid packet sent after a pause is parsed (stale bytes are dropped)."""
    parser = P.PacketParser(stale_s=0.05)
    parser.feed(garbage, now=0.0)
    pkt = P.encode_instruction(sid, P.INST_WRITE, params)
    got = parser.feed(pkt, now=1.0)
    assert got and got[-1] == P.Packet(sid, P.INST_WRITE, params)


def test_corrupted_crc_is_dropped_and_the_next_packet_found():
    bad = bytearray(golden("ping_11"))
    bad[-1] ^= 0x01
    parser = P.PacketParser()
    got = parser.feed(bytes(bad) + golden("read_12_present_position"), now=0.0)
    assert [p.instruction for p in got] == [P.INST_READ] and parser.bad_checksums == 1


@pytest.mark.parametrize("name,value", [("Homing_Offset", -100), ("Goal_Position", -1_048_575),
                                        ("Present_Velocity", -3), ("Max_Position_Limit", 4095)])
def test_register_encoding_round_trips(name, value):
    assert P.decode_register(name, P.encode_register(name, value)) == value


# --- servo model -----------------------------------------------------------------------------


def test_servo_homing_offset_and_reverse_drive_mode():
    s = Servo(11, "xl430-w250", mount_offset=30, joint_ticks=2000)
    assert s.get("Present_Position") == 2030 or s.read(132, 4)[1] == (2030).to_bytes(4, "little")
    s.put("Homing_Offset", -30)
    assert P.decode_register("Present_Position", s.read(132, 4)[1]) == 2000  # calibrated: present == joint
    s.put("Drive_Mode", 1)
    assert P.decode_register("Present_Position", s.read(132, 4)[1]) == 4095 - 2030 - 30


def test_servo_refuses_eeprom_writes_with_torque_on_and_unknown_modes():
    s = Servo(11, "xl430-w250")
    assert s.write(64, b"\x01") == (0, False)
    assert s.write(11, bytes([MODE_EXTENDED]))[0] == P.ERRNUM_ACCESS  # EEPROM locked under torque
    s.write(64, b"\x00")
    assert s.write(11, bytes([5]))[0] == P.ERRNUM_DATA_RANGE  # XL430 has no current-based position mode
    assert s.write(11, bytes([MODE_EXTENDED]))[0] == 0
    assert s.write(0, b"\x00\x00")[0] == P.ERRNUM_ACCESS  # Model_Number is read-only
    assert Servo(16, "xl330-m288").write(11, bytes([5]))[0] == 0


def test_position_mode_clips_goal_to_limits_extended_mode_does_not():
    s = Servo(11, "xl430-w250")
    s.write(52, (1000).to_bytes(4, "little"))  # Min_Position_Limit
    s.write(48, (3000).to_bytes(4, "little"))  # Max_Position_Limit
    s.write(64, b"\x01")
    s.write(116, (3500).to_bytes(4, "little"))
    assert s.joint_goal() == 3000
    s.write(64, b"\x00")
    s.write(11, bytes([MODE_EXTENDED]))
    s.write(64, b"\x01")
    s.write(116, (3500).to_bytes(4, "little"))
    assert s.joint_goal() == 3500


# --- the bus with ROBOTIS's SDK as the client -------------------------------------------------


@pytest.fixture
def sdk():
    dxl = pytest.importorskip("dynamixel_sdk")
    opened = []

    def connect(bus):
        ph, pk = dxl.PortHandler(bus.port), dxl.PacketHandler(2.0)
        assert ph.openPort() and ph.setBaudRate(1_000_000)
        opened.append(ph)
        return dxl, ph, pk

    yield connect
    for ph in opened:
        ph.closePort()


def test_sdk_ping_read_write_sync_and_bulk(sdk):
    with VirtualBus(servos(FOLLOWER), ServoPlant()) as bus:
        dxl, ph, pk = sdk(bus)
        assert pk.ping(ph, 16) == (1200, dxl.COMM_SUCCESS, 0)
        assert pk.ping(ph, 20)[1] == dxl.COMM_RX_TIMEOUT
        assert pk.write1ByteTxRx(ph, 12, 64, 1) == (dxl.COMM_SUCCESS, 0)
        assert pk.write4ByteTxRx(ph, 12, 116, 2300) == (dxl.COMM_SUCCESS, 0)
        assert pk.write1ByteTxRx(ph, 12, 11, 4) == (dxl.COMM_SUCCESS, P.ERRNUM_ACCESS)
        time.sleep(0.3)
        value, comm, err = pk.read4ByteTxRx(ph, 12, 132)
        assert comm == dxl.COMM_SUCCESS and err == 0 and abs(value - 2300) <= 2
        sw = dxl.GroupSyncWrite(ph, pk, 64, 1)
        for i in (11, 13):
            sw.addParam(i, [1])
        assert sw.txPacket() == dxl.COMM_SUCCESS
        sr = dxl.GroupSyncRead(ph, pk, 64, 1)
        for i, _ in FOLLOWER.values():
            sr.addParam(i)
        assert sr.txRxPacket() == dxl.COMM_SUCCESS
        assert [sr.getData(i, 64, 1) for i, _ in FOLLOWER.values()] == [1, 1, 1, 0, 0, 0]
        br = dxl.GroupBulkRead(ph, pk)
        br.addParam(11, 0, 2)
        br.addParam(16, 7, 1)
        assert br.txRxPacket() == dxl.COMM_SUCCESS
        assert (br.getData(11, 0, 2), br.getData(16, 7, 1)) == (1060, 16)
        assert [g.goals for g in bus.goal_writes()] == [{12: 2300}]
        models, comm = pk.broadcastPing(ph)
        assert comm == dxl.COMM_SUCCESS and models == {i: [m, 52] for i, m in
                                                       zip([11, 12, 13, 14, 15, 16], [1060] * 3 + [1200] * 3)}


def test_sdk_sees_faults_and_the_bus_recovers(sdk):
    with VirtualBus(servos(FOLLOWER)) as bus:
        dxl, ph, pk = sdk(bus)
        bus.corrupt_next(1)
        assert pk.ping(ph, 11)[1] == dxl.COMM_RX_CORRUPT
        bus.drop_next(1)
        assert pk.ping(ph, 11)[1] == dxl.COMM_RX_TIMEOUT
        bus.set_error(13, P.HW_OVERLOAD)
        _, comm, err = pk.read1ByteTxRx(ph, 13, 70)
        assert comm == dxl.COMM_SUCCESS and err == P.ERRBIT_ALERT
        assert pk.read1ByteTxRx(ph, 13, 70)[0] == P.HW_OVERLOAD
        assert pk.write1ByteTxRx(ph, 13, 64, 1)[1] == P.ERRBIT_ALERT
        assert not bus.torque_enabled()[2]  # overload is in Shutdown: torque stays off
        ph.writePort(bytes([0xFF, 0xFF, 0xFD, 0x00, 0x0B, 0x40, 0x00, 0x02]))  # a truncated packet
        time.sleep(0.1)
        bus.clear_faults()
        assert pk.ping(ph, 11) == (1060, dxl.COMM_SUCCESS, 0)
        assert bus.counters.corrupted_replies == 1 and bus.counters.dropped_replies == 1


# --- LeRobot's unmodified OMX drivers ----------------------------------------------------------


class _HandPlant:
    """A leader moved by a hand (torque or not, goals ignored): joint ticks follow ``f(t)``."""

    def __init__(self, f):
        self.f, self.t0 = f, None

    def reset(self, joint_ticks):
        self.x = np.asarray(joint_ticks, dtype=float)

    def advance(self, goal_ticks, torque_on, now):
        self.t0 = now if self.t0 is None else self.t0
        return self.f(now - self.t0)


def _hand(t: float) -> np.ndarray:
    """Sinusoids of +-300 ticks about 2048 for 1 s, then a hold."""
    s = min(t, 1.0)
    return 2048.0 + 300.0 * np.sin(2 * math.pi * s / 1.0 + np.arange(6))


@pytest.mark.lerobot
def test_lerobot_dynamixel_bus_connects_reads_and_writes(tmp_path):
    from lerobot.motors import Motor, MotorNormMode
    from lerobot.motors.dynamixel import DynamixelMotorsBus

    with VirtualBus(servos(FOLLOWER, [2048.0, 1500.0, 2600.0, 2048.0, 2048.0, 2048.0]), ServoPlant()) as vb:
        bus = DynamixelMotorsBus(vb.port, {n: Motor(i, m, MotorNormMode.RANGE_M100_100) for n, (i, m) in
                                           FOLLOWER.items()})
        bus.connect()
        try:
            raw = bus.sync_read("Present_Position", normalize=False)
            assert raw == {"shoulder_pan": 2048, "shoulder_lift": 1500, "elbow_flex": 2600, "wrist_flex": 2048,
                           "wrist_roll": 2048, "gripper": 2048}
            assert bus.read("Model_Number", "gripper", normalize=False) == 1200
            bus.write("Homing_Offset", "elbow_flex", -100)
            assert bus.read("Homing_Offset", "elbow_flex", normalize=False) == -100
            assert bus.read("Present_Position", "elbow_flex", normalize=False) == 2500
            with pytest.raises(RuntimeError):
                bus.enable_torque("elbow_flex")
                bus.write("Operating_Mode", "elbow_flex", 4)  # EEPROM under torque: the servo refuses
        finally:
            bus.disconnect(disable_torque=True)


@pytest.mark.lerobot
def test_lerobot_omx_leader_to_follower_teleop(tmp_path):
    from lerobot.robots.omx_follower import OmxFollower, OmxFollowerConfig
    from lerobot.teleoperators.omx_leader import OmxLeader, OmxLeaderConfig

    follower_bus = VirtualBus(servos(FOLLOWER), ServoPlant(), name="omx-follower").start()
    leader_bus = VirtualBus(servos(LEADER), _HandPlant(_hand), name="omx-leader").start()
    robot = OmxFollower(OmxFollowerConfig(port=follower_bus.port, id="vf", calibration_dir=tmp_path / "f"))
    teleop = OmxLeader(OmxLeaderConfig(port=leader_bus.port, id="vl", calibration_dir=tmp_path / "l"))
    try:
        robot.connect()  # no calibration file: LeRobot writes the factory calibration, asks nothing
        teleop.connect()
        assert robot.is_calibrated and teleop.is_calibrated
        assert (tmp_path / "f" / "vf.json").is_file() and (tmp_path / "l" / "vl.json").is_file()
        assert follower_bus.torque_enabled() == [True] * 6
        assert follower_bus.get_register(16, "Operating_Mode") == 5 and follower_bus.get_register(11, "Operating_Mode") == 4
        assert leader_bus.get_register(6, "Drive_Mode") == 1 and leader_bus.get_register(6, "Homing_Offset") == 100
        n0 = follower_bus.goal_write_count()
        t_end = time.monotonic() + 1.5
        steps = 0
        while time.monotonic() < t_end:
            robot.send_action(teleop.get_action())
            steps += 1
            time.sleep(0.02)
        assert steps > 10 and follower_bus.goal_write_count() >= n0 + steps
        time.sleep(0.4)  # the follower's servos settle on the last goal
        obs = robot.get_observation()
        assert set(obs) == {f"{n}.pos" for n in FOLLOWER}
        leader = leader_bus.joint_ticks()
        follower = follower_bus.joint_ticks()
        # Body joints: same 0..4095 range on both arms, so the same ticks (LeRobot rounds to a tick).
        np.testing.assert_allclose(follower[:5], leader[:5], atol=3)
        # Gripper: the leader's is reversed with Homing_Offset 100, so the follower mirrors it.
        assert abs(follower[5] - (4095 - leader[5] + 100)) <= 3
    finally:
        for dev in (teleop, robot):
            if dev.is_connected:
                dev.disconnect()
        follower_bus.close()
        leader_bus.close()


def test_registry_names_the_omx_and_rejects_unknown_robots():
    from armtwin.robots import registry

    spec = registry.get("omx")
    assert spec.bus == "dynamixel" and spec.constants_module().LEROBOT_ROBOT_TYPE == "omx_follower"
    with pytest.raises(KeyError, match="valid robots: so101, omx"):
        registry.get("koch")


def test_cli_virtual_arm_serves_an_omx(sdk):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "armtwin", "virtual-arm", "--robot", "omx", "--role", "follower",
                             "--duration", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("port: "), (line, proc.stderr.read() if proc.poll() is not None else "")
        import dynamixel_sdk as dxl

        ph, pk = dxl.PortHandler(line.split()[1]), dxl.PacketHandler(2.0)
        assert ph.openPort() and ph.setBaudRate(1_000_000)
        assert [pk.ping(ph, i)[:2] for i in (11, 16)] == [(1060, 0), (1200, 0)]
        ph.closePort()
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_virtual_arm_refuses_twin_flags_for_the_omx(capsys):
    """The OMX's virtual servos are plants, not its MuJoCo twin: --env and the other twin flags are refused,
    naming them, instead of being ignored."""
    from armtwin.cli import main

    assert main(["virtual-arm", "--robot", "omx", "--role", "follower", "--env", "armtwin/OMX-Lift-v0",
                 "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--env" in err and "--robot so101" in err
