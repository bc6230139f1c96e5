"""The HDF5 recorder: layout, flushing, crash safety under SIGKILL, resume, inspect."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from armtwin.data import Recorder, RecorderConfig, demo_names, format_summary, load_episode, summarize

ENV_ARGS = {"env_name": "armtwin/SO101-Lift-v0", "type": "armtwin", "env_kwargs": {"image_size": [8, 10]}}


def make_step(ep: int, t: int, n_obj: int = 1, image=(8, 10)):
    """Deterministic fake step content for episode ep, step t (so readers can check every value)."""
    v = ep * 1000 + t
    obs = {
        "joint_pos": np.full(6, v, dtype=np.float64),
        "joint_vel": np.full(6, -v, dtype=np.float32),
        "eef_pos": np.array([v, v + 0.5, v + 0.25]),
        "eef_quat": np.array([1.0, 0, 0, 0]),
        "object_pos": np.full((n_obj, 3), v),
        "object_quat": np.tile([1.0, 0, 0, 0], (n_obj, 1)),
        "instruction": "lift the cube",
        "images": {"wrist": np.full((*image, 3), v % 256, np.uint8), "front": np.full((*image, 3), t % 256, np.uint8)},
    }
    action = np.arange(6, dtype=np.float32) + v
    state = np.full(11, v, dtype=np.float64)
    dg = {
        "eef_pose": np.eye(4) * v,
        "object_poses": {"cube": np.eye(4) + v},
        "subtask_term_signals": {"grasp": t > 3},
        "gripper_action": np.array([0.5]),
    }
    return obs, action, state, dg


def record(rec: Recorder, ep_seed: int, steps: int, success=True, ep_id=None):
    ep_id = ep_seed if ep_id is None else ep_id
    rec.begin_episode(seed=ep_seed, instruction="lift the cube")
    for t in range(steps):
        obs, a, s, dg = make_step(ep_id, t)
        rec.add_step(obs, a, state=s, datagen_info=dg, timestamp=t / 30)
    return rec.end_episode(success)


def check_episode(path, name, ep_id, steps):
    e = load_episode(path, name)
    assert e.num_samples == steps
    t = np.arange(steps)
    v = ep_id * 1000 + t
    np.testing.assert_array_equal(e.actions, np.arange(6)[None] + v[:, None])
    assert e.actions.dtype == np.float64
    np.testing.assert_array_equal(e.obs["joint_pos"][:, 0], v)
    np.testing.assert_array_equal(e.obs["images"]["wrist"][:, 0, 0, 0], (v % 256).astype(np.uint8))
    np.testing.assert_array_equal(e.states[:, 0], v)
    np.testing.assert_array_equal(e.initial_state, e.states[0])
    np.testing.assert_array_equal(e.datagen_info["subtask_term_signals"]["grasp"], (t > 3).astype(np.int8))


def test_layout(tmp_path):
    path = tmp_path / "rec.h5"
    with Recorder(RecorderConfig(path, flush_every=4, env_args=ENV_ARGS, fps=30)) as rec:
        assert record(rec, 7, 10) == "demo_0"
        assert record(rec, 8, 5, success=False) == "demo_1"
        assert rec.num_episodes == 2
    with h5py.File(path, "r") as f:
        data = f["data"]
        assert data.attrs["total"] == 15
        assert json.loads(data.attrs["env_args"]) == ENV_ARGS
        assert data.attrs["fps"] == 30.0
        assert sorted(data.keys()) == ["demo_0", "demo_1"]
        d = data["demo_0"]
        assert d.attrs["num_samples"] == 10 and d.attrs["seed"] == 7 and bool(d.attrs["success"])
        assert not bool(data["demo_1"].attrs["success"])
        assert d.attrs["source"] == "sim" and d.attrs["instruction"] == "lift the cube"
        assert d["actions"].shape == (10, 6) and d["actions"].dtype == np.float64
        assert d["timestamps"].shape == (10,)
        assert d["obs/joint_pos"].shape == (10, 6) and d["obs/joint_vel"].dtype == np.float64
        assert d["obs/eef_quat"].shape == (10, 4)
        assert d["obs/object_pos"].shape == (10, 1, 3)
        assert d["obs/images/wrist"].shape == (10, 8, 10, 3) and d["obs/images/wrist"].dtype == np.uint8
        assert d["states"].shape == (10, 11) and d["initial_state"].shape == (11,)
        assert d["datagen_info/eef_pose"].shape == (10, 4, 4)
        assert d["datagen_info/object_poses/cube"].shape == (10, 4, 4)
        assert d["datagen_info/subtask_term_signals/grasp"].dtype == np.int8
        assert d["actions"].chunks is not None and d["actions"].maxshape[0] is None
        assert len(f["incomplete"]) == 0
    check_episode(path, "demo_0", 7, 10)
    check_episode(path, 1, 8, 5)


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compression(tmp_path, compression):
    path = tmp_path / "rec.h5"
    with Recorder(RecorderConfig(path, compression=compression, flush_every=3)) as rec:
        record(rec, 1, 7)
    with h5py.File(path, "r") as f:
        assert f["data/demo_0/obs/images/front"].compression == compression
        assert f["data/demo_0/actions"].compression == compression
    check_episode(path, 0, 1, 7)


def test_flush_every_writes_to_disk_mid_episode(tmp_path):
    path = tmp_path / "rec.h5"
    snap = tmp_path / "snapshot.h5"
    rec = Recorder(RecorderConfig(path, flush_every=4))
    rec.begin_episode(seed=0)
    for t in range(9):
        obs, a, s, dg = make_step(0, t)
        rec.add_step(obs, a, state=s)
        # The bytes on disk (a copy, read as another process would) hold exactly the flushed rows.
        shutil.copyfile(path, snap)
        with h5py.File(snap, "r") as f:
            g = f["incomplete/demo_0"]
            rows = g["actions"].shape[0] if "actions" in g else 0
            assert rows == (t + 1) // 4 * 4
            assert "demo_0" not in f["data"]
    rec.discard_episode()
    assert record(rec, 3, 2) == "demo_0"  # a discarded episode is re-recorded under the same number
    rec.close()
    assert demo_names(path) == ["demo_0"]
    check_episode(path, 0, 3, 2)


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="compression.*valid choices"):
        RecorderConfig(tmp_path / "a.h5", compression="zstd")
    with pytest.raises(ValueError, match="flush_every"):
        RecorderConfig(tmp_path / "a.h5", flush_every=0)
    with pytest.raises(ValueError, match=r"\.h5"):
        RecorderConfig(tmp_path / "a.txt")
    path = tmp_path / "a.h5"
    with Recorder(RecorderConfig(path, env_args=ENV_ARGS)) as rec:
        record(rec, 0, 3)
        rec.begin_episode()
        obs, a, s, dg = make_step(0, 0)
        rec.add_step(obs, a)
        with pytest.raises(ValueError, match="shape"):
            rec.add_step(obs, np.zeros(5))
        with pytest.raises(ValueError, match="state must be given"):
            rec.add_step(obs, a, state=s)
        rec.discard_episode()
        rec.begin_episode()
        with pytest.raises(ValueError, match="no steps"):
            rec.end_episode(True)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="resume"):
        Recorder(RecorderConfig(path))
    with pytest.raises(ValueError, match="records env"):
        Recorder(RecorderConfig(path, resume=True, env_args={"env_name": "other"}))
    assert path.read_bytes() == before
    with pytest.raises(KeyError, match="demo_0"):
        load_episode(path, 5)


def test_resume_keeps_numbering(tmp_path):
    path = tmp_path / "rec.h5"
    with Recorder(RecorderConfig(path, env_args=ENV_ARGS)) as rec:
        record(rec, 0, 4)
        record(rec, 1, 6)
    with Recorder(RecorderConfig(path, resume=True, env_args=ENV_ARGS)) as rec:
        assert rec.num_episodes == 2
        assert record(rec, 2, 3) == "demo_2"
    assert demo_names(path) == ["demo_0", "demo_1", "demo_2"]
    with h5py.File(path, "r") as f:
        assert f["data"].attrs["total"] == 13
    for i, n in enumerate((4, 6, 3)):
        check_episode(path, i, i, n)


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_recorder import make_step
    from armtwin.data import Recorder, RecorderConfig
    mode = sys.argv[1]
    rec = Recorder(RecorderConfig({path!r}, flush_every=5, resume=True, compression={comp!r}))
    ep = rec.num_episodes
    while True:
        rec.begin_episode(seed=ep)
        n = 12 if mode == "stream" else 3
        for t in range(n):
            obs, a, s, dg = make_step(ep, t, image=(48, 64))
            rec.add_step(obs, a, state=s, datagen_info=dg)
        if mode == "hang" and ep == 3:
            for t in range(n, 13):
                obs, a, s, dg = make_step(ep, t, image=(48, 64))
                rec.add_step(obs, a, state=s, datagen_info=dg)
            print("HANG", flush=True)
            time.sleep(60)
        name = rec.end_episode(success=True)
        print("DONE", name, n, flush=True)
        ep += 1
    """
)


def _child(tmp_path, path, mode, comp=None):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=os.path.dirname(__file__), path=str(path), comp=comp))
    return subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True)


def test_sigkill_mid_episode_keeps_finished_episodes(tmp_path):
    path = tmp_path / "rec.h5"
    p = _child(tmp_path, path, "hang")
    done = []
    for line in p.stdout:
        if line.startswith("HANG"):
            break
        done.append(line.split())
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert [d[1] for d in done] == ["demo_0", "demo_1", "demo_2"]
    for i in range(3):
        check_episode(path, i, i, 3)
    # The interrupted episode kept its flushed head (13 steps added, flushed every 5: 10 on disk).
    s = summarize(path)
    assert s["total"] == 9 and [e["name"] for e in s["episodes"]] == ["demo_0", "demo_1", "demo_2"]
    assert s["incomplete"] == [{"name": "demo_3", "steps": 10}]
    # Resume: the leftover is reported and kept aside, numbering continues.
    with Recorder(RecorderConfig(path, resume=True)) as rec:
        assert rec.recovered == ["/incomplete/crashed_0"]
        assert record(rec, 3, 4) == "demo_3"
    check_episode(path, 3, 3, 4)
    with h5py.File(path, "r") as f:
        assert f["incomplete/crashed_0"].attrs["flushed_steps"] == 10
        np.testing.assert_array_equal(f["incomplete/crashed_0/actions"][:, 0], 3000 + np.arange(10))


@pytest.mark.parametrize("comp", [None, "gzip"])
def test_sigkill_at_random_times(tmp_path, comp):
    """Kill a writer that streams episodes back to back at arbitrary moments; every reported episode survives."""
    path = tmp_path / "rec.h5"
    rng = np.random.default_rng(0)
    finished = []
    for _ in range(4):
        p = _child(tmp_path, path, "stream", comp)
        first = p.stdout.readline().split()  # at least one episode finished in this run
        time.sleep(float(rng.uniform(0.0, 0.3)))
        p.send_signal(signal.SIGKILL)
        rest = [ln.split() for ln in p.stdout.read().splitlines()]
        p.wait()
        finished += [first] + [r for r in rest if r and r[0] == "DONE"]
        names = demo_names(path)
        # Each episode the child reported as done is in the file with all its data.
        for d in finished:
            assert d[1] in names
            check_episode(path, d[1], int(d[1][5:]), int(d[2]))
    assert len(finished) >= 4


def test_inspect_command(tmp_path, capsys):
    from armtwin.cli import main

    path = tmp_path / "rec.h5"
    with Recorder(RecorderConfig(path, env_args=ENV_ARGS)) as rec:
        record(rec, 0, 4)
        record(rec, 1, 6, success=False)
    s = summarize(path)
    assert [e["num_samples"] for e in s["episodes"]] == [4, 6]
    assert s["keys"]["obs/images/wrist"] == ((4, 8, 10, 3), "uint8")
    text = format_summary(s)
    assert "episodes: 2" in text and "success: 1/2" in text
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "demo_1" in out and "obs/images/front" in out and "armtwin/SO101-Lift-v0" in out
    assert main(["inspect", str(tmp_path / "missing.h5")]) != 0
    assert main(["inspect", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 10


def test_resume_drops_an_unreadable_interrupted_episode(tmp_path):
    """A kill during a flush can leave the in-progress episode's metadata half-written; resume copes."""
    path = tmp_path / "rec.h5"
    rec = Recorder(RecorderConfig(path, flush_every=2))
    record(rec, 0, 3)
    rec.begin_episode(seed=1)
    for t in range(4):
        obs, a, s, dg = make_step(1, t)
        rec.add_step(obs, a, state=s)
    addr = h5py.h5o.get_info(rec._episode.group["obs"].id).addr
    rec._file.close()  # as if killed: the episode stays in /incomplete
    rec._file = None
    with open(path, "r+b") as f:  # garble the object header of /incomplete/demo_1/obs
        f.seek(addr)
        f.write(b"\xde\xad\xbe\xef" * 8)
    with Recorder(RecorderConfig(path, resume=True)) as rec2:
        assert rec2.recovered == []
        assert record(rec2, 1, 5) == "demo_1"
    check_episode(path, 0, 0, 3)
    check_episode(path, 1, 1, 5)
    assert summarize(path)["incomplete"] == []
    with h5py.File(path, "r") as f:
        assert "damaged_incomplete_0" in f  # set aside, not deleted


def test_end_episode_keep_steps_trims_the_tail_and_adds_attrs(tmp_path):
    """``end_episode(keep_steps=, attrs=)``: the rows after ``keep_steps`` are gone from every dataset
    (flushed or buffered), the file's total counts the kept rows, and the end-time attributes are stored."""
    path = tmp_path / "rec.h5"
    with Recorder(RecorderConfig(path, env_args=ENV_ARGS, flush_every=4)) as rec:
        rec.begin_episode(seed=5, instruction="lift the cube")
        for t in range(11):  # 8 rows flushed, 3 buffered
            obs, a, s, dg = make_step(5, t)
            rec.add_step(obs, a, state=s, datagen_info=dg, timestamp=t / 30)
        with pytest.raises(ValueError, match="keep_steps must be 1..11"):
            rec.end_episode(False, keep_steps=0)
        assert rec.end_episode(False, attrs={"end_reason": "stale_input"}, keep_steps=6) == "demo_0"
        record(rec, 6, 3)
    check_episode(path, "demo_0", 5, 6)
    with h5py.File(path, "r") as f:
        g = f["data/demo_0"]
        assert g.attrs["end_reason"] == "stale_input" and g.attrs["num_samples"] == 6
        rows = {}
        g.visititems(lambda n, o: rows.update({n: o.shape[0]}) if isinstance(o, h5py.Dataset) else None)
        del rows["initial_state"]  # (S,): one state, not one row per step
        assert len(rows) > 10 and set(rows.values()) == {6}, rows
        assert f["data"].attrs["total"] == 6 + 3
        assert "end_reason" not in f["data/demo_1"].attrs
