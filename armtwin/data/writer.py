"""The one writer of armtwin recordings (layout: :mod:`armtwin.data.schema`, docs/interfaces.md).

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
episodes after the last ``demo_<i>``, and sets aside what a crash left in ``/incomplete``
(:mod:`armtwin.data.recovery`).

Residual risk, stated plainly: HDF5 has no journal. The flush that links a finished
episode into ``/data`` (a few small metadata writes, well under a millisecond) is the one
moment where a kill could damage ``/data``'s index. In a stress run (a writer finishing an
episode every ~15 ms, SIGKILLed ~90 times at random moments) every finished episode
survived.

Size: over 400 lines on purpose: :class:`Recorder` is one class whose crash-safety argument above runs
through every method; recovery on resume is :mod:`armtwin.data.recovery`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from armtwin.data.reader import RecordingError
from armtwin.data.recovery import recover_incomplete, scan_incomplete
from armtwin.data.schema import (
    DATA, INCOMPLETE, SOURCES, as_row, demo_index, demo_name, flatten, is_demo_name, parse_env_args,
)
from armtwin.staging import staged_file

log = logging.getLogger(__name__)

COMPRESSIONS = (None, "gzip", "lzf")

_ANY = object()


def check_resumable(path, recorded: Mapping[str, Any], *, env_id: str | None, image_size: Any = _ANY) -> None:
    """Refuse (RecordingError) to append a session of env ``env_id`` to ``path``, whose ``env_args`` are
    ``recorded``, when the file records another env; with ``image_size`` ((H, W) or None: no cameras),
    also when the file's env was recorded with another image size. A file without an env name is not
    refused. The one resume check: the writer and ``teleop --resume``'s
    config both call it."""
    name = recorded.get("env_name")
    if name and name != env_id:
        raise RecordingError(f"cannot resume {path}: it records env {name!r}, not {env_id!r}")
    kw = recorded.get("env_kwargs") or {}
    if image_size is _ANY or "image_size" not in kw:
        return
    old = None if kw["image_size"] is None else tuple(int(v) for v in kw["image_size"])
    new = None if image_size is None else tuple(int(v) for v in image_size)
    if old != new:
        def fmt(s):
            return "none" if s is None else f"{s[0]}x{s[1]}"

        raise RecordingError(f"cannot resume {path}: it was recorded with --image-size {fmt(old)}, "
                             f"not {fmt(new)}; pass --image-size {fmt(old)}")


def armtwin_version() -> str:
    """The installed armtwin's version ("unknown" when running from a source tree)."""
    try:
        from importlib.metadata import version

        return version("armtwin")
    except Exception:  # noqa: BLE001 - not installed
        return "unknown"


def init_file(f: h5py.File, *, env_args: Mapping[str, Any] | None, fps: float) -> None:
    """The skeleton of a new recording in the open, empty file ``f``: /data with its attrs, /incomplete."""
    data = f.create_group(DATA)
    data.attrs["total"] = 0
    data.attrs["env_args"] = json.dumps(dict(env_args or {}))
    data.attrs["fps"] = float(fps)
    data.attrs["armtwin_version"] = armtwin_version()
    f.create_group(INCOMPLETE)


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
        self.config = config
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
        self._data = self._file[DATA]
        self._incomplete = self._file.require_group(INCOMPLETE)
        self._file.flush()
        self._episode: _Episode | None = None
        self._next_index = self._max_demo_index() + 1

    # ---------------------------------------------------------------- file setup
    def _create(self, path: Path) -> None:
        # Build the skeleton under a temporary name so a crash never leaves a half-made file at `path`.
        with staged_file(path, exists=False) as tmp, h5py.File(tmp, "w") as f:
            init_file(f, env_args=self.config.env_args, fps=self.config.fps)

    def _open_existing(self, path: Path):
        # Check the leftovers read-only first: touching a half-written object in write mode would
        # make HDF5 try to write it back on close.
        leftovers, damaged = scan_incomplete(path)
        try:
            f = h5py.File(path, "r+")
        except OSError as e:
            raise OSError(f"cannot open recording {path} for appending: {e}") from None
        if DATA not in f:
            f.close()
            raise ValueError(f"{path} is not an armtwin/robomimic recording: it has no /data group")
        data = f[DATA]
        if self.config.env_args is not None and "env_args" in data.attrs:
            new = json.loads(json.dumps(dict(self.config.env_args)))
            try:
                check_resumable(path, parse_env_args(data.attrs["env_args"]), env_id=new.get("env_name"))
            except ValueError:
                f.close()
                raise
        self.recovered = recover_incomplete(f, path, leftovers, damaged, keep=self.config.keep_incomplete)
        f.flush()
        return f

    def _max_demo_index(self) -> int:
        return max((demo_index(k) for k in self._data if is_demo_name(k)), default=-1)

    # ---------------------------------------------------------------- properties
    @property
    def path(self) -> Path:
        return self.config.path

    @property
    def num_episodes(self) -> int:
        """Finished episodes in the file (``demo_*`` groups under /data)."""
        return sum(1 for k in self._data if is_demo_name(k))

    @property
    def in_episode(self) -> bool:
        return self._episode is not None

    @property
    def episode_steps(self) -> int:
        """Steps added to the current episode (0 when none is open)."""
        return 0 if self._episode is None else self._episode.steps

    @property
    def next_demo_name(self) -> str:
        return demo_name(self._next_index if self._episode is None else self._episode.index)

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
        name = demo_name(idx)
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
        for k, v in flatten(obs).items():
            row[f"obs/{k}"] = as_row(f"obs/{k}", v)
        if ep.has_state is None:
            ep.has_state = state is not None
        if (state is not None) != ep.has_state:
            raise ValueError("state must be given at every step of an episode or at none")
        if state is not None:
            row["states"] = np.asarray(state, dtype=np.float64)
        if datagen_info is not None:
            for k, v in flatten(datagen_info).items():
                row[f"datagen_info/{k}"] = as_row(f"datagen_info/{k}", v)
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

    def end_episode(self, success: bool, *, attrs: Mapping[str, Any] | None = None,
                    keep_steps: int | None = None) -> str:
        """Finish the open episode and move it to ``/data/demo_<i>``; returns that name.

        attrs: extra episode attributes known only at the end (e.g. ``end_reason``), added to
        :meth:`begin_episode`'s. keep_steps: keep only the first ``keep_steps`` steps (1..steps),
        dropping the tail (e.g. the holds after a leader's input went silent); None keeps all."""
        ep = self._episode
        if ep is None:
            raise RuntimeError("end_episode() needs an open episode")
        if ep.steps == 0:
            raise ValueError(f"{self.next_demo_name} has no steps; discard_episode() it instead of ending it")
        if keep_steps is not None and not (1 <= keep_steps <= ep.steps):
            raise ValueError(f"keep_steps must be 1..{ep.steps} (the episode's steps), got {keep_steps}")
        self._write_buffer()
        g = ep.group
        if keep_steps is not None and keep_steps < ep.steps:
            rows: list = []
            g.visititems(lambda _name, obj: rows.append(obj) if isinstance(obj, h5py.Dataset) else None)
            for ds in rows:  # every dataset of an episode has one row per step
                ds.resize(keep_steps, axis=0)
            ep.steps = ep.written = keep_steps
        ep.attrs.update(dict(attrs or {}))
        if "states" in g:
            g.create_dataset("initial_state", data=g["states"][0])
        g.attrs["num_samples"] = int(ep.steps)
        g.attrs["seed"] = int(ep.seed)
        g.attrs["success"] = bool(success)
        for k, v in ep.attrs.items():
            g.attrs[k] = v
        # Everything on disk before the episode becomes visible under /data.
        self._file.flush()
        name = demo_name(ep.index)
        self._file.move(g.name, f"/{DATA}/{name}")
        self._data.attrs["total"] = int(self._data.attrs.get("total", 0)) + int(ep.steps)
        self._file.flush()
        self._episode = None
        self._next_index = ep.index + 1
        return name

    def add_episode(
        self,
        episode: Mapping[str, Any],
        *,
        success: bool,
        seed: int | None = None,
        instruction: str = "",
        source: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Write a whole episode at once; returns its name (``"demo_<i>"``).

        episode: ``{"actions" (T, 6) rad, "timestamps" (T,) s, "obs": {...}, "states" (T, S) or absent,
        "datagen_info": {...} or absent}``, every leaf a (T, ...) array, stored with the same dtypes as
        :meth:`add_step` would store them row by row. The other arguments are :meth:`begin_episode`'s
        and :meth:`end_episode`'s."""
        self.begin_episode(seed=seed, instruction=instruction, source=source, attrs=attrs)
        try:
            ep = self._episode
            arrays = {k: as_row(k, v) for k, v in flatten(episode).items()}
            if "actions" not in arrays or arrays["actions"].ndim != 2:
                raise ValueError("an episode needs 'actions' of shape (T, 6) (radians)")
            T = arrays["actions"].shape[0]
            bad = {k: a.shape[0] if a.ndim else 0 for k, a in arrays.items() if a.ndim == 0 or a.shape[0] != T}
            if bad:
                raise ValueError(f"every array of an episode needs T={T} rows (as 'actions'); got {bad}")
            for key, a in arrays.items():
                ds = self._dataset(ep.group, key, a.shape[1:], a.dtype)
                ds.resize(T, axis=0)
                ds[:] = a
            ep.shapes = {k: (a.shape[1:], a.dtype) for k, a in arrays.items()}
            ep.steps = ep.written = T
        except BaseException:
            self.discard_episode()
            raise
        return self.end_episode(success)

    def set_attrs(self, group: str, attrs: Mapping[str, Any]) -> None:
        """Set attributes on ``group`` (``"data"`` for the file's /data, another name for a top-level
        group of producer metadata such as ``"mimic"``, made if missing). Values: str, numbers, arrays."""
        if self._file is None:
            raise RuntimeError("recorder is closed")
        g = self._data if group == DATA else self._file.require_group(group)
        for k, v in attrs.items():
            g.attrs[k] = v
        self._file.flush()

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
