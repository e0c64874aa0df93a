"""Device presence for one gateway: online on first connection, offline after a grace period.

A device that reconnects within the grace period (a flaky network, a page reload) never
appears offline, and its reconnect writes nothing. Connections that name no device share
one device per user on this gateway, so a burst of such connections (tabs, retries, a
reconnect storm) writes at most one event. Changes are logged as PresenceChanged events
through the command bus; only real changes are: a device's first connection and its
going offline.

Each user has a budget of presence writes (a token bucket). Past it, changes wait and are
coalesced: when the budget allows again, only the difference between what was last written
and what is true then is written, so devices that came and went meanwhile (connection
churn with new device ids) write nothing, and the log grows at most at the budget's rate
per user however fast connections churn.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import structlog

from api.limits import BucketsByKey, Rate
from domain.values import PresenceStatus

__all__ = ["PresenceTracker"]

log = structlog.get_logger(__name__)

Emit = Callable[[str, str, PresenceStatus], Awaitable[None]]


class PresenceTracker:
    def __init__(self, emit: Emit, grace_seconds: float, budget: Rate | None = None) -> None:
        self._emit = emit
        self._grace = grace_seconds
        self._buckets = BucketsByKey(budget) if budget is not None else None
        self._written: set[tuple[str, str]] = set()
        """Devices whose last written status is online (or that the projections show
        online from an earlier run)."""
        self._wanted: dict[str, dict[str, PresenceStatus]] = {}
        """user -> device -> status not yet written (waiting for the user's budget)."""
        self._waiting: dict[str, asyncio.TimerHandle] = {}
        self._connections: Counter[tuple[str, str]] = Counter()
        self._pending_offline: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._latest: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._unnamed: dict[str, str] = {}
        """user -> the device of their connections that named none, while it is known."""
        self._chosen: set[tuple[str, str]] = set()
        """Devices whose client set a status other than online itself (away, offline)."""

    def device_for(self, user_id: str, requested: str) -> str:
        """The device a connection counts as: the one it names, or the user's unnamed
        device on this gateway (a new one if they have none connected or in grace)."""
        if requested:
            return requested
        device = self._unnamed.get(user_id)
        if device is None:
            device = self._unnamed[user_id] = f"conn-{random.getrandbits(48):012x}"
        return device

    def connected(self, user_id: str, device_id: str) -> None:
        """Counts a connection; the device's first one logs it online, in the background
        (the connection goes on with its commands meanwhile)."""
        key = (user_id, device_id)
        self._connections[key] += 1
        pending = self._pending_offline.pop(key, None)
        if pending is not None:
            pending.cancel()
            if key in self._chosen:  # back within the grace period: a connect is online
                self._chosen.discard(key)
                self._emit_in_order(key, PresenceStatus.ONLINE)
        elif self._connections[key] == 1:
            self._change(key, PresenceStatus.ONLINE)

    def chose(self, user_id: str, device_id: str, status: PresenceStatus) -> None:
        """The device's client set its status itself (the caller logged the change). A
        device connecting again within the grace period is online again all the same."""
        key = (user_id, device_id)
        if status is PresenceStatus.ONLINE:
            self._chosen.discard(key)
        else:
            self._chosen.add(key)

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
            self._written.add(key)
            if key not in self._connections and key not in self._pending_offline:
                self._schedule_offline(key)

    def _schedule_offline(self, key: tuple[str, str]) -> None:
        loop = asyncio.get_running_loop()
        self._pending_offline[key] = loop.call_later(self._grace, self._go_offline, key)

    def _go_offline(self, key: tuple[str, str]) -> None:
        self._pending_offline.pop(key, None)
        self._chosen.discard(key)
        user_id, device_id = key
        if self._unnamed.get(user_id) == device_id:
            del self._unnamed[user_id]
        self._change(key, PresenceStatus.OFFLINE)

    def _change(self, key: tuple[str, str], status: PresenceStatus) -> None:
        user_id, device_id = key
        self._wanted.setdefault(user_id, {})[device_id] = status
        if user_id not in self._waiting:
            self._write_wanted(user_id)

    def _write_wanted(self, user_id: str) -> None:
        """Writes the user's changes that differ from what was written, as far as the
        budget allows; the rest waits for the budget."""
        self._waiting.pop(user_id, None)
        wanted = self._wanted.pop(user_id, {})
        for device_id, status in list(wanted.items()):
            key = (user_id, device_id)
            online = status is not PresenceStatus.OFFLINE
            del wanted[device_id]
            if online == (key in self._written):
                continue  # came and went (or went and came) meanwhile: nothing changed
            wait = self._take(user_id)
            if wait:
                wanted[device_id] = status
                self._wanted[user_id] = wanted
                loop = asyncio.get_running_loop()
                self._waiting[user_id] = loop.call_later(wait, self._write_wanted, user_id)
                return
            if online:
                self._written.add(key)
            else:
                self._written.discard(key)
            self._emit_in_order(key, status)

    def _take(self, user_id: str) -> float:
        if self._buckets is None:
            return 0.0
        return self._buckets.take(user_id, asyncio.get_running_loop().time())

    def _emit_in_order(self, key: tuple[str, str], status: PresenceStatus) -> None:
        """Emits in the background, after the device's previous change (an OFFLINE must
        never overtake the ONLINE it follows)."""
        previous = self._latest.get(key)

        async def emit() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await self._safe_emit(*key, status)

        task = asyncio.ensure_future(emit())
        self._latest[key] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if self._latest.get(key) is finished:
                del self._latest[key]

        task.add_done_callback(done)

    async def _safe_emit(self, user_id: str, device_id: str, status: PresenceStatus) -> None:
        try:
            await self._emit(user_id, device_id, status)
        except Exception:
            log.exception("presence_change_failed", user_id=user_id, device_id=device_id)

    async def close(self) -> None:
        for handle in [*self._pending_offline.values(), *self._waiting.values()]:
            handle.cancel()
        self._pending_offline.clear()
        self._waiting.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
