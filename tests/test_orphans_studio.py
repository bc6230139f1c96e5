"""A ``kill -9`` of the studio leaves no job process behind (nor the job's own encoders): each job
process carries armtwin.lifeline's watch. Children are found through /proc, as in test_orphans.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the studio needs the [studio] extra (fastapi, uvicorn)")
sys.path.insert(0, str(Path(__file__).parent))
from studio_server import free_port  # noqa: E402
from test_orphans import LIFT, children, env, kill9_and_check_children, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def _post(base: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "origin": base})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _get(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read())


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/api/jobs", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_kill9_of_the_studio_leaves_no_job_process(tmp_path):
    from armtwin.mimic.annotate import annotate_file
    from armtwin.mimic.sources import record_expert_demos

    record_expert_demos(LIFT, tmp_path / "src.h5", num=2, seed=100)
    annotate_file(str(tmp_path / "src.h5"), str(tmp_path / "ann.h5"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "armtwin", "studio", "--port", str(port), "--root", str(tmp_path)],
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # A job far longer than the grace period: without its lifeline it would outlive the studio.
    wait_for(lambda: _up(base), 60, "the studio to serve", proc)
    job = _post(base, "/api/jobs/mimic_generate", {"source": "ann.h5", "env": LIFT, "num": 500, "out": "gen.h5",
                                                  "workers": 1, "image_size": 0})
    assert job["state"] == "running", job

    def generating():  # the job's progress bar is up: it is past start-up, generating
        (j,) = _get(base, "/api/jobs")
        assert j["state"] == "running", j
        return "n" in j["progress"]

    wait_for(generating, 120, "the job's progress", proc)
    kids = children(proc.pid)  # the job process (and multiprocessing's resource tracker)
    assert any(b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes() for k in kids), kids
    kill9_and_check_children(proc, kids + [g for k in kids for g in children(k)])
