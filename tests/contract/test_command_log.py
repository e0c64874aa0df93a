"""The CommandBus / EventLog contract, run against every log adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from domain import commands as c
from domain.errors import NotAMember
from domain.values import AckKind, EventMeta, PresenceStatus
from proto.codec import envelope_from_bytes
from streams.log import CommandBus, EventLog
from streams.log_sqlite import EmbeddedLog

ALICE, BOB = EventMeta("alice", "d", "t"), EventMeta("bob")

FACTORIES: dict[str, Callable[[Path], Any]] = {
    "embedded": lambda tmp: EmbeddedLog(tmp / "log.sqlite"),
}


@pytest.fixture(params=sorted(FACTORIES))
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    adapter = FACTORIES[request.param](tmp_path)
    yield adapter
    adapter.close()


async def test_commands_append_events_readable_in_order(log: CommandBus) -> None:
    assert isinstance(log, EventLog)
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


async def test_rejected_commands_append_nothing(log: CommandBus) -> None:
    assert isinstance(log, EventLog)
    room_id = uuid4()
    await log.execute(c.CreateRoom(ALICE, room_id, "general"))
    head = await log.head()
    with pytest.raises(NotAMember):
        await log.execute(c.PostMessage(BOB, room_id, "x", "hi"))
    assert await log.head() == head


async def test_duplicate_sends_return_the_original_event(log: CommandBus) -> None:
    assert isinstance(log, EventLog)
    room_id = uuid4()
    await log.execute(c.CreateRoom(ALICE, room_id, "general"))
    first = await log.execute(c.PostMessage(ALICE, room_id, "m1", "hi"))
    results = await asyncio.gather(
        *(log.execute(c.PostMessage(ALICE, room_id, "m1", "hi")) for _ in range(5))
    )
    assert all(r.duplicate and r.envelope == first.envelope for r in results)
    posted = [r for r in await log.read(0, 100) if b"m1" in r.data]
    assert len(posted) == 1


async def test_acks_join_the_room_stream_and_presence_the_users(log: CommandBus) -> None:
    room_id = uuid4()
    await log.execute(c.CreateRoom(ALICE, room_id, "general"))
    ack = await log.execute(c.AckRoom(ALICE, room_id, AckKind.READ, 2))
    assert (ack.envelope.stream, ack.envelope.position) == (f"room:{room_id}", 3)
    first = await log.execute(c.ChangePresence(ALICE, PresenceStatus.ONLINE))
    second = await log.execute(c.ChangePresence(ALICE, PresenceStatus.OFFLINE))
    assert (first.envelope.stream, first.envelope.position) == ("user:alice", 1)
    assert second.envelope.position == 2


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


async def test_wait_returns_when_something_is_appended(log: CommandBus) -> None:
    assert isinstance(log, EventLog)
    head = await log.head()
    waiter = asyncio.create_task(log.wait(head, timeout=5))
    await asyncio.sleep(0.05)
    await log.execute(c.CreateRoom(ALICE, uuid4(), "general"))
    await asyncio.wait_for(waiter, 2)
