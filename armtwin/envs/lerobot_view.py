"""LeRobot's view of an armtwin env: the observations and actions ``lerobot-eval`` exchanges with a sim.

``lerobot-eval`` (LeRobot 0.4.4 .. 0.6) builds ``gym.make(cfg.gym_id, **cfg.gym_kwargs)`` inside a
``SyncVectorEnv`` and reads it through ``lerobot.envs.utils.preprocess_observation``, which maps
``pixels/<camera>`` -> ``observation.images.<camera>`` and ``agent_pos`` -> ``observation.state``.
:class:`LeRobotView` is the one place that turns an armtwin env into that shape, in the units of the
datasets ``armtwin convert lerobot`` writes (the same :class:`armtwin.units.UnitConverter`):

- observation: ``agent_pos`` (6,) float32, LeRobot SO-101 units (body joints degrees, or -100..100 when
  ``use_degrees`` is False; gripper 0..100), ``C.JOINT_NAMES`` order; ``pixels`` {camera: (H, W, 3)
  uint8} for the configured cameras (absent when the env renders no images);
- action: (6,) float32 in the same LeRobot units, converted to radians before the armtwin env steps;
- ``info["is_success"]`` (the env's own), ``task_description`` (the episode's instruction),
  ``task`` (the env id), ``_max_episode_steps`` (the env's horizon).

Importing this module registers the views as ``armtwin_lerobot/<task>`` (e.g.
``armtwin_lerobot/SO101-PickPlace-v0``) with Gymnasium; the LeRobot env config ``armtwin``
(plugins/lerobot_robot_armtwin) names this module as its ``package_name``. No torch or LeRobot import.

Example (what ``--env.type=armtwin --env.task=SO101-Lift-v0 --env.observation_height=32`` builds)::

    gym.make("armtwin_lerobot/SO101-Lift-v0", image_size=(32, 32), episode_length=300, terminate_on_success=True)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.envs.registry import ENV_IDS, check_env_id, get_task
from armtwin.units import Calibration, UnitConverter

#: Gymnasium namespace of the views: ``armtwin_lerobot/SO101-Lift-v0`` views ``armtwin/SO101-Lift-v0``.
NAMESPACE = "armtwin_lerobot"
#: lerobot-eval's raw observation keys (``preprocess_observation`` renames them).
STATE_KEY = "agent_pos"
PIXELS_KEY = "pixels"


def task_name(env_id: str) -> str:
    """``"armtwin/SO101-Lift-v0"`` -> ``"SO101-Lift-v0"`` (what ``--env.task`` takes)."""
    return check_env_id(env_id).split("/", 1)[1]


def armtwin_id(task: str) -> str:
    """``--env.task`` value (``"SO101-Lift-v0"`` or ``"armtwin/SO101-Lift-v0"``) -> armtwin env id;
    ValueError listing the valid tasks otherwise."""
    env_id = task if "/" in task else f"armtwin/{task}"
    if env_id not in ENV_IDS:
        valid = ", ".join(i.split("/", 1)[1] for i in ENV_IDS)
        raise ValueError(f"unknown armtwin task {task!r}; valid tasks: {valid}")
    return env_id


class LeRobotView(gym.Wrapper):
    """An armtwin env seen in LeRobot's units and keys (module docstring). ``env``: an armtwin
    :class:`armtwin.envs.base.SO101Env` (unwrapped or wrapped). ``converter``: the units of the policy's
    dataset (default: the env's arm's default calibration in its LeRobot default units, as ``armtwin convert
    lerobot`` writes by default: the SO-101's ideal arm in degrees, the OMX's factory calibration in -100..100)."""

    def __init__(self, env: gym.Env, *, converter: UnitConverter | None = None, task: str | None = None):
        super().__init__(env)
        base = env.unwrapped
        RC = base.C  # the env's robot's constants
        self.converter = converter or UnitConverter(Calibration.default(base.ROBOT), use_degrees=RC.LEROBOT_USE_DEGREES)
        self.task = task or (base.spec.id if base.spec is not None else type(base).__name__)
        self._max_episode_steps = int(base.config.max_episode_steps)
        self.task_description = base.instruction
        # Action bounds: the joint limits in LeRobot units (a drive_mode=1 motor flips a range, so sort).
        ends = np.stack([self.converter.from_radians(RC.lower_limits()), self.converter.from_radians(RC.upper_limits())])
        lo, hi = ends.min(axis=0).astype(np.float32), ends.max(axis=0).astype(np.float32)
        self.action_space = gym.spaces.Box(lo, hi, dtype=np.float32)
        spaces: dict[str, gym.Space] = {STATE_KEY: gym.spaces.Box(-np.inf, np.inf, (C.NUM_JOINTS,), np.float32)}
        if "images" in env.observation_space.spaces:
            spaces[PIXELS_KEY] = gym.spaces.Dict(dict(env.observation_space["images"].spaces))
        self.observation_space = gym.spaces.Dict(spaces)

    def _view(self, obs: dict) -> dict[str, Any]:
        out: dict[str, Any] = {STATE_KEY: self.converter.from_radians(obs["joint_pos"]).astype(np.float32)}
        if PIXELS_KEY in self.observation_space.spaces:
            out[PIXELS_KEY] = dict(obs["images"])
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.task_description = obs["instruction"]
        return self._view(obs), info

    def step(self, action):
        """``action``: (6,) LeRobot units -> radians -> the armtwin env (which clamps to the joint limits
        and reports the applied radians in ``info["action"]``)."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (C.NUM_JOINTS,):
            raise ValueError(
                f"action must have shape ({C.NUM_JOINTS},) in LeRobot units, order {C.LEROBOT_MOTOR_KEYS}; "
                f"got shape {a.shape}"
            )
        obs, reward, terminated, truncated, info = self.env.step(self.converter.to_radians(a))
        return self._view(obs), reward, terminated, truncated, info


def make_lerobot_env(
    *, env_id: str, episode_length: int | None = None, use_degrees: bool = True,
    calibration_file: str | None = None, **env_fields
) -> LeRobotView:
    """The Gymnasium entry point of ``armtwin_lerobot/<task>``: the armtwin env ``env_id`` built with
    ``env_fields`` (fields of :class:`armtwin.envs.config.EnvConfig`, validated there), viewed in the
    units ``use_degrees``/``calibration_file`` (a LeRobot calibration JSON; default the ideal arm).

    ``episode_length``: the horizon, env steps (EnvConfig's ``max_episode_steps``; named as LeRobot's env
    configs name it because ``gymnasium.make`` takes a ``max_episode_steps`` keyword for a TimeLimit).
    The env's own horizon truncates the episode (no TimeLimit), so the view is the outermost wrapper and
    LeRobot finds ``task_description`` on it."""
    from armtwin.envs.config import EnvConfig

    if episode_length is not None:
        env_fields["max_episode_steps"] = episode_length
    config = EnvConfig(**env_fields)
    env = get_task(env_id).env_class()(config=config)
    calibration = Calibration.load(calibration_file) if calibration_file else Calibration.default()
    return LeRobotView(env, converter=UnitConverter(calibration, use_degrees=use_degrees), task=env_id)


def register() -> None:
    """Register ``armtwin_lerobot/<task>`` for every armtwin task (idempotent)."""
    for env_id in ENV_IDS:
        view_id = f"{NAMESPACE}/{task_name(env_id)}"
        if view_id not in gym.registry:
            gym.register(
                id=view_id,
                entry_point="armtwin.envs.lerobot_view:make_lerobot_env",
                kwargs={"env_id": env_id},
                max_episode_steps=None,
                order_enforce=False,
                disable_env_checker=True,
            )


register()

__all__ = ["NAMESPACE", "LeRobotView", "armtwin_id", "make_lerobot_env", "register", "task_name"]
