"""Regenerates ``recording_v0.h5``: a small armtwin recording pinned as the on-disk format.

The committed file was written by the recorder as it was before ``armtwin.data`` existed
(``armtwin/teleop/recorder.py`` at commit ee17b79); ``tests/test_data_golden.py`` checks that today's
reader, validator and resume read it unchanged. Rerunning this script writes the same content with
today's writer (the test then also pins that the writer did not drift)::

    python tests/golden/regen_recording.py            # writes tests/golden/recording_v0.h5

It holds two finished demos (one generated-style, with ``src_demo_inds``) and an interrupted\nepisode in ``/incomplete`` as a crash leaves it. Synthetic values (no env, no images bigger than 4x5) keep the file a few tens of KB.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

try:
    from armtwin.data import Recorder, RecorderConfig
except ImportError:  # the pre-armtwin.data code that wrote the committed file
    from armtwin.teleop.recorder import Recorder, RecorderConfig

OUT = Path(__file__).with_name("recording_v0.h5")
ENV_ARGS = {"env_name": "armtwin/SO101-PickPlace-v0", "type": "armtwin",
            "env_kwargs": {"ctrl_dt": 1 / 30, "image_size": [4, 5], "reset_distribution": "D0"}}
T = (6, 4)
STATE = 20


def steps(k: int, n: int):
    rng = np.random.default_rng(k)
    for t in range(n):
        q = rng.uniform(-1, 1, 6)
        pose = np.eye(4)
        pose[:3, 3] = rng.uniform(-0.2, 0.2, 3)
        obs = {"joint_pos": q, "joint_vel": rng.normal(size=6), "eef_pos": pose[:3, 3].copy(),
               "instruction": "put the red cube on the plate",
               "images": {"front": rng.integers(0, 255, (4, 5, 3), dtype=np.uint8),
                          "wrist": rng.integers(0, 255, (4, 5, 3), dtype=np.uint8)}}
        dg = {"eef_pose": pose, "target_eef_pose": pose + 0.001, "gripper_action": np.array([q[5]]),
              "object_poses": {"cube": np.eye(4), "plate": np.eye(4)},
              "subtask_term_signals": {"grasp": int(t >= n // 2), "place": 0}}
        yield obs, q + 0.01, rng.normal(size=STATE), dg, t / 30


def main(out: Path = OUT) -> Path:
    out.unlink(missing_ok=True)
    with Recorder(RecorderConfig(out, env_args=ENV_ARGS, fps=30.0, flush_every=2)) as rec:
        for k, n in enumerate(T):
            attrs = {"mimic_generated": True, "src_demo_inds": np.array([0, 1])} if k == 1 else None
            rec.begin_episode(seed=100 + k, instruction="put the red cube on the plate", attrs=attrs)
            for obs, a, s, dg, ts in steps(k, n):
                rec.add_step(obs, a, state=s, datagen_info=dg, timestamp=ts)
            rec.end_episode(success=(k == 0))
        # What a crash leaves: demo_2 opened, 3 steps added, 2 of them flushed, then the process dies
        # (the file handle is dropped without ending or discarding the episode).
        rec.begin_episode(seed=102, instruction="put the red cube on the plate")
        for obs, a, s, dg, ts in steps(2, 3):
            rec.add_step(obs, a, state=s, datagen_info=dg, timestamp=ts)
        rec._file.close()
        rec._file = None
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
