"""Read-your-writes waits: one poll per partition however many wait, errors reach them."""

from __future__ import annotations

import asyncio

import pytest

from projections.store import StoreUnavailable
from streams.progress import TrackedProgress


class Tracker:
    def __init__(self) -> None:
        self.offsets: dict[int, int] = {}
        self.calls = 0
        self.failing = False

    async def tracked(self, name: str, partition: int) -> int:
        self.calls += 1
        await asyncio.sleep(0)
        if self.failing:
            raise StoreUnavailable("cassandra: down")
        return self.offsets.get(partition, -1)


async def test_many_waiters_share_one_poll_per_partition() -> None:
    tracker = Tracker()
    progress = TrackedProgress(tracker, "events", poll_seconds=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    wanted = [10 + i % 5 for i in range(200)]
    waits = [asyncio.create_task(progress.wait_for(w, 10, partition=0)) for w in wanted]
    other = asyncio.create_task(progress.wait_for(3, 10, partition=1))
    await asyncio.sleep(0.05)
    tracker.offsets = {0: 12, 1: 3}
    assert await other
    reached = [t for t, w in zip(waits, wanted, strict=True) if w <= 12]
    assert all(await asyncio.wait_for(asyncio.gather(*reached), 10))
    assert not any(t.done() for t, w in zip(waits, wanted, strict=True) if w > 12)
    # One poll per partition per period, whatever the number of waiters (201 here).
    assert tracker.calls <= 2 * ((loop.time() - started) / 0.01 + 2)
    tracker.offsets[0] = 14
    assert all(await asyncio.wait_for(asyncio.gather(*waits), 10))
    assert await progress.wait_for(14, 0.01)  # known already: no poll needed


async def test_a_wait_times_out_and_a_store_error_reaches_the_waiters() -> None:
    tracker = Tracker()
    progress = TrackedProgress(tracker, "events", poll_seconds=0.01)
    assert await progress.wait_for(5, 0.05) is False
    tracker.failing = True
    with pytest.raises(StoreUnavailable):
        await progress.wait_for(5, 10)
    tracker.failing = False
    tracker.offsets[0] = 5
    assert await progress.wait_for(5, 10)  # polling starts again for the next waiter
