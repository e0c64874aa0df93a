from __future__ import annotations

import subprocess
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.domain import DomainEvent

from domain.apikeys import api_key_created, api_key_revoked
from domain.room import Room
from domain.user import presence_changed, sessions_revoked
from domain.values import AckKind, EventMeta, PresenceStatus, Role, direct_room_id
from proto.codec import (
    CodecError,
    decode_envelope,
    encode_event,
    envelope_from_bytes,
    envelope_to_dict,
)

ROOT = Path(__file__).resolve().parents[2]


def every_kind_of_event() -> list[DomainEvent]:
    alice = EventMeta("alice", "laptop", "trace-1")
    room = Room.create_group(uuid4(), alice, "general", True)
    room.add_member(alice, "bob", Role.ADMIN)
    room.change_role(alice, "bob", Role.MEMBER)
    message_id = room.post_message(alice, "c-1", "hello ✓")
    room.edit_message(alice, message_id, "hello!")
    room.delete_message(alice, message_id)
    room.change_settings(alice, "renamed", False)
    room.remove_member(alice, "bob")
    room.lift_ban(alice, "bob")
    room.ack(alice, AckKind.READ, 3)
    events: list[DomainEvent] = list(room.collect_events())  # type: ignore[arg-type]
    direct = Room.create_direct(direct_room_id("alice", "bob"), alice, "bob")
    direct.post_message(EventMeta("bob", "laptop", "trace-1"), "", "hi")
    events.extend(direct.collect_events())  # type: ignore[arg-type]
    events.append(presence_changed(alice, 1, PresenceStatus.AWAY))
    events.append(sessions_revoked(alice, 2, "phone"))
    backend = EventMeta("system", "laptop", "trace-1", request_id="req-9", server=True)
    temp = Room.create_group(uuid4(), alice, "temp", True)
    temp.post_message(backend, "", "from the backend")
    temp.delete(backend)
    events.extend(temp.collect_events())  # type: ignore[arg-type]
    events.append(api_key_created(alice, "0123456789ab", "shop", ("publish",), ("game",), "ab"))
    events.append(api_key_revoked(alice, "0123456789ab"))
    return events


@pytest.mark.parametrize("event", every_kind_of_event(), ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_protobuf(event: DomainEvent) -> None:
    envelope = encode_event(event, "epoch-1")
    assert envelope.epoch == "epoch-1"
    assert envelope.actor.device_id == "laptop"
    assert envelope.trace_id == "trace-1"
    assert decode_envelope(envelope.SerializeToString()) == event


def test_event_ids_are_stable_for_a_stream_position() -> None:
    event = every_kind_of_event()[0]
    assert encode_event(event, "a").event_id == encode_event(event, "b").event_id


def test_json_uses_the_protobuf_mapping() -> None:
    posted = next(e for e in every_kind_of_event() if type(e).__name__ == "MessagePosted")
    data = envelope_to_dict(encode_event(posted, "e"))
    assert data["position"] == "5"  # int64 as a string
    assert data["messagePosted"]["clientMsgId"] == "c-1"


def test_garbage_bytes_are_a_codec_error() -> None:
    with pytest.raises(CodecError):
        envelope_from_bytes(b"\xff\xff\xff")


def test_committed_generated_code_matches_the_schema(tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "gen_proto.sh"), str(tmp_path)], check=True)
    generated = sorted([*tmp_path.rglob("*_pb2.py*"), *tmp_path.rglob("*.desc")])
    assert generated, "protoc produced nothing"
    for fresh in generated:
        committed = ROOT / fresh.relative_to(tmp_path)
        assert committed.read_bytes() == fresh.read_bytes(), f"{committed} is stale: run gen_proto"
