"""HDF5 recordings -> LeRobot v3.0 dataset, written directly in the format LeRobot 0.4.4 writes.

Why not ``LeRobotDataset.add_frame``: that path writes every camera frame as a
PNG, reads it back and encodes each episode to its own MP4, then re-muxes the
episode into the shared file. Here each camera stream is encoded once, in its
own process, straight from the HDF5 chunks with PyAV into the shared
``file-XXX.mp4`` (bounded memory: ``read_chunk`` frames at a time), while the
main process writes the parquet data and computes the statistics the way
LeRobot does. The files themselves are written by :mod:`armtwin.convert.lerobot_format`
from the format's specification: LeRobot need not be installed to convert. The
reference for correctness is LeRobot's ``LeRobotDataset`` reader (see
tests/test_convert_lerobot.py).

Stages of one export (:func:`_write_dataset`): plan (features, tasks, stats
samples), start the encoders (:mod:`armtwin.convert.lerobot_video`), write the
data parquet while they run, then the metadata once every camera is done. Only :func:`_joint_arrays` and
:func:`_camera_frames` read the HDF5 recordings.

The dataset is assembled in a temporary directory beside ``root`` and renamed
into place only when complete; any error removes the temporary directory.

Size: over 400 lines because the export's config, plan and write stages stay together so one export
reads top to bottom; the on-disk format and the video encoder are modules of their own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.convert import lerobot_format as fmt
from armtwin.convert.h5io import ConvertError, EpisodeRef, RecordingScan, order_cameras, scan_recordings
from armtwin.convert.lerobot_format import ENV_STATE_KEY
from armtwin.convert.lerobot_format import (  # noqa: F401 - also importable from here
    CHUNKS_SIZE,
    DATA_FILES_SIZE_IN_MB,
    VIDEO_FILES_SIZE_IN_MB,
    downsample_hwc,
    estimate_num_samples,
    image_stats_from_counts,
    sample_indices,
)
from armtwin.convert.lerobot_video import (  # noqa: F401 - also importable from here
    DEFAULT_CRF,
    DEFAULT_GOP,
    DEFAULT_SVTAV1_PRESET,
    DEFAULT_X264_PRESET,
    VIDEO_CODECS,
    check_preset,
    check_vcodec,
    codec_options,
    encode_camera,
)
from armtwin.staging import check_output, staged_dir


def video_key(cam: str) -> str:
    """LeRobot feature key of a camera: ``observation.images.<cam>``."""
    return f"observation.images.{cam}"


#: Largest video side ``--image-size`` takes, pixels (4K; the sim renders at most 2048).
MAX_VIDEO_SIDE = 4096


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """"WxH" -> (W, H) ints (both even, as yuv420p needs); None passes through."""
    if text is None:
        return None
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ConvertError(f"bad image size {text!r}; expected WxH, e.g. 640x480") from None
    if not (2 <= w <= MAX_VIDEO_SIDE and 2 <= h <= MAX_VIDEO_SIDE) or w % 2 or h % 2:
        raise ConvertError(f"bad image size {text!r}: width and height must be even (yuv420p) and in "
                           f"2..{MAX_VIDEO_SIDE} pixels")
    return w, h


@dataclass
class LeRobotExportConfig:
    """``armtwin convert lerobot``: HDF5 recordings -> one LeRobot v3.0 dataset at ``root``.

    ``fps`` None takes the recordings' fps (must be an integer rate); ``image_size`` is (W, H)
    or None to keep the recorded size; ``episodes`` "success" skips failed demos; ``task``
    overrides every episode's instruction; ``use_degrees``/``calibration`` choose LeRobot's units
    (see ``armtwin.units``; ``use_degrees`` None: the robot's LeRobot default, ``C.LEROBOT_USE_DEGREES``).
    The robot (its ``robot_type``, feature names, motor ids) is the recordings' env id's
    (:meth:`armtwin.envs.registry.TaskEntry.robot`; a recording of another env name is an SO-101's). ``encoder_threads`` None splits the machine's cores between the
    camera encoders. ``environment_state`` also writes ``observation.environment_state``: the task
    objects' centre positions ``(3 * n_objects,) float32``, metres, world frame, flattened from each
    step's ``obs/object_pos`` ``(n_objects, 3)`` (what :func:`armtwin.policy.features.environment_state`
    computes from a live env observation); with it a dataset may have no cameras (a state-only policy).
    ``cameras``: which recorded cameras become videos (None: all; ``()``: none, which needs
    ``environment_state``).
    """

    inputs: tuple[Path, ...]
    repo_id: str
    root: Path
    fps: int | None = None
    vcodec: str = "libsvtav1"
    image_size: tuple[int, int] | None = None
    episodes: str = "success"
    task: str | None = None
    use_degrees: bool | None = None
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
    environment_state: bool = False
    cameras: tuple[str, ...] | None = None

    def __post_init__(self):
        self.inputs = tuple(Path(p) for p in ([self.inputs] if isinstance(self.inputs, (str, Path)) else self.inputs))
        self.root = Path(self.root)
        if not self.inputs:
            raise ConvertError("no input files given")
        try:
            check_vcodec(self.vcodec)  # the name, and that this PyAV build has the encoder
            self.preset = check_preset(self.vcodec, self.preset)
        except ValueError as e:
            raise ConvertError(str(e)) from None
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
        if self.cameras is not None:
            self.cameras = tuple(self.cameras)
            if not self.cameras and not self.environment_state:
                raise ConvertError("a dataset without cameras needs --environment-state (else it holds only joints)")
        if self.crf is None:
            self.crf = DEFAULT_CRF[self.vcodec]
        if not 0 <= int(self.crf) <= 63:
            raise ConvertError(f"crf must be in 0..63, got {self.crf}")
        check_output(self.root, (*self.inputs, self.calibration), overwrite=self.overwrite, kind="dir", what="--root", error=ConvertError)


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


# --- reading the recordings (through armtwin.data, the format's owner) ---------------------------


def _camera_frames(files: dict, path: str, demo: str, cam: str):
    """The (T, H, W, 3) uint8 frames of ``cam`` in ``demo``, lazy (``read_direct``-able).

    ``files`` caches open :class:`armtwin.data.Recording` objects by path; the caller closes them.
    """
    from armtwin.data import open_recording

    rec = files.get(path) or files.setdefault(path, open_recording(path))
    return rec.demo(demo).dataset(f"obs/images/{cam}")


def _joint_arrays(episodes: list[EpisodeRef], *, environment_state: bool = False):
    """Yield (episode, joint_pos (T, 6) rad, actions (T, 6) rad, env_state) for each episode, in order.

    env_state: ``(T, 3 * n_objects) float32`` object positions (metres, world frame) when
    ``environment_state``, else None.
    """
    from armtwin.data import open_recording

    files: dict = {}
    try:
        for ep in episodes:
            rec = files.get(str(ep.path)) or files.setdefault(str(ep.path), open_recording(ep.path))
            view = rec.demo(ep.demo)
            env = None
            if environment_state:
                if "obs/object_pos" not in view:
                    raise ConvertError(f"{ep.path}:/data/{ep.demo} has no obs/object_pos (the task objects' "
                                       "positions): --environment-state needs recordings made in the twin")
                pos = np.asarray(view["obs/object_pos"], dtype=np.float32)
                env = pos.reshape(len(pos), -1)
            yield ep, view["obs/joint_pos"], view["actions"], env
    finally:
        for rec in files.values():
            rec.close()


# --- main entry ---------------------------------------------------------------------------------


def build_features(cameras: list[str], sizes: dict[str, tuple[int, int]], *, environment_state: int = 0,
                   robot=C) -> dict:
    """LeRobot feature dict for the robot's state/action (``robot.LEROBOT_MOTOR_KEYS``; ``robot``: its
    constants module, default the SO-101's) and video cameras.

    ``sizes``: camera -> (W, H) of its video. ``environment_state``: its size ``3 * n_objects``
    (0: no ``observation.environment_state`` feature).
    """
    names = list(robot.LEROBOT_MOTOR_KEYS)
    feats = {
        "observation.state": {"dtype": "float32", "shape": (len(names),), "names": names},
        "action": {"dtype": "float32", "shape": (len(names),), "names": names},
    }
    if environment_state:
        feats[ENV_STATE_KEY] = {"dtype": "float32", "shape": (int(environment_state),),
                                "names": _env_state_names(environment_state)}
    for cam in cameras:
        W, H = sizes[cam]
        feats[video_key(cam)] = {"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]}
    return feats


def _env_state_names(size: int) -> list[str]:
    """``object0.x, object0.y, object0.z, object1.x, ...`` for a ``(size,)`` environment state."""
    return [f"object{i // 3}.{'xyz'[i % 3]}" for i in range(int(size))]


def _env_state_size(scan: RecordingScan) -> int:
    """``3 * n_objects`` of the recordings' ``obs/object_pos``; ConvertError if missing or if they differ."""
    from armtwin.data import open_recording

    sizes = {}
    for ep in scan.episodes:
        with open_recording(ep.path) as rec:
            view = rec.demo(ep.demo)
            if "obs/object_pos" not in view:
                raise ConvertError(f"{ep.path}:/data/{ep.demo} has no obs/object_pos (the task objects' positions): "
                                   "--environment-state needs recordings made in the twin")
            shape = view.dataset("obs/object_pos").shape
        sizes.setdefault(int(np.prod(shape[1:])), f"{ep.path}:{ep.demo}")
    if len(sizes) > 1:
        raise ConvertError(f"the recordings' object counts differ (environment state sizes {sizes}); "
                           "--environment-state needs one task")
    return next(iter(sizes))


def _episode_task(ep: EpisodeRef, cfg: LeRobotExportConfig, env_name: str, notes: list[str]) -> str:
    if cfg.task is not None:
        return cfg.task
    if ep.instruction.strip():
        return ep.instruction
    task = env_name or "so101 task"
    notes.append(f"{ep.path}:{ep.demo} has no instruction; task set to {task!r}")
    return task


def _robot(scan: RecordingScan) -> str:
    """The arm the recordings are of: their env ids' robot (ConvertError when they mix arms)."""
    robots = set(scan.robots) or {"so101"}  # each file's arm, from its whole env_args (armtwin.data.robot_of)
    if len(robots) > 1:
        raise ConvertError(f"the recordings are of different arms ({', '.join(sorted(robots))}): "
                           "one LeRobot dataset holds one robot_type")
    return robots.pop()


def _unit_converter(cfg: LeRobotExportConfig, robot: str):
    from armtwin.assets.models import robot_model
    from armtwin.units import Calibration, UnitConverter

    try:
        if cfg.calibration is not None:
            calib = Calibration.load(cfg.calibration, robot=robot)
        else:
            calib = Calibration.default(robot)
    except (FileNotFoundError, ValueError) as e:
        raise ConvertError(str(e)) from None
    degrees = robot_model(robot).C.LEROBOT_USE_DEGREES if cfg.use_degrees is None else cfg.use_degrees
    return UnitConverter(calib, use_degrees=degrees)


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
    if cfg.cameras is not None:
        unknown = sorted(set(cfg.cameras) - set(cameras))
        if unknown:
            raise ConvertError(f"--cameras names {unknown}, which the recordings lack; recorded: {', '.join(cameras) or 'none'}")
        cameras = [c for c in cameras if c in cfg.cameras]
    env_size = _env_state_size(scan) if cfg.environment_state else 0
    if not cameras and not env_size:
        raise ConvertError("the recordings have no camera images (obs/images/<cam>); LeRobot SO-101 datasets need "
                           "video, or pass --environment-state for a dataset of joint and object states only")
    if cfg.image_size is not None:
        sizes = {cam: cfg.image_size for cam in cameras}
    else:
        sizes = {cam: (W, H) for cam, (H, W) in scan.cameras.items() if cam in cameras}
        odd = {cam: wh for cam, wh in sizes.items() if wh[0] % 2 or wh[1] % 2}
        if odd:
            raise ConvertError(f"recorded image sizes {odd} (WxH) are odd; yuv420p needs even sizes: pass --image-size")
    conv = _unit_converter(cfg, _robot(scan))
    check_output(cfg.root, (*cfg.inputs, cfg.calibration), overwrite=cfg.overwrite, kind="dir", what="--root", error=ConvertError)

    procs: list = []
    # Overwrite requested: the old dataset is swapped out only once the new one is complete.
    with staged_dir(cfg.root) as tmp:
        try:
            env_by_path = dict(zip((str(p) for p in cfg.inputs), scan.env_names))
            tasks = [_episode_task(ep, cfg, env_by_path.get(str(ep.path), ""), notes) for ep in scan.episodes]
            _write_dataset(tmp, cfg, scan, fps, cameras, sizes, tasks, conv, procs, env_size=env_size)
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


@dataclass
class _Plan:
    """Everything decided before a file is written: features, tasks and the frames sampled for stats."""

    fps: int
    cameras: list[str]
    sizes: dict[str, tuple[int, int]]
    episodes: list[EpisodeRef]
    tasks: list[str]  # per episode
    task_index: dict[str, int]  # unique tasks in first-seen order -> index
    features: dict  # LeRobot features incl. the per-frame bookkeeping columns
    samples: list[list[int]]  # per episode: frame indices in its image stats
    robot: object = C  # the arm's constants module (robot_type, motor names)

    @property
    def total_frames(self) -> int:
        return sum(ep.length for ep in self.episodes)


def _plan(scan: RecordingScan, fps, cameras, sizes, tasks, env_size: int = 0, *, robot=C) -> _Plan:
    eps = scan.episodes
    return _Plan(
        fps=fps, cameras=cameras, sizes=sizes, episodes=eps, tasks=tasks, robot=robot,
        task_index={t: i for i, t in enumerate(dict.fromkeys(tasks))},
        features={**build_features(cameras, sizes, environment_state=env_size, robot=robot), **fmt.DEFAULT_FEATURES},
        samples=[sample_indices(ep.length) for ep in eps],
    )


class _Encoders:
    """One encoder process per camera and the queue they report on; :meth:`drain` collects."""

    def __init__(self, plan: _Plan, cfg: LeRobotExportConfig, root: Path, procs: list):
        from tqdm import tqdm

        # fork: starts in milliseconds and needs no `if __name__ == "__main__"` guard in callers;
        # the children use only PyAV, armtwin.data and NumPy, opening their own file handles.
        ctx = mp.get_context("fork")
        self.queue = ctx.Queue()
        self.procs = procs
        self.results: dict[str, dict] = {}
        self.cameras = plan.cameras
        threads = cfg.encoder_threads or max(1, (os.cpu_count() or 1) // max(1, len(plan.cameras)))
        opts = codec_options(cfg.vcodec, crf=cfg.crf, gop=cfg.gop, preset=cfg.preset, threads=threads)
        ep_list = [(str(ep.path), ep.demo, ep.length) for ep in plan.episodes]
        for cam in plan.cameras:
            job = dict(
                cam=cam, key=video_key(cam), open_frames=_camera_frames, fps=plan.fps, root=str(root), size=plan.sizes[cam],
                encoder=VIDEO_CODECS[cfg.vcodec], options=opts, episodes=ep_list, samples=plan.samples,
                read_chunk=cfg.read_chunk, video_files_size_in_mb=cfg.video_files_size_in_mb, chunks_size=CHUNKS_SIZE,
            )
            p = ctx.Process(target=encode_camera, args=(job, self.queue), daemon=True, name=f"armtwin-encode-{cam}")
            p.start()
            procs.append(p)
        self.bar = tqdm(total=plan.total_frames * len(plan.cameras), unit="frame", desc="encode",
                        disable=not cfg.progress, smoothing=0.1)

    def drain(self, block: bool) -> None:
        """Handle queued messages; with ``block``, wait for one (raising if an encoder died)."""
        while True:
            try:
                kind, cam, payload = self.queue.get(timeout=0.5) if block else self.queue.get_nowait()
            except queue.Empty:
                if block:
                    dead = [p.name for p in self.procs if not p.is_alive() and p.exitcode not in (0, None)]
                    if dead:
                        raise RuntimeError(f"video encoder process died: {', '.join(dead)}")
                return
            if kind == "progress":
                self.bar.update(payload)
            elif kind == "done":
                self.results[cam] = payload
            else:
                raise RuntimeError(f"encoding camera {cam!r} failed:\n{payload}")
            if block:
                return

    def wait(self) -> dict[str, dict]:
        """Block until every camera is done; camera -> {"segments": [...], "counts": [...]}."""
        while len(self.results) < len(self.cameras):
            self.drain(block=True)
        self.bar.close()
        for p in self.procs:
            p.join()
        return self.results


def _write_dataset(tmp, cfg, scan: RecordingScan, fps, cameras, sizes, tasks, conv, procs, *, env_size=0) -> None:
    """Plan, encode (in the background), write the data parquet, then the metadata."""
    plan = _plan(scan, fps, cameras, sizes, tasks, env_size, robot=conv.C)
    # The encoders start first: they are the long pole.
    encoders = _Encoders(plan, cfg, tmp, procs)
    ep_meta, ep_stats = _write_data(tmp, cfg, plan, conv, on_episode=lambda: encoders.drain(block=False))
    _write_meta(tmp, cfg, plan, ep_meta, ep_stats, encoders.wait())


def _episode_columns(plan: _Plan, i: int, start: int, state: np.ndarray, action: np.ndarray,
                     env_state: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-frame columns of episode ``i`` whose first frame has global index ``start``."""
    T = len(state)
    frame_index = np.arange(T, dtype=np.int64)
    return {
        "observation.state": state,
        **({} if env_state is None else {ENV_STATE_KEY: env_state}),
        "action": action,
        "timestamp": (frame_index / plan.fps).astype(np.float32),
        "frame_index": frame_index,
        "episode_index": np.full(T, i, np.int64),
        "index": np.arange(start, start + T, dtype=np.int64),
        "task_index": np.full(T, plan.task_index[plan.tasks[i]], np.int64),
    }


def _write_data(tmp: Path, cfg, plan: _Plan, conv, *, on_episode) -> tuple[list[dict], list[dict]]:
    """Write ``data/chunk-XXX/file-XXX.parquet`` (rolling over at ``cfg.data_files_size_in_mb``).

    Returns per episode its metadata row (offsets, data file) and the stats of its data columns.
    Calls ``on_episode()`` after each episode (the encoders' progress is drained there).
    """
    import pyarrow.parquet as pq

    schema = fmt.data_schema(plan.features)
    data_limit = cfg.data_files_size_in_mb * 1024 * 1024
    writer = None
    chunk, file, nbytes = 0, 0, 0
    ep_meta: list[dict] = []
    ep_stats: list[dict] = []
    start = 0
    try:
        env_on = ENV_STATE_KEY in plan.features
        for i, (ep, q, a, env) in enumerate(_joint_arrays(plan.episodes, environment_state=env_on)):
            state = conv.from_radians(q).astype(np.float32)
            action = conv.from_radians(a).astype(np.float32)
            checked = (("obs/joint_pos", state), ("actions", action)) + ((("obs/object_pos", env),) if env_on else ())
            for name, arr in checked:
                if not np.all(np.isfinite(arr)):
                    raise ConvertError(f"{ep.path}:/data/{ep.demo}/{name} holds NaN or inf values")
            cols = _episode_columns(plan, i, start, state, action, env)
            table = fmt.data_table(cols, schema)
            if writer is not None and nbytes + table.nbytes >= data_limit:
                writer.close()
                writer = None
                chunk, file = fmt.next_chunk_file(chunk, file)
                nbytes = 0
            if writer is None:
                path = tmp / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file)
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(path, schema=schema, compression="snappy", use_dictionary=True)
            writer.write_table(table)
            nbytes += table.nbytes
            # LeRobot's writer takes stats of the float64 timestamps it buffered, before the float32 cast.
            stat_cols = {**cols, "timestamp": cols["frame_index"] / plan.fps}
            ep_stats.append({k: fmt.vector_stats(v) for k, v in stat_cols.items()})
            T = ep.length
            ep_meta.append({
                "episode_index": i, "tasks": [plan.tasks[i]], "length": T,
                "data/chunk_index": chunk, "data/file_index": file,
                "dataset_from_index": start, "dataset_to_index": start + T,
            })
            start += T
            on_episode()
    finally:
        if writer is not None:
            writer.close()
    return ep_meta, ep_stats


def _write_meta(tmp: Path, cfg, plan: _Plan, ep_meta: list[dict], ep_stats: list[dict], videos: dict[str, dict]) -> None:
    """Write ``meta/``: episodes parquet (offsets, video segments, stats), tasks, stats.json, info.json.

    ``videos``: camera -> the encoder's result (per episode: its segment and pixel counts).
    """
    stats_all = []
    for i, st in enumerate(ep_stats):
        st = dict(st)
        for cam in plan.cameras:
            st[video_key(cam)] = image_stats_from_counts(videos[cam]["counts"][i], len(plan.samples[i]))
        # Same key order as LeRobot's writer (feature order), so the episodes parquet schema matches.
        stats_all.append({k: st[k] for k in plan.features if k in st})

    # Episodes metadata, same columns and order as LeRobot's writer.
    rows = []
    for i, m in enumerate(ep_meta):
        row = dict(m)
        for cam in plan.cameras:
            c, fi, t_from, t_to = videos[cam]["segments"][i]
            k = video_key(cam)
            row[f"videos/{k}/chunk_index"] = c
            row[f"videos/{k}/file_index"] = fi
            row[f"videos/{k}/from_timestamp"] = float(t_from)
            row[f"videos/{k}/to_timestamp"] = float(t_to)
        row.update(fmt.flatten({"stats": stats_all[i]}))
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        rows.append(row)
    fmt.write_episodes(rows, tmp)
    fmt.write_tasks(list(plan.task_index), tmp)
    fmt.write_stats(fmt.aggregate_stats(stats_all), tmp)

    features = {k: dict(ft) for k, ft in plan.features.items()}
    for cam in plan.cameras:
        k = video_key(cam)
        features[k]["info"] = fmt.video_info(tmp / fmt.VIDEO_PATH.format(video_key=k, chunk_index=0, file_index=0))
    info = fmt.info_dict(
        fps=plan.fps, features=features, robot_type=plan.robot.LEROBOT_ROBOT_TYPE, total_episodes=len(plan.episodes),
        total_frames=plan.total_frames, total_tasks=len(plan.task_index),
        data_files_size_in_mb=cfg.data_files_size_in_mb, video_files_size_in_mb=cfg.video_files_size_in_mb,
    )
    fmt.write_info(info, tmp)
