"""Commands that must neither destroy their input nor leave debris, and options refused at the edge.

Every case runs the real command (``armtwin.cli.main``) and stops before any simulation or encoding:
an output onto an input is refused and the input is byte-identical after; a bad option is one line
on stderr, exit 2, and nothing is created.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from convert_data import write_synthetic_recording

from armtwin.cli import main
from armtwin.data import JOINT_LIMIT_MARGIN_RAD, RecordingError, check_demo, open_recording
from armtwin.staging import OutputError, check_output, reclaim_stale, staged_dir, staged_file

LIFT = "armtwin/SO101-Lift-v0"


def digest(path: Path) -> str:
    """sha256 over every file (relative name + bytes) under ``path`` (or of the file itself)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(path.parent)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def one_line_error(capsys, prefix: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert err.startswith(prefix) and "\n" not in err, err
    return err


@pytest.fixture()
def rec(tmp_path):
    return write_synthetic_recording(tmp_path / "rec.h5", lengths=(6, 5), image_size=(16, 16))


@pytest.fixture()
def fake_dataset(tmp_path):
    """A directory the LeRobot converters accept as a dataset at config time (meta/info.json)."""
    d = tmp_path / "D"
    (d / "meta").mkdir(parents=True)
    (d / "meta/info.json").write_text("{}")
    (d / "data.bin").write_bytes(os.urandom(256))
    return d


# ------------------------------------------------------------------ --overwrite never eats an input


def test_convert_groot_onto_its_input_refuses(fake_dataset, capsys):
    before = digest(fake_dataset)
    assert main(["convert", "groot", str(fake_dataset), str(fake_dataset), "--overwrite"]) == 1
    assert "is the input" in one_line_error(capsys, "armtwin convert groot: error:")
    assert main(["convert", "groot", str(fake_dataset), str(fake_dataset / "inside"), "--overwrite"]) == 1
    assert "inside the input" in one_line_error(capsys, "armtwin convert groot:")
    assert digest(fake_dataset) == before


def test_convert_hdf5_into_its_dataset_refuses(fake_dataset, capsys):
    before = digest(fake_dataset)
    assert main(["convert", "hdf5", str(fake_dataset), str(fake_dataset / "out.h5"), "--overwrite"]) == 1
    assert "inside the input" in one_line_error(capsys, "armtwin convert hdf5:")
    assert digest(fake_dataset) == before


def test_convert_lerobot_root_holding_its_input_refuses(tmp_path, capsys):
    root = tmp_path / "R"
    root.mkdir()
    src = write_synthetic_recording(root / "x.h5", lengths=(4,), image_size=(16, 16))
    before = digest(root)
    assert main(["convert", "lerobot", str(src), "--repo-id", "u/x", "--root", str(root), "--overwrite", "--quiet"]) == 1
    assert "contains the input" in one_line_error(capsys, "armtwin convert lerobot:")
    assert digest(root) == before


def test_convert_actions_onto_its_input_refuses(rec, capsys):
    before = digest(rec)
    assert main(["convert", "actions", str(rec), str(rec), "--to", "eef", "--overwrite"]) == 1
    assert "is the input" in one_line_error(capsys, "armtwin convert actions:")
    # a hard link is the same file under another name
    link = rec.with_name("link.h5")
    os.link(rec, link)
    assert main(["convert", "actions", str(rec), str(link), "--to", "eef", "--overwrite"]) == 1
    assert "is the input" in one_line_error(capsys, "armtwin convert actions:")
    assert digest(rec) == before


def test_mimic_generate_onto_its_source_refuses(rec, capsys):
    before = digest(rec)
    assert main(["mimic", "generate", str(rec), "--env", LIFT, "--num", "1", "--out", str(rec), "--overwrite"]) == 2
    assert "is the input" in one_line_error(capsys, "armtwin mimic generate:")
    assert digest(rec) == before


def test_mimic_annotate_never_replaces_without_overwrite(rec, tmp_path, capsys):
    out = tmp_path / "out.h5"
    out.write_bytes(b"precious")
    assert main(["mimic", "annotate", str(rec), str(out), "--auto"]) == 2
    assert "already exists" in one_line_error(capsys, "armtwin mimic annotate:")
    assert out.read_bytes() == b"precious"
    before = digest(rec)
    assert main(["mimic", "annotate", str(rec), str(rec), "--auto", "--overwrite"]) == 2
    assert "is the input" in one_line_error(capsys, "armtwin mimic annotate:")
    assert digest(rec) == before


def test_teleop_record_onto_the_replayed_file_refuses(rec, capsys):
    before = digest(rec)
    rc = main(["teleop", "--headless", "--leader", "replay", "--replay", str(rec), "--record", str(rec), "--resume"])
    assert rc == 2
    assert "is the input" in one_line_error(capsys, "armtwin teleop:")
    assert digest(rec) == before


def test_rollout_never_replaces_a_video_without_overwrite(tmp_path, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"mine")
    assert main(["rollout", "--env", LIFT, "--expert", "--episodes", "1", "--video", str(video)]) == 2
    assert "already exists" in one_line_error(capsys, "armtwin rollout:")
    assert video.read_bytes() == b"mine"


def test_check_output_rules(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "in.h5").write_bytes(b"x")
    with pytest.raises(OutputError, match="is a directory"):
        check_output(d, [], overwrite=True)
    with pytest.raises(OutputError, match="is a file"):
        check_output(d / "in.h5", [], overwrite=True, kind="dir")
    with pytest.raises(OutputError, match="contains the input"):
        check_output(tmp_path, [d / "in.h5"], overwrite=True, kind="dir")
    sym = tmp_path / "sym.h5"
    sym.symlink_to(d / "in.h5")
    with pytest.raises(OutputError, match="is the input"):
        check_output(sym, [d / "in.h5"], overwrite=True)
    assert check_output(tmp_path / "new.h5", [d / "in.h5"]) == tmp_path / "new.h5"


# ------------------------------------------------------------------ a failed start leaves nothing


def test_bad_expert_noise_leaves_no_record_file(tmp_path, capsys):
    out = tmp_path / "r.h5"
    rc = main(["teleop", "--headless", "--leader", "scripted", "--record", str(out), "--expert-noise", "nan"])
    assert rc == 2
    assert "--expert-noise" in one_line_error(capsys, "armtwin teleop:")
    assert list(tmp_path.iterdir()) == []
    # the corrected rerun is not blocked (validation passes; nothing to clean up first)
    from armtwin.teleop.factory import TeleopConfig

    TeleopConfig(leader="scripted", record=out, expert_noise=0.01)


def test_bad_image_size_leaves_no_shards(rec, tmp_path, capsys):
    out = tmp_path / "gen.h5"
    for size in ("0x0", "100000x100000"):
        assert main(["mimic", "generate", str(rec), "--env", LIFT, "--num", "1", "--out", str(out),
                     "--image-size", size]) == 2
        assert "--image-size" in one_line_error(capsys, "armtwin mimic generate:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.h5"]


def test_shard_dir_with_only_a_manifest_is_taken_over(tmp_path):
    """A run that died before its first shard leaves job.json alone: it protects no work."""
    import json

    from armtwin.mimic.shards import check_manifest

    class Job:
        env_id, seed = LIFT, 3

        def fingerprint(self):
            return "new"

    sdir = tmp_path / "g.h5.shards"
    sdir.mkdir()
    (sdir / "job.json").write_text(json.dumps({"fingerprint": "old", "env_id": LIFT, "seed": 0, "source": "x"}))
    check_manifest(sdir, Job(), source="src.h5")
    assert json.loads((sdir / "job.json").read_text())["fingerprint"] == "new"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_staging_of_a_dead_run_is_reclaimed(tmp_path):
    dead = _dead_pid()
    stale_dir = tmp_path / f".ds.tmp-{dead}-abcd1234"
    stale_dir.mkdir()
    (stale_dir / "big.bin").write_bytes(b"0" * 1000)
    stale_file = tmp_path / f".out.tmp-{dead}-zz9_ab12.h5"
    stale_file.write_bytes(b"partial")
    live = tmp_path / f".other.tmp-{os.getppid()}-abcd1234"  # a live writer's staging is left alone
    live.mkdir()
    mine = tmp_path / "user.h5"  # and so is anything that is not staging
    mine.write_bytes(b"keep")
    with staged_dir(tmp_path / "ds") as tmp:
        assert str(os.getpid()) in tmp.name  # names carry the writer's pid
        (tmp / "f").write_text("x")
    assert not stale_dir.exists() and not stale_file.exists()
    assert live.exists() and mine.exists() and (tmp_path / "ds/f").exists()
    assert reclaim_stale(tmp_path) == []
    with staged_file(tmp_path / "x.h5") as tmp:
        assert f".x.tmp-{os.getpid()}-" in tmp.name
        tmp.write_bytes(b"1")


# ------------------------------------------------------------------ validation at the edge


@pytest.mark.parametrize("args, option", [
    (["--episodes", "0"], "--episodes"),
    (["--episodes", "-1"], "--episodes"),
    (["--episode-steps", "0"], "--episode-steps"),
    (["--duration", "-1"], "--duration"),
    (["--flush-every", "0"], "--flush-every"),
    (["--reset-s", "-1"], "--reset-s"),
    (["--image-size", "0x0"], "--image-size"),
    (["--image-size", "99999x99999"], "--image-size"),
    (["--expert-noise", "inf", "--leader", "scripted"], "--expert-noise"),
])
def test_teleop_options_refused_before_anything_is_written(args, option, tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["teleop", "--headless", "--record", str(out), *args]) == 2
    assert option in one_line_error(capsys, "armtwin teleop:")
    assert list(tmp_path.iterdir()) == []


def test_teleop_record_that_is_a_directory_is_refused(tmp_path, capsys):
    d = tmp_path / "rec.h5"
    d.mkdir()
    assert main(["teleop", "--headless", "--record", str(d)]) == 2
    assert "is a directory" in one_line_error(capsys, "armtwin teleop:")


def test_rollout_size_and_demo_vcodec_refused_at_once(tmp_path, capsys):
    assert main(["rollout", "--env", LIFT, "--expert", "--size", "0", "-5"]) == 2
    assert "--size" in one_line_error(capsys, "armtwin rollout:")
    assert main(["demo", "--out-dir", str(tmp_path / "demo"), "--vcodec", "foo"]) == 2
    err = one_line_error(capsys, "armtwin demo:")
    assert "foo" in err and "h264" in err
    assert not (tmp_path / "demo").exists()


def test_bad_replay_and_resume_files_are_one_line_errors(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    assert main(["teleop", "--headless", "--leader", "replay", "--replay", str(junk)]) == 2
    assert "junk.h5" in one_line_error(capsys, "armtwin teleop:")
    no_actions = tmp_path / "noact.h5"
    write_synthetic_recording(no_actions, lengths=(4,), image_size=None)
    with h5py.File(no_actions, "a") as f:
        del f["data/demo_0/actions"]
    assert main(["teleop", "--headless", "--leader", "replay", "--replay", str(no_actions)]) == 2
    assert "actions" in one_line_error(capsys, "armtwin teleop:")
    ok = write_synthetic_recording(tmp_path / "ok.h5", lengths=(4,), image_size=None)
    assert main(["teleop", "--headless", "--leader", "replay", "--replay", str(ok), "--demo", "7"]) == 2
    assert "demo_7" in one_line_error(capsys, "armtwin teleop:")
    assert main(["teleop", "--headless", "--record", str(junk), "--resume"]) == 2
    assert "junk.h5" in one_line_error(capsys, "armtwin teleop:")


def _set_action(path, value, *, t=2, j=1):
    with h5py.File(path, "a") as f:
        a = f["data/demo_0/actions"][()]
        a[t, j] = value
        f["data/demo_0/actions"][...] = a


def test_joint_values_outside_the_limits_or_nan_are_not_a_demo(tmp_path, capsys):
    huge = write_synthetic_recording(tmp_path / "huge.h5", lengths=(5,), image_size=None)
    _set_action(huge, 1e9)
    with open_recording(huge) as r, pytest.raises(RecordingError, match="shoulder_lift is 1e\\+09 rad at row 2"):
        check_demo(r.demo(0))
    nan = write_synthetic_recording(tmp_path / "nan.h5", lengths=(5,), image_size=None)
    _set_action(nan, np.nan)
    assert main(["convert", "actions", str(nan), str(tmp_path / "o.h5"), "--to", "eef"]) == 1
    assert "NaN or inf" in one_line_error(capsys, "armtwin convert actions:")
    assert not (tmp_path / "o.h5").exists()
    # within the stated margin is still a demo
    near = write_synthetic_recording(tmp_path / "near.h5", lengths=(5,), image_size=None)
    from armtwin.assets import so101_constants as C

    _set_action(near, C.upper_limits()[1] + 0.9 * JOINT_LIMIT_MARGIN_RAD)
    with open_recording(near) as r:
        check_demo(r.demo(0))


def _seeds(path):
    with open_recording(path) as r:
        return [int(v.attrs["seed"]) for v in r]


def test_teleop_resume_continues_seeds_and_keeps_the_image_size(tmp_path, capsys):
    out = tmp_path / "r.h5"
    base = ["teleop", "--headless", "--leader", "scripted", "--record", str(out), "--episodes", "1",
            "--episode-steps", "3", "--image-size", "16x16"]
    assert main(base) == 0
    assert main([*base, "--resume"]) == 0
    assert _seeds(out) == [0, 1]  # not a bit-identical copy of demo_0
    capsys.readouterr()
    assert main([*base[:-1], "24x24", "--resume"]) == 2
    err = one_line_error(capsys, "armtwin teleop:")
    assert "16x16" in err and "24x24" in err
    assert _seeds(out) == [0, 1]


# ------------------------------------------------------------------ issue 13: the audit's gaps


def test_view_rerun_onto_its_input_refuses_and_never_replaces(rec, tmp_path, capsys):
    before = digest(rec)
    assert main(["view", str(rec), "--rerun", str(rec)]) == 2
    assert "is the input" in one_line_error(capsys, "armtwin view:")
    assert digest(rec) == before
    rrd = tmp_path / "old.rrd"
    rrd.write_bytes(b"mine")
    assert main(["view", str(rec), "--rerun", str(rrd)]) == 2
    assert "already exists" in one_line_error(capsys, "armtwin view:")
    assert rrd.read_bytes() == b"mine"


@pytest.fixture()
def calib(tmp_path):
    from armtwin.hardware.virtual_arm import virtual_calibration

    path = tmp_path / "cal.json"
    virtual_calibration().save(path)
    return path


@pytest.mark.parametrize("cmd", ["publish", "command"])
def test_bridge_report_onto_its_calibration_refuses(cmd, calib, capsys):
    before = digest(calib)
    assert main(["bridge", cmd, "--source", "virtual", "--calibration", str(calib), "--report", str(calib),
                 "--overwrite", "--duration", "0.1"]) == 2
    assert "is the input" in one_line_error(capsys, f"armtwin bridge {cmd}:")
    assert digest(calib) == before


def test_bridge_report_and_bag_never_replace(tmp_path, capsys):
    report = tmp_path / "r.json"
    report.write_text("mine")
    assert main(["bridge", "mirror", "--report", str(report), "--duration", "0.1"]) == 2
    assert "already exists" in one_line_error(capsys, "armtwin bridge mirror:")
    assert report.read_text() == "mine"
    bag = tmp_path / "run"
    bag.mkdir()
    (bag / "run.mcap").write_bytes(b"old bag")
    for argv in (["mirror", "--record", str(tmp_path / "run.mcap")], ["record", "--out", str(bag)]):
        assert main(["bridge", *argv, "--duration", "0.1"]) == 2
        assert "exists already" in one_line_error(capsys, f"armtwin bridge {argv[0]}:")
    assert (bag / "run.mcap").read_bytes() == b"old bag"


@pytest.mark.parametrize("argv, option", [
    (["mirror", "--depth", "0"], "--depth"),
    (["record", "--out", "x.mcap", "--depth", "0"], "--depth"),
    (["mirror", "--domain-id", "-1"], "--domain-id"),
    (["command", "--domain-id", "999"], "--domain-id"),
    (["mirror", "--max-age", "inf"], "--max-age"),
    (["command", "--max-age", "nan"], "--max-age"),
    (["publish", "--source", "script", "--wait-timeout", "-1"], "--wait-timeout"),
    (["publish", "--source", "script", "--wait-for-subscribers", "-1"], "--wait-for-subscribers"),
])
def test_bridge_options_refused_when_the_config_is_built(argv, option, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["bridge", *argv, "--duration", "0.1"]) == 2
    assert option in one_line_error(capsys, f"armtwin bridge {argv[0]}:")
    out = capsys.readouterr().out
    assert "transport:" not in out  # refused before any DDS participant was made
    assert list(tmp_path.iterdir()) == []


def test_bridge_report_is_strict_json(tmp_path):
    import json

    from armtwin.bridge.session import write_report

    path = tmp_path / "r.json"
    write_report(str(path), {"max_age_s": float("inf"), "rms": np.array([1.0, np.nan]), "n": np.int64(3),
                             "nested": [{"lag": -np.inf}]})

    def no_constants(name):
        raise AssertionError(f"non-standard JSON token {name}")

    data = json.loads(path.read_text(), parse_constant=no_constants)
    assert data == {"max_age_s": None, "rms": [1.0, None], "n": 3, "nested": [{"lag": None}]}


def test_twin_gap_outputs_never_replace_an_input(rec, tmp_path, capsys):
    from armtwin.envs.servo import ServoParams

    servo = ServoParams().save(tmp_path / "servo.json")
    before = digest(rec), digest(servo)
    assert main(["twin-gap", str(rec), "--out", str(rec)]) == 2
    assert "is a file" in one_line_error(capsys, "armtwin twin-gap:")
    assert main(["twin-gap", str(rec), "--fit", "--servo-calibration", str(servo),
                 "--calibration-out", str(servo), "--overwrite"]) == 2
    assert "is the input" in one_line_error(capsys, "armtwin twin-gap:")
    assert main(["twin-gap", str(rec), "--fit", "--calibration-out", str(rec), "--overwrite"]) == 2
    assert "is the input" in one_line_error(capsys, "armtwin twin-gap:")
    out = tmp_path / "tg"
    out.mkdir()
    (out / "twin_gap.json").write_text("mine")
    assert main(["twin-gap", str(rec), "--out", str(out)]) == 2
    assert "already exists" in one_line_error(capsys, "armtwin twin-gap:")
    assert (out / "twin_gap.json").read_text() == "mine"
    assert (digest(rec), digest(servo)) == before


def test_demo_out_dir_is_checked_before_anything_runs(rec, tmp_path, capsys):
    before = digest(rec)
    assert main(["demo", "--out-dir", str(rec)]) == 2
    assert "is a file" in one_line_error(capsys, "armtwin demo:")
    assert digest(rec) == before
    old = tmp_path / "old"
    old.mkdir()
    (old / "sources.h5").write_bytes(b"an earlier run")
    assert main(["demo", "--out-dir", str(old)]) == 2
    assert "--overwrite" in one_line_error(capsys, "armtwin demo:")
    assert (old / "sources.h5").read_bytes() == b"an earlier run"
    for argv, option in ((["--seed", "-1"], "--seed"), (["--train-steps", "0"], "--train-steps"),
                         (["--eval-episodes", "0"], "--eval-episodes")):
        assert main(["demo", "--out-dir", str(tmp_path / "new"), *argv]) == 2
        assert option in one_line_error(capsys, "armtwin demo:")
    assert not (tmp_path / "new").exists()


@pytest.fixture()
def fake_policy(tmp_path):
    """A directory the policy configs accept at construction (config.json; a state-only input)."""
    import json

    d = tmp_path / "pol"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"input_features": {"observation.state": {"type": "STATE",
                                                                                       "shape": [6]}}}))
    return d


def test_run_and_eval_never_record_into_the_policy(fake_policy, tmp_path, capsys):
    before = digest(fake_policy)
    assert main(["run", "--policy", str(fake_policy), "--record", str(fake_policy / "r.h5"), "--headless"]) == 2
    assert "inside the input" in one_line_error(capsys, "armtwin run:")
    assert main(["eval", "--policy", str(fake_policy), "--env", LIFT, "--episodes", "1", "--out",
                 str(tmp_path / "e"), "--record", str(fake_policy / "r.h5")]) == 2
    assert "inside the input" in one_line_error(capsys, "armtwin eval:")
    assert digest(fake_policy) == before
    # the config refuses an existing recording itself (not only the command line)
    from armtwin.policy.eval import EvalConfig

    old = tmp_path / "old.h5"
    old.write_bytes(b"mine")
    with pytest.raises(ValueError, match="--record"):
        EvalConfig(policy=fake_policy, env_id=LIFT, episodes=1, out=tmp_path / "e2", record=old)
    assert old.read_bytes() == b"mine"


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """One scripted Lift demo with its subtask boundaries: a source mimic generate accepts."""
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.sources import record_expert_demos

    d = tmp_path_factory.mktemp("ann")
    record_expert_demos(LIFT, d / "raw.h5", num=1, seed=100)
    annotate_file(str(d / "raw.h5"), str(d / "ann.h5"))
    return d / "ann.h5"


@pytest.mark.parametrize("argv, option", [(["--seed", "-1"], "--seed"), (["--randomize", "bogus"], "--randomize")])
def test_mimic_generate_bad_option_leaves_no_shards(argv, option, annotated, tmp_path, capsys):
    out = tmp_path / "g.h5"
    assert main(["mimic", "generate", str(annotated), "--env", LIFT, "--num", "1", "--out", str(out),
                 "--no-progress", *argv]) == 2
    err = one_line_error(capsys, "armtwin mimic generate:")
    assert option in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, option", [
    (["--seed", "-1"], "--seed"),
    (["--randomize", "bogus"], "--randomize"),
    (["--leader", "net", "--listen", "garbage"], "--listen"),
    (["--leader", "net", "--listen", "127.0.0.1:99999"], "--listen"),
])
def test_teleop_seed_randomize_and_listen_refused_at_once(argv, option, tmp_path, capsys):
    assert main(["teleop", "--headless", "--record", str(tmp_path / "r.h5"), *argv]) == 2
    assert option in one_line_error(capsys, "armtwin teleop:")
    assert list(tmp_path.iterdir()) == []


def test_teleop_net_leader_port_in_use_is_one_line_and_leaves_no_recording(tmp_path, capsys):
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        assert main(["teleop", "--headless", "--leader", "net", "--listen", f"127.0.0.1:{port}",
                     "--record", str(tmp_path / "r.h5")]) == 1
    finally:
        taken.close()
    err = one_line_error(capsys, "armtwin teleop:")
    assert "cannot listen" in err and str(port) in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, option", [
    (["--seed", "-1"], "--seed"), (["--noise", "nan"], "--noise"), (["--noise", "inf"], "--noise"),
])
def test_rollout_seed_and_noise_refused(argv, option, capsys):
    assert main(["rollout", "--env", LIFT, "--expert", "--episodes", "1", *argv]) == 2
    assert option in one_line_error(capsys, "armtwin rollout:")


def test_convert_lerobot_preset_and_image_size_refused_up_front(rec, tmp_path, capsys):
    root = tmp_path / "L"
    assert main(["convert", "lerobot", str(rec), "--repo-id", "u/x", "--root", str(root), "--quiet",
                 "--vcodec", "h264", "--preset", "zzz"]) == 1
    err = one_line_error(capsys, "armtwin convert lerobot:")
    assert "zzz" in err and "superfast" in err
    assert main(["convert", "lerobot", str(rec), "--repo-id", "u/x", "--root", str(root), "--quiet",
                 "--image-size", "100000x100000"]) == 1
    assert "4096" in one_line_error(capsys, "armtwin convert lerobot:")
    assert not root.exists()


@pytest.mark.parametrize("duration", ["-1", "nan", "0"])
def test_virtual_arm_duration_refused(duration, capsys):
    assert main(["virtual-arm", "--role", "leader", "--duration", duration]) == 2
    assert "--duration" in one_line_error(capsys, "armtwin virtual-arm:")


def test_virtual_arm_bad_script_file_is_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    assert main(["virtual-arm", "--role", "leader", "--script", str(junk), "--duration", "0.1"]) == 2
    assert "junk.h5" in one_line_error(capsys, "armtwin virtual-arm:")
