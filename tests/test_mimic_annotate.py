"""Subtask annotation (`armtwin mimic annotate`) on scripted demos and on small hand-written files."""

import json

import h5py
import numpy as np
import pytest

from armtwin.cli import main as cli_main
from armtwin.mimic.annotate import (
    MimicDataError,
    annotate_file,
    auto_boundaries,
    first_rise,
    load_sources,
    parse_boundaries_arg,
)
from armtwin.envs import get_task_spec
from mimic_data import write_layout_file

LIFT = "armtwin/SO101-Lift-v0"
SANDWICH = "armtwin/SO101-Sandwich-v0"


def test_first_rise_convention():
    s = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    assert first_rise(s, 0) == 2
    assert first_rise(s, 3) == 6  # a rise at or after the start of the subtask
    assert first_rise(np.array([1, 1, 0, 1]), 0) == 3  # on at frame 0 is not a rise
    assert first_rise(np.array([1, 1, 1]), 0) is None
    spec = get_task_spec(LIFT)
    # MimicGen: the subtask ends just after the first frame where the signal is on
    assert auto_boundaries({"grasp": s}, spec, 8) == [(0, 3), (3, 8)]
    with pytest.raises(MimicDataError, match="never rises"):
        auto_boundaries({"grasp": np.zeros(8)}, spec, 8)
    with pytest.raises(MimicDataError, match="not recorded"):
        auto_boundaries({"lift": s}, spec, 8)


def test_annotate_reports_demos_whose_signal_never_fires(tmp_path):
    src, out = tmp_path / "in.h5", tmp_path / "out.h5"
    write_layout_file(src, {
        "demo_0": {"grasp": [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]},
        "demo_1": {"grasp": [0] * 10},  # never fires: reported, not guessed
        "demo_2": {"grasp": [1] * 10},  # on from the start, never rises
        "demo_10": {"grasp": [0, 1, 1, 1, 1, 1, 1, 1]},
    })
    report = annotate_file(str(src), str(out))
    assert report.boundaries == {"demo_0": [(0, 4), (4, 10)], "demo_10": [(0, 2), (2, 8)]}
    assert set(report.skipped) == {"demo_1", "demo_2"}
    assert "never rises" in report.skipped["demo_1"] and "first frame" in report.skipped["demo_2"]
    with h5py.File(out) as f:
        assert sorted(f["data"]) == ["demo_0", "demo_10"]
        assert f["data/demo_0"].attrs["subtask_boundaries"].tolist() == [[0, 4], [4, 10]]
        assert json.loads(f["data/demo_0"].attrs["subtask_objects"]) == ["cube", "cube"]
        meta = json.loads(f["data"].attrs["mimic_annotation"])
        assert meta["method"] == "auto" and set(meta["skipped"]) == {"demo_1", "demo_2"}
        assert f["data"].attrs["total"] == 18
    # nothing annotatable: a clear error and no output file
    bad = tmp_path / "bad.h5"
    write_layout_file(bad, {"demo_0": {"grasp": [0] * 5}})
    with pytest.raises(MimicDataError, match="no demo could be annotated"):
        annotate_file(str(bad), str(tmp_path / "bad_out.h5"))
    assert not (tmp_path / "bad_out.h5").exists()


def test_manual_boundaries(tmp_path):
    src, out = tmp_path / "in.h5", tmp_path / "out.h5"
    write_layout_file(src, {"demo_0": {"grasp": [0] * 10}, "demo_1": {"grasp": [0] * 12}})
    assert parse_boundaries_arg("demo_0:4; demo_1:7,12") == {"demo_0": [4], "demo_1": [7, 12]}
    with pytest.raises(ValueError, match="expected 'demo_<i>:<end>"):
        parse_boundaries_arg("demo_0=4")
    report = annotate_file(str(src), str(out), boundaries={"demo_0": [4], "demo_1": [7, 12]})
    assert report.boundaries == {"demo_0": [(0, 4), (4, 10)], "demo_1": [(0, 7), (7, 12)]}
    report = annotate_file(str(src), str(tmp_path / "o2.h5"), boundaries={"demo_0": [11], "demo_1": [7]})
    assert "must be > 0" in report.skipped["demo_0"] or "<= 10" in report.skipped["demo_0"]
    with pytest.raises(MimicDataError, match="not in the file"):
        annotate_file(str(src), str(tmp_path / "o3.h5"), boundaries={"demo_7": [3]})
    # through the CLI
    assert cli_main(["mimic", "annotate", str(src), str(tmp_path / "o4.h5"), "--boundaries", "demo_0:5;demo_1:6"]) == 0
    with h5py.File(tmp_path / "o4.h5") as f:
        assert f["data/demo_1"].attrs["subtask_boundaries"].tolist() == [[0, 6], [6, 12]]


@pytest.fixture(scope="module")
def scripted_lift(tmp_path_factory):
    from armtwin.mimic.sources import record_expert_demos

    d = tmp_path_factory.mktemp("annot")
    path = d / "lift.h5"
    record_expert_demos(LIFT, path, num=3, seed=0)
    return path


def test_auto_annotation_of_scripted_demos_finds_the_grasp(scripted_lift, tmp_path):
    """The boundary is one past the first frame where the jaws really hold the cube, found here
    independently by restoring every saved state into the env and asking it."""
    from armtwin import envs

    out = tmp_path / "ann.h5"
    assert cli_main(["mimic", "annotate", str(scripted_lift), str(out), "--auto"]) == 0
    env = envs.make(LIFT, image_size=None)
    env.reset(seed=0)
    u = env.unwrapped
    with h5py.File(out) as f:
        for name in ("demo_0", "demo_1", "demo_2"):
            g = f["data"][name]
            held = []
            for s in g["states"][()]:
                u.set_state(s)
                held.append(u.is_grasped("cube"))
            held = np.array(held)
            t = int(np.flatnonzero(held)[0])
            assert not held[:t].any()
            b = g.attrs["subtask_boundaries"].tolist()
            T = int(g.attrs["num_samples"])
            assert b == [[0, t + 1], [t + 1, T]], name
            # the gripper is closing when the grasp starts
            assert g["actions"][t, 5] < g["actions"][0, 5]
    env.close()
    srcs = load_sources(str(out), get_task_spec(LIFT))
    assert [s.name for s in srcs] == ["demo_0", "demo_1", "demo_2"]
    assert srcs[0].object_poses["cube"].shape == (srcs[0].num_samples, 4, 4)


def test_sandwich_annotation_records_each_demos_ingredient(tmp_path):
    from armtwin import envs
    from armtwin.mimic.sources import record_expert_demos

    src, out = tmp_path / "s.h5", tmp_path / "a.h5"
    record_expert_demos(SANDWICH, src, num=2, seed=3)
    annotate_file(str(src), str(out))
    env = envs.make(SANDWICH, image_size=None)
    env.reset(seed=0)
    with h5py.File(out) as f:
        for name in ("demo_0", "demo_1"):
            g = f["data"][name]
            env.unwrapped.set_state(g["initial_state"][()])
            objs = json.loads(g.attrs["subtask_objects"])
            assert objs == [env.unwrapped.target, "holder_slot", "plate"]
            # three segments: grasp ends at the first grasp, extract at the first extract
            b = g.attrs["subtask_boundaries"].tolist()
            sig = {k: np.asarray(g["datagen_info/subtask_term_signals"][k]) for k in ("grasp", "extract", "place")}
            assert b[0][1] == first_rise(sig["grasp"], 0) + 1, b
            assert b[1][1] == first_rise(sig["extract"], b[0][1]) + 1, b
            assert b[0][0] == 0 and b[0][1] < b[1][1] < b[2][1] == int(g.attrs["num_samples"])
            assert not (sig["extract"].astype(bool) & ~sig["grasp"].astype(bool)).any()
            assert g["datagen_info/object_poses/holder_slot"].shape == (int(g.attrs["num_samples"]), 4, 4)
            assert env.unwrapped.target in g.attrs["instruction"]
    env.close()


def test_task_specs_match_every_env():
    from armtwin import envs

    for env_id in envs.ENV_IDS:
        spec = get_task_spec(env_id)
        env = envs.make(env_id, image_size=None)
        env.reset(seed=1)
        u = env.unwrapped
        objects = u.subtask_objects(spec)
        dg = u.get_datagen_info()
        signals = dg["subtask_term_signals"]
        assert all(st.end_signal in signals for st in spec.subtasks[:-1])
        assert len(spec.subtasks) == len(u.subtask_spec)
        # every object a subtask is relative to has a pose in the datagen info
        assert all(o in dg["object_poses"] for o in objects)
        env.close()
    bad = get_task_spec(LIFT).with_subtask_overrides(object_ref="plate")
    env = envs.make(LIFT, image_size=None)
    with pytest.raises(ValueError, match="'plate' is not one of its pose names"):
        env.unwrapped.subtask_objects(bad)
    env.close()
    sandwich = get_task_spec(SANDWICH)
    assert [(st.object_ref, st.end_signal) for st in sandwich.subtasks][1:] == [("holder_slot", "extract"),
                                                                             ("plate", None)]


def test_recorded_sources_replace_the_file_whole_and_leave_nothing_on_failure(tmp_path):
    from armtwin.mimic.sources import record_expert_demos

    path = tmp_path / "src.h5"
    assert record_expert_demos(LIFT, path, num=1, seed=3) == [3]
    # a second recording replaces the file (the recorder alone would append to it)
    assert record_expert_demos(LIFT, path, num=1, seed=4) == [4]
    with h5py.File(path) as f:
        assert list(f["data"]) == ["demo_0"] and int(f["data/demo_0"].attrs["seed"]) == 4
    before = path.read_bytes()
    # too few successes (1 of 2): an error, the complete file from before untouched, no partial file left
    with pytest.raises(RuntimeError, match=r"only 1/2 expert successes in 1 attempts"):
        record_expert_demos(LIFT, path, num=2, seed=5, max_attempts=1)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["src.h5"]
