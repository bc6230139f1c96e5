"""What the dataset page reads: armtwin recordings (through ``armtwin.data``) and LeRobot v3 datasets.

Recordings are read only through :mod:`armtwin.data` (``summarize``, ``open_recording``,
``check_demo``, ``write_subset``); LeRobot v3 datasets through their files: ``meta/info.json``,
``meta/episodes/*/*.parquet``, ``meta/tasks.parquet`` and ``data/*/*.parquet`` with pyarrow, the
videos served as files (the routes answer HTTP range requests so ``<video>`` can seek). Every
error a person can fix (a file that is not a recording, a demo that fails validation) is a
:class:`DatasetError` with the reader's message, shown in the page.

Units: HDF5 joints and actions in radians (the recording's own units); LeRobot in the dataset's
own units (degrees and 0..100 gripper for SO-101 ``use_degrees``), named by ``units``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from armtwin.assets import so101_constants as C

H5_SUFFIXES = (".h5", ".hdf5")


class DatasetError(ValueError):
    """A dataset the page cannot show, with what is wrong."""


def is_lerobot(path: Path) -> bool:
    return (Path(path) / "meta" / "info.json").is_file()


def discover(root: Path, *, skip: Path | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Recordings (``*.h5``/``*.hdf5``) and LeRobot v3 datasets (folders with ``meta/info.json``) under
    ``root`` -> ``[{"path": relative to root, "kind": "hdf5" | "lerobot"}]``, sorted by path."""
    root = Path(root)
    found: list[dict[str, Any]] = []
    for p in sorted(root.rglob("*")):
        if len(found) >= limit:
            break
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if any(is_lerobot(a) for a in p.parents if root in a.parents or a == root) and not is_lerobot(p):
            continue  # inside a LeRobot dataset: its files are not datasets of their own
        if p.is_file() and p.suffix in H5_SUFFIXES and ".shards" not in p.parts[-2:-1]:
            found.append({"path": str(p.relative_to(root)), "kind": "hdf5"})
        elif p.is_dir() and is_lerobot(p):
            found.append({"path": str(p.relative_to(root)), "kind": "lerobot"})
    return found


def resolve(root: Path, rel: str) -> Path:
    """``rel`` under ``root`` (refusing paths that leave it)."""
    root = Path(root).resolve()
    p = (root / rel).resolve()
    if p != root and root not in p.parents:
        raise DatasetError(f"{rel!r} is outside the studio's root {root}")
    if not p.exists():
        raise DatasetError(f"{rel!r} does not exist under {root}")
    return p


# ------------------------------------------------------------------ armtwin recordings (HDF5)


def hdf5_episodes(path: Path) -> dict[str, Any]:
    """The episode list of a recording: ``{"kind", "fps", "env", "episodes": [{"index", "name", "length",
    "success", "task", "source", "error"}], "incomplete": [...]}``; ``error`` is check_demo's message."""
    from armtwin.data import RecordingError, check_demo, open_recording, summarize

    try:
        s = summarize(path)
        errors: dict[str, str] = {}
        origin: dict[str, str] = {}
        with open_recording(path) as rec:
            for view in rec:
                origin[view.name] = episode_origin(view.attrs)
                try:
                    check_demo(view)
                except RecordingError as e:
                    errors[view.name] = str(e)
    except (RecordingError, OSError) as e:
        raise DatasetError(str(e)) from None
    eps = [{"index": k, "name": e["name"], "length": e["num_samples"], "success": e["success"],
            "task": e["instruction"], "source": f"{origin.get(e['name'], 'teleop')} ({e['source'] or '?'})",
            "error": errors.get(e["name"])}
           for k, e in enumerate(s["episodes"])]
    fps = s["fps"]
    return {"kind": "hdf5", "fps": None if fps != fps else fps, "env": (s["env_args"] or {}).get("env_name"),
            "episodes": eps, "incomplete": s["incomplete"], "units": "rad"}


def episode_origin(attrs: dict) -> str:
    """Who made a demo: "generated" (MimicGen: ``mimic_generated``), "rollout" (a policy: ``policy`` or
    ``rollout`` attrs), else "teleop"."""
    if attrs.get("mimic_generated"):
        return "generated"
    if "policy" in attrs or attrs.get("rollout"):
        return "rollout"
    return "teleop"


def hdf5_episode(path: Path, demo: str) -> dict[str, Any]:
    """One demo for the viewer: ``{"fps", "length", "names", "state" (T, 6) rad, "action" (T, 6) rad,
    "timestamps" (T,) s, "subtasks": {name: (T,) 0/1}, "cameras": [name], "attrs"}`` (lists, for JSON)."""
    from armtwin.data import RecordingError, check_demo, open_recording

    try:
        with open_recording(path) as rec:
            view = rec.demo(demo)
            T, cams = check_demo(view)
            attrs = {k: _jsonable(v) for k, v in view.attrs.items()}
            ts = view["timestamps"] if "timestamps" in view else np.arange(T) / float(rec.fps or 30.0)
            subtasks = {}
            for name in view.children("datagen_info/subtask_term_signals"):
                subtasks[name] = np.asarray(view[f"datagen_info/subtask_term_signals/{name}"]).astype(float).tolist()
            return {"fps": rec.fps or 30.0, "length": T, "names": list(C.LEROBOT_MOTOR_KEYS), "units": "rad",
                    "state": np.asarray(view["obs/joint_pos"]).tolist(), "action": np.asarray(view["actions"]).tolist(),
                    "timestamps": np.asarray(ts, float).tolist(), "subtasks": subtasks, "cameras": sorted(cams),
                    "attrs": attrs, "source": attrs.get("source", "")}
    except (RecordingError, KeyError, OSError) as e:
        raise DatasetError(str(e).strip("'\"")) from None


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def hdf5_video(path: Path, demo: str, camera: str, cache_dir: Path) -> Path:
    """An H.264 MP4 of one demo's camera (armtwin.video.Mp4Writer), cached by file, mtime, demo, camera."""
    from armtwin.data import RecordingError, open_recording
    from armtwin.staging import staged_file
    from armtwin.video import Mp4Writer

    import hashlib

    st = path.stat()
    digest = hashlib.sha1(f"{path}|{st.st_mtime_ns}|{st.st_size}".encode()).hexdigest()[:12]
    key = f"{path.stem}-{digest}-{demo}-{camera}.mp4"
    out = Path(cache_dir) / key
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_recording(path) as rec:
            view = rec.demo(demo)
            fps = int(round(rec.fps or 30.0))
            ds = view.dataset(f"obs/images/{camera}")
            with staged_file(out, exists=True) as tmp:
                w = Mp4Writer(str(tmp), fps=fps)
                try:
                    for start in range(0, ds.shape[0], 64):
                        for img in ds[start:start + 64]:
                            w.write(img)
                finally:
                    w.close()
    except (RecordingError, KeyError) as e:
        raise DatasetError(f"{path.name} {demo}: no camera {camera!r} ({e})") from None
    return out


def write_filtered(path: Path, exclude: list[str], out: Path) -> Path:
    """A copy of the recording without the ``exclude``d demos (armtwin.data.write_subset; the original is untouched)."""
    from armtwin.data import demo_names, write_subset

    names = demo_names(path)
    unknown = sorted(set(exclude) - set(names))
    if unknown:
        raise DatasetError(f"no demos {unknown} in {path.name}; demos: {', '.join(names)}")
    keep = [(path, n) for n in names if n not in set(exclude)]
    if not keep:
        raise DatasetError("every episode is excluded: nothing to write")
    if out.exists():
        raise DatasetError(f"{out} exists: choose another name")
    return write_subset(out, keep, like=path, renumber=True)


# ------------------------------------------------------------------ LeRobot v3 datasets


def _info(root: Path) -> dict[str, Any]:
    try:
        info = json.loads((root / "meta" / "info.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetError(f"{root}: meta/info.json is unreadable: {e}") from None
    if not str(info.get("codebase_version", "")).startswith("v3"):
        raise DatasetError(f"{root}: codebase_version {info.get('codebase_version')!r}, this viewer reads v3.x")
    return info


def _episode_table(root: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise DatasetError(f"{root}: no meta/episodes/*/*.parquet")
    rows: list[dict[str, Any]] = []
    for f in files:
        t = pq.read_table(f)
        keep = [c for c in t.schema.names if not c.startswith("stats/")]
        rows.extend(t.select(keep).to_pylist())
    return sorted(rows, key=lambda r: r["episode_index"])


def lerobot_episodes(root: Path) -> dict[str, Any]:
    """``{"kind", "fps", "robot_type", "cameras", "episodes": [{"index", "name", "length", "success", "task",
    "source", "error"}]}`` (LeRobot stores no success flag: None)."""
    info = _info(root)
    eps = [{"index": int(r["episode_index"]), "name": f"episode_{int(r['episode_index'])}", "length": int(r["length"]),
            "success": None, "task": "; ".join(r.get("tasks") or []), "source": "lerobot", "error": None}
           for r in _episode_table(root)]
    cams = [k for k, v in info["features"].items() if v.get("dtype") == "video"]
    return {"kind": "lerobot", "fps": info.get("fps"), "robot_type": info.get("robot_type"), "cameras": cams,
            "episodes": eps, "incomplete": [], "units": "dataset units (degrees, gripper 0..100)"}


def lerobot_episode(root: Path, index: int) -> dict[str, Any]:
    """One episode: state/action per frame, timestamps, and per camera its video file (relative to the
    dataset) and the episode's ``from``/``to`` timestamps inside that file."""
    import pyarrow.parquet as pq

    info = _info(root)
    rows = {int(r["episode_index"]): r for r in _episode_table(root)}
    if index not in rows:
        raise DatasetError(f"{root.name}: no episode {index}; episodes 0..{len(rows) - 1}")
    r = rows[index]
    data = root / info["data_path"].format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
    cols = [c for c in ("observation.state", "action", "timestamp", "episode_index") if c in info["features"]]
    t = pq.read_table(data, columns=cols).to_pandas()
    t = t[t["episode_index"] == index]
    names = (info["features"].get("observation.state", {}).get("names")) or list(C.LEROBOT_MOTOR_KEYS)
    videos = {}
    for key, feat in info["features"].items():
        if feat.get("dtype") != "video":
            continue
        rel = info["video_path"].format(video_key=key, chunk_index=r[f"videos/{key}/chunk_index"],
                                        file_index=r[f"videos/{key}/file_index"])
        videos[key] = {"file": rel, "from": float(r[f"videos/{key}/from_timestamp"]),
                       "to": float(r[f"videos/{key}/to_timestamp"])}

    def stack(col):
        return np.stack(t[col].to_numpy()).astype(float).tolist() if col in t and len(t) else []

    return {"fps": info["fps"], "length": int(r["length"]), "names": list(names), "units": "dataset units",
            "state": stack("observation.state"), "action": stack("action"),
            "timestamps": t["timestamp"].astype(float).tolist() if "timestamp" in t else [],
            "subtasks": {}, "cameras": sorted(videos), "videos": videos, "task": "; ".join(r.get("tasks") or []),
            "source": "lerobot"}
