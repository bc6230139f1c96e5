"""Config of the ``armtwin_so101_sim`` LeRobot robot type (draccus parses ``--robot.<field>``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.robots.config import RobotConfig

from armtwin.assets import so101_constants as C


@RobotConfig.register_subclass("armtwin_so101_sim")
@dataclass(kw_only=True)
class ArmtwinSO101SimConfig(RobotConfig):
    """The simulated SO-101 follower.

    env_id: armtwin task (``armtwin envs`` lists them). fps: control rate of the calling script;
    each ``send_action`` simulates 1/fps seconds. image_height/image_width: camera frames
    (H, W, 3) uint8; camera_names: subset of ("wrist", "front"), empty for none.
    calibration_file: LeRobot calibration JSON whose units the twin speaks (default: the ideal
    arm). use_degrees: body joints in degrees (LeRobot 0.4.4's default) or -100..100.
    seed: first reset seed (episode k of a recording is reset with seed + k). max_episode_steps: env
    horizon (LeRobot's scripts never reset a robot; see auto_reset).
    auto_reset: put a fresh scene at each episode start of ``lerobot-record``, following its schedule
    (``lerobot_robot_armtwin.episodes``). episode_time_s/reset_time_s: that schedule, seconds; None: read
    from the running ``lerobot-record`` command line (``--dataset.episode_time_s``/``--dataset.reset_time_s``,
    LeRobot's defaults 60/60); outside ``lerobot-record`` (teleoperate, robot_client, Python) the scene is
    only reset when both are given.
    robot_type: the robot type datasets record (``robot.name``); None (default): the one LeRobot
    records for a real SO-101 (``SO101Follower.name``: ``so_follower`` in 0.4.4; the SO-101 constants'
    ``LEROBOT_ROBOT_TYPE``, which ``armtwin convert lerobot`` writes too), so twin
    recordings aggregate with real ones (LeRobot's ``aggregate_datasets`` requires the same robot_type,
    fps and features: record the twin with the real cameras' names and sizes).
    """

    env_id: str = "armtwin/SO101-Lift-v0"
    fps: int = 30
    image_height: int = 128
    image_width: int = 128
    camera_names: list[str] = field(default_factory=lambda: list(C.CAMERA_NAMES))
    calibration_file: str | None = None
    use_degrees: bool = True
    seed: int = 0
    max_episode_steps: int = 1_000_000
    auto_reset: bool = True
    episode_time_s: float | None = None
    reset_time_s: float | None = None
    robot_type: str | None = None

    def __post_init__(self):
        super().__post_init__()
        from armtwin.envs import check_env_id

        check_env_id(self.env_id)
        if not 1 <= self.fps <= 1000:
            raise ValueError(f"fps must be in 1..1000, got {self.fps}")
        bad = [c for c in self.camera_names if c not in C.CAMERA_NAMES]
        if bad:
            raise ValueError(f"unknown camera names {bad}; valid: {', '.join(C.CAMERA_NAMES)}")
        if (self.episode_time_s is None) != (self.reset_time_s is None):
            raise ValueError("give both episode_time_s and reset_time_s (the lerobot-record values) or neither")
        if self.episode_time_s is not None and not (self.episode_time_s > 0 and self.reset_time_s >= 0):
            raise ValueError(
                f"episode_time_s must be > 0 and reset_time_s >= 0, got {self.episode_time_s}, {self.reset_time_s}"
            )
        if self.robot_type is None:
            self.robot_type = C.LEROBOT_ROBOT_TYPE  # what lerobot-record writes for a real SO-101
        if not self.robot_type:
            raise ValueError("robot_type must be a non-empty name (e.g. so_follower) or None")
