"""A small TCP fault proxy (toxiproxy is not installable here; see docs/guarantees.md).

It forwards 127.0.0.1:<listen> to a target and, on command, adds latency, cuts every open
connection (RST), or blackholes traffic: connections stay open and nothing gets through,
neither data nor FIN, the case only timeouts and heartbeats detect. As in a real network
partition, TCP loses no bytes: what was held flows once the blackhole ends, unless a peer
gave up on the connection first. It runs its own event loop in a thread, so tests drive it
with plain method calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

__all__ = ["FaultProxy"]


class FaultProxy:
    def __init__(self, listen_port: int, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.listen_port = listen_port
        self.target = (target_host, target_port)
        self.latency = 0.0
        """Seconds added to every chunk, each direction (order is kept)."""
        self._flowing: asyncio.Event | None = None
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ------------------------------------------------------------------ faults

    def set_latency(self, seconds: float) -> None:
        self.latency = seconds

    def blackhole(self, on: bool = True) -> None:
        flowing = self._flowing
        assert flowing is not None, "start the proxy first"
        self._loop.call_soon_threadsafe(flowing.clear if on else flowing.set)

    def cut(self) -> int:
        """Resets every open connection; returns how many sockets were cut."""
        return self._call(self._cut())

    # ------------------------------------------------------------------ plumbing

    def _call(self, coroutine: Coroutine[Any, Any, int]) -> int:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> int:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)
        return 0

    async def _stop(self) -> int:
        if self._server is not None:
            self._server.close()
        return await self._cut()

    async def _cut(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self._writers.clear()
        return len(writers)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)  # either side closed
        for pump in pumps:
            pump.cancel()
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while chunk := await reader.read(65536):
                assert self._flowing is not None
                await self._flowing.wait()  # held while blackholed
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(chunk)
                await writer.drain()
