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
    seed: first reset seed. max_episode_steps: env horizon (the scripts reset nothing).
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

    def __post_init__(self):
        super().__post_init__()
        from armtwin.envs import check_env_id

        check_env_id(self.env_id)
        if not 1 <= self.fps <= 1000:
            raise ValueError(f"fps must be in 1..1000, got {self.fps}")
        bad = [c for c in self.camera_names if c not in C.CAMERA_NAMES]
        if bad:
            raise ValueError(f"unknown camera names {bad}; valid: {', '.join(C.CAMERA_NAMES)}")
