"""Read-your-writes in distributed mode: poll the projector's per-partition offsets.

However many requests wait (a join storm, REST sends), each partition is polled by one task
at a time, every ``poll_seconds`` while anyone waits on it; a store error reaches the
requests waiting at that moment, as if each had polled itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from streams.log import ProjectionProgress

__all__ = ["TrackedProgress"]


class OffsetTracker(Protocol):
    async def tracked(self, name: str, partition: int) -> int: ...


class TrackedProgress(ProjectionProgress):
    def __init__(self, tracker: OffsetTracker, name: str, poll_seconds: float = 0.02) -> None:
        self._tracker = tracker
        self._name = name
        self._poll = poll_seconds
        self._seen: dict[int, int] = {}
        """partition -> the highest offset seen tracked."""
        self._waiting: dict[int, list[tuple[int, asyncio.Future[None]]]] = {}
        self._pollers: dict[int, asyncio.Task[None]] = {}

    async def wait_for(self, offset: int, timeout: float, partition: int = 0) -> bool:
        if self._seen.get(partition, -1) >= offset:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (offset, waiter)
        self._waiting.setdefault(partition, []).append(entry)
        if partition not in self._pollers:
            self._pollers[partition] = asyncio.create_task(
                self._run(partition), name=f"tracking-poll-{partition}"
            )
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._waiting.get(partition, []).remove(entry)
        return True

    async def _run(self, partition: int) -> None:
        try:
            while self._waiting.get(partition):
                try:
                    tracked = await self._tracker.tracked(self._name, partition)
                except Exception as exc:
                    for _, waiter in self._waiting.pop(partition, []):
                        if not waiter.done():
                            waiter.set_exception(exc)
                    return
                self._seen[partition] = max(tracked, self._seen.get(partition, -1))
                still = []
                for offset, waiter in self._waiting.get(partition, []):
                    if offset <= tracked:
                        if not waiter.done():
                            waiter.set_result(None)
                    elif not waiter.done():
                        still.append((offset, waiter))
                self._waiting[partition] = still
                if still:
                    await asyncio.sleep(self._poll)
        finally:
            del self._pollers[partition]
