"""Test-wide environment: offscreen rendering, no hub, no wandb; the torchvision hook; the core/LeRobot split.

Tests that need LeRobot or torch carry the ``lerobot`` marker. Where LeRobot is not installed
(the core environment: ``pip install -e '.[test]'``, e.g. ``.venv-core312`` in ``.ci/run``) they
are skipped with a reason saying so; everything else runs. With LeRobot installed nothing is skipped.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

HAVE_LEROBOT = importlib.util.find_spec("lerobot") is not None
NO_LEROBOT_REASON = "needs LeRobot and torch (pip install 'armtwin[lerobot]' or ./dev.sh); this is the core environment"


def _tv_compat():
    """The torchvision import hook of this machine's environment (``requirements/tv_compat.py``).

    ``dev.sh`` installs it into the venv as ``armtwin_tv_compat`` (with a .pth that activates it);
    an environment set up otherwise gets it from the repository file. It is a no-op without torch.
    """
    try:
        import armtwin_tv_compat as mod
    except ImportError:
        path = Path(__file__).resolve().parents[1] / "requirements" / "tv_compat.py"
        spec = importlib.util.spec_from_file_location("armtwin_tv_compat", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["armtwin_tv_compat"] = mod
        spec.loader.exec_module(mod)
    return mod


_tv_compat().install()


def pytest_collection_modifyitems(config, items):
    if HAVE_LEROBOT:
        return
    skip = pytest.mark.skip(reason=NO_LEROBOT_REASON)
    for item in items:
        if item.get_closest_marker("lerobot") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def lerobot_loaded():
    """Import LeRobot before any virtual bus serves, and freeze the heap: one full GC pass over
    LeRobot's ~400k objects takes ~0.7 s here, and while it runs the in-process virtual servos
    cannot answer within LeRobot's ~50 ms packet timeout. Without LeRobot (the core environment)
    only the freeze is done: the tests that drive LeRobot's driver are skipped there."""
    import gc

    if HAVE_LEROBOT:
        _tv_compat().declare_missing_ops()
        import lerobot.robots.so_follower  # noqa: F401
        import lerobot.teleoperators.so_leader  # noqa: F401

    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory):
    """A 3-episode LeRobot v3.0 dataset of scripted Lift demos at 32x32 (tests/policy_data.py), once per session."""
    if not HAVE_LEROBOT:
        pytest.skip(NO_LEROBOT_REASON)
    from policy_data import tiny_dataset

    return tiny_dataset(tmp_path_factory.mktemp("tiny_dataset") / "lerobot")


@pytest.fixture(scope="session")
def tiny_act_checkpoint(tiny_dataset_dir, tmp_path_factory):
    """``checkpoints/last/pretrained_model`` of a tiny ACT that ``lerobot-train`` trained for 10 steps on
    ``tiny_dataset_dir`` (~15 s on 2 cores), once per session."""
    from policy_data import tiny_act

    return tiny_act(tiny_dataset_dir, tmp_path_factory.mktemp("tiny_act") / "train")


@pytest.fixture(scope="session")
def tiny_state_dataset_dir(tmp_path_factory):
    """3 scripted Lift demos without cameras, converted with ``--environment-state``, once per session."""
    if not HAVE_LEROBOT:
        pytest.skip(NO_LEROBOT_REASON)
    from policy_data import tiny_state_dataset

    return tiny_state_dataset(tmp_path_factory.mktemp("tiny_state_dataset") / "lerobot")


@pytest.fixture(scope="session")
def tiny_state_act_checkpoint(tiny_state_dataset_dir, tmp_path_factory):
    """A tiny ACT trained by ``lerobot-train`` on ``tiny_state_dataset_dir`` (state + environment state)."""
    from policy_data import tiny_act

    return tiny_act(tiny_state_dataset_dir, tmp_path_factory.mktemp("tiny_state_act") / "train")
