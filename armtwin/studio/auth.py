"""The token gate: with a token set, every HTTP request and websocket must carry it.

A request carries it as ``?token=...`` (the link printed at start), the ``x-armtwin-token`` header,
or the ``armtwin_token`` cookie; the gate sets that cookie on the response to a request that
brought the token in the query, so the page's own fetches, media and websockets carry it after the
first load. Everything else is refused: HTTP 401, a websocket closed with code 4401 before accept.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

COOKIE = "armtwin_token"
HEADER = b"x-armtwin-token"


class TokenGate:
    """ASGI middleware: ``TokenGate(app, token)``; ``token`` None lets everything through."""

    def __init__(self, app, token: str | None):
        self.app = app
        self.token = token

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

    async def __call__(self, scope, receive, send):
        if self.token is None or scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        got, in_query = self._presented(scope)
        ok = got is not None and hmac.compare_digest(got.encode(), self.token.encode())
        if not ok:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 4401, "reason": "armtwin studio: token required"})
                return
            body = b"armtwin studio: this server needs its token (open the link printed at start: ...?token=...)"
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if not (in_query and scope["type"] == "http"):
            return await self.app(scope, receive, send)
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=list(message.get("headers", [])) + [(b"set-cookie", cookie)])
            await send(message)

        return await self.app(scope, receive, send_with_cookie)
