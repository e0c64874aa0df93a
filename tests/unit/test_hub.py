"""The hub encodes a room-stream event once for all its followers and flushes them together."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

from api.hub import Hub
from domain.room import Room
from domain.values import EventMeta
from projections.changes import RoomStreamEntry
from proto.codec import Envelope, encode_event

OLGA = EventMeta("olga")


class Follower:
    def __init__(self, user_id: str, flush_cost: float = 0.0) -> None:
        self.user_id = user_id
        self.flush_cost = flush_cost
        self.queued: list[tuple[str, int, str]] = []
        self.flushes = 0
        self.dropped: list[str] = []
        self.namespace = ""
        self.queued_frames = 0

    def push_inbox(self, position: int, frame: str | None) -> None:
        if frame is not None:
            self.queued.append(("inbox", position, frame))

    def push_room(self, room_id: str, position: int, frame: str) -> None:
        self.queued.append((room_id, position, frame))

    def push(self, frame: str) -> None:
        self.queued.append(("notice", 0, frame))

    def flush(self) -> None:
        self.flushes += 1
        time.sleep(self.flush_cost)  # a socket write

    def unfollowed(self, room_id: str) -> None:
        self.dropped.append(room_id)

    def revoked(self, device_id: str, at: float) -> None:
        pass

    def disconnect(self, device_id: str) -> None:
        pass


def channel_events(messages: int) -> tuple[str, list[Envelope]]:
    room = Room.create_channel(uuid4(), OLGA, "news", True)
    room.add_member(OLGA, "rita")
    for i in range(messages):
        room.post_message(OLGA, f"c{i}", f"news {i}")
    room.remove_member(OLGA, "rita")
    return str(room.id), [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]


def entries(room_id: str, events: list[Envelope]) -> list[RoomStreamEntry]:
    return [RoomStreamEntry(room_id, e.position, e) for e in events]


def test_one_frame_object_reaches_every_follower_and_a_leaver_is_dropped() -> None:
    room_id, events = channel_events(2)
    hub = Hub("epoch")
    followers = [Follower("rita"), *(Follower(f"u{i}") for i in range(3))]
    for follower in followers:
        hub.follow(room_id, follower)
    hub.publish(entries(room_id, events))
    frames = [[frame for _, _, frame in f.queued] for f in followers]
    assert all(len(f) == len(events) for f in frames)
    for i in range(len(events)):
        assert len({id(f[i]) for f in frames}) == 1  # encoded once, shared
    assert '"roomId"' not in frames[0][3]  # compact: the stream names the room
    assert all(f.flushes == 1 for f in followers)  # one flush for the whole batch
    assert followers[0].dropped == [room_id]  # rita was removed: no longer followed
    hub.publish(entries(room_id, events[-1:]))
    assert len(followers[0].queued) == len(events)
    assert hub.is_local(f"room:{room_id}") and not hub.is_local("room:other")


async def test_cheap_flushes_follow_each_other_at_once() -> None:
    """A flush waits 4x the previous one's duration, never the whole interval: with a 10 s
    interval, each cheap flush comes well within a second even on a busy machine (where a
    preempted flush may look a few milliseconds long)."""
    room_id, events = channel_events(3)
    hub = Hub("epoch", flush_interval=10.0)
    follower = Follower("u1")
    hub.follow(room_id, follower)
    loop = asyncio.get_running_loop()
    for flushed, event in enumerate(events, 1):
        hub.publish(entries(room_id, [event]))
        deadline = loop.time() + 1.0
        while follower.flushes < flushed and loop.time() < deadline:
            await asyncio.sleep(0.001)
        assert follower.flushes == flushed


async def test_after_an_expensive_flush_events_wait_and_share_the_next() -> None:
    room_id, events = channel_events(3)
    hub = Hub("epoch", flush_interval=0.05)
    follower = Follower("u1", flush_cost=0.01)  # then 4 x 10 ms until the next flush
    hub.follow(room_id, follower)
    hub.publish(entries(room_id, events[:1]))
    assert follower.flushes == 1  # nothing was flushed lately: at once
    hub.publish(entries(room_id, events[1:2]))
    hub.publish(entries(room_id, events[2:3]))
    assert follower.flushes == 1  # within the interval: they wait
    deadline = asyncio.get_running_loop().time() + 5
    while follower.flushes < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert follower.flushes == 2 and len(follower.queued) == 3
