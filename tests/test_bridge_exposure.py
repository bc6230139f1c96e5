"""The bridge commands that drive an arm (``bridge command``, ``bridge mirror``) take part in DDS on
loopback only unless ``--network`` is given, and say so in their first line; ``--network`` says the
domain is open to anyone on it. Real processes (``python -m armtwin bridge ...``), real Cyclone DDS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="the bridge needs the [ros] extra (cyclonedds)")

from armtwin.bridge.command import CommandConfig  # noqa: E402
from armtwin.bridge.mirror import MirrorConfig  # noqa: E402
from armtwin.cli import build_parser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "loopback only: this machine"
OPEN = "DDS is open to the network"


def test_arm_driving_configs_and_flags_default_to_loopback():
    assert CommandConfig().network is False and MirrorConfig().network is False
    parser = build_parser()
    for cmd in ("command", "mirror"):
        assert parser.parse_args(["bridge", cmd]).network is False, cmd
        assert parser.parse_args(["bridge", cmd, "--network"]).network is True, cmd


def _run(tmp_path, *args):
    """Start ``armtwin bridge ARGS --backend cyclone --duration 0.5``; returns the Popen (stdout piped)."""
    env = dict(os.environ, MUJOCO_GL="egl", PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1",
               ROS_DOMAIN_ID=str(150 + os.getpid() % 50 + len(args)),
               # what a --network run would follow: named in its start-up line
               CYCLONEDDS_URI=(tmp_path / "net.xml").as_uri())
    (tmp_path / "net.xml").write_text('<CycloneDDS><Domain Id="any"><General><Interfaces>'
                                      '<NetworkInterface name="lo"/></Interfaces></General></Domain></CycloneDDS>')
    return subprocess.Popen([sys.executable, "-m", "armtwin", "bridge", *args, "--backend", "cyclone",
                             "--duration", "0.5"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_start_up_line_says_loopback_or_open(tmp_path):
    runs = {
        "command": _run(tmp_path, "command", "--source", "sim", "--report", tmp_path / "cmd.json"),
        "mirror": _run(tmp_path, "mirror", "--report", tmp_path / "mirror.json"),
        "mirror --network": _run(tmp_path, "mirror", "--network"),
    }
    outs = {}
    for name, p in runs.items():
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0, f"{name}:\n{out}"
        outs[name] = out.splitlines()
    for name in ("command", "mirror"):
        first = outs[name][0]
        cmd = name.split()[0]
        assert first.startswith(f"armtwin bridge {cmd}: transport: cyclone") and LOOPBACK in first, outs[name]
        assert "no authentication" in first
        assert not any(OPEN in line for line in outs[name]), outs[name]
        report = json.loads((tmp_path / ("cmd.json" if cmd == "command" else "mirror.json")).read_text())
        assert report["config"]["network"] is False
    net = outs["mirror --network"]
    assert LOOPBACK not in net[0] and f"network per CYCLONEDDS_URI={(tmp_path / 'net.xml').as_uri()}" in net[0], net
    assert any(OPEN in line and "no authentication" in line for line in net), net
