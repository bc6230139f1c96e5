"""The request gate in front of the studio: who may reach it (Host, Origin), what it accepts, and its token.

Any web page the user opens can make the browser send requests to a server on this machine, and
a DNS-rebinding page can even make them look same-origin; the studio can drive a real arm, so
every bind checks, before the app sees a request:

* **Host** (loopback binds: 127.0.0.1, ::1, localhost): the ``Host`` header must name a loopback
  address (``127.0.0.1``, ``[::1]``, ``localhost``) with the port being served. A rebinding page
  sends its own name there, and is refused.
* **Origin**, on every state-changing request (any method but GET/HEAD/OPTIONS) and every
  websocket: when the header is present it must be the served origin (loopback: ``http://`` + a
  loopback name + the served port; other binds: ``http://`` + the request's ``Host``). A foreign
  page's ``fetch``, form post or websocket carries its own origin, and is refused.
* **Fetch metadata**, on every request under ``/api/`` and ``/files/`` (reads too): when the browser
  says where the request comes from (``Sec-Fetch-Site``, sent by Chromium, Firefox and Safari), it must
  be ``same-origin`` (the studio's page) or ``none`` (the user opened the address). A foreign page's
  ``<video>``, ``<img>`` or ``fetch`` of a studio address is ``cross-site`` (another port on this machine:
  ``same-site``) and is refused before the studio reads, encodes or sends anything: without this a page
  could make the studio spend CPU and disk encoding videos, though never read the result. Clients that
  send no fetch metadata (curl, scripts) are not affected.
* **Content-Type**: a state-changing request under ``/api/`` must be ``application/json``; a
  cross-origin page can only send that after a CORS preflight, which the studio never grants
  (a ``text/plain`` or form post is refused before its body is read).
* **Token** (set whenever the bind is not the default loopback): carried as ``?token=...`` (the
  link printed at start), the ``x-armtwin-token`` header, or the ``armtwin_token`` cookie; the
  gate sets that cookie (HttpOnly, SameSite=Strict) on the response to a request that brought the
  token in the query, so the page's own fetches, media and websockets carry it after the first load.

Refusals: HTTP 403 (Host, Origin, fetch metadata), 415 (Content-Type), 401 (token); a websocket is closed before
accept with code 4403 (Host, Origin) or 4401 (token).
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

COOKIE = "armtwin_token"
HEADER = b"x-armtwin-token"
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Paths whose requests do work or send data: only the studio's own page (or the user) may ask.
GUARDED_PREFIXES = ("/api/", "/files/")
#: ``Sec-Fetch-Site`` values that are the studio's page or the user, not another page.
OWN_FETCH_SITES = ("same-origin", "none")


def _split_host(value: str, default_port: int) -> tuple[str, int | None]:
    """``"name:port"`` / ``"[::1]:port"`` -> (lower-case name without brackets, port; None if malformed)."""
    try:
        u = urlsplit("//" + value)
        port = u.port if u.port is not None else default_port
    except ValueError:
        return "", None
    return (u.hostname or "").lower(), port


class RequestGate:
    """ASGI middleware: ``RequestGate(app, token, loopback=..., port=...)``.

    token: required on every request when not None. loopback: the server is bound to a loopback
    address (the Host check applies). port: the served port, used when the ASGI scope does not
    say which port the connection came in on. ``.app`` is the wrapped app."""

    def __init__(self, app, token: str | None, *, loopback: bool, port: int):
        self.app = app
        self.token = token
        self.loopback = loopback
        self.port = port

    # ---------------------------------------------------------------- checks
    def _served_port(self, scope) -> int:
        server = scope.get("server")
        return int(server[1]) if server and server[1] is not None else self.port

    def _where_refused(self, scope, headers: dict[bytes, str]) -> str | None:
        """Why the Host or Origin is refused, None when both are fine."""
        host = headers.get(b"host")
        if host is None:
            return "the request has no Host header"
        port = self._served_port(scope)
        if self.loopback:
            # The name is what DNS rebinding changes; the port may differ (an ssh -L tunnel to this
            # server from another local port), so only the name is checked.
            name, _ = _split_host(host, 80)
            if name not in LOOPBACK_NAMES:
                return (f"Host {host!r} is not this server (it serves loopback: 127.0.0.1:{port}, [::1]:{port} "
                        f"or localhost:{port}; a page that renamed itself to this address is refused)")
        site = headers.get(b"sec-fetch-site")
        if (scope["type"] == "http" and site is not None and site.lower() not in OWN_FETCH_SITES
                and scope.get("path", "").startswith(GUARDED_PREFIXES)):
            return (f"Sec-Fetch-Site {site!r}: {scope.get('path')} answers the studio's own page only "
                    f"(requests from other pages are refused)")
        state_changing = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        origin = headers.get(b"origin")
        # Same origin: the page that sends it was served by the address the browser reached this
        # server at (another local port's page, e.g. localhost:3000, is another site).
        expected = f"http://{host}"
        if state_changing and origin is not None and origin != expected:
            return (f"Origin {origin!r} is not this server's page (expected {expected!r}); requests from other "
                    "sites are refused")
        return None

    @staticmethod
    def _needs_json(scope, headers: dict[bytes, str]) -> bool:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            return False
        if not scope.get("path", "").startswith("/api/"):
            return False
        ctype = headers.get(b"content-type", "").split(";", 1)[0].strip().lower()
        return ctype != "application/json"

    def _presented(self, scope) -> tuple[str | None, bool]:
        """(token found, whether it came in the query string)."""
        q = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if q:
            return q[0], True
        for k, v in scope.get("headers", []):
            if k == HEADER:
                return v.decode("latin-1"), False
            if k == b"cookie":
                c = SimpleCookie()
                try:
                    c.load(v.decode("latin-1"))
                except Exception:  # noqa: BLE001 - a malformed cookie header is no token
                    continue
                if COOKIE in c:
                    return c[COOKIE].value, False
        return None, False

    # ---------------------------------------------------------------- ASGI
    @staticmethod
    async def _refuse(scope, receive, send, status: int, ws_code: int, text: str):
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            # a close frame's reason is at most 123 bytes of UTF-8
            reason = f"armtwin studio: {text}".encode()[:123].decode("utf-8", "ignore")
            await send({"type": "websocket.close", "code": ws_code, "reason": reason})
            return
        body = f"armtwin studio: {text}".encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        why = self._where_refused(scope, headers)
        if why is not None:
            return await self._refuse(scope, receive, send, 403, 4403, why)
        in_query = False
        if self.token is not None:
            got, in_query = self._presented(scope)
            if got is None or not hmac.compare_digest(got.encode(), self.token.encode()):
                return await self._refuse(scope, receive, send, 401, 4401,
                                          "this server needs its token (open the link printed at start: "
                                          "...?token=...)")
        if self._needs_json(scope, headers):
            return await self._refuse(scope, receive, send, 415, 4415,
                                      f"{scope['method']} {scope['path']} takes Content-Type application/json, "
                                      f"got {headers.get(b'content-type', 'none')!r}")
        if not (in_query and scope["type"] == "http"):
            return await self.app(scope, receive, send)
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=list(message.get("headers", [])) + [(b"set-cookie", cookie)])
            await send(message)

        return await self.app(scope, receive, send_with_cookie)
