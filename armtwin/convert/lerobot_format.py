"""The LeRobot dataset v3.0 on-disk format, written from its specification with NumPy, PyArrow and PyAV.

No LeRobot import: LeRobot's private helpers (``lerobot.datasets.utils``, ``compute_stats``,
``video_utils``) move between releases while the format stays "v3.0" (0.4.4 through 0.6.x), so
the converter owns what it writes. Every function here mirrors what LeRobot 0.4.4's own writer
(``LeRobotDataset.create/add_frame/save_episode/finalize``) puts on disk, and
``tests/test_convert_lerobot.py`` compares the result with that writer's files and loads it with
LeRobot's ``LeRobotDataset`` reader, the reference for correctness.

Layout (``root`` is the dataset directory)::

    meta/info.json                                  INFO: fps, counts, features, path templates
    meta/stats.json                                 per-feature stats over the whole dataset
    meta/tasks.parquet                              task string (pandas index) -> task_index
    meta/episodes/chunk-000/file-000.parquet        one row per episode: offsets + its stats
    data/chunk-XXX/file-XXX.parquet                 per-frame columns, episodes appended
    videos/<video_key>/chunk-XXX/file-XXX.mp4       one stream per camera, episodes appended
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CODEBASE_VERSION = "v3.0"
#: Files per chunk directory, and the default size limits LeRobot rolls files over at.
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 200
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
TASKS_PATH = "meta/tasks.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
#: The task objects' positions feature (``--environment-state``): ``(3 * n_objects,) float32``, metres, world frame.
ENV_STATE_KEY = "observation.environment_state"
#: Per-frame bookkeeping columns every v3.0 dataset has, after the user features.
DEFAULT_FEATURES: dict[str, dict] = {
    "timestamp": {"dtype": "float32", "shape": (1,), "names": None},
    "frame_index": {"dtype": "int64", "shape": (1,), "names": None},
    "episode_index": {"dtype": "int64", "shape": (1,), "names": None},
    "index": {"dtype": "int64", "shape": (1,), "names": None},
    "task_index": {"dtype": "int64", "shape": (1,), "names": None},
}
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
#: Histogram bins LeRobot's quantile estimate uses (``RunningQuantileStats``).
QUANTILE_BINS = 5000


def next_chunk_file(chunk_index: int, file_index: int, chunks_size: int = CHUNKS_SIZE) -> tuple[int, int]:
    """Indices of the file after (chunk, file): a new chunk every ``chunks_size`` files."""
    if file_index == chunks_size - 1:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


# --- data parquet schema --------------------------------------------------------------------------


def data_schema(features: dict):
    """PyArrow schema of the data parquet files for the non-video ``features``.

    Scalars (shape (1,)) are plain columns, vectors (shape (n,)) fixed-size lists; the schema
    carries the Hugging Face ``datasets`` 4.x feature description (``huggingface`` metadata) as
    ``datasets.Features.arrow_schema`` does, so generic ``datasets`` tools read the columns typed.
    """
    import pyarrow as pa

    fields, hf = [], {}
    for key, ft in features.items():
        if ft["dtype"] == "video":
            continue
        shape = tuple(ft["shape"])
        value = pa.from_numpy_dtype(np.dtype(ft["dtype"]))
        if shape == (1,):
            fields.append(pa.field(key, value))
            hf[key] = {"dtype": ft["dtype"], "_type": "Value"}
        elif len(shape) == 1:
            fields.append(pa.field(key, pa.list_(value, shape[0])))
            hf[key] = {"feature": {"dtype": ft["dtype"], "_type": "Value"}, "length": shape[0], "_type": "List"}
        else:
            raise ValueError(f"feature {key!r} has shape {shape}; this writer supports (1,) and (n,) (plus video)")
    meta = {"huggingface": json.dumps({"info": {"features": hf}})}
    return pa.schema(fields, metadata=meta)


def data_table(columns: dict[str, np.ndarray], schema):
    """One episode's columns ((T,) or (T, n) arrays, keyed as ``schema``) as a PyArrow table."""
    import pyarrow as pa

    arrays = []
    for name in schema.names:
        col, typ = columns[name], schema.field(name).type
        if col.ndim == 2:
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(col.reshape(-1)), type=typ))
        else:
            arrays.append(pa.array(col, type=typ))
    return pa.Table.from_arrays(arrays, schema=schema)


# --- statistics -----------------------------------------------------------------------------------
# Same algorithm and dtypes as LeRobot 0.4.4's ``get_feature_stats`` (one batch through
# ``RunningQuantileStats``), so the numbers match its writer's to the last bit.


def _quantile(hist: np.ndarray, edges: np.ndarray, target: float):
    cumsum = np.cumsum(hist)
    idx = np.searchsorted(cumsum, target)
    if idx == 0:
        return edges[0]
    if idx >= len(cumsum):
        return edges[-1]
    before = cumsum[idx - 1]
    inbin = cumsum[idx] - before
    if inbin == 0:
        return edges[idx]
    return edges[idx] + (target - before) / inbin * (edges[idx + 1] - edges[idx])


def vector_stats(data: np.ndarray) -> dict[str, np.ndarray]:
    """min/max/mean/std/count/q01..q99 of one episode's (T,) or (T, n) column over time.

    Each stat has shape (1,) for a (T,) column and (n,) for a (T, n) one; count is (1,) = T.
    Quantiles come from a 5000-bin histogram between min and max; with T < 2 they equal the mean.
    """
    x = data.reshape(-1, 1) if data.ndim == 1 else data
    n = data.shape[0]
    if x.shape[0] < 2:
        st = {"min": np.min(x, axis=0), "max": np.max(x, axis=0), "mean": np.mean(x, axis=0),
              "std": np.std(x, axis=0), "count": np.array([n])}
        st.update({f"q{int(q * 100):02d}": st["mean"].copy() for q in QUANTILES})
    else:
        mean = np.mean(x, axis=0)
        mean_sq = np.mean(x**2, axis=0)
        lo, hi = np.min(x, axis=0), np.max(x, axis=0)
        edges = [np.linspace(lo[i] - 1e-10, hi[i] + 1e-10, QUANTILE_BINS + 1) for i in range(x.shape[1])]
        hists = [np.histogram(x[:, i], bins=edges[i])[0].astype(np.float64) for i in range(x.shape[1])]
        st = {"min": lo.copy(), "max": hi.copy(), "mean": mean.copy(),
              "std": np.sqrt(np.maximum(0, mean_sq - mean**2)), "count": np.array([n])}
        for q in QUANTILES:
            st[f"q{int(q * 100):02d}"] = np.array([_quantile(h, e, q * n) for h, e in zip(hists, edges)])
    if data.ndim == 1:
        st = {k: v if k == "count" else v.reshape(1) for k, v in st.items()}
    return st


def aggregate_stats(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Dataset stats from per-episode stats: count-weighted mean, pooled variance, min of mins, ...

    Quantiles are the count-weighted mean of the episodes' quantiles (LeRobot's approximation).
    Keys keep the first episode's feature order.
    """
    keys = list(dict.fromkeys(k for st in per_episode for k in st))
    out = {}
    for key in keys:
        sts = [st[key] for st in per_episode if key in st]
        means = np.stack([s["mean"] for s in sts])
        variances = np.stack([s["std"] ** 2 for s in sts])
        counts = np.stack([s["count"] for s in sts])
        total = counts.sum(axis=0)
        while counts.ndim < means.ndim:
            counts = np.expand_dims(counts, axis=-1)
        mean = (means * counts).sum(axis=0) / total
        var = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
        agg = {"min": np.min(np.stack([s["min"] for s in sts]), axis=0),
               "max": np.max(np.stack([s["max"] for s in sts]), axis=0),
               "mean": mean, "std": np.sqrt(var), "count": total}
        for q in (k for k in sts[0] if k.startswith("q") and k[1:].isdigit()):
            if all(q in s for s in sts):
                agg[q] = (np.stack([s[q] for s in sts]) * counts).sum(axis=0) / total
        out[key] = agg
    return out


# LeRobot computes per-episode image stats on ``sample_indices(T)`` frames, each downsampled by
# ``auto_downsample_height_width``, with ``RunningQuantileStats`` (a 5000-bin histogram between min
# and max per channel). The encoders here keep a 256-bin count per channel of exactly those pixels
# instead (cheap, no second read of the frames) and :func:`image_stats_from_counts` turns the counts
# into the same statistics: a histogram of the 256 values weighted by their counts equals the
# histogram of all the pixels. One deliberate difference: LeRobot 0.4.4 squares the uint8 pixels
# without widening them (``batch**2`` wraps at 256), which makes its image ``std`` wrong (near 0);
# here std is computed in float64.


def estimate_num_samples(n: int, min_num_samples: int = 100, max_num_samples: int = 10_000, power: float = 0.75) -> int:
    """How many of an episode's ``n`` frames go into its image stats (LeRobot's rule)."""
    if n < min_num_samples:
        min_num_samples = n
    return max(min_num_samples, min(int(n**power), max_num_samples))


def sample_indices(n: int) -> list[int]:
    """Frame indices, evenly spread over ``n`` frames, that LeRobot samples for image stats."""
    return np.round(np.linspace(0, n - 1, estimate_num_samples(n))).astype(int).tolist()


def downsample_hwc(img: np.ndarray, target_size: int = 150, max_size_threshold: int = 300) -> np.ndarray:
    """LeRobot's ``auto_downsample_height_width`` for an (H, W, C) image (LeRobot's works on (C, H, W))."""
    height, width = img.shape[:2]
    if max(width, height) < max_size_threshold:
        return img
    f = int(width / target_size) if width > height else int(height / target_size)
    return img[::f, ::f]


def image_stats_from_counts(counts: np.ndarray, n_images: int, num_bins: int = QUANTILE_BINS) -> dict[str, np.ndarray]:
    """Per-channel stats of uint8 pixels from their value counts, as LeRobot's image stats.

    ``counts``: (C, 256) number of sampled pixels per channel and value; ``n_images``: sampled
    frames. Returns min/max/mean/std/q01/q10/q50/q90/q99 of shape (C, 1, 1) scaled to [0, 1] and
    count (1,) = n_images, like LeRobot's per-episode stats of an image/video feature.
    """
    counts = np.asarray(counts, dtype=np.float64)
    values = np.arange(counts.shape[1], dtype=np.float64)
    total = counts.sum(axis=1)
    out: dict[str, list] = {k: [] for k in ("min", "max", "mean", "std", "q01", "q10", "q50", "q90", "q99")}
    for c in range(counts.shape[0]):
        w = counts[c]
        nz = np.nonzero(w)[0]
        lo, hi = float(values[nz[0]]), float(values[nz[-1]])
        mean = float((values * w).sum() / total[c])
        var = float((((values - mean) ** 2) * w).sum() / total[c])
        edges = np.linspace(lo - 1e-10, hi + 1e-10, num_bins + 1)
        hist, _ = np.histogram(values, bins=edges, weights=w)
        out["min"].append(lo)
        out["max"].append(hi)
        out["mean"].append(mean)
        out["std"].append(np.sqrt(max(var, 0.0)))
        for q in QUANTILES:
            out[f"q{int(q * 100):02d}"].append(float(_quantile(hist, edges, q * total[c])))
    st = {k: np.array(out[k], dtype=np.float64).reshape(-1, 1, 1) / 255.0 for k in ("min", "max", "mean", "std")}
    st["count"] = np.array([n_images])  # key order as LeRobot's: it fixes the episodes parquet column order
    st.update({k: np.array(out[k], dtype=np.float64).reshape(-1, 1, 1) / 255.0 for k in ("q01", "q10", "q50", "q90", "q99")})
    return st


# --- metadata files -------------------------------------------------------------------------------


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a/b": 1}: how nested stats become episodes-parquet columns."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}/{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def write_json(data: dict, path: Path) -> None:
    """JSON as LeRobot writes it: 4-space indent, UTF-8 kept as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_jsonable(data), f, indent=4, ensure_ascii=False)


def write_stats(stats: dict[str, dict[str, np.ndarray]], root: Path) -> None:
    """``meta/stats.json``: feature -> stat -> nested list."""
    write_json(stats, root / STATS_PATH)


def write_tasks(tasks: list[str], root: Path) -> None:
    """``meta/tasks.parquet``: the task strings as the pandas index, ``task_index`` 0..n-1 as column."""
    import pandas as pd

    path = root / TASKS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"task_index": list(range(len(tasks)))}, index=list(tasks)).to_parquet(path)


def write_episodes(rows: list[dict], root: Path) -> None:
    """``meta/episodes/chunk-000/file-000.parquet`` from one flat dict per episode (same keys, in order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {k: [r[k].tolist() if isinstance(r[k], np.ndarray) else r[k] for r in rows] for k in rows[0]}
    path = root / EPISODES_PATH.format(chunk_index=0, file_index=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pydict(cols), path, compression="snappy", use_dictionary=True)


def video_info(path: Path) -> dict:
    """The ``info`` block of a video feature in ``meta/info.json``, read from the file with PyAV."""
    import av

    with av.open(str(path), "r") as f:
        if not f.streams.video:
            return {}
        v = f.streams.video[0]
        pix_fmt = v.pix_fmt
        if any(s in pix_fmt for s in ("gray", "depth", "monochrome")):
            channels = 1
        elif "rgba" in pix_fmt or "yuva" in pix_fmt:
            channels = 4
        elif "rgb" in pix_fmt or "yuv" in pix_fmt:
            channels = 3
        else:
            raise ValueError(f"unknown pixel format {pix_fmt!r} in {path}")
        info = {"video.height": v.height, "video.width": v.width, "video.codec": v.codec.canonical_name,
                "video.pix_fmt": pix_fmt, "video.is_depth_map": False, "video.fps": int(v.base_rate),
                "video.channels": channels}
        if not f.streams.audio:
            info["has_audio"] = False
        else:
            a = f.streams.audio[0]
            info.update({"audio.channels": a.channels, "audio.codec": a.codec.canonical_name,
                         "audio.bit_rate": a.bit_rate, "audio.sample_rate": a.sample_rate,
                         "audio.bit_depth": a.format.bits, "audio.channel_layout": a.layout.name, "has_audio": True})
    return info


def info_dict(*, fps: int, features: dict, robot_type: str | None, total_episodes: int, total_frames: int,
              total_tasks: int, data_files_size_in_mb: float, video_files_size_in_mb: float,
              chunks_size: int = CHUNKS_SIZE) -> dict:
    """``meta/info.json`` contents (keys in LeRobot's order); ``features`` already carry video ``info``."""
    has_video = any(ft["dtype"] == "video" for ft in features.values())
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": total_tasks,
        "chunks_size": chunks_size,
        "data_files_size_in_mb": data_files_size_in_mb,
        "video_files_size_in_mb": video_files_size_in_mb,
        "fps": fps,
        "splits": {"train": f"0:{total_episodes}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if has_video else None,
        "features": {k: {**ft, "shape": list(ft["shape"])} for k, ft in features.items()},
    }


def write_info(info: dict, root: Path) -> None:
    write_json(info, root / INFO_PATH)
