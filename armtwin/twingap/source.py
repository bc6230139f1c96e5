"""A recording's joint trajectory and the commands sent, in radians, from either kind of recording.

- armtwin HDF5 (``.h5``/``.hdf5``, through :mod:`armtwin.data`): ``obs/joint_pos`` (T, 6) rad are the
  follower's measured positions at each frame, ``actions`` (T, 6) rad the commands sent at that frame.
- LeRobot v3 dataset (a folder with ``meta/info.json``): ``observation.state`` and ``action`` in LeRobot's
  SO-101 units (degrees or -100..100 for the body joints, 0..100 the gripper), converted with
  :class:`armtwin.units.UnitConverter` and a LeRobot calibration (default: the nominal one). Read with
  pyarrow, so LeRobot need not be installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C


@dataclass(frozen=True)
class Trajectory:
    """q: (T, 6) rad measured joint positions at each frame; actions: (T, 6) rad commands sent at that frame
    (after frame t's measurement); fps: frames per second; label: where it came from."""

    q: np.ndarray
    actions: np.ndarray
    fps: float
    label: str = ""

    def __post_init__(self):
        q, a = np.asarray(self.q, dtype=np.float64), np.asarray(self.actions, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != C.NUM_JOINTS or a.shape != q.shape or len(q) < 2:
            raise ValueError(f"Trajectory needs q and actions of one shape (T >= 2, {C.NUM_JOINTS}), got "
                             f"{q.shape} and {a.shape}")
        if not (np.isfinite(q).all() and np.isfinite(a).all()):
            raise ValueError("Trajectory q and actions must be finite")
        if not self.fps > 0:
            raise ValueError(f"Trajectory fps must be > 0, got {self.fps}")
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "actions", a)

    @property
    def dt(self) -> float:
        return 1.0 / self.fps

    def __len__(self) -> int:
        return len(self.q)


def load_trajectory(path: str | Path, *, episode: int = 0, calibration: str | Path | None = None,
                    use_degrees: bool = True) -> Trajectory:
    """The trajectory of episode ``episode`` (index in the recording) of an armtwin HDF5 recording or a
    LeRobot v3 dataset folder. ValueError naming what is missing."""
    path = Path(path)
    if path.is_dir():
        return _load_lerobot(path, episode, calibration, use_degrees)
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _load_hdf5(path, episode)
    raise ValueError(f"{path}: not a LeRobot dataset folder (with meta/info.json) or an armtwin .h5/.hdf5 recording")


def _load_hdf5(path: Path, episode: int) -> Trajectory:
    from armtwin.data import check_demo, open_recording

    with open_recording(path) as rec:
        names = rec.demo_names
        if not 0 <= episode < len(names):
            raise ValueError(f"{path}: episode {episode} out of range, the recording has {len(names)} demos")
        view = rec.demo(names[episode])
        check_demo(view)
        q = np.asarray(view["obs/joint_pos"], dtype=np.float64)
        a = np.asarray(view["actions"], dtype=np.float64)
        fps = rec.fps if rec.fps is not None else 1.0 / C.CTRL_DT
    return Trajectory(q, a, float(fps), f"{path}:{names[episode]}")


def _load_lerobot(root: Path, episode: int, calibration, use_degrees: bool) -> Trajectory:
    import pyarrow.parquet as pq

    from armtwin.units import Calibration, UnitConverter

    info_path = root / "meta" / "info.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{root}: not a LeRobot dataset ({info_path}: {e})") from None
    feats = info.get("features", {})
    for key in ("observation.state", "action"):
        names = list((feats.get(key) or {}).get("names") or [])
        if names != list(C.LEROBOT_MOTOR_KEYS):
            raise ValueError(f"{root}: feature {key!r} names {names} are not the SO-101's {list(C.LEROBOT_MOTOR_KEYS)}")
    files = sorted((root / "data").glob("chunk-*/file-*.parquet"))
    if not files:
        raise ValueError(f"{root}: no data/chunk-*/file-*.parquet files")
    cols = ["episode_index", "frame_index", "observation.state", "action"]
    tables = [pq.read_table(f, columns=cols).to_pandas() for f in files]
    import pandas as pd

    df = pd.concat(tables, ignore_index=True)
    episodes = sorted(df["episode_index"].unique())
    if not 0 <= episode < len(episodes):
        raise ValueError(f"{root}: episode {episode} out of range, the dataset has {len(episodes)} episodes")
    ep = df[df["episode_index"] == episodes[episode]].sort_values("frame_index")
    state = np.stack(ep["observation.state"].to_numpy()).astype(np.float64)
    action = np.stack(ep["action"].to_numpy()).astype(np.float64)
    calib = Calibration.load(calibration) if calibration else Calibration.default()
    conv = UnitConverter(calib, use_degrees=use_degrees)
    return Trajectory(conv.to_radians(state), conv.to_radians(action), float(info["fps"]),
                      f"{root}:episode_{int(episodes[episode])}")
