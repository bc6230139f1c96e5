"""The studio's settings: where it binds, which token guards it, which folder it serves."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def is_default_bind(host: str) -> bool:
    """True only for the default loopback address (127.0.0.1, ::1, localhost): every other bind needs the token.

    127.0.0.2 is loopback-range but not the default: it is treated like any other address, so the
    token rule can be exercised without opening a port to the network."""
    if host in ("localhost",):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return str(ip) in ("127.0.0.1", "::1")


@dataclass
class StudioConfig:
    """host/port: the bind address. root: the folder whose recordings and datasets the pages list
    (and where the record page writes, relative paths resolve under it). token: required on every
    request and websocket when not None; generated when the bind is not the default loopback and none
    is given. cache_dir: MP4s encoded on request for HDF5 cameras (default ``<root>/.armtwin-studio``).
    view: a single file or dataset to open in the viewer (``armtwin view PATH``)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    root: str | Path = "."
    token: str | None = None
    cache_dir: str | Path | None = None
    view: str | Path | None = None

    def __post_init__(self):
        if not isinstance(self.port, int) or not (0 <= self.port <= 65535):
            raise ValueError(f"port must be an integer 0..65535 (0: any free port), got {self.port!r}")
        self.root = Path(self.root).expanduser().resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"--root {self.root} is not a directory")
        if self.view is not None:
            self.view = Path(self.view).expanduser().resolve()
            if not self.view.exists():
                raise FileNotFoundError(f"nothing to view at {self.view}: give an .h5 recording or a LeRobot dataset folder")
        if self.token is not None and len(self.token) < 8:
            raise ValueError("token must be at least 8 characters")
        if self.token is None and not is_default_bind(self.host):
            self.token = secrets.token_urlsafe(16)
        self.cache_dir = Path(self.cache_dir) if self.cache_dir is not None else self.root / ".armtwin-studio"

    @property
    def url(self) -> str:
        """The address to open in a browser (with the token when one is required)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        q = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{q}"
