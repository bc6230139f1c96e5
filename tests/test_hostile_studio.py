"""Hostile web pages against the studio (it can drive a real arm): a foreign page's form post, fetch or
websocket, and a DNS-rebinding page that renamed itself to 127.0.0.1, are refused before the app runs
anything; the studio's own page (served Host and Origin, JSON) is served as before."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the studio needs the [studio] extra (fastapi, uvicorn)")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from armtwin.studio.app import create_app  # noqa: E402
from armtwin.studio.config import StudioConfig  # noqa: E402
from studio_server import inner  # noqa: E402

PORT = 8765
EVIL = "http://evil.example"
# What a net-leader session opened from a hostile page would ask for (never reached here: the
# refusals below come first; on a gate that let it through, the app answers 400 for "bogus").
WS = f"ws://127.0.0.1:{PORT}/ws/record"  # TestClient's websockets ignore base_url: the full address
CONNECT = '{"leader": "net", "net_listen": "0.0.0.0:5555", "bogus": 1}'


@pytest.fixture
def client(tmp_path):
    app = create_app(StudioConfig(port=PORT, root=tmp_path))
    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}") as c:
        yield c, inner(app).state.record


def test_cross_site_text_plain_post_is_refused(client):
    c, controller = client
    # A foreign page's form/fetch post: its own Origin, text/plain (no CORS preflight).
    r = c.post("/api/record/connect", content=CONNECT,
               headers={"origin": EVIL, "content-type": "text/plain"})
    assert r.status_code == 403 and "Origin 'http://evil.example'" in r.text
    # A DNS-rebinding page: evil.example now resolves to 127.0.0.1, so Host and Origin are its name.
    r = c.post("/api/record/connect", content=CONNECT,
               headers={"origin": f"{EVIL}:{PORT}", "host": f"evil.example:{PORT}", "content-type": "text/plain"})
    assert r.status_code == 403 and "Host 'evil.example:8765'" in r.text
    # No Origin (a non-browser client) but not JSON: refused before the body is parsed.
    r = c.post("/api/record/connect", content=CONNECT, headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.text
    r = c.post("/api/record/command/start")  # no content type at all
    assert r.status_code == 415
    assert controller.snapshot()["connected"] is False


def test_rebinding_page_cannot_read_either(client):
    c, _ = client
    assert c.get("/api/datasets", headers={"host": f"evil.example:{PORT}"}).status_code == 403
    # a loopback name on another port is this server reached through a tunnel (ssh -L 9000:127.0.0.1:PORT)
    for host in (f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}", "localhost:9000"):
        assert c.get("/api/datasets", headers={"host": host}).status_code == 200, host


def test_the_pages_own_requests_pass(client):
    c, _ = client
    for host, origin in ((f"127.0.0.1:{PORT}", f"http://127.0.0.1:{PORT}"), (f"localhost:{PORT}", f"http://localhost:{PORT}"),
                         ("localhost:9000", "http://localhost:9000"), (f"127.0.0.1:{PORT}", None)):
        h = {"content-type": "application/json", "host": host, **({"origin": origin} if origin else {})}
        r = c.post("/api/record/connect", content=CONNECT, headers=h)
        assert r.status_code == 400 and "bogus" in r.json()["detail"], "reached the app (its own validation)"
    # another local port's page (localhost:3000) posting to this server is another site
    r = c.post("/api/record/connect", content=CONNECT, headers={"content-type": "application/json",
                                                                 "origin": "http://localhost:3000"})
    assert r.status_code == 403 and f"expected 'http://127.0.0.1:{PORT}'" in r.text


def test_foreign_pages_cannot_make_the_studio_work(client, tmp_path):
    """A foreign page's <video src="http://127.0.0.1:PORT/api/dataset/video?..."> (a plain GET, no Origin)
    would make the studio encode an MP4; the browser's fetch metadata names it cross-site (another port on
    this machine: same-site), and it is refused before the app runs."""
    c, _ = client
    video = "/api/dataset/video?path=rec.h5&demo=demo_0&camera=front"
    for site in ("cross-site", "same-site", "Cross-Site"):
        for url in (video, "/api/datasets", "/files/rec.h5"):
            r = c.get(url, headers={"sec-fetch-site": site, "sec-fetch-dest": "video"})
            assert r.status_code == 403 and f"Sec-Fetch-Site {site!r}" in r.text, (site, url)
    # the studio's own page, the user opening an address, and clients without fetch metadata reach the app
    for h in ({"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}, {}):
        assert c.get("/api/datasets", headers=h).status_code == 200, h
        assert c.get(video, headers=h).status_code in (404, 422), h  # the app's own answer: no such recording
    # pages are not data: a link from another site still opens the studio
    assert c.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-dest": "document"}).status_code == 200


@pytest.mark.parametrize("headers", [{"origin": EVIL}, {"origin": f"http://127.0.0.1:{PORT + 1}"},
                                     {"origin": "null"}, {"host": f"evil.example:{PORT}"}])
def test_foreign_websocket_is_refused(client, headers):
    c, controller = client
    with pytest.raises(WebSocketDisconnect) as e:
        with c.websocket_connect(WS, headers=headers) as ws:
            ws.receive_text()
    assert e.value.code == 4403
    assert controller.encoder.clients == 0


def test_own_websocket_is_accepted(client):
    c, _ = client
    with c.websocket_connect(WS, headers={"origin": f"http://127.0.0.1:{PORT}"}) as ws:
        assert '"type": "status"' in ws.receive_text()


def test_token_bind_also_checks_origin(tmp_path):
    cfg = StudioConfig(host="127.0.0.2", port=PORT, root=tmp_path)
    c = TestClient(create_app(cfg), base_url=f"http://127.0.0.2:{PORT}")
    tok = {"x-armtwin-token": cfg.token, "content-type": "application/json"}
    r = c.post("/api/record/connect", content=CONNECT, headers={**tok, "origin": EVIL})
    assert r.status_code == 403
    r = c.post("/api/record/connect", content=CONNECT, headers={**tok, "origin": f"http://127.0.0.2:{PORT}"})
    assert r.status_code == 400 and "bogus" in r.json()["detail"]
    r = c.post("/api/record/connect", content=CONNECT, headers={"x-armtwin-token": cfg.token,
                                                                 "content-type": "text/plain"})
    assert r.status_code == 415
    with pytest.raises(WebSocketDisconnect) as e:
        with c.websocket_connect(f"ws://127.0.0.2:{PORT}/ws/record?token={cfg.token}", headers={"origin": EVIL}) as ws:
            ws.receive_text()
    assert e.value.code == 4403
