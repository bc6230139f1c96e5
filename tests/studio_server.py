"""Helpers for the studio tests: a live server on a free port (uvicorn in a thread) and headless Chromium."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def live_server(config):
    """Serve ``create_app(config)`` on ``config.host:config.port`` (port 0: a free one) until the block ends;
    yields ``(base url, app)``."""
    import uvicorn

    from armtwin.studio.app import create_app

    if config.port == 0:
        config.port = free_port(config.host)
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                           ws_ping_interval=1.0, ws_ping_timeout=1.0))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    t0 = time.time()
    while not server.started:
        if time.time() - t0 > 20:
            raise RuntimeError("studio server did not start")
        time.sleep(0.05)
    try:
        yield f"http://{config.host}:{config.port}", app
    finally:
        server.should_exit = True
        t.join(15)


def inner(app):
    """The FastAPI app under the request gate (its ``state``)."""
    return getattr(app, "app", app)


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield b
        finally:
            b.close()


def shot(page, name: str) -> Path:
    """Save a PNG of ``page`` as studio-<name>.png in ``$ARMTWIN_SCREENSHOTS`` (to refresh the README's
    pictures: ``ARMTWIN_SCREENSHOTS=docs ./dev.sh test tests/test_studio_browser.py``), else in a
    temporary folder: a test run leaves the tracked files alone."""
    import os
    import tempfile

    folder = Path(os.environ.get("ARMTWIN_SCREENSHOTS") or tempfile.mkdtemp(prefix="armtwin-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"studio-{name}.png"
    page.screenshot(path=str(out), full_page=True)
    return out
