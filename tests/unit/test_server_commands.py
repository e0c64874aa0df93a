"""The domain rules of a backend acting through an API key: owner's rights without
membership, one application per request id, room deletion and the keys' own streams."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from domain import commands as c
from domain.apikeys import api_key_aggregate_id
from domain.errors import (
    ApiKeyNotFound,
    Conflict,
    InvalidArgument,
    NamespaceNotFound,
    NotAMember,
    RoomNotFound,
)
from domain.handler import EventRef
from domain.room import Room
from domain.values import EventMeta, Role
from tests.unit.test_handler import MemoryStreams, run

ALICE = EventMeta("alice", "phone")
BACKEND = EventMeta("system", "apikey:0123456789ab", server=True)


def with_request(meta: EventMeta, request_id: str) -> EventMeta:
    return replace(meta, request_id=request_id)


def test_a_backend_posts_and_manages_members_without_being_a_member() -> None:
    streams = MemoryStreams()
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "orders"))
    run(streams, c.PostMessage(BACKEND, room_id, "", "order 42 shipped"))
    run(streams, c.AddMember(BACKEND, room_id, "bob", Role.OWNER))
    run(streams, c.ChangeRole(BACKEND, room_id, "alice", Role.MEMBER))
    run(streams, c.RemoveMember(BACKEND, room_id, "alice"))
    room = streams.rooms[room_id]
    assert room.members == {"bob": Role.OWNER}
    assert "system" not in room.members
    # A user without the flag and without membership is still refused.
    with pytest.raises(NotAMember):
        run(streams, c.PostMessage(EventMeta("system"), room_id, "", "spoof"))


def test_a_request_id_is_applied_once_and_answers_with_its_first_event() -> None:
    streams = MemoryStreams()
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "orders"))
    meta = with_request(BACKEND, "req-1")
    first = run(streams, c.PostMessage(meta, room_id, "", "once"))
    again = run(streams, c.PostMessage(meta, room_id, "", "once"))
    assert again.duplicate and again.answer == first.answer == EventRef(room_id, 3)
    added = run(streams, c.AddMember(with_request(BACKEND, "req-2"), room_id, "bob"))
    repeat = run(streams, c.AddMember(with_request(BACKEND, "req-2"), room_id, "bob"))
    assert repeat.duplicate and repeat.answer == added.answer
    posted = [e for e in streams.saved if isinstance(e, Room.MessagePosted)]
    assert [e.text for e in posted] == ["once"]


def test_a_room_created_by_a_request_is_created_once() -> None:
    streams = MemoryStreams()
    room_id = uuid4()
    meta = with_request(BACKEND, "create-1")
    run(streams, c.CreateRoom(meta, room_id, "project"))
    assert run(streams, c.CreateRoom(meta, room_id, "project")).duplicate
    with pytest.raises(Conflict):
        run(streams, c.CreateRoom(with_request(BACKEND, "other"), room_id, "project"))


def test_deleting_a_room_removes_every_member_and_ends_it() -> None:
    streams = MemoryStreams()
    room_id = uuid4()
    run(streams, c.CreateRoom(ALICE, room_id, "temp"))
    run(streams, c.AddMember(ALICE, room_id, "bob"))
    run(streams, c.DeleteRoom(BACKEND, room_id))
    left = [e.user_id for e in streams.saved if isinstance(e, Room.MemberLeft)]
    assert sorted(left) == ["alice", "bob"]
    assert isinstance(streams.saved[-1], Room.Deleted)
    with pytest.raises(RoomNotFound):
        run(streams, c.PostMessage(BACKEND, room_id, "", "too late"))
    with pytest.raises(RoomNotFound):
        run(streams, c.JoinRoom(ALICE, room_id))


def test_api_keys_are_created_once_and_revoked_once() -> None:
    streams = MemoryStreams()
    operator = EventMeta("operator", "cli")
    create = c.CreateApiKey(operator, "0123456789ab", "shop", ("publish",), (), "h" * 64)
    assert run(streams, create).answer == EventRef(api_key_aggregate_id("0123456789ab"), 1)
    assert run(streams, create).duplicate  # a retry of the same creation
    with pytest.raises(Conflict):
        run(streams, replace(create, secret_hash="x" * 64))
    revoke = c.RevokeApiKey(operator, "0123456789ab")
    assert not run(streams, revoke).duplicate
    assert run(streams, revoke).duplicate
    with pytest.raises(ApiKeyNotFound):
        run(streams, c.RevokeApiKey(operator, "ffffffffffff"))


@pytest.mark.parametrize(
    ("scopes", "namespaces", "error"),
    [
        ((), (), InvalidArgument),
        (("fly",), (), InvalidArgument),
        (("read",), ("nope",), NamespaceNotFound),
    ],
)
def test_api_keys_need_known_scopes_and_namespaces(
    scopes: tuple[str, ...], namespaces: tuple[str, ...], error: type[Exception]
) -> None:
    create = c.CreateApiKey(EventMeta("op"), "0123456789ab", "k", scopes, namespaces, "h" * 64)
    with pytest.raises(error):
        run(MemoryStreams(), create)
