from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain import commands as c
from domain import errors
from domain.apikeys import ApiKeyCreated, ApiKeyRevoked
from domain.errors import Conflict, InvalidArgument, NotAMember, RoomNotFound
from domain.handler import CommandHandler, Decision, EventRef
from domain.namespaces import NamespaceConfigured
from domain.room import Room
from domain.user import UserEvent
from domain.values import (
    AckKind,
    EventMeta,
    PresenceStatus,
    RoomKind,
    direct_room_id,
    user_aggregate_id,
)

ALICE, BOB = EventMeta("alice", "phone", "t1"), EventMeta("bob")


class MemoryStreams:
    """Applies decisions like a log would: rooms kept, user streams counted."""

    def __init__(self) -> None:
        self.rooms: dict[UUID, Room] = {}
        self.user_lengths: dict[str, int] = {}
        self.namespaces: dict[str, tuple[int, str]] = {}
        self.api_keys: dict[str, tuple[int, str]] = {}
        self.saved: list[object] = []

    def get_room(self, room_id: UUID) -> Room | None:
        return self.rooms.get(room_id)

    def user_stream_length(self, user_id: str) -> int:
        return self.user_lengths.get(user_id, 0)

    def namespace_settings(self, name: str) -> tuple[int, str]:
        return self.namespaces.get(name, (0, ""))

    def api_key(self, key_id: str) -> tuple[int, str]:
        return self.api_keys.get(key_id, (0, ""))

    def save(self, decision: Decision) -> None:
        for item in decision.pending:
            if isinstance(item, Room):
                self.saved.extend(item.collect_events())
                self.rooms[item.id] = item
            elif isinstance(item, NamespaceConfigured):
                self.saved.append(item)
                self.namespaces[item.name] = (item.originator_version, item.settings)
            elif isinstance(item, ApiKeyCreated | ApiKeyRevoked):
                self.saved.append(item)
                known = self.api_keys.get(item.key_id, (0, ""))[1]
                secret_hash = item.secret_hash if isinstance(item, ApiKeyCreated) else known
                self.api_keys[item.key_id] = (item.originator_version, secret_hash)
            else:
                assert isinstance(item, UserEvent)
                self.saved.append(item)
                self.user_lengths[item.user_id] = item.originator_version


@pytest.fixture
def streams() -> MemoryStreams:
    return MemoryStreams()


def run(streams: MemoryStreams, command: c.Command) -> Decision:
    decision = CommandHandler(streams).decide(command)
    streams.save(decision)
    return decision


def test_create_room_answers_with_room_created(streams: MemoryStreams) -> None:
    room_id = uuid4()
    decision = run(streams, c.CreateRoom(ALICE, room_id, "general"))
    assert decision.answer == EventRef(room_id, 1)
    with pytest.raises(Conflict):
        run(streams, c.CreateRoom(ALICE, room_id, "again"))


def test_commands_on_unknown_rooms_fail(streams: MemoryStreams) -> None:
    with pytest.raises(RoomNotFound):
        run(streams, c.JoinRoom(BOB, uuid4()))


def test_duplicate_post_appends_nothing_and_names_the_original(streams: MemoryStreams) -> None:
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "general"))
    first = run(streams, c.PostMessage(ALICE, room_id, "m-1", "hi"))
    saved = len(streams.saved)
    assert not first.duplicate and len(first.pending) == 1
    again = run(streams, c.PostMessage(ALICE, room_id, "m-1", "hi"))
    assert again.duplicate and again.pending == ()
    assert again.answer == first.answer == EventRef(room_id, 3)
    assert len(streams.saved) == saved


def test_open_direct_creates_once(streams: MemoryStreams) -> None:
    first = run(streams, c.OpenDirect(ALICE, "bob"))
    assert not first.duplicate
    second = run(streams, c.OpenDirect(BOB, "alice"))
    assert second.duplicate
    assert first.answer == second.answer == EventRef(direct_room_id("alice", "bob"), 1)
    assert sum(type(e).__name__ == "RoomCreated" for e in streams.saved) == 1


def test_acks_go_to_the_room_and_presence_to_the_users_stream(streams: MemoryStreams) -> None:
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "general"))
    ack = run(streams, c.AckRoom(ALICE, room_id, AckKind.READ, 2))
    assert ack.answer == EventRef(room_id, 3)
    first = run(streams, c.ChangePresence(ALICE, PresenceStatus.ONLINE))
    second = run(streams, c.ChangePresence(ALICE, PresenceStatus.AWAY))
    assert first.answer == EventRef(user_aggregate_id("alice"), 1)
    assert second.answer == EventRef(user_aggregate_id("alice"), 2)
    with pytest.raises(NotAMember):
        run(streams, c.AckRoom(BOB, room_id, AckKind.READ, 1))


def test_the_join_that_makes_a_room_large_also_moves_it_and_answers_with_the_join(
    streams: MemoryStreams,
) -> None:
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "growing"))
    handler = CommandHandler(streams, large_room_members=2)
    first = handler.decide(c.AddMember(ALICE, room_id, "bob"))
    streams.save(first)
    assert not streams.get_room(room_id).streamed  # type: ignore[union-attr]
    crossing = handler.decide(c.AddMember(ALICE, room_id, "carol"))
    streams.save(crossing)
    room = streams.get_room(room_id)
    assert room is not None and room.streamed_since == room.version == 5
    assert crossing.answer == EventRef(room_id, 4)  # the join, not the move


def test_channels_are_created_by_kind_and_direct_rooms_are_not(streams: MemoryStreams) -> None:
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "news", True, RoomKind.CHANNEL))
    assert streams.get_room(room_id).kind is RoomKind.CHANNEL  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument):
        run(streams, c.CreateRoom(ALICE, uuid4(), "dm", True, RoomKind.DIRECT))


def test_every_domain_error_has_its_own_code_that_rebuilds_it() -> None:
    classes, todo = [], [errors.DomainError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    assert len({cls.code for cls in classes}) == len(classes)
    for cls in classes:
        rebuilt = errors.error_for_code(cls.code, "why")
        assert type(rebuilt) is cls and str(rebuilt) == "why"
    assert type(errors.error_for_code("from_a_newer_version", "x")) is errors.DomainError


def test_an_answer_in_a_direct_room_replies_with_the_message(streams: MemoryStreams) -> None:
    room_id = direct_room_id("alice", "bob")
    run(streams, c.OpenDirect(ALICE, "bob"))  # positions 1-3: created, two joins
    answer = run(streams, c.PostMessage(BOB, room_id, "b-1", "hi"))
    assert answer.answer == EventRef(room_id, 4)  # the message, not the DirectAnswered at 5
    names = [type(e).__name__ for e in streams.saved]
    assert names[-2:] == ["MessagePosted", "DirectAnswered"]
    again = run(streams, c.PostMessage(BOB, room_id, "b-1", "hi"))
    assert again.duplicate and again.answer == EventRef(room_id, 4)


def test_revocations_and_lifted_bans_are_logged(streams: MemoryStreams) -> None:
    revoked = run(streams, c.RevokeSessions(ALICE, "phone"))
    assert type(streams.saved[-1]).__name__ == "SessionsRevoked"
    assert streams.saved[-1].device_id == "phone"  # type: ignore[attr-defined]
    assert revoked.answer.position == 1
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "general"))
    run(streams, c.JoinRoom(BOB, room_id))
    run(streams, c.RemoveMember(ALICE, room_id, "bob"))
    run(streams, c.LiftBan(ALICE, room_id, "bob"))
    assert type(streams.saved[-1]).__name__ == "BanLifted"
    run(streams, c.JoinRoom(BOB, room_id))


def test_namespace_settings_are_recorded_when_they_change(streams: MemoryStreams) -> None:
    operator = EventMeta("tidings", "config")
    first = run(streams, c.ConfigureNamespace(operator, "game", '{"typing":false}'))
    assert not first.duplicate and first.answer.position == 1
    same = run(streams, c.ConfigureNamespace(operator, "game", '{"typing":false}'))
    assert same.duplicate and same.answer == first.answer
    changed = run(streams, c.ConfigureNamespace(operator, "game", '{"typing":true}'))
    assert changed.answer.position == 2
    other = run(streams, c.ConfigureNamespace(operator, "chat", "{}"))
    assert other.answer.position == 1
    recorded = [e for e in streams.saved if isinstance(e, NamespaceConfigured)]
    assert [(e.name, e.settings) for e in recorded] == [
        ("game", '{"typing":false}'),
        ("game", '{"typing":true}'),
        ("chat", "{}"),
    ]
