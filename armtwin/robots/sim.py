"""The simulated SO-101 follower: an armtwin MuJoCo env behind the device contract.

Contract side (what the loop, LeRobot's scripts and the plugin see): LeRobot
units, dicts keyed ``C.LEROBOT_MOTOR_KEYS`` (body joints degrees or -100..100,
gripper 0..100) plus camera frames ``(H, W, 3) uint8`` keyed by camera name.
Sim side: radians; the env's action is ``(6,)`` absolute joint targets.

Each ``send_action`` clamps the target to ``C.JOINT_LIMITS``, steps the env by
one control period and returns the clamped target in LeRobot units (what was
really sent). The env itself is ``SimFollower.env`` (a Gymnasium env;
``SimFollower.unwrapped`` is the armtwin env with ``get_state``,
``get_datagen_info``, ...), exposed so the recorder can store full sim states
and MimicGen's datagen info.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.robots.contract import Follower
from armtwin.units import Calibration, UnitConverter


@dataclass
class SimFollowerConfig:
    """The simulated follower.

    env_id: an ``armtwin.envs.ENV_IDS`` id. image_size: (H, W) of the camera
    frames, None for no cameras. cameras: which of ``C.CAMERA_NAMES``. ctrl_dt:
    seconds simulated per ``send_action`` (set it to the loop's period for real
    time). calibration: LeRobot calibration JSON of the arm whose units the
    contract speaks (None: ``Calibration.default(robot)``; the robot is the env id's,
    ``armtwin.envs.registry``). use_degrees: LeRobot's body-joint unit (None: the env's arm's LeRobot
    default, ``C.LEROBOT_USE_DEGREES``). seed: first reset seed. env_kwargs: more keyword arguments
    for ``armtwin.envs.make``.
    """

    env_id: str = "armtwin/SO101-Lift-v0"
    image_size: tuple[int, int] | None = (128, 128)
    cameras: tuple[str, ...] = C.CAMERA_NAMES
    ctrl_dt: float = C.CTRL_DT
    calibration: str | Path | None = None
    use_degrees: bool | None = None
    seed: int | None = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = "armtwin_so101_sim"

    def __post_init__(self):
        if self.image_size is not None:
            self.image_size = tuple(int(x) for x in self.image_size)
            if len(self.image_size) != 2 or min(self.image_size) < 1:
                raise ValueError(f"image_size must be (H, W) with positive sizes or None, got {self.image_size}")
        self.cameras = tuple(self.cameras)
        bad = [c for c in self.cameras if c not in C.CAMERA_NAMES]
        if bad:
            raise ValueError(f"unknown cameras {bad}; valid cameras: {', '.join(C.CAMERA_NAMES)}")
        if not (self.ctrl_dt > 0 and math.isfinite(self.ctrl_dt)):
            raise ValueError(f"ctrl_dt must be a positive number of seconds, got {self.ctrl_dt!r}")
        if self.calibration is not None:
            self.calibration = Path(self.calibration)
            if not self.calibration.is_file():
                raise FileNotFoundError(f"calibration file not found: {self.calibration}")
        # Validate the env id early (cheap: no MuJoCo model is built).
        from armtwin.envs import ENV_IDS

        if self.env_id not in ENV_IDS:
            raise ValueError(f"unknown env id {self.env_id!r}; valid ids: {', '.join(ENV_IDS)}")
        if self.use_degrees is None:  # the units LeRobot's driver of this arm reports by default
            from armtwin.assets.models import robot_model

            self.use_degrees = robot_model(self.robot).C.LEROBOT_USE_DEGREES

    @property
    def robot(self) -> str:
        """The env's arm (:mod:`armtwin.assets.models` name)."""
        from armtwin.envs import get_task

        return get_task(self.env_id).robot

    def calibration_obj(self) -> Calibration:
        robot = self.robot
        return Calibration.default(robot) if self.calibration is None else Calibration.load(self.calibration, robot=robot)


class SimFollower(Follower):
    """The simulated SO-101 (see module docstring). Implements ``armtwin.robots.contract.Follower``.

    Attributes beyond the contract, for the recorder and sim-bound leaders:
    ``env`` (Gymnasium env), ``unwrapped``, ``converter`` (UnitConverter),
    ``last_obs`` (the env observation dict, radians), ``last_info``, ``episode_over`` (the env
    terminated or reached its ``max_episode_steps``), ``reset_count`` (incremented by every
    reset), ``seed`` (last reset seed).
    """

    def __init__(self, config: SimFollowerConfig | None = None):
        self.config = config or SimFollowerConfig()
        self.name = self.config.name
        self.converter = UnitConverter(self.config.calibration_obj(), use_degrees=self.config.use_degrees)
        self.env = None
        self.last_obs: dict[str, Any] | None = None
        self.last_info: dict[str, Any] = {}
        self.reset_count = 0
        self.episode_over = False  # the env terminated or hit its max_episode_steps horizon
        self.seed: int | None = None
        RC = self.converter.C  # the env's robot's constants
        self._lo = RC.lower_limits()
        self._hi = RC.upper_limits()
        self._fk = None

    # ---------------------------------------------------------------- contract
    @property
    def cameras(self) -> tuple[str, ...]:
        return self.config.cameras if self.config.image_size is not None else ()

    @property
    def observation_features(self) -> dict[str, Any]:
        feats: dict[str, Any] = {k: float for k in C.LEROBOT_MOTOR_KEYS}
        for cam in self.cameras:
            feats[cam] = (*self.config.image_size, 3)
        return feats

    @property
    def action_features(self) -> dict[str, Any]:
        return {k: float for k in C.LEROBOT_MOTOR_KEYS}

    @property
    def is_connected(self) -> bool:
        return self.env is not None

    @property
    def is_calibrated(self) -> bool:
        return True

    def connect(self, calibrate: bool = True) -> None:
        """Build the env and reset it with ``config.seed``."""
        if self.env is not None:
            raise RuntimeError(f"{self.name} is already connected")
        import armtwin.envs

        cfg = self.config
        kwargs = dict(cfg.env_kwargs)
        kwargs.setdefault("ctrl_dt", cfg.ctrl_dt)
        # The physics step must divide the control period: keep C.SIM_DT when it does, else the
        # largest step below it that does (e.g. 50 Hz -> 1/200 s).
        n = math.ceil(cfg.ctrl_dt / C.SIM_DT - 1e-9)
        kwargs.setdefault("sim_dt", cfg.ctrl_dt / n)
        kwargs.setdefault("image_size", cfg.image_size)
        if cfg.image_size is not None:
            kwargs.setdefault("cameras", cfg.cameras)
        self.env = armtwin.envs.make(cfg.env_id, **kwargs)
        self.reset(seed=cfg.seed)

    def calibrate(self) -> None:
        """Nothing to calibrate: the sim speaks the calibration given in the config."""

    def configure(self) -> None:
        """Nothing to configure."""

    def get_observation(self) -> dict[str, Any]:
        """Joint positions in LeRobot units (dict) and camera frames (H, W, 3) uint8, as of the last step."""
        self._check()
        obs = self.last_obs
        out: dict[str, Any] = self.converter.to_lerobot_dict(obs["joint_pos"])
        images = obs.get("images") or {}
        for cam in self.cameras:
            out[cam] = images[cam]
        return out

    def get_joint_positions(self) -> dict[str, float]:
        """Present joint positions in LeRobot units (no camera frames)."""
        self._check()
        return self.converter.to_lerobot_dict(self.last_obs["joint_pos"])

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Clamp to the joint limits, step the sim one control period; returns the clamped action (LeRobot units)."""
        self._check()
        q = self.converter.to_radians(action)
        if not np.all(np.isfinite(q)):
            raise ValueError(f"{self.name}: action has non-finite values: {action}")
        q = np.clip(q, self._lo, self._hi)
        self.step_radians(q)
        return self.converter.to_lerobot_dict(q)

    def disable_torque(self) -> None:
        """Nothing to let go: the simulated servos keep tracking their last target (the "hold" policy)."""

    def disconnect(self) -> None:
        if self.env is not None:
            self.env.close()
        self.env = None

    # ---------------------------------------------------------------- sim side
    @property
    def unwrapped(self):
        self._check()
        return self.env.unwrapped

    def step_radians(self, q) -> dict[str, Any]:
        """Step the env with (6,) joint targets, radians (no clamping); returns the new env observation."""
        # float64 all the way: the recorder stores the applied target, and a replay must apply the same bits.
        obs, _, terminated, truncated, info = self.env.step(np.asarray(q, dtype=np.float64))
        self.last_obs, self.last_info = obs, info
        self.episode_over = bool(terminated or truncated)
        return obs

    def reset(self, seed: int | None = None, state=None) -> dict[str, Any]:
        """Reset the env (``seed``), then optionally ``set_state(state)``; returns the env observation."""
        self._check()
        obs, info = self.env.reset(seed=seed)
        if state is not None:
            u = self.env.unwrapped
            u.set_state(np.asarray(state, dtype=np.float64))
            obs = u._obs()  # the env observation of the restored state
        self.last_obs, self.last_info = obs, info
        self.episode_over = False
        self.seed = seed
        self.reset_count += 1
        return obs

    @property
    def applied_action(self) -> np.ndarray:
        """(6,) float64 radians: the joint targets the env applied at the last step (after clamping)."""
        return np.asarray(self.last_info["action"], dtype=np.float64).copy()

    @property
    def is_success(self) -> bool:
        return bool(self.last_info.get("is_success", False))

    @property
    def instruction(self) -> str:
        return str(self.unwrapped.instruction)  # every armtwin env declares it (envs.base)

    @property
    def env_args(self) -> dict[str, Any]:
        """``data.attrs["env_args"]`` for recordings (:func:`armtwin.data.make_env_args`): the env id and the
        env config's kwargs (``EnvConfig.to_kwargs()``), which rebuild this env."""
        from armtwin.data import make_env_args

        return make_env_args(self.config.env_id, self.unwrapped.config.to_kwargs())

    def recording_frame(self) -> dict[str, Any]:
        """What the recorder stores before the next action: ``obs`` (env obs, radians, images),
        ``state`` (S,) and ``datagen_info`` (eef pose, object poses, subtask signals)."""
        u = self.unwrapped
        obs = {k: v for k, v in self.last_obs.items() if k != "instruction"}
        return {"obs": obs, "state": u.get_state(), "datagen_info": u.get_datagen_info()}

    def target_pose(self, q) -> np.ndarray:
        """(4, 4) gripper site pose that joint targets q (6,) rad aim at (FK of the env's arm), base/world frame."""
        if self._fk is None:
            from armtwin.envs.ik import IK

            self._fk = IK(robot=self.config.robot)
        return self._fk.fk_mat(q)

    def _check(self):
        if self.env is None:
            raise RuntimeError(f"{self.name} is not connected: call connect() first")
