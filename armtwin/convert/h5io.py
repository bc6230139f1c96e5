"""Reading and validating armtwin HDF5 recordings (layout in docs/interfaces.md).

Every converter validates its whole input with :func:`scan_recordings` before
it writes anything: a missing key, mismatched lengths, a corrupt file or
inconsistent cameras raise :class:`ConvertError` naming the file, the demo and
what is wrong. Nothing here imports torch or LeRobot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
# The recording layout is the recorder's: one definition of which groups are demos, and their order.
from armtwin.teleop.recorder import sorted_demo_names as demo_names  # noqa: F401 - re-exported


class ConvertError(ValueError):
    """Bad input to a converter: the message says which file/demo/key and what was expected."""


#: Keys every demo must carry, with their per-row trailing shape.
REQUIRED_KEYS: dict[str, tuple[int, ...]] = {
    "actions": (C.NUM_JOINTS,),
    "obs/joint_pos": (C.NUM_JOINTS,),
}


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
    env ids of the files.
    """

    episodes: list[EpisodeRef]
    skipped: list[tuple[str, str, str]]
    fps: float
    cameras: dict[str, tuple[int, int]]
    env_names: list[str]
    per_file: dict[str, dict[str, int]]




def _open(path: Path):
    import h5py

    if not path.exists():
        raise ConvertError(f"input file not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ConvertError(f"{path}: not a readable HDF5 file ({e})") from None


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
    Raises ConvertError on anything that would make the output wrong.
    """
    if episodes not in ("all", "success"):
        raise ConvertError(f"unknown episode selection {episodes!r}; valid choices: all, success")
    paths = [Path(p) for p in paths]
    if not paths:
        raise ConvertError("no input files given")
    kept: list[EpisodeRef] = []
    skipped: list[tuple[str, str, str]] = []
    fps_seen: dict[str, float] = {}
    env_names: list[str] = []
    per_file: dict[str, dict[str, int]] = {}
    cameras: dict[str, tuple[int, int]] | None = None
    for path in paths:
        with _open(path) as f:
            if "data" not in f:
                raise ConvertError(f"{path}: missing group /data (not an armtwin/robomimic recording)")
            data = f["data"]
            try:
                fps_seen[str(path)] = float(data.attrs["fps"])
            except KeyError:
                raise ConvertError(f"{path}: /data has no 'fps' attribute") from None
            try:
                env_args = json.loads(data.attrs.get("env_args", "{}"))
            except (TypeError, json.JSONDecodeError) as e:
                raise ConvertError(f"{path}: /data attribute env_args is not JSON ({e})") from None
            env_names.append(str(env_args.get("env_name", "")))
            names = demo_names(data)
            stats = per_file.setdefault(str(path), {"in": len(names), "out": 0, "frames": 0})
            if not names:
                raise ConvertError(f"{path}: /data holds no demo_<i> groups")
            for name in names:
                g = data[name]
                where = f"{path}:/data/{name}"
                for key, tail in REQUIRED_KEYS.items():
                    if key not in g:
                        raise ConvertError(f"{where}: missing dataset {key!r} (required: {', '.join(REQUIRED_KEYS)})")
                    if key == "actions" and g[key].ndim == 2 and g[key].shape[1] in action_dims:
                        continue
                    if g[key].shape[1:] != tail:
                        raise ConvertError(f"{where}/{key}: shape {g[key].shape}, expected (T, {', '.join(map(str, tail))})")
                T = int(g["actions"].shape[0])
                if "num_samples" in g.attrs and int(g.attrs["num_samples"]) != T:
                    raise ConvertError(f"{where}: num_samples attr is {int(g.attrs['num_samples'])} but actions has {T} rows")
                lengths = {k: g[k].shape[0] for k in ("obs/joint_pos", "timestamps") if k in g}
                cams: dict[str, tuple[int, int]] = {}
                if "obs/images" in g:
                    for cam in g["obs/images"]:
                        ds = g[f"obs/images/{cam}"]
                        if ds.ndim != 4 or ds.shape[3] != 3 or ds.dtype != np.uint8:
                            raise ConvertError(
                                f"{where}/obs/images/{cam}: shape {ds.shape} dtype {ds.dtype}, expected (T, H, W, 3) uint8"
                            )
                        lengths[f"obs/images/{cam}"] = ds.shape[0]
                        cams[cam] = (int(ds.shape[1]), int(ds.shape[2]))
                bad = {k: n for k, n in lengths.items() if n != T}
                if bad:
                    raise ConvertError(
                        f"{where}: mismatched lengths: actions has {T} rows but "
                        + ", ".join(f"{k} has {n}" for k, n in bad.items())
                    )
                if T == 0:
                    skipped.append((str(path), name, "empty episode (0 frames)"))
                    continue
                success = bool(g.attrs.get("success", True))
                if episodes == "success" and not success:
                    skipped.append((str(path), name, "not successful (success=False; use --episodes all to keep)"))
                    continue
                if require_images and not cams:
                    raise ConvertError(f"{where}: no obs/images/<camera> datasets; cameras are required here")
                if cameras is None:
                    cameras = dict(cams)
                elif set(cams) != set(cameras):
                    raise ConvertError(
                        f"{where}: cameras {sorted(cams)} differ from earlier demos' {sorted(cameras)}"
                    )
                elif require_same_image_size and cams != cameras:
                    raise ConvertError(
                        f"{where}: image sizes {cams} differ from earlier demos' {cameras}; "
                        "pass --image-size WxH to resize all cameras to one size"
                    )
                kept.append(
                    EpisodeRef(
                        path=path,
                        demo=name,
                        length=T,
                        success=success,
                        instruction=str(g.attrs.get("instruction", "")),
                        source=str(g.attrs.get("source", "sim")),
                        cameras=cams,
                    )
                )
                stats["out"] += 1
                stats["frames"] += T
    fps_values = set(fps_seen.values())
    if len(fps_values) > 1:
        raise ConvertError(f"input files disagree on fps: {fps_seen}")
    return RecordingScan(
        episodes=kept,
        skipped=skipped,
        fps=fps_values.pop(),
        cameras=cameras or {},
        env_names=env_names,
        per_file=per_file,
    )


def order_cameras(names) -> list[str]:
    """Camera names in ``C.CAMERA_NAMES`` order first, then any others sorted."""
    names = list(names)
    return [c for c in C.CAMERA_NAMES if c in names] + sorted(c for c in names if c not in C.CAMERA_NAMES)
