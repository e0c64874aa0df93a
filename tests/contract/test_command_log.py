"""The CommandBus / EventLog contract, run against every log adapter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from domain import commands as c
from domain.errors import NotAMember, RoomNotFound
from domain.values import AckKind, EventMeta, PresenceStatus
from proto.codec import envelope_from_bytes
from streams.command_bus_kafka import KafkaCommandBus
from streams.command_processor_kafka import KafkaCommandProcessor
from streams.log import CommandBus, CommandResult
from streams.log_sqlite import EmbeddedLog
from streams.topics import Topics
from streams.topics_kafka import ensure_topics
from tests.infra import KAFKA, delete_topics, fresh_name, require

ALICE, BOB = EventMeta("alice", "d", "t"), EventMeta("bob")


@contextlib.asynccontextmanager
async def embedded_bus(tmp: Path) -> AsyncIterator[CommandBus]:
    log = EmbeddedLog(tmp / "log.sqlite")
    try:
        yield log
    finally:
        log.close()


@contextlib.asynccontextmanager
async def kafka_log(tmp: Path) -> AsyncIterator[tuple[CommandBus, Topics]]:
    """A command processor and a gateway-side bus on fresh topics of the real broker."""
    require("kafka")
    topics = Topics(fresh_name("contract"), partitions=2)
    await ensure_topics(KAFKA, topics)
    processor = KafkaCommandProcessor(KAFKA, topics, "epoch", group_id=f"{topics.prefix}-cmd")
    task = asyncio.create_task(processor.run())
    bus = KafkaCommandBus(KAFKA, topics, "gw-test", timeout=20)
    await bus.start()
    try:
        await asyncio.wait_for(processor.ready.wait(), 60)
        yield bus, topics
    finally:
        await bus.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(delete_topics, topics.prefix)


@contextlib.asynccontextmanager
async def kafka_bus(tmp: Path) -> AsyncIterator[CommandBus]:
    async with kafka_log(tmp) as (bus, _):
        yield bus


BUSES: dict[str, Callable[[Path], contextlib.AbstractAsyncContextManager[CommandBus]]] = {
    "embedded": embedded_bus,
    "kafka": kafka_bus,
}


@pytest.fixture(params=sorted(BUSES))
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CommandBus]:
    async with BUSES[request.param](tmp_path) as adapter:
        yield adapter


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EmbeddedLog]:
    """The EventLog port (embedded only: the Kafka side is read by Faust)."""
    adapter = EmbeddedLog(tmp_path / "log.sqlite")
    yield adapter
    adapter.close()


async def test_commands_append_events_readable_in_order(log: EmbeddedLog) -> None:
    room_id = uuid4()
    created = await log.execute(c.CreateRoom(ALICE, room_id, "general"))
    assert created.envelope.WhichOneof("payload") == "room_created"
    posted = await log.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
    records = await log.read(0, 100)
    kinds = [envelope_from_bytes(r.data).WhichOneof("payload") for r in records]
    assert kinds == ["room_created", "member_joined", "message_posted"]
    assert [r.offset for r in records] == sorted({r.offset for r in records})
    assert posted.offset == records[-1].offset == await log.head()
    assert await log.read(records[-1].offset, 10) == []


async def test_rejected_commands_append_nothing(log: EmbeddedLog) -> None:
    room_id = uuid4()
    await log.execute(c.CreateRoom(ALICE, room_id, "general"))
    head = await log.head()
    with pytest.raises(NotAMember):
        await log.execute(c.PostMessage(BOB, room_id, "x", "hi"))
    assert await log.head() == head


async def test_duplicate_sends_return_the_original_event(bus: CommandBus) -> None:
    room_id = uuid4()
    await bus.execute(c.CreateRoom(ALICE, room_id, "general"))
    first = await bus.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
    results = await asyncio.gather(
        *(bus.execute(c.PostMessage(ALICE, room_id, "m1", "hi")) for _ in range(5))
    )
    assert all(r.duplicate and r.envelope == first.envelope for r in results)
    after = await bus.execute(c.PostMessage(ALICE, room_id, "m2", "next"))
    assert after.envelope.position == first.envelope.position + 1


async def test_commands_are_decided_by_the_domain(bus: CommandBus) -> None:
    room_id = uuid4()
    created = await bus.execute(c.CreateRoom(ALICE, room_id, "general"))
    assert created.envelope.WhichOneof("payload") == "room_created"
    assert created.envelope.actor.user_id == "alice" and created.envelope.trace_id == "t"
    with pytest.raises(NotAMember):
        await bus.execute(c.PostMessage(BOB, room_id, "x", "hi"))
    with pytest.raises(RoomNotFound):
        await bus.execute(c.JoinRoom(BOB, uuid4()))
    joined = await bus.execute(c.JoinRoom(BOB, room_id))
    assert (joined.envelope.stream, joined.envelope.position) == (f"room:{room_id}", 3)
    assert joined.offset >= 0 and not joined.duplicate


async def test_direct_conversations_are_created_once(bus: CommandBus) -> None:
    first, second = await asyncio.gather(
        bus.execute(c.OpenDirect(ALICE, "bob")), bus.execute(c.OpenDirect(BOB, "alice"))
    )
    assert first.envelope.event_id == second.envelope.event_id
    assert sorted([first.duplicate, second.duplicate]) == [False, True]


async def test_acks_join_the_room_stream_and_presence_the_users(bus: CommandBus) -> None:
    room_id = uuid4()
    await bus.execute(c.CreateRoom(ALICE, room_id, "general"))
    ack = await bus.execute(c.AckRoom(ALICE, room_id, AckKind.READ, 2))
    assert (ack.envelope.stream, ack.envelope.position) == (f"room:{room_id}", 3)
    first = await bus.execute(c.ChangePresence(ALICE, PresenceStatus.ONLINE))
    second = await bus.execute(c.ChangePresence(ALICE, PresenceStatus.OFFLINE))
    assert (first.envelope.stream, first.envelope.position) == ("user:alice", 1)
    assert second.envelope.position == 2


async def test_namespace_settings_are_recorded_once_per_change(bus: CommandBus) -> None:
    name = f"ns-{uuid4().hex[:8]}"
    first = await bus.execute(c.ConfigureNamespace(ALICE, name, '{"typing":false}'))
    assert not first.duplicate and first.envelope.stream == f"namespace:{name}"
    assert first.envelope.namespace_configured.settings_json == '{"typing":false}'
    again = await bus.execute(c.ConfigureNamespace(ALICE, name, '{"typing":false}'))
    assert again.duplicate and again.envelope == first.envelope
    changed = await bus.execute(c.ConfigureNamespace(ALICE, name, '{"typing":true}'))
    assert not changed.duplicate and changed.envelope.position == 2


async def test_state_survives_reopening(tmp_path: Path) -> None:
    log = EmbeddedLog(tmp_path / "log.sqlite")
    room_id = uuid4()
    await log.execute(c.CreateRoom(ALICE, room_id, "general"))
    original = await log.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
    epoch = log.epoch
    log.close()
    reopened = EmbeddedLog(tmp_path / "log.sqlite")
    again = await reopened.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
    assert again.duplicate and again.envelope == original.envelope
    assert reopened.epoch == epoch
    nxt = await reopened.execute(c.PostMessage(ALICE, room_id, "m2", "next"))
    assert nxt.envelope.position == original.envelope.position + 1
    reopened.close()


async def test_wait_returns_when_something_is_appended(log: EmbeddedLog) -> None:
    head = await log.head()
    waiter = asyncio.create_task(log.wait(head, timeout=60))
    for _ in range(20):  # let the waiter run up to its wait
        await asyncio.sleep(0)
    assert not waiter.done()  # nothing appended yet: it waits
    await log.execute(c.CreateRoom(ALICE, uuid4(), "general"))
    await asyncio.wait_for(waiter, 30)  # woken by the append, long before its own timeout
    assert await log.head() > head


@contextlib.asynccontextmanager
async def commands_without_recent_events(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> AsyncIterator[tuple[KafkaCommandBus, Callable[[], Any]]]:
    """A command bus on fresh topics (2 partitions) and a way to start processors on them,
    with no recent events kept: every duplicate is answered by a fetch from the log."""
    import streams.command_processor as state_module

    monkeypatch.setattr(state_module, "RECENT_EVENTS", 0)  # force the fetch-by-offset path
    require("kafka")
    topics = Topics(fresh_name(name), partitions=2)
    await ensure_topics(KAFKA, topics)
    bus = KafkaCommandBus(KAFKA, topics, f"gw-{name}", timeout=20)
    await bus.start()
    tasks: list[asyncio.Task[None]] = []

    async def start_processor() -> asyncio.Task[None]:
        processor = KafkaCommandProcessor(KAFKA, topics, "e", group_id=f"{topics.prefix}-cmd")
        tasks.append(asyncio.create_task(processor.run()))
        await asyncio.wait_for(processor.ready.wait(), 60)
        return tasks[-1]

    try:
        yield bus, start_processor
    finally:
        await bus.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(delete_topics, topics.prefix)


async def test_kafka_processor_rebuilds_state_and_answers_old_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new processor rebuilds rooms from the events topic; a duplicate of an old send is
    answered with the original event fetched back from the log."""
    async with commands_without_recent_events(monkeypatch, "restart") as (bus, start_processor):
        task = await start_processor()
        room_id = uuid4()
        await bus.execute(c.CreateRoom(ALICE, room_id, "general"))
        original = await bus.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
        configured = await bus.execute(c.ConfigureNamespace(ALICE, "game", "{}"))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await start_processor()
        again = await bus.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
        assert again.duplicate and again.envelope == original.envelope
        unchanged = await bus.execute(c.ConfigureNamespace(ALICE, "game", "{}"))
        assert unchanged.duplicate and unchanged.envelope == configured.envelope
        with pytest.raises(NotAMember):
            await bus.execute(c.PostMessage(BOB, room_id, "x", "not a member"))
        nxt = await bus.execute(c.PostMessage(ALICE, room_id, "m2", "next"))
        assert nxt.envelope.position == original.envelope.position + 1


async def test_old_duplicates_on_every_partition_at_once_are_all_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partitions decide side by side and may both fetch an old event back from the log at
    once: each fetch gets its own answer (one shared consumer reassigned under another's
    feet used to wait until the transaction timed out, then the processor restarted)."""
    async with commands_without_recent_events(monkeypatch, "fetches") as (bus, start_processor):
        await start_processor()
        rooms = [uuid4() for _ in range(8)]  # keyed by room: both partitions get some
        for room_id in rooms:
            await bus.execute(c.CreateRoom(ALICE, room_id, "r"))
        sends = [c.PostMessage(ALICE, room_id, "once", "hi") for room_id in rooms]
        originals = [await bus.execute(send) for send in sends]
        for _ in range(3):
            again = await asyncio.gather(*(bus.execute(send) for send in sends))
            assert [a.envelope for a in again] == [o.envelope for o in originals]
            assert all(a.duplicate for a in again)


async def test_commands_arriving_together_are_decided_in_order_and_fail_alone(
    bus: CommandBus,
) -> None:
    """However a bus groups commands (the embedded log commits them in batches), each is
    decided after the ones before it, and a rejected one fails alone."""
    room_id, lost = uuid4(), uuid4()
    create = bus.execute(c.CreateRoom(ALICE, room_id, "together"))
    sends = [
        bus.execute(c.PostMessage(ALICE, room_id, f"m{i % 10}", f"text {i}")) for i in range(40)
    ]
    strangers = [bus.execute(c.PostMessage(BOB, room_id, "b", "not a member"))]
    nowhere = [bus.execute(c.PostMessage(ALICE, lost, "x", "no such room"))]
    results = await asyncio.gather(create, *sends, *strangers, *nowhere, return_exceptions=True)
    created, posted, refused = results[0], results[1:41], results[41:]
    assert isinstance(created, CommandResult) and created.envelope.position == 1
    assert all(isinstance(r, CommandResult) for r in posted)
    fresh = [r for r in posted if isinstance(r, CommandResult) and not r.duplicate]
    repeats = [r for r in posted if isinstance(r, CommandResult) and r.duplicate]
    assert len(fresh) == 10 and len(repeats) == 30  # ten client message ids, four times each
    positions = sorted(r.envelope.position for r in fresh)
    assert positions == list(range(positions[0], positions[0] + 10))
    by_id = {r.envelope.message_posted.client_msg_id: r.envelope.event_id for r in fresh}
    for r in repeats:
        assert r.envelope.event_id == by_id[r.envelope.message_posted.client_msg_id]
    assert isinstance(refused[0], NotAMember)
    assert isinstance(refused[1], RoomNotFound)


async def test_a_batch_that_cannot_be_stored_fails_only_the_command_at_fault(
    tmp_path: Path,
) -> None:
    """If the batch's transaction fails, its commands are retried one by one: only the one
    whose events cannot be stored fails; the state of the others is not left half-changed."""
    log = EmbeddedLog(tmp_path / "log.sqlite")
    try:
        room_id = uuid4()
        await log.execute(c.CreateRoom(ALICE, room_id, "r"))
        created = (await log.read(0, 100))[-1].offset  # the room and its owner's membership
        mapper = log._mapper
        encode = mapper.encode

        def refuse_poison(event: Any) -> Any:
            if getattr(event, "text", "") == "poison":
                raise OSError("disk says no")
            return encode(event)

        mapper.encode = refuse_poison  # type: ignore[method-assign,assignment]
        results = await asyncio.gather(
            *(log.execute(c.PostMessage(ALICE, room_id, f"k{i}", f"fine {i}")) for i in range(5)),
            log.execute(c.PostMessage(ALICE, room_id, "p", "poison")),
            return_exceptions=True,
        )
        assert [type(r).__name__ for r in results] == ["CommandResult"] * 5 + ["OSError"]
        mapper.encode = encode  # type: ignore[method-assign]
        after = await log.execute(c.PostMessage(ALICE, room_id, "next", "after"))
        assert after.envelope.position == created + 5 + 1  # the poison left no trace
        records = await log.read(0, 100)
        assert [r.offset for r in records] == list(range(1, created + 7))
        assert b"poison" not in b"".join(r.data for r in records)
    finally:
        log.close()


async def test_another_process_reading_the_log_sees_what_the_writer_appends(
    tmp_path: Path,
) -> None:
    """The writer serves recent records from memory; a reader that writes nothing (the
    operator tools, opened while the server runs) must still read them from the file."""
    writer = EmbeddedLog(tmp_path / "log.sqlite")
    reader = EmbeddedLog(tmp_path / "log.sqlite")
    try:
        room_id = uuid4()
        await writer.execute(c.CreateRoom(ALICE, room_id, "r"))
        await writer.execute(c.PostMessage(ALICE, room_id, "m", "hello"))
        written = await writer.read(0, 100)
        assert [r.offset for r in await reader.read(0, 100)] == [r.offset for r in written]
        assert [r.data for r in await reader.read(written[0].offset, 100)] == [
            r.data for r in written[1:]
        ]
        assert [r.offset async for r in reader.scan()] == [r.offset for r in written]
    finally:
        writer.close()
        reader.close()


async def test_a_partition_that_could_not_be_taken_over_is_taken_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Taking a partition over can fail while Kafka comes back (its rebuild or its
    producer); aiokafka only logs a failing rebalance listener, so the processor starts
    over instead of leaving the partition's commands unanswered."""
    from aiokafka.errors import KafkaConnectionError

    rebuild = KafkaCommandProcessor._rebuild
    calls = 0

    async def failing_once(self: KafkaCommandProcessor, partition: int) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KafkaConnectionError("the broker is not back yet")
        return await rebuild(self, partition)

    monkeypatch.setattr(KafkaCommandProcessor, "_rebuild", failing_once)
    async with commands_without_recent_events(monkeypatch, "retake") as (bus, start_processor):
        await start_processor()
        rooms = [uuid4() for _ in range(8)]  # keyed by room: both partitions get some
        created = await asyncio.gather(*(bus.execute(c.CreateRoom(ALICE, r, "r")) for r in rooms))
        assert [e.envelope.stream for e in created] == [f"room:{r}" for r in rooms]
        assert calls >= 3  # the failed take-over, then both partitions again
