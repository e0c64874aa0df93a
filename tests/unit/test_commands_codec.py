from __future__ import annotations

from uuid import uuid4

import pytest

from domain import commands as c
from domain.values import AckKind, EventMeta, PresenceStatus, Role, direct_room_id
from proto.codec import CodecError
from proto.commands import command_key, decode_command, encode_command

META = EventMeta("alice", "phone", "trace")
ROOM = uuid4()

EVERY_COMMAND: list[c.Command] = [
    c.CreateRoom(META, ROOM, "general", False),
    c.OpenDirect(META, "bob"),
    c.JoinRoom(META, ROOM),
    c.AddMember(META, ROOM, "bob", Role.ADMIN),
    c.LeaveRoom(META, ROOM),
    c.RemoveMember(META, ROOM, "bob"),
    c.ChangeRole(META, ROOM, "bob", Role.OWNER),
    c.ChangeRoomSettings(META, ROOM, "renamed", True),
    c.PostMessage(META, ROOM, "m-1", "hi"),
    c.EditMessage(META, ROOM, "msg", "hi!"),
    c.DeleteMessage(META, ROOM, "msg"),
    c.AckRoom(META, ROOM, AckKind.READ, 7),
    c.ChangePresence(META, PresenceStatus.AWAY),
    c.DeleteRoom(EventMeta("system", "apikey:k", "t", server=True, request_id="r-1"), ROOM),
    c.CreateApiKey(META, "0123456789ab", "shop", ("publish", "read"), ("game",), "ab" * 32),
    c.RevokeApiKey(META, "0123456789ab"),
]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda x: type(x).__name__)
def test_every_command_round_trips(command: c.Command) -> None:
    record = encode_command(command, "req-1", "gw-1")
    decoded_record, decoded = decode_command(record.SerializeToString())
    assert decoded == command
    assert (decoded_record.request_id, decoded_record.gateway_id) == ("req-1", "gw-1")


def test_commands_are_keyed_by_the_stream_that_decides_them() -> None:
    assert command_key(c.PostMessage(META, ROOM, "", "x")) == f"room:{ROOM}"
    assert command_key(c.ChangePresence(META, PresenceStatus.ONLINE)) == "user:alice"
    assert command_key(c.OpenDirect(META, "bob")) == f"room:{direct_room_id('alice', 'bob')}"


def test_malformed_records_are_codec_errors() -> None:
    with pytest.raises(CodecError):
        decode_command(b"\x0a\x05hello\xff")
    with pytest.raises(CodecError):
        decode_command(b"")  # no command
