"""The observer runner: at least once, in order, past failures of the observer and the feed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

import pytest

import api.observers
from api.observers import ObserverRunner
from domain.room import Room
from domain.values import EventMeta
from proto.codec import encode_event
from streams.feed import EventFeed
from streams.log import LogRecord


def logged(room: Room) -> list[LogRecord]:
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    return [LogRecord(i + 1, e.SerializeToString()) for i, e in enumerate(events)]


class FlakyFeed(EventFeed):
    """Serves the records once, after failing its first read; remembers commits."""

    def __init__(self, records: list[LogRecord]) -> None:
        self.records = records
        self.reads = 0
        self.committed: list[int] = []

    async def next_batch(self, wait: float) -> list[LogRecord]:
        self.reads += 1
        if self.reads == 1:
            raise ConnectionError("the log is down")
        if self.reads == 2:
            return self.records
        await asyncio.sleep(wait)
        return []

    async def commit(self, records: list[LogRecord]) -> None:
        if records:
            self.committed.append(records[-1].offset)

    async def close(self) -> None:
        pass


async def run_until_committed(runner: ObserverRunner, feed: FlakyFeed) -> None:
    """Runs the observer until its feed saw a commit (bounded: 5 s), then stops it."""
    runner.start()
    for _ in range(500):
        if feed.committed:
            break
        await asyncio.sleep(0.01)
    await runner.stop(grace=1.0)


async def test_failures_are_retried_and_every_event_is_seen_once_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api.observers, "FEED_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(api.observers, "FIRST_RETRY_SECONDS", 0.01)
    room = Room.create_group(uuid4(), EventMeta("alice"), "watched", True)
    room.post_message(EventMeta("alice"), "", "hello")
    records = logged(room)
    seen: list[str] = []
    failures = [1]

    async def observer(event: Mapping[str, Any]) -> None:
        if "messagePosted" in event and failures:
            failures.pop()
            raise RuntimeError("the endpoint is down")
        seen.append(next(k for k in event if k in ("roomCreated", "memberJoined", "messagePosted")))

    feed = FlakyFeed(records)
    runner = ObserverRunner("test.watch", observer, frozenset({"default"}), feed, timeout=1.0)
    await run_until_committed(runner, feed)
    assert seen == ["roomCreated", "memberJoined", "messagePosted"]
    assert feed.committed == [3]


async def test_an_observer_of_another_namespace_sees_nothing_but_moves_on() -> None:
    room = Room.create_group(uuid4(), EventMeta("alice"), "elsewhere", True)
    records = logged(room)
    seen: list[Mapping[str, Any]] = []

    async def observer(event: Mapping[str, Any]) -> None:
        seen.append(event)

    feed = FlakyFeed(records)
    feed.reads = 1  # no failure this time
    runner = ObserverRunner("test.game", observer, frozenset({"game"}), feed, timeout=1.0)
    await run_until_committed(runner, feed)
    assert seen == [] and feed.committed == [2]
