"""The writers that stage an output beside its destination go through :mod:`armtwin.staging`.

Each case kills a real writer process (``SIGKILL``, so nothing of its own cleans up) in the middle of its
write, checks that it left its staging entry (named ``.<name>.tmp-<pid>-<random>``) and nothing at the
destination, then runs the same writer again into the same folder: the dead run's leftover is removed and
the new output is in place. Covered: a calibration JSON (``Calibration.save``), a rosbag2 bag
(``BagRecorder``) and the ``armtwin rollout`` video.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from armtwin.staging import reclaim_stale

LIFT = "armtwin/SO101-Lift-v0"


def _killed_writer(script: str, *args) -> int:
    """Run ``script`` in a child Python; it must SIGKILL itself mid-write. Returns the child's pid."""
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL, (p.returncode, err[-2000:])
    return p.pid


def _leftovers(folder: Path, name: str, pid: int) -> list[Path]:
    return sorted(folder.glob(f".{name}.tmp-{pid}-*"))


def test_a_killed_calibration_save_is_reclaimed_by_the_next_save(tmp_path):
    dest = tmp_path / "calib" / "arm.json"
    # killed after the JSON is written, just before the rename that would publish it
    pid = _killed_writer("""
        import os, pathlib, signal, sys
        from armtwin.units import Calibration
        pathlib.Path.replace = lambda self, target: os.kill(os.getpid(), signal.SIGKILL)
        Calibration.default().save(sys.argv[1])
    """, dest)
    (left,) = _leftovers(dest.parent, "arm", pid)
    assert left.suffix == ".json" and json.loads(left.read_text())  # a whole file, never published
    assert not dest.exists()

    from armtwin.units import Calibration

    cal = Calibration.default()
    cal.save(dest)
    assert _leftovers(dest.parent, "arm", pid) == [] and sorted(p.name for p in dest.parent.iterdir()) == ["arm.json"]
    assert Calibration.load(dest) == cal
    assert reclaim_stale(dest.parent) == []


def test_a_killed_bag_recording_is_reclaimed_by_the_next_recording(tmp_path):
    from armtwin.bridge import messages as M
    from armtwin.bridge.bag import BagRecorder, read_bag

    pid = _killed_writer("""
        import os, signal, sys
        from armtwin.bridge import messages as M
        from armtwin.bridge.bag import BagRecorder
        rec = BagRecorder(sys.argv[1], {"/joint_states": M.JOINT_STATE_ROS_TYPE})
        rec.write("/joint_states", 1, M.encode(M.make_joint_state(10**18, [0.5] * 6)))
        os.kill(os.getpid(), signal.SIGKILL)
    """, tmp_path / "run.mcap")
    (left,) = _leftovers(tmp_path, "run", pid)
    assert (left / "run" / "run.mcap").is_file() and not (tmp_path / "run").exists()

    with BagRecorder(tmp_path / "next.mcap", {"/joint_states": M.JOINT_STATE_ROS_TYPE}) as rec:
        rec.write("/joint_states", 7, M.encode(M.make_joint_state(10**18 + 7, [0.25] * 6)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next"]
    assert [t for _, t, _ in read_bag(tmp_path / "next")] == [7]


def test_a_killed_rollout_video_is_reclaimed_by_the_next_rollout(tmp_path, capsys):
    from armtwin.cli import main

    video = tmp_path / "lift.mp4"
    # killed once the video has its first frames on disk
    pid = _killed_writer("""
        import os, signal, sys
        import armtwin.video as V
        from armtwin.cli import main
        write = V.Mp4Writer.write
        def write_then_die(self, image, _n=[0]):
            write(self, image)
            _n[0] += 1
            if _n[0] == 30:
                self._container.close()
                os.kill(os.getpid(), signal.SIGKILL)
        V.Mp4Writer.write = write_then_die
        main(["rollout", "--env", sys.argv[1], "--expert", "--episodes", "1", "--video", sys.argv[2],
              "--size", "32", "40"])
    """, LIFT, video)
    (left,) = _leftovers(tmp_path, "lift", pid)
    assert left.suffix == ".mp4" and left.stat().st_size > 0 and not video.exists()

    assert main(["rollout", "--env", LIFT, "--expert", "--episodes", "1", "--video", str(video),
                 "--size", "32", "40"]) == 0
    capsys.readouterr()
    assert os.listdir(tmp_path) == ["lift.mp4"]
    import av

    with av.open(str(video)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 30
