"""The four armtwin tasks (see :mod:`armtwin.envs.base` for the shared spaces).

Layout: table top at z = 0, arm base at the origin, the workspace in front (+x). Reset distributions:
``D0`` narrow (objects jittered by ~1.5 cm and a few degrees around a nominal layout), ``D1`` wide
(objects anywhere in the reachable ring 14-25 cm from the base, +-0.7 rad about +x, any yaw up to the
object's symmetry). Sizes in metres, masses in kg.
"""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets.so101_mjcf import ObjectSpec, StaticSpec
from armtwin.envs.base import SO101Env

#: Lift success: the cube's centre this far above its resting height, metres (robosuite Lift uses 4 cm).
LIFT_HEIGHT = 0.04

_PLATE = ObjectSpec("plate", "cylinder", (0.045, 0.005), (0.92, 0.92, 0.95, 1.0), 0.15, (1.0, 0.01, 0.0001))


def _ring(rng, r=(0.14, 0.25), az=(-0.7, 0.7)):
    rr, a = rng.uniform(*r), rng.uniform(*az)
    return np.array([rr * math.cos(a), rr * math.sin(a)])


def _jitter(rng, xy, d):
    return np.asarray(xy, float) + rng.uniform(-d, d, 2)


class LiftEnv(SO101Env):
    """Lift the red cube (3 cm) at least 4 cm off the table. Subtasks: grasp the cube, lift it."""

    OBJECTS = (ObjectSpec("cube", "box", (0.015, 0.015, 0.015), (0.85, 0.15, 0.12, 1.0), 0.03),)
    SIGNALS = ("grasp", "lift")

    @property
    def instruction(self) -> str:
        return "lift the red cube"

    @property
    def subtask_spec(self):
        return [("cube", "grasp"), ("cube", None)]

    def _sample_scene(self, rng):
        h = self.OBJECTS[0].half_height
        if self.config.reset_distribution == "D0":
            xy, yaw = _jitter(rng, (0.20, 0.0), 0.015), rng.uniform(-0.15, 0.15)
        else:
            xy, yaw = _ring(rng), rng.uniform(-math.pi / 4, math.pi / 4)
        self._set_object("cube", (*xy, h), yaw)

    def _signals(self):
        lifted = self.object_pos("cube")[2] > self.OBJECTS[0].half_height + LIFT_HEIGHT
        return {"grasp": self.is_grasped("cube"), "lift": bool(lifted)}

    def _success(self, s):
        return s["lift"]


class PickPlaceEnv(SO101Env):
    """Put the red cube (3 cm) on the plate (9 cm) and let go. Subtasks: grasp the cube, place it on the plate."""

    OBJECTS = (ObjectSpec("cube", "box", (0.015, 0.015, 0.015), (0.85, 0.15, 0.12, 1.0), 0.03), _PLATE)
    SIGNALS = ("grasp", "place")

    @property
    def instruction(self) -> str:
        return "put the red cube on the plate"

    @property
    def subtask_spec(self):
        return [("cube", "grasp"), ("plate", None)]

    def _sample_scene(self, rng):
        if self.config.reset_distribution == "D0":
            cube, plate = _jitter(rng, (0.20, 0.07), 0.015), _jitter(rng, (0.20, -0.08), 0.015)
            yaw = rng.uniform(-0.15, 0.15)
        else:
            while True:
                cube, plate = _ring(rng), _ring(rng, r=(0.16, 0.23))
                if np.linalg.norm(cube - plate) > 0.1:
                    break
            yaw = rng.uniform(-math.pi / 4, math.pi / 4)
        self._set_object("cube", (*cube, 0.015), yaw)
        self._set_object("plate", (*plate, 0.005))

    def _signals(self):
        return self._grasp_place_signals("cube", "plate", xy_margin=0.005)

    def _success(self, s):
        return s["place"]


class StackEnv(SO101Env):
    """Stack the red cube A (2.5 cm) on the green cube B (3 cm), as MimicGen's Stack (robosuite cube sizes
    scaled to the SO-101's jaws). Subtasks: grasp A, place A on B."""

    OBJECTS = (
        ObjectSpec("cube_a", "box", (0.0125, 0.0125, 0.0125), (0.85, 0.15, 0.12, 1.0), 0.02),
        ObjectSpec("cube_b", "box", (0.015, 0.015, 0.015), (0.15, 0.65, 0.2, 1.0), 0.03),
    )
    SIGNALS = ("grasp", "place")

    @property
    def instruction(self) -> str:
        return "stack the red cube on the green cube"

    @property
    def subtask_spec(self):
        return [("cube_a", "grasp"), ("cube_b", None)]

    def _sample_scene(self, rng):
        if self.config.reset_distribution == "D0":
            a, b = _jitter(rng, (0.19, 0.06), 0.015), _jitter(rng, (0.19, -0.06), 0.015)
            ya, yb = rng.uniform(-0.15, 0.15, 2)
        else:
            while True:
                a, b = _ring(rng), _ring(rng)
                if np.linalg.norm(a - b) > 0.07:
                    break
            ya, yb = rng.uniform(-math.pi / 4, math.pi / 4, 2)
        self._set_object("cube_a", (*a, 0.0125), ya)
        self._set_object("cube_b", (*b, 0.015), yb)

    def _signals(self):
        return self._grasp_place_signals("cube_a", "cube_b", xy_margin=0.003)

    def _success(self, s):
        return s["place"]


#: Sandwich ingredients (bread, cheese, patty): 2.5 cm across the jaws, standing in a three-slot holder.
INGREDIENTS: tuple[str, ...] = ("bread", "cheese", "patty")
_HOLDER_X = 0.20
_SLOT_Y = (0.04, 0.09, 0.14)
_WALL = dict(size=(0.03, 0.0015, 0.006), rgba=(0.45, 0.33, 0.22, 1.0))
_WALL_Z = 0.006
#: Top of the holder's walls above the table, metres.
HOLDER_TOP = _WALL_Z + _WALL["size"][2]
#: ``extract``: the grasped ingredient's lowest point this far above ``HOLDER_TOP``, metres.
EXTRACT_CLEARANCE = 0.01


class SandwichEnv(SO101Env):
    """Sandwich station: bread, cheese and patty stand in a three-slot holder (fixed, left of the arm) and a
    plate lies on the right. The instruction ("pick up the cheese and place it on the plate") names the
    ingredient that must end on the plate, drawn per reset. Subtasks (signals): grasp the named ingredient
    (``grasp``), extract it from the holder (``extract``: grasped, its lowest point ``EXTRACT_CLEARANCE``
    above the walls' top), place it on the plate (``place``; success). Reference frame ``holder_slot``
    (in ``frame_names`` and the datagen object poses): the slot the named ingredient started in, at table
    height, axes aligned with the world's (the holder is fixed). Task variables in the state: index of the
    named ingredient in ``INGREDIENTS``, index of its slot (``_SLOT_Y``).
    D0: fixed slot order, plate jittered 1.5 cm; D1: slot order shuffled, plate anywhere on the right."""

    OBJECTS = (
        ObjectSpec("bread", "box", (0.0125, 0.018, 0.016), (0.80, 0.60, 0.33, 1.0), 0.02),
        ObjectSpec("cheese", "box", (0.0125, 0.018, 0.012), (0.98, 0.82, 0.20, 1.0), 0.02),
        ObjectSpec("patty", "box", (0.0125, 0.018, 0.014), (0.35, 0.20, 0.12, 1.0), 0.025),
        _PLATE,
    )
    STATICS = tuple(
        StaticSpec(f"holder_wall_{i}", (_HOLDER_X, y, _WALL_Z), _WALL["size"], _WALL["rgba"])
        for i, y in enumerate((0.015, 0.065, 0.115, 0.165))
    )
    TASK_VARS = 2
    SIGNALS = ("grasp", "extract", "place")

    @property
    def target(self) -> str:
        """The ingredient the instruction names."""
        return INGREDIENTS[int(self._task[0])]

    @property
    def instruction(self) -> str:
        return f"pick up the {self.target} and place it on the plate"

    @property
    def subtask_spec(self):
        return [(self.target, "grasp"), ("holder_slot", "extract"), ("plate", None)]

    @property
    def frame_names(self) -> tuple[str, ...]:
        return ("holder_slot",)

    def frame_pose(self, name: str) -> np.ndarray:
        if name != "holder_slot":
            return super().frame_pose(name)
        pose = np.eye(4)
        pose[:3, 3] = (_HOLDER_X, _SLOT_Y[int(self._task[1])], 0.0)
        return pose

    def _sample_scene(self, rng):
        self._task[0] = float(rng.integers(len(INGREDIENTS)))
        wide = self.config.reset_distribution == "D1"
        order = rng.permutation(len(INGREDIENTS)) if wide else np.arange(len(INGREDIENTS))
        self._task[1] = float(np.flatnonzero(order == int(self._task[0]))[0])
        for slot, k in enumerate(order):
            spec = self.OBJECTS[k]
            xy = _jitter(rng, (_HOLDER_X, _SLOT_Y[slot]), 0.002)
            self._set_object(spec.name, (*xy, spec.half_height), rng.uniform(-0.05, 0.05))
        plate = _ring(rng, r=(0.16, 0.23), az=(-0.75, -0.3)) if wide else _jitter(rng, (0.20, -0.08), 0.015)
        self._set_object("plate", (*plate, 0.005))

    def _signals(self):
        s = self._grasp_place_signals(self.target, "plate", xy_margin=0.005)
        extract = False
        if s["grasp"]:
            spec = self.object_spec(self.target)
            body = self._obj_body[self.object_names.index(self.target)]
            R = self.data.xmat[body].reshape(3, 3)
            # lowest corner of the (possibly tilted) box
            bottom = self.data.xpos[body][2] - np.abs(R[2]) @ np.asarray(spec.size)
            extract = bool(bottom > HOLDER_TOP + EXTRACT_CLEARANCE)
        return {"grasp": s["grasp"], "extract": extract, "place": s["place"]}

    def _success(self, s):
        return s["place"]
