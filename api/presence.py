"""Device presence for one gateway: online on first connection, offline after a grace period.

A device that reconnects within the grace period (a flaky network, a page reload) never
appears offline. Changes are logged as PresenceChanged events through the command bus.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import structlog

from domain.values import PresenceStatus

__all__ = ["PresenceTracker"]

log = structlog.get_logger(__name__)

Emit = Callable[[str, str, PresenceStatus], Awaitable[None]]


class PresenceTracker:
    def __init__(self, emit: Emit, grace_seconds: float) -> None:
        self._emit = emit
        self._grace = grace_seconds
        self._connections: Counter[tuple[str, str]] = Counter()
        self._pending_offline: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def connected(self, user_id: str, device_id: str) -> None:
        key = (user_id, device_id)
        self._connections[key] += 1
        pending = self._pending_offline.pop(key, None)
        if pending is not None:
            pending.cancel()
        elif self._connections[key] == 1:
            await self._safe_emit(user_id, device_id, PresenceStatus.ONLINE)

    def disconnected(self, user_id: str, device_id: str) -> None:
        key = (user_id, device_id)
        self._connections[key] -= 1
        if self._connections[key] <= 0:
            del self._connections[key]
            self._schedule_offline(key)

    def adopt_stale(self, devices: list[tuple[str, str]]) -> None:
        """Devices the projections still show online from an earlier run go offline after
        the grace period unless they reconnect."""
        for key in devices:
            if key not in self._connections and key not in self._pending_offline:
                self._schedule_offline(key)

    def _schedule_offline(self, key: tuple[str, str]) -> None:
        loop = asyncio.get_running_loop()
        self._pending_offline[key] = loop.call_later(self._grace, self._go_offline, key)

    def _go_offline(self, key: tuple[str, str]) -> None:
        self._pending_offline.pop(key, None)
        task = asyncio.ensure_future(self._safe_emit(*key, PresenceStatus.OFFLINE))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _safe_emit(self, user_id: str, device_id: str, status: PresenceStatus) -> None:
        try:
            await self._emit(user_id, device_id, status)
        except Exception:
            log.exception("presence_change_failed", user_id=user_id, device_id=device_id)

    async def close(self) -> None:
        for handle in self._pending_offline.values():
            handle.cancel()
        self._pending_offline.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
