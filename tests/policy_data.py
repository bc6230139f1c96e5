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

import os
import subprocess
import sys
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


def tiny_act(dataset_root: Path, out_dir: Path, *, steps: int = 10) -> Path:
    """Train a tiny ACT for ``steps`` steps with ``lerobot-train``; returns its pretrained_model directory."""
    exe = Path(sys.executable).parent / "lerobot-train"
    cmd = [
        str(exe), f"--dataset.repo_id={REPO_ID}", f"--dataset.root={dataset_root}", "--policy.type=act",
        "--policy.device=cpu", "--policy.dim_model=32", "--policy.n_heads=2", "--policy.dim_feedforward=64",
        "--policy.n_encoder_layers=1", "--policy.n_decoder_layers=1", "--policy.n_vae_encoder_layers=1",
        "--policy.chunk_size=10", "--policy.n_action_steps=10", "--policy.pretrained_backbone_weights=null",
        "--policy.push_to_hub=false", f"--steps={steps}", "--batch_size=2", "--num_workers=0",
        f"--save_freq={steps}", "--log_freq=5", "--eval_freq=0", "--wandb.enable=false",
        f"--output_dir={out_dir}", "--job_name=tiny_act",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"lerobot-train failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    model = out_dir / "checkpoints" / "last" / "pretrained_model"
    if not (model / "config.json").is_file():
        raise RuntimeError(f"lerobot-train wrote no pretrained_model under {out_dir}: {sorted(out_dir.rglob('*'))[:20]}")
    return model
