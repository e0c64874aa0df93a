"""The InboxWriter contract, run against every adapter (the distributed stage 2 writes
inboxes through it; the embedded store appends inside its own transaction instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from projections.store import InboxWriter
from projections.store_cassandra import CassandraProjectionStore
from proto.codec import Envelope
from tests.contract.test_projection_store import cassandra_store, conversation


@pytest.fixture
async def writer_and_store(
    tmp_path: Path,
) -> AsyncIterator[tuple[InboxWriter, CassandraProjectionStore]]:
    async with cassandra_store(tmp_path) as store:
        yield store.inbox_writer, store


def positions(entries: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(e.user_id, e.position) for e in entries]


async def test_appends_land_at_dense_positions_per_user(
    writer_and_store: tuple[InboxWriter, CassandraProjectionStore],
) -> None:
    writer, store = writer_and_store
    _, events = conversation()
    appends = [(user, e) for e in events[2:5] for user in ("alice", "bob")]
    entries = await writer.append(appends)
    assert sorted(positions(entries)) == [(u, p) for u in ("alice", "bob") for p in (1, 2, 3)]
    for user in ("alice", "bob"):  # each user's entries in order; users may interleave
        mine = [e.position for e in entries if e.user_id == user]
        assert mine == sorted(mine)
    assert [e.envelope.event_id for e in await store.inbox("bob", after=0, limit=10)] == [
        e.event_id for e in events[2:5]
    ]
    assert await store.inbox_head("alice") == 3


async def test_a_replayed_fan_out_lands_once(
    writer_and_store: tuple[InboxWriter, CassandraProjectionStore],
) -> None:
    """Stage 1 may publish the same event to a user twice (a crash before its offsets were
    committed); the writer skips it, or answers the latest one again for live delivery."""
    writer, store = writer_and_store
    _, events = conversation()
    first = await writer.append([("bob", events[3]), ("bob", events[4])])
    assert positions(first) == [("bob", 1), ("bob", 2)]
    assert await writer.append([("bob", events[3])]) == []  # an older repeat
    assert await writer.append([("bob", events[4])]) == first[1:]  # the latest, again
    third = await writer.append([("bob", events[3]), ("bob", events[4]), ("bob", events[5])])
    assert positions(third) == [("bob", 2), ("bob", 3)]
    assert [e.position for e in await store.inbox("bob", after=0, limit=10)] == [1, 2, 3]


async def test_another_writer_continues_where_the_first_stopped(
    writer_and_store: tuple[InboxWriter, CassandraProjectionStore],
) -> None:
    """Heads are remembered between batches, but what is stored is the truth: a new owner
    of the partition (or the same one after forget) continues without a hole or a repeat."""
    writer, store = writer_and_store
    _, events = conversation()
    await writer.append([("bob", events[2]), ("bob", events[3])])
    again = CassandraProjectionStore(store._db).inbox_writer
    assert positions(await again.append([("bob", events[3]), ("bob", events[4])])) == [
        ("bob", 2),
        ("bob", 3),
    ]
    writer.forget()
    assert positions(await writer.append([("bob", events[5])])) == [("bob", 4)]


async def test_a_large_batch_for_one_user_is_written_in_rounds(
    writer_and_store: tuple[InboxWriter, CassandraProjectionStore],
) -> None:
    writer, store = writer_and_store
    envelopes: list[Envelope] = []
    for _ in range(20):  # many streams, many events each: larger than one Cassandra batch
        envelopes += conversation()[1]
    entries = await writer.append([("carol", e) for e in envelopes])
    assert [e.position for e in entries] == list(range(1, len(envelopes) + 1))
    stored = await store.inbox("carol", after=0, limit=1000)
    assert [e.envelope.event_id for e in stored] == [e.event_id for e in envelopes]
