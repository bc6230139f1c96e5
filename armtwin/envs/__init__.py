"""Gymnasium environments of the SO-101 twin.

``ENV_IDS`` maps each id to its entry point and a one-line description; registration is explicit:
``register()`` registers them with Gymnasium (idempotent), ``make(env_id, **kwargs)`` registers and calls
``gymnasium.make``. kwargs are the fields of :class:`armtwin.envs.base.EnvConfig`. Importing this package
loads neither MuJoCo nor Gymnasium (nor torch).
"""

from __future__ import annotations

import os as _os

if "MUJOCO_GL" not in _os.environ and not _os.environ.get("DISPLAY"):
    # Headless by default: MuJoCo reads MUJOCO_GL once, when it is first imported, so set it before
    # any armtwin.envs module (IK, envs) imports mujoco. EGL renders offscreen without a display.
    _os.environ["MUJOCO_GL"] = "egl"

ENV_IDS: dict[str, dict[str, str]] = {
    "armtwin/SO101-Lift-v0": {
        "entry_point": "armtwin.envs.tasks:LiftEnv",
        "description": "lift a 3 cm cube 4 cm off the table",
    },
    "armtwin/SO101-PickPlace-v0": {
        "entry_point": "armtwin.envs.tasks:PickPlaceEnv",
        "description": "put a 3 cm cube on a plate",
    },
    "armtwin/SO101-Stack-v0": {
        "entry_point": "armtwin.envs.tasks:StackEnv",
        "description": "stack a 2.5 cm cube on a 3 cm cube (MimicGen's Stack)",
    },
    "armtwin/SO101-Sandwich-v0": {
        "entry_point": "armtwin.envs.tasks:SandwichEnv",
        "description": "move the ingredient the instruction names (bread, cheese, patty) from a holder to a plate",
    },
}


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if known, else raise ValueError listing the valid ids."""
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown env id {env_id!r}; valid ids: {', '.join(ENV_IDS)}")
    return env_id


def register() -> None:
    """Register every id in ENV_IDS with Gymnasium (idempotent)."""
    import gymnasium as gym

    for env_id, spec in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=spec["entry_point"], disable_env_checker=False)


def make(env_id: str, **kwargs):
    """``gymnasium.make`` of ``env_id`` after :func:`register`; kwargs are EnvConfig fields (validated here).

    ``max_episode_steps`` reaches both the env's config and Gymnasium's TimeLimit wrapper (a bare
    ``gymnasium.make(..., max_episode_steps=N)`` would keep it from the env)."""
    import gymnasium as gym

    from armtwin.envs.base import EnvConfig

    check_env_id(env_id)
    register()
    config = EnvConfig(**kwargs)
    return gym.make(env_id, config=config, max_episode_steps=config.max_episode_steps)


def env_class(env_id: str):
    """The env class behind ``env_id`` (without Gymnasium's wrappers)."""
    import importlib

    module, _, name = ENV_IDS[check_env_id(env_id)]["entry_point"].partition(":")
    return getattr(importlib.import_module(module), name)


__all__ = ["ENV_IDS", "register", "make", "check_env_id", "env_class"]
