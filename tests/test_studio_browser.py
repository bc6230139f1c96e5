"""The studio in a real headless Chromium (Debian's chromium, driven by Playwright): the record page on the
scripted leader and the sim target, a lost websocket mid-episode, the dataset page on a converted LeRobot
dataset (video plays, plots drawn), a non-default bind refusing a browser without the token. Each page's
screenshot goes to $ARMTWIN_SCREENSHOTS/studio-*.png (docs/ to refresh the README's; a temp folder otherwise)."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("fastapi", reason="the studio needs the [studio] extra (fastapi, uvicorn)")
pytest.importorskip("playwright", reason="the browser tests need the [studio] extra (playwright)")
if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("the browser tests need Debian's chromium (apt-get install chromium; ./dev.sh installs it as root)",
                allow_module_level=True)

from armtwin.data import open_recording  # noqa: E402
from armtwin.studio.config import StudioConfig  # noqa: E402
from convert_data import write_synthetic_recording  # noqa: E402
from studio_server import browser, inner, live_server, shot  # noqa: E402

VIEW = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def _connect(page, url, record):
    page.goto(url + "/record")
    page.wait_for_selector("#env_id option", state="attached")
    page.select_option("#leader", "scripted")
    page.fill("#record", record)
    page.fill("#image_size", "96x96")
    page.click("#connect")
    page.wait_for_function("window.studio.status && window.studio.status.connected && window.studio.status.running",
                           timeout=60000)


def test_record_page_records_an_episode(tmp_path, chromium):
    with live_server(StudioConfig(port=0, root=tmp_path)) as (url, app):
        page = chromium.new_page(viewport=VIEW)
        _connect(page, url, "rec/demo.h5")
        page.keyboard.press(" ")  # the start shortcut
        page.wait_for_function("window.studio.status.state === 'recording' && window.studio.framesReceived > 30",
                               timeout=20000)
        n0 = page.evaluate("window.studio.framesReceived")
        time.sleep(1.0)
        assert page.evaluate("window.studio.framesReceived") > n0 + 15, "camera frames keep arriving"
        assert set(page.evaluate("Object.keys(window.studio.frames)")) == {"wrist", "front"}
        assert page.evaluate("document.getElementById('cam-wrist').width") == 96, "frames drawn at the recorded size"
        assert page.evaluate("window.studio.shown.wrist") > 15, "frames decoded into view, not only received"
        lit = page.evaluate("(() => { const c = document.getElementById('cam-wrist');"
                            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                            " let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] + d[i + 1] + d[i + 2] > 0; return n; })()")
        assert lit > 96 * 96 // 2, f"the camera picture is drawn ({lit} of {96 * 96} pixels not black)"
        shot(page, "record")
        page.click("[data-cmd=success]")
        page.wait_for_function("window.studio.status.saved >= 1", timeout=10000)
        steps = page.evaluate("window.studio.status.results[0].steps")
        page.click("#disconnect")
        page.wait_for_function("!window.studio.status.connected", timeout=15000)
    with open_recording(tmp_path / "rec" / "demo.h5") as f:
        eps = list(f)
        assert len(eps) == 1 and eps[0].num_samples == steps > 0


def test_lost_websocket_keeps_the_partial_episode(tmp_path, chromium):
    with live_server(StudioConfig(port=0, root=tmp_path)) as (url, app):
        page = chromium.new_page(viewport=VIEW)
        _connect(page, url, "lost.h5")
        page.click("[data-cmd=start]")
        page.wait_for_function("window.studio.status.state === 'recording' && window.studio.status.episode_steps > 10",
                               timeout=20000)
        page.close()  # the tab goes away mid-episode
        ctl = inner(app).state.record
        assert ctl.wait_stopped(10.0), "the loop stopped: the follower holds"
        assert ctl.session.loop.results and ctl.session.loop.results[-1].success is False
        ctl.disconnect()
    with open_recording(tmp_path / "lost.h5") as f:
        eps = list(f)
        assert len(eps) == 1 and eps[0].num_samples > 10 and eps[0].success is False


def test_dataset_page_plays_video_and_draws_plots(tmp_path, chromium):
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot

    rec = write_synthetic_recording(tmp_path / "rec.h5", lengths=(60, 45, 50), success=[True, False, True])
    export_lerobot(LeRobotExportConfig(inputs=(rec,), repo_id="u/s", root=tmp_path / "ds", vcodec="h264",
                                       episodes="all", progress=False))
    with live_server(StudioConfig(port=0, root=tmp_path)) as (url, app):
        page = chromium.new_page(viewport=VIEW)
        page.goto(url + "/dataset?path=ds")
        page.wait_for_function("window.studio.episode && document.querySelectorAll('video').length === 2", timeout=20000)
        assert page.evaluate("document.querySelectorAll('#episodes tr[id]').length") == 3
        page.wait_for_function("document.querySelector('video').readyState >= 2", timeout=20000)
        page.click("#play")
        page.wait_for_function("document.querySelector('video').currentTime > 0.5", timeout=10000)
        assert int(page.evaluate("document.getElementById('plot-0').dataset.drawn")) == 2 * 60, "state+action drawn"
        assert page.evaluate("+document.getElementById('scrub').value") > 0, "the plots' cursor follows the video"
        shot(page, "dataset")
        # an HDF5 recording's cameras: MP4s encoded on request
        page.goto(url + "/dataset?path=rec.h5")
        page.wait_for_function("window.studio.episode && window.studio.episode.cameras.length === 2", timeout=30000)
        page.wait_for_function("document.querySelector('video').readyState >= 2", timeout=30000)
        page.goto(url + "/jobs")
        page.wait_for_selector("#kind option", state="attached")
        page.select_option("#kind", "convert_lerobot")
        page.fill("#p-inputs", "rec.h5")
        page.fill("#p-root", "ds2")
        page.select_option("#p-vcodec", "h264")
        page.click("#start")
        page.wait_for_function("document.querySelector('#job-1') && /done/.test(document.querySelector('#job-1').textContent)",
                               timeout=120000)
        shot(page, "jobs")


def test_non_default_bind_refuses_a_browser_without_the_token(tmp_path, chromium):
    cfg = StudioConfig(host="127.0.0.2", port=0, root=tmp_path)
    with live_server(cfg) as (url, app):
        page = chromium.new_page()
        r = page.goto(url + "/record")
        assert r.status == 401 and "token" in page.content()
        r = page.goto(url + f"/record?token={cfg.token}")
        assert r.status == 200
        page.wait_for_selector("#env_id option", state="attached")  # its fetches carried the cookie
        page.wait_for_function("window.studio.status !== null", timeout=10000)  # and its websocket
