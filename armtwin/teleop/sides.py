"""What differs between a simulated and a real follower when episodes are run and recorded.

The control loop (:mod:`armtwin.teleop.loop`) asks an :class:`EpisodeSide` how to reset the scene and
what to record at each step; :func:`armtwin.teleop.factory.build_session` picks :class:`SimSide` or
:class:`RealSide` once, from ``--target``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.data.schema import datagen_row


class EpisodeSide(Protocol):
    """What the loop needs from the follower side to run and record episodes.

    source: "sim" | "real". converter: contract units <-> radians of this follower. sim: the
    :class:`armtwin.robots.sim.SimFollower` when the follower is simulated, None on a real arm (sim-bound
    leaders, the expert and a policy's environment state, read the scene through it). instruction: task text. env_args: ``data.attrs["env_args"]``. reset(seed, state) resets the
    scene (returns the seed used or None). frame(observation) -> {"obs", "state", "datagen_info"}
    before the action. sent_radians(sent) -> (6,) rad, the command really applied.
    complete(frame, sent_rad) adds action-dependent datagen info.
    success() -> bool | None (None: cannot tell). over() -> bool: the scene's own horizon is reached
    (sim: the env terminated or hit max_episode_steps).
    """

    source: str
    converter: Any
    sim: Any  # SimFollower | None

    @property
    def instruction(self) -> str: ...

    @property
    def env_args(self) -> dict: ...

    def reset(self, seed: int | None, state=None) -> int | None: ...

    def frame(self, observation: dict[str, Any]) -> dict[str, Any]: ...

    def sent_radians(self, sent: dict[str, float]) -> np.ndarray: ...

    def complete(self, frame: dict[str, Any], sent_rad: np.ndarray) -> None: ...

    def success(self) -> bool | None: ...

    def over(self) -> bool: ...


class SimSide:
    """Episodes on a :class:`armtwin.robots.sim.SimFollower`: env resets, full states, datagen info."""

    source = "sim"

    def __init__(self, sim):
        self.sim = sim
        self.converter = sim.converter

    @property
    def instruction(self) -> str:
        return self.sim.instruction

    @property
    def env_args(self) -> dict:
        return self.sim.env_args

    def reset(self, seed, state=None):
        self.sim.reset(seed=seed, state=state)
        return seed

    def frame(self, observation):
        return self.sim.recording_frame()

    def sent_radians(self, sent):
        # Exactly the bits the env applied (not a units round trip), so the recording replays bit-exactly.
        return self.sim.applied_action

    def complete(self, frame, sent_rad):
        frame["datagen_info"] = datagen_row(frame["datagen_info"], target_eef_pose=self.sim.target_pose(sent_rad),
                                            action=sent_rad)

    def success(self):
        return self.sim.is_success

    def over(self):
        return self.sim.episode_over


class RealSide:
    """Episodes on a real arm: no reset (a reset period instead), joint positions and camera frames only."""

    source = "real"
    sim = None  # no simulated scene behind a real arm

    def __init__(self, converter, *, instruction: str = "", env_args: dict | None = None):
        self.converter = converter
        self._instruction = instruction
        self._env_args = dict(env_args or {})

    @property
    def instruction(self) -> str:
        return self._instruction

    @property
    def env_args(self) -> dict:
        return self._env_args

    def reset(self, seed, state=None):
        return None

    def frame(self, observation):
        obs: dict[str, Any] = {"joint_pos": self.converter.to_radians(observation)}
        images = {k: v for k, v in observation.items() if k in C.CAMERA_NAMES}
        if images:
            obs["images"] = images
        return {"obs": obs, "state": None, "datagen_info": None}

    def sent_radians(self, sent):
        return self.converter.to_radians(sent)

    def complete(self, frame, sent_rad):
        pass

    def success(self):
        return None

    def over(self):
        return False
