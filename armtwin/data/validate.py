"""Validation of armtwin recordings, before anything is written from them.

:func:`check_demo` validates one demo's datasets (without reading image pixels); :func:`scan_recordings`
validates every demo of a list of files for a converter: a missing key, mismatched lengths, a corrupt
file or inconsistent cameras raise :class:`~armtwin.data.reader.RecordingError` naming the file, the
demo and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.data.reader import DemoView, RecordingError, open_recording
from armtwin.data.schema import REQUIRED_KEYS, robot_of

#: What a reader that replays actions needs (a virtual arm's script, a replay leader).
ACTIONS_ONLY: dict[str, tuple[int, ...]] = {"actions": (C.NUM_JOINTS,)}

#: How far (radians) a recorded joint value may lie outside its robot's joint limits (the recording's
#: arm: ``env_args`` -> env id -> ``armtwin.envs.registry`` -> that arm's ``C.JOINT_LIMITS``, see
#: :func:`armtwin.data.schema.robot_of`) and still be a demo: 1 rad on each side. Generous on purpose
#: (~57 degrees): a real arm's calibration can be off by tens of degrees and recordings of the v0 format
#: hold gripper values 0.65 rad below its limit (tests/golden); the check is there to refuse values no
#: arm reaches (a 1e9 rad action), not to second-guess a calibration.
JOINT_LIMIT_MARGIN_RAD: float = 1.0
#: Datasets holding (T, 6) joint values in radians, checked against the limits.
JOINT_KEYS: tuple[str, ...] = ("actions", "obs/joint_pos")


def check_joint_values(values: np.ndarray, *, where: str, robot: str = "so101",
                       margin: float = JOINT_LIMIT_MARGIN_RAD) -> None:
    """``values`` (T, 6) float, radians, the robot's ``JOINT_NAMES`` order: finite and within the joint
    limits of ``robot`` (an :mod:`armtwin.assets.models` name) widened by ``margin`` radians (default
    :data:`JOINT_LIMIT_MARGIN_RAD`, 1 rad) on both sides; RecordingError naming ``where``, the row, the
    joint, its limits and the margin."""
    from armtwin.assets.models import robot_model

    RC = robot_model(robot).C
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return
    bad = ~np.isfinite(v)
    if bad.any():
        t, j = (int(i) for i in np.argwhere(bad)[0])
        raise RecordingError(f"{where}: NaN or inf ({v[t, j]}) at row {t}, joint {RC.JOINT_NAMES[j]} "
                             f"({int(bad.sum())} non-finite values in all)")
    lo, hi = RC.lower_limits() - margin, RC.upper_limits() + margin
    out = (v < lo) | (v > hi)
    if out.any():
        t, j = (int(i) for i in np.argwhere(out)[0])
        raise RecordingError(
            f"{where}: {RC.JOINT_NAMES[j]} is {v[t, j]:.6g} rad at row {t}, outside the {RC.DISPLAY_NAME}'s limits "
            f"[{RC.lower_limits()[j]:.3f}, {RC.upper_limits()[j]:.3f}] rad by more than the {margin:g} rad margin "
            f"({int(out.sum())} values out of range in all)"
        )


@dataclass(frozen=True)
class EpisodeRef:
    """One demo of one recording, validated.

    ``length`` is T (rows); ``cameras`` maps camera name -> (H, W) of its
    ``obs/images/<cam>`` dataset (uint8, (T, H, W, 3)).
    """

    path: Path
    demo: str
    length: int
    success: bool
    instruction: str
    source: str
    cameras: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class RecordingScan:
    """Result of validating a list of recordings.

    ``episodes`` are the demos kept, in file order then demo number order;
    ``skipped`` lists ``(path, demo, reason)`` for demos left out on purpose.
    ``fps`` is the recordings' frame rate (all files agree), ``env_names`` the
    env ids of the files, ``robots`` the arm of each file (:func:`armtwin.data.schema.robot_of`).
    """

    episodes: list[EpisodeRef]
    skipped: list[tuple[str, str, str]]
    fps: float
    cameras: dict[str, tuple[int, int]]
    env_names: list[str]
    per_file: dict[str, dict[str, int]]
    robots: list[str] = field(default_factory=list)


def check_demo(
    view: DemoView,
    *,
    action_dims: tuple[int, ...] = (C.NUM_JOINTS,),
    required: Mapping[str, tuple[int, ...]] = REQUIRED_KEYS,
) -> tuple[int, dict[str, tuple[int, int]]]:
    """Validate one demo's datasets without reading image pixels -> ``(T, {camera: (H, W)})``.

    Checks the ``required`` keys (default :data:`~armtwin.data.schema.REQUIRED_KEYS`; a reader that needs
    only the actions passes ``ACTIONS_ONLY``) and their row shapes (``actions`` may be
    any width in ``action_dims``: 6 joint targets, 8 for end-effector actions), ``num_samples``
    against the rows, equal lengths of ``obs/joint_pos``, ``timestamps`` and every camera,
    cameras as (T, H, W, 3) uint8, and joint values (``JOINT_KEYS``) finite and within the joint
    limits of the recording's arm (:func:`~armtwin.data.schema.robot_of` of its ``env_args``) by
    ``JOINT_LIMIT_MARGIN_RAD`` (1 rad; other actions: finite). Raises RecordingError naming the
    file, demo and key."""
    where = view.where
    for key, tail in required.items():
        if key not in view:
            raise RecordingError(f"{where}: missing dataset {key!r} (required: {', '.join(required)})")
        ds = view.dataset(key)
        if key == "actions" and ds.ndim == 2 and ds.shape[1] in action_dims:
            continue
        if ds.shape[1:] != tail:
            raise RecordingError(f"{where}/{key}: shape {ds.shape}, expected (T, {', '.join(map(str, tail))})")
    T = int(view.dataset("actions").shape[0])
    attrs = view.attrs
    if "num_samples" in attrs and int(attrs["num_samples"]) != T:
        raise RecordingError(f"{where}: num_samples attr is {int(attrs['num_samples'])} but actions has {T} rows")
    lengths = {k: view.dataset(k).shape[0] for k in ("obs/joint_pos", "timestamps") if k in view}
    cams: dict[str, tuple[int, int]] = {}
    for cam in view.children("obs/images"):
        ds = view.dataset(f"obs/images/{cam}")
        if ds.ndim != 4 or ds.shape[3] != 3 or ds.dtype != np.uint8:
            raise RecordingError(
                f"{where}/obs/images/{cam}: shape {ds.shape} dtype {ds.dtype}, expected (T, H, W, 3) uint8"
            )
        lengths[f"obs/images/{cam}"] = ds.shape[0]
        cams[cam] = (int(ds.shape[1]), int(ds.shape[2]))
    bad = {k: n for k, n in lengths.items() if n != T}
    if bad:
        raise RecordingError(
            f"{where}: mismatched lengths: actions has {T} rows but " + ", ".join(f"{k} has {n}" for k, n in bad.items())
        )
    for key in JOINT_KEYS:
        if key not in view:
            continue
        ds = view.dataset(key)
        if ds.ndim == 2 and ds.shape[1] == C.NUM_JOINTS:
            check_joint_values(ds[()], where=f"{where}/{key}", robot=robot_of(view.recording.env_args))
        elif not np.isfinite(np.asarray(ds[()], dtype=np.float64)).all():  # e.g. (T, 8) end-effector actions
            raise RecordingError(f"{where}/{key}: holds non-finite values (NaN or inf)")
    return T, cams


def scan_recordings(
    paths,
    *,
    episodes: str = "all",
    require_images: bool = False,
    require_same_image_size: bool = True,
    action_dims: tuple[int, ...] = (C.NUM_JOINTS,),
) -> RecordingScan:
    """Validate every demo of every file in ``paths`` without reading image pixels.

    ``episodes``: "all" keeps every non-empty demo, "success" also skips demos
    whose ``success`` attr is False (each skip is listed with its reason).
    ``action_dims``: accepted widths of ``actions`` (6 joint targets; 8 for end-effector actions).
    Raises RecordingError on anything that would make the output wrong.
    """
    if episodes not in ("all", "success"):
        raise RecordingError(f"unknown episode selection {episodes!r}; valid choices: all, success")
    paths = [Path(p) for p in paths]
    if not paths:
        raise RecordingError("no input files given")
    kept: list[EpisodeRef] = []
    skipped: list[tuple[str, str, str]] = []
    fps_seen: dict[str, float] = {}
    env_names: list[str] = []
    robots: list[str] = []
    per_file: dict[str, dict[str, int]] = {}
    cameras: dict[str, tuple[int, int]] | None = None
    for path in paths:
        with open_recording(path) as rec:
            if rec.fps is None:
                raise RecordingError(f"{path}: /data has no 'fps' attribute")
            fps_seen[str(path)] = rec.fps
            env_names.append(str(rec.env_args.get("env_name", "")))
            robots.append(robot_of(rec.env_args))
            names = rec.demo_names
            stats = per_file.setdefault(str(path), {"in": len(names), "out": 0, "frames": 0})
            if not names:
                raise RecordingError(f"{path}: /data holds no demo_<i> groups")
            for view in rec:
                name, where = view.name, view.where
                T, cams = check_demo(view, action_dims=action_dims)
                if T == 0:
                    skipped.append((str(path), name, "empty episode (0 frames)"))
                    continue
                attrs = view.attrs
                success = bool(attrs.get("success", True))
                if episodes == "success" and not success:
                    skipped.append((str(path), name, "not successful (success=False; use --episodes all to keep)"))
                    continue
                if require_images and not cams:
                    raise RecordingError(f"{where}: no obs/images/<camera> datasets; cameras are required here")
                if cameras is None:
                    cameras = dict(cams)
                elif set(cams) != set(cameras):
                    raise RecordingError(f"{where}: cameras {sorted(cams)} differ from earlier demos' {sorted(cameras)}")
                elif require_same_image_size and cams != cameras:
                    raise RecordingError(
                        f"{where}: image sizes {cams} differ from earlier demos' {cameras}; "
                        "pass --image-size WxH to resize all cameras to one size"
                    )
                kept.append(EpisodeRef(path=path, demo=name, length=T, success=success,
                                       instruction=str(attrs.get("instruction", "")),
                                       source=str(attrs.get("source", "sim")), cameras=cams))
                stats["out"] += 1
                stats["frames"] += T
    fps_values = set(fps_seen.values())
    if len(fps_values) > 1:
        raise RecordingError(f"input files disagree on fps: {fps_seen}")
    return RecordingScan(episodes=kept, skipped=skipped, fps=fps_values.pop(), cameras=cameras or {},
                         env_names=env_names, per_file=per_file, robots=robots)
