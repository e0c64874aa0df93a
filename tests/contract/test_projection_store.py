"""The ProjectionStore contract, run against every adapter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from uuid import uuid4

import pytest

from domain.apikeys import api_key_created, api_key_revoked
from domain.room import Room
from domain.user import presence_changed, sessions_revoked
from domain.values import AckKind, EventMeta, PresenceStatus, Role, direct_room_id
from projections import changes as ch
from projections.projector import ProjectionView, project
from projections.store import ProjectionStore
from projections.store_cassandra import CassandraProjectionStore, migrate
from projections.store_sqlite import SqliteProjectionStore
from proto.codec import Envelope, encode_event, payload_kind
from tests.infra import CASSANDRA_HOST, CASSANDRA_PORT, drop_keyspace, fresh_name, require

ALICE, BOB = EventMeta("alice", "d1"), EventMeta("bob", "d2")


@contextlib.asynccontextmanager
async def sqlite_store(tmp: Path) -> AsyncIterator[ProjectionStore]:
    store = SqliteProjectionStore(tmp / "projections.sqlite")
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def sqlite_inline_store(tmp: Path) -> AsyncIterator[ProjectionStore]:
    """As the embedded server runs it: writes and lookups on the caller's thread."""
    store = SqliteProjectionStore(tmp / "projections.sqlite", inline_writes=True)
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def cassandra_store(tmp: Path) -> AsyncIterator[CassandraProjectionStore]:
    """A fresh keyspace, dropped afterwards."""
    require("cassandra")
    keyspace = fresh_name("contract")
    await asyncio.to_thread(migrate, [CASSANDRA_HOST], CASSANDRA_PORT, keyspace)
    store = await CassandraProjectionStore.connect([CASSANDRA_HOST], CASSANDRA_PORT, keyspace)
    try:
        yield store
    finally:
        await store.close()
        await asyncio.to_thread(drop_keyspace, keyspace)


FACTORIES: dict[str, Callable[[Path], contextlib.AbstractAsyncContextManager[ProjectionStore]]] = {
    "sqlite": sqlite_store,
    "sqlite-inline": sqlite_inline_store,
    "cassandra": cassandra_store,
}


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProjectionStore]:
    async with FACTORIES[request.param](tmp_path) as s:
        yield s


def conversation() -> tuple[Room, list[Envelope]]:
    """alice creates a room, bob joins, both talk, bob reads, one message is edited."""
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.join(BOB)
    first = room.post_message(ALICE, "a1", "hi bob")
    room.post_message(ALICE, "a2", "are you there?")
    room.post_message(BOB, "b1", "yes")
    room.edit_message(ALICE, first, "hi Bob")
    room.ack(BOB, AckKind.READ, 5)
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    return room, events


def numbered(events: list[Envelope], start: int = 1) -> list[tuple[int, Envelope]]:
    return list(enumerate(events, start))


async def test_apply_builds_every_read_model(store: ProjectionStore) -> None:
    room, events = conversation()
    await store.apply(numbered(events), project)
    room_id = str(room.id)
    assert await store.tracked_offset() == len(events)
    assert [m.user_id for m in await store.members(room_id)] == ["alice", "bob"]
    assert await store.role_of(room_id, "alice") == 3
    assert await store.role_of(room_id, "carol") == 0
    timeline = await store.timeline(room_id, before=None, after=None, limit=10)
    assert [m.text for m in timeline] == ["hi Bob", "are you there?", "yes"]
    assert timeline[0].edited and timeline[0].author_id == "alice"
    bob_rooms = await store.rooms_of("bob")
    assert bob_rooms[0].read_up_to == 5 and bob_rooms[0].unread == 0
    alice_rooms = await store.rooms_of("alice")
    assert alice_rooms[0].unread == 1  # bob's "yes"
    assert await store.room_of("alice", room_id) == alice_rooms[0]
    assert await store.room_of("carol", room_id) is None
    assert (await store.message(room_id, timeline[2].message_id)) == timeline[2]


async def test_inbox_positions_are_dense_per_user(store: ProjectionStore) -> None:
    _, events = conversation()
    deliveries = await store.apply(numbered(events), project)
    bob = [d for d in deliveries if isinstance(d, ch.InboxEntry) and d.user_id == "bob"]
    assert [d.position for d in bob] == list(range(1, len(bob) + 1))
    assert await store.inbox_head("bob") == len(bob)
    page = await store.inbox("bob", after=2, limit=2)
    assert [e.position for e in page] == [3, 4]
    assert page[0].envelope == bob[2].envelope


async def test_replaying_a_batch_changes_nothing(store: ProjectionStore) -> None:
    room, events = conversation()
    await store.apply(numbered(events), project)

    async def state() -> tuple[object, ...]:
        return (
            await store.inbox_head("alice"),
            await store.inbox_head("bob"),
            await store.rooms_of("alice"),
            await store.rooms_of("bob"),
            await store.timeline(str(room.id), before=None, after=None, limit=10),
            await store.tracked_offset(),
        )

    before = await state()
    again = await store.apply(numbered(events), project)
    assert again == []
    assert await state() == before


async def test_batches_resume_from_the_tracked_offset(store: ProjectionStore) -> None:
    room, events = conversation()
    await store.apply(numbered(events[:3]), project)
    deliveries = await store.apply(numbered(events, 1), project)  # overlaps the first batch
    timeline = await store.timeline(str(room.id), before=None, after=None, limit=10)
    assert len(timeline) == 3
    # Only the events after the tracked offset were projected (and delivered) again.
    fresh = {e.event_id for e in events[3:]}
    assert deliveries
    logged = [
        d for d in deliveries if isinstance(d, ch.InboxEntry | ch.LiveNotice | ch.RoomStreamEntry)
    ]
    assert {d.envelope.event_id for d in logged} <= fresh
    assert await store.tracked_offset() == len(events)
    assert await store.apply(numbered(events[:3]), project) == []  # already behind


async def test_a_batch_whose_projection_fails_leaves_nothing_behind(
    store: ProjectionStore,
) -> None:
    room, events = conversation()
    await store.apply(numbered(events[:2]), project)  # the room, bob's join
    bobs_inbox = await store.inbox_head("bob")

    def failing(envelope: Envelope, view: ProjectionView) -> list[ch.Change]:
        if envelope.event_id == events[4].event_id:
            raise RuntimeError("a projector bug")
        return project(envelope, view)

    with pytest.raises(RuntimeError):
        await store.apply(numbered(events[2:], 3), failing)
    room_id = str(room.id)
    assert await store.tracked_offset() == 2
    assert await store.timeline(room_id, before=None, after=None, limit=10) == []
    assert await store.inbox_head("bob") == bobs_inbox
    # Retried once the bug is fixed, the batch lands exactly once.
    await store.apply(numbered(events[2:], 3), project)
    timeline = await store.timeline(room_id, before=None, after=None, limit=10)
    assert [m.text for m in timeline] == ["hi Bob", "are you there?", "yes"]


async def test_timeline_pages_both_ways(store: ProjectionStore) -> None:
    room = Room.create_group(uuid4(), ALICE, "g", True)
    for i in range(10):
        room.post_message(ALICE, "", f"m{i}")
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    await store.apply(numbered(events), project)
    rid = str(room.id)
    newest = await store.timeline(rid, before=None, after=None, limit=3)
    assert [m.text for m in newest] == ["m7", "m8", "m9"]
    older = await store.timeline(rid, before=newest[0].position, after=None, limit=3)
    assert [m.text for m in older] == ["m4", "m5", "m6"]
    forward = await store.timeline(rid, before=None, after=older[-1].position, limit=2)
    assert [m.text for m in forward] == ["m7", "m8"]


async def test_presence_and_online_users(store: ProjectionStore) -> None:
    events = [
        encode_event(presence_changed(ALICE, 1, PresenceStatus.ONLINE), "e"),
        encode_event(presence_changed(BOB, 1, PresenceStatus.ONLINE), "e"),
        encode_event(presence_changed(BOB, 2, PresenceStatus.OFFLINE), "e"),
    ]
    deliveries = await store.apply(numbered(events), project)
    assert [d.online for d in deliveries if isinstance(d, ch.LiveNotice)] == [True, True, False]
    assert [r.user_id for r in await store.online_users()] == ["alice"]
    rows = {r.user_id: r for r in await store.presence(["alice", "bob", "carol"])}
    assert rows["alice"].online and not rows["bob"].online and rows["carol"].devices == {}


async def test_unknown_ids_give_empty_answers(store: ProjectionStore) -> None:
    assert await store.room("nope") is None
    assert await store.members("nope") == []
    assert await store.inbox("nobody", after=0, limit=5) == []
    assert await store.inbox_head("nobody") == 0
    assert await store.message("nope", "nope") is None


async def test_epoch_survives_reopening(tmp_path: Path) -> None:
    first = SqliteProjectionStore(tmp_path / "p.sqlite")
    epoch = first.epoch
    await first.close()
    again = SqliteProjectionStore(tmp_path / "p.sqlite")
    assert again.epoch == epoch
    await again.close()
    other = SqliteProjectionStore(tmp_path / "other.sqlite")
    assert other.epoch != epoch
    await other.close()


def a_channel_and_a_room_that_grows() -> tuple[Room, Room, list[Envelope]]:
    channel = Room.create_channel(uuid4(), ALICE, "news", True)
    channel.add_member(ALICE, "bob")
    for i in range(3):
        channel.post_message(ALICE, f"n{i}", f"news {i}")
    group = Room.create_group(uuid4(), ALICE, "group", True)
    group.post_message(ALICE, "g0", "small")
    group.add_member(ALICE, "bob")
    group.grow(ALICE, large_room_members=1)
    group.post_message(BOB, "g1", "large")
    group.ack(BOB, AckKind.READ, group.version)
    events = [
        encode_event(e, "e")  # type: ignore[arg-type]
        for e in (*channel.collect_events(), *group.collect_events())
    ]
    return channel, group, events


async def test_room_streams_keep_every_event_from_their_start(store: ProjectionStore) -> None:
    channel, group, events = a_channel_and_a_room_that_grows()
    deliveries = await store.apply(numbered(events), project)
    channel_id, group_id = str(channel.id), str(group.id)

    head = await store.room_stream_head(channel_id)
    assert head is not None and (head.since, head.head) == (1, channel.version)
    stream = await store.room_stream(channel_id, after=0, limit=100)
    assert [e.position for e in stream] == list(range(1, channel.version + 1))
    assert [e.position for e in await store.room_stream(channel_id, after=3, limit=1)] == [4]

    head = await store.room_stream_head(group_id)
    assert head is not None and (head.since, head.head) == (group.streamed_since, group.version)
    stream = await store.room_stream(group_id, after=head.since - 1, limit=100)
    assert [e.position for e in stream] == list(range(head.since, group.version + 1))
    assert (await store.room(group_id)).streamed_since == head.since  # type: ignore[union-attr]
    assert await store.room_stream_head(str(uuid4())) is None

    # bob's inbox: the channel only as far as it concerns him; the group until the move.
    inbox = await store.inbox("bob", after=0, limit=100)
    kinds = [(e.envelope.stream, e.envelope.WhichOneof("payload")) for e in inbox]
    assert kinds == [
        (channel.stream, "member_joined"),
        (group.stream, "member_joined"),
        (group.stream, "room_stream_started"),
    ]
    live = [d for d in deliveries if isinstance(d, ch.RoomStreamEntry)]
    assert len(live) == channel.version + group.version - group.streamed_since + 1
    # Read states and unread counts work in room streams too.
    rooms = {r.room_id: r for r in await store.rooms_of("bob")}
    assert rooms[group_id].read_up_to == group.version - 1
    assert rooms[channel_id].unread == 3 and rooms[channel_id].streamed_since == 1


async def test_leaves_removals_roles_deletions_and_settings_are_applied(
    store: ProjectionStore,
) -> None:
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.join(BOB)
    room.add_member(ALICE, "carol")
    room.add_member(ALICE, "dave")
    doomed = room.post_message(BOB, "b1", "soon gone")
    kept = room.post_message(ALICE, "a1", "stays")
    room.delete_message(BOB, doomed)
    room.change_role(ALICE, "bob", Role.ADMIN)
    room.change_role(ALICE, "dave", Role.ADMIN)
    room.remove_member(BOB, "carol")
    room.change_settings(ALICE, "renamed", False)
    room.leave(BOB)
    events = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    await store.apply(numbered(events), project)
    room_id = str(room.id)

    members = [(m.user_id, m.role) for m in await store.members(room_id)]
    assert members == [("alice", Role.OWNER), ("dave", Role.ADMIN)]
    assert await store.role_of(room_id, "bob") == 0 and await store.role_of(room_id, "carol") == 0
    assert [r.room_id for r in await store.rooms_of("bob")] == []
    row = await store.room(room_id)
    assert row is not None and (row.name, row.public) == ("renamed", False)
    timeline = {
        m.message_id: m for m in await store.timeline(room_id, before=None, after=0, limit=10)
    }
    assert timeline[doomed].deleted and timeline[doomed].text == ""
    assert not timeline[kept].deleted and timeline[kept].text == "stays"


@pytest.mark.parametrize("factory", [sqlite_store, sqlite_inline_store])
async def test_the_embedded_store_rolls_back_a_batch_that_fails_while_writing(
    factory: Callable[[Path], contextlib.AbstractAsyncContextManager[ProjectionStore]],
    tmp_path: Path,
) -> None:
    """SQLite applies a batch in one transaction: a write that fails half-way leaves none
    of the batch's writes behind (Cassandra has no such transaction; its batches are
    idempotent instead, see the test above)."""
    room, events = conversation()
    room_id = str(room.id)

    def unwritable(envelope: Envelope, view: ProjectionView) -> list[ch.Change]:
        changes = project(envelope, view)
        if envelope.event_id == events[4].event_id:  # after two messages were written
            changes.append(ch.AdvanceRoom(room_id, object(), None))  # type: ignore[arg-type]
        return changes

    async with factory(tmp_path) as store:
        await store.apply(numbered(events[:2]), project)
        with pytest.raises(Exception):  # noqa: B017 - whatever SQLite raises for the value
            await store.apply(numbered(events[2:], 3), unwritable)
        assert await store.timeline(room_id, before=None, after=None, limit=10) == []
        assert await store.tracked_offset() == 2


async def test_a_direct_room_shares_presence_only_once_answered(store: ProjectionStore) -> None:
    room = Room.create_direct(direct_room_id("alice", "bob"), ALICE, "bob")
    room.post_message(ALICE, "a1", "hello?")
    opened = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    presence = encode_event(presence_changed(BOB, 1, PresenceStatus.ONLINE), "e")
    deliveries = await store.apply(numbered([*opened, presence]), project)
    notice = [d for d in deliveries if isinstance(d, ch.LiveNotice)]
    assert notice and "alice" not in notice[0].user_ids  # a stranger learns nothing
    assert await store.quiet_rooms([str(room.id), "other"]) == {str(room.id)}

    room.post_message(BOB, "b1", "hi")  # answered
    answered = [encode_event(e, "e") for e in room.collect_events()]  # type: ignore[arg-type]
    assert [payload_kind(e) for e in answered] == ["message_posted", "direct_answered"]
    again = encode_event(presence_changed(BOB, 2, PresenceStatus.ONLINE), "e")
    start = len(opened) + 2
    deliveries = await store.apply(numbered([*answered, again], start), project)
    notice = [d for d in deliveries if isinstance(d, ch.LiveNotice)]
    assert "alice" in notice[0].user_ids
    assert await store.quiet_rooms([str(room.id)]) == set()


async def test_revocations_and_devices(store: ProjectionStore) -> None:
    events = [
        encode_event(presence_changed(ALICE, 1, PresenceStatus.ONLINE), "e"),
        encode_event(sessions_revoked(ALICE, 2, "phone"), "e"),
        encode_event(sessions_revoked(ALICE, 3, ""), "e"),
    ]
    deliveries = await store.apply(numbered(events), project)
    inbox = [d for d in deliveries if isinstance(d, ch.InboxEntry)]
    assert [d.user_id for d in inbox] == ["alice", "alice"]  # every gateway of hers hears it
    device_at, all_at = (e.occurred_at.seconds + e.occurred_at.nanos / 1e9 for e in events[1:])
    assert await store.revoked_at("alice", "laptop") == pytest.approx(all_at)
    assert await store.revoked_at("alice", "phone") == pytest.approx(max(device_at, all_at))
    assert await store.revoked_at("bob", "phone") == 0.0
    [device] = await store.devices("alice")
    assert device.device_id == "d1" and device.status == PresenceStatus.ONLINE
    assert device.last_activity
    assert await store.devices("carol") == []


async def test_a_room_keeps_its_namespace(store: ProjectionStore) -> None:
    in_game = EventMeta("alice", "d", "t", "game")
    game = Room.create_group(uuid4(), in_game, "g", True, "game")
    game.emit(in_game, "move", '{"x":1}', "")
    lobby = Room.create_group(uuid4(), ALICE, "l", True)
    events = [encode_event(e, "e") for r in (game, lobby) for e in r.collect_events()]  # type: ignore[arg-type]
    assert {e.namespace for e in events} == {"game", ""}
    await store.apply(numbered(events), project)
    assert await store.room_namespace(str(game.id)) == "game"
    assert await store.room_namespace(str(lobby.id)) == "default"
    assert await store.room_namespace(str(uuid4())) == "default"
    inbox = await store.inbox("alice", after=0, limit=10)
    assert [e.envelope.event_emitted.name for e in inbox if e.envelope.namespace][-1:] == ["move"]


async def test_the_directory_searches_pages_and_forgets_deleted_rooms(
    store: ProjectionStore,
) -> None:
    in_game = EventMeta("alice", "d", "t", "game")
    rooms = [
        Room.create_group(uuid4(), ALICE, "Lobby", True),
        Room.create_channel(uuid4(), ALICE, "lobby news", True),
        Room.create_group(uuid4(), ALICE, "Staff lobby", False),
        Room.create_group(uuid4(), in_game, "lobby", True, "game"),
        Room.create_group(uuid4(), ALICE, "gone lobby", True),
    ]
    rooms[0].join(BOB)
    rooms[2].change_settings(ALICE, "Staff Lobby (private)", False)
    backend = EventMeta("system", "apikey:k", server=True)
    rooms[4].delete(backend)
    direct = Room.create_direct(direct_room_id("alice", "bob"), ALICE, "bob")
    events = [
        encode_event(e, "e")  # type: ignore[arg-type]
        for r in [*rooms, direct]
        for e in r.collect_events()
    ]
    await store.apply(numbered(events), project)
    found = await store.directory({"default"}, query="LOBBY")
    assert [(r.name, r.kind, r.members) for r in found] == [("Lobby", 1, 2), ("lobby news", 3, 1)]
    everything = await store.directory({"default"}, query="lobby", public_only=False)
    assert [r.name for r in everything] == ["Lobby", "lobby news", "Staff Lobby (private)"]
    assert not everything[2].public
    first = await store.directory({"default"}, query="lobby", limit=1)
    second = await store.directory({"default"}, query="lobby", limit=1, after=first[0].room_id)
    assert [r.name for r in [*first, *second]] == ["Lobby", "lobby news"]
    game = await store.directory({"game"})
    assert [(r.name, r.namespace) for r in game] == [("lobby", "game")]
    assert await store.directory(set()) == []
    assert await store.room(str(rooms[4].id)) is None


async def test_api_keys_are_listed_and_revoked(store: ProjectionStore) -> None:
    operator = EventMeta("operator", "cli", "t")
    events = [
        encode_event(
            api_key_created(operator, "0123456789ab", "shop", ("publish",), (), "h1"), "e"
        ),
        encode_event(
            api_key_created(operator, "ba9876543210", "game", ("read",), ("game",), "h2"), "e"
        ),
        encode_event(api_key_revoked(operator, "0123456789ab"), "e"),
    ]
    await store.apply(numbered(events), project)
    keys = await store.api_keys()
    assert [(k.key_id, k.name, k.scopes, k.namespaces) for k in keys] == [
        ("0123456789ab", "shop", ("publish",), ()),
        ("ba9876543210", "game", ("read",), ("game",)),
    ]
    assert keys[0].revoked_at and not keys[1].revoked_at
    assert keys[0].created_by == "operator" and keys[1].secret_hash == "h2"
    assert await store.api_key("ba9876543210") == keys[1]
    assert await store.api_key("ffffffffffff") is None
