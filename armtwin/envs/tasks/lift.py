"""Lift: lift the red cube at least 4 cm off the table. Subtasks: grasp the cube, lift it.

On the SO-101 (``armtwin/SO101-Lift-v0``) the cube is 3 cm; on the OMX (``armtwin/OMX-Lift-v0``) 2.5 cm and
nearer the base, for its smaller jaws and top-down reach (see ``_common.OMX_RING``).
"""

from __future__ import annotations

import math

from armtwin.assets.scene import ObjectSpec
from armtwin.envs.base import SO101Env
from armtwin.envs.experts import PickPlaceExpert
from armtwin.envs.tasks._common import OMX_RING, jitter, ring
from armtwin.envs.task_spec import SubtaskSpec, TaskSpec

ENV_ID = "armtwin/SO101-Lift-v0"
OMX_ENV_ID = "armtwin/OMX-Lift-v0"

#: Lift success: the cube's centre this far above its resting height, metres (robosuite Lift uses 4 cm).
LIFT_HEIGHT = 0.04


def _spec(env_id: str) -> TaskSpec:
    return TaskSpec(env_id=env_id, subtasks=(SubtaskSpec("cube", "grasp"), SubtaskSpec("cube", None)))


class LiftEnv(SO101Env):
    """Lift the red cube (3 cm) at least 4 cm off the table. Subtasks: grasp the cube, lift it."""

    OBJECTS = (ObjectSpec("cube", "box", (0.015, 0.015, 0.015), (0.85, 0.15, 0.12, 1.0), 0.03),)
    TASK_SPEC = _spec(ENV_ID)
    SUCCESS_SIGNAL = "lift"
    #: Layout, metres: the cube's nominal D0 position (jittered by +-1.5 cm) and the D1 ring (radius range).
    D0_XY = (0.20, 0.0)
    D1_RING = (0.14, 0.25)

    @property
    def instruction(self) -> str:
        return "lift the red cube"

    def _sample_scene(self, rng):
        h = self.OBJECTS[0].half_height
        if self.config.reset_distribution == "D0":
            xy, yaw = jitter(rng, self.D0_XY, 0.015), rng.uniform(-0.15, 0.15)
        else:
            xy, yaw = ring(rng, r=self.D1_RING), rng.uniform(-math.pi / 4, math.pi / 4)
        self._set_object("cube", (*xy, h), yaw)

    def _signals(self):
        lifted = self.object_pos("cube")[2] > self.object_spec("cube").half_height + LIFT_HEIGHT
        return {"grasp": self.is_grasped("cube"), "lift": bool(lifted)}


class OmxLiftEnv(LiftEnv):
    """Lift on the OMX: the red cube (2.5 cm, 20 g) at least 4 cm off the table."""

    ROBOT = "omx"
    OBJECTS = (ObjectSpec("cube", "box", (0.0125, 0.0125, 0.0125), (0.85, 0.15, 0.12, 1.0), 0.02),)
    TASK_SPEC = _spec(OMX_ENV_ID)
    D0_XY = (0.16, 0.0)
    D1_RING = OMX_RING


class LiftExpert(PickPlaceExpert):
    """Grasp the cube and lift it (nothing to place)."""

    def _targets(self, env):
        return "cube", None

