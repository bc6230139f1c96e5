"""Sandwich station: bread, cheese and patty stand in a three-slot holder, the instruction names the one
to move to the plate. Subtasks: grasp it, extract it from the holder, place it on the plate."""

from __future__ import annotations

import numpy as np

from armtwin.assets.so101_mjcf import ObjectSpec, StaticSpec
from armtwin.envs.base import SO101Env
from armtwin.envs.experts import PickPlaceExpert
from armtwin.envs.tasks._common import GRASP_OFFSET, PLATE, jitter, ring
from armtwin.envs.task_spec import SubtaskSpec, TaskSpec

ENV_ID = "armtwin/SO101-Sandwich-v0"

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
        PLATE,
    )
    STATICS = tuple(
        StaticSpec(f"holder_wall_{i}", (_HOLDER_X, y, _WALL_Z), _WALL["size"], _WALL["rgba"])
        for i, y in enumerate((0.015, 0.065, 0.115, 0.165))
    )
    FRAMES = ("holder_slot",)
    #: the slots leave ~5 mm beside an ingredient: pose randomization would push them into the walls
    FIXED_OBJECTS = INGREDIENTS
    TASK_VARS = 2
    TASK_SPEC = TaskSpec(
        env_id=ENV_ID,
        subtasks=(
            # the ingredient the instruction names changes per reset (see _episode_object)
            SubtaskSpec(INGREDIENTS, "grasp"),
            # the holder is fixed but the named ingredient's slot changes per reset (D1 shuffles them):
            # the extraction is replayed relative to that slot, so it lifts straight out between the walls
            SubtaskSpec("holder_slot", "extract", term_offset_range=GRASP_OFFSET),
            SubtaskSpec("plate", None),
        ),
    )
    SUCCESS_SIGNAL = "place"

    @property
    def target(self) -> str:
        """The ingredient the instruction names."""
        return INGREDIENTS[int(self._task[0])]

    @property
    def instruction(self) -> str:
        return f"pick up the {self.target} and place it on the plate"

    def _episode_object(self, candidates: tuple[str, ...]) -> str:
        if self.target not in candidates:
            raise ValueError(f"{type(self).__name__}: this episode's ingredient {self.target!r} is not among the "
                             f"subtask's candidates {candidates}")
        return self.target

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
            xy = jitter(rng, (_HOLDER_X, _SLOT_Y[slot]), 0.002)
            self._set_object(spec.name, (*xy, spec.half_height), rng.uniform(-0.05, 0.05))
        plate = ring(rng, r=(0.16, 0.23), az=(-0.75, -0.3)) if wide else jitter(rng, (0.20, -0.08), 0.015)
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


class SandwichExpert(PickPlaceExpert):
    """Pick the named ingredient out of its slot (half-open jaws: the slots are tight), put it on the plate."""

    def _targets(self, env):
        return env.target, "plate"

    def _tight(self) -> bool:
        return True
