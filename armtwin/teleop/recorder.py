"""HDF5 episode recorder in the robomimic / Isaac Lab Mimic layout (see docs/interfaces.md).

One file holds many episodes::

    /data                 attrs total, env_args (JSON), fps, armtwin_version
    /data/demo_<i>        attrs num_samples, seed, success, source, instruction
        actions (T, 6) float64 rad, timestamps (T,) s, obs/..., states (T, S),
        initial_state (S,), datagen_info/...
    /incomplete/...       episodes being recorded, or left behind by a crash

Crash safety. The episode being recorded lives in ``/incomplete/demo_<i>``,
outside ``/data``, so readers that walk ``/data`` (robomimic, MimicGen, the
converter) never see a half episode. Steps are buffered in memory and written
every ``flush_every`` steps, each write followed by ``File.flush()``; between
flushes the process writes nothing to the file, so a SIGKILL finds the file
exactly as the last flush left it. A finished episode is written completely,
flushed, then moved into ``/data`` and flushed again: it is on disk before it
is visible, and nothing in ``/data`` is ever rewritten afterwards. So a kill
loses at most the unflushed tail of the episode being recorded, never a
finished one. The file uses the default (oldest) HDF5 format on purpose: with
``libver="latest"`` a killed writer leaves the superblock flagged "open for
write" and the file cannot be reopened without ``h5clear``.

Resuming (``RecorderConfig(resume=True)``) reopens an existing file, numbers new
episodes after the last ``demo_<i>``, and moves episodes a crash left in
``/incomplete/demo_<i>`` to ``/incomplete/crashed_<k>`` (reported; an episode with no
flushed step is dropped). A kill in the middle of a flush can leave the interrupted
episode's own metadata half-written; then the whole ``/incomplete`` group is renamed
``/damaged_incomplete_<k>`` untouched and a fresh one is made.

Residual risk, stated plainly: HDF5 has no journal. The flush that links a finished
episode into ``/data`` (a few small metadata writes, well under a millisecond) is the one
moment where a kill could damage ``/data``'s index. In a stress run (a writer finishing an
episode every ~15 ms, SIGKILLed ~90 times at random moments) every finished episode
survived.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

log = logging.getLogger(__name__)

COMPRESSIONS = (None, "gzip", "lzf")
SOURCES = ("sim", "real")
_DEMO_RE = re.compile(r"^demo_(\d+)$")
_CRASHED_RE = re.compile(r"^crashed_(\d+)$")


def _armtwin_version() -> str:
    try:
        from importlib.metadata import version

        return version("armtwin")
    except Exception:  # not installed (running from a source tree)
        return "unknown"


@dataclass
class RecorderConfig:
    """Where and how to record.

    path: the ``.h5``/``.hdf5`` file. flush_every: steps buffered in memory
    between writes (the most a crash can lose), >= 1. compression: None, "gzip"
    or "lzf" (all datasets). compression_level: gzip level 0..9. resume: append
    to an existing file instead of refusing to touch it. env_args: stored as
    JSON in ``data.attrs["env_args"]`` (``{"env_name", "type", "env_kwargs"}``).
    fps: the control rate, stored in ``data.attrs["fps"]``. source: default
    ``"sim"`` or ``"real"`` for each episode. keep_incomplete: on resume, keep
    episodes a crash left behind (under ``/incomplete/crashed_<k>``) instead of
    deleting them.
    """

    path: str | Path
    flush_every: int = 30
    compression: str | None = None
    compression_level: int = 4
    resume: bool = False
    env_args: Mapping[str, Any] | None = None
    fps: float = 30.0
    source: str = "sim"
    keep_incomplete: bool = True

    def __post_init__(self):
        self.path = Path(self.path)
        if self.path.suffix not in (".h5", ".hdf5"):
            raise ValueError(f"recording path must end in .h5 or .hdf5, got {str(self.path)!r}")
        if not isinstance(self.flush_every, int) or isinstance(self.flush_every, bool) or self.flush_every < 1:
            raise ValueError(f"flush_every must be an integer >= 1, got {self.flush_every!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {self.compression!r}; valid choices: None, 'gzip', 'lzf'")
        if not 0 <= int(self.compression_level) <= 9:
            raise ValueError(f"compression_level must be in 0..9, got {self.compression_level}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; valid choices: {', '.join(SOURCES)}")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"fps must be a positive number, got {self.fps!r}")
        if self.env_args is not None:
            try:
                json.dumps(dict(self.env_args))
            except TypeError as e:
                raise ValueError(f"env_args must be JSON-serialisable: {e}") from None


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": x}} -> {"a/b": x}; strings are dropped (they go to attributes)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "/"))
        elif isinstance(v, (str, bytes)) or v is None:
            continue
        else:
            out[key] = v
    return out


def _as_row(key: str, value: Any) -> np.ndarray:
    """One step's value as the array stored per row: floats -> float64, bools -> int8, uint8 kept."""
    a = np.asarray(value)
    if a.dtype == np.bool_:
        return a.astype(np.int8)
    if key.startswith("datagen_info/subtask_term_signals/"):
        return a.astype(np.int8)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    if a.dtype.kind in "iu":
        return a
    raise TypeError(f"cannot record {key!r}: unsupported dtype {a.dtype}")


class _Episode:
    def __init__(self, index: int, group, seed: int, attrs: dict):
        self.index = index
        self.group = group
        self.seed = seed
        self.attrs = attrs
        self.t0 = time.perf_counter()
        self.buffer: dict[str, list[np.ndarray]] = {}
        self.shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self.written = 0  # rows on disk
        self.steps = 0  # rows added (on disk + buffered)
        self.has_state = None


class Recorder:
    """Writes episodes into one HDF5 file; see the module docstring for the layout and crash safety.

    Usage::

        rec = Recorder(RecorderConfig("demos.h5", env_args={...}))
        rec.begin_episode(seed=3, instruction="lift the cube")
        for t in ...:
            rec.add_step(obs, action, state=env.unwrapped.get_state(), datagen_info=...)
        rec.end_episode(success=True)      # or rec.discard_episode()
        rec.close()

    Not thread-safe; call from the control loop's thread.
    """

    def __init__(self, config: RecorderConfig):
        import h5py

        self.config = config
        self._h5py = h5py
        path = config.path
        self.recovered: list[str] = []  # /incomplete/crashed_<k> groups found on resume
        if path.exists():
            if not config.resume:
                raise FileExistsError(
                    f"recording {path} already exists; resume it (resume=True / --resume) or choose another path"
                )
            self._file = self._open_existing(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._create(path)
            self._file = h5py.File(path, "r+")
        self._data = self._file["data"]
        self._incomplete = self._file.require_group("incomplete")
        self._file.flush()
        self._episode: _Episode | None = None
        self._next_index = self._max_demo_index() + 1

    # ---------------------------------------------------------------- file setup
    def _create(self, path: Path) -> None:
        # Build the skeleton under a temporary name so a crash never leaves a half-made file at `path`.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with self._h5py.File(tmp, "w") as f:
            data = f.create_group("data")
            data.attrs["total"] = 0
            data.attrs["env_args"] = json.dumps(dict(self.config.env_args or {}))
            data.attrs["fps"] = float(self.config.fps)
            data.attrs["armtwin_version"] = _armtwin_version()
            f.create_group("incomplete")
        os.replace(tmp, path)

    def _open_existing(self, path: Path):
        # Check the leftovers read-only first: touching a half-written object in write mode would
        # make HDF5 try to write it back on close.
        leftovers, damaged = self._scan_incomplete(path)
        try:
            f = self._h5py.File(path, "r+")
        except OSError as e:
            raise OSError(f"cannot open recording {path} for appending: {e}") from None
        if "data" not in f:
            f.close()
            raise ValueError(f"{path} is not an armtwin/robomimic recording: it has no /data group")
        data = f["data"]
        if self.config.env_args is not None and "env_args" in data.attrs:
            old = json.loads(data.attrs["env_args"])
            new = json.loads(json.dumps(dict(self.config.env_args)))
            if old and old.get("env_name") != new.get("env_name"):
                f.close()
                raise ValueError(
                    f"cannot resume {path}: it records env {old.get('env_name')!r}, not {new.get('env_name')!r}"
                )
        self._recover_incomplete(f, path, leftovers, damaged)
        f.flush()
        return f

    def _scan_incomplete(self, path: Path) -> tuple[dict[str, int], str | None]:
        """Read-only look at /incomplete: ({leftover demo name: flushed rows}, damage description or None)."""
        leftovers: dict[str, int] = {}
        damaged = None
        try:
            f = self._h5py.File(path, "r")
        except OSError as e:
            raise OSError(f"cannot open recording {path}: {e}") from None
        try:
            if "incomplete" in f:
                inc = f["incomplete"]
                for name in sorted(k for k in inc.keys() if _DEMO_RE.match(k)):
                    n = inc[name]
                    leftovers[name] = int(n["actions"].shape[0]) if "actions" in n else 0
                    n.visititems(lambda _, obj: None)  # every object must open (None: keep visiting)
        except Exception as e:  # noqa: BLE001 - any HDF5 error here means half-written metadata
            damaged = str(e)
        finally:
            try:
                f.close()
            except Exception:  # noqa: BLE001 - closing damaged objects read-only changes nothing on disk
                pass
        return leftovers, damaged

    def _recover_incomplete(self, f, path: Path, leftovers: dict[str, int], damaged: str | None) -> None:
        """Set aside (or drop) episodes a crash left in /incomplete. /data is never touched here.

        A kill during a flush can leave the interrupted episode's metadata (and maybe the index
        of /incomplete itself) half-written; then /incomplete is set aside as a
        whole (renamed ``/damaged_incomplete_<k>``, nothing inside it touched) and a fresh one is made.
        """
        if damaged is not None:
            # Renaming a link changes only the root's index; deleting it would make HDF5 walk
            # (and fail on) the damaged objects to free them.
            k = 0
            while f"damaged_incomplete_{k}" in f:
                k += 1
            f.move("incomplete", f"damaged_incomplete_{k}")
            f.create_group("incomplete")
            log.warning("%s: an interrupted episode in /incomplete is unreadable (%s); moved /incomplete to "
                        "/damaged_incomplete_%d", path, damaged, k)
            return
        inc = f.require_group("incomplete")
        taken = [int(m.group(1)) for k in inc.keys() if (m := _CRASHED_RE.match(k))]
        k = max(taken, default=-1) + 1
        for name, rows in leftovers.items():
            if rows == 0:  # interrupted before its first flush: nothing to keep
                del inc[name]
            elif self.config.keep_incomplete:
                dst = f"crashed_{k}"
                inc.move(name, dst)
                inc[dst].attrs["flushed_steps"] = rows
                self.recovered.append(f"/incomplete/{dst}")
                log.warning(
                    "%s: an episode interrupted before it finished (%d flushed steps) was kept as /incomplete/%s",
                    path, rows, dst,
                )
                k += 1
            else:
                del inc[name]
                log.warning("%s: removed an interrupted episode (%d flushed steps)", path, rows)

    def _max_demo_index(self) -> int:
        return max((int(m.group(1)) for k in self._data if (m := _DEMO_RE.match(k))), default=-1)

    # ---------------------------------------------------------------- properties
    @property
    def path(self) -> Path:
        return self.config.path

    @property
    def num_episodes(self) -> int:
        """Finished episodes in the file (``demo_*`` groups under /data)."""
        return sum(1 for k in self._data if _DEMO_RE.match(k))

    @property
    def in_episode(self) -> bool:
        return self._episode is not None

    @property
    def episode_steps(self) -> int:
        """Steps added to the current episode (0 when none is open)."""
        return 0 if self._episode is None else self._episode.steps

    @property
    def next_demo_name(self) -> str:
        return f"demo_{self._next_index if self._episode is None else self._episode.index}"

    # ---------------------------------------------------------------- episodes
    def begin_episode(
        self,
        seed: int | None = None,
        instruction: str = "",
        *,
        source: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Open a new episode; returns its final name (``"demo_<i>"``).

        seed: the env reset seed (-1 stored when None). attrs: extra attributes
        stored on the demo group (e.g. ``mimic_generated``, ``src_demo_inds``).
        """
        if self._file is None:
            raise RuntimeError("recorder is closed")
        if self._episode is not None:
            raise RuntimeError(f"an episode ({self.next_demo_name}) is already open; end or discard it first")
        source = self.config.source if source is None else source
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; valid choices: {', '.join(SOURCES)}")
        idx = self._next_index
        name = f"demo_{idx}"
        if name in self._incomplete:  # a stale group from this session's own discarded state
            del self._incomplete[name]
        g = self._incomplete.create_group(name)
        ep_attrs = {"source": source, "instruction": str(instruction or "")}
        ep_attrs.update(dict(attrs or {}))
        self._episode = _Episode(idx, g, -1 if seed is None else int(seed), ep_attrs)
        self._file.flush()
        return name

    def add_step(
        self,
        obs: Mapping[str, Any],
        action,
        state=None,
        datagen_info: Mapping[str, Any] | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Append one step.

        obs: the observation seen before ``action`` (nested dict of arrays; strings
        are ignored, e.g. ``instruction``; ``images`` -> ``obs/images/<cam>`` uint8).
        action: (6,) radians, the command really sent. state: (S,) float64 full sim
        state before the action, or None (real arm). datagen_info: nested dict
        (``eef_pose`` (4,4), ``object_poses/<obj>`` (4,4), ``subtask_term_signals/<s>``
        int, ...) or None. timestamp: seconds since the episode start (default: now).
        """
        ep = self._episode
        if ep is None:
            raise RuntimeError("add_step() needs an open episode: call begin_episode() first")
        row: dict[str, np.ndarray] = {}
        a = np.asarray(action, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"action must be a 1-D vector (radians), got shape {a.shape}")
        row["actions"] = a
        row["timestamps"] = np.asarray(
            time.perf_counter() - ep.t0 if timestamp is None else timestamp, dtype=np.float64
        )
        for k, v in _flatten(obs).items():
            row[f"obs/{k}"] = _as_row(f"obs/{k}", v)
        if ep.has_state is None:
            ep.has_state = state is not None
        if (state is not None) != ep.has_state:
            raise ValueError("state must be given at every step of an episode or at none")
        if state is not None:
            row["states"] = np.asarray(state, dtype=np.float64)
        if datagen_info is not None:
            for k, v in _flatten(datagen_info).items():
                row[f"datagen_info/{k}"] = _as_row(f"datagen_info/{k}", v)
        if ep.steps == 0:
            ep.shapes = {k: (v.shape, v.dtype) for k, v in row.items()}
            ep.buffer = {k: [] for k in row}
        else:
            if row.keys() != ep.shapes.keys():
                missing = sorted(set(ep.shapes) - set(row))
                extra = sorted(set(row) - set(ep.shapes))
                raise ValueError(f"step {ep.steps} has different keys than step 0: missing {missing}, new {extra}")
            for k, v in row.items():
                if v.shape != ep.shapes[k][0]:
                    raise ValueError(f"step {ep.steps}: {k} has shape {v.shape}, earlier steps {ep.shapes[k][0]}")
        for k, v in row.items():
            ep.buffer[k].append(v)
        ep.steps += 1
        if ep.steps - ep.written >= self.config.flush_every:
            self._write_buffer()
            self._file.flush()

    def _dataset(self, g, key: str, shape, dtype):
        if key in g:
            return g[key]
        cfg = self.config
        row_bytes = max(1, int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
        # Chunks of ~flush_every rows, capped near 1 MiB so image chunks stay one or a few frames.
        rows = max(1, min(cfg.flush_every, (1 << 20) // row_bytes))
        kw: dict[str, Any] = {}
        if cfg.compression == "gzip":
            kw = {"compression": "gzip", "compression_opts": int(cfg.compression_level)}
        elif cfg.compression == "lzf":
            kw = {"compression": "lzf"}
        return g.create_dataset(
            key, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(rows, *shape), **kw
        )

    def _write_buffer(self) -> None:
        ep = self._episode
        n = ep.steps - ep.written
        if n == 0:
            return
        for key, rows in ep.buffer.items():
            shape, dtype = ep.shapes[key]
            ds = self._dataset(ep.group, key, shape, dtype)
            ds.resize(ep.written + n, axis=0)
            ds[ep.written : ep.written + n] = np.stack(rows).astype(dtype, copy=False)
            rows.clear()
        ep.written += n

    def end_episode(self, success: bool) -> str:
        """Finish the open episode and move it to ``/data/demo_<i>``; returns that name."""
        ep = self._episode
        if ep is None:
            raise RuntimeError("end_episode() needs an open episode")
        if ep.steps == 0:
            raise ValueError(f"{self.next_demo_name} has no steps; discard_episode() it instead of ending it")
        self._write_buffer()
        g = ep.group
        if "states" in g:
            g.create_dataset("initial_state", data=g["states"][0])
        g.attrs["num_samples"] = int(ep.steps)
        g.attrs["seed"] = int(ep.seed)
        g.attrs["success"] = bool(success)
        for k, v in ep.attrs.items():
            g.attrs[k] = v
        # Everything on disk before the episode becomes visible under /data.
        self._file.flush()
        name = f"demo_{ep.index}"
        self._file.move(g.name, f"/data/{name}")
        self._data.attrs["total"] = int(self._data.attrs.get("total", 0)) + int(ep.steps)
        self._file.flush()
        self._episode = None
        self._next_index = ep.index + 1
        return name

    def discard_episode(self) -> None:
        """Drop the open episode (re-record it under the same number)."""
        ep = self._episode
        if ep is None:
            raise RuntimeError("discard_episode() needs an open episode")
        del self._incomplete[ep.group.name.rsplit("/", 1)[-1]]
        self._file.flush()
        self._episode = None

    def close(self) -> None:
        """Close the file; an episode still open is discarded (it was not ended)."""
        if self._file is None:
            return
        if self._episode is not None:
            log.warning("closing %s with %s still open: discarding it", self.path, self.next_demo_name)
            self.discard_episode()
        self._file.flush()
        self._file.close()
        self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, "_file", None) is not None:
                self._file.close()
        except Exception:
            pass


# -------------------------------------------------------------------- reading


@dataclass
class Episode:
    """One recorded episode, loaded into memory (arrays as in the file)."""

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


def _read_tree(g) -> dict[str, Any]:
    import h5py

    out = {}
    for k, v in g.items():
        out[k] = _read_tree(v) if isinstance(v, h5py.Group) else v[()]
    return out


def _attr(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def sorted_demo_names(group) -> list[str]:
    """The ``demo_<i>`` keys of an h5py group (a recording's ``/data``), sorted by i (demo_10 after demo_9)."""
    return sorted((k for k in group if _DEMO_RE.match(k)), key=lambda k: int(k[5:]))


def demo_names(path_or_file) -> list[str]:
    """Finished demos in a recording, sorted by number (``["demo_0", "demo_1", ...]``)."""
    import h5py

    def names(f):
        if "data" not in f:
            raise ValueError(f"{f.filename} is not a recording: no /data group")
        return sorted_demo_names(f["data"])

    if isinstance(path_or_file, h5py.File):
        return names(path_or_file)
    with h5py.File(path_or_file, "r") as f:
        return names(f)


def _demo_key(demo: int | str) -> str:
    if isinstance(demo, (int, np.integer)):
        return f"demo_{int(demo)}"
    return str(demo)


def load_episode(path: str | Path, demo: int | str) -> Episode:
    """Read ``/data/demo_<i>`` (``demo`` is i or ``"demo_i"``) from a recording."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording not found: {path}")
    key = _demo_key(demo)
    with h5py.File(path, "r") as f:
        names = demo_names(f)
        if key not in names:
            raise KeyError(f"{path} has no episode {key!r}; episodes: {', '.join(names) or '(none)'}")
        g = f["data"][key]
        return Episode(
            name=key,
            actions=g["actions"][()],
            timestamps=g["timestamps"][()] if "timestamps" in g else None,
            obs=_read_tree(g["obs"]) if "obs" in g else {},
            states=g["states"][()] if "states" in g else None,
            initial_state=g["initial_state"][()] if "initial_state" in g else None,
            datagen_info=_read_tree(g["datagen_info"]) if "datagen_info" in g else {},
            attrs={k: _attr(v) for k, v in g.attrs.items()},
        )


def read_env_args(path: str | Path) -> dict[str, Any]:
    """``data.attrs["env_args"]`` parsed from JSON ({} when absent)."""
    import h5py

    with h5py.File(path, "r") as f:
        raw = f["data"].attrs.get("env_args", "{}")
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


# -------------------------------------------------------------------- inspect


def summarize(path: str | Path) -> dict[str, Any]:
    """A recording's summary: file attrs, per-episode length/success/seed, dataset keys with shape and dtype.

    Returns ``{"path", "total", "env_args", "fps", "episodes": [{"name", "num_samples", "success", "seed",
    "source", "instruction"}], "keys": {"actions": ((T, 6) of the first demo, dtype), ...},
    "incomplete": [{"name", "steps"}]}``.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording not found: {path}")
    with h5py.File(path, "r") as f:
        names = demo_names(f)
        data = f["data"]
        eps = []
        for n in names:
            a = {k: _attr(v) for k, v in data[n].attrs.items()}
            eps.append(
                {
                    "name": n,
                    "num_samples": int(a.get("num_samples", data[n]["actions"].shape[0])),
                    "success": bool(a.get("success", False)),
                    "seed": int(a.get("seed", -1)),
                    "source": a.get("source", ""),
                    "instruction": a.get("instruction", ""),
                }
            )
        keys: dict[str, tuple[tuple[int, ...], str]] = {}
        if names:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    keys[name] = (tuple(obj.shape), str(obj.dtype))

            data[names[0]].visititems(visit)
        incomplete = []
        try:
            for k in f["incomplete"].keys() if "incomplete" in f else ():
                try:
                    g = f["incomplete"][k]
                    incomplete.append({"name": k, "steps": int(g["actions"].shape[0]) if "actions" in g else 0})
                except Exception:  # noqa: BLE001 - damaged by a kill mid-flush; resume drops it
                    incomplete.append({"name": k, "steps": -1})
        except Exception:  # noqa: BLE001
            incomplete.append({"name": "(unreadable)", "steps": -1})
        env_args = data.attrs.get("env_args", "{}")
        return {
            "path": str(path),
            "total": int(data.attrs.get("total", 0)),
            "env_args": json.loads(env_args.decode() if isinstance(env_args, bytes) else env_args),
            "fps": float(data.attrs.get("fps", float("nan"))),
            "episodes": eps,
            "keys": dict(sorted(keys.items())),
            "incomplete": incomplete,
        }


def format_summary(s: Mapping[str, Any]) -> str:
    """Human-readable text of :func:`summarize`'s result."""
    eps = s["episodes"]
    n_ok = sum(e["success"] for e in eps)
    env = s["env_args"].get("env_name", "?") if s["env_args"] else "?"
    lines = [
        f"{s['path']}",
        f"  env: {env}   fps: {s['fps']:g}   episodes: {len(eps)}   steps: {s['total']}   "
        f"success: {n_ok}/{len(eps)}",
    ]
    if eps:
        lens = np.array([e["num_samples"] for e in eps])
        lines.append(f"  length: min {lens.min()}  mean {lens.mean():.1f}  max {lens.max()}")
        lines.append("")
        lines.append(f"  {'episode':<12}{'steps':>7}  {'success':<8}{'seed':>6}  {'source':<7}instruction")
        for e in eps:
            lines.append(
                f"  {e['name']:<12}{e['num_samples']:>7}  {str(e['success']):<8}{e['seed']:>6}  "
                f"{e['source']:<7}{e['instruction']}"
            )
        lines.append("")
        lines.append(f"  keys ({eps[0]['name']}):")
        for k, (shape, dtype) in s["keys"].items():
            lines.append(f"    {k:<48}{str(shape):<22}{dtype}")
    if s["incomplete"]:
        lines.append("")
        lines.append("  interrupted episodes (not in /data):")
        for e in s["incomplete"]:
            steps = "unreadable" if e["steps"] < 0 else f"{e['steps']} flushed steps"
            lines.append(f"    /incomplete/{e['name']}: {steps}")
    return "\n".join(lines)
