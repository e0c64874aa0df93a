"""The presence tracker writes only real changes, in order, without holding up connects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from api.limits import Rate
from api.presence import PresenceTracker
from domain.values import PresenceStatus

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.events: list[tuple[str, str, PresenceStatus]] = []
        self.delay = delay

    async def __call__(self, user_id: str, device_id: str, status: PresenceStatus) -> None:
        await asyncio.sleep(self.delay)
        self.events.append((user_id, device_id, status))


async def settle(tracker: PresenceTracker) -> None:
    await asyncio.gather(*tracker._tasks)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_burst_of_unnamed_connections_of_one_user_writes_one_event() -> None:
    emit = Recorder()
    tracker = PresenceTracker(emit, grace_seconds=60)
    devices = {tracker.device_for("ann", "") for _ in range(20)}
    for device in devices:
        for _ in range(20):
            tracker.connected("ann", device)
    await settle(tracker)
    assert len(devices) == 1
    assert emit.events == [("ann", devices.pop(), ONLINE)]
    await tracker.close()


async def test_named_devices_are_each_a_real_change() -> None:
    emit = Recorder()
    tracker = PresenceTracker(emit, grace_seconds=60)
    tracker.connected("ann", tracker.device_for("ann", "phone"))
    tracker.connected("ann", tracker.device_for("ann", "laptop"))
    await settle(tracker)
    assert sorted(emit.events) == [("ann", "laptop", ONLINE), ("ann", "phone", ONLINE)]
    await tracker.close()


async def test_a_reconnect_within_the_grace_period_writes_nothing() -> None:
    emit = Recorder()
    tracker = PresenceTracker(emit, grace_seconds=0.2)
    device = tracker.device_for("bob", "")
    tracker.connected("bob", device)
    await settle(tracker)
    tracker.disconnected("bob", device)
    assert tracker.device_for("bob", "") == device  # the same unnamed device comes back
    tracker.connected("bob", device)
    await asyncio.sleep(0.4)  # two grace periods: an OFFLINE would have been written by now
    await settle(tracker)
    assert emit.events == [("bob", device, ONLINE)]
    await tracker.close()


async def test_an_away_device_back_within_the_grace_period_is_online_again() -> None:
    emit = Recorder()
    tracker = PresenceTracker(emit, grace_seconds=60)
    tracker.connected("dee", "phone")
    tracker.chose("dee", "phone", AWAY)  # logged by the connection's command
    tracker.disconnected("dee", "phone")
    tracker.connected("dee", "phone")  # a reload: no offline, but no longer away either
    await settle(tracker)
    assert emit.events == [("dee", "phone", ONLINE), ("dee", "phone", ONLINE)]
    tracker.disconnected("dee", "phone")
    tracker.connected("dee", "phone")  # online when it dropped: nothing to write
    await settle(tracker)
    assert len(emit.events) == 2
    await tracker.close()


async def test_offline_after_the_grace_period_never_overtakes_online() -> None:
    emit = Recorder(delay=0.3)  # a slow log: ONLINE is still being written
    tracker = PresenceTracker(emit, grace_seconds=0.01)
    device = tracker.device_for("cy", "")
    tracker.connected("cy", device)
    tracker.disconnected("cy", device)
    await until(lambda: len(emit.events) == 2)
    assert emit.events == [("cy", device, ONLINE), ("cy", device, OFFLINE)]
    assert tracker.device_for("cy", "") != device  # gone offline: a new unnamed device
    await tracker.close()


async def test_churn_past_the_budget_is_coalesced_into_what_changed() -> None:
    """Devices that come and go while a user's budget is spent write nothing; what is
    still true when the budget allows is written then."""
    emit = Recorder()
    tracker = PresenceTracker(emit, grace_seconds=0.0, budget=Rate(per_second=5, burst=2))
    tracker.connected("dan", "d0")
    tracker.connected("dan", "d1")  # the burst: two events
    for i in range(2, 40):  # churn with a new device each time
        tracker.connected("dan", f"d{i}")
        tracker.disconnected("dan", f"d{i}")
    tracker.connected("dan", "stays")
    await until(lambda: ("dan", "stays", ONLINE) in emit.events)
    await settle(tracker)
    churned = {f"d{i}" for i in range(2, 40)}
    online = [d for _, d, s in emit.events if s == ONLINE and d in churned]
    offline = [d for _, d, s in emit.events if s == OFFLINE and d in churned]
    assert sorted(online) == sorted(offline)  # whatever was written is balanced
    assert len(emit.events) < 10  # instead of 2 per churned connection (76)
    await tracker.close()
