"""rosbag2 (MCAP) recording of what the bridge publishes or receives, written with ``rosbags``.

A bag is a directory: ``--out run.mcap`` makes ``run/`` holding ``run.mcap`` and
``metadata.yaml``, which ``ros2 bag play run/`` (Iron and later: bag format version 8)
replays. Messages are stored as the exact CDR bytes that went over the wire, stamped
with the time they were sent or received (ns since the epoch).

The bag is written under a temporary directory next to the target and moved into place
on ``close()`` (:func:`armtwin.staging.staged_dir`), so an interrupted run leaves no half-written
bag at the target path, and what a killed run left beside it is removed by the next writer there.

Only the writing and reading of bags lives here; the ``armtwin bridge record`` command is
:mod:`armtwin.bridge.record`, and the other commands' ``--record`` goes through
:class:`armtwin.bridge.session.BridgeSession`.
"""

from __future__ import annotations

from pathlib import Path

from armtwin.bridge import messages as M
from armtwin.staging import staged_dir


class _Aborted(Exception):
    """Thrown into the staging on ``abort()``: it removes the temporary bag instead of moving it into place."""


def bag_paths(out: str | Path) -> tuple[Path, Path]:
    """``out`` -> (bag directory, MCAP file inside it). ``run.mcap`` and ``run`` both give ``run/run.mcap``."""
    out = Path(out)
    bag_dir = out.with_suffix("") if out.suffix == ".mcap" else out
    if not bag_dir.name:
        raise ValueError(f"bad bag path {str(out)!r}")
    return bag_dir, bag_dir / f"{bag_dir.name}.mcap"


def _ros_default_qos(reliable: bool, depth: int):
    """The offered QoS stored per topic, which ``ros2 bag play`` replays with (infinite times as ROS 2 writes them)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    inf = QosTime(sec=2147483647, nsec=4294967295)
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=depth,
        reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.VOLATILE,
        deadline=inf,
        lifespan=inf,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=inf,
        avoid_ros_namespace_conventions=False,
    )


class BagRecorder:
    """Write CDR messages of the bridge's topics to a rosbag2 MCAP bag.

    ``topics``: ROS topic -> ROS type (``"sensor_msgs/msg/JointState"``...). Use as a context
    manager or call ``close()``; ``abort()`` drops everything written.
    """

    def __init__(self, out: str | Path, topics: dict[str, str], *, reliable: bool = True, depth: int = 10):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        self.bag_dir, self.mcap_path = bag_paths(out)
        if self.bag_dir.exists():
            raise FileExistsError(f"bag directory {self.bag_dir} exists already; choose another --out")
        # The bag outlives any one with-block (close() and abort() are separate calls), so the staging's
        # context manager is entered here and exited there. nested: rosbags' Writer makes the directory and
        # names the MCAP file after it, so it writes to <staging>/<name>.
        self._stage = staged_dir(self.bag_dir, nested=True)
        tmp = self._stage.__enter__()
        self._closed = False
        self._writer = None
        try:
            typestore = get_typestore(Stores.LATEST)
            writer = Writer(tmp, version=8, storage_plugin=StoragePlugin.MCAP)
            writer.open()
            self._writer = writer  # only an open writer is closed by abort()
            self._connections = {}
            for topic, ros_type in topics.items():
                M.dds_topic_name(topic)
                if ros_type not in M.IDL_TYPES:
                    raise ValueError(f"cannot record {ros_type!r}; supported types: {', '.join(M.IDL_TYPES)}")
                self._connections[topic] = self._writer.add_connection(
                    topic, ros_type, typestore=typestore, offered_qos_profiles=[_ros_default_qos(reliable, depth)]
                )
        except BaseException:
            self.abort()
            raise
        self.count = 0

    def write(self, topic: str, t_ns: int, data: bytes) -> None:
        try:
            conn = self._connections[topic]
        except KeyError:
            raise KeyError(f"topic {topic!r} not set up for recording; recording: {', '.join(self._connections)}")
        self._writer.write(conn, int(t_ns), bytes(data))
        self.count += 1

    def close(self) -> Path:
        """Finish the bag and move it to its target; returns the bag directory."""
        if self._closed:
            return self.bag_dir
        self._closed = True
        try:
            self._writer.close()
        except BaseException as e:
            self._stage.__exit__(type(e), e, e.__traceback__)
            raise
        self._stage.__exit__(None, None, None)
        return self.bag_dir

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            err = _Aborted(f"bag {self.bag_dir} aborted")
            self._stage.__exit__(_Aborted, err, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or exc_type is KeyboardInterrupt:
            self.close()
        else:
            self.abort()


def read_bag(bag_dir: str | Path) -> list[tuple[str, int, object]]:
    """All messages of a bag as (topic, timestamp ns, rosbags message), in time order."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    typestore = get_typestore(Stores.LATEST)
    out = []
    with Reader(Path(bag_dir)) as reader:
        for conn, t, raw in reader.messages():
            out.append((conn.topic, t, typestore.deserialize_cdr(raw, conn.msgtype)))
    return out
