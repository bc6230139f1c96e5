"""A policy as a source of actions: :class:`PolicyLeader`, a :class:`armtwin.robots.contract.Leader`.

The control loop (:mod:`armtwin.teleop.loop`) calls ``observe(observation)`` then ``get_action()`` each
tick and ``on_episode_reset`` after each reset, as for any leader; the follower stays behind the safety
layer. The policy itself is a :class:`PolicyBackend`: :class:`armtwin.policy.local.LocalPolicy` runs a
LeRobot checkpoint in this process; a remote backend (LeRobot's async inference server over gRPC) has the
same four members and drops in unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from armtwin.policy.features import (
    ENV_STATE_KEY,
    action_to_contract,
    check_features,
    check_robot_type,
    follower_features,
    joint_keys,
    to_frame,
)
from armtwin.robots.contract import Leader


@runtime_checkable
class PolicyBackend(Protocol):
    """What :class:`PolicyLeader` needs from a policy, wherever it runs.

    ``input_features``: ``{name: feature}`` in LeRobot's feature names (``observation.state``,
    ``observation.images.<camera>``, ``observation.environment_state``), each a LeRobot ``PolicyFeature``
    or a ``{"type": "STATE"|"VISUAL"|"ENV", "shape": [...]}`` dict (images ``(3, H, W)``).
    ``reset()``: a new episode starts (clear action queues and observation history).
    ``act(frame)``: frame from :func:`armtwin.policy.features.to_frame` (numpy arrays and ``"task"``) ->
    ``(n_joints,)`` action, LeRobot units, the frame's joint order (the follower's). May block (a remote backend waits for
    its server); the loop's latency statistics then show it.
    ``close()``: the leader disconnects; release what the backend holds (a remote backend's gRPC channel;
    nothing for an in-process policy). Called once, by :meth:`PolicyLeader.disconnect`.
    """

    @property
    def input_features(self) -> Mapping[str, Any]: ...

    def reset(self) -> None: ...

    def act(self, frame: dict[str, Any]) -> np.ndarray: ...

    def close(self) -> None: ...


def make_backend(policy, *, device: str = "cpu", policy_server: str | None = None,
                 chunk_size_threshold: float = 0.5, options: dict[str, Any] | None = None) -> PolicyBackend:
    """The backend for ``policy`` (a pretrained directory, or for a server a hub id too): a
    :class:`armtwin.policy.local.LocalPolicy` on ``device`` with its config changed by ``options``
    (:func:`armtwin.policy.local.policy_options`), or with ``policy_server`` ("HOST:PORT") a
    :class:`armtwin.policy.remote.RemotePolicy` client of LeRobot's async inference server (``device`` is
    then the server's; ``chunk_size_threshold`` its observation-sending rule; no ``options``: the server
    loads the policy as saved)."""
    if policy_server is None:
        from armtwin.policy.local import LocalPolicy

        return LocalPolicy.from_pretrained(policy, device=device, options=options)
    if options:
        raise ValueError("policy options apply to a policy run here, not on --policy-server (the server loads it "
                         "as saved)")
    from armtwin.policy.remote import RemotePolicy, RemotePolicyOptions

    return RemotePolicy.connect(RemotePolicyOptions(server=policy_server, policy=str(policy), device=device,
                                                    chunk_size_threshold=chunk_size_threshold))


class PolicyLeader(Leader):
    """``PolicyLeader(backend, *, task="", environment_state=None, trained_on=None)``.

    task: the instruction given to the policy (the recording's instruction). environment_state: a
    callable returning ``(3 * n_objects,) float32`` object positions (only a sim follower has one:
    :func:`armtwin.policy.features.environment_state` of its env observation), None when there is none.
    trained_on: ``(robot_type, where it was read)`` of the policy's training data
    (:func:`armtwin.policy.local.policy_robot_type`), None when not known.
    Call :meth:`check(follower_observation_features, robot_type=...)` before the loop runs: it raises
    :class:`armtwin.policy.features.FeatureMismatch` before anything moves; ``observe`` refuses to run
    unchecked. The joints it reads and commands are the follower's (its ``observation_features`` keys).
    """

    name = "policy"

    def __init__(self, backend: PolicyBackend, *, task: str = "",
                 environment_state: Callable[[], np.ndarray] | None = None,
                 trained_on: tuple[str, str] | None = None):
        if not isinstance(backend, PolicyBackend):  # the declared protocol, checked once here
            raise TypeError(f"policy backend {type(backend).__name__} is not a PolicyBackend: one has "
                            "input_features, reset(), act(frame) and close()")
        self.backend = backend
        self.task = task
        self.environment_state = environment_state
        self.trained_on = trained_on
        self._joints: list[str] = []
        self._features = dict(backend.input_features)
        self._connected = False
        self._checked = False
        self._frame: dict[str, Any] | None = None
        self.steps = 0

    @property
    def input_features(self) -> dict[str, Any]:
        return self._features

    def check(self, observation_features: Mapping[str, Any], *, robot_type: str | None = None) -> None:
        """Compare the policy's inputs with the follower's ``observation_features`` and, when both are known,
        the policy's training arm with the follower's ``robot_type`` (its ``C.LEROBOT_ROBOT_TYPE``); raises
        FeatureMismatch."""
        if robot_type is not None and self.trained_on is not None:
            check_robot_type(self.trained_on[0], robot_type, source=self.trained_on[1])
        size = None
        if self.environment_state is not None and ENV_STATE_KEY in self._features:
            size = int(np.asarray(self.environment_state()).size)
        check_features(self._features, follower_features(observation_features, environment_state_size=size))
        self._joints = joint_keys(observation_features)
        self._checked = True

    # ---------------------------------------------------------------- Leader contract
    @property
    def action_features(self) -> dict[str, Any]:
        if not self._checked:
            raise RuntimeError("PolicyLeader.action_features: the joints are the follower's; call check() first")
        return {k: float for k in self._joints}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, calibrate: bool = True) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False
        self.backend.close()

    def observe(self, observation: dict[str, Any]) -> None:
        if not self._checked:
            raise RuntimeError("PolicyLeader.check(follower.observation_features) must run before the loop starts")
        env = self.environment_state() if (self.environment_state is not None
                                           and ENV_STATE_KEY in self._features) else None
        self._frame = to_frame(observation, self._features, joints=self._joints, task=self.task,
                               environment_state=env)

    def get_action(self) -> dict[str, float]:
        if self._frame is None:
            raise RuntimeError("PolicyLeader.get_action() before observe(): the control loop calls observe first")
        frame, self._frame = self._frame, None  # one action per observation
        self.steps += 1
        return action_to_contract(self.backend.act(frame), joints=self._joints)

    def on_episode_reset(self, observation: dict[str, Any]) -> None:
        self.backend.reset()
        self._frame = None
