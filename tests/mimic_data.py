"""Test data for the MimicGen tests: small hand-written recordings in the docs/interfaces.md layout."""

import json

import h5py
import numpy as np

LIFT = "armtwin/SO101-Lift-v0"


def write_layout_file(path, demos, env_id=LIFT, *, drop_actions_of=None):
    """A minimal file in the docs/interfaces.md layout: {name: {"grasp": (T,) signal}} demos, with
    datagen_info poses that move (so shapes and values are real, not placeholders). ``drop_actions_of``:
    a demo written without ``actions`` (what every reader must refuse)."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = json.dumps({"env_name": env_id, "type": "armtwin", "env_kwargs": {}})
        data.attrs["fps"] = 30.0
        total = 0
        for name, signals in demos.items():
            T = len(next(iter(signals.values())))
            g = data.create_group(name)
            g.attrs["num_samples"] = T
            g.attrs["success"] = True
            if name != drop_actions_of:
                g.create_dataset("actions", data=np.zeros((T, 6)))
            poses = np.tile(np.eye(4), (T, 1, 1))
            poses[:, 0, 3] = np.linspace(0.1, 0.2, T)
            g.create_dataset("datagen_info/eef_pose", data=poses)
            g.create_dataset("datagen_info/target_eef_pose", data=poses)
            g.create_dataset("datagen_info/gripper_action", data=np.zeros((T, 1)))
            g.create_dataset("datagen_info/object_poses/cube", data=np.tile(np.eye(4), (T, 1, 1)))
            for k, v in signals.items():
                g.create_dataset(f"datagen_info/subtask_term_signals/{k}", data=np.asarray(v, dtype=np.int8))
            total += T
        data.attrs["total"] = total
