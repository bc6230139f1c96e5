"""Lift: lift the red cube (3 cm) at least 4 cm off the table. Subtasks: grasp the cube, lift it."""

from __future__ import annotations

import math

from armtwin.assets.so101_mjcf import ObjectSpec
from armtwin.envs.base import SO101Env
from armtwin.envs.experts import PickPlaceExpert
from armtwin.envs.tasks._common import jitter, ring
from armtwin.mimic.spec import SubtaskSpec, TaskSpec

ENV_ID = "armtwin/SO101-Lift-v0"

#: Lift success: the cube's centre this far above its resting height, metres (robosuite Lift uses 4 cm).
LIFT_HEIGHT = 0.04


class LiftEnv(SO101Env):
    """Lift the red cube (3 cm) at least 4 cm off the table. Subtasks: grasp the cube, lift it."""

    OBJECTS = (ObjectSpec("cube", "box", (0.015, 0.015, 0.015), (0.85, 0.15, 0.12, 1.0), 0.03),)
    TASK_SPEC = TaskSpec(
        env_id=ENV_ID,
        subtasks=(
            SubtaskSpec("cube", "grasp"),
            SubtaskSpec("cube", None),
        ),
    )
    SUCCESS_SIGNAL = "lift"

    @property
    def instruction(self) -> str:
        return "lift the red cube"

    def _sample_scene(self, rng):
        h = self.OBJECTS[0].half_height
        if self.config.reset_distribution == "D0":
            xy, yaw = jitter(rng, (0.20, 0.0), 0.015), rng.uniform(-0.15, 0.15)
        else:
            xy, yaw = ring(rng), rng.uniform(-math.pi / 4, math.pi / 4)
        self._set_object("cube", (*xy, h), yaw)

    def _signals(self):
        lifted = self.object_pos("cube")[2] > self.object_spec("cube").half_height + LIFT_HEIGHT
        return {"grasp": self.is_grasped("cube"), "lift": bool(lifted)}


class LiftExpert(PickPlaceExpert):
    """Grasp the cube and lift it (nothing to place)."""

    def _targets(self, env):
        return "cube", None
