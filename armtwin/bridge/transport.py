"""One transport interface, two backends: rclpy (inside a ROS 2 install) or a bare Cyclone DDS
participant that is wire-compatible with ROS 2 (what this machine has).

Both backends move CDR bytes: the publisher hands over ``messages.encode(msg)``, a
subscription returns the bytes that arrived, and ``armtwin.bridge.messages`` decodes and
validates them. That keeps one codec, lets the recorder store the exact bytes, and lets a
malformed message be counted instead of raising inside the transport.

What the Cyclone backend does to look like ROS 2 (``rmw_cyclonedds``) on the wire:
topic ``/x`` -> DDS topic ``rt/x``; type ``pkg/msg/T`` -> ``pkg::msg::dds_::T_``; XCDR1 data
representation; reliable / volatile / keep-last 10 by default; domain ``ROS_DOMAIN_ID``
(default 0); endpoint USER_DATA ``typehash=RIHS01_...;``; participant USER_DATA
``enclave=/;``. It does not publish ``ros_discovery_info``, so ``ros2 topic list/echo``
see the topics but ``ros2 node list`` does not list a node.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from armtwin.bridge import messages as M

BACKENDS = ("auto", "cyclone", "rclpy")


@dataclass(frozen=True)
class QosProfile:
    """ROS 2's default profile unless told otherwise: reliable, volatile, keep-last ``depth``."""

    reliable: bool = True
    depth: int = 10

    def __post_init__(self):
        if not 1 <= self.depth <= 10_000:
            raise ValueError(f"QoS history depth must be in 1..10000, got {self.depth}")


@dataclass(frozen=True)
class Received:
    """One message as it arrived: ``data`` CDR bytes (with encapsulation header),
    ``recv_ns`` time.time_ns() when taken, ``source_ns`` the writer's source timestamp if known."""

    data: bytes
    recv_ns: int
    source_ns: int | None = None


def domain_id_from_env(domain_id: int | None = None) -> int:
    """``domain_id`` if given, else ``$ROS_DOMAIN_ID``, else 0; ROS 2 allows 0..232 (101 and up: Linux only)."""
    if domain_id is None:
        raw = os.environ.get("ROS_DOMAIN_ID", "").strip()
        try:
            domain_id = int(raw) if raw else 0
        except ValueError:
            raise ValueError(f"ROS_DOMAIN_ID must be an integer in 0..232, got {raw!r}") from None
    if not 0 <= int(domain_id) <= 232:
        raise ValueError(f"ROS domain id must be in 0..232, got {domain_id}")
    return int(domain_id)


class Publisher(ABC):
    @abstractmethod
    def publish(self, data: bytes) -> None:
        """Send one CDR-encoded message."""

    @abstractmethod
    def matched(self) -> int:
        """Number of subscriptions currently matched (for waiting on discovery)."""


class Subscription(ABC):
    @abstractmethod
    def take(self) -> list[Received]:
        """All messages that arrived since the last call, oldest first (non-blocking)."""

    @abstractmethod
    def matched(self) -> int:
        """Number of publishers currently matched."""


class Backend(ABC):
    """A ROS 2 graph participant. Use ``choose_backend`` to get one."""

    name: str

    @abstractmethod
    def create_publisher(self, ros_topic: str, ros_type: str, *, qos: QosProfile = QosProfile()) -> Publisher: ...

    @abstractmethod
    def create_subscription(self, ros_topic: str, ros_type: str, *, qos: QosProfile = QosProfile()) -> Subscription:
        ...

    @abstractmethod
    def wait(self, timeout_s: float) -> bool:
        """Block until some subscription has data or ``timeout_s`` passes; True if data is waiting."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """One line for start-up output: which backend, domain, middleware version."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- Cyclone DDS -----------------------------------------------------------------------


class _CyclonePublisher(Publisher):
    def __init__(self, writer, ros_type: str):
        self._writer = writer
        self._ros_type = ros_type

    def publish(self, data: bytes) -> None:
        self._writer.write(M.raw_sample(self._ros_type, data))

    def matched(self) -> int:
        return len(self._writer.get_matched_subscriptions())


class _CycloneSubscription(Subscription):
    def __init__(self, reader):
        self._reader = reader

    def take(self) -> list[Received]:
        out = []
        while True:
            samples = self._reader.take(N=64)
            if not samples:
                return out
            now = time.time_ns()
            for s in samples:
                info = getattr(s, "sample_info", None)
                if info is not None and not info.valid_data:
                    continue
                out.append(Received(bytes(s), now, getattr(info, "source_timestamp", None)))

    def matched(self) -> int:
        return len(self._reader.get_matched_publications())


#: Cyclone DDS configuration of a loopback-only participant: interface ``lo``, no multicast,
#: discovery by unicast to this machine's participants.
CYCLONE_LOOPBACK_XML = (
    '<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo"/></Interfaces>'
    "<AllowMulticast>false</AllowMulticast></General><Discovery><Peers><Peer address=\"127.0.0.1\"/></Peers>"
    "<ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>40</MaxAutoParticipantIndex>"
    "</Discovery></Domain></CycloneDDS>"
)


class CycloneBackend(Backend):
    """A Cyclone DDS participant speaking ROS 2's wire conventions (no ROS 2 install needed).

    ``loopback=True``: this machine only (:data:`CYCLONE_LOOPBACK_XML`, whatever
    ``CYCLONEDDS_URI`` says). Otherwise the network configuration comes from ``CYCLONEDDS_URI``
    as for any Cyclone application. DDS has no authentication here (no DDS Security): whoever
    reaches the participant's domain can publish to its topics.
    """

    name = "cyclone"

    def __init__(self, *, domain_id: int | None = None, loopback: bool = False):
        from cyclonedds.core import WaitSet
        from cyclonedds.domain import Domain, DomainParticipant
        from cyclonedds.qos import Policy, Qos

        self.domain_id = domain_id_from_env(domain_id)
        self.loopback = loopback
        self._domain = None
        if loopback:
            try:
                self._domain = Domain(self.domain_id, config=CYCLONE_LOOPBACK_XML)
            except Exception as e:  # noqa: BLE001  e.g. the domain already exists in this process
                raise ValueError(f"cannot create a loopback-only DDS domain {self.domain_id}: {e}") from None
        self._participant = DomainParticipant(self.domain_id, qos=Qos(Policy.Userdata(b"enclave=/;")))
        self._waitset = WaitSet(self._participant)
        self._topics: dict[str, object] = {}
        self._conditions = []
        self._entities = []

    def _topic(self, ros_topic: str, ros_type: str):
        from cyclonedds.topic import Topic

        dds_name = M.dds_topic_name(ros_topic)
        if dds_name not in self._topics:
            if ros_type not in M.RAW_TYPES:
                raise ValueError(f"unsupported message type {ros_type!r}; supported: {', '.join(M.RAW_TYPES)}")
            self._topics[dds_name] = (Topic(self._participant, dds_name, M.RAW_TYPES[ros_type]), ros_type)
        topic, existing = self._topics[dds_name]
        if existing != ros_type:
            raise ValueError(f"topic {ros_topic} already carries {existing}, cannot also carry {ros_type}")
        return topic

    @staticmethod
    def _qos(ros_type: str, qos: QosProfile):
        from cyclonedds.qos import Policy, Qos
        from cyclonedds.util import duration

        rel = (
            Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100))
            if qos.reliable
            else Policy.Reliability.BestEffort
        )
        return Qos(
            rel,
            Policy.Durability.Volatile,
            Policy.History.KeepLast(qos.depth),
            Policy.DataRepresentation(use_cdrv0_representation=True),
            Policy.Userdata(M.user_data(ros_type)),
        )

    def create_publisher(self, ros_topic, ros_type, *, qos=QosProfile()):
        from cyclonedds.pub import DataWriter

        writer = DataWriter(self._participant, self._topic(ros_topic, ros_type), qos=self._qos(ros_type, qos))
        self._entities.append(writer)
        return _CyclonePublisher(writer, ros_type)

    def create_subscription(self, ros_topic, ros_type, *, qos=QosProfile()):
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState
        from cyclonedds.sub import DataReader

        reader = DataReader(self._participant, self._topic(ros_topic, ros_type), qos=self._qos(ros_type, qos))
        cond = ReadCondition(reader, SampleState.NotRead | ViewState.Any | InstanceState.Any)
        self._waitset.attach(cond)
        self._conditions.append(cond)
        self._entities.append(reader)
        return _CycloneSubscription(reader)

    def wait(self, timeout_s: float) -> bool:
        from cyclonedds.util import duration

        if not self._conditions:
            time.sleep(max(0.0, timeout_s))
            return False
        return self._waitset.wait(duration(microseconds=max(0, int(timeout_s * 1e6)))) > 0

    def close(self) -> None:
        # Dropping the participant deletes its children in Cyclone; keep the order explicit.
        for c in self._conditions:
            try:
                self._waitset.detach(c)
            except Exception:
                pass
        self._conditions.clear()
        self._entities.clear()
        self._topics.clear()
        self._waitset = None
        self._participant = None
        self._domain = None

    def describe(self) -> str:
        from importlib.metadata import version

        net = ("loopback only: this machine" if self.loopback
               else f"network per CYCLONEDDS_URI={os.environ.get('CYCLONEDDS_URI', '(default: all interfaces)')}")
        return (
            f"transport: cyclone (Cyclone DDS python {version('cyclonedds')}, ROS 2 wire conventions, "
            f"domain {self.domain_id}, {net}; no authentication)"
        )


# --- rclpy ------------------------------------------------------------------------------


class _RclpyPublisher(Publisher):
    def __init__(self, pub):
        self._pub = pub

    def publish(self, data: bytes) -> None:
        self._pub.publish(bytes(data))  # rclpy publishes serialized bytes as they are

    def matched(self) -> int:
        return self._pub.get_subscription_count()


class _RclpySubscription(Subscription):
    def __init__(self):
        self.queue: deque[Received] = deque()
        self.sub = None

    def callback(self, data: bytes) -> None:
        self.queue.append(Received(bytes(data), time.time_ns()))

    def take(self) -> list[Received]:
        out = list(self.queue)
        self.queue.clear()
        return out

    def matched(self) -> int:
        return self.sub.get_publisher_count() if self.sub is not None else 0


class RclpyBackend(Backend):
    """An rclpy node (used when a ROS 2 install is sourced). Subscriptions use ``raw=True`` so
    the bridge sees the CDR bytes exactly as with the Cyclone backend."""

    name = "rclpy"

    def __init__(self, *, domain_id: int | None = None, node_name: str = "armtwin_bridge", loopback: bool = False):
        import rclpy  # noqa: F401  (ImportError here means: no ROS 2 install sourced)
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.domain_id = domain_id_from_env(domain_id)
        self.loopback = loopback
        if loopback:  # read by the RMW at init: Humble's switch, and Iron's and later
            os.environ["ROS_LOCALHOST_ONLY"] = "1"
            os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self._rclpy = rclpy
        self._context = Context()
        rclpy.init(context=self._context, domain_id=self.domain_id)
        self._node = rclpy.create_node(node_name, context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._subs: list[_RclpySubscription] = []

    @staticmethod
    def _msg_class(ros_type: str):
        import importlib

        pkg, _, name = ros_type.split("/")
        return getattr(importlib.import_module(f"{pkg}.msg"), name)

    @staticmethod
    def _qos(qos: QosProfile):
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=qos.depth,
            reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.VOLATILE,
        )

    def create_publisher(self, ros_topic, ros_type, *, qos=QosProfile()):
        M.dds_topic_name(ros_topic)  # same validation as the Cyclone backend
        return _RclpyPublisher(self._node.create_publisher(self._msg_class(ros_type), ros_topic, self._qos(qos)))

    def create_subscription(self, ros_topic, ros_type, *, qos=QosProfile()):
        M.dds_topic_name(ros_topic)
        s = _RclpySubscription()
        s.sub = self._node.create_subscription(
            self._msg_class(ros_type), ros_topic, s.callback, self._qos(qos), raw=True
        )
        self._subs.append(s)
        return s

    def wait(self, timeout_s: float) -> bool:
        self._executor.spin_once(timeout_sec=max(0.0, timeout_s))
        return any(s.queue for s in self._subs)

    def close(self) -> None:
        self._executor.shutdown()
        self._node.destroy_node()
        self._rclpy.shutdown(context=self._context)

    def describe(self) -> str:
        net = "loopback only: this machine" if self.loopback else "network per the RMW's configuration"
        return (f"transport: rclpy (RMW {os.environ.get('RMW_IMPLEMENTATION', 'default')}, domain {self.domain_id}, "
                f"{net}; no authentication unless SROS 2 is configured)")


def rclpy_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("rclpy") is not None


def choose_backend(kind: str = "auto", *, domain_id: int | None = None, loopback: bool = False) -> Backend:
    """``"auto"``: rclpy when importable (a ROS 2 install), else Cyclone. Raises ValueError
    naming the valid choices for an unknown ``kind``, ImportError if rclpy is asked for and absent."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown transport backend {kind!r}; valid: {', '.join(BACKENDS)}")
    if kind == "rclpy" or (kind == "auto" and rclpy_available()):
        if not rclpy_available():
            raise ImportError("transport 'rclpy' asked for but rclpy is not importable (source a ROS 2 install)")
        return RclpyBackend(domain_id=domain_id, loopback=loopback)
    return CycloneBackend(domain_id=domain_id, loopback=loopback)


def wait_for_match(endpoint: Publisher | Subscription, backend: Backend, *, timeout_s: float, count: int = 1) -> bool:
    """Wait until ``endpoint`` has matched ``count`` peers (discovery), True if it did in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if endpoint.matched() >= count:
            return True
        time.sleep(0.01)
    return endpoint.matched() >= count
