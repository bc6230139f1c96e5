"""Gymnasium environments of the SO-101 twin.

Importing this package registers every id of :mod:`armtwin.envs.registry` with Gymnasium (idempotent),
as ``gym_pusht``/``gym_aloha`` do, so after ``import armtwin.envs`` (or ``import armtwin``)::

    gym.make("armtwin/SO101-PickPlace-v0", image_size=(96, 96), reset_distribution="D1")

works; keyword arguments are the fields of :class:`armtwin.envs.config.EnvConfig`. :func:`make` is the
convenience that validates them first and sets the horizon of both the env and Gymnasium's TimeLimit
(``gymnasium.make`` keeps a ``max_episode_steps`` keyword for its TimeLimit). Registration uses string
entry points: importing this package loads Gymnasium but neither MuJoCo nor torch.
"""

from __future__ import annotations

import os as _os

if "MUJOCO_GL" not in _os.environ and not _os.environ.get("DISPLAY"):
    # Headless by default: MuJoCo reads MUJOCO_GL once, when it is first imported, so set it before
    # any armtwin.envs module (IK, envs) imports mujoco. EGL renders offscreen without a display.
    _os.environ["MUJOCO_GL"] = "egl"

from armtwin.envs.registry import ENV_IDS, TASKS, TaskEntry, check_env_id, get_task, get_task_spec, register


def make(env_id: str, **kwargs):
    """``gymnasium.make`` of ``env_id``; kwargs are EnvConfig fields (validated here, before the env is built).

    ``max_episode_steps`` reaches both the env's config and Gymnasium's TimeLimit wrapper (a bare
    ``gymnasium.make(..., max_episode_steps=N)`` would keep it from the env)."""
    import gymnasium as gym

    from armtwin.envs.config import EnvConfig

    check_env_id(env_id)
    register()
    config = EnvConfig(**kwargs)
    return gym.make(env_id, config=config, max_episode_steps=config.max_episode_steps)


def env_class(env_id: str):
    """The env class behind ``env_id`` (without Gymnasium's wrappers)."""
    return get_task(env_id).env_class()


register()

__all__ = [
    "ENV_IDS",
    "TASKS",
    "TaskEntry",
    "check_env_id",
    "env_class",
    "get_task",
    "get_task_spec",
    "make",
    "register",
]
