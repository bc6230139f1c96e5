"""PickPlace: put the red cube (3 cm) on the plate (9 cm) and let go. Subtasks: grasp the cube, place it
on the plate."""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets.so101_mjcf import ObjectSpec
from armtwin.envs.base import SO101Env
from armtwin.envs.experts import PickPlaceExpert
from armtwin.envs.tasks._common import GRASP_OFFSET, PLATE, jitter, ring
from armtwin.mimic.spec import SubtaskSpec, TaskSpec

ENV_ID = "armtwin/SO101-PickPlace-v0"


class PickPlaceEnv(SO101Env):
    """Put the red cube (3 cm) on the plate (9 cm) and let go. Subtasks: grasp the cube, place it on the plate."""

    OBJECTS = (ObjectSpec("cube", "box", (0.015, 0.015, 0.015), (0.85, 0.15, 0.12, 1.0), 0.03), PLATE)
    TASK_SPEC = TaskSpec(
        env_id=ENV_ID,
        subtasks=(
            SubtaskSpec("cube", "grasp", term_offset_range=GRASP_OFFSET),
            SubtaskSpec("plate", None),
        ),
    )
    SUCCESS_SIGNAL = "place"

    @property
    def instruction(self) -> str:
        return "put the red cube on the plate"

    def _sample_scene(self, rng):
        if self.config.reset_distribution == "D0":
            cube, plate = jitter(rng, (0.20, 0.07), 0.015), jitter(rng, (0.20, -0.08), 0.015)
            yaw = rng.uniform(-0.15, 0.15)
        else:
            while True:
                cube, plate = ring(rng), ring(rng, r=(0.16, 0.23))
                if np.linalg.norm(cube - plate) > 0.1:
                    break
            yaw = rng.uniform(-math.pi / 4, math.pi / 4)
        self._set_object("cube", (*cube, 0.015), yaw)
        self._set_object("plate", (*plate, 0.005))

    def _signals(self):
        return self._grasp_place_signals("cube", "plate", xy_margin=0.005)


class PickPlaceTaskExpert(PickPlaceExpert):
    """Pick the cube, put it on the plate."""

    def _targets(self, env):
        return "cube", "plate"
