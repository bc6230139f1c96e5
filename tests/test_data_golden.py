"""armtwin.data owns the recording format: a file written before it existed still reads, validates and
resumes; today's writer writes the same content; and no other module opens recordings with h5py."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from armtwin.data import (
    Recorder, RecorderConfig, RecordingError, check_demo, datagen_row, load_episode, open_recording,
    scan_recordings, sort_demo_names, summarize, write_subset,
)

GOLDEN = Path(__file__).parent / "golden" / "recording_v0.h5"
ROOT = Path(__file__).resolve().parents[1]


def _regen():
    spec = importlib.util.spec_from_file_location("regen_recording", GOLDEN.with_name("regen_recording.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["regen_recording"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_golden_reads_with_todays_reader():
    regen = _regen()
    with open_recording(GOLDEN) as rec:
        assert rec.demo_names == ["demo_0", "demo_1"]
        assert rec.env_args == regen.ENV_ARGS
        assert rec.env_id == "armtwin/SO101-PickPlace-v0"
        assert rec.fps == 30.0 and rec.total == sum(regen.T)
        assert rec.incomplete() == [{"name": "demo_2", "steps": 2}]
        for k, n in enumerate(regen.T):
            view = rec.demo(k)
            assert check_demo(view) == (n, {"front": (4, 5), "wrist": (4, 5)})
            assert view.attrs["seed"] == 100 + k and view.success == (k == 0)
    for k, n in enumerate(regen.T):
        ep = load_episode(GOLDEN, k)
        want = list(regen.steps(k, n))
        np.testing.assert_array_equal(ep.actions, np.stack([w[1] for w in want]))
        np.testing.assert_array_equal(ep.obs["joint_pos"], np.stack([w[0]["joint_pos"] for w in want]))
        np.testing.assert_array_equal(ep.obs["images"]["front"], np.stack([w[0]["images"]["front"] for w in want]))
        np.testing.assert_array_equal(ep.states, np.stack([w[2] for w in want]))
        np.testing.assert_array_equal(ep.initial_state, want[0][2])
        np.testing.assert_array_equal(ep.datagen_info["subtask_term_signals"]["grasp"],
                                      [w[3]["subtask_term_signals"]["grasp"] for w in want])
        assert ep.datagen_info["subtask_term_signals"]["grasp"].dtype == np.int8
    assert list(load_episode(GOLDEN, 1).attrs["src_demo_inds"]) == [0, 1]
    scan = scan_recordings([GOLDEN])
    assert [e.demo for e in scan.episodes] == ["demo_0", "demo_1"] and scan.fps == 30.0
    assert summarize(GOLDEN)["incomplete"] == [{"name": "demo_2", "steps": 2}]


def test_golden_resumes(tmp_path):
    path = tmp_path / "old.h5"
    shutil.copy(GOLDEN, path)
    before = load_episode(path, 0)
    regen = _regen()
    with Recorder(RecorderConfig(path, resume=True, env_args=regen.ENV_ARGS)) as rec:
        assert rec.recovered == ["/incomplete/crashed_0"]
        assert rec.next_demo_name == "demo_2"
        rec.begin_episode(seed=7)
        for obs, a, s, dg, ts in regen.steps(9, 3):
            rec.add_step(obs, a, state=s, datagen_info=dg, timestamp=ts)
        assert rec.end_episode(success=True) == "demo_2"
    after = load_episode(path, 0)
    np.testing.assert_array_equal(before.actions, after.actions)
    with open_recording(path) as r:
        assert r.demo_names == ["demo_0", "demo_1", "demo_2"] and r.total == sum(regen.T) + 3


def _tree(path: Path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in obj.attrs.items()
                     if k != "armtwin_version"}
            out[name] = (obj[()].tobytes(), obj.dtype.str, obj.shape, attrs) if isinstance(obj, h5py.Dataset) \
                else attrs
        f.visititems(visit)
        out["/"] = {k: v for k, v in f["data"].attrs.items() if k != "armtwin_version"}
    return out


def test_todays_writer_writes_the_golden_content(tmp_path):
    """The regen script run with today's writer gives the same datasets, dtypes and attributes."""
    fresh = _regen().main(tmp_path / "fresh.h5")
    assert _tree(fresh) == _tree(GOLDEN)


def test_add_episode_equals_step_by_step(tmp_path):
    regen = _regen()
    rows = list(regen.steps(3, 5))
    a, b = tmp_path / "steps.h5", tmp_path / "whole.h5"
    with Recorder(RecorderConfig(a, env_args=regen.ENV_ARGS)) as rec:
        rec.begin_episode(seed=1, instruction="x")
        for obs, act, s, dg, ts in rows:
            rec.add_step(obs, act, state=s, datagen_info=dg, timestamp=ts)
        rec.end_episode(success=True)

    def stack(trees):
        first = trees[0]
        return {k: stack([t[k] for t in trees]) if isinstance(v, dict) else np.stack([np.asarray(t[k]) for t in trees])
                for k, v in first.items() if not isinstance(v, str)}

    episode = {"actions": np.stack([r[1] for r in rows]), "timestamps": np.array([r[4] for r in rows]),
               "obs": stack([r[0] for r in rows]), "states": np.stack([r[2] for r in rows]),
               "datagen_info": stack([r[3] for r in rows])}
    with Recorder(RecorderConfig(b, env_args=regen.ENV_ARGS)) as rec:
        assert rec.add_episode(episode, success=True, seed=1, instruction="x") == "demo_0"
        with pytest.raises(ValueError, match="T=5 rows"):
            rec.add_episode({**episode, "states": episode["states"][:4]}, success=True)
        assert rec.num_episodes == 1
    assert _tree(a) == _tree(b)


def test_subset_renumbers_and_never_touches_inputs(tmp_path):
    src = tmp_path / "in.h5"
    shutil.copy(GOLDEN, src)
    raw = src.read_bytes()
    out = write_subset(tmp_path / "out.h5", [(src, "demo_1"), (src, "demo_0")], like=src,
                       demo_attrs={"demo_1": {"note": "first"}}, data_attrs={"filtered": True})
    assert src.read_bytes() == raw
    with open_recording(out) as rec:
        assert rec.demo_names == ["demo_0", "demo_1"]
        assert rec.demo(0).attrs["note"] == "first" and rec.demo(0).num_samples == 4
        assert rec.total == 10 and rec.attrs["filtered"]
    with pytest.raises(RecordingError, match="no demo 'demo_9'"):
        write_subset(tmp_path / "bad.h5", [(src, "demo_9")], like=src)
    assert not (tmp_path / "bad.h5").exists() and not list(tmp_path.glob(".bad*"))


def test_reader_errors_name_the_file(tmp_path):
    with pytest.raises(RecordingError, match="not found"):
        open_recording(tmp_path / "nope.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(RecordingError, match="junk.h5: not a readable HDF5 file"):
        open_recording(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_group("stuff")
    with pytest.raises(RecordingError, match="no /data group"):
        open_recording(tmp_path / "other.h5")
    with pytest.raises(RecordingError, match="is a directory"):
        open_recording(tmp_path)
    with pytest.raises(KeyError, match="episodes: demo_0, demo_1"):
        load_episode(GOLDEN, 5)


def test_demo_order_and_datagen_row():
    assert sort_demo_names(["demo_10", "demo_2", "mask", "demo_1"]) == ["demo_1", "demo_2", "demo_10"]
    row = datagen_row({"eef_pose": np.eye(4, dtype=np.float32), "object_poses": {"cube": np.eye(4)},
                       "subtask_term_signals": {"grasp": True}},
                      target_eef_pose=np.eye(4), action=np.arange(6.0))
    assert row["gripper_action"].tolist() == [5.0] and row["eef_pose"].dtype == np.float64
    assert row["subtask_term_signals"]["grasp"].dtype == np.int8


def test_only_armtwin_data_opens_h5py():
    """One owner: outside armtwin/data no module of the package imports h5py."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "armtwin").rglob("*.py")
                 if "data" not in p.relative_to(ROOT / "armtwin").parts[:1]
                 and re.search(r"^\s*(import h5py|from h5py)", p.read_text(), re.M)]
    assert offenders == []
