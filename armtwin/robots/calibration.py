"""Where LeRobot keeps its files (datasets, an arm's calibration): the one lookup armtwin uses (teleop,
bridge, virtual-arm, the policy runner's dataset lookup).

LeRobot 0.4.4 (``lerobot/utils/constants.py``) reads, once, at import::

    HF_HOME                = $HF_HOME or ${XDG_CACHE_HOME:-~/.cache}/huggingface   (huggingface_hub)
    HF_LEROBOT_HOME        = $HF_LEROBOT_HOME or HF_HOME/lerobot
    HF_LEROBOT_CALIBRATION = $HF_LEROBOT_CALIBRATION or HF_LEROBOT_HOME/calibration

and a device's file is ``HF_LEROBOT_CALIBRATION/<robots|teleoperators>/<device name>/<id>.json``
(``lerobot.robots.robot.Robot.calibration_fpath``). When LeRobot is importable its constants are
used (so armtwin and LeRobot's own ``SO101Follower`` agree even if the environment changed after
LeRobot was imported); otherwise the same rule is applied to the environment. Importing this
module imports nothing of LeRobot.
"""

from __future__ import annotations

import os
from pathlib import Path


def lerobot_home() -> Path:
    """LeRobot's ``HF_LEROBOT_HOME`` (datasets by repo id live under it; see the module docstring)."""
    try:
        from lerobot.utils.constants import HF_LEROBOT_HOME
    except ImportError:  # LeRobot not installed: the same rule, read from the environment
        return _lerobot_home_from_env(os.environ)
    return Path(HF_LEROBOT_HOME)


def lerobot_calibration_root() -> Path:
    """LeRobot's ``HF_LEROBOT_CALIBRATION`` (see the module docstring)."""
    try:
        from lerobot.utils.constants import HF_LEROBOT_CALIBRATION
    except ImportError:  # LeRobot not installed: the same rule, read from the environment
        return _calibration_root_from_env(os.environ)
    return Path(HF_LEROBOT_CALIBRATION)


def _lerobot_home_from_env(environ) -> Path:
    """LeRobot 0.4.4's rule for ``HF_LEROBOT_HOME`` applied to ``environ`` (a mapping)."""
    default_hf_home = os.path.join(environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")),
                                   "huggingface")
    hf_home = os.path.expandvars(os.path.expanduser(environ.get("HF_HOME", default_hf_home)))
    return Path(environ.get("HF_LEROBOT_HOME", Path(hf_home) / "lerobot")).expanduser()


def _calibration_root_from_env(environ) -> Path:
    """LeRobot 0.4.4's rule for ``HF_LEROBOT_CALIBRATION`` applied to ``environ`` (a mapping)."""
    home = _lerobot_home_from_env(environ)
    return Path(environ.get("HF_LEROBOT_CALIBRATION", home / "calibration")).expanduser()


def lerobot_calibration_dir(role: str, robot: str = "so101") -> Path:
    """The folder LeRobot looks in for ``robot``'s (default the SO-101's) ``role``'s ``<id>.json``
    ("follower" or "leader"; the folders are the robot constants' ``LEROBOT_CALIBRATION_DIRS``)."""
    from armtwin.assets.models import robot_model

    dirs = robot_model(robot).C.LEROBOT_CALIBRATION_DIRS
    if role not in dirs:
        raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(dirs)}")
    kind, name = dirs[role]
    return lerobot_calibration_root() / kind / name
