"""Reaping a dead gateway's devices: offline unless the device is held by a live gateway."""

from __future__ import annotations

import pytest

from api.leases import NoLeases, Orphan, reap_once
from domain.values import PresenceStatus


class FakeLeases(NoLeases):
    def __init__(self, orphans: list[Orphan]) -> None:
        self.left = list(orphans)
        self.released: list[Orphan] = []

    async def orphans(self) -> list[Orphan]:
        return list(self.left)

    async def release(self, orphan: Orphan) -> None:
        self.left.remove(orphan)
        self.released.append(orphan)


async def test_orphans_go_offline_unless_held_elsewhere_and_are_released_once() -> None:
    gone = Orphan("gw-dead", "erin", "erin-1", held_elsewhere=False)
    back = Orphan("gw-dead", "finn", "finn-1", held_elsewhere=True)
    leases = FakeLeases([gone, back])
    emitted: list[tuple[str, str, PresenceStatus]] = []

    async def emit(user_id: str, device_id: str, status: PresenceStatus) -> None:
        emitted.append((user_id, device_id, status))

    assert await reap_once(leases, emit) == 1
    assert emitted == [("erin", "erin-1", PresenceStatus.OFFLINE)]
    assert leases.released == [gone, back]
    assert await reap_once(leases, emit) == 0  # nothing left to take


async def test_a_failed_offline_keeps_the_orphan_for_the_next_round() -> None:
    gone = Orphan("gw-dead", "erin", "erin-1", held_elsewhere=False)
    leases = FakeLeases([gone])

    async def emit(user_id: str, device_id: str, status: PresenceStatus) -> None:
        raise TimeoutError("log unavailable")

    with pytest.raises(TimeoutError):
        await reap_once(leases, emit)
    assert leases.left == [gone]
