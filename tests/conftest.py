"""Test-wide environment: offscreen rendering, no hub, no wandb."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def lerobot_loaded():
    """Import LeRobot before any virtual bus serves, and freeze the heap: one full GC pass over
    LeRobot's ~400k objects takes ~0.7 s here, and while it runs the in-process virtual servos
    cannot answer within LeRobot's ~50 ms packet timeout."""
    import gc

    from armtwin import _tv_compat

    _tv_compat.declare_missing_ops()
    import lerobot.robots.so_follower  # noqa: F401
    import lerobot.teleoperators.so_leader  # noqa: F401

    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
