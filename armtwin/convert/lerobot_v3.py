"""HDF5 recordings -> LeRobot v3.0 dataset, written directly in LeRobot 0.4.4's on-disk format.

Why not ``LeRobotDataset.add_frame``: that path writes every camera frame as a
PNG, reads it back and encodes each episode to its own MP4, then re-muxes the
episode into the shared file. Here each camera stream is encoded once, in its
own process, straight from the HDF5 chunks with PyAV into the shared
``file-XXX.mp4`` (bounded memory: ``read_chunk`` frames at a time), while the
main process writes the parquet data and computes the statistics with
LeRobot's own ``compute_episode_stats``/``aggregate_stats`` (images sampled
the way LeRobot samples them). Metadata files are written with LeRobot's own
helpers so their format cannot drift. The reference for correctness is
LeRobot's ``LeRobotDataset`` reader (see tests/test_convert_lerobot.py).

The dataset is assembled in a temporary directory beside ``root`` and renamed
into place only when complete; any error removes the temporary directory.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.convert.h5io import ConvertError, EpisodeRef, RecordingScan, order_cameras, scan_recordings
from armtwin.staging import staged_dir

#: Codecs this writer encodes, with the PyAV encoder used for each (names as LeRobot's ``vcodec``).
VIDEO_CODECS: dict[str, str] = {"libsvtav1": "libsvtav1", "h264": "libx264", "hevc": "libx265"}
#: LeRobot 0.4.4's encoder defaults (``video_utils._get_codec_options``): keyframe every 2 frames, crf 30.
DEFAULT_GOP = 2
#: Default crf per codec. svt-av1 keeps LeRobot's 30 (>= 38 dB PSNR on 320x240 sim renders).
#: crf scales differ between encoders: x264 at LeRobot's 30 falls to ~31-35 dB on the same renders,
#: so h264 uses crf 20 with preset "superfast" (LeRobot leaves x264 at "medium"): worst frame
#: 35.9 dB on 320x240 renders, ~39 dB at 640x480, and superfast encodes ~3x faster than medium.
#: (x264's "veryfast" was measured *worse* in worst-frame PSNR than "superfast": 34.6 dB at crf 20.)
DEFAULT_CRF: dict[str, int] = {"libsvtav1": 30, "h264": 20, "hevc": 26}
DEFAULT_X264_PRESET = "superfast"
#: LeRobot's default svt-av1 preset.
DEFAULT_SVTAV1_PRESET = "12"
#: LeRobot 0.4.4 file layout limits (utils.DEFAULT_*).
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 200


def video_key(cam: str) -> str:
    """LeRobot feature key of a camera: ``observation.images.<cam>``."""
    return f"observation.images.{cam}"


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """"WxH" -> (W, H) ints (both even, as yuv420p needs); None passes through."""
    if text is None:
        return None
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ConvertError(f"bad image size {text!r}; expected WxH, e.g. 640x480") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise ConvertError(f"bad image size {text!r}: width and height must be positive and even (yuv420p)")
    return w, h


@dataclass
class LeRobotExportConfig:
    """``armtwin convert lerobot``: HDF5 recordings -> one LeRobot v3.0 dataset at ``root``.

    ``fps`` None takes the recordings' fps (must be an integer rate); ``image_size`` is (W, H)
    or None to keep the recorded size; ``episodes`` "success" skips failed demos; ``task``
    overrides every episode's instruction; ``use_degrees``/``calibration`` choose LeRobot's units
    (see ``armtwin.units``). ``encoder_threads`` None splits the machine's cores between the
    camera encoders.
    """

    inputs: tuple[Path, ...]
    repo_id: str
    root: Path
    fps: int | None = None
    vcodec: str = "libsvtav1"
    image_size: tuple[int, int] | None = None
    episodes: str = "success"
    task: str | None = None
    use_degrees: bool = True
    calibration: Path | None = None
    crf: int | None = None
    gop: int = DEFAULT_GOP
    preset: str | None = None
    encoder_threads: int | None = None
    read_chunk: int = 32
    video_files_size_in_mb: float = VIDEO_FILES_SIZE_IN_MB
    data_files_size_in_mb: float = DATA_FILES_SIZE_IN_MB
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self):
        self.inputs = tuple(Path(p) for p in ([self.inputs] if isinstance(self.inputs, (str, Path)) else self.inputs))
        self.root = Path(self.root)
        if not self.inputs:
            raise ConvertError("no input files given")
        if self.vcodec not in VIDEO_CODECS:
            raise ConvertError(f"unknown video codec {self.vcodec!r}; valid codecs: {', '.join(VIDEO_CODECS)}")
        if self.episodes not in ("success", "all"):
            raise ConvertError(f"unknown episode selection {self.episodes!r}; valid choices: success, all")
        if self.repo_id.count("/") != 1 or not all(self.repo_id.split("/")):
            raise ConvertError(f"bad repo id {self.repo_id!r}; expected USER/NAME")
        if self.fps is not None and (int(self.fps) != self.fps or self.fps <= 0):
            raise ConvertError(f"fps must be a positive integer, got {self.fps}")
        if isinstance(self.image_size, str):
            self.image_size = parse_image_size(self.image_size)
        if self.task is not None and not self.task.strip():
            raise ConvertError("--task must not be empty")
        if self.read_chunk < 1:
            raise ConvertError("read_chunk must be >= 1")
        if self.calibration is not None:
            self.calibration = Path(self.calibration)
        if self.crf is None:
            self.crf = DEFAULT_CRF[self.vcodec]
        if not 0 <= int(self.crf) <= 63:
            raise ConvertError(f"crf must be in 0..63, got {self.crf}")


@dataclass
class ExportResult:
    """What was written: counts, sizes, timings, and every skipped demo with its reason."""

    root: Path
    episodes: int
    frames: int
    fps: int
    duration_s: float
    size_bytes: int
    wall_s: float
    skipped: list[tuple[str, str, str]]
    per_file: dict[str, dict[str, int]]
    tasks: list[str]
    cameras: list[str]
    notes: list[str] = field(default_factory=list)


# --- video encoding (runs in one process per camera) ---------------------------------------------


def codec_options(vcodec: str, *, crf: int, gop: int, preset: str | None, threads: int | None) -> dict[str, str]:
    """FFmpeg encoder options as LeRobot sets them (g, crf, svt-av1 preset), plus a faster x264 preset."""
    opts = {"g": str(gop), "crf": str(crf)}
    if vcodec == "libsvtav1":
        opts["preset"] = preset or DEFAULT_SVTAV1_PRESET
        if threads:
            opts["svtav1-params"] = f"lp={threads}"
    elif vcodec == "h264":
        opts["preset"] = preset or DEFAULT_X264_PRESET
        if threads:
            opts["threads"] = str(threads)
    elif vcodec == "hevc":
        opts["preset"] = preset or DEFAULT_X264_PRESET
        opts["x265-params"] = "log-level=error" + (f":pools={threads}" if threads else "")
    return opts


# --- image statistics ------------------------------------------------------------------------------
# LeRobot computes per-episode image stats on ``sample_indices(T)`` frames, each downsampled by
# ``auto_downsample_height_width``, with ``RunningQuantileStats`` (a 5000-bin histogram between min
# and max per channel). The encoders here keep a 256-bin count per channel of exactly those pixels
# instead (cheap, no second read of the frames) and :func:`image_stats_from_counts` turns the counts
# into the same statistics: a histogram of the 256 values weighted by their counts equals the
# histogram of all the pixels. One deliberate difference: LeRobot 0.4.4 squares the uint8 pixels
# without widening them (``batch**2`` wraps at 256), which makes its image ``std`` wrong (near 0);
# here std is computed in float64.


def estimate_num_samples(n: int, min_num_samples: int = 100, max_num_samples: int = 10_000, power: float = 0.75) -> int:
    """Same as ``lerobot.datasets.compute_stats.estimate_num_samples`` (NumPy only, for the encoders)."""
    if n < min_num_samples:
        min_num_samples = n
    return max(min_num_samples, min(int(n**power), max_num_samples))


def sample_indices(n: int) -> list[int]:
    """Same as ``lerobot.datasets.compute_stats.sample_indices``: frames LeRobot samples for image stats."""
    return np.round(np.linspace(0, n - 1, estimate_num_samples(n))).astype(int).tolist()


def downsample_hwc(img: np.ndarray, target_size: int = 150, max_size_threshold: int = 300) -> np.ndarray:
    """``auto_downsample_height_width`` for an (H, W, C) image (LeRobot's works on (C, H, W))."""
    height, width = img.shape[:2]
    if max(width, height) < max_size_threshold:
        return img
    f = int(width / target_size) if width > height else int(height / target_size)
    return img[::f, ::f]


def image_stats_from_counts(counts: np.ndarray, n_images: int, num_bins: int = 5000) -> dict[str, np.ndarray]:
    """Per-channel stats of uint8 pixels from their value counts, as LeRobot's image stats.

    ``counts``: (C, 256) number of sampled pixels per channel and value; ``n_images``: sampled
    frames. Returns min/max/mean/std/q01/q10/q50/q90/q99 of shape (C, 1, 1) scaled to [0, 1] and
    count (1,) = n_images, like ``compute_episode_stats`` for an image/video feature.
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
        cumsum = np.cumsum(hist)
        out["min"].append(lo)
        out["max"].append(hi)
        out["mean"].append(mean)
        out["std"].append(np.sqrt(max(var, 0.0)))
        for q in (0.01, 0.10, 0.50, 0.90, 0.99):
            target = q * total[c]
            idx = int(np.searchsorted(cumsum, target))
            if idx == 0:
                v = edges[0]
            elif idx >= len(cumsum):
                v = edges[-1]
            else:
                before = cumsum[idx - 1]
                inbin = cumsum[idx] - before
                v = edges[idx] if inbin == 0 else edges[idx] + (target - before) / inbin * (edges[idx + 1] - edges[idx])
            out[f"q{int(q * 100):02d}"].append(float(v))
    st = {k: np.array(out[k], dtype=np.float64).reshape(-1, 1, 1) / 255.0 for k in ("min", "max", "mean", "std")}
    st["count"] = np.array([n_images])  # key order as LeRobot's: it fixes the episodes parquet column order
    st.update({k: np.array(out[k], dtype=np.float64).reshape(-1, 1, 1) / 255.0 for k in ("q01", "q10", "q50", "q90", "q99")})
    return st


def _encode_camera(job: dict, out_q) -> None:
    """Encode one camera's frames of every episode into ``videos/<key>/chunk-XXX/file-XXX.mp4``.

    Puts ("progress", cam, n) messages while encoding and finally ("done", cam, result) where
    result["segments"][i] = (chunk_index, file_index, from_timestamp, to_timestamp) of episode i
    and result["counts"][i] = (3, 256) pixel-value counts of its stats sample; or
    ("error", cam, traceback text).
    """
    try:
        import av
        import h5py
        from av.video.reformatter import VideoReformatter

        av.logging.set_level(av.logging.ERROR)  # x264 prints per-file statistics at INFO
        os.environ.setdefault("SVT_LOG", "1")  # svt-av1 prints its banner to stderr otherwise
        cam, key, fps = job["cam"], job["key"], int(job["fps"])
        root = Path(job["root"])
        W, H = job["size"]
        limit = job["video_files_size_in_mb"] * 1024 * 1024
        files: dict[str, h5py.File] = {}
        segments, all_counts = [], []
        chunk_idx, file_idx = 0, 0
        container = stream = None
        frames_in_file = bytes_in_file = 0
        # One reformatter each, reused: a new swscale context per frame costs as much as the conversion.
        to_yuv, to_rgb = VideoReformatter(), VideoReformatter()
        tb = Fraction(1, fps)

        def open_file():
            nonlocal container, stream, frames_in_file, bytes_in_file
            path = root / f"videos/{key}/chunk-{chunk_idx:03d}/file-{file_idx:03d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            container = av.open(str(path), "w", options={"movflags": "faststart"})
            stream = container.add_stream(job["encoder"], rate=fps, options=job["options"])
            stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
            stream.time_base = tb
            frames_in_file = bytes_in_file = 0

        def mux(packets):
            nonlocal bytes_in_file
            for packet in packets:
                bytes_in_file += packet.size
                container.mux(packet)

        def close_file():
            mux(stream.encode())
            container.close()

        open_file()
        buf = None
        for (path_str, demo, T), sample in zip(job["episodes"], job["samples"]):
            # Bytes muxed so far, not the file size: the muxer writes its header lazily.
            if frames_in_file > 0 and bytes_in_file >= limit:
                close_file()
                file_idx += 1
                if file_idx >= job["chunks_size"]:
                    chunk_idx, file_idx = chunk_idx + 1, 0
                open_file()
            f = files.get(path_str) or files.setdefault(path_str, h5py.File(path_str, "r"))
            ds = f[f"data/{demo}/obs/images/{cam}"]
            if buf is None or buf.shape[1:] != ds.shape[1:]:
                buf = np.empty((job["read_chunk"], *ds.shape[1:]), np.uint8)
            same_size = ds.shape[1:3] == (H, W)
            want: dict[int, int] = {}
            for j in sample:
                want[j] = want.get(j, 0) + 1
            counts = np.zeros((3, 256), np.int64)
            start = frames_in_file
            for s in range(0, T, job["read_chunk"]):
                n = min(T, s + job["read_chunk"]) - s
                ds.read_direct(buf, np.s_[s : s + n], np.s_[0:n])
                for k in range(n):
                    rgb = av.VideoFrame.from_numpy_buffer(buf[k], format="rgb24")
                    frame = to_yuv.reformat(rgb, width=W, height=H, format="yuv420p")
                    frame.pts = frames_in_file
                    frame.time_base = tb
                    mux(stream.encode(frame))
                    frames_in_file += 1
                    m = want.get(s + k)
                    if m:
                        img = buf[k] if same_size else to_rgb.reformat(rgb, width=W, height=H, format="rgb24").to_ndarray()
                        img = downsample_hwc(img)
                        for c in range(3):
                            counts[c] += m * np.bincount(img[..., c].reshape(-1), minlength=256)
                out_q.put(("progress", cam, n))
            segments.append((chunk_idx, file_idx, start / fps, frames_in_file / fps))
            all_counts.append(counts)
        close_file()
        for f in files.values():
            f.close()
        out_q.put(("done", cam, {"segments": segments, "counts": all_counts}))
    except BaseException:  # noqa: BLE001 - everything must reach the parent, which cleans up
        out_q.put(("error", job.get("cam"), traceback.format_exc()))


# --- main entry ---------------------------------------------------------------------------------


def build_features(cameras: list[str], sizes: dict[str, tuple[int, int]]) -> dict:
    """LeRobot feature dict for SO-101 state/action (``C.LEROBOT_MOTOR_KEYS``) and video cameras.

    ``sizes``: camera -> (W, H) of its video.
    """
    names = list(C.LEROBOT_MOTOR_KEYS)
    feats = {
        "observation.state": {"dtype": "float32", "shape": (C.NUM_JOINTS,), "names": names},
        "action": {"dtype": "float32", "shape": (C.NUM_JOINTS,), "names": names},
    }
    for cam in cameras:
        W, H = sizes[cam]
        feats[video_key(cam)] = {"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]}
    return feats


def _episode_task(ep: EpisodeRef, cfg: LeRobotExportConfig, env_name: str, notes: list[str]) -> str:
    if cfg.task is not None:
        return cfg.task
    if ep.instruction.strip():
        return ep.instruction
    task = env_name or "so101 task"
    notes.append(f"{ep.path}:{ep.demo} has no instruction; task set to {task!r}")
    return task


def _unit_converter(cfg: LeRobotExportConfig):
    from armtwin.units import Calibration, UnitConverter

    try:
        calib = Calibration.load(cfg.calibration) if cfg.calibration is not None else Calibration.default()
    except (FileNotFoundError, ValueError) as e:
        raise ConvertError(str(e)) from None
    return UnitConverter(calib, use_degrees=cfg.use_degrees)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def export_lerobot(cfg: LeRobotExportConfig) -> ExportResult:
    """Convert ``cfg.inputs`` into a LeRobot v3.0 dataset at ``cfg.root``; see the module doc.

    Raises ConvertError for bad input (nothing is written) and re-raises any failure after
    removing the partial dataset.
    """
    t0 = time.perf_counter()
    scan = scan_recordings(cfg.inputs, episodes=cfg.episodes, require_same_image_size=cfg.image_size is None)
    if not scan.episodes:
        reasons = "; ".join(f"{p}:{d}: {r}" for p, d, r in scan.skipped) or "no demos"
        raise ConvertError(f"no episodes left to convert ({reasons})")
    fps = cfg.fps
    if fps is None:
        if abs(scan.fps - round(scan.fps)) > 1e-6:
            raise ConvertError(f"recordings have fps {scan.fps}, LeRobot needs an integer: pass --fps")
        fps = int(round(scan.fps))
    notes: list[str] = []
    if abs(scan.fps - fps) > 1e-6:
        notes.append(f"recorded at {scan.fps} fps, written as {fps} fps (--fps)")
    cameras = order_cameras(scan.cameras)
    if not cameras:
        raise ConvertError("the recordings have no camera images (obs/images/<cam>); LeRobot SO-101 datasets need video")
    if cfg.image_size is not None:
        sizes = {cam: cfg.image_size for cam in cameras}
    else:
        sizes = {cam: (W, H) for cam, (H, W) in scan.cameras.items()}
        odd = {cam: wh for cam, wh in sizes.items() if wh[0] % 2 or wh[1] % 2}
        if odd:
            raise ConvertError(f"recorded image sizes {odd} (WxH) are odd; yuv420p needs even sizes: pass --image-size")
    import av

    encoder = VIDEO_CODECS[cfg.vcodec]
    try:
        av.codec.Codec(encoder, "w")
    except Exception:  # noqa: BLE001 - PyAV raises several types for a missing encoder
        raise ConvertError(
            f"video codec {cfg.vcodec!r} (encoder {encoder}) is not available in this PyAV build; "
            f"valid codecs: {', '.join(VIDEO_CODECS)}"
        ) from None
    conv = _unit_converter(cfg)
    if cfg.root.exists() and not cfg.overwrite:
        raise ConvertError(f"output directory already exists: {cfg.root} (choose another --root or remove it)")

    procs: list = []
    # Overwrite requested: the old dataset is swapped out only once the new one is complete.
    with staged_dir(cfg.root) as tmp:
        try:
            env_by_path = dict(zip((str(p) for p in cfg.inputs), scan.env_names))
            tasks = [_episode_task(ep, cfg, env_by_path.get(str(ep.path), ""), notes) for ep in scan.episodes]
            _write_dataset(tmp, cfg, scan, fps, cameras, sizes, tasks, conv, procs)
        except BaseException:
            # Stop the encoders before the staging directory is removed: a live encoder would
            # otherwise write its next chunk into a directory that is being deleted, leaving it behind.
            for p in procs:
                if p.is_alive():
                    p.terminate()
                p.join(timeout=5)
            raise
    frames = sum(ep.length for ep in scan.episodes)
    uniq_tasks = list(dict.fromkeys(tasks))
    return ExportResult(
        root=cfg.root,
        episodes=len(scan.episodes),
        frames=frames,
        fps=fps,
        duration_s=frames / fps,
        size_bytes=_dir_size(cfg.root),
        wall_s=time.perf_counter() - t0,
        skipped=scan.skipped,
        per_file=scan.per_file,
        tasks=uniq_tasks,
        cameras=cameras,
        notes=notes,
    )


def _write_dataset(tmp, cfg, scan: RecordingScan, fps, cameras, sizes, tasks, conv, procs) -> None:
    import h5py
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    eps = scan.episodes

    # Start one encoder per camera first (before torch/LeRobot are imported here): they are the long pole.
    # fork: starts in milliseconds and needs no `if __name__ == "__main__"` guard in callers;
    # the children use only PyAV, h5py and NumPy, opening their own file handles.
    ctx = mp.get_context("fork")
    out_q = ctx.Queue()
    threads = cfg.encoder_threads or max(1, (os.cpu_count() or 1) // len(cameras))
    opts = codec_options(cfg.vcodec, crf=cfg.crf, gop=cfg.gop, preset=cfg.preset, threads=threads)
    ep_list = [(str(ep.path), ep.demo, ep.length) for ep in eps]
    samples = [sample_indices(ep.length) for ep in eps]
    for cam in cameras:
        job = dict(
            cam=cam, key=video_key(cam), fps=fps, root=str(tmp), size=sizes[cam], encoder=VIDEO_CODECS[cfg.vcodec],
            options=opts, episodes=ep_list, samples=samples, read_chunk=cfg.read_chunk,
            video_files_size_in_mb=cfg.video_files_size_in_mb, chunks_size=CHUNKS_SIZE,
        )
        p = ctx.Process(target=_encode_camera, args=(job, out_q), daemon=True, name=f"armtwin-encode-{cam}")
        p.start()
        procs.append(p)

    from armtwin import _tv_compat

    _tv_compat.declare_missing_ops()
    from lerobot.datasets.compute_stats import aggregate_stats, compute_episode_stats
    from lerobot.datasets.utils import (
        DEFAULT_FEATURES,
        create_empty_dataset_info,
        flatten_dict,
        get_hf_features_from_features,
        update_chunk_file_indices,
        write_info,
        write_stats,
        write_tasks,
    )
    from lerobot.datasets.video_utils import get_video_info

    features = {**build_features(cameras, sizes), **DEFAULT_FEATURES}
    total = sum(ep.length for ep in eps)
    bar = tqdm(total=total * len(cameras), unit="frame", desc="encode", disable=not cfg.progress, smoothing=0.1)
    results: dict[str, list] = {}

    def drain(block: bool) -> None:
        while True:
            try:
                kind, cam, payload = out_q.get(timeout=0.5) if block else out_q.get_nowait()
            except queue.Empty:
                if block:
                    dead = [p.name for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
                    if dead:
                        raise RuntimeError(f"video encoder process died: {', '.join(dead)}")
                return
            if kind == "progress":
                bar.update(payload)
            elif kind == "done":
                results[cam] = payload
            else:
                raise RuntimeError(f"encoding camera {cam!r} failed:\n{payload}")
            if block:
                return

    # Parquet data + stats, episode by episode (state/action are small; images are only sampled).
    task_index = {t: i for i, t in enumerate(dict.fromkeys(tasks))}
    hf_features = get_hf_features_from_features(features)
    schema = hf_features.arrow_schema
    data_limit = cfg.data_files_size_in_mb * 1024 * 1024
    writer = None
    d_chunk, d_file, d_bytes = 0, 0, 0
    ep_meta: list[dict] = []
    ep_stats_all: list[dict] = []
    start = 0
    files: dict[str, h5py.File] = {}
    try:
        for i, ep in enumerate(eps):
            f = files.get(str(ep.path)) or files.setdefault(str(ep.path), h5py.File(ep.path, "r"))
            g = f[f"data/{ep.demo}"]
            T = ep.length
            state = conv.from_radians(g["obs/joint_pos"][()]).astype(np.float32)
            action = conv.from_radians(g["actions"][()]).astype(np.float32)
            for name, arr in (("obs/joint_pos", state), ("actions", action)):
                if not np.all(np.isfinite(arr)):
                    raise ConvertError(f"{ep.path}:/data/{ep.demo}/{name} holds NaN or inf values")
            frame_index = np.arange(T, dtype=np.int64)
            cols = {
                "observation.state": state,
                "action": action,
                "timestamp": (frame_index / fps).astype(np.float32),
                "frame_index": frame_index,
                "episode_index": np.full(T, i, np.int64),
                "index": np.arange(start, start + T, dtype=np.int64),
                "task_index": np.full(T, task_index[tasks[i]], np.int64),
            }
            table = pa.Table.from_arrays(
                [
                    pa.FixedSizeListArray.from_arrays(pa.array(cols[k].reshape(-1)), C.NUM_JOINTS)
                    if cols[k].ndim == 2
                    else pa.array(cols[k])
                    for k in schema.names
                ],
                schema=schema,
            )
            if writer is not None and d_bytes + table.nbytes >= data_limit:
                writer.close()
                writer = None
                d_chunk, d_file = update_chunk_file_indices(d_chunk, d_file, CHUNKS_SIZE)
                d_bytes = 0
            if writer is None:
                path = tmp / f"data/chunk-{d_chunk:03d}/file-{d_file:03d}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(path, schema=schema, compression="snappy", use_dictionary=True)
            writer.write_table(table)
            d_bytes += table.nbytes

            # LeRobot's writer takes stats of the float64 timestamps it buffered, before the float32 cast.
            st = compute_episode_stats({**cols, "timestamp": frame_index / fps}, features)
            ep_stats_all.append(st)
            ep_meta.append(
                {
                    "episode_index": i,
                    "tasks": [tasks[i]],
                    "length": T,
                    "data/chunk_index": d_chunk,
                    "data/file_index": d_file,
                    "dataset_from_index": start,
                    "dataset_to_index": start + T,
                }
            )
            start += T
            drain(block=False)
    finally:
        if writer is not None:
            writer.close()
        for f in files.values():
            f.close()

    while len(results) < len(cameras):
        drain(block=True)
    bar.close()
    for p in procs:
        p.join()

    for i, st in enumerate(ep_stats_all):
        for cam in cameras:
            st[video_key(cam)] = image_stats_from_counts(results[cam]["counts"][i], len(samples[i]))
        # Same key order as LeRobot's writer (feature order), so the episodes parquet schema matches.
        ep_stats_all[i] = {k: st[k] for k in features if k in st}

    # Episodes metadata, same columns and order as LeRobotDatasetMetadata._save_episode_metadata.
    rows = []
    for i, m in enumerate(ep_meta):
        row = dict(m)
        for cam in cameras:
            c, fi, t_from, t_to = results[cam]["segments"][i]
            k = video_key(cam)
            row[f"videos/{k}/chunk_index"] = c
            row[f"videos/{k}/file_index"] = fi
            row[f"videos/{k}/from_timestamp"] = float(t_from)
            row[f"videos/{k}/to_timestamp"] = float(t_to)
        row.update(flatten_dict({"stats": ep_stats_all[i]}))
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        rows.append(row)
    combined = {k: [r[k].tolist() if isinstance(r[k], np.ndarray) else r[k] for r in rows] for k in rows[0]}
    ep_path = tmp / "meta/episodes/chunk-000/file-000.parquet"
    ep_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pydict(combined), ep_path, compression="snappy", use_dictionary=True)

    write_tasks(pd.DataFrame({"task_index": list(task_index.values())}, index=list(task_index)), tmp)
    write_stats(aggregate_stats(ep_stats_all), tmp)
    info = create_empty_dataset_info("v3.0", fps, features, True, C.LEROBOT_ROBOT_TYPE)
    info["total_episodes"] = len(eps)
    info["total_frames"] = total
    info["total_tasks"] = len(task_index)
    info["splits"] = {"train": f"0:{len(eps)}"}
    info["video_files_size_in_mb"] = cfg.video_files_size_in_mb
    info["data_files_size_in_mb"] = cfg.data_files_size_in_mb
    for cam in cameras:
        k = video_key(cam)
        info["features"][k]["info"] = get_video_info(tmp / info["video_path"].format(video_key=k, chunk_index=0, file_index=0))
    write_info(info, tmp)
