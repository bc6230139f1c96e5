"""The robots armtwin knows, by name: where each one's constants, bus and LeRobot classes live.

Shared code (the virtual-arm CLI, and whatever else admits more than one arm) asks this registry
instead of testing a robot's name. Entries hold dotted paths, resolved on use, so importing the
registry loads neither LeRobot nor a bus.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from armtwin.assets.models import MODELS


@dataclass(frozen=True)
class RobotSpec:
    """One robot. ``constants``: module path of its constants; ``bus``: "feetech" | "dynamixel";
    ``virtual_arm``: ``module:Class`` of its virtual arm (``Class(config)`` with a ``role``);
    ``lerobot_follower`` / ``lerobot_leader``: ``module:Class`` of LeRobot's drivers."""

    name: str
    constants: str
    bus: str
    virtual_arm: str
    virtual_arm_config: str
    lerobot_follower: str
    lerobot_leader: str

    def __post_init__(self):
        if self.bus not in BUS_KINDS:
            raise ValueError(f"robot {self.name!r}: unknown bus {self.bus!r}; valid buses: {', '.join(BUS_KINDS)}")

    def constants_module(self) -> ModuleType:
        return importlib.import_module(self.constants)

    def resolve(self, field: str):
        """``module:Class`` in ``field`` -> the object (imports its module)."""
        module, _, attr = getattr(self, field).partition(":")
        return getattr(importlib.import_module(module), attr)


BUS_KINDS = ("feetech", "dynamixel")

ROBOTS: dict[str, RobotSpec] = {
    "so101": RobotSpec(
        "so101", MODELS["so101"].constants, "feetech",
        "armtwin.hardware.virtual_arm:VirtualArm", "armtwin.hardware.virtual_arm:VirtualArmConfig",
        "lerobot.robots.so_follower:SO101Follower", "lerobot.teleoperators.so_leader:SO101Leader",
    ),
    "omx": RobotSpec(
        "omx", MODELS["omx"].constants, "dynamixel",
        "armtwin.hardware.virtual_omx:VirtualOmxArm", "armtwin.hardware.virtual_omx:VirtualOmxArmConfig",
        "lerobot.robots.omx_follower:OmxFollower", "lerobot.teleoperators.omx_leader:OmxLeader",
    ),
}


def get(name: str) -> RobotSpec:
    """The robot called ``name``; KeyError naming the valid robots otherwise."""
    try:
        return ROBOTS[name]
    except KeyError:
        raise KeyError(f"unknown robot {name!r}; valid robots: {', '.join(ROBOTS)}") from None
