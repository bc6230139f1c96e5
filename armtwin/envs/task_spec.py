"""The dataclasses of a MimicGen-style generation spec (validated on construction, to/from dict).

A task is a sequence of object-centric subtasks. Each subtask's source segment
is replayed relative to one object (``object_ref``) and ends when a subtask
signal fires for the first time (``end_signal``; the last subtask has none and
runs to the end of the source demo). Each task's own spec lives with its env, in its module of
:mod:`armtwin.envs.tasks` (the env class's ``TASK_SPEC``); look it up by env id with
:func:`armtwin.envs.get_task_spec`.

Units: noise in metres / radians, steps in control steps (1/30 s by default).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SELECTION_STRATEGIES: tuple[str, ...] = ("random", "nearest_neighbor_object", "nearest_neighbor_robot_distance")

INTERPOLATION_SPACES: tuple[str, ...] = ("cylindrical", "cartesian")


@dataclass(frozen=True)
class SubtaskSpec:
    """How one subtask is generated.

    Attributes:
        object_ref: object the segment is replayed relative to (a name in the env's
            ``pose_names``: its free objects and reference frames such as Sandwich's ``holder_slot``);
            a tuple of free-object names when the object changes per episode and the env names it
            after each reset (Sandwich: the ingredient the instruction names; source demos record
            theirs at annotation time, :meth:`accepts` checks them); or None to replay it in the
            world frame.
        end_signal: name of the subtask-term signal whose first 0->1 transition ends
            this subtask in the source demos; None for the last subtask.
        selection_strategy: one of :data:`SELECTION_STRATEGIES` (default
            ``"nearest_neighbor_object"``: the source whose object pose at the segment
            start is nearest to the new one, picked uniformly among the ``nn_k`` nearest).
        nn_k: neighbours to sample from for the nearest-neighbour strategies (default 3).
        pos_weight, rot_weight: weights of position (per metre) and angle (per radian) in
            the nearest-neighbour distance (defaults 1.0, 1.0 as in MimicGen).
        action_noise_pos: std of Gaussian noise on each target position, metres (default 0.0005).
        action_noise_rot: std of Gaussian noise on each target orientation, radians (default 0.005).
            Smaller than MimicGen's (0.05 of a 5 cm OSC delta): the SO-101's position servos
            (kp ~1000) execute every per-step jump of the joint targets with no impedance to smooth
            it, and 1 mm already dropped Stack D0 from 100% to ~70% in our measurements.
        num_interpolation_steps: control steps to move (lerp + slerp) from the last target to the
            first pose of the transformed segment (default 5).
        interpolation_step_size: if set, the interpolation gets at least ceil(distance / step) steps
            (metres per control step, default 0.01), so a long move to the next segment is not rushed by
            the position servos (which could fling a held object); None keeps exactly
            ``num_interpolation_steps``.
        interpolation_space: "cylindrical" (default) interpolates the position in (radius, azimuth,
            height) about the base's pan axis, so moves across the front of the arm keep their distance
            from the base (a straight chord cuts through the unreachable space next to it: a third of
            Stack D1's IK failures); "cartesian" is MimicGen's straight line.
        num_fixed_steps: extra steps holding the first pose of the segment (default 0).
        apply_noise_during_interpolation: add the action noise on the interpolation steps too
            (default False, as in MimicGen).
        term_offset_range: (lo, hi) inclusive random offset, in steps, added to this subtask's end
            in every source demo per trial (default (0, 0); must be (0, 0) for the last subtask).
    """

    object_ref: str | tuple[str, ...] | None
    end_signal: str | None
    _: dataclasses.KW_ONLY
    selection_strategy: str = "nearest_neighbor_object"
    nn_k: int = 3
    pos_weight: float = 1.0
    rot_weight: float = 1.0
    action_noise_pos: float = 0.0005
    action_noise_rot: float = 0.005
    num_interpolation_steps: int = 5
    interpolation_step_size: float | None = 0.01
    interpolation_space: str = "cylindrical"
    num_fixed_steps: int = 0
    apply_noise_during_interpolation: bool = False
    term_offset_range: tuple[int, int] = (0, 0)

    def __post_init__(self):
        if isinstance(self.object_ref, (tuple, list)):
            refs = tuple(self.object_ref)
            if not refs or not all(isinstance(r, str) and r for r in refs) or len(set(refs)) != len(refs):
                raise ValueError(f"object_ref candidates must be distinct non-empty names, got {self.object_ref!r}")
            object.__setattr__(self, "object_ref", refs)
        elif not (self.object_ref is None or (isinstance(self.object_ref, str) and self.object_ref)):
            raise ValueError(f"object_ref must be a name, a tuple of candidate names or None, got {self.object_ref!r}")
        if self.selection_strategy not in SELECTION_STRATEGIES:
            raise ValueError(
                f"unknown selection_strategy {self.selection_strategy!r}; valid: {', '.join(SELECTION_STRATEGIES)}"
            )
        if self.object_ref is None and self.selection_strategy != "random":
            raise ValueError("a subtask without object_ref can only use selection_strategy='random'")
        if self.nn_k < 1:
            raise ValueError(f"nn_k must be >= 1, got {self.nn_k}")
        for name in ("action_noise_pos", "action_noise_rot", "pos_weight", "rot_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.num_interpolation_steps < 0 or self.num_fixed_steps < 0:
            raise ValueError("num_interpolation_steps and num_fixed_steps must be >= 0")
        if self.interpolation_space not in INTERPOLATION_SPACES:
            raise ValueError(f"unknown interpolation_space {self.interpolation_space!r}; valid: "
                             f"{', '.join(INTERPOLATION_SPACES)}")
        if self.interpolation_step_size is not None and self.interpolation_step_size <= 0:
            raise ValueError("interpolation_step_size must be > 0 or None")
        lo, hi = self.term_offset_range
        if lo > hi:
            raise ValueError(f"term_offset_range must be (lo, hi) with lo <= hi, got {self.term_offset_range}")
        object.__setattr__(self, "term_offset_range", (int(lo), int(hi)))

    @property
    def per_episode(self) -> bool:
        """The object is one of several candidates, named by the env per episode."""
        return isinstance(self.object_ref, tuple)

    @property
    def candidates(self) -> tuple[str, ...]:
        """The names ``object_ref`` allows: the candidates, the one name, or () for the world frame."""
        if self.object_ref is None:
            return ()
        return self.object_ref if self.per_episode else (self.object_ref,)

    def accepts(self, name: str | None) -> bool:
        """``name`` (e.g. a source demo's annotated subtask object) is what this subtask allows."""
        return name in self.candidates if self.object_ref is not None else name is None


@dataclass(frozen=True)
class TaskSpec:
    """Generation settings for one env.

    Attributes:
        env_id: the Gymnasium id (``armtwin/SO101-...-v0``).
        subtasks: the subtasks in order; the last has ``end_signal=None``.
        select_src_per_subtask: pick a new source demo for every subtask rather than one source for
            the whole episode (default False, as in MimicGen: the place segment then matches the way
            its own source held the object; per-subtask selection measured 92% vs 98% on Stack D0).
        ik_pos_tolerance: IK position error, metres, above which a target counts as unreachable
            and the trial stops with reason ``ik_unreachable`` (default 0.02: lifting a cube that sits at the
            inner edge of the D1 ring to carry height misses by 1-1.6 cm, and such trials still succeed).
        ik_orientation_weights: weights of the orientation error against position (1.0) in IK, tried
            in order (default (0.3, 0.1, 0.03, 0.0)): the first solution whose position error is within
            ``ik_pos_precision`` is taken, else the most precise one. The 5-DoF arm cannot hold a
            top-down approach everywhere (wrist_flex hits its limit near the base and far to the side),
            so position wins over orientation where both cannot hold.
        abort_on_ik_failure: stop a trial at its first unreachable target (saves the physics of a
            likely failure) instead of executing the best-effort IK solution and letting the task
            decide (default False). Either way a failed trial with an unreachable target is counted
            as ``ik_unreachable``.
        ik_pos_precision: position error, metres, good enough to stop relaxing orientation (default 0.002).
        success_hold_steps: the trial ends early once the task has been successful for this many
            consecutive control steps (default 5); otherwise success is judged after the last step.
        settle_steps: control steps that hold the last target and gripper command after the last
            segment (default 15, 0.5 s): a source recorded until just after its release leaves the
            object still dropping out of the slower-opening jaws when its copy runs out, and the place
            signal needs it released and resting (without them ~13% of PickPlace D0 trials failed
            that way, cube on the plate). The trial still ends as soon as success has held
            ``success_hold_steps``.
        grasp_signal: name of the signal meaning "object held", used to classify failures
            (grasp missed / drop); default "grasp".
    """

    env_id: str
    subtasks: tuple[SubtaskSpec, ...]
    _: dataclasses.KW_ONLY
    select_src_per_subtask: bool = False
    ik_pos_tolerance: float = 0.02
    ik_orientation_weights: tuple[float, ...] = (0.3, 0.1, 0.03, 0.0)
    ik_pos_precision: float = 0.002
    abort_on_ik_failure: bool = False
    success_hold_steps: int = 5
    settle_steps: int = 15
    grasp_signal: str = "grasp"

    def __post_init__(self):
        subtasks = tuple(self.subtasks)
        object.__setattr__(self, "subtasks", subtasks)
        if not subtasks:
            raise ValueError(f"{self.env_id}: a task needs at least one subtask")
        for i, st in enumerate(subtasks[:-1]):
            if st.end_signal is None:
                raise ValueError(f"{self.env_id}: subtask {i} is not the last one and needs an end_signal")
        if subtasks[-1].end_signal is not None:
            raise ValueError(f"{self.env_id}: the last subtask must have end_signal=None")
        if subtasks[-1].term_offset_range != (0, 0):
            raise ValueError(f"{self.env_id}: the last subtask's term_offset_range must be (0, 0)")
        if self.ik_pos_tolerance <= 0 or self.ik_pos_precision <= 0:
            raise ValueError("ik_pos_tolerance and ik_pos_precision must be > 0")
        weights = tuple(float(w) for w in self.ik_orientation_weights)
        if not weights or any(w < 0 for w in weights):
            raise ValueError(f"ik_orientation_weights must be a non-empty tuple of weights >= 0, got {weights}")
        object.__setattr__(self, "ik_orientation_weights", weights)
        if self.success_hold_steps < 1:
            raise ValueError("success_hold_steps must be >= 1")
        if self.settle_steps < 0:
            raise ValueError(f"settle_steps must be >= 0, got {self.settle_steps}")

    @property
    def subtask_pairs(self) -> list[tuple[str | None, str | None]]:
        """[(object_ref, end_signal), ...] (object_ref: a name, a tuple of candidates, or None)."""
        return [(s.object_ref, s.end_signal) for s in self.subtasks]

    def replace(self, **changes) -> "TaskSpec":
        """A copy with fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_subtask_overrides(self, **changes) -> "TaskSpec":
        """A copy where every subtask gets ``changes`` (e.g. selection_strategy="random")."""
        return dataclasses.replace(self, subtasks=tuple(dataclasses.replace(s, **changes) for s in self.subtasks))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TaskSpec":
        d = dict(d)
        d["ik_orientation_weights"] = tuple(d.get("ik_orientation_weights", (0.3,)))
        # JSON turns tuples into lists: object_ref candidates and the offset range become tuples again
        d["subtasks"] = tuple(SubtaskSpec(**{**s, "term_offset_range": tuple(s["term_offset_range"])})
                              for s in d["subtasks"])
        return cls(**d)


__all__ = ["INTERPOLATION_SPACES", "SELECTION_STRATEGIES", "SubtaskSpec", "TaskSpec"]
