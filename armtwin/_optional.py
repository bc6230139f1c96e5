"""Optional dependencies: one check, one message, for every feature behind an extra.

The core (envs, assets, teleop, mimic, bridge, the converter's writing side) needs neither torch
nor LeRobot. The parts that do (``--target real``, the LeRobot plugin, reading LeRobot datasets
back, ``--push``) call :func:`require` right before their first LeRobot import, so a missing
extra is reported as what to install instead of a bare ``ModuleNotFoundError`` deep inside.
"""

from __future__ import annotations

import importlib.util


def require(module: str, *, extra: str, what: str) -> None:
    """Raise ImportError naming ``pip install 'armtwin[<extra>]'`` if ``module`` is not importable.

    ``module``: top-level import name (e.g. "lerobot"); ``extra``: armtwin's optional-dependency
    group that provides it; ``what``: the feature that needs it, for the message.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        found = False
    if not found:
        raise ImportError(
            f"{what} needs the '{module}' package, which is not installed; "
            f"install it with: pip install 'armtwin[{extra}]'"
        )
