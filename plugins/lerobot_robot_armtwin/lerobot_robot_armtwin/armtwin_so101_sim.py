"""``ArmtwinSO101Sim``: a LeRobot ``Robot`` wrapping :class:`armtwin.robots.sim.SimFollower`."""

from __future__ import annotations

from typing import Any

from lerobot.robots.robot import Robot

from armtwin.robots.sim import SimFollower, SimFollowerConfig
from lerobot_robot_armtwin.config_armtwin_so101_sim import ArmtwinSO101SimConfig


class ArmtwinSO101Sim(Robot):
    """The armtwin MuJoCo SO-101 as a LeRobot robot: same features and units as ``so101_follower``
    (``"<joint>.pos"`` floats, cameras (H, W, 3) uint8). ``sim`` is the wrapped SimFollower
    (``sim.env`` the Gymnasium env)."""

    config_class = ArmtwinSO101SimConfig
    name = "armtwin_so101_sim"

    def __init__(self, config: ArmtwinSO101SimConfig):
        super().__init__(config)
        self.config = config
        self.sim = SimFollower(
            SimFollowerConfig(
                env_id=config.env_id,
                image_size=(config.image_height, config.image_width) if config.camera_names else None,
                cameras=tuple(config.camera_names) or ("front",),
                ctrl_dt=1.0 / config.fps,
                calibration=config.calibration_file,
                use_degrees=config.use_degrees,
                seed=config.seed,
                env_kwargs={"max_episode_steps": config.max_episode_steps},
                name=self.name,
            )
        )

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
        return self.sim.is_connected

    def connect(self, calibrate: bool = True) -> None:
        self.sim.connect(calibrate=calibrate)

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        """Nothing to calibrate: the twin speaks the calibration in the config."""

    def configure(self) -> None:
        """Nothing to configure."""

    def get_observation(self) -> dict[str, Any]:
        return self.sim.get_observation()

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Clamp to the joint limits and simulate one control period; returns what was sent."""
        return self.sim.send_action(action)

    def disconnect(self) -> None:
        self.sim.disconnect()
