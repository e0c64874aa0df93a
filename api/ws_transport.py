"""Writing WebSocket frames straight to the socket, once encoded for every recipient.

Through ASGI, each frame a gateway sends costs an awaited ``send`` down Starlette's and
uvicorn's layers, a task switch to a writer, and its own framing. For fan-out that is most
of the work (ADR 14). :class:`DirectWriteProtocol` is uvicorn's sans-I/O websockets
protocol with one addition: the ASGI scope of each connection carries it under
:data:`EXTENSION`, so the driver can write already-serialised frames to the transport
synchronously, as websockets' ``broadcast()`` does (frames serialised once for all sockets:
``api/ws_frames.py``).

Writes that cannot go straight out (the transport is paused by flow control, or the
connection is not open) are refused, and the driver falls back to ASGI sends, in order.
Under any other ASGI server the extension is absent and the driver only uses ASGI.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

__all__ = ["EXTENSION", "DirectWriteProtocol", "DirectWriter", "direct_writer"]

EXTENSION = "tidings.direct_write"


class DirectWriter:
    """What the driver sees of a :class:`DirectWriteProtocol`."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: DirectWriteProtocol) -> None:
        self._protocol = protocol

    def can_write(self) -> bool:
        """Whether the connection is open and its transport not paused by flow control (a
        writer exists only once the handshake is done)."""
        p = self._protocol
        return (
            p.writable._set  # type: ignore[attr-defined]  # our _Flag
            and not p.close_sent
            and not p.disconnected
            and p.conn.state is State.OPEN
        )

    def write(self, data: bytes) -> None:
        """Writes serialised frames; call only when :meth:`can_write` said yes."""
        self._protocol.transport.write(data)

    def abort(self) -> None:
        """Drops the connection at once (a client that stopped reading)."""
        self._protocol.transport.abort()


class _Mailbox:
    """The ASGI receive queue uvicorn's protocol uses, without asyncio.Queue's four deques
    and event (~2.5 KiB per connection): one consumer, so one waiter at most."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class _Flag:
    """asyncio.Event's interface for the one flag uvicorn's protocol waits on (writable),
    without its deque of waiters (~0.7 KiB per connection)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


class DirectWriteProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets sans-I/O protocol, exposing a :class:`DirectWriter` in the scope
    (when no extension such as compression changes the framing)."""

    CLOSE_TIMEOUT = 2.0
    """Seconds a client gets to answer our close frame before the socket is dropped (a
    client that stopped answering pings will not answer that either)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = self.CLOSE_TIMEOUT
        self.queue = _Mailbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:  # the handshake's request and response are done with
            self.request = self.response = None  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[EXTENSION] = self

    def direct_writer(self) -> DirectWriter | None:
        return None if self.conn.extensions else DirectWriter(self)


def direct_writer(scope: Any) -> DirectWriter | None:
    """The connection's direct writer, if the server provides one."""
    protocol = (scope.get("extensions") or {}).get(EXTENSION)
    return protocol.direct_writer() if isinstance(protocol, DirectWriteProtocol) else None
