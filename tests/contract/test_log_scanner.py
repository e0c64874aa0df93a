"""The LogScanner contract (what the operator tools read the log with), run against the
embedded log and the Kafka events topic: every committed record once, each stream in
position order, resumable from any record's cursor, and nothing past the end at the call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from domain import commands as c
from domain.values import EventMeta
from proto.codec import envelope_from_bytes
from streams.log import CommandBus, LogRecord, LogScanner
from streams.log_kafka import KafkaLogScanner
from streams.log_sqlite import EmbeddedLog
from tests.contract.test_command_log import kafka_log
from tests.infra import KAFKA

ALICE = EventMeta("alice", "d", "t")

Adapters = tuple[CommandBus, LogScanner]


@contextlib.asynccontextmanager
async def embedded(tmp: Path) -> AsyncIterator[Adapters]:
    log = EmbeddedLog(tmp / "log.sqlite")
    try:
        yield log, log
    finally:
        log.close()


@contextlib.asynccontextmanager
async def kafka(tmp: Path) -> AsyncIterator[Adapters]:
    async with kafka_log(tmp) as (bus, topics):
        yield bus, KafkaLogScanner(KAFKA, topics.events)


ADAPTERS: dict[str, Callable[[Path], contextlib.AbstractAsyncContextManager[Adapters]]] = {
    "embedded": embedded,
    "kafka": kafka,
}


@pytest.fixture(params=sorted(ADAPTERS))
async def adapters(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Adapters]:
    async with ADAPTERS[request.param](tmp_path) as pair:
        yield pair


async def two_rooms(bus: CommandBus, messages: int) -> list[str]:
    """Two rooms (likely on different partitions) with ``messages`` messages each: each
    room's stream has 2 + ``messages`` events (created, the owner joined, the messages)."""
    rooms = [uuid4(), uuid4()]
    for room_id in rooms:
        await bus.execute(c.CreateRoom(ALICE, room_id, "scanned"))
    for i in range(messages):
        for room_id in rooms:
            await bus.execute(c.PostMessage(ALICE, room_id, f"{room_id}-{i}", f"m{i}"))
    return [str(r) for r in rooms]


async def scanned(scanner: LogScanner, after: int = 0) -> list[LogRecord]:
    return [record async for record in scanner.scan(after)]


async def eventually_all(scanner: LogScanner, count: int) -> list[LogRecord]:
    """The Kafka bus answers before every replica has the record: read until all are in."""
    records: list[LogRecord] = []
    for _ in range(100):
        records = await scanned(scanner)
        if len(records) >= count:
            return records
        await asyncio.sleep(0.1)
    return records


async def test_a_scan_yields_every_record_once_each_stream_in_order(adapters: Adapters) -> None:
    bus, scanner = adapters
    rooms = await two_rooms(bus, 5)
    records = await eventually_all(scanner, 14)
    envelopes = [envelope_from_bytes(r.data) for r in records]
    assert len({e.event_id for e in envelopes}) == len(envelopes) == 14
    for room_id in rooms:
        positions = [e.position for e in envelopes if e.stream == f"room:{room_id}"]
        assert positions == list(range(1, 8))
    cursors = [scanner.cursor(r) for r in records]
    assert cursors[0] >= 1 and cursors == sorted(set(cursors))
    assert await scanner.remaining() >= 14


async def test_a_scan_resumes_just_after_any_record(adapters: Adapters) -> None:
    bus, scanner = adapters
    await two_rooms(bus, 3)
    records = await eventually_all(scanner, 10)
    for i in (0, 3, len(records) - 1):
        rest = await scanned(scanner, scanner.cursor(records[i]))
        assert [(r.partition, r.offset) for r in rest] == [
            (r.partition, r.offset) for r in records[i + 1 :]
        ]
    assert await scanned(scanner, scanner.cursor(records[-1])) == []


async def test_a_scan_stops_at_the_end_it_found(adapters: Adapters) -> None:
    bus, scanner = adapters
    rooms = await two_rooms(bus, 1)
    before = await eventually_all(scanner, 6)
    seen: list[LogRecord] = []
    async for record in scanner.scan():
        seen.append(record)
        if len(seen) == 1:  # appended while the scan runs: not part of it
            for room_id in rooms:  # every partition gets one
                await bus.execute(c.PostMessage(ALICE, UUID(room_id), "late", "x"))
    assert [(r.partition, r.offset) for r in seen] == [(r.partition, r.offset) for r in before]
