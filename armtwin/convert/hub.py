"""Upload a converted dataset to the Hugging Face hub (``armtwin convert lerobot --push``).

Goes through LeRobot's own ``LeRobotDataset.push_to_hub`` so the hub repo looks exactly like one
``lerobot-record`` pushes: a dataset repo with the files, LeRobot's dataset card and the
codebase-version tag ("v3.0") that LeRobot's loader resolves. Credentials come from the usual
``huggingface_hub`` places (``HF_TOKEN``, ``hf auth login``).
"""

from __future__ import annotations

from pathlib import Path

#: Tags added to the dataset card besides LeRobot's own.
TAGS = ("armtwin", "so101", "simulation")


def push_dataset(root: str | Path, repo_id: str, *, private: bool = False, branch: str | None = None) -> str:
    """Upload the LeRobot v3.0 dataset at ``root`` as ``repo_id``; returns the dataset's hub URL."""
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="armtwin convert lerobot --push")
    from huggingface_hub import constants
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(repo_id, root=Path(root))
    ds.push_to_hub(branch=branch, tags=list(TAGS), private=private)
    return f"{constants.ENDPOINT}/datasets/{repo_id}"
