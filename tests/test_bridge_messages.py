"""The bridge's message layer: CDR bytes equal to rosbags' (the offline ROS 2 reference), ROS 2
names and type hashes, validation of malformed input, the MCAP recorder. No network here."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge import validate as V

GOLDEN_DIR = Path(__file__).parent / "golden"


def _regen_module():
    spec = importlib.util.spec_from_file_location("regen_joint_state", GOLDEN_DIR / "regen_joint_state.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _golden_msg(g):
    sec, nsec = g.GOLDEN_STAMP
    return M.make_joint_state(sec * 1_000_000_000 + nsec, g.GOLDEN_POSITION, velocity=g.GOLDEN_VELOCITY,
                              effort=g.GOLDEN_EFFORT or None)


def test_golden_file_is_what_rosbags_serializes_today():
    g = _regen_module()
    assert (GOLDEN_DIR / "joint_state_cdr.bin").read_bytes() == g.rosbags_bytes()


def test_our_encoding_equals_golden_rosbags_bytes():
    g = _regen_module()
    golden = (GOLDEN_DIR / "joint_state_cdr.bin").read_bytes()
    ours = M.encode(_golden_msg(g))
    assert ours[:4] == b"\x00\x01\x00\x00"  # XCDR1 (plain CDR), little-endian
    assert ours == golden
    # and back: our decoder reads rosbags' bytes to the same message
    back = M.decode(M.JOINT_STATE_ROS_TYPE, golden)
    assert back == _golden_msg(g)


def test_random_joint_states_match_rosbags_bytes():
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    rng = np.random.default_rng(0)
    for k in range(20):
        n = int(rng.integers(1, 7))
        names = list(rng.choice(C.JOINT_NAMES, size=n, replace=False))
        stamp = int(rng.integers(0, 2**31 - 1)) * 1_000_000_000 + int(rng.integers(0, 10**9))
        pos, vel = rng.normal(size=n), rng.normal(size=n) if k % 2 else None
        eff = rng.normal(size=n) if k % 3 == 0 else None
        frame = "f" * int(rng.integers(0, 9))
        ours = M.encode(M.make_joint_state(stamp, pos, velocity=vel, effort=eff, names=names, frame_id=frame))
        ref = ts.deserialize_cdr(ours, M.JOINT_STATE_ROS_TYPE)
        assert list(ref.name) == names and ref.header.frame_id == frame
        np.testing.assert_array_equal(ref.position, pos)
        assert bytes(ts.serialize_cdr(ref, M.JOINT_STATE_ROS_TYPE)) == ours


def test_trajectory_bytes_match_rosbags():
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    msg = M.make_joint_trajectory(1_700_000_000_500_000_000, [0.5, 1.25], np.arange(12.0).reshape(2, 6) / 10)
    ours = M.encode(msg)
    ref = ts.deserialize_cdr(ours, M.JOINT_TRAJECTORY_ROS_TYPE)
    assert list(ref.joint_names) == list(C.JOINT_NAMES)
    assert ref.points[1].time_from_start.sec == 1 and ref.points[1].time_from_start.nanosec == 250_000_000
    assert bytes(ts.serialize_cdr(ref, M.JOINT_TRAJECTORY_ROS_TYPE)) == ours


def test_names_and_type_hashes_are_ros2s():
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    for ros_type, h in M.TYPE_HASHES.items():
        assert ts.hash_rihs01(ros_type) == h
        assert M.user_data(ros_type) == f"typehash={h};".encode()
    assert M.dds_type_name(M.JOINT_STATE_ROS_TYPE) == "sensor_msgs::msg::dds_::JointState_"
    assert M.JointState.__idl_typename__ == "sensor_msgs::msg::dds_::JointState_"
    assert M.RAW_TYPES[M.JOINT_STATE_ROS_TYPE].__idl_typename__ == "sensor_msgs::msg::dds_::JointState_"
    assert M.dds_topic_name(C.ROS_JOINT_STATES_TOPIC) == "rt/joint_states"
    for bad in ("joint_states", "/a//b", "/x/", ""):
        with pytest.raises(ValueError, match="topic"):
            M.dds_topic_name(bad)


def _js(**kw):
    base = dict(stamp_ns=10**18, position=[0.0] * 6)
    base.update(kw)
    return M.make_joint_state(base.pop("stamp_ns"), base.pop("position"), **base)


@pytest.mark.parametrize(
    "msg, reason",
    [
        (lambda: _js(position=[0.0] * 5), "length_mismatch"),
        (lambda: _js(velocity=[0.0] * 3), "length_mismatch"),
        (lambda: _js(effort=[0.0] * 7), "length_mismatch"),
        (lambda: _js(names=["shoulder_pan", "elbow", "a", "b", "c", "d"]), "unknown_joint"),
        (lambda: _js(names=["gripper"] * 6), "duplicate_joint"),
        (lambda: _js(position=[0.0, math.nan, 0, 0, 0, 0]), "non_finite"),
        (lambda: _js(velocity=[math.inf] * 6), "non_finite"),
        (lambda: _js(position=[], names=[]), "empty"),
    ],
)
def test_malformed_joint_states_are_rejected_with_reason(msg, reason):
    data = M.encode(msg())
    with pytest.raises(M.MalformedMessage) as ei:
        V.validate_joint_state(M.decode(M.JOINT_STATE_ROS_TYPE, data))
    assert ei.value.reason == reason


def test_wrong_types_and_garbage_are_rejected():
    with pytest.raises(M.MalformedMessage) as ei:
        M.decode(M.JOINT_STATE_ROS_TYPE, b"\x00\x01\x00\x00\xff\xff\xff\x7f")  # absurd string length
    assert ei.value.reason == "undecodable"
    with pytest.raises(M.MalformedMessage) as ei:
        M.decode(M.JOINT_STATE_ROS_TYPE, b"\x00\x07\x00\x00" + bytes(60))  # not CDR encapsulation
    assert ei.value.reason == "undecodable"
    # a trajectory decoded as if it were a JointState: wrong type, not a crash
    traj = M.make_joint_trajectory(10**18, [1.0], np.zeros((1, 6)))
    with pytest.raises(M.MalformedMessage) as ei:
        V.validate_joint_state(traj)
    assert ei.value.reason == "wrong_type"

    class Fake:
        name = ["shoulder_pan"]
        position = ["a lot"]
        velocity = []
        effort = []
        header = M.Header(M.Time(1, 0), "x")

    with pytest.raises(M.MalformedMessage) as ei:
        V.validate_joint_state(Fake())
    assert ei.value.reason == "wrong_type"


def test_partial_joint_state_sets_only_named_joints():
    t = V.validate_joint_state(M.decode(M.JOINT_STATE_ROS_TYPE, M.encode(
        _js(names=["gripper", "shoulder_pan"], position=[0.5, -0.25], velocity=[1.0, 2.0]))))
    assert t.mask.tolist() == [True, False, False, False, False, True]
    assert t.position[0] == -0.25 and t.position[5] == 0.5 and np.isnan(t.position[1])
    assert t.velocity[5] == 1.0 and t.effort is None


def test_trajectory_validation_and_sampling():
    plan = V.validate_joint_trajectory(M.decode(M.JOINT_TRAJECTORY_ROS_TYPE, M.encode(
        M.make_joint_trajectory(10**18, [1.0, 2.0], [[0.0], [1.0]], names=["wrist_roll"]))))
    assert plan.mask.tolist() == [False, False, False, False, True, False]
    assert plan.sample(10**18 + 1_500_000_000)[4] == pytest.approx(0.5)
    assert plan.sample(10**18)[4] == 0.0 and plan.sample(10**18 + 9 * 10**9)[4] == 1.0
    bad = M.make_joint_trajectory(10**18, [2.0, 1.0], np.zeros((2, 6)))
    with pytest.raises(M.MalformedMessage):
        V.validate_joint_trajectory(bad)


def _captured_log(*, interval_s: float):
    """A RateLimitedLog whose lines land in the returned list (written pieces, as the stream got them)."""
    from armtwin.bridge.stream import RateLimitedLog

    lines: list[str] = []

    class Sink:
        def write(self, s):
            lines.append(s)

        def flush(self):
            pass

    return RateLimitedLog(interval_s=interval_s, stream=Sink()), lines


def test_receiver_drops_out_of_order_stale_and_malformed():
    from armtwin.bridge.stream import JointStreamReceiver
    from armtwin.bridge.transport import Received

    log, lines = _captured_log(interval_s=60)

    rx = JointStreamReceiver(max_age_s=0.5, log=log)
    now = 17 * 10**17
    good = [Received(M.encode(_js(stamp_ns=now + i * 10**7, position=[0.1 * i] * 6)), now + i * 10**7 + 10**5)
            for i in range(3)]
    assert rx.feed(good) == 3
    assert rx.current_target() == pytest.approx([0.2] * 6)
    old = Received(M.encode(_js(stamp_ns=now, position=[9.0] * 6)), now + 10**8)
    stale = Received(M.encode(_js(stamp_ns=now + 10**8, position=[9.0] * 6)), now + 10**8 + 6 * 10**8)
    nan = [Received(M.encode(_js(stamp_ns=now + 10**9 + i, position=[math.nan] * 6)), now + 10**9 + i)
           for i in range(1, 5)]
    assert rx.feed([old, stale, *nan]) == 0
    assert rx.current_target() == pytest.approx([0.2] * 6)
    s = rx.stats.summary()
    assert (s["received"], s["accepted"], s["dropped_out_of_order"], s["dropped_stale"]) == (9, 3, 1, 1)
    assert s["malformed"] == {"non_finite": 4}
    # rate-limited: one line per kind, the repeats suppressed
    assert sum("non_finite" in line for line in lines) == 1


def test_recorder_writes_mcap_that_rosbags_reads_back(tmp_path):
    from armtwin.bridge.bag import BagRecorder, read_bag

    with BagRecorder(tmp_path / "run.mcap", {"/joint_states": M.JOINT_STATE_ROS_TYPE}) as rec:
        for i in range(5):
            rec.write("/joint_states", 10**18 + i, M.encode(_js(stamp_ns=10**18 + i, position=[i / 10] * 6)))
    assert (tmp_path / "run" / "run.mcap").is_file() and (tmp_path / "run" / "metadata.yaml").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # temp dir removed
    msgs = read_bag(tmp_path / "run")
    assert [t for _, t, _ in msgs] == [10**18 + i for i in range(5)]
    assert msgs[3][2].position.tolist() == [0.3] * 6
    from rosbags.interfaces import QosDurability, QosReliability
    from rosbags.rosbag2 import Reader

    with Reader(tmp_path / "run") as reader:  # what `ros2 bag play` reads: type, hash, offered QoS
        (conn,) = reader.connections
        assert conn.msgtype == M.JOINT_STATE_ROS_TYPE and conn.digest == M.TYPE_HASHES[M.JOINT_STATE_ROS_TYPE]
        (qos,) = conn.ext.offered_qos_profiles
        assert qos.reliability == QosReliability.RELIABLE and qos.durability == QosDurability.VOLATILE
    with pytest.raises(FileExistsError):
        BagRecorder(tmp_path / "run.mcap", {"/joint_states": M.JOINT_STATE_ROS_TYPE})


def test_recorder_abort_leaves_nothing(tmp_path):
    from armtwin.bridge.bag import BagRecorder

    with pytest.raises(RuntimeError):
        with BagRecorder(tmp_path / "x.mcap", {"/joint_states": M.JOINT_STATE_ROS_TYPE}) as rec:
            rec.write("/joint_states", 1, M.encode(_js()))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_configs_reject_bad_input_listing_choices():
    from armtwin.bridge.command import CommandConfig
    from armtwin.bridge.mirror import MirrorConfig
    from armtwin.bridge.publisher import PublishConfig
    from armtwin.bridge.transport import choose_backend

    with pytest.raises(ValueError, match="sim, real, virtual, script"):
        PublishConfig(source="robot")
    with pytest.raises(ValueError, match="serial port"):
        PublishConfig(source="real")
    with pytest.raises(ValueError, match="joint_state, joint_trajectory"):
        CommandConfig(msg_type="twist")
    with pytest.raises(ValueError, match="topic"):
        MirrorConfig(topic="joint_states")
    with pytest.raises(ValueError, match="auto, cyclone, rclpy"):
        choose_backend("zenoh")


def test_backend_choice_without_rclpy_is_cyclone(monkeypatch):
    from armtwin.bridge import transport

    assert "rclpy" not in sys.modules
    monkeypatch.setattr(transport, "rclpy_available", lambda: False)
    with pytest.raises(ImportError, match="rclpy"):
        transport.choose_backend("rclpy")


def test_refusal_messages_quote_sender_data_bounded():
    """A hostile sender's names or times appear in a refusal cut to about QUOTE_CHARS, the rest counted."""
    from armtwin.bridge.stream import JointStreamReceiver
    from armtwin.bridge.transport import Received

    log, lines = _captured_log(interval_s=0)

    long_names = [f"joint_{i}_" + "x" * 1000 for i in range(2000)]
    msgs = [
        _js(names=long_names, position=[0.0] * 2000),
        _js(names=["gripper"] * 2000, position=[0.0] * 2000),
        _js(names=["shoulder_pan", "y" * 100_000], position=[0.0, 0.0]),
    ]
    rx = JointStreamReceiver(max_age_s=0.5, log=log)
    now = 17 * 10**17
    assert rx.feed([Received(M.encode(m), now) for m in msgs]) == 0
    assert rx.stats.summary()["malformed"] == {"unknown_joint": 2, "duplicate_joint": 1}
    lines = "".join(lines).splitlines()
    assert len(lines) == 3
    for line in lines:
        assert len(line) < 1000, len(line)
    assert "more)" in lines[0] and "SO-101 joints are" in lines[0]
    assert "more)" in lines[1]
    assert "more characters" in lines[2]
    times = np.arange(2000, 0, -1, dtype=float)
    bad = M.make_joint_trajectory(10**18, times, np.zeros((2000, 6)))
    with pytest.raises(M.MalformedMessage) as ei:
        V.validate_joint_trajectory(bad)
    assert len(str(ei.value)) < 1000 and "more)" in str(ei.value)
    assert M.quote([1, 2, 3]) == "[1, 2, 3]"
