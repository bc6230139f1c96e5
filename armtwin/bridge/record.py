"""``armtwin bridge record``: subscribe to joint topics and write every message to a rosbag2 MCAP
bag (:class:`armtwin.bridge.bag.BagRecorder`), stamped with its receive time (ns since the epoch)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from armtwin.assets import so101_constants as C
from armtwin.bridge import messages as M
from armtwin.bridge.bag import BagRecorder, bag_paths
from armtwin.bridge.session import check_transport
from armtwin.bridge.stream import StopFlag
from armtwin.bridge.transport import QosProfile, choose_backend


@dataclass
class RecordConfig:
    """What ``armtwin bridge record`` does: subscribe to ``topics`` (``"topic"`` or
    ``"topic:joint_state|joint_trajectory"``) and write every message to a rosbag2 MCAP bag."""

    out: str = "run.mcap"
    topics: tuple[str, ...] = (C.ROS_JOINT_STATES_TOPIC,)
    duration_s: float | None = None
    max_messages: int | None = None
    backend: str = "auto"
    domain_id: int | None = None
    reliable: bool = True
    depth: int = 100

    def __post_init__(self):
        check_transport(self)
        if self.max_messages is not None and self.max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {self.max_messages}")
        if not self.topics:
            raise ValueError("record needs at least one topic")
        self.topics = tuple(self.topics)
        self.topic_types()  # validates
        bag_dir, _ = bag_paths(self.out)
        if bag_dir.exists():
            raise ValueError(f"--out: bag directory {bag_dir} exists already (a bag is never replaced); "
                             "choose another --out")

    def topic_types(self) -> dict[str, str]:
        kinds = {"joint_state": M.JOINT_STATE_ROS_TYPE, "joint_trajectory": M.JOINT_TRAJECTORY_ROS_TYPE}
        out = {}
        for spec in self.topics:
            topic, _, kind = spec.partition(":")
            kind = kind or "joint_state"
            if kind not in kinds:
                raise ValueError(f"unknown message kind {kind!r} in {spec!r}; valid: {', '.join(kinds)}")
            M.dds_topic_name(topic)
            out[topic] = kinds[kind]
        return out


def run_record(cfg: RecordConfig, *, out=sys.stdout) -> dict:
    """Record until ``duration_s``, ``max_messages`` or SIGINT/SIGTERM; returns a summary."""
    stop = StopFlag().install()
    backend = choose_backend(cfg.backend, domain_id=cfg.domain_id)
    print(f"armtwin bridge record: {backend.describe()}", file=out, flush=True)
    types = cfg.topic_types()
    counts = {t: 0 for t in types}
    try:
        with BagRecorder(cfg.out, types, reliable=cfg.reliable) as rec:
            subs = {t: backend.create_subscription(t, ty, qos=QosProfile(reliable=cfg.reliable, depth=cfg.depth))
                    for t, ty in types.items()}
            print(f"armtwin bridge record: {', '.join(types)} -> {rec.mcap_path}", file=out, flush=True)
            t0 = time.monotonic()
            while not stop.stopped:
                left = None if cfg.duration_s is None else cfg.duration_s - (time.monotonic() - t0)
                if left is not None and left <= 0:
                    break
                if cfg.max_messages is not None and rec.count >= cfg.max_messages:
                    break
                backend.wait(0.1 if left is None else min(0.1, left))
                for topic, sub in subs.items():
                    for r in sub.take():
                        rec.write(topic, r.recv_ns, r.data)
                        counts[topic] += 1
    finally:
        backend.close()
        stop.restore()
    summary = {"bag": str(rec.bag_dir), "mcap": str(rec.mcap_path), "messages": counts}
    print(f"armtwin bridge record: wrote {sum(counts.values())} messages to {rec.bag_dir}", file=out, flush=True)
    return summary
