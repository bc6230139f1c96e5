"""HDF5 -> LeRobot v3.0: checked with LeRobot 0.4.4's own reader (LeRobotDataset + torchcodec)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from convert_data import write_synthetic_recording  # noqa: E402

from armtwin.assets import so101_constants as C  # noqa: E402
from armtwin.convert.h5io import ConvertError  # noqa: E402
from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot  # noqa: E402
from armtwin.units import UnitConverter  # noqa: E402

LENGTHS = (14, 9, 6, 11)
SUCCESS = (True, True, False, True)
INSTR = ("lift the cube", "lift the red cube", "lift the cube", "lift the cube")


def _lerobot():
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    return write_synthetic_recording(d / "rec.h5", lengths=LENGTHS, success=SUCCESS, instructions=INSTR,
                                     image_size=(64, 80), seed=3)


@pytest.fixture(scope="module")
def converted(recording, tmp_path_factory):
    root = tmp_path_factory.mktemp("out") / "ds"
    res = export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="armtwin/test", root=root, vcodec="h264",
                                             progress=False))
    return res


@pytest.mark.lerobot
def test_loaded_by_lerobot_state_action_boundaries_tasks(recording, converted):
    LeRobotDataset = _lerobot()
    ds = LeRobotDataset("armtwin/test", root=converted.root)
    kept = [i for i, s in enumerate(SUCCESS) if s]
    assert converted.skipped == [(str(recording), "demo_2", converted.skipped[0][2])]
    assert "not successful" in converted.skipped[0][2]
    assert ds.num_episodes == len(kept) and len(ds) == sum(LENGTHS[i] for i in kept)
    assert ds.meta.robot_type == C.LEROBOT_ROBOT_TYPE and ds.fps == 30
    assert ds.meta.features["observation.state"]["names"] == list(C.LEROBOT_MOTOR_KEYS)
    assert ds.meta.features["action"]["names"] == list(C.LEROBOT_MOTOR_KEYS)
    assert set(ds.meta.video_keys) == {"observation.images.wrist", "observation.images.front"}
    conv = UnitConverter()
    start = 0
    with h5py.File(recording) as f:
        for e, i in enumerate(kept):
            g = f[f"data/demo_{i}"]
            T = LENGTHS[i]
            ep = ds.meta.episodes[e]
            assert (ep["dataset_from_index"], ep["dataset_to_index"]) == (start, start + T)
            assert ep["tasks"] == [INSTR[i]]
            want_state = conv.from_radians(g["obs/joint_pos"][()]).astype(np.float32)
            want_action = conv.from_radians(g["actions"][()]).astype(np.float32)
            for t in (0, T // 2, T - 1):
                item = ds[start + t]
                np.testing.assert_array_equal(item["observation.state"].numpy(), want_state[t])
                np.testing.assert_array_equal(item["action"].numpy(), want_action[t])
                assert item["episode_index"].item() == e and item["frame_index"].item() == t
                assert item["task"] == INSTR[i]
                assert item["timestamp"].item() == pytest.approx(t / 30, abs=1e-6)
            start += T
    tasks = ds.meta.tasks
    assert sorted(tasks.index) == sorted(set(INSTR[i] for i in kept))


@pytest.fixture(scope="module")
def mujoco_recording(tmp_path_factory):
    from convert_data import write_mujoco_recording

    return write_mujoco_recording(tmp_path_factory.mktemp("mj") / "mj.h5", lengths=(16, 12), image_size=(240, 320))


@pytest.mark.parametrize("vcodec", ["libsvtav1", "h264"])
@pytest.mark.lerobot
def test_video_frames_psnr(mujoco_recording, tmp_path, vcodec):
    """Every decoded frame (LeRobot's reader, torchcodec) of real MuJoCo renders is >= 35 dB PSNR."""
    res = export_lerobot(LeRobotExportConfig(inputs=[mujoco_recording], repo_id="u/v", root=tmp_path / "ds",
                                             vcodec=vcodec, progress=False))
    ds = _lerobot()("u/v", root=res.root)
    worst = {}
    start = 0
    with h5py.File(mujoco_recording) as f:
        for i, T in enumerate((16, 12)):
            for t in range(T):
                item = ds[start + t]
                for cam in C.CAMERA_NAMES:
                    dec = (item[f"observation.images.{cam}"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
                    src = f[f"data/demo_{i}/obs/images/{cam}"][t]
                    assert dec.shape == src.shape
                    worst[cam] = min(worst.get(cam, np.inf), psnr(dec, src))
            start += T
    assert min(worst.values()) >= 35.0, f"worst frame PSNR per camera: {worst}"
    # Control: the check can tell frames apart (a frame 8 steps away matches clearly worse).
    with h5py.File(mujoco_recording) as f:
        a = (ds[16 + 2]["observation.images.front"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        src = f["data/demo_1/obs/images/front"]
        assert psnr(a, src[10]) < psnr(a, src[2]) - 1


def test_stats_match_data(recording, converted):
    stats = json.loads((converted.root / "meta/stats.json").read_text())
    conv = UnitConverter()
    kept = [i for i, s in enumerate(SUCCESS) if s]
    with h5py.File(recording) as f:
        state = np.concatenate([conv.from_radians(f[f"data/demo_{i}/obs/joint_pos"][()]) for i in kept]).astype(np.float32)
        action = np.concatenate([conv.from_radians(f[f"data/demo_{i}/actions"][()]) for i in kept]).astype(np.float32)
    for key, arr in (("observation.state", state), ("action", action)):
        s = stats[key]
        np.testing.assert_allclose(s["min"], arr.min(0), rtol=1e-6)
        np.testing.assert_allclose(s["max"], arr.max(0), rtol=1e-6)
        np.testing.assert_allclose(s["mean"], arr.astype(np.float64).mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s["std"], arr.astype(np.float64).std(0), rtol=1e-4, atol=1e-6)
        assert s["count"] == [len(arr)]
        for q in ("q01", "q10", "q50", "q90", "q99"):
            assert np.all(np.array(s[q]) >= arr.min(0) - 1e-6) and np.all(np.array(s[q]) <= arr.max(0) + 1e-6)
    for cam in C.CAMERA_NAMES:
        s = stats[f"observation.images.{cam}"]
        assert np.array(s["mean"]).shape == (3, 1, 1)
        assert 0.0 <= np.min(s["min"]) and np.max(s["max"]) <= 1.0
    assert stats["index"]["max"] == [sum(LENGTHS[i] for i in kept) - 1]


def _nested(x) -> np.ndarray:
    """pandas' nested object arrays (list<list<...>> columns) -> a float ndarray."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return np.stack([_nested(v) for v in x])
    return np.asarray(x, dtype=float)


@pytest.mark.lerobot
def test_same_format_as_lerobot_writer(recording, converted, tmp_path):
    """The files match what LeRobotDataset.create/add_frame/save_episode/finalize write for the same frames."""
    import pyarrow.parquet as pq

    LeRobotDataset = _lerobot()
    feats = {k: v for k, v in json.loads((converted.root / "meta/info.json").read_text())["features"].items()
             if k in ("observation.state", "action") or k.startswith("observation.images")}
    for v in feats.values():
        v.pop("info", None)
        v["shape"] = tuple(v["shape"])
    ref = LeRobotDataset.create("armtwin/ref", 30, feats, root=tmp_path / "ref", robot_type=C.LEROBOT_ROBOT_TYPE,
                                vcodec="h264")
    conv = UnitConverter()
    with h5py.File(recording) as f:
        for i, s in enumerate(SUCCESS):
            if not s:
                continue
            g = f[f"data/demo_{i}"]
            for t in range(LENGTHS[i]):
                ref.add_frame({
                    "observation.state": conv.from_radians(g["obs/joint_pos"][t]).astype(np.float32),
                    "action": conv.from_radians(g["actions"][t]).astype(np.float32),
                    **{f"observation.images.{c}": g[f"obs/images/{c}"][t] for c in C.CAMERA_NAMES},
                    "task": INSTR[i],
                })
            ref.save_episode()
    ref.finalize()
    for rel in ("data/chunk-000/file-000.parquet", "meta/episodes/chunk-000/file-000.parquet", "meta/tasks.parquet"):
        a, b = pq.read_table(ref.root / rel), pq.read_table(converted.root / rel)
        assert a.schema.equals(b.schema, check_metadata=False), rel
        if rel.startswith("data"):
            assert a.equals(b), "data parquet differs from LeRobot's"
    ea = pq.read_table(ref.root / "meta/episodes/chunk-000/file-000.parquet").to_pandas()
    eb = pq.read_table(converted.root / "meta/episodes/chunk-000/file-000.parquet").to_pandas()
    for col in ea.columns:
        if col.startswith("stats/observation.images.") and col.endswith("/std"):
            continue  # LeRobot 0.4.4's uint8 std overflows (test_image_stats_match_lerobot_algorithm)
        if col.startswith("stats/") or col.endswith("_timestamp"):
            for x, y in zip(ea[col], eb[col]):
                np.testing.assert_allclose(_nested(x), _nested(y), rtol=1e-6, atol=1e-9, err_msg=col)
        elif col != "tasks":
            assert list(ea[col]) == list(eb[col]), col
    ia = json.loads((ref.root / "meta/info.json").read_text())
    ib = json.loads((converted.root / "meta/info.json").read_text())
    for k in ia:
        if k != "features":
            assert ia[k] == ib[k], k
    assert ia["features"].keys() == ib["features"].keys()
    sa = json.loads((ref.root / "meta/stats.json").read_text())
    sb = json.loads((converted.root / "meta/stats.json").read_text())
    for key in sa:
        for stat in sa[key]:
            if key.startswith("observation.images.") and stat == "std":
                continue
            np.testing.assert_allclose(np.array(sa[key][stat], float), np.array(sb[key][stat], float),
                                       rtol=1e-5, atol=1e-7, err_msg=f"{key}/{stat}")


@pytest.mark.lerobot
def test_dataloader_delta_timestamps(converted):
    import torch

    LeRobotDataset = _lerobot()
    dt = 1 / 30
    ds = LeRobotDataset("armtwin/test", root=converted.root, delta_timestamps={
        "action": [i * dt for i in range(5)], "observation.images.front": [-dt, 0.0], "observation.state": [-dt, 0.0]})
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=0)
    n = 0
    for batch in loader:
        assert batch["action"].shape[1:] == (5, 6)
        assert batch["observation.images.front"].shape[1:] == (2, 3, 64, 80)
        assert torch.isfinite(batch["action"]).all()
        n += len(batch["index"])
    assert n == len(ds)
    last = ds[LENGTHS[0] - 1]  # last frame of episode 0: the chunk is padded, not taken from episode 1
    assert last["action_is_pad"].tolist() == [False, True, True, True, True]
    first = ds[LENGTHS[0]]
    assert first["observation.state_is_pad"].tolist() == [True, False]


@pytest.mark.lerobot
def test_resize_task_override_multiple_inputs_default_codec(tmp_path):
    a = write_synthetic_recording(tmp_path / "a.h5", lengths=(5, 4), image_size=(48, 64), seed=1)
    b = write_synthetic_recording(tmp_path / "b.h5", lengths=(6,), image_size=(48, 64), seed=2,
                                  instructions=["other"], success=[False])
    res = export_lerobot(LeRobotExportConfig(inputs=[a, b], repo_id="u/m", root=tmp_path / "ds", image_size=(32, 24),
                                             task="stack it", episodes="all", progress=False))
    LeRobotDataset = _lerobot()
    ds = LeRobotDataset("u/m", root=res.root)
    assert ds.num_episodes == 3 and len(ds) == 15 and res.skipped == []
    assert ds.meta.info["features"]["observation.images.wrist"]["info"]["video.codec"] == "av1"
    item = ds[14]
    assert item["observation.images.wrist"].shape == (3, 24, 32)
    assert item["task"] == "stack it" and list(ds.meta.tasks.index) == ["stack it"]


@pytest.mark.lerobot
def test_range_m100_100_units(recording, tmp_path):
    res = export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/r", root=tmp_path / "ds", vcodec="h264",
                                             use_degrees=False, progress=False))
    ds = _lerobot()("u/r", root=res.root)
    with h5py.File(recording) as f:
        want = UnitConverter(use_degrees=False).from_radians(f["data/demo_0/actions"][3]).astype(np.float32)
    np.testing.assert_array_equal(ds[3]["action"].numpy(), want)
    actions = np.stack(ds.hf_dataset.with_format("numpy")["action"])
    assert np.all(np.abs(actions[:, :5]) <= 100.0)


def _listing(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _break(path: Path, how: str) -> None:
    with h5py.File(path, "a") as f:
        g = f["data/demo_1"]
        if how == "missing_key":
            del g["actions"]
        elif how == "mismatched_lengths":
            del g["obs/joint_pos"]
            g["obs/joint_pos"] = np.zeros((3, 6))
        elif how == "mismatched_image_lengths":
            del g["obs/images/front"]
            g["obs/images/front"] = np.zeros((2, 64, 80, 3), np.uint8)
        elif how == "nan_actions":
            a = g["actions"][()]
            a[2, 1] = np.nan
            g["actions"][...] = a


@pytest.mark.parametrize(
    "how,match",
    [
        ("missing_key", "missing dataset 'actions'"),
        ("mismatched_lengths", "mismatched lengths"),
        ("mismatched_image_lengths", "obs/images/front has 2"),
        ("corrupt_file", "not a readable HDF5 file"),
        ("truncated_file", "not a readable HDF5 file"),
        ("unknown_codec", "valid codecs: libsvtav1, h264, hevc"),
        ("nan_actions", "NaN"),  # found while writing: the partial dataset must still vanish
        ("missing_file", "input file not found"),
    ],
)
def test_bad_input_leaves_nothing(tmp_path, how, match):
    src = tmp_path / "in" / "rec.h5"
    src.parent.mkdir()
    write_synthetic_recording(src, lengths=(5, 7), image_size=(64, 80))
    vcodec = "h264"
    if how == "corrupt_file":
        src.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(2048))
    elif how == "truncated_file":
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 3])
    elif how == "unknown_codec":
        vcodec = "mpeg2"
    elif how == "missing_file":
        src = tmp_path / "in" / "nope.h5"
    elif how != "none":
        _break(src, how)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ConvertError, match=match):
        export_lerobot(LeRobotExportConfig(inputs=[src], repo_id="u/bad", root=out / "ds", vcodec=vcodec, progress=False))
    assert _listing(out) == []


def test_existing_root_untouched(recording, tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "keep.txt").write_text("x")
    with pytest.raises(ConvertError, match="already exists"):
        export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/e", root=root, vcodec="h264", progress=False))
    assert _listing(tmp_path) == ["ds", "ds/keep.txt"]


def test_cli_prints_summary_and_skips(recording, tmp_path, capsys):
    from armtwin.cli import main

    rc = main(["convert", "lerobot", str(recording), "--repo-id", "u/cli", "--root", str(tmp_path / "ds"),
               "--vcodec", "h264", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "episodes in" in out and "TOTAL" in out
    assert f"{recording}:demo_2: not successful" in out
    rc = main(["convert", "lerobot", str(recording), "--repo-id", "u/cli", "--root", str(tmp_path / "ds2"),
               "--vcodec", "vp9", "--quiet"])
    assert rc == 1 and "valid codecs" in capsys.readouterr().err
    assert not (tmp_path / "ds2").exists()


@pytest.mark.lerobot
def test_recorder_written_file_converts(tmp_path):
    """A file written by armtwin.data.Recorder (the real producer) converts and reads back."""
    from convert_data import joint_trajectory, synthetic_frames

    from armtwin.data import Recorder, RecorderConfig

    path = tmp_path / "teleop.h5"
    lengths = (8, 5)
    with Recorder(RecorderConfig(path=path, flush_every=3, fps=30.0, compression="lzf",
                                 env_args={"env_name": "armtwin/SO101-Lift-v0", "type": "armtwin", "env_kwargs": {}})) as rec:
        for e, T in enumerate(lengths):
            q = joint_trajectory(T + 1, e)
            imgs = {c: synthetic_frames(T, 48, 64, 10 * e + k) for k, c in enumerate(C.CAMERA_NAMES)}
            rec.begin_episode(seed=e, instruction="lift the cube")
            for t in range(T):
                rec.add_step({"joint_pos": q[t], "joint_vel": np.zeros(6), "eef_pos": np.zeros(3),
                              "eef_quat": np.array([1.0, 0, 0, 0]), "instruction": "lift the cube",
                              "images": {c: imgs[c][t] for c in imgs}}, q[t + 1], timestamp=t / 30)
            rec.end_episode(success=True)
    res = export_lerobot(LeRobotExportConfig(inputs=[path], repo_id="u/rec", root=tmp_path / "ds", vcodec="h264",
                                             progress=False))
    ds = _lerobot()("u/rec", root=res.root)
    assert ds.num_episodes == 2 and len(ds) == sum(lengths)
    q = joint_trajectory(lengths[1] + 1, 1)
    np.testing.assert_array_equal(ds[lengths[0] + 2]["action"].numpy(),
                                  UnitConverter().from_radians(q[3]).astype(np.float32))


@pytest.mark.lerobot
def test_image_stats_match_lerobot_algorithm():
    """Counts-based image stats == LeRobot's get_feature_stats on the same sampled pixels (in float64,
    which avoids LeRobot 0.4.4's uint8 overflow in the std); sampling == LeRobot's."""
    from lerobot.datasets import compute_stats as cs

    from armtwin.convert.lerobot_v3 import downsample_hwc, image_stats_from_counts, sample_indices

    for n in (1, 2, 7, 99, 100, 101, 300, 2500):
        assert sample_indices(n) == cs.sample_indices(n)
    rng = np.random.default_rng(0)
    from convert_data import synthetic_frames

    frames = synthetic_frames(12, 480, 640, 4)
    frames[3, :10, :10] = rng.integers(0, 256, (10, 10, 3))
    idx = sample_indices(len(frames))
    imgs = np.stack([downsample_hwc(frames[i]) for i in idx])
    chw = np.stack([cs.auto_downsample_height_width(frames[i].transpose(2, 0, 1)) for i in idx])
    np.testing.assert_array_equal(chw, imgs.transpose(0, 3, 1, 2))
    counts = np.stack([np.bincount(imgs[..., c].reshape(-1), minlength=256) for c in range(3)])
    ours = image_stats_from_counts(counts, len(idx))
    ref = cs.get_feature_stats(chw.astype(np.float64), axis=(0, 2, 3), keepdims=True)
    ref = {k: v if k == "count" else np.squeeze(v / 255.0, axis=0) for k, v in ref.items()}
    assert ours.keys() == ref.keys()
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
    true_std = chw.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64).std(axis=1) / 255
    np.testing.assert_allclose(ours["std"].reshape(3), true_std, rtol=1e-9)


@pytest.mark.lerobot
def test_calibration_file_units(recording, tmp_path):
    """--calibration: values are what LeRobot would report for that calibrated arm; bad file -> clear error."""
    from armtwin.units import Calibration, MotorCalibration

    base = Calibration.default()
    motors = {n: MotorCalibration(id=m.id, drive_mode=m.drive_mode, homing_offset=m.homing_offset,
                                  range_min=m.range_min + 40, range_max=m.range_max - 30)
              for n, m in base.motors.items()}
    calib = Calibration(motors)
    path = tmp_path / "arm.json"
    calib.save(path)
    res = export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/c", root=tmp_path / "ds", vcodec="h264",
                                             calibration=path, progress=False))
    ds = _lerobot()("u/c", root=res.root)
    with h5py.File(recording) as f:
        q = f["data/demo_0/actions"][4]
    want = UnitConverter(calib).from_radians(q).astype(np.float32)
    np.testing.assert_array_equal(ds[4]["action"].numpy(), want)
    assert not np.allclose(want, UnitConverter().from_radians(q).astype(np.float32))
    with pytest.raises(ConvertError, match="calibration file not found"):
        export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/c", root=tmp_path / "ds2", vcodec="h264",
                                           calibration=tmp_path / "missing.json", progress=False))
    assert not (tmp_path / "ds2").exists()


@pytest.mark.lerobot
def test_cameras_with_different_sizes(tmp_path):
    """Each camera keeps its own recorded size (LeRobot features are per camera)."""
    path = write_synthetic_recording(tmp_path / "r.h5", lengths=(5,), image_size=(48, 64))
    with h5py.File(path, "a") as f:
        del f["data/demo_0/obs/images/wrist"]
        f["data/demo_0/obs/images/wrist"] = np.zeros((5, 24, 32, 3), np.uint8) + 90
    res = export_lerobot(LeRobotExportConfig(inputs=[path], repo_id="u/s", root=tmp_path / "ds", vcodec="h264",
                                             progress=False))
    ds = _lerobot()("u/s", root=res.root)
    assert ds[2]["observation.images.wrist"].shape == (3, 24, 32)
    assert ds[2]["observation.images.front"].shape == (3, 48, 64)
    assert tuple(ds.meta.features["observation.images.wrist"]["shape"]) == (24, 32, 3)


@pytest.mark.lerobot
def test_overwrite_replaces_only_when_complete(recording, tmp_path):
    root = tmp_path / "ds"
    export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/o", root=root, vcodec="h264", progress=False))
    bad = tmp_path / "bad.h5"
    write_synthetic_recording(bad, lengths=(4,), image_size=(64, 80))
    _break_nan = h5py.File(bad, "a")
    a = _break_nan["data/demo_0/actions"][()]
    a[1, 0] = np.inf
    _break_nan["data/demo_0/actions"][...] = a
    _break_nan.close()
    with pytest.raises(ConvertError, match="NaN or inf"):
        export_lerobot(LeRobotExportConfig(inputs=[bad], repo_id="u/o", root=root, vcodec="h264", overwrite=True,
                                           progress=False))
    assert _lerobot()("u/o", root=root).num_episodes == 3  # the old dataset is intact
    export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/o", root=root, vcodec="h264", overwrite=True,
                                       task="new task", progress=False))
    assert list(_lerobot()("u/o", root=root).meta.tasks.index) == ["new task"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5", "ds"]


@pytest.mark.lerobot
def test_file_rollover_read_back(recording, tmp_path):
    """Tiny file-size limits: every episode in its own video/data file; LeRobot still reads all of them."""
    res = export_lerobot(LeRobotExportConfig(inputs=[recording], repo_id="u/f", root=tmp_path / "ds", vcodec="h264",
                                             video_files_size_in_mb=0.001, data_files_size_in_mb=0.0001,
                                             progress=False))
    ds = _lerobot()("u/f", root=res.root)
    eps = ds.meta.episodes
    assert [eps[i]["videos/observation.images.front/file_index"] for i in range(3)] == [0, 1, 2]
    assert [eps[i]["data/file_index"] for i in range(3)] == [0, 1, 2]
    assert all(eps[i]["videos/observation.images.front/from_timestamp"] == 0.0 for i in range(3))
    kept = [i for i, s in enumerate(SUCCESS) if s]
    conv = UnitConverter()
    start = 0
    with h5py.File(recording) as f:
        for e, i in enumerate(kept):
            t = LENGTHS[i] - 1
            item = ds[start + t]
            np.testing.assert_array_equal(item["action"].numpy(), conv.from_radians(f[f"data/demo_{i}/actions"][t]).astype(np.float32))
            dec = (item["observation.images.front"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
            assert psnr(dec, f[f"data/demo_{i}/obs/images/front"][t]) > 28  # synthetic frames: see the PSNR test
            start += LENGTHS[i]
