"""The one registry of armtwin tasks: env id -> :class:`TaskEntry`.

Each task lives in one module of :mod:`armtwin.envs.tasks` (its env class, its MimicGen subtask spec as
the class's ``TASK_SPEC``, its scripted expert). The entries below name those by ``"module:Class"``
strings, so reading the registry (ids, descriptions, Gymnasium registration) imports neither MuJoCo
nor the task modules; :meth:`TaskEntry.env_class`, :meth:`TaskEntry.task_spec` and
:meth:`TaskEntry.expert_class` import the task module when first asked. ``ENV_IDS``,
:func:`check_env_id`, ``make_expert``, :func:`get_task_spec`, ``armtwin envs`` and ``armtwin mimic``
all read this table.

:func:`register` registers every id with Gymnasium (idempotent; ``import armtwin.envs`` calls it), with
the string entry point and ``max_episode_steps`` = EnvConfig's default (Gymnasium's TimeLimit then agrees
with the env's own horizon). ``gymnasium.make(id, **fields)`` passes EnvConfig fields to the env;
Gymnasium itself consumes a ``max_episode_steps`` keyword for its TimeLimit and never hands it to the
env, so use :func:`armtwin.envs.make` (or ``config=EnvConfig(max_episode_steps=N)`` plus
``max_episode_steps=N``) to change the horizon of both.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from armtwin.envs.task_spec import TaskSpec

#: The default horizon, env steps: EnvConfig's ``max_episode_steps`` default and the registered TimeLimit's
#: (here, so registering does not import the env module and MuJoCo).
DEFAULT_MAX_EPISODE_STEPS = 300


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class TaskEntry:
    """One task. env_id: the Gymnasium id. entry_point: ``"module:EnvClass"``. expert:
    ``"module:ExpertClass"`` (a :class:`armtwin.envs.experts.PickPlaceExpert`). description: one line
    (``armtwin envs``; the instruction of real-arm recordings). robot: the arm (a name of
    :mod:`armtwin.assets.models`; the env class's ``ROBOT``), readable without importing the task."""

    env_id: str
    entry_point: str
    expert: str
    description: str
    robot: str = "so101"

    def __post_init__(self):
        for name in ("entry_point", "expert"):
            module, sep, attr = getattr(self, name).partition(":")
            if not (module and sep and attr):
                raise ValueError(f"{self.env_id}: {name} must be 'module:Name', got {getattr(self, name)!r}")

    def env_class(self) -> type:
        """The env class (imports the task module, and so MuJoCo)."""
        cls = _load(self.entry_point)
        spec = cls.TASK_SPEC
        if spec.env_id != self.env_id:
            raise ValueError(f"{self.entry_point}.TASK_SPEC is for {spec.env_id!r}, registered as {self.env_id!r}")
        if cls.ROBOT != self.robot:
            raise ValueError(f"{self.entry_point} is an env of robot {cls.ROBOT!r}, registered as {self.robot!r}")
        return cls

    def robot_constants(self):
        """The constants module of the task's arm (no MuJoCo import)."""
        from armtwin.assets.models import robot_model

        return robot_model(self.robot).C

    def task_spec(self) -> TaskSpec:
        """The task's MimicGen spec (the env class's ``TASK_SPEC``)."""
        return self.env_class().TASK_SPEC

    def expert_class(self) -> type:
        return _load(self.expert)


_ENTRIES = (
    TaskEntry(
        env_id="armtwin/SO101-Lift-v0",
        entry_point="armtwin.envs.tasks.lift:LiftEnv",
        expert="armtwin.envs.tasks.lift:LiftExpert",
        description="lift a 3 cm cube 4 cm off the table",
    ),
    TaskEntry(
        env_id="armtwin/SO101-PickPlace-v0",
        entry_point="armtwin.envs.tasks.pickplace:PickPlaceEnv",
        expert="armtwin.envs.tasks.pickplace:PickPlaceTaskExpert",
        description="put a 3 cm cube on a plate",
    ),
    TaskEntry(
        env_id="armtwin/SO101-Stack-v0",
        entry_point="armtwin.envs.tasks.stack:StackEnv",
        expert="armtwin.envs.tasks.stack:StackExpert",
        description="stack a 2.5 cm cube on a 3 cm cube (MimicGen's Stack)",
    ),
    TaskEntry(
        env_id="armtwin/SO101-Sandwich-v0",
        entry_point="armtwin.envs.tasks.sandwich:SandwichEnv",
        expert="armtwin.envs.tasks.sandwich:SandwichExpert",
        description="move the ingredient the instruction names (bread, cheese, patty) from a holder to a plate",
    ),
    TaskEntry(
        env_id="armtwin/OMX-Lift-v0",
        entry_point="armtwin.envs.tasks.lift:OmxLiftEnv",
        expert="armtwin.envs.tasks.lift:LiftExpert",
        description="lift a 2.5 cm cube 4 cm off the table with the ROBOTIS OMX",
        robot="omx",
    ),
    TaskEntry(
        env_id="armtwin/OMX-PickPlace-v0",
        entry_point="armtwin.envs.tasks.pickplace:OmxPickPlaceEnv",
        expert="armtwin.envs.tasks.pickplace:PickPlaceTaskExpert",
        description="put a 2.5 cm cube on a plate with the ROBOTIS OMX",
        robot="omx",
    ),
)

#: Every task, keyed by env id (read-only).
TASKS: Mapping[str, TaskEntry] = MappingProxyType({e.env_id: e for e in _ENTRIES})

#: The env ids, in registry order.
ENV_IDS: tuple[str, ...] = tuple(TASKS)


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if known, else raise ValueError listing the valid ids."""
    if env_id not in TASKS:
        raise ValueError(f"unknown env id {env_id!r}; valid ids: {', '.join(ENV_IDS)}")
    return env_id


def get_task(env_id: str) -> TaskEntry:
    """The registry entry of ``env_id`` (ValueError listing the valid ids otherwise)."""
    return TASKS[check_env_id(env_id)]


def get_task_spec(env_id: str) -> TaskSpec:
    """The MimicGen spec of ``env_id``; KeyError listing the valid ids otherwise."""
    if env_id not in TASKS:
        raise KeyError(f"no MimicGen task spec for env {env_id!r}; valid env ids: {', '.join(ENV_IDS)}")
    return TASKS[env_id].task_spec()


def register() -> None:
    """Register every id with Gymnasium; ids already registered are left alone (no warning)."""
    import gymnasium as gym

    for env_id, entry in TASKS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=entry.entry_point,
                max_episode_steps=DEFAULT_MAX_EPISODE_STEPS,
                disable_env_checker=False,
            )


__all__ = [
    "DEFAULT_MAX_EPISODE_STEPS",
    "ENV_IDS",
    "TASKS",
    "TaskEntry",
    "check_env_id",
    "get_task",
    "get_task_spec",
    "register",
]
