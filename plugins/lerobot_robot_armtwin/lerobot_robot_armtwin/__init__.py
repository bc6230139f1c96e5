"""LeRobot plugin: the armtwin simulated SO-101 as robot type ``armtwin_so101_sim``.

Installed, it lets LeRobot's own scripts drive the twin, e.g. with a real leader arm::

    lerobot-teleoperate --robot.type=armtwin_so101_sim --robot.env_id=armtwin/SO101-Lift-v0 \\
        --teleop.type=so101_leader --teleop.port=/dev/ttyACM0 --teleop.id=my_leader

LeRobot imports this package by its distribution name (``register_third_party_plugins``);
importing it registers the config with ``RobotConfig.register_subclass``, and
``make_robot_from_config`` finds :class:`ArmtwinSO101Sim` next to the config class. It also registers
the env type ``armtwin`` (:class:`ArmtwinEnv`, ``EnvConfig.register_subclass``) for ``lerobot-eval``, and
the camera type ``armtwin_twin`` (frames a virtual arm's twin renders, ``armtwin virtual-arm
--frame-socket``) for a real-robot type such as ``so101_follower``: ``--robot.cameras='{wrist: {type:
armtwin_twin, socket: /tmp/arm.sock, camera: wrist}}'``.
"""

from lerobot_robot_armtwin.config_armtwin_so101_sim import ArmtwinSO101SimConfig
from lerobot_robot_armtwin.armtwin_so101_sim import ArmtwinSO101Sim
from lerobot_robot_armtwin.config_armtwin_env import ArmtwinEnv
from armtwin.robots.config_twin_camera import TwinCameraConfig  # noqa: F401 - registers "armtwin_twin"

__all__ = ["ArmtwinEnv", "ArmtwinSO101SimConfig", "ArmtwinSO101Sim"]
