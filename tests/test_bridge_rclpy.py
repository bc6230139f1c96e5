"""The rclpy backend, against a stand-in for rclpy (this machine has no ROS 2; rclpy is not on PyPI).

The fake is the transport edge only: an in-memory graph with rclpy's API shape (init with a
context and domain id, nodes, publishers taking serialized bytes, ``raw=True`` subscriptions,
an executor's ``spin_once``). Everything above it (backend choice, the publish loop, the
receive path with validation) is the real bridge code.
"""

import sys
import types
from collections import defaultdict

import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M


class _Graph:
    def __init__(self):
        self.pending = defaultdict(list)  # topic -> [bytes]
        self.subs = defaultdict(list)  # topic -> [(callback, raw, msg_type)]
        self.inits = []


def _fake_rclpy(graph: _Graph):
    rclpy = types.ModuleType("rclpy")
    context = types.ModuleType("rclpy.context")
    executors = types.ModuleType("rclpy.executors")
    qos = types.ModuleType("rclpy.qos")

    class Context:
        pass

    class Publisher:
        def __init__(self, msg_type, topic):
            self.msg_type, self.topic = msg_type, topic

        def publish(self, msg):
            assert isinstance(msg, bytes), "the bridge publishes serialized messages"
            graph.pending[self.topic].append(msg)

        def get_subscription_count(self):
            return len(graph.subs[self.topic])

    class Subscription:
        def __init__(self, topic):
            self.topic = topic

        def get_publisher_count(self):
            return 1

    class Node:
        def __init__(self, name):
            self.name = name

        def create_publisher(self, msg_type, topic, qos_profile):
            assert qos_profile.reliability == "RELIABLE" and qos_profile.depth >= 1
            return Publisher(msg_type, topic)

        def create_subscription(self, msg_type, topic, callback, qos_profile, raw=False):
            graph.subs[topic].append((callback, raw, msg_type))
            return Subscription(topic)

        def destroy_node(self):
            pass

    class SingleThreadedExecutor:
        def __init__(self, context=None):
            self.nodes = []

        def add_node(self, node):
            self.nodes.append(node)

        def spin_once(self, timeout_sec=None):
            for topic, msgs in list(graph.pending.items()):
                for data in msgs:
                    for cb, raw, _ in graph.subs[topic]:
                        assert raw, "the bridge subscribes raw, to see the CDR bytes"
                        cb(data)
                msgs.clear()

        def shutdown(self):
            pass

    class _Enum:
        def __getattr__(self, name):
            return name

    class QoSProfile:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    def init(context=None, domain_id=None):
        graph.inits.append(domain_id)

    rclpy.init = init
    rclpy.create_node = lambda name, context=None: Node(name)
    rclpy.shutdown = lambda context=None: None
    context.Context = Context
    executors.SingleThreadedExecutor = SingleThreadedExecutor
    qos.QoSProfile = QoSProfile
    qos.ReliabilityPolicy = qos.DurabilityPolicy = qos.HistoryPolicy = _Enum()
    sensor_msgs = types.ModuleType("sensor_msgs")
    sensor_msgs_msg = types.ModuleType("sensor_msgs.msg")
    sensor_msgs_msg.JointState = type("JointState", (), {})
    return {"rclpy": rclpy, "rclpy.context": context, "rclpy.executors": executors, "rclpy.qos": qos,
            "sensor_msgs": sensor_msgs, "sensor_msgs.msg": sensor_msgs_msg}


@pytest.fixture
def fake_ros(monkeypatch):
    from armtwin.bridge import transport

    graph = _Graph()
    for name, mod in _fake_rclpy(graph).items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(transport, "rclpy_available", lambda: True)
    monkeypatch.setenv("ROS_DOMAIN_ID", "17")
    return graph


def test_auto_picks_rclpy_when_importable_and_moves_cdr_bytes(fake_ros):
    from armtwin.bridge.stream import JointStreamReceiver
    from armtwin.bridge.transport import RclpyBackend, choose_backend

    backend = choose_backend("auto")
    assert isinstance(backend, RclpyBackend) and fake_ros.inits == [17]
    assert backend.describe().startswith("transport: rclpy")
    sub = backend.create_subscription("/joint_states", M.JOINT_STATE_ROS_TYPE)
    pub = backend.create_publisher("/joint_states", M.JOINT_STATE_ROS_TYPE)
    assert pub.matched() == 1
    good = M.encode(M.make_joint_state(1_700_000_000 * 10**9, np.linspace(-0.5, 0.5, 6)))
    bad = M.encode(M.make_joint_state(1_700_000_001 * 10**9, np.zeros(5)))
    pub.publish(good)
    pub.publish(bad)
    assert backend.wait(0.0)
    got = sub.take()
    assert [r.data for r in got] == [good, bad]
    rx = JointStreamReceiver(max_age_s=1e9)
    assert rx.feed(got) == 1
    assert rx.current_target() == pytest.approx(np.linspace(-0.5, 0.5, 6))
    assert rx.stats.malformed == {"length_mismatch": 1}
    backend.close()


def test_publish_command_runs_on_the_rclpy_backend(fake_ros, tmp_path):
    import io
    import json

    from armtwin.bridge.publisher import PublishConfig, run_publish

    out = io.StringIO()
    report = run_publish(PublishConfig(source="script", rate_hz=200, duration_s=0.2, backend="auto",
                                       report=str(tmp_path / "r.json")), out=out)
    assert "transport: rclpy" in out.getvalue()
    received = fake_ros.pending["/joint_states"]  # what went into the (fake) ROS 2 graph
    assert report["transport"] == "rclpy" and len(received) == report["sent"] >= 20
    msg = M.decode(M.JOINT_STATE_ROS_TYPE, received[0])
    assert list(msg.name) == list(C.JOINT_NAMES)
    assert json.loads((tmp_path / "r.json").read_text())["sent"] == report["sent"]
