"""PickPlace: put the red cube on the plate and let go. Subtasks: grasp the cube, place it on the plate.

On the SO-101 (``armtwin/SO101-PickPlace-v0``): a 3 cm cube, a 9 cm plate. On the OMX
(``armtwin/OMX-PickPlace-v0``): a 2.5 cm cube, an 8 cm plate, nearer the base (``_common.OMX_RING``).
"""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets.scene import ObjectSpec
from armtwin.envs.base import SO101Env
from armtwin.envs.experts import PickPlaceExpert
from armtwin.envs.tasks._common import GRASP_OFFSET, OMX_PLATE, OMX_RING, PLATE, jitter, ring
from armtwin.envs.task_spec import SubtaskSpec, TaskSpec

ENV_ID = "armtwin/SO101-PickPlace-v0"
OMX_ENV_ID = "armtwin/OMX-PickPlace-v0"


def _spec(env_id: str) -> TaskSpec:
    return TaskSpec(
        env_id=env_id,
        subtasks=(
            SubtaskSpec("cube", "grasp", term_offset_range=GRASP_OFFSET),
            SubtaskSpec("plate", None),
        ),
    )


class PickPlaceEnv(SO101Env):
    """Put the red cube (3 cm) on the plate (9 cm) and let go. Subtasks: grasp the cube, place it on the plate."""

    OBJECTS = (ObjectSpec("cube", "box", (0.015, 0.015, 0.015), (0.85, 0.15, 0.12, 1.0), 0.03), PLATE)
    TASK_SPEC = _spec(ENV_ID)
    SUCCESS_SIGNAL = "place"
    #: Layout, metres: nominal D0 cube and plate positions (jittered by +-1.5 cm); D1 radius ranges of the
    #: cube's and the plate's rings, and their least distance apart.
    D0_CUBE, D0_PLATE = (0.20, 0.07), (0.20, -0.08)
    D1_CUBE_RING, D1_PLATE_RING, D1_APART = (0.14, 0.25), (0.16, 0.23), 0.1

    @property
    def instruction(self) -> str:
        return "put the red cube on the plate"

    def _sample_scene(self, rng):
        if self.config.reset_distribution == "D0":
            cube, plate = jitter(rng, self.D0_CUBE, 0.015), jitter(rng, self.D0_PLATE, 0.015)
            yaw = rng.uniform(-0.15, 0.15)
        else:
            while True:
                cube, plate = ring(rng, r=self.D1_CUBE_RING), ring(rng, r=self.D1_PLATE_RING)
                if np.linalg.norm(cube - plate) > self.D1_APART:
                    break
            yaw = rng.uniform(-math.pi / 4, math.pi / 4)
        self._set_object("cube", (*cube, self.OBJECTS[0].half_height), yaw)
        self._set_object("plate", (*plate, self.OBJECTS[1].half_height))

    def _signals(self):
        return self._grasp_place_signals("cube", "plate", xy_margin=0.005)


class OmxPickPlaceEnv(PickPlaceEnv):
    """PickPlace on the OMX: the red cube (2.5 cm) on the plate (8 cm)."""

    ROBOT = "omx"
    OBJECTS = (ObjectSpec("cube", "box", (0.0125, 0.0125, 0.0125), (0.85, 0.15, 0.12, 1.0), 0.02), OMX_PLATE)
    TASK_SPEC = _spec(OMX_ENV_ID)
    D0_CUBE, D0_PLATE = (0.16, 0.06), (0.16, -0.07)
    D1_CUBE_RING, D1_PLATE_RING, D1_APART = OMX_RING, (0.13, 0.19), 0.09


class PickPlaceTaskExpert(PickPlaceExpert):
    """Pick the cube, put it on the plate."""

    def _targets(self, env):
        return "cube", "plate"

