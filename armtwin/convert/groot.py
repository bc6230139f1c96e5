"""LeRobot v3.0 dataset -> the per-episode layout GR00T N1.5 fine-tuning reads.

GR00T N1.5 (Isaac-GR00T ``LeRobotSingleDataset``) reads LeRobot v2.1-style datasets: one parquet
and one H.264 MP4 per camera per episode, JSON-lines metadata, plus ``meta/modality.json`` that
slices the flat state/action vectors into named groups. For the SO-101 the groups are
``single_arm`` = indices 0..5 (the five arm joints) and ``gripper`` = 5..6, the videos are
``front``/``wrist`` (original keys ``observation.images.<cam>``) and the language annotation is
``human.task_description`` taken from ``task_index``. Paths follow the templates written into
``meta/info.json`` (GR00T formats those): ``data/chunk-000/episode_XXXXXX.parquet`` and
``videos/<video key>/chunk-000/episode_XXXXXX.mp4``.

State/action values are copied unchanged (LeRobot units, float32). Videos are re-encoded to
H.264 yuv420p from the dataset's shared files. Built in a temporary directory beside the output
and renamed at the end.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.convert.h5io import ConvertError
from armtwin.staging import check_output, staged_dir

CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.mp4"
#: GR00T index groups of the SO-101's 6-vector: five arm joints, then the gripper.
GROUPS = {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}}


@dataclass
class GrootExportConfig:
    """``armtwin convert groot``: ``dataset_root`` (LeRobot v3.0) -> ``output`` directory (created).

    ``crf``/``preset``: libx264 settings of the per-episode videos.
    """

    dataset_root: Path
    output: Path
    repo_id: str | None = None
    overwrite: bool = False
    crf: int = 20
    preset: str = "superfast"
    gop: int = 2

    def __post_init__(self):
        self.dataset_root = Path(self.dataset_root)
        self.output = Path(self.output)
        if not (self.dataset_root / "meta/info.json").is_file():
            raise ConvertError(f"{self.dataset_root} is not a LeRobot dataset (no meta/info.json)")
        check_output(self.output, [self.dataset_root], overwrite=self.overwrite, kind="dir", error=ConvertError)


def modality_json(video_keys: list[str]) -> dict:
    """GR00T ``meta/modality.json`` for the SO-101 with the given ``observation.images.<cam>`` keys."""
    return {
        "state": {k: dict(v) for k, v in GROUPS.items()},
        "action": {k: dict(v) for k, v in GROUPS.items()},
        "video": {k.split(".")[-1]: {"original_key": k} for k in video_keys},
        "annotation": {"human.task_description": {"original_key": "task_index"}},
    }


def _encode_episode(src: Path, dst: Path, t_from: float, t_to: float, fps: int, n: int, size, cfg, episode) -> None:
    import av

    from armtwin.convert.to_hdf5 import _decode_episode_frames

    H, W = size
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        st = out.add_stream("libx264", rate=fps, options={"crf": str(cfg.crf), "preset": cfg.preset, "g": str(cfg.gop)})
        st.width, st.height, st.pix_fmt = W, H, "yuv420p"
        st.time_base = Fraction(1, fps)
        for k, img in enumerate(_decode_episode_frames(src, t_from, t_to, fps, n, (H, W), episode=episode)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            for p in st.encode(frame):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def export_groot(cfg: GrootExportConfig) -> dict:
    """Write the GR00T layout of ``cfg.dataset_root`` to ``cfg.output``; returns counts and keys."""
    import av
    import pyarrow as pa
    import pyarrow.parquet as pq

    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="armtwin convert groot (reads the LeRobot dataset)")
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    # PyAV's logging stays off (its default): routing FFmpeg's messages to Python makes codec threads
    # take the GIL, another way to deadlock a decoder that is being closed (PyAV issues #751, #909).
    av.logging.set_level(None)
    repo_id = cfg.repo_id or f"local/{cfg.dataset_root.name}"
    try:
        ds = LeRobotDataset(repo_id, root=cfg.dataset_root)
    except Exception as e:  # noqa: BLE001 - LeRobot raises many types for a bad dataset
        raise ConvertError(f"cannot open LeRobot dataset at {cfg.dataset_root}: {e}") from None
    meta = ds.meta
    for key in ("observation.state", "action"):
        if key not in meta.features or tuple(meta.features[key]["shape"]) != (C.NUM_JOINTS,):
            raise ConvertError(f"{cfg.dataset_root}: GR00T SO-101 layout needs a (6,) {key!r} feature")
    fps = int(meta.fps)
    video_keys = list(meta.video_keys)
    table = ds.hf_dataset.with_format("arrow")[:]
    cols = ["observation.state", "action", "timestamp", "frame_index", "episode_index", "index", "task_index"]
    table = table.select(cols)
    index_col = table.column("index").to_numpy()

    with staged_dir(cfg.output) as tmp:
        episodes_jsonl, jobs = [], []
        for ep in meta.episodes:
            e = int(ep["episode_index"])
            a, b = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
            rows = np.nonzero((index_col >= a) & (index_col < b))[0]
            if len(rows) != b - a:
                raise ConvertError(f"episode {e}: {len(rows)} data rows, expected {b - a}")
            chunk = e // CHUNKS_SIZE
            path = tmp / DATA_PATH.format(episode_chunk=chunk, episode_index=e)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.take(pa.array(rows)), path)
            episodes_jsonl.append({"episode_index": e, "tasks": list(ep["tasks"]), "length": b - a})
            for key in video_keys:
                H, W = meta.features[key]["shape"][:2]
                src = ds.root / meta.get_video_file_path(e, key)
                dst = tmp / VIDEO_PATH.format(video_key=key, episode_chunk=chunk, episode_index=e)
                jobs.append((src, dst, float(ep[f"videos/{key}/from_timestamp"]), float(ep[f"videos/{key}/to_timestamp"]),
                             fps, b - a, (H, W), cfg, e))
        # PyAV releases the GIL while decoding/encoding: threads keep both cores busy.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for f in [pool.submit(_encode_episode, *j) for j in jobs]:
                f.result()

        (tmp / "meta").mkdir(exist_ok=True)
        _write_jsonl(tmp / "meta/episodes.jsonl", episodes_jsonl)
        _write_jsonl(tmp / "meta/tasks.jsonl", [{"task_index": int(i), "task": t} for t, i in
                                                zip(meta.tasks.index, meta.tasks["task_index"])])
        (tmp / "meta/modality.json").write_text(json.dumps(modality_json(video_keys), indent=4))
        features = json.loads(json.dumps(meta.features))
        for key in video_keys:
            info = features[key].setdefault("info", {})
            info.update({"video.codec": "h264", "video.pix_fmt": "yuv420p", "video.fps": fps})
        n_ep = len(episodes_jsonl)
        info = {
            "codebase_version": "v2.1",
            "robot_type": meta.robot_type,
            "total_episodes": n_ep,
            "total_frames": int(meta.total_frames),
            "total_tasks": int(len(meta.tasks)),
            "total_videos": n_ep * len(video_keys),
            "total_chunks": (n_ep - 1) // CHUNKS_SIZE + 1 if n_ep else 0,
            "chunks_size": CHUNKS_SIZE,
            "fps": fps,
            "splits": {"train": f"0:{n_ep}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": {k: v for k, v in features.items()},
        }
        (tmp / "meta/info.json").write_text(json.dumps(info, indent=4))
        stats = json.loads((cfg.dataset_root / "meta/stats.json").read_text())
        (tmp / "meta/stats.json").write_text(json.dumps({k: stats[k] for k in ("observation.state", "action")}, indent=4))
    return {"output": cfg.output, "episodes": n_ep, "frames": int(meta.total_frames), "video_keys": video_keys}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
