"""The armtwin recording format: one definition of its layout, names and per-step fields.

A recording is one HDF5 file in the robomimic / Isaac Lab Mimic layout (docs/interfaces.md)::

    /data                 attrs total (steps), env_args (JSON, :func:`make_env_args`), fps, armtwin_version
    /data/demo_<i>        attrs num_samples, seed, success, source, instruction (+ producer attrs)
        actions (T, 6) float64 rad     timestamps (T,) s since the episode start
        obs/<key> (T, ...)             obs/images/<cam> (T, H, W, 3) uint8
        states (T, S) float64          initial_state (S,)  (sim episodes: full MuJoCo state)
        datagen_info/...               :data:`DATAGEN_FIELDS` (MimicGen's per-step info)
    /incomplete/demo_<i>  the episode being recorded (or left behind by a crash)
    /incomplete/crashed_<k>, /damaged_incomplete_<k>   what resume set aside

Demos are ordered by their number (``demo_10`` after ``demo_9``): :func:`sort_demo_names` is the one
ordering every reader, converter and generator uses. Nothing here opens a file.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

import numpy as np

from armtwin.assets import so101_constants as C

DATA = "data"
INCOMPLETE = "incomplete"
#: ``source`` attr of an episode: where the follower was.
SOURCES: tuple[str, ...] = ("sim", "real")
#: Datasets every finished demo must have, with their per-row shape.
REQUIRED_KEYS: dict[str, tuple[int, ...]] = {"actions": (C.NUM_JOINTS,), "obs/joint_pos": (C.NUM_JOINTS,)}

#: The width of ``actions`` per ``/data`` attr ``action_space``: joint targets (6,) radians, or an
#: end-effector pose (8,) = position (3,) m + quaternion wxyz (4,) in the robot base frame + gripper
#: (1,) rad (``armtwin convert actions --to eef``). A file without the attr holds joint actions.
ACTION_DIMS: dict[str, int] = {"joint": C.NUM_JOINTS, "eef": 8}
#: Per-step MimicGen fields under ``datagen_info/`` (poses world frame, (4, 4) homogeneous, metres).
DATAGEN_FIELDS: tuple[str, ...] = (
    "eef_pose", "target_eef_pose", "gripper_action", "object_poses", "subtask_term_signals",
)

_DEMO_RE = re.compile(r"^demo_(\d+)$")
CRASHED_RE = re.compile(r"^crashed_(\d+)$")


# ------------------------------------------------------------------ demo names and their order


def demo_name(index: int) -> str:
    """``3 -> "demo_3"``."""
    return f"demo_{int(index)}"


def demo_index(name: str) -> int | None:
    """``"demo_3" -> 3``; None for a name that is not ``demo_<i>``."""
    m = _DEMO_RE.match(name)
    return int(m.group(1)) if m else None


def is_demo_name(name: str) -> bool:
    return _DEMO_RE.match(name) is not None


def sort_demo_names(names: Iterable[str]) -> list[str]:
    """The ``demo_<i>`` names among ``names``, by i (``demo_2`` before ``demo_10``); others are left out."""
    return sorted((n for n in names if is_demo_name(n)), key=lambda n: int(n[5:]))


def demo_key(demo: int | str) -> str:
    """A demo given as its number or its name -> its name."""
    if isinstance(demo, (int, np.integer)) and not isinstance(demo, bool):
        return demo_name(int(demo))
    return str(demo)


# ------------------------------------------------------------------ env_args


def make_env_args(env_id: str, env_kwargs: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """``data.attrs["env_args"]`` (robomimic's shape): ``{"env_name", "type": "armtwin", "env_kwargs"}``.

    env_kwargs: what rebuilds the env (``EnvConfig`` fields, JSON values). extra: more keys
    (e.g. ``lerobot_repo_id`` for a recording converted from a LeRobot dataset)."""
    out = {"env_name": str(env_id), "type": "armtwin", "env_kwargs": dict(env_kwargs or {})}
    out.update(extra)
    return out


def recorded_env(env_args: Mapping[str, Any], *, where: str = "the recording") -> tuple[str, dict[str, Any]]:
    """``env_args`` -> ``(env id, env kwargs)`` that rebuild the env a recording was made in.

    The one reading of :func:`make_env_args`'s shape (replay, MimicGen generation). ValueError naming
    ``where`` when the file was not recorded in an armtwin env (no ``type: armtwin`` or no ``env_name``)."""
    if env_args.get("type") != "armtwin" or not env_args.get("env_name"):
        raise ValueError(f"{where} was not recorded in an armtwin env (env_args={dict(env_args)})")
    return str(env_args["env_name"]), dict(env_args.get("env_kwargs") or {})


def robot_of(env_args: Mapping[str, Any]) -> str:
    """The arm (an :mod:`armtwin.assets.models` name) a recording with these ``env_args`` is of.

    Its env id's robot (``armtwin.envs.registry``); for a file without a known env id, the arm whose
    LeRobot ``robot_type`` it names (``lerobot_robot_type``: a LeRobot dataset converted back); else the
    SO-101 (files of other env names were all SO-101 recordings)."""
    from armtwin.assets.models import MODELS
    # The registry is a plain table (no MuJoCo, no task import) and imports nothing from armtwin.data.
    from armtwin.envs.registry import TASKS

    name = env_args.get("env_name")
    if name in TASKS:
        return TASKS[name].robot
    robot_type = env_args.get("lerobot_robot_type")
    if robot_type:
        for robot, model in MODELS.items():
            if model.C.LEROBOT_ROBOT_TYPE == robot_type:
                return robot
    return "so101"


def parse_env_args(raw: Any) -> dict[str, Any]:
    """``env_args`` as stored (JSON str or bytes, or absent: None) -> dict; ValueError if not JSON."""
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        out = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"env_args is not JSON ({e})") from None
    if not isinstance(out, dict):
        raise ValueError(f"env_args must be a JSON object, got {type(out).__name__}")
    return out


# ------------------------------------------------------------------ datagen info


def datagen_row(env_info: Mapping[str, Any], *, target_eef_pose, action) -> dict[str, Any]:
    """One step's ``datagen_info``: the env's ``get_datagen_info()`` plus the action-dependent fields.

    env_info: ``{"eef_pose" (4, 4), "object_poses" {name: (4, 4)}, "subtask_term_signals" {name: int}}``.
    target_eef_pose: (4, 4) FK of the commanded joint targets (world frame). action: (6,) radians,
    the command applied (its gripper entry becomes ``gripper_action`` (1,))."""
    row = arm_datagen_row(eef_pose=env_info["eef_pose"], target_eef_pose=target_eef_pose, action=action)
    row["object_poses"] = {n: np.asarray(p, dtype=np.float64) for n, p in env_info["object_poses"].items()}
    row["subtask_term_signals"] = {n: np.int8(v) for n, v in env_info["subtask_term_signals"].items()}
    return row


def arm_datagen_row(*, eef_pose, target_eef_pose, action) -> dict[str, Any]:
    """One step's ``datagen_info`` without an env (no object poses, no subtask signals): the arm's fields.

    For rows made from joint values alone (a LeRobot dataset converted back). eef_pose: (4, 4) FK of
    the measured joints; target_eef_pose: (4, 4) FK of the commanded joint targets (world frame, metres);
    action: (6,) radians (its gripper entry becomes ``gripper_action`` (1,))."""
    a = np.asarray(action, dtype=np.float64)
    return {
        "eef_pose": np.asarray(eef_pose, dtype=np.float64),
        "target_eef_pose": np.asarray(target_eef_pose, dtype=np.float64),
        "gripper_action": a[C.NUM_JOINTS - 1 : C.NUM_JOINTS].copy(),
    }


# ------------------------------------------------------------------ rows and attributes


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": x}} -> {"a/b": x}``; strings and None are dropped (they go to attributes)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "/"))
        elif isinstance(v, (str, bytes)) or v is None:
            continue
        else:
            out[key] = v
    return out


def as_row(key: str, value: Any) -> np.ndarray:
    """One step's value as stored per row: floats -> float64, bools and subtask signals -> int8, ints kept."""
    a = np.asarray(value)
    if a.dtype == np.bool_ or key.startswith("datagen_info/subtask_term_signals/"):
        return a.astype(np.int8)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    if a.dtype.kind in "iu":
        return a
    raise TypeError(f"cannot record {key!r}: unsupported dtype {a.dtype}")


def attr_value(v: Any) -> Any:
    """An HDF5 attribute as a plain Python value (bytes -> str, NumPy scalars -> Python scalars)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v
