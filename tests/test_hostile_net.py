"""Hostile input on the listening parts: no single message takes over an arm or locks it out.

* ROS 2 bridge (``JointStreamReceiver`` + the command loop's watchdog stamp): a JointState stamped
  an hour ahead is refused, later legitimate messages are obeyed at once, and the safety layer's
  watchdog measures from the local receive time.
* Network leader: a datagram with the largest sequence number, then a restarted publisher
  numbering from 1: the publisher is obeyed; the port is exclusive; a stream that stays silent
  ends the episode (as a failure) after a bounded hold instead of recording holds forever.
"""

from __future__ import annotations

import socket
import time

import pytest

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge.command import _input_stamp
from armtwin.bridge.stream import JointStreamReceiver, RateLimitedLog
from armtwin.bridge.transport import Received
from armtwin.robots.safety import SafeFollower, SafetyConfig
from armtwin.robots.sim import SimFollower, SimFollowerConfig
from armtwin.teleop.loop import ControlLoop, LoopConfig
from armtwin.teleop.sides import SimSide
from armtwin.teleop.net import NET_FORMAT, NET_MAGIC, NetLeader, NetLeaderConfig, NetPublisher

ENV = "armtwin/SO101-Lift-v0"
HOUR_NS = 3600 * 10**9


class _Sink:
    def __init__(self):
        self.lines = []

    def write(self, s):
        self.lines.append(s)

    def flush(self):
        pass


def _rx(**kw):
    sink = _Sink()
    return JointStreamReceiver(max_age_s=0.25, log=RateLimitedLog(interval_s=0, stream=sink), **kw), sink


def _msg(stamp_ns, value, recv_ns=None):
    return Received(M.encode(M.make_joint_state(stamp_ns, [value] * 6)), time.time_ns() if recv_ns is None else recv_ns)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(cond, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


# ------------------------------------------------------------------ ROS 2 bridge


def test_future_stamped_joint_state_neither_takes_over_nor_locks_out():
    rx, sink = _rx()
    now = time.time_ns()
    assert rx.feed([_msg(now, 0.1)]) == 1
    # One hostile message stamped an hour ahead: refused, counted, logged.
    assert rx.feed([_msg(time.time_ns() + HOUR_NS, 1.0)]) == 0
    assert rx.current_target() == pytest.approx([0.1] * 6)
    # The very next legitimate message is obeyed.
    t_legit = time.time_ns()
    assert rx.feed([_msg(t_legit, 0.3)]) == 1
    assert rx.current_target() == pytest.approx([0.3] * 6)
    s = rx.stats.summary()
    assert s["dropped_future"] == 1 and s["dropped_out_of_order"] == 0 and s["accepted"] == 2
    assert any("future" in line for line in sink.lines)


def test_stamp_slightly_ahead_does_not_hide_the_messages_after_it():
    """Within the future window (accepted), a stamp ahead of our clock still cannot make the
    legitimate messages after it look out of order: ordering never runs ahead of the receive time."""
    rx, _ = _rx()
    t0 = time.time_ns()
    assert rx.feed([_msg(t0 + 200_000_000, 1.0, recv_ns=t0)]) == 1  # 0.2 s ahead (< max_future_s)
    assert rx.feed([_msg(t0 + 10_000_000, 0.3, recv_ns=t0 + 10_000_000)]) == 1  # 10 ms later, honest
    assert rx.current_target() == pytest.approx([0.3] * 6)
    assert rx.stats.out_of_order == 0


def test_a_jump_back_beyond_the_window_is_a_counted_reset_not_a_lock():
    rx, sink = _rx(reorder_window_s=0.05)
    t0 = time.time_ns()
    assert rx.feed([_msg(t0, 0.1, recv_ns=t0)]) == 1
    assert rx.feed([_msg(t0 - 20_000_000, 0.5, recv_ns=t0 + 1_000)]) == 0  # 20 ms back: a late duplicate
    assert rx.feed([_msg(t0 - 150_000_000, 0.2, recv_ns=t0 + 2_000)]) == 1  # 150 ms back: restarted stream
    assert rx.current_target() == pytest.approx([0.2] * 6)
    assert rx.stats.resets == 1 and rx.stats.out_of_order == 1
    assert any("jumped back" in line for line in sink.lines)


def test_bridge_watchdog_measures_from_local_receive_time():
    """The command loop's stamp for the safety layer: after a legitimate stream stops, the
    watchdog holds the follower within its timeout, whatever stamp the last message carried."""
    sim = SimFollower(SimFollowerConfig(env_id=ENV, image_size=None, ctrl_dt=0.01))
    follower = SafeFollower(sim, SafetyConfig.for_converter(sim.converter, watchdog_timeout_s=0.25))
    rx, _ = _rx()  # max_future_s: max_age_s, 0.25 s
    try:
        sim.connect()
        # Accepted (0.15 s ahead is within the future window): the watchdog must still not
        # think this input is younger than its arrival.
        assert rx.feed([_msg(time.time_ns() + 150_000_000, 0.05)]) == 1
        t_rx = time.monotonic()
        follower.send_action(sim.converter.to_lerobot_dict(rx.current_target()), stamp=_input_stamp(rx, follower))
        assert follower.events["stale_hold"] == 0
        # Nothing more arrives: once the arrival is older than the timeout, every command is a hold.
        assert _wait_for(lambda: time.monotonic() - t_rx > 0.3)
        follower.send_action(sim.converter.to_lerobot_dict(rx.current_target()), stamp=_input_stamp(rx, follower))
        assert follower.events["stale_hold"] == 1
        # A fresh legitimate message is obeyed again at once.
        assert rx.feed([_msg(time.time_ns(), 0.1)]) == 1
        follower.send_action(sim.converter.to_lerobot_dict(rx.current_target()), stamp=_input_stamp(rx, follower))
        assert follower.events["stale_hold"] == 1
    finally:
        sim.disconnect()


# ------------------------------------------------------------------ network leader


def _raw(port, seq, value):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(NET_FORMAT.pack(NET_MAGIC, seq, time.time(), *[float(value)] * 6), ("127.0.0.1", port))


def test_max_sequence_datagram_then_restarted_publisher_is_obeyed():
    port = free_port()
    leader = NetLeader(NetLeaderConfig(listen=f"127.0.0.1:{port}", wait_first_s=0, stale_s=0.5))
    leader.connect()
    try:
        pub = NetPublisher(f"127.0.0.1:{port}")
        for v in (1.0, 2.0):
            pub.publish(dict.fromkeys(C.LEROBOT_MOTOR_KEYS, v))
        assert _wait_for(lambda: leader.get_action()["gripper.pos"] == 2.0)
        _raw(port, 2**64 - 1, 9.0)  # hostile: the largest sequence number there is
        assert _wait_for(lambda: leader.get_action()["gripper.pos"] == 9.0)
        # The publisher restarts and numbers from 1 again: obeyed at its first datagram.
        pub.close()
        pub = NetPublisher(f"127.0.0.1:{port}")
        t_sent = time.monotonic()
        pub.publish(dict.fromkeys(C.LEROBOT_MOTOR_KEYS, 3.0))
        assert _wait_for(lambda: leader.get_action()["gripper.pos"] == 3.0, timeout_s=2.0)
        obeyed_after_s = time.monotonic() - t_sent
        assert obeyed_after_s < 0.25  # within the safety watchdog's default timeout
        pub.publish(dict.fromkeys(C.LEROBOT_MOTOR_KEYS, 4.0))
        assert _wait_for(lambda: leader.get_action()["gripper.pos"] == 4.0)
        assert leader.seq_resets == 2 and leader.last_seq == 2
        # Within the window a late datagram of the live stream is still dropped.
        _raw(port, 1, 7.0)
        pub.publish(dict.fromkeys(C.LEROBOT_MOTOR_KEYS, 5.0))
        assert _wait_for(lambda: leader.get_action()["gripper.pos"] == 5.0)
        assert leader.dropped_old == 1
        pub.close()
    finally:
        leader.disconnect()


def test_net_leader_port_is_exclusive():
    port = free_port()
    leader = NetLeader(NetLeaderConfig(listen=f"127.0.0.1:{port}", wait_first_s=0))
    leader.connect()
    try:
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
        other.close()
        wildcard = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(OSError):
            wildcard.bind(("0.0.0.0", port))
        wildcard.close()
        second = NetLeader(NetLeaderConfig(listen=f"127.0.0.1:{port}", wait_first_s=0))
        with pytest.raises(OSError, match="cannot listen"):
            second.connect()
    finally:
        leader.disconnect()


def _listening(port) -> bool:
    """Something on this machine has a UDP socket bound to ``port`` (Linux: /proc/net/udp)."""
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(f":{port:04X}") for line in list(f)[1:])


def _publish_for(port, values, phases, hz=30.0, wait_listener_s=0.0):
    """A thread publishing ``values`` (LeRobot dict) at ``hz``, one fresh publisher (numbering from 1)
    per entry of ``phases`` (seconds), 0.4 s of silence between them (longer than the leader's
    ``stale_s``: the new numbering is a sequence reset), then silent for good. With
    ``wait_listener_s`` it first waits (up to that long) for the port to be bound."""
    import threading

    def run():
        deadline = time.monotonic() + wait_listener_s
        while wait_listener_s and not _listening(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        for i, duration_s in enumerate(phases):
            if i:
                time.sleep(0.4)
            pub = NetPublisher(f"127.0.0.1:{port}")
            t0 = time.monotonic()
            while time.monotonic() - t0 < duration_s:
                pub.publish(values)
                time.sleep(1.0 / hz)
            pub.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _start_pose():
    sim = SimFollower(SimFollowerConfig(env_id=ENV, image_size=None, ctrl_dt=1.0 / 30))
    try:
        sim.connect()
        return sim.converter.to_lerobot_dict(sim.converter.to_radians(sim.get_observation()))
    finally:
        sim.disconnect()


def test_silent_network_ends_the_episode_after_a_bounded_hold(tmp_path):
    """The stream publishes for 1 s and goes silent: the episode ends after the bounded hold, kept as a
    failure marked end_reason=stale_input, and without the hold-only steps after the last datagram."""
    from armtwin.data import Recorder, RecorderConfig, open_recording

    port = free_port()
    leader = NetLeader(NetLeaderConfig(listen=f"127.0.0.1:{port}", wait_first_s=0, stale_s=0.1))
    leader.connect()
    sim = SimFollower(SimFollowerConfig(env_id=ENV, image_size=None, ctrl_dt=1.0 / 30))
    follower = SafeFollower(sim, SafetyConfig.for_converter(sim.converter))
    try:
        sim.connect()
        start = sim.converter.to_lerobot_dict(sim.converter.to_radians(follower.get_observation()))
        pub = _publish_for(port, start, [1.0])
        assert _wait_for(lambda: (leader._drain(), leader._last)[1] is not None)
        t0 = time.monotonic()
        with Recorder(RecorderConfig(tmp_path / "net.h5", env_args=sim.env_args)) as rec:
            loop = ControlLoop(leader, follower, rec, SimSide(sim),
                               LoopConfig(hz=30, duration_s=20.0, end_on_success=False, print_summary=False))
            loop.run()
        elapsed = time.monotonic() - t0
        pub.join(5)
    finally:
        leader.disconnect()
        sim.disconnect()
    # Ended after the default bounded hold (stale_end_s, 2 s), not at the 20 s duration.
    assert leader.config.stale_end_s == 2.0 and elapsed < 10.0
    assert loop.input_lost and "input is lost" in loop.input_lost
    assert len(loop.results) == 1 and loop.results[0].success is False
    assert loop.results[0].end_reason == "stale_input"
    # The 2 s of holds (about 60 ticks at 30 Hz; fewer on a loaded machine) are not in the demo.
    assert loop.stale_trimmed >= 15 and loop.episode_steps == loop.results[0].steps + loop.stale_trimmed
    with open_recording(tmp_path / "net.h5") as r:
        assert len(r.demo_names) == 1
    import h5py  # reading raw attributes of the written file, as a reader of the format would

    with h5py.File(tmp_path / "net.h5", "r") as f:
        g = f["data/demo_0"]
        assert g.attrs["end_reason"] == "stale_input" and not g.attrs["success"]
        assert g.attrs["num_samples"] == loop.results[0].steps == len(g["actions"]) == len(g["timestamps"])
        assert len(g["states"]) == loop.results[0].steps
        # The last kept step is within the 1 s the publisher ran, not 2 s of holds later.
        assert g["timestamps"][-1] < 1.5, g["timestamps"][-1]


def test_stale_stream_ends_the_session_nonzero_with_its_counters(tmp_path, capsys):
    """``armtwin teleop --leader net``: a publisher that restarts once (a sequence reset) and then goes
    silent; the run exits 1 saying the input went stale, and the summary has the sequence resets."""
    from armtwin.cli import main

    port = free_port()
    pub = _publish_for(port, _start_pose(), [0.7, 0.7], wait_listener_s=60)
    rc = main(["teleop", "--leader", "net", "--listen", f"127.0.0.1:{port}", "--target", "sim", "--env", ENV,
               "--headless", "--hz", "30", "--image-size", "none", "--record", str(tmp_path / "out.h5"),
               "--duration", "30"])
    pub.join(5)
    out, err = capsys.readouterr()
    assert rc == 1, (out, err)
    assert "input went stale" in err and "end_reason=stale_input" in err
    assert f"net leader on 127.0.0.1:{port}:" in out and "1 sequence resets" in out, out
