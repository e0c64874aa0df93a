"""Live records carry every kind of delivery between processes, and back, unchanged; and the
domain's enums mirror their protobuf twins value for value."""

from __future__ import annotations

from enum import IntEnum
from uuid import uuid4

import pytest

from api.recovery import Recovery
from domain.room import Room
from domain.user import presence_changed
from domain.values import AckKind, EventMeta, PresenceStatus, Role, RoomKind
from projections.changes import Delivery, InboxEntry, LiveNotice, RoomStreamEntry, TypingNotice
from proto.codec import encode_event
from proto.tidings.v1 import client_pb2 as cp
from proto.tidings.v1 import events_pb2 as pb
from streams.live_records import decode_live, encode_live

ALICE = EventMeta("alice", "laptop", "trace-1")


def _posted() -> pb.Envelope:
    room = Room.create_group(uuid4(), ALICE, "general", True)
    room.post_message(ALICE, "c-1", "hello")
    return encode_event(list(room.collect_events())[-1], "epoch-1")  # type: ignore[arg-type]


POSTED = _posted()
ONLINE = encode_event(presence_changed(ALICE, 2, PresenceStatus.ONLINE), "epoch-1")
ROOM_ID = POSTED.message_posted.room_id

DELIVERIES: list[tuple[Delivery, str]] = [
    (RoomStreamEntry(ROOM_ID, POSTED.position, POSTED), POSTED.stream),
    (InboxEntry("bob", 7, POSTED), "bob"),
    (LiveNotice(frozenset({"bob", "carol"}), ONLINE, True), ""),
    (TypingNotice(("bob", "carol"), ROOM_ID, "alice", True), ""),
]


@pytest.mark.parametrize(("delivery", "key"), DELIVERIES, ids=lambda d: type(d).__name__)
def test_a_delivery_survives_the_live_topic(delivery: Delivery, key: str) -> None:
    encoded_key, value = encode_live(delivery)
    assert encoded_key == key  # gateways skip records for nobody they hold by this key
    assert decode_live(value) == delivery


def test_a_record_of_an_unknown_kind_is_skipped() -> None:
    assert decode_live(b"") is None


@pytest.mark.parametrize(
    ("domain_enum", "proto_enum"),
    [
        (RoomKind, pb.RoomKind),
        (Role, pb.Role),
        (AckKind, pb.AckKind),
        (PresenceStatus, pb.PresenceStatus),
        (Recovery, cp.Recovery),
    ],
)
def test_domain_enums_mirror_the_schema(domain_enum: type[IntEnum], proto_enum: object) -> None:
    descriptor = proto_enum.DESCRIPTOR  # type: ignore[attr-defined]
    prefix = descriptor.values[0].name.removesuffix("UNSPECIFIED")
    schema = {v.name.removeprefix(prefix): v.number for v in descriptor.values if v.number}
    assert {member.name: member.value for member in domain_enum} == schema
