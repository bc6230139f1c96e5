"""A tiny LeRobot dataset and a tiny ACT checkpoint made with the project's own tools, for policy tests.

``tiny_state_dataset`` / ``tiny_state_act``: the same demos without cameras, converted with
``--environment-state`` (joint state plus the cube's position): a state-only ACT.
``tiny_dataset``: scripted expert demos recorded through ``armtwin.data.Recorder`` and exported by
``armtwin convert lerobot``. ``tiny_act``: LeRobot's own trainer (``lerobot-train``, in a subprocess)
run for a few steps on it; returns the ``checkpoints/last/pretrained_model`` directory it writes,
exactly what a user would point ``--policy`` at. Nothing is downloaded (no pretrained backbone).
Use the session fixtures ``tiny_dataset_dir`` / ``tiny_act_checkpoint`` (tests/conftest.py): they
build once per test session.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "armtwin/SO101-Lift-v0"
#: (H, W) of the tiny dataset's cameras: small enough for a quick CPU ACT, even for the encoders.
IMAGE_SIZE = (32, 32)
REPO_ID = "armtwin/tiny_lift"


def tiny_dataset(root: Path, *, num: int = 3, image_size=IMAGE_SIZE, env_id: str = ENV_ID,
                 environment_state: bool = False) -> Path:
    """``num`` expert demos of ``env_id`` at ``image_size`` (None: no cameras) as a LeRobot v3.0 dataset
    at ``root``; ``environment_state``: with ``observation.environment_state`` (the converter's option)."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.mimic.sources import record_expert_demos

    h5 = root.parent / f"{root.name}_sources.h5"
    record_expert_demos(env_id, h5, num=num, seed=0, image_size=None if image_size is None else tuple(image_size))
    export_lerobot(LeRobotExportConfig(inputs=(h5,), repo_id=REPO_ID, root=root, vcodec="h264", progress=False,
                                       environment_state=environment_state))
    return root


def tiny_state_dataset(root: Path, *, num: int = 3, env_id: str = ENV_ID) -> Path:
    """Like :func:`tiny_dataset` with no cameras and ``observation.environment_state``."""
    return tiny_dataset(root, num=num, image_size=None, env_id=env_id, environment_state=True)


def tiny_act(dataset_root: Path, out_dir: Path, *, steps: int = 10, overrides: dict | None = None) -> Path:
    """Train a tiny ACT for ``steps`` steps with ``lerobot-train`` (armtwin.policy.train, preset
    ``act-tiny``, with ``overrides``' ``--policy.*`` flags); returns its pretrained_model directory."""
    from armtwin.policy.train import TrainConfig, train_policy

    return train_policy(TrainConfig(dataset_root=dataset_root, repo_id=REPO_ID, out_dir=out_dir, preset="act-tiny",
                                    steps=steps, batch_size=2, log_freq=5, policy_overrides=dict(overrides or {})),
                        echo=False)
