"""The arms the twin simulates, by name: each one's constants module and MJCF module.

What differs between arms lives in those two modules (``<robot>_constants``: joint names, limits,
gripper angles, home pose, site and camera names, LeRobot names; ``<robot>_mjcf``: the model, its
bodies, pads and cameras); the envs, IK and experts ask :func:`robot_model` for them instead of
testing a robot's name. Entries hold module paths, imported on first use, so this table loads
neither MuJoCo nor a robot. ``armtwin.robots.registry`` takes each robot's constants path from here.

A model module provides ``load_arm_model(sim_dt=...)``, ``load_scene_model(objects, statics, *, sim_dt,
cameras, visual)``, ``VISUALS``, ``ARM_BODIES``, ``MOTOR_RGBA``, ``PAD_GEOMS`` (the two jaw pads that
must both touch an object for a grasp) and ``GRIPPER_BODY``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class RobotModel:
    """One arm: ``name``, ``constants`` (module path), ``mjcf`` (module path)."""

    name: str
    constants: str
    mjcf: str

    @property
    def C(self) -> ModuleType:  # noqa: N802 (the constants module is ``C`` everywhere)
        """The robot's constants module."""
        return importlib.import_module(self.constants)

    @property
    def M(self) -> ModuleType:  # noqa: N802
        """The robot's MJCF module."""
        return importlib.import_module(self.mjcf)


MODELS: dict[str, RobotModel] = {
    "so101": RobotModel("so101", "armtwin.assets.so101_constants", "armtwin.assets.so101_mjcf"),
    "omx": RobotModel("omx", "armtwin.assets.omx_constants", "armtwin.assets.omx_mjcf"),
}


def robot_model(name: str) -> RobotModel:
    """The arm called ``name``; ValueError naming the valid arms otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown robot model {name!r}; valid robots: {', '.join(MODELS)}") from None
