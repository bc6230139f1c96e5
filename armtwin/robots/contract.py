"""The device contract shared by every follower and leader.

Method names and meanings are LeRobot's (``lerobot.robots.robot.Robot`` and
``lerobot.teleoperators.teleoperator.Teleoperator``), so a LeRobot robot is a
follower here without an adapter, and a follower here can be registered as a
LeRobot robot type (see ``plugins/lerobot_robot_armtwin``).

Units on the contract are LeRobot's: actions and joint observations are dicts
keyed ``"<joint>.pos"`` (``so101_constants.LEROBOT_MOTOR_KEYS``), body joints
in degrees (``use_degrees=True``) or -100..100, the gripper 0..100. Camera
observations are ``(H, W, 3) uint8`` arrays keyed by camera name
(``so101_constants.CAMERA_NAMES``). ``armtwin.units`` converts to sim radians.

Sim and real differ only behind this contract: the control loop, recorder,
policy runner and ROS 2 bridge never ask which one they hold.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Follower(Protocol):
    """An arm that is commanded: the simulated SO-101 or the real one."""

    name: str

    @property
    def observation_features(self) -> dict[str, Any]:
        """``{"shoulder_pan.pos": float, ..., "wrist": (H, W, 3), ...}`` like LeRobot's Robot."""

    @property
    def action_features(self) -> dict[str, Any]:
        """``{"shoulder_pan.pos": float, ...}``."""

    @property
    def is_connected(self) -> bool: ...

    def connect(self, calibrate: bool = True) -> None: ...

    def get_observation(self) -> dict[str, Any]: ...

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Command the arm; returns the action that was really sent (after clamping)."""

    def disconnect(self) -> None: ...


@runtime_checkable
class Leader(Protocol):
    """Whatever produces actions: a leader arm, keyboard, expert, replay, network."""

    name: str

    @property
    def action_features(self) -> dict[str, Any]: ...

    @property
    def is_connected(self) -> bool: ...

    def connect(self, calibrate: bool = True) -> None: ...

    def get_action(self) -> dict[str, Any]:
        """The next action in contract units (dict keyed "<joint>.pos")."""

    def disconnect(self) -> None: ...
