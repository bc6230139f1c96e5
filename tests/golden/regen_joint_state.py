"""Regenerate tests/golden/joint_state_cdr.bin: a fixed sensor_msgs/msg/JointState serialized by
rosbags (the offline reference for ROS 2's CDR bytes), independent of armtwin's own codec.

    .venv/bin/python tests/golden/regen_joint_state.py

The message (GOLDEN_* below) is what tests/test_bridge_messages.py rebuilds with armtwin's
IDL types; both must give these bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C

GOLDEN_PATH = Path(__file__).with_name("joint_state_cdr.bin")
GOLDEN_STAMP = (1_700_000_000, 123_456_789)  # sec, nanosec
GOLDEN_POSITION = [0.1, -0.25, 0.5, -1.0, 2.0, 0.75]  # rad, C.JOINT_NAMES order
GOLDEN_VELOCITY = [0.0, 0.5, -0.5, 1.5, -2.5, 0.125]  # rad/s
GOLDEN_EFFORT: list[float] = []  # unknown: sent empty, as the bridge does


def rosbags_bytes() -> bytes:
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    T = ts.types["builtin_interfaces/msg/Time"]
    H = ts.types["std_msgs/msg/Header"]
    JS = ts.types["sensor_msgs/msg/JointState"]
    msg = JS(
        header=H(stamp=T(sec=GOLDEN_STAMP[0], nanosec=GOLDEN_STAMP[1]), frame_id=C.ROS_FRAME_ID),
        name=list(C.JOINT_NAMES),
        position=np.array(GOLDEN_POSITION, dtype=np.float64),
        velocity=np.array(GOLDEN_VELOCITY, dtype=np.float64),
        effort=np.array(GOLDEN_EFFORT, dtype=np.float64),
    )
    return bytes(ts.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


if __name__ == "__main__":
    data = rosbags_bytes()
    tmp = GOLDEN_PATH.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(GOLDEN_PATH)
    print(f"wrote {GOLDEN_PATH} ({len(data)} bytes)")
