"""The one mapping between a follower's contract observation and a LeRobot policy's input frame.

Contract side (:mod:`armtwin.robots.contract`): joints ``"<joint>.pos"`` in LeRobot units (body joints
degrees or -100..100, gripper 0..100, in the order of the follower's ``observation_features``: its arm's
``C.LEROBOT_MOTOR_KEYS``, whichever arm it is), cameras ``(H, W, 3) uint8`` keyed by camera name.

Policy side: the feature names ``armtwin convert lerobot`` writes (:mod:`armtwin.convert.lerobot_v3`):

* ``observation.state``: ``(n_joints,) float32``, the follower's joints in its order, LeRobot units;
* ``observation.images.<camera>``: ``(H, W, 3) uint8`` here; LeRobot's ``predict_action`` scales it to
  ``(3, H, W) float32`` in [0, 1] (the policy's config states ``(3, H, W)``);
* ``observation.environment_state``: ``(3 * n_objects,) float32``, the task objects' centre positions in
  metres, world frame, in the env's ``object_names`` order (:func:`environment_state`; the converter's
  ``--environment-state`` writes the same numbers); only a simulated follower can give it;
* ``task``: the instruction string (language-conditioned policies read it, others ignore it).

The policy's ``action`` is ``(n_joints,)`` in the same units and order as ``observation.state``
(:func:`action_to_contract`).

:func:`check_features` compares what a policy expects with what a follower gives and raises
:class:`FeatureMismatch` naming both sides, before the arm moves; :func:`check_robot_type` refuses a policy
trained on another arm's data when its dataset says which arm that was (two arms with the same joint
names, the SO-101 and the OMX, give the same shapes in different units). No torch here: features may be
LeRobot ``PolicyFeature`` objects or the plain ``{"type": ..., "shape": [...]}`` of a ``config.json``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from armtwin.convert.lerobot_format import ENV_STATE_KEY  # noqa: F401 - the converter writes it; re-exported

STATE_KEY = "observation.state"
IMAGE_PREFIX = "observation.images."
ACTION_KEY = "action"
TASK_KEY = "task"
#: The key of the environment state's size in a follower feature dict given to :func:`check_features`.
FOLLOWER_ENV_STATE = "environment_state"


class FeatureMismatch(ValueError):
    """The policy's input features and the follower's observation do not fit (message names both)."""


def image_key(camera: str) -> str:
    """``observation.images.<camera>``."""
    return f"{IMAGE_PREFIX}{camera}"


def environment_state(env_obs: Mapping[str, Any]) -> np.ndarray:
    """``(3 * n_objects,) float32``: the env observation's ``object_pos`` ``(n_objects, 3)`` metres, world
    frame, flattened row by row (object 0 x, y, z, object 1 x, ...)."""
    return np.asarray(env_obs["object_pos"], dtype=np.float32).reshape(-1)


def joint_keys(features: Mapping[str, Any]) -> list[str]:
    """The joint keys of a contract feature dict (``observation_features`` / ``action_features``): those
    typed ``float`` (``"<joint>.pos"``), in the follower's order."""
    return [k for k, v in features.items() if v is float]


def check_robot_type(policy_robot_type: str | None, follower_robot_type: str, *, source: str = "") -> None:
    """Raise :class:`FeatureMismatch` when the policy's training data came from another arm.

    policy_robot_type: the ``robot_type`` of the dataset the policy was trained on (LeRobot's name, e.g.
    ``"so_follower"``, ``"omx_follower"``; None: not known, nothing is checked). follower_robot_type: the
    follower arm's (its constants' ``LEROBOT_ROBOT_TYPE``). source: where the policy's type was read (for the
    message).
    """
    if policy_robot_type is not None and policy_robot_type != follower_robot_type:
        raise FeatureMismatch(
            f"the policy was trained on {policy_robot_type!r} data{f' ({source})' if source else ''}, the follower "
            f"is a {follower_robot_type!r} arm: its joints have other units, ranges and limits; evaluate it on an "
            f"env of the arm it was trained on, or train it on {follower_robot_type!r} data")


def _kind_shape(feature: Any) -> tuple[str, tuple[int, ...]]:
    """(type name upper-case, shape) of a LeRobot PolicyFeature or a config.json feature dict."""
    if isinstance(feature, Mapping):
        kind, shape = feature.get("type"), feature.get("shape")
    else:
        kind, shape = getattr(feature, "type", None), getattr(feature, "shape", None)
    kind = getattr(kind, "name", kind)  # FeatureType enum -> "VISUAL"
    return str(kind).upper(), tuple(int(s) for s in (shape or ()))


def follower_features(observation_features: Mapping[str, Any], *, environment_state_size: int | None = None) -> dict:
    """A follower's ``observation_features`` (contract) plus, when it can give one, the environment
    state's size under ``FOLLOWER_ENV_STATE``: what :func:`check_features` takes as the follower side."""
    out = dict(observation_features)
    if environment_state_size is not None:
        out[FOLLOWER_ENV_STATE] = (int(environment_state_size),)
    return out


def check_features(policy_input_features: Mapping[str, Any], follower_features: Mapping[str, Any]) -> None:
    """Raise :class:`FeatureMismatch` listing every input the follower cannot give as the policy expects.

    policy_input_features: the policy config's ``input_features`` (name -> PolicyFeature or dict, images
    ``(3, H, W)``). follower_features: contract ``observation_features`` (``"<joint>.pos": float``,
    ``camera: (H, W, 3)``), plus ``FOLLOWER_ENV_STATE: (n,)`` when the follower gives an environment state
    (:func:`follower_features`).
    """
    cameras = {k: tuple(v) for k, v in follower_features.items() if isinstance(v, tuple) and len(v) == 3}
    joints = joint_keys(follower_features)
    env = follower_features.get(FOLLOWER_ENV_STATE)
    have = ", ".join([f"{STATE_KEY} ({len(joints)},)"] + [f"{image_key(c)} {s[2]}x{s[0]}x{s[1]}"
                                                         for c, s in cameras.items()]
                     + ([f"{ENV_STATE_KEY} {tuple(env)}"] if env is not None else []))
    problems = []
    for name, feat in policy_input_features.items():
        kind, shape = _kind_shape(feat)
        if name == STATE_KEY:
            if shape != (len(joints),) or not joints:
                problems.append(f"{name}: the policy expects shape {shape}, the follower gives ({len(joints)},) "
                                f"({', '.join(joints) or 'no joints'})")
        elif name.startswith(IMAGE_PREFIX):
            cam = name[len(IMAGE_PREFIX):]
            if cam not in cameras:
                problems.append(f"{name}: the policy expects camera {cam!r} {shape}, the follower has "
                                f"{'cameras ' + ', '.join(cameras) if cameras else 'no cameras'}")
                continue
            h, w, c = cameras[cam]
            if shape != (c, h, w):
                problems.append(f"{name}: the policy expects images of shape {shape} (C, H, W), camera {cam!r} of "
                                f"the follower gives {(c, h, w)}")
        elif name == ENV_STATE_KEY:
            if env is None:
                problems.append(f"{name}: the policy expects the environment state {shape} (object positions), the "
                                "follower gives none (only a simulated follower can: run it with --target sim)")
            elif tuple(env) != shape:
                problems.append(f"{name}: the policy expects shape {shape}, the follower's task gives {tuple(env)}")
        elif kind == "VISUAL":
            problems.append(f"{name}: an image input not named {IMAGE_PREFIX}<camera>; the follower's cameras: "
                            f"{', '.join(cameras) or 'none'}")
        else:
            problems.append(f"{name} ({kind} {shape}): not an input armtwin can give; valid inputs: {STATE_KEY}, "
                            f"{IMAGE_PREFIX}<camera>, {ENV_STATE_KEY}")
    if problems:
        raise FeatureMismatch(
            "the policy's inputs do not match the follower:\n  - " + "\n  - ".join(problems)
            + f"\n  policy expects: {', '.join(f'{k} {_kind_shape(v)[1]}' for k, v in policy_input_features.items())}"
            + f"\n  follower gives: {have}"
        )


def camera_inputs(policy_input_features: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """``{camera: (H, W)}`` of the policy's image inputs, in its order."""
    out = {}
    for name, feat in policy_input_features.items():
        if name.startswith(IMAGE_PREFIX):
            _, shape = _kind_shape(feat)
            out[name[len(IMAGE_PREFIX):]] = (shape[-2], shape[-1])
    return out


def to_frame(observation: Mapping[str, Any], policy_input_features: Mapping[str, Any], *, joints: Sequence[str],
             task: str = "", environment_state: np.ndarray | None = None) -> dict[str, Any]:
    """The LeRobot frame of a contract observation, with only the inputs the policy reads.

    joints: the follower's joint keys in its order (:func:`joint_keys` of its ``observation_features``).
    Returns ``{"observation.state": (n_joints,) float32, "observation.images.<cam>": (H, W, 3) uint8, ...,
    "observation.environment_state": (n,) float32 (when the policy reads it), "task": str}``.
    """
    frame: dict[str, Any] = {}
    for name in policy_input_features:
        if name == STATE_KEY:
            frame[name] = np.array([observation[k] for k in joints], dtype=np.float32)
        elif name.startswith(IMAGE_PREFIX):
            frame[name] = np.ascontiguousarray(observation[name[len(IMAGE_PREFIX):]], dtype=np.uint8)
        elif name == ENV_STATE_KEY:
            if environment_state is None:
                raise FeatureMismatch(f"the policy reads {ENV_STATE_KEY} and no environment state was given")
            frame[name] = np.asarray(environment_state, dtype=np.float32).reshape(-1)
    frame[TASK_KEY] = task
    return frame


def action_to_contract(action, *, joints: Sequence[str]) -> dict[str, float]:
    """``(n_joints,)`` policy action (LeRobot units, in ``joints`` order: the follower's joint keys, as in
    :func:`to_frame`) -> contract action dict."""
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (len(joints),):
        raise ValueError(f"the policy's action has shape {a.shape}, expected ({len(joints)},): {', '.join(joints)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"the policy's action has non-finite values: {a.tolist()}")
    return {k: float(v) for k, v in zip(joints, a)}
