"""`armtwin mimic generate` on Lift: success, novelty, determinism, pool/Ray merge, resume, bad input.

One module-scoped set of 5 scripted source demos; every run asks for a few demos at 32x32 so the
whole file stays within its ~3 minute budget (Ray start included).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from armtwin.cli import main as cli_main
from armtwin.mimic.annotate import MimicDataError, annotate_file
from armtwin.poses import pose_distance
from armtwin.mimic.runner import GenerateConfig, run_generate

LIFT = "armtwin/SO101-Lift-v0"
NUM = 4
IMG = (32, 32)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from armtwin.mimic.sources import record_expert_demos

    d = tmp_path_factory.mktemp("mimic")
    raw, ann = d / "src.h5", d / "ann.h5"
    record_expert_demos(LIFT, raw, num=5, seed=100)
    annotate_file(str(raw), str(ann))
    return ann


def generate(src, out, **kw):
    kw.setdefault("num", NUM)
    kw.setdefault("image_size", IMG)
    kw.setdefault("progress", False)
    return run_generate(GenerateConfig(source=str(src), env_id=LIFT, out=str(out), **kw))


def read_all(path):
    """{demo: {dataset path: array, "@attr": value}} of a whole file, for exact comparisons."""
    out = {}
    with h5py.File(path) as f:
        for name in f["data"]:
            d = {}
            f["data"][name].visititems(lambda k, v: d.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
            for k, v in f["data"][name].attrs.items():
                d["@" + k] = v
            out[name] = d
    return out


def assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert a[name].keys() == b[name].keys(), name
        for k in a[name]:
            assert np.array_equal(np.asarray(a[name][k]), np.asarray(b[name][k])), (name, k)


@pytest.fixture(scope="module")
def reference(sources, tmp_path_factory):
    """The inline (1 worker) run every other backend must reproduce exactly."""
    out = tmp_path_factory.mktemp("ref") / "gen.h5"
    stats = generate(sources, out, seed=7)
    return out, stats


def test_generated_lift_demos_succeed_in_new_scenes(sources, reference):
    out, stats = reference
    assert stats["kept"] == NUM and stats["successes"] == NUM
    assert stats["attempts"] >= NUM
    assert sum(stats["failures"].values()) == stats["attempts"] - stats["successes"]
    assert json.loads(Path(str(out) + ".stats.json").read_text())["trial_indices"] == stats["trial_indices"]
    assert not Path(str(out) + ".shards").exists()

    with h5py.File(sources) as f:
        src_cube = np.stack([f["data"][n]["datagen_info/object_poses/cube"][0] for n in f["data"]])
    from armtwin import envs

    env = envs.make(LIFT, image_size=IMG)
    env.reset(seed=0)
    u = env.unwrapped
    with h5py.File(out) as f:
        data = f["data"]
        assert json.loads(data.attrs["env_args"])["env_name"] == LIFT
        names = sorted(data, key=lambda n: int(n[5:]))
        assert names == [f"demo_{i}" for i in range(NUM)]
        trial_idx = [int(data[n].attrs["trial_index"]) for n in names]
        assert trial_idx == sorted(trial_idx) == stats["trial_indices"]
        for n in names:
            g = data[n]
            assert g.attrs["mimic_generated"] and g.attrs["success"]
            assert len(g.attrs["src_demo_inds"]) == 2 and all(0 <= i < 5 for i in g.attrs["src_demo_inds"])
            assert g.attrs["mimic_seed"] == 7
            # the new scene differs from every source scene
            cube0 = g["datagen_info/object_poses/cube"][0]
            # (position in metres + yaw in radians: D0 jitters both, by up to 1.5 cm and 0.15 rad)
            assert np.min(pose_distance(src_cube, cube0[None])) > 1e-3
            # and the task is solved in the recording: the cube ends lifted
            assert g["obs/object_pos"][-1, 0, 2] > g["obs/object_pos"][0, 0, 2] + 0.03
            # bit-exact replay: the recorded actions from the initial state give the recorded states,
            # and the stored images are the renders of those states
            states, actions = g["states"][()], g["actions"][()]
            assert np.array_equal(states[0], g["initial_state"][()])
            u.set_state(states[0])
            for t in range(len(actions) - 1):
                env.step(actions[t])
                if t % 25 == 0 or t == len(actions) - 2:
                    assert np.array_equal(u.get_state(), states[t + 1]), (n, t)
            for t in (0, len(actions) // 2, len(actions) - 1):
                u.set_state(states[t])
                imgs = u.render_images()
                for cam in ("wrist", "front"):
                    assert np.array_equal(imgs[cam], g[f"obs/images/{cam}"][t])
            assert g["obs/images/front"].shape == (len(actions), *IMG, 3)
    env.close()


def test_same_seed_same_demos_other_seed_others(sources, reference, tmp_path):
    out, _ = reference
    again = tmp_path / "again.h5"
    generate(sources, again, seed=7)
    assert_same(read_all(out), read_all(again))
    other = tmp_path / "other.h5"
    generate(sources, other, seed=8, image_size=None)
    a, b = read_all(out), read_all(other)
    assert not np.array_equal(a["demo_0"]["actions"], b["demo_0"]["actions"])


def test_pool_of_two_workers_gives_the_same_merged_file(sources, reference, tmp_path):
    out, stats = reference
    pooled = tmp_path / "pool.h5"
    st = generate(sources, pooled, seed=7, workers=2, batch_size=1)
    assert st["backend"] == "pool"
    assert st["trial_indices"] == stats["trial_indices"]
    assert_same(read_all(out), read_all(pooled))


def test_local_ray_cluster_gives_the_same_merged_file(sources, reference, tmp_path):
    """A local Ray instance started here; `armtwin mimic generate --ray-address` connects to it from
    another process (as it would to a cluster head) and must produce the reference file exactly."""
    ray = pytest.importorskip("ray")
    out, stats = reference
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}})
    try:
        address = ray.get_runtime_context().gcs_address
        res = tmp_path / "ray.h5"
        p = subprocess.run(
            [sys.executable, "-m", "armtwin", "mimic", "generate", str(sources), "--env", LIFT, "--num", str(NUM),
             "--out", str(res), "--seed", "7", "--image-size", f"{IMG[0]}x{IMG[1]}", "--batch-size", "1",
             "--ray-address", address, "--no-progress"],
            capture_output=True, text=True, timeout=150, env=dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl")),
        )
    finally:
        ray.shutdown()
    assert p.returncode == 0, p.stderr[-2000:]
    st = json.loads(Path(str(res) + ".stats.json").read_text())
    assert st["backend"] == "ray"
    assert st["trial_indices"] == stats["trial_indices"]
    assert_same(read_all(out), read_all(res))


def test_duplicate_shards_are_merged_once(sources, reference, tmp_path):
    out, stats = reference
    res = tmp_path / "dup.h5"
    generate(sources, res, seed=7, keep_shards=True)
    sdir = Path(str(res) + ".shards")
    chunks = sorted(sdir.glob("chunk_*.h5"))
    # a retried task (Ray) or a copied shard must not duplicate episodes
    shutil.copy(chunks[0], sdir / "chunk_999999999.h5")
    st = generate(sources, res, seed=7)
    assert st["trials_executed_this_run"] == 0 and st["trials_resumed"] >= NUM
    assert_same(read_all(out), read_all(res))


def test_killed_run_resumes_without_redoing_kept_demos(sources, tmp_path):
    num = 8
    ref = tmp_path / "ref.h5"
    ref_stats = generate(sources, ref, seed=11, num=num, image_size=None)
    out = tmp_path / "killed.h5"
    cmd = [sys.executable, "-m", "armtwin", "mimic", "generate", str(sources), "--env", LIFT, "--num", str(num),
           "--out", str(out), "--seed", "11", "--image-size", "none", "--batch-size", "1", "--no-progress"]
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sdir = Path(str(out) + ".shards")
    deadline = time.time() + 60
    while time.time() < deadline and len(list(sdir.glob("chunk_*.h5"))) < 3 and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, f"run finished before it could be killed: {proc.stderr.read().decode()[-500:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    done_before = len(list(sdir.glob("chunk_*.h5")))
    assert done_before >= 3

    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    st = json.loads(Path(str(out) + ".stats.json").read_text())
    assert st["trials_resumed"] >= done_before
    # nothing that was done is done again: this run executed only the remaining trials
    assert st["trials_resumed"] + st["trials_executed_this_run"] == ref_stats["attempts"]
    assert st["trial_indices"] == ref_stats["trial_indices"]
    assert_same(read_all(ref), read_all(out))


def test_failures_are_classified_kept_and_bounded(sources, tmp_path):
    """Sources whose gripper never closes: every trial is a missed grasp; --keep-failed writes them,
    --max-failures stops the run, and the CLI exits 1 for falling short of --num."""
    from armtwin.assets import so101_constants as C

    never_closes = tmp_path / "open.h5"
    shutil.copy(sources, never_closes)
    with h5py.File(never_closes, "r+") as f:
        for name in f["data"]:
            f["data"][name]["datagen_info/gripper_action"][...] = C.GRIPPER_OPEN
    out = tmp_path / "fail.h5"
    st = generate(never_closes, out, num=2, max_failures=2, keep_failed=True, image_size=None)
    assert st["stopped_by"] == "max_failures"
    assert (st["attempts"], st["successes"], st["kept"]) == (2, 0, 0)
    assert st["failures"] == {"ik_unreachable": 0, "grasp_missed": 2, "drop": 0, "timeout": 0, "unstable": 0}
    with h5py.File(out) as f:
        assert len(f["data"]) == 0
    with h5py.File(tmp_path / "fail_failed.h5") as f:
        assert sorted(f["data"]) == ["demo_0", "demo_1"]
        for g in f["data"].values():
            assert not g.attrs["success"] and g.attrs["failure_reason"] == "grasp_missed"
            assert g["datagen_info/subtask_term_signals/grasp"][()].max() == 0
    # an unreachable tolerance with abort_on_ik_failure: every trial stops at its first target
    from armtwin.envs import get_task_spec

    spec = get_task_spec(LIFT).replace(ik_pos_tolerance=1e-9, ik_pos_precision=1e-9, abort_on_ik_failure=True)
    st = generate(sources, tmp_path / "ik.h5", num=1, max_failures=3, spec=spec, image_size=None)
    assert st["failures"]["ik_unreachable"] == 3 and st["successes"] == 0 and st["mean_steps"] == 0
    rc = cli_main(["mimic", "generate", str(never_closes), "--env", LIFT, "--num", "1", "--max-failures", "1",
                   "--out", str(tmp_path / "cli.h5"), "--image-size", "none", "--no-progress"])
    assert rc == 1


def test_malformed_annotated_file_is_a_clear_error(sources, tmp_path, capsys):
    # not annotated
    bad = tmp_path / "bad.h5"
    shutil.copy(sources, bad)
    with h5py.File(bad, "r+") as f:
        del f["data/demo_2"].attrs["subtask_boundaries"]
    with pytest.raises(MimicDataError, match=r"demo_2: no 'subtask_boundaries' attr; annotate"):
        generate(bad, tmp_path / "o.h5")
    # a missing datagen_info dataset
    shutil.copy(sources, bad)
    with h5py.File(bad, "r+") as f:
        del f["data/demo_1/datagen_info/target_eef_pose"]
    with pytest.raises(MimicDataError, match="demo_1: missing dataset.*target_eef_pose"):
        generate(bad, tmp_path / "o.h5")
    # boundaries that do not tile the demo
    shutil.copy(sources, bad)
    with h5py.File(bad, "r+") as f:
        f["data/demo_0"].attrs["subtask_boundaries"] = np.array([[0, 50], [40, 90]])
    with pytest.raises(MimicDataError, match="must tile"):
        generate(bad, tmp_path / "o.h5")
    # not HDF5 at all, through the CLI: exit 2 and a message naming the file
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    rc = cli_main(["mimic", "generate", str(junk), "--env", LIFT, "--num", "1", "--out", str(tmp_path / "o.h5")])
    assert rc == 2
    assert "junk.h5: not a readable HDF5 file" in capsys.readouterr().err
    assert not (tmp_path / "o.h5").exists()
    # wrong env id lists the valid ones
    rc = cli_main(["mimic", "generate", str(sources), "--env", "armtwin/SO101-Nope-v0", "--num", "1",
                   "--out", str(tmp_path / "o.h5")])
    assert rc == 2 and "valid env ids" in capsys.readouterr().err


def test_workers_do_not_import_torch(sources):
    code = (
        "import sys\n"
        "from armtwin.mimic.runner import GenerateConfig, build_job\n"
        "from armtwin.mimic.generate import run_batch\n"
        f"job = build_job(GenerateConfig(source={str(sources)!r}, env_id={LIFT!r}, num=1, out='x.h5', image_size=(16, 16)))\n"
        "r = run_batch(job, [0])\n"
        "assert 'torch' not in sys.modules and 'lerobot' not in sys.modules\n"
        "print('ok', r[0].num_steps)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith("ok")
