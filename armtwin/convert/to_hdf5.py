"""LeRobot v3.0 dataset (e.g. recorded on the real arm) -> armtwin HDF5 episodes (real to sim).

Each LeRobot episode becomes ``/data/demo_<i>`` written through
``armtwin.data.Recorder`` (so the layout is the recorder's own):
``actions`` and ``obs/joint_pos`` in radians (LeRobot units converted with
``armtwin.units.UnitConverter``), ``obs/joint_vel`` by finite differences,
``obs/eef_pos``/``obs/eef_quat`` and ``datagen_info`` (eef and target poses, gripper action; no object
poses: there is no scene) by forward kinematics of the dataset's arm (its LeRobot ``robot_type``:
``so_follower`` -> SO-101, ``omx_follower`` -> OMX, see :func:`armtwin.data.robot_of`), the camera
frames decoded from the videos (``obs/images/<cam>``), ``timestamps`` from the
dataset and the episode's task as ``instruction``. ``armtwin teleop --leader
replay`` replays ``actions`` on the sim follower.

The file is written beside ``output`` under a temporary name and renamed at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from armtwin.convert.h5io import ConvertError
from armtwin.staging import check_output, staged_file


@dataclass
class HDF5ExportConfig:
    """``armtwin convert hdf5``: ``dataset_root`` (LeRobot v3.0) -> ``output`` (.h5/.hdf5).

    ``use_degrees``/``calibration``: the units the dataset was recorded in (None: the arm's LeRobot
    default, ``C.LEROBOT_USE_DEGREES``: degrees for the SO-101, -100..100 for the OMX; calibration None:
    the arm's ideal or factory calibration). ``images`` False skips decoding the videos.
    """

    dataset_root: Path
    output: Path
    repo_id: str | None = None
    use_degrees: bool | None = None
    calibration: Path | None = None
    images: bool = True
    source: str = "real"
    overwrite: bool = False
    flush_every: int = 64

    def __post_init__(self):
        self.dataset_root = Path(self.dataset_root)
        self.output = Path(self.output)
        if self.output.suffix not in (".h5", ".hdf5"):
            raise ConvertError(f"output must end in .h5 or .hdf5, got {str(self.output)!r}")
        if not (self.dataset_root / "meta/info.json").is_file():
            raise ConvertError(f"{self.dataset_root} is not a LeRobot dataset (no meta/info.json)")
        if self.source not in ("real", "sim"):
            raise ConvertError(f"unknown source {self.source!r}; valid choices: real, sim")
        check_output(self.output, [self.dataset_root, self.calibration], overwrite=self.overwrite, error=ConvertError)


def _decode_episode_frames(video_path: Path, t_from: float, t_to: float, fps: int, n: int, size, *,
                           episode: int | None = None):
    """Yield (n,) frames (H, W, 3) uint8 of one episode from a shared LeRobot video file.

    Frames are picked by presentation time: frame k of the episode is the one at
    ``t_from + k / fps`` (within half a frame), as LeRobot's reader picks them. A file that cannot
    be decoded (truncated, corrupt) or holds too few frames raises ConvertError naming the episode
    and the file.

    The decoder keeps FFmpeg's default slice threading, never frame threading (``thread_type``
    "AUTO"/"FRAME"): an episode ends mid-file, and closing a frame-threaded decoder with frames
    still in flight deadlocks now and then once torch is loaded (PyAV issues #1849/#1861) --
    ``armtwin convert groot`` hung in about a third of runs that way.
    """
    import av

    H, W = size
    half = 0.5 / fps
    where = f"episode {episode}, video {video_path}" if episode is not None else f"video {video_path}"
    k = 0
    try:
        with av.open(str(video_path)) as c:
            if not c.streams.video:
                raise ConvertError(f"{where}: the file holds no video stream")
            st = c.streams.video[0]
            if t_from > half:
                c.seek(int(max(0.0, t_from - half) / st.time_base), stream=st, backward=True, any_frame=False)
            for frame in c.decode(st):
                t = float(frame.pts * st.time_base)
                if t < t_from - half:
                    continue
                if k >= n or t >= t_to - half:
                    break
                img = frame.to_ndarray(format="rgb24")
                if img.shape[:2] != (H, W):
                    img = frame.reformat(width=W, height=H, format="rgb24").to_ndarray()
                yield img
                k += 1
    except av.error.FFmpegError as e:
        raise ConvertError(f"{where}: cannot decode ({e}); the file is truncated or corrupt") from None
    if k != n:
        raise ConvertError(f"{where}: decoded {k} frames between {t_from:.3f}s and {t_to:.3f}s, expected {n} "
                           "(the file is truncated or does not match the dataset's metadata)")


def export_hdf5(cfg: HDF5ExportConfig) -> dict:
    """Write every episode of the LeRobot dataset to ``cfg.output``; returns counts and the path."""
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="armtwin convert hdf5 (reads the LeRobot dataset)")
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from armtwin.assets.models import robot_model
    from armtwin.data import Recorder, RecorderConfig, arm_datagen_row, make_env_args, robot_of
    from armtwin.envs.ik import IK
    from armtwin.units import Calibration, UnitConverter

    repo_id = cfg.repo_id or f"local/{cfg.dataset_root.name}"
    try:
        ds = LeRobotDataset(repo_id, root=cfg.dataset_root)
    except Exception as e:  # noqa: BLE001 - LeRobot raises many types for a bad dataset
        raise ConvertError(f"cannot open LeRobot dataset at {cfg.dataset_root}: {e}") from None
    feats = ds.meta.features
    # The arm is the dataset's robot_type, read the way every reader of the written file will read it.
    env_args = make_env_args("", {}, lerobot_repo_id=ds.repo_id, lerobot_robot_type=ds.meta.robot_type)
    robot = robot_of(env_args)
    RC = robot_model(robot).C
    for key in ("observation.state", "action"):
        if key not in feats:
            raise ConvertError(f"{cfg.dataset_root}: feature {key!r} missing; features: {', '.join(feats)}")
        names = list(feats[key]["names"] or [])
        if names != list(RC.LEROBOT_MOTOR_KEYS):
            raise ConvertError(
                f"{cfg.dataset_root}: {key} names {names} are not the {RC.DISPLAY_NAME}'s {list(RC.LEROBOT_MOTOR_KEYS)}"
            )
    try:
        calib = Calibration.load(cfg.calibration, robot=robot) if cfg.calibration else Calibration.default(robot)
    except ValueError as e:
        raise ConvertError(f"calibration {cfg.calibration}: {e}") from None
    use_degrees = RC.LEROBOT_USE_DEGREES if cfg.use_degrees is None else cfg.use_degrees
    conv = UnitConverter(calib, use_degrees=use_degrees)
    fps = int(ds.meta.fps)
    cams = [k for k in ds.meta.video_keys if k.startswith("observation.images.")] if cfg.images else []
    ik = IK(robot=robot)

    hf = ds.hf_dataset.with_format("numpy")
    state_all = np.asarray(hf["observation.state"], dtype=np.float64)
    action_all = np.asarray(hf["action"], dtype=np.float64)
    ts_all = np.asarray(hf["timestamp"], dtype=np.float64)
    index_all = np.asarray(hf["index"], dtype=np.int64)
    pos_of = {int(ix): i for i, ix in enumerate(index_all)}

    frames_total = 0
    with staged_file(cfg.output, exists=False) as tmp:  # the recorder refuses to touch an existing file
        rec = Recorder(RecorderConfig(path=tmp, flush_every=cfg.flush_every, env_args=env_args, fps=float(fps),
                                      source=cfg.source))
        with rec:
            for ep in ds.meta.episodes:
                a, b = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
                rows = np.array([pos_of[i] for i in range(a, b)])
                q = conv.to_radians(state_all[rows])
                act = conv.to_radians(action_all[rows])
                ts = ts_all[rows]
                T = len(rows)
                qd = np.gradient(q, 1.0 / fps, axis=0) if T > 1 else np.zeros_like(q)
                task = ep["tasks"][0] if len(ep["tasks"]) else ""
                gens = {}
                for key in cams:
                    H, W = feats[key]["shape"][:2]
                    path = ds.root / ds.meta.get_video_file_path(int(ep["episode_index"]), key)
                    gens[key.split(".")[-1]] = _decode_episode_frames(
                        path, float(ep[f"videos/{key}/from_timestamp"]), float(ep[f"videos/{key}/to_timestamp"]),
                        fps, T, (H, W), episode=int(ep["episode_index"]),
                    )
                rec.begin_episode(seed=None, instruction=task, attrs={"lerobot_episode_index": int(ep["episode_index"])})
                for t in range(T):
                    pos, quat = ik.fk(q[t])
                    obs = {"joint_pos": q[t], "joint_vel": qd[t], "eef_pos": pos, "eef_quat": quat}
                    if gens:
                        obs["images"] = {cam: next(g) for cam, g in gens.items()}
                    rec.add_step(
                        obs, act[t], timestamp=float(ts[t]),
                        datagen_info=arm_datagen_row(eef_pose=ik.fk_mat(q[t]), target_eef_pose=ik.fk_mat(act[t]),
                                                     action=act[t]),
                    )
                for g in gens.values():  # exhausting the generator runs its frame-count check
                    for _ in g:
                        pass
                rec.end_episode(success=True)
                frames_total += T
    return {"output": cfg.output, "episodes": len(ds.meta.episodes), "frames": frames_total}
