"""What every request passes before it reaches the application (docs/security.md):

- the Host header must be one the server serves (DNS rebinding: a page on evil.example
  whose name resolves to 127.0.0.1 still sends ``Host: evil.example``);
- a WebSocket handshake from a web page must come from an allowed origin (browsers let any
  page open a socket to any server, with the user's cookies; CORS does not cover
  WebSockets); clients that send no ``Origin`` (native apps, servers) are not web pages;
- a request body may not exceed the limit: refused from its ``Content-Length`` before a
  byte is read, or as soon as a streamed body passes it (and responses say ``nosniff``).

The rules are plain functions of the headers; :class:`EdgeGuard` applies them to ASGI.
"""

from __future__ import annotations

import math
from fnmatch import fnmatch

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["EdgeGuard", "host_allowed", "origin_allowed", "refuse_handshake"]


NOSNIFF = (b"x-content-type-options", b"nosniff")


def _hostname(host_header: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """Whether the Host header names a host this server serves (``*`` is any host,
    ``*.example.com`` any subdomain)."""
    if "*" in allowed:
        return True
    name = _hostname(host_header)
    return any(fnmatch(name, pattern.lower().strip("[]")) for pattern in allowed)


def origin_allowed(
    origin: str | None, host_header: str, secure: bool, allowed: tuple[str, ...]
) -> bool:
    """Whether a WebSocket handshake's Origin may connect: no Origin (not a browser), an
    allowed one, or, when none are configured, the server's own origin."""
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if allowed:
        return "*" in allowed or origin in (o.lower().rstrip("/") for o in allowed)
    own = f"{'https' if secure else 'http'}://{host_header.strip().lower()}"
    return origin == own


def _wanted_headers(scope: Scope) -> tuple[str, str | None, str]:
    """Host, Origin (None when absent) and Content-Length, in one pass over the headers
    (every handshake of a connection storm comes through here)."""
    host, origin, length = "", None, ""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    return host, origin, length


class EdgeGuard:
    """ASGI middleware applying the rules above; refusals are answered here."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: tuple[str, ...],
        origins: tuple[str, ...],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host, origin, length = _wanted_headers(scope)
        if not host_allowed(host, self.hosts):
            await self._refuse(scope, send, 400, "BAD_REQUEST", "this host name is not served")
            return
        if scope["type"] == "websocket":
            secure = scope.get("scheme") == "wss"
            if not origin_allowed(origin, host, secure, self.origins):
                await self._refuse(scope, send, 403, "FORBIDDEN", "origin not allowed")
                return
            await self.app(scope, receive, send)
            return
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._refuse(scope, send, 413, "PAYLOAD_TOO_LARGE", self._too_large)
            return
        await self._bounded(scope, receive, send)

    @property
    def _too_large(self) -> str:
        return f"request bodies are limited to {self.max_body_bytes} bytes"

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Counts a streamed body as the application reads it; past the limit, the
        application sees the client gone and the answer is 413."""
        received = 0
        too_large = started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                too_large = True
                return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # the application's answer to a cut body is replaced below
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), NOSNIFF]
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, send, 413, "PAYLOAD_TOO_LARGE", self._too_large)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        await refuse_handshake(scope, send, status, code, message)


async def refuse_handshake(
    scope: Scope, send: Send, status: int, code: str, message: str, retry_after: float = 0.0
) -> None:
    """Answers a request (or a WebSocket handshake, before the upgrade) with an error body
    ``{"error": {"code", "message", "temporary"}}``."""
    error: dict[str, object] = {"code": code, "message": message, "temporary": bool(retry_after)}
    headers = [(b"content-type", b"application/json"), NOSNIFF]
    if retry_after:
        error["retryAfterMs"] = max(1, math.ceil(retry_after * 1000))
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    body = orjson.dumps({"error": error})
    headers.append((b"content-length", str(len(body)).encode()))
    prefix = "http"
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            # Without the denial-response extension a close is answered with HTTP 403.
            await send({"type": "websocket.close", "code": 1008, "reason": message})
            return
        prefix = "websocket.http"
    await send({"type": f"{prefix}.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}.response.body", "body": body})
