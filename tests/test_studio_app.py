"""The studio at the app level (no browser): the token rule, dataset listing and validation messages,
filtered copies that leave the original alone, the job registry, losing the page mid-episode."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi", reason="the studio needs the [studio] extra (fastapi, uvicorn)")

from fastapi.testclient import TestClient  # noqa: E402

from armtwin.data import open_recording  # noqa: E402
from armtwin.studio.app import create_app  # noqa: E402
from armtwin.studio.config import StudioConfig, is_default_bind  # noqa: E402
from armtwin.studio.jobs import REGISTRY  # noqa: E402
from convert_data import write_synthetic_recording  # noqa: E402


JSON = {"content-type": "application/json"}


def _client(cfg: StudioConfig) -> TestClient:
    """A test client that reaches the app at its served address (the request gate checks the Host).
    Its websockets need the full ``ws://host:port/...`` address (TestClient ignores base_url there)."""
    return TestClient(create_app(cfg), base_url=f"http://{cfg.host}:{cfg.port or 8000}")


def test_default_bind_rule():
    assert is_default_bind("127.0.0.1") and is_default_bind("::1") and is_default_bind("localhost")
    assert not is_default_bind("127.0.0.2") and not is_default_bind("0.0.0.0") and not is_default_bind("192.168.1.5")


def test_non_default_bind_needs_the_token(tmp_path):
    cfg = StudioConfig(host="127.0.0.2", port=0, root=tmp_path)
    assert cfg.token and len(cfg.token) >= 16, "a token is generated for a non-default bind"
    c = _client(cfg)
    assert c.get("/api/datasets").status_code == 401
    assert c.get("/api/datasets", headers={"x-armtwin-token": "wrong-token"}).status_code == 401
    assert c.get("/static/common.js").status_code == 401
    with pytest.raises(Exception):
        with c.websocket_connect("ws://127.0.0.2:8000/ws/record") as ws:
            ws.receive_text()
    r = c.get(f"/api/datasets?token={cfg.token}")
    assert r.status_code == 200 and "armtwin_token" in r.headers["set-cookie"]
    assert c.get("/api/datasets").status_code == 200, "the cookie set by the first request carries the token"
    with c.websocket_connect("ws://127.0.0.2:8000/ws/record") as ws:
        assert '"type": "status"' in ws.receive_text()


def test_default_bind_has_no_token(tmp_path):
    cfg = StudioConfig(port=0, root=tmp_path)
    assert cfg.token is None
    assert _client(cfg).get("/api/datasets").status_code == 200


def test_dataset_listing_episode_and_bad_file(tmp_path):
    write_synthetic_recording(tmp_path / "rec.h5", lengths=(12, 9), success=[True, False])
    (tmp_path / "broken.h5").write_bytes(b"not an hdf5 file")
    c = _client(StudioConfig(port=0, root=tmp_path))
    kinds = {d["path"]: d["kind"] for d in c.get("/api/datasets").json()["datasets"]}
    assert kinds == {"rec.h5": "hdf5", "broken.h5": "hdf5"}
    eps = c.get("/api/dataset?path=rec.h5").json()["episodes"]
    assert [(e["name"], e["length"], e["success"]) for e in eps] == [("demo_0", 12, True), ("demo_1", 9, False)]
    bad = c.get("/api/dataset?path=broken.h5")
    assert bad.status_code == 422 and "broken.h5" in bad.json()["detail"]
    ep = c.get("/api/dataset/episode?path=rec.h5&episode=demo_1").json()
    assert ep["length"] == 9 and len(ep["state"]) == 9 and len(ep["action"][0]) == 6
    v = c.get(ep["video_urls"]["wrist"], headers={"range": "bytes=0-99"})
    assert v.status_code == 206 and len(v.content) == 100 and v.headers["content-type"] == "video/mp4"
    assert c.get("/api/dataset?path=../etc").status_code == 404


def test_filtered_copy_keeps_the_original(tmp_path):
    write_synthetic_recording(tmp_path / "rec.h5", lengths=(12, 9, 15), image_size=None)
    c = _client(StudioConfig(port=0, root=tmp_path))
    r = c.post("/api/dataset/filter", json={"path": "rec.h5", "exclude": ["demo_1"], "out": "rec_f.h5"})
    assert r.status_code == 200, r.text
    with open_recording(tmp_path / "rec_f.h5") as f:
        assert [v.num_samples for v in f] == [12, 15]
    with open_recording(tmp_path / "rec.h5") as f:
        assert [v.num_samples for v in f] == [12, 9, 15]
    r = c.post("/api/dataset/filter", json={"path": "rec.h5", "exclude": ["demo_7"], "out": "x.h5"})
    assert r.status_code == 422 and "demo_7" in r.json()["detail"]


def test_job_registry_and_a_convert_job(tmp_path):
    assert {"mimic_generate", "convert_lerobot", "hub_push", "hub_pull", "lerobot_filter"} <= set(REGISTRY)
    write_synthetic_recording(tmp_path / "rec.h5", lengths=(20, 15), image_size=(32, 32))
    c = _client(StudioConfig(port=0, root=tmp_path))
    bad = c.post("/api/jobs/convert_lerobot", json={"repo_id": "u/x"})
    assert bad.status_code == 422 and "required" in bad.json()["detail"]
    job = c.post("/api/jobs/convert_lerobot", json={"inputs": "rec.h5", "root": "ds", "vcodec": "h264"}).json()
    t0 = time.time()
    while time.time() - t0 < 120:
        j = next(j for j in c.get("/api/jobs").json() if j["id"] == job["id"])
        if j["state"] != "running":
            break
        time.sleep(0.3)
    assert j["state"] == "done", (j["error"], j["detail"])
    assert j["result"]["summary"]["kept"] == 2 and (tmp_path / "ds" / "meta" / "info.json").is_file()
    assert j["progress"].get("total"), "progress came from the library's own tqdm bar"
    eps = c.get("/api/dataset?path=ds").json()
    assert [e["length"] for e in eps["episodes"]] == [20, 15]


def test_cancel_a_job(tmp_path):
    from armtwin.studio.jobs import JobRunner

    write_synthetic_recording(tmp_path / "rec.h5", lengths=(300,) * 4, image_size=(96, 96))
    runner = JobRunner(tmp_path)
    job = runner.start("convert_lerobot", {"inputs": "rec.h5", "root": "ds"})
    time.sleep(1.0)
    assert job.state == "running", (job.state, job.error, job.detail)  # still converting (~2 s here)
    assert runner.cancel(job.id).state == "cancelled"
    assert not runner._procs[job.id].is_alive()


def test_page_lost_mid_episode_keeps_the_partial_episode(tmp_path):
    """Without a browser: the controller's websocket-loss path (the browser test covers the socket)."""
    from armtwin.studio.record import RecordController
    from armtwin.teleop.factory import TeleopConfig

    ctl = RecordController(tmp_path)
    ctl.connect(TeleopConfig(leader="scripted", target="sim", record=tmp_path / "r.h5", print_summary=False,
                             image_size=(32, 32)))
    try:
        ctl.command("start")
        t0 = time.time()
        while ctl.session.loop.episode_steps < 10 and time.time() - t0 < 20:
            time.sleep(0.02)
        ctl.page_lost()
        assert ctl.wait_stopped(5.0), "the loop stops (the follower holds) once the page is gone"
        assert ctl.session is not None, "the session stays connected (a real arm keeps its torque)"
        res = ctl.session.loop.results
        assert len(res) == 1 and res[0].success is False and res[0].steps >= 10
    finally:
        ctl.close()
    with open_recording(tmp_path / "r.h5") as f:
        assert [(v.num_samples > 0, v.success) for v in f] == [(True, False)]


def test_record_page_records_an_omx_episode(tmp_path):
    """The record page's API with the scripted leader on an OMX env and the sim target: the options list the
    OMX's envs and leader, and the episode is recorded from the OMX twin (its env id, its joint count)."""
    c = _client(StudioConfig(port=0, root=tmp_path))
    opts = c.get("/api/record/options").json()
    assert {"armtwin/OMX-Lift-v0", "armtwin/OMX-PickPlace-v0"} <= set(opts["env_ids"]) and "omx" in opts["leaders"]
    assert opts["robots"]["armtwin/OMX-Lift-v0"] == "omx" and opts["robots"]["armtwin/SO101-Lift-v0"] == "so101"
    r = c.post("/api/record/connect", json={"env_id": "armtwin/OMX-Lift-v0", "leader": "so101"})
    assert r.status_code == 400 and "'omx'" in r.json()["detail"]  # an SO-101 leader arm cannot drive the OMX
    r = c.post("/api/record/connect", json={"env_id": "armtwin/OMX-Lift-v0", "leader": "scripted", "target": "sim",
                                            "record": "omx.h5", "image_size": [32, 32], "seed": 3})
    assert r.status_code == 200, r.text
    try:
        assert c.post("/api/record/command/start", headers=JSON).status_code == 200
        t0 = time.time()
        while c.get("/api/record/status").json().get("episode_steps", 0) < 15 and time.time() - t0 < 30:
            time.sleep(0.05)
        assert c.post("/api/record/command/success", headers=JSON).status_code == 200
        t0 = time.time()
        while c.get("/api/record/status").json().get("saved", 0) < 1 and time.time() - t0 < 10:
            time.sleep(0.05)
    finally:
        c.post("/api/record/disconnect", headers=JSON)
    with open_recording(tmp_path / "omx.h5") as f:
        assert f.env_id == "armtwin/OMX-Lift-v0"
        eps = list(f)
        assert len(eps) == 1 and eps[0].success is True and eps[0].num_samples >= 15
        assert f.demo(f.demo_names[0])["actions"].shape[1] == 6


def test_connect_errors_are_readable(tmp_path):
    from armtwin.studio.record import explain_error

    msg = explain_error(OSError(16, "Device or resource busy"), type("C", (), {"follower_port": "/dev/ttyACM1"})())
    assert "busy" in msg and "lsof /dev/ttyACM1" in msg
    c = _client(StudioConfig(port=0, root=tmp_path))
    r = c.post("/api/record/connect", json={"leader": "so101"})
    assert r.status_code == 400 and "--port" in r.json()["detail"]
    r = c.post("/api/record/connect", json={"target": "real", "follower_port": "/dev/nonexistent-armtwin",
                                            "leader": "keyboard", "follower_id": "nobody"})
    assert r.status_code == 409 and ("calibration" in r.json()["detail"] or "not found" in r.json()["detail"])


@pytest.mark.lerobot
def test_view_writes_a_rerun_recording(tmp_path):
    """``armtwin view PATH --rerun out.rrd`` (rerun-sdk comes with LeRobot)."""
    from armtwin.cli import main

    rec = write_synthetic_recording(tmp_path / "rec.h5", lengths=(12, 9), image_size=(16, 16))
    assert main(["view", str(rec), "--rerun", str(tmp_path / "out.rrd"), "--episode", "demo_1"]) == 0
    assert (tmp_path / "out.rrd").stat().st_size > 1000
    assert main(["view", str(rec), "--rerun", str(tmp_path / "x.rrd"), "--episode", "demo_9"]) == 2


@pytest.mark.lerobot
def test_an_eval_job_runs_armtwin_eval(tmp_path, tiny_act_checkpoint):
    """The jobs page's eval is `armtwin eval` itself: its eval_info.json, its success count."""
    import shutil

    shutil.copytree(tiny_act_checkpoint, tmp_path / "policy")
    c = _client(StudioConfig(port=0, root=tmp_path))
    job = c.post("/api/jobs/eval", json={"policy": "policy", "episodes": 2, "out": "eval", "videos": 0}).json()
    t0 = time.time()
    while time.time() - t0 < 300:
        j = next(j for j in c.get("/api/jobs").json() if j["id"] == job["id"])
        if j["state"] != "running":
            break
        time.sleep(0.5)
    assert j["state"] == "done", (j["error"], j["detail"])
    info = json.loads((tmp_path / "eval" / "eval_info.json").read_text())
    assert len(info["per_episode"]) == 2
    assert j["result"]["summary"]["kept"] == sum(e["success"] for e in info["per_episode"])
