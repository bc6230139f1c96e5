"""Stack: the red cube A (2.5 cm) on the green cube B (3 cm), as MimicGen's Stack (robosuite cube sizes
scaled to the SO-101's jaws). Subtasks: grasp A, place A on B."""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets.so101_mjcf import ObjectSpec
from armtwin.envs.base import SO101Env
from armtwin.envs.experts import PickPlaceExpert
from armtwin.envs.tasks._common import GRASP_OFFSET, jitter, ring
from armtwin.envs.task_spec import SubtaskSpec, TaskSpec

ENV_ID = "armtwin/SO101-Stack-v0"


class StackEnv(SO101Env):
    """Stack the red cube A (2.5 cm) on the green cube B (3 cm), as MimicGen's Stack (robosuite cube sizes
    scaled to the SO-101's jaws). Subtasks: grasp A, place A on B."""

    OBJECTS = (
        ObjectSpec("cube_a", "box", (0.0125, 0.0125, 0.0125), (0.85, 0.15, 0.12, 1.0), 0.02),
        ObjectSpec("cube_b", "box", (0.015, 0.015, 0.015), (0.15, 0.65, 0.2, 1.0), 0.03),
    )
    TASK_SPEC = TaskSpec(
        env_id=ENV_ID,
        subtasks=(
            SubtaskSpec("cube_a", "grasp", term_offset_range=GRASP_OFFSET),
            SubtaskSpec("cube_b", None),
        ),
    )
    SUCCESS_SIGNAL = "place"

    @property
    def instruction(self) -> str:
        return "stack the red cube on the green cube"

    def _sample_scene(self, rng):
        if self.config.reset_distribution == "D0":
            a, b = jitter(rng, (0.19, 0.06), 0.015), jitter(rng, (0.19, -0.06), 0.015)
            ya, yb = rng.uniform(-0.15, 0.15, 2)
        else:
            while True:
                a, b = ring(rng), ring(rng)
                if np.linalg.norm(a - b) > 0.07:
                    break
            ya, yb = rng.uniform(-math.pi / 4, math.pi / 4, 2)
        self._set_object("cube_a", (*a, 0.0125), ya)
        self._set_object("cube_b", (*b, 0.015), yb)

    def _signals(self):
        return self._grasp_place_signals("cube_a", "cube_b", xy_margin=0.003)


class StackExpert(PickPlaceExpert):
    """Pick cube A, put it on cube B."""

    def _targets(self, env):
        return "cube_a", "cube_b"
