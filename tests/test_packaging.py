"""Packaging: optional extras fail with an install hint; the LeRobot converter's writing side needs no LeRobot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from armtwin._optional import require

REPO = Path(__file__).resolve().parents[1]


def test_require_names_the_extra_and_the_feature():
    require("numpy", extra="lerobot", what="anything")  # installed: no error
    with pytest.raises(ImportError) as e:
        require("armtwin_no_such_module", extra="lerobot", what="--target real")
    msg = str(e.value)
    assert "--target real" in msg and "armtwin_no_such_module" in msg
    assert "pip install 'armtwin[lerobot]'" in msg


def test_lerobot_export_imports_neither_lerobot_nor_torch(tmp_path):
    """Writing a LeRobot v3.0 dataset is plain PyArrow/NumPy/PyAV, even where LeRobot is installed."""
    code = f"""
import sys
sys.path.insert(0, {str(REPO / "tests")!r})
from convert_data import write_synthetic_recording
from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
rec = write_synthetic_recording({str(tmp_path / "r.h5")!r}, lengths=(5, 4), image_size=(32, 48))
res = export_lerobot(LeRobotExportConfig(inputs=[rec], repo_id="u/p", root={str(tmp_path / "ds")!r}, vcodec="h264",
                                         progress=False))
assert res.episodes == 2, res
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("lerobot", "torch", "torchvision", "datasets"))
print("HEAVY", heavy)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert "HEAVY []" in p.stdout, p.stdout
    assert (tmp_path / "ds/meta/info.json").is_file()


MISSING_EXTRAS = r"""
import json, sys
for m in ("lerobot", "torch", "ray"):
    sys.modules[m] = None  # not installed (the core CI run): import and find_spec both see it missing
from armtwin.mimic.backends import make_executor
from armtwin.policy.episodes import run_eval_batch
from armtwin.robots.factory import opencv_cameras, twin_cameras

out = {}
for name, fn in {
    "opencv_cameras": lambda: opencv_cameras(["wrist=0"]),
    "twin_cameras": lambda: twin_cameras("/tmp/armtwin-no-such.sock", ["wrist"]),
    "eval": lambda: run_eval_batch(None, [0]),
    "ray": lambda: make_executor(None, "ray", ray_address="auto"),
}.items():
    try:
        fn()
        out[name] = "no error"
    except ImportError as e:
        out[name] = str(e)
print(json.dumps(out))
"""


def test_a_missing_extra_is_named_with_its_install_line():
    """Cameras of a real arm, the twin's cameras, policy evaluation and the Ray backend each say which
    extra to install instead of failing with a bare ModuleNotFoundError inside."""
    import json

    p = subprocess.run([sys.executable, "-c", MISSING_EXTRAS], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    expect = {"opencv_cameras": ("lerobot", "lerobot"), "twin_cameras": ("lerobot", "lerobot"),
              "eval": ("torch", "lerobot"), "ray": ("ray", "cluster")}
    for name, (module, extra) in expect.items():
        assert f"needs the '{module}' package" in out[name], (name, out[name])
        assert f"pip install 'armtwin[{extra}]'" in out[name], (name, out[name])
