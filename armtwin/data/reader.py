"""The one reader of armtwin recordings (layout: :mod:`armtwin.data.schema`).

``open_recording(path)`` gives a read-only :class:`Recording`: file attributes, the finished demos in
order, and per demo a :class:`DemoView` whose datasets are read only when asked (so a converter can
stream image frames in slices). :func:`load_episode` reads one demo whole into an :class:`Episode`.
Every problem with the file itself raises :class:`RecordingError` naming the file and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from armtwin.data.schema import DATA, INCOMPLETE, attr_value, demo_key, parse_env_args, sort_demo_names


class RecordingError(ValueError):
    """A recording that cannot be read as one: the message names the file (and demo, key) and the problem."""


class DemoView:
    """One finished demo of an open :class:`Recording`; nothing is read until asked.

    ``view["actions"]`` reads a whole dataset as a NumPy array; ``view.dataset(key)`` gives the h5py
    dataset for slicing (``ds[i:j]``, ``ds.shape``, ``ds.dtype``); ``view.children("obs/images")``
    lists the cameras. Keys are paths below the demo (``"obs/joint_pos"``, ``"datagen_info/eef_pose"``).
    """

    def __init__(self, recording: "Recording", name: str, group: h5py.Group):
        self.recording = recording
        self.name = name
        self._g = group

    @property
    def where(self) -> str:
        """``"<file>:/data/<demo>"``, for messages."""
        return f"{self.recording.path}:/{DATA}/{self.name}"

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in self._g.attrs.items()}

    @property
    def num_samples(self) -> int:
        """T: the ``num_samples`` attr, else the rows of ``actions`` (0 when it has neither)."""
        if "num_samples" in self._g.attrs:
            return int(self._g.attrs["num_samples"])
        return int(self._g["actions"].shape[0]) if "actions" in self._g else 0

    @property
    def success(self) -> bool:
        return bool(self._g.attrs.get("success", False))

    def __contains__(self, key: str) -> bool:
        return key in self._g

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._g:
            raise KeyError(f"{self.where} has no dataset {key!r}")
        return self._g[key][()]

    def dataset(self, key: str) -> h5py.Dataset:
        """The dataset at ``key`` (lazy: read rows by slicing); KeyError if absent or a group."""
        obj = self._g.get(key)
        if not isinstance(obj, h5py.Dataset):
            raise KeyError(f"{self.where} has no dataset {key!r}")
        return obj

    def children(self, key: str) -> list[str]:
        """Names below a group key (``"obs/images"`` -> cameras), sorted; [] when the group is absent."""
        obj = self._g.get(key)
        return sorted(obj.keys()) if isinstance(obj, h5py.Group) else []

    def datasets(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Every dataset below the demo: ``{key: (shape, dtype)}``, sorted by key (no data read)."""
        out: dict[str, tuple[tuple[int, ...], str]] = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = (tuple(obj.shape), str(obj.dtype))

        self._g.visititems(visit)
        return dict(sorted(out.items()))

    def tree(self, key: str) -> dict[str, Any]:
        """A group read whole as a nested dict of arrays ({} when absent)."""
        obj = self._g.get(key)
        return _read_tree(obj) if isinstance(obj, h5py.Group) else {}

    def load(self) -> "Episode":
        """The whole demo in memory; RecordingError when it has no ``actions`` (every reader refuses such a demo)."""
        g = self._g
        if "actions" not in g:
            raise RecordingError(f"{self.where}: missing dataset 'actions'")
        return Episode(
            name=self.name,
            actions=g["actions"][()],
            timestamps=g["timestamps"][()] if "timestamps" in g else None,
            obs=self.tree("obs"),
            states=g["states"][()] if "states" in g else None,
            initial_state=g["initial_state"][()] if "initial_state" in g else None,
            datagen_info=self.tree("datagen_info"),
            attrs=self.attrs,
        )


@dataclass
class Episode:
    """One recorded episode, loaded into memory (arrays as in the file: actions (T, 6) float64 rad, ...)."""

    name: str
    actions: np.ndarray
    timestamps: np.ndarray | None
    obs: dict[str, Any]
    states: np.ndarray | None
    initial_state: np.ndarray | None
    datagen_info: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return int(self.actions.shape[0])

    @property
    def success(self) -> bool:
        return bool(self.attrs.get("success", False))


class Recording:
    """A recording opened read-only (a context manager; ``close()`` when done)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise RecordingError(f"input file not found: {self.path}")
        if self.path.is_dir():
            raise RecordingError(f"{self.path} is a directory, not an HDF5 recording")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as e:
            raise RecordingError(f"{self.path}: not a readable HDF5 file ({e})") from None
        if DATA not in self._f or not isinstance(self._f[DATA], h5py.Group):
            self._f.close()
            raise RecordingError(f"{self.path} is not an armtwin/robomimic recording: it has no /{DATA} group")
        self._data = self._f[DATA]

    # ------------------------------------------------------------ file level
    @property
    def attrs(self) -> dict[str, Any]:
        """``/data``'s attributes as plain values (``env_args`` still JSON text; see :attr:`env_args`)."""
        return {k: attr_value(v) for k, v in self._data.attrs.items()}

    @property
    def env_args(self) -> dict[str, Any]:
        """``{"env_name", "type", "env_kwargs", ...}`` ({} when the file has none)."""
        try:
            return parse_env_args(self._data.attrs.get("env_args"))
        except ValueError as e:
            raise RecordingError(f"{self.path}: /{DATA} attribute {e}") from None

    @property
    def env_id(self) -> str | None:
        return self.env_args.get("env_name") or None

    @property
    def fps(self) -> float | None:
        """The control rate stored at recording time (None when the file has none)."""
        v = self._data.attrs.get("fps")
        return None if v is None else float(v)

    @property
    def total(self) -> int:
        return int(self._data.attrs.get("total", 0))

    def group_attrs(self, group: str) -> dict[str, Any] | None:
        """Attributes of a top-level producer group (e.g. ``"mimic"``), None when absent."""
        g = self._f.get(group)
        return None if g is None else {k: attr_value(v) for k, v in g.attrs.items()}

    def top_level_groups(self) -> list[str]:
        return sorted(self._f.keys())

    # ------------------------------------------------------------ demos
    @property
    def demo_names(self) -> list[str]:
        """Finished demos, in :func:`armtwin.data.schema.sort_demo_names` order."""
        return sort_demo_names(self._data.keys())

    def non_demo_groups(self) -> list[str]:
        """Members of /data that are not ``demo_<i>``: every reader leaves them out, some report them."""
        demos = set(self.demo_names)
        return sorted(k for k in self._data.keys() if k not in demos)

    def __len__(self) -> int:
        return len(self.demo_names)

    def __iter__(self) -> Iterator[DemoView]:
        for name in self.demo_names:
            yield self.demo(name)

    def demo(self, demo: int | str) -> DemoView:
        """The demo ``demo`` (its number or ``"demo_<i>"``); KeyError listing the demos when absent."""
        key = demo_key(demo)
        g = self._data.get(key)
        if not isinstance(g, h5py.Group) or key not in self.demo_names:
            names = self.demo_names
            raise KeyError(f"{self.path} has no episode {key!r}; episodes: {', '.join(names) or '(none)'}")
        return DemoView(self, key, g)

    def load(self, demo: int | str) -> Episode:
        return self.demo(demo).load()

    def incomplete(self) -> list[dict[str, Any]]:
        """Interrupted episodes in /incomplete: ``[{"name", "steps"}]`` (steps -1: unreadable, a kill mid-flush)."""
        out: list[dict[str, Any]] = []
        try:
            for k in self._f[INCOMPLETE].keys() if INCOMPLETE in self._f else ():
                try:
                    g = self._f[INCOMPLETE][k]
                    out.append({"name": k, "steps": int(g["actions"].shape[0]) if "actions" in g else 0})
                except Exception:  # noqa: BLE001 - damaged by a kill mid-flush; resume sets it aside
                    out.append({"name": k, "steps": -1})
        except Exception:  # noqa: BLE001
            out.append({"name": "(unreadable)", "steps": -1})
        return out

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "Recording":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_tree(g: h5py.Group) -> dict[str, Any]:
    return {k: _read_tree(v) if isinstance(v, h5py.Group) else v[()] for k, v in g.items()}


def open_recording(path: str | Path) -> Recording:
    """Open ``path`` read-only; RecordingError when it is missing, not HDF5 or has no /data."""
    return Recording(path)


def demo_names(path: str | Path) -> list[str]:
    """Finished demos in a recording, sorted by number (``["demo_0", "demo_1", ...]``)."""
    with Recording(path) as r:
        return r.demo_names


def load_episode(path: str | Path, demo: int | str) -> Episode:
    """Read ``/data/demo_<i>`` (``demo`` is i or ``"demo_i"``) from a recording, whole."""
    with Recording(path) as r:
        return r.load(demo)


def read_env_args(path: str | Path) -> dict[str, Any]:
    """``data.attrs["env_args"]`` parsed from JSON ({} when absent)."""
    with Recording(path) as r:
        return r.env_args


def read_fps(path: str | Path, default: float | None = None) -> float | None:
    """The recording's fps attribute (``default`` when it has none)."""
    with Recording(path) as r:
        fps = r.fps
    return default if fps is None else fps
