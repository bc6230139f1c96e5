"""``armtwin convert lerobot --push`` offline: everything real up to the HTTP layer.

huggingface_hub sends every request through a ``requests.Session`` from its configurable backend
factory; the test mounts a transport adapter that answers like the hub's REST API (create repo,
preupload, commit, tags) and records what was sent. Nothing above the transport is stubbed, so the
test sees the exact bytes LeRobot's ``push_to_hub`` would upload.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
import requests
from requests.adapters import BaseAdapter

sys.path.insert(0, str(Path(__file__).parent))
from armtwin.assets import so101_constants as C  # noqa: E402
from convert_data import write_synthetic_recording  # noqa: E402

# Every test here reads or drives LeRobot: skipped with a reason where it is not installed (conftest).
pytestmark = pytest.mark.lerobot


class FakeHubAdapter(BaseAdapter):
    """The hub's REST endpoints used by an upload; every request is kept in ``self.calls``."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.committed: dict[str, bytes] = {}
        self.tags: list[str] = []

    def send(self, request, **kwargs):
        self.calls.append((request.method, request.url))
        path = request.url.split("huggingface.co", 1)[-1]
        body = request.body
        if body is not None and not isinstance(body, (bytes, str)):
            body = b"".join(x if isinstance(x, bytes) else x.encode() for x in body)
        if isinstance(body, str):
            body = body.encode()
        if request.method == "POST" and path.startswith("/api/repos/create"):
            return self._json(request, {"url": "https://huggingface.co/datasets/" + json.loads(body)["name"]})
        if request.method == "POST" and "/preupload/" in path:
            files = json.loads(body)["files"]
            return self._json(request, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                  for f in files], "commitOid": "0" * 40})
        if request.method == "POST" and "/commit/" in path:
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    self.committed[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            return self._json(request, {"commitUrl": "https://huggingface.co/datasets/x/commit/" + "a" * 40,
                                        "commitOid": "a" * 40})
        if request.method == "GET" and "/revision/" in path:  # repo info (asks whether Xet storage is on)
            repo = path.split("/api/datasets/", 1)[1].split("/revision/")[0]
            return self._json(request, {"id": repo, "sha": "a" * 40, "xetEnabled": False, "siblings": [],
                                        "private": False})
        if request.method == "POST" and path.startswith("/api/validate-yaml"):  # dataset card metadata check
            return self._json(request, {"errors": [], "warnings": []})
        if request.method == "DELETE" and "/tag/" in path:
            return self._json(request, {"error": "Revision Not Found"}, 404, {"X-Error-Code": "RevisionNotFound"})
        if request.method == "POST" and "/tag/" in path:
            self.tags.append(json.loads(body)["tag"])
            return self._json(request, {})
        return self._json(request, {"error": f"unexpected {request.method} {path}"}, 500)

    @staticmethod
    def _json(request, payload, status=200, headers=None):
        r = requests.Response()
        r.status_code = status
        r._content = json.dumps(payload).encode()
        r.headers.update({"Content-Type": "application/json", **(headers or {})})
        r.url = request.url
        r.request = request
        return r

    def close(self):
        pass


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    adapter = FakeHubAdapter()

    def factory():
        s = requests.Session()
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    monkeypatch.setenv("HF_TOKEN", "hf_offline_test_token")
    huggingface_hub.configure_http_backend(backend_factory=factory)
    yield adapter
    huggingface_hub.configure_http_backend()


def test_push_uploads_every_file(tmp_path, fake_hub, capsys):
    from armtwin.cli import main

    rec = write_synthetic_recording(tmp_path / "rec.h5", lengths=(6, 5), image_size=(32, 48))
    root = tmp_path / "ds"
    rc = main(["convert", "lerobot", str(rec), "--repo-id", "armtwin/pushed", "--root", str(root), "--vcodec", "h264",
               "--quiet", "--push"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "pushed to https://huggingface.co/datasets/armtwin/pushed" in captured.out
    local = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert {k for k in local} <= set(fake_hub.committed), f"not uploaded: {set(local) - set(fake_hub.committed)}"
    for k, data in local.items():
        assert fake_hub.committed[k] == data, k
    assert "README.md" in fake_hub.committed and C.LEROBOT_ROBOT_TYPE.encode() in fake_hub.committed["README.md"]
    assert fake_hub.tags == ["v3.0"]
    assert any(m == "POST" and "/api/repos/create" in u for m, u in fake_hub.calls)


def test_push_failure_keeps_local_dataset(tmp_path, fake_hub, capsys, monkeypatch):
    from armtwin.cli import main

    def refuse(self, request, **kwargs):
        return FakeHubAdapter._json(request, {"error": "Invalid credentials"}, 401)

    monkeypatch.setattr(FakeHubAdapter, "send", refuse)
    rec = write_synthetic_recording(tmp_path / "rec.h5", lengths=(4,), image_size=(32, 48))
    root = tmp_path / "ds"
    rc = main(["convert", "lerobot", str(rec), "--repo-id", "armtwin/p2", "--root", str(root), "--vcodec", "h264",
               "--quiet", "--push"])
    assert rc == 1
    assert "upload failed" in capsys.readouterr().err
    assert (root / "meta/info.json").is_file()
