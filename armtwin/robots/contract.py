"""The device contract shared by every follower and leader: everything the control loop, the
safety layer and the ROS 2 bridge call on a device, declared here, so none of them probes for it.

Method names and meanings are LeRobot's (``lerobot.robots.robot.Robot`` and
``lerobot.teleoperators.teleoperator.Teleoperator``: ``connect``, ``get_observation``,
``send_action``, ``disconnect``, ``get_action``, ``is_connected``, ``action_features``...). A LeRobot
device joins through a thin subclass (``armtwin.robots.real`` wraps LeRobot's ``SO101Follower``
and ``SO101Leader`` unmodified), and a follower here can be registered as a LeRobot robot type
(see ``plugins/lerobot_robot_armtwin``).

Units on the contract are LeRobot's: actions and joint observations are dicts keyed
``"<joint>.pos"`` (``so101_constants.LEROBOT_MOTOR_KEYS``), body joints in degrees
(``use_degrees=True``) or -100..100, the gripper 0..100. Camera observations are
``(H, W, 3) uint8`` arrays keyed by camera name (``so101_constants.CAMERA_NAMES``).
``armtwin.units`` converts to sim radians.

Who calls what:

* :class:`Follower`: ``armtwin.robots.safety.SafeFollower`` wraps every follower and calls
  ``get_joint_positions`` before each command (the per-step clamp's present position),
  ``send_action``, ``on_safety_stop`` on every safety stop, and ``disable_torque`` on a fault with
  the ``"torque_off"`` policy.
* The control loop and the bridge drive only the ``SafeFollower`` (built by
  ``armtwin.robots.factory.make_follower``), whose ``send_action(action, *, stamp=None)`` also
  takes the time the input was produced (its watchdog).
* :class:`Leader`: the control loop calls ``observe(observation)`` then ``get_action`` each tick, reads ``data_stamp`` after it,
  asks ``reset_request()`` before a reset, calls ``on_episode_reset(observation)`` after one, and
  forwards key presses to ``handle_key``. The hooks have do-nothing defaults here; a leader
  overrides the ones it needs.

Sim and real differ only behind this contract: the control loop, recorder, policy runner and
ROS 2 bridge never ask which one they hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class LeaderExhausted(Exception):
    """Raised by ``Leader.get_action`` when a finite leader (a replay) has no more actions."""


class StaleInput(LeaderExhausted):
    """A leader's input stayed silent too long (the network leader past ``stale_end_s``): the episode
    ends as a failure instead of recording a hold, and the loop notes that the input was lost."""


class Follower(ABC):
    """An arm that is commanded: the simulated SO-101 or the real one."""

    name: str

    @property
    @abstractmethod
    def observation_features(self) -> dict[str, Any]:
        """``{"shoulder_pan.pos": float, ..., "wrist": (H, W, 3), ...}`` like LeRobot's Robot."""

    @property
    @abstractmethod
    def action_features(self) -> dict[str, Any]:
        """``{"shoulder_pan.pos": float, ...}``."""

    @property
    @abstractmethod
    def is_connected(self) -> bool: ...

    @abstractmethod
    def connect(self, calibrate: bool = True) -> None: ...

    @abstractmethod
    def get_observation(self) -> dict[str, Any]:
        """Joint positions (contract units) and camera frames ``(H, W, 3) uint8``."""

    @abstractmethod
    def get_joint_positions(self) -> dict[str, float]:
        """Present position of every joint, contract units, keyed ``LEROBOT_MOTOR_KEYS``; no camera reads
        (the safety layer reads it before every command)."""

    @abstractmethod
    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Command the arm; returns the action that was really sent (after the device's own clamping)."""

    @abstractmethod
    def disable_torque(self) -> None:
        """Let go of the arm (the safety layer's ``"torque_off"`` fault policy)."""

    @abstractmethod
    def disconnect(self) -> None: ...

    # ---------------------------------------------------------------- optional hook (default: nothing)
    def on_safety_stop(self, reason: str) -> None:
        """The safety layer stopped this follower (``reason``: the cause), whatever the cause was. A
        follower with servos must then leave every one as the stop left it when it disconnects (torque
        on, holding its last goal: ``docs/safety.md``) instead of its normal close; the sim has nothing
        to do."""


class Leader(ABC):
    """Whatever produces actions: a leader arm, keyboard, expert, replay, network."""

    name: str

    #: ``time.monotonic()`` at which the data of the last ``get_action`` was produced, for leaders
    #: that know it (the network leader: when it arrived); None: the loop takes the read time. The
    #: safety layer's watchdog holds the follower once that data is too old.
    data_stamp: float | None = None

    @property
    @abstractmethod
    def action_features(self) -> dict[str, Any]: ...

    @property
    @abstractmethod
    def is_connected(self) -> bool: ...

    @abstractmethod
    def connect(self, calibrate: bool = True) -> None: ...

    @abstractmethod
    def get_action(self) -> dict[str, Any]:
        """The next action in contract units (dict keyed "<joint>.pos"); :class:`LeaderExhausted` when done."""

    @abstractmethod
    def disconnect(self) -> None: ...

    # ---------------------------------------------------------------- optional hooks (defaults: nothing)
    def observe(self, observation: dict[str, Any]) -> None:
        """Called each tick just before :meth:`get_action` with the follower's contract observation
        (joints in contract units, camera frames ``(H, W, 3) uint8``): what a policy acts on."""

    def reset_request(self) -> dict[str, Any] | None:
        """Asked before each reset: ``{"seed": int | None, "state": (S,) array | None}`` to reset to a
        given scene (a replay of a recording), or None to let the loop choose."""
        return None

    def on_episode_reset(self, observation: dict[str, Any]) -> None:
        """Called after the follower was reset, with its contract observation."""

    def handle_key(self, ch: str) -> bool:
        """A key press the loop did not use itself; True if this leader used it."""
        return False
