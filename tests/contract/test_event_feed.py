"""The EventFeed contract (what plugin observers read the log with), run against the
embedded log and the Kafka events topic: every committed record at least once, each stream in
position order, and a feed opened again under its name resumes after its last commit while
another name starts from the beginning."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from uuid import uuid4

import pytest

from domain import commands as c
from domain.values import EventMeta
from proto.codec import envelope_from_bytes
from streams.feed import EventFeed
from streams.feed_kafka import KafkaEventFeed
from streams.feed_sqlite import SqliteEventFeed
from streams.log import CommandBus, LogRecord
from streams.log_sqlite import EmbeddedLog
from tests.contract.test_command_log import kafka_log
from tests.infra import KAFKA

ALICE = EventMeta("alice", "d", "t")
FeedOf = Callable[[str], EventFeed]


@contextlib.asynccontextmanager
async def embedded(tmp: Path) -> AsyncIterator[tuple[CommandBus, FeedOf]]:
    log = EmbeddedLog(tmp / "log.sqlite")
    try:
        yield log, lambda name: SqliteEventFeed(log, tmp / "observers.db", name)
    finally:
        log.close()


@contextlib.asynccontextmanager
async def kafka(tmp: Path) -> AsyncIterator[tuple[CommandBus, FeedOf]]:
    async with kafka_log(tmp) as (bus, topics):
        yield bus, lambda name: KafkaEventFeed(KAFKA, topics, name)


ADAPTERS = {"embedded": embedded, "kafka": kafka}


@pytest.fixture(params=sorted(ADAPTERS))
async def adapters(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[CommandBus, FeedOf]]:
    async with ADAPTERS[request.param](tmp_path) as pair:
        yield pair


async def read(feed: EventFeed, count: int, seconds: float = 60) -> list[LogRecord]:
    """Batches until ``count`` records came (Kafka needs a moment to assign a group)."""
    out: list[LogRecord] = []
    deadline = time.monotonic() + seconds
    while len(out) < count and time.monotonic() < deadline:
        out.extend(await feed.next_batch(1.0))
    return out


def positions_by_stream(records: list[LogRecord]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for record in records:
        envelope = envelope_from_bytes(record.data)
        out.setdefault(envelope.stream, []).append(envelope.position)
    return out


async def test_a_feed_resumes_after_its_last_commit(
    adapters: tuple[CommandBus, FeedOf],
) -> None:
    bus, feed_of = adapters
    rooms = [uuid4(), uuid4()]
    for room_id in rooms:
        await bus.execute(c.CreateRoom(ALICE, room_id, "fed"))
        for i in range(3):
            await bus.execute(c.PostMessage(ALICE, room_id, f"{room_id}-{i}", f"m{i}"))
    feed = feed_of("observer-a")
    first = await read(feed, 10)
    assert len(first) == 10  # 2 rooms x (created, joined, 3 messages)
    assert all(p == sorted(p) for p in positions_by_stream(first).values())
    await feed.commit(first)
    await feed.close()

    await bus.execute(c.PostMessage(ALICE, rooms[0], "later", "later"))
    again = feed_of("observer-a")
    resumed = await read(again, 1)
    assert [envelope_from_bytes(r.data).message_posted.text for r in resumed] == ["later"]
    await again.close()

    other = feed_of("observer-b")  # another name: its own position, from the start
    assert len(await read(other, 11)) == 11
    await other.close()


async def test_records_not_committed_are_read_again(adapters: tuple[CommandBus, FeedOf]) -> None:
    bus, feed_of = adapters
    room_id = uuid4()
    await bus.execute(c.CreateRoom(ALICE, room_id, "fed"))
    feed = feed_of("forgetful")
    records = await read(feed, 2)
    await feed.commit(records[:1])
    await feed.close()
    again = feed_of("forgetful")
    reread = await read(again, 1)
    assert [r.data for r in reread] == [records[1].data]
    await again.close()
