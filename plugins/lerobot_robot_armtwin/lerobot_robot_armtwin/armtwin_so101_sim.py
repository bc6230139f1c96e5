"""``ArmtwinSO101Sim``: a LeRobot ``Robot`` wrapping armtwin's sim follower, built by
:func:`armtwin.robots.factory.make_follower` like teleop's and the bridge's (so behind the same
safety layer: joint limits and the per-step clamp)."""

from __future__ import annotations

import logging
from typing import Any

from lerobot.robots.robot import Robot

from armtwin.robots.factory import make_follower
from lerobot_robot_armtwin.config_armtwin_so101_sim import ArmtwinSO101SimConfig
from lerobot_robot_armtwin.episodes import RecordSchedule, record_durations

logger = logging.getLogger(__name__)


class ArmtwinSO101Sim(Robot):
    """The armtwin MuJoCo SO-101 as a LeRobot robot: same features and units as ``so101_follower``
    (``"<joint>.pos"`` floats, cameras (H, W, 3) uint8). ``follower`` is the SafeFollower every
    call goes through; ``sim`` the SimFollower inside it (``sim.env`` the Gymnasium env).

    ``type(robot).name`` is the plugin's robot type (``armtwin_so101_sim``: its calibration directory);
    ``robot.name``/``robot.robot_type``, what ``lerobot-record`` writes into datasets, is
    ``config.robot_type`` (by default what LeRobot records for a real SO-101). ``schedule``: the lerobot-record episode
    schedule the scene resets on (None: no automatic reset)."""

    config_class = ArmtwinSO101SimConfig
    name = "armtwin_so101_sim"

    def __init__(self, config: ArmtwinSO101SimConfig):
        super().__init__(config)
        self.config = config
        built = make_follower(
            "sim",
            connect=False,  # LeRobot's scripts call connect()
            env_id=config.env_id,
            rate_hz=config.fps,
            image_size=(config.image_height, config.image_width) if config.camera_names else None,
            cameras=tuple(config.camera_names) or ("front",),
            calibration=config.calibration_file,
            use_degrees=config.use_degrees,
            seed=config.seed,
            env_kwargs={"max_episode_steps": config.max_episode_steps},
            name=self.name,
        )
        self.follower = built.follower
        self.sim = built.device
        # Instance attributes, after Robot.__init__ used the class's name for the calibration directory.
        self.name = self.robot_type = config.robot_type
        durations = (config.episode_time_s, config.reset_time_s)
        if durations[0] is None:
            durations = record_durations()
        self.schedule = RecordSchedule(*durations) if config.auto_reset and durations is not None else None
        self.episode_seed = config.seed

    @property
    def cameras(self) -> dict[str, tuple[int, int, int]]:
        """Camera name -> (H, W, 3); LeRobot's scripts size their image writers with ``len(robot.cameras)``."""
        return {name: shape for name, shape in self.sim.observation_features.items() if isinstance(shape, tuple)}

    @property
    def observation_features(self) -> dict[str, Any]:
        return self.sim.observation_features

    @property
    def action_features(self) -> dict[str, Any]:
        return self.sim.action_features

    @property
    def is_connected(self) -> bool:
        return self.follower.is_connected

    def connect(self, calibrate: bool = True) -> None:
        self.follower.connect(calibrate=calibrate)

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        """Nothing to calibrate: the twin speaks the calibration in the config."""

    def configure(self) -> None:
        """Nothing to configure."""

    def get_observation(self) -> dict[str, Any]:
        """The twin's observation; the first call of each new lerobot-record episode gets a fresh scene."""
        if self.schedule is not None and self.schedule.tick():
            self.reset_scene(seed=self.config.seed + self.schedule.episode)
        return self.follower.get_observation()

    def reset_scene(self, seed: int | None = None) -> None:
        """A fresh scene now: the env reset with ``seed`` (default: the next episode's), arm at its start pose."""
        self.episode_seed = self.episode_seed + 1 if seed is None else int(seed)
        self.sim.reset(seed=self.episode_seed)
        logger.info("%s: fresh scene (seed %d)", type(self).name, self.episode_seed)

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Through the safety layer (joint limits, per-step clamp, NaN hold), then one simulated
        control period; returns what was sent."""
        return self.follower.send_action(action)

    def disconnect(self) -> None:
        self.follower.disconnect()
