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
