"""Where LeRobot keeps an arm's calibration file: the one lookup armtwin uses (teleop, bridge, virtual-arm).

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

from armtwin.assets import so101_constants as C

#: role -> (LeRobot's device kind folder, LeRobot's device name): ``ROBOTS``/``TELEOPERATORS`` in
#: ``lerobot.utils.constants`` and ``SO101Follower.name``/``SO101Leader.name`` (the SO-101 constants).
LEROBOT_DEVICE_DIRS: dict[str, tuple[str, str]] = {
    "follower": ("robots", C.LEROBOT_ROBOT_TYPE),
    "leader": ("teleoperators", C.LEROBOT_TELEOP_TYPE),
}


def lerobot_calibration_root() -> Path:
    """LeRobot's ``HF_LEROBOT_CALIBRATION`` (see the module docstring)."""
    try:
        from lerobot.utils.constants import HF_LEROBOT_CALIBRATION
    except ImportError:  # LeRobot not installed: the same rule, read from the environment
        return _calibration_root_from_env(os.environ)
    return Path(HF_LEROBOT_CALIBRATION)


def _calibration_root_from_env(environ) -> Path:
    """LeRobot 0.4.4's rule for ``HF_LEROBOT_CALIBRATION`` applied to ``environ`` (a mapping)."""
    default_hf_home = os.path.join(environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")),
                                   "huggingface")
    hf_home = os.path.expandvars(os.path.expanduser(environ.get("HF_HOME", default_hf_home)))
    lerobot_home = Path(environ.get("HF_LEROBOT_HOME", Path(hf_home) / "lerobot")).expanduser()
    return Path(environ.get("HF_LEROBOT_CALIBRATION", lerobot_home / "calibration")).expanduser()


def lerobot_calibration_dir(role: str) -> Path:
    """The folder LeRobot looks in for an SO-101 ``role``'s ``<id>.json`` ("follower" or "leader")."""
    if role not in LEROBOT_DEVICE_DIRS:
        raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(LEROBOT_DEVICE_DIRS)}")
    kind, name = LEROBOT_DEVICE_DIRS[role]
    return lerobot_calibration_root() / kind / name
