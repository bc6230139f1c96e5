"""Faults of whole processes: ``kill -9`` leaves no child behind, ``kill -TERM`` of teleop closes cleanly,
``convert groot`` never hangs.

Children are found through /proc (Linux: the only platform the process-lifetime guarantees are stated for).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from convert_data import write_synthetic_recording

from armtwin.data import open_recording

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

LIFT = "armtwin/SO101-Lift-v0"
#: A child may outlive its killed parent by this much (the lifeline polls every 0.25 s; a loaded machine).
GRACE_S = 8.0


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of ``pid``, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st is not None and st[1] == pid and st[0] != "Z":
                out.append(int(d))
    return out


def alive(pids) -> list[int]:
    return [p for p in pids if (st := _stat(p)) is not None and st[0] != "Z"]


def env():
    return dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), PYTHONUNBUFFERED="1")


def kill9_and_check_children(proc: subprocess.Popen, kids: list[int]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + GRACE_S
    while alive(kids) and time.time() < deadline:
        time.sleep(0.1)
    left = alive(kids)
    for p in left:  # do not leak them into the rest of the run
        os.kill(p, signal.SIGKILL)
    assert not left, f"children {left} outlived their killed parent by more than {GRACE_S} s"


def wait_for(cond, timeout: float, what: str, proc: subprocess.Popen):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        if proc.poll() is not None:
            raise AssertionError(f"the command ended before {what}: {proc.stderr.read().decode()[-1500:]}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


def test_kill9_of_mimic_generate_leaves_no_worker(tmp_path):
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.sources import record_expert_demos

    raw, ann = tmp_path / "src.h5", tmp_path / "ann.h5"
    record_expert_demos(LIFT, raw, num=2, seed=100)
    annotate_file(str(raw), str(ann))
    out = tmp_path / "gen.h5"
    cmd = [sys.executable, "-m", "armtwin", "mimic", "generate", str(ann), "--env", LIFT, "--num", "50",
           "--out", str(out), "--workers", "2", "--image-size", "none", "--batch-size", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sdir = Path(str(out) + ".shards")
    # the workers are running trials once a shard exists
    wait_for(lambda: list(sdir.glob("chunk_*.h5")), 120, "the first shard", proc)
    kids = children(proc.pid)
    assert len(kids) >= 2, kids
    kill9_and_check_children(proc, kids)


def test_kill9_of_convert_lerobot_leaves_no_encoder_and_the_rerun_reclaims_staging(tmp_path):
    src = write_synthetic_recording(tmp_path / "rec.h5", lengths=(150, 150, 150), image_size=(240, 320))
    root = tmp_path / "ds"
    cmd = [sys.executable, "-m", "armtwin", "convert", "lerobot", str(src), "--repo-id", "u/k", "--root", str(root),
           "--vcodec", "h264", "--preset", "veryslow", "--quiet"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # one encoder per camera, started once the recordings are validated
    kids = wait_for(lambda: (k := children(proc.pid)) and len(k) >= 2 and k, 60, "the encoder processes", proc)
    staging = wait_for(lambda: [p for p in tmp_path.iterdir() if p.name.startswith(".ds.tmp-")], 30,
                       "the staging directory", proc)
    kill9_and_check_children(proc, kids)
    assert all(p.exists() for p in staging)  # what the killed run left ...
    # ... is reclaimed by the next run into the same place (which may itself be cut short here)
    rerun = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: not any(p.exists() for p in staging), 60, "the stale staging to be reclaimed", rerun)
    finally:
        kids = children(rerun.pid)
        kill9_and_check_children(rerun, kids)


def test_sigterm_of_teleop_closes_the_episode_and_prints_the_summary(tmp_path):
    out = tmp_path / "r.h5"
    # keyboard leader, headless: it holds still, so the episode stays open until the signal
    cmd = [sys.executable, "-m", "armtwin", "teleop", "--headless", "--leader", "keyboard", "--record", str(out),
           "--image-size", "16x16", "--episode-steps", "100000"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: out.exists(), 60, "the recording to be created", proc)
    time.sleep(1.5)  # some ticks recorded
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr.decode()[-1500:]
    assert "Traceback" not in stderr.decode()
    assert "stopped by SIGTERM" in stderr.decode()
    assert "episodes: 1 (success 0)" in stdout.decode() and "ticks" in stdout.decode()
    with open_recording(out) as r:
        assert r.demo_names == ["demo_0"] and r.incomplete() == []
        demo = r.demo(0)
        assert demo.num_samples > 0 and demo.success is False


GROOT_RUNS = 30
_GROOT_SCRIPT = """
import sys
import lerobot.datasets.lerobot_dataset  # noqa: F401 - torch loaded, as in the command
from armtwin.convert.groot import GrootExportConfig, export_groot
for i in range(int(sys.argv[3])):
    export_groot(GrootExportConfig(dataset_root=sys.argv[1], output=sys.argv[2], overwrite=True))
    print(i, flush=True)
"""


@pytest.mark.lerobot
def test_convert_groot_never_hangs(tmp_path):
    """Decoding an episode that ends mid-file used to deadlock now and then (frame threads logging
    through Python while the decoder was closed): GROOT_RUNS exports in one process must all finish."""
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot

    src = write_synthetic_recording(tmp_path / "rec.h5", lengths=(7, 5, 6), image_size=(48, 64))
    ds = export_lerobot(LeRobotExportConfig(inputs=[src], repo_id="u/g", root=tmp_path / "ds", vcodec="h264",
                                            progress=False))
    conftest = Path(__file__).parent / "conftest.py"
    # the torchvision hook conftest installs, in the child too
    script = (f"import importlib.util as u; s = u.spec_from_file_location('c', {str(conftest)!r}); "
              "m = u.module_from_spec(s); s.loader.exec_module(m)\n" + _GROOT_SCRIPT)
    proc = subprocess.Popen([sys.executable, "-c", script, str(ds.root), str(tmp_path / "g"), str(GROOT_RUNS)],
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
        done = len(stdout.split())
        pytest.fail(f"convert groot hung after {done} of {GROOT_RUNS} runs")
    assert proc.returncode == 0, stderr[-2000:]
    assert len(stdout.split()) == GROOT_RUNS
