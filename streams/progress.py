"""Read-your-writes in distributed mode: poll the projector's per-partition offsets."""

from __future__ import annotations

import asyncio
import time
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

    async def wait_for(self, offset: int, timeout: float, partition: int = 0) -> bool:
        deadline = time.monotonic() + timeout
        while await self._tracker.tracked(self._name, partition) < offset:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(self._poll)
        return True
