"""The one translation between domain events, protobuf envelopes and JSON.

Nothing else imports generated protobuf code for events. The log stores
``Envelope.SerializeToString()`` bytes (the embedded log through eventsourcing's Mapper seam,
``streams/log_sqlite.py``), Kafka records carry the same bytes, and clients see the protobuf
JSON mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.utils import get_topic
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from domain.apikeys import ApiKeyCreated, ApiKeyRevoked, api_key_aggregate_id, api_key_stream
from domain.namespaces import (
    DEFAULT_NAMESPACE,
    NamespaceConfigured,
    namespace_aggregate_id,
    namespace_stream,
)
from domain.room import Room
from domain.user import PresenceChanged, SessionsRevoked, UserEvent
from domain.values import (
    AckKind,
    EventMeta,
    PresenceStatus,
    Role,
    RoomKind,
    event_id,
    room_stream,
    user_aggregate_id,
    user_stream,
)
from proto.tidings.v1 import events_pb2 as pb

__all__ = [
    "CodecError",
    "Envelope",
    "decode_envelope",
    "domain_event",
    "encode_event",
    "envelope_from_bytes",
    "envelope_to_dict",
    "occurred_seconds",
    "payload_kind",
    "value_to_python",
]

Envelope = pb.Envelope

_ROOM_TOPIC = get_topic(Room)


class CodecError(ValueError):
    """Bytes or JSON that do not decode to a valid Tidings message."""


def stream_of(event: DomainEventProtocol[Any]) -> str:
    if isinstance(event, UserEvent):
        return user_stream(event.user_id)
    if isinstance(event, NamespaceConfigured):
        return namespace_stream(event.name)
    if isinstance(event, ApiKeyCreated | ApiKeyRevoked):
        return api_key_stream(event.key_id)
    return room_stream(event.originator_id)


def encode_event(event: DomainEvent, epoch: str) -> pb.Envelope:
    """Wraps one domain event in its envelope."""
    stream = stream_of(event)
    meta: EventMeta = event.meta  # type: ignore[attr-defined]
    envelope = pb.Envelope(
        # A message's id is its event's id already (Room.post_message).
        event_id=event.message_id
        if isinstance(event, Room.MessagePosted)
        else event_id(stream, event.originator_version),
        stream=stream,
        position=event.originator_version,
        epoch=epoch,
        actor=pb.Actor(user_id=meta.user_id, device_id=meta.device_id),
        trace_id=meta.trace_id,
        namespace=meta.namespace,
        request_id=meta.request_id,
    )
    _set_timestamp(envelope.occurred_at, event.timestamp)
    room_id = str(event.originator_id)
    match event:
        case Room.RoomCreated():
            envelope.room_created.CopyFrom(
                pb.RoomCreated(
                    room_id=room_id,
                    name=event.name,
                    kind=int(event.kind),  # type: ignore[arg-type]
                    public=event.public,
                    namespace=meta.namespace,
                )
            )
        case Room.RoomSettingsChanged():
            envelope.room_settings_changed.CopyFrom(
                pb.RoomSettingsChanged(room_id=room_id, name=event.name, public=event.public)
            )
        case Room.MemberJoined():
            envelope.member_joined.CopyFrom(
                pb.MemberJoined(
                    room_id=room_id,
                    user_id=event.user_id,
                    role=int(event.role),  # type: ignore[arg-type]
                    added_by=event.added_by,
                )
            )
        case Room.MemberLeft():
            envelope.member_left.CopyFrom(
                pb.MemberLeft(room_id=room_id, user_id=event.user_id, removed_by=event.removed_by)
            )
        case Room.MemberRoleChanged():
            envelope.member_role_changed.CopyFrom(
                pb.MemberRoleChanged(
                    room_id=room_id,
                    user_id=event.user_id,
                    role=int(event.role),  # type: ignore[arg-type]
                )
            )
        case Room.MessagePosted():
            envelope.message_posted.CopyFrom(
                pb.MessagePosted(
                    room_id=room_id,
                    message_id=event.message_id,
                    client_msg_id=event.client_msg_id,
                    text=event.text,
                )
            )
        case NamespaceConfigured():
            envelope.namespace_configured.name = event.name
            envelope.namespace_configured.settings_json = event.settings
        case ApiKeyCreated():
            envelope.api_key_created.CopyFrom(
                pb.ApiKeyCreated(
                    key_id=event.key_id,
                    name=event.name,
                    scopes=list(event.scopes),
                    namespaces=list(event.namespaces),
                    secret_hash=event.secret_hash,
                )
            )
        case ApiKeyRevoked():
            envelope.api_key_revoked.key_id = event.key_id
        case Room.Deleted():
            envelope.room_deleted.room_id = room_id
        case Room.EventEmitted():
            emitted = envelope.event_emitted
            emitted.room_id = room_id
            emitted.name = event.name
            emitted.client_event_id = event.client_event_id
            json_format.Parse(event.payload, emitted.payload)
        case Room.MessageEdited():
            envelope.message_edited.CopyFrom(
                pb.MessageEdited(room_id=room_id, message_id=event.message_id, text=event.text)
            )
        case Room.MessageDeleted():
            envelope.message_deleted.CopyFrom(
                pb.MessageDeleted(room_id=room_id, message_id=event.message_id)
            )
        case Room.StreamStarted():
            envelope.room_stream_started.CopyFrom(
                pb.RoomStreamStarted(room_id=room_id, members=event.members)
            )
        case Room.Acked():
            envelope.acked.CopyFrom(
                pb.Acked(
                    room_id=room_id,
                    user_id=meta.user_id,
                    kind=int(event.kind),  # type: ignore[arg-type]
                    up_to=event.up_to,
                )
            )
        case SessionsRevoked():
            envelope.sessions_revoked.CopyFrom(
                pb.SessionsRevoked(user_id=event.user_id, device_id=event.device_id)
            )
        case Room.DirectAnswered():
            envelope.direct_answered.CopyFrom(pb.DirectAnswered(room_id=room_id))
        case Room.BanLifted():
            envelope.ban_lifted.CopyFrom(pb.BanLifted(room_id=room_id, user_id=event.user_id))
        case PresenceChanged():
            envelope.presence_changed.CopyFrom(
                pb.PresenceChanged(
                    user_id=event.user_id,
                    device_id=event.device_id,
                    status=int(event.status),  # type: ignore[arg-type]
                )
            )
        case _:
            raise CodecError(f"no protobuf mapping for {type(event).__qualname__}")
    return envelope


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _set_timestamp(target: Timestamp, at: datetime) -> None:
    """``Timestamp.FromDatetime`` for an aware datetime, the same fields without its
    pure-Python round trip (this runs for every event appended)."""
    delta = at - _EPOCH
    target.seconds = delta.days * 86_400 + delta.seconds
    target.nanos = delta.microseconds * 1000


def occurred_seconds(envelope: pb.Envelope) -> float:
    """When the event occurred, in seconds since the epoch."""
    return envelope.occurred_at.seconds + envelope.occurred_at.nanos / 1e9


def payload_kind(envelope: pb.Envelope) -> str:
    """The name of the envelope's payload field, e.g. ``"message_posted"``."""
    kind = envelope.WhichOneof("payload")
    if kind is None:
        raise CodecError(f"envelope {envelope.event_id} has no payload")
    return str(kind)


def payload_json(value: struct_pb2.Value) -> str:
    """An application event's payload as compact JSON text."""
    return orjson.dumps(value_to_python(value)).decode()


def value_to_python(value: struct_pb2.Value) -> Any:
    """A ``google.protobuf.Value`` as plain JSON data; whole numbers come back as ints (a
    Value holds every number as a double)."""
    return _whole(json_format.MessageToDict(value))


_EXACT = 2**53


def _whole(data: Any) -> Any:
    if isinstance(data, float):
        return int(data) if data.is_integer() and -_EXACT <= data <= _EXACT else data
    if isinstance(data, dict):
        return {k: _whole(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_whole(v) for v in data]
    return data


def envelope_from_bytes(data: bytes) -> pb.Envelope:
    envelope = pb.Envelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        raise CodecError(f"not a tidings.v1.Envelope: {exc}") from exc
    return envelope


def envelope_to_dict(envelope: pb.Envelope) -> dict[str, Any]:
    """The protobuf JSON mapping of an envelope (camelCase, int64 as strings)."""
    return json_format.MessageToDict(envelope)


def _meta(envelope: pb.Envelope) -> EventMeta:
    return EventMeta(
        envelope.actor.user_id,
        envelope.actor.device_id,
        envelope.trace_id,
        envelope.namespace,
        request_id=envelope.request_id,
    )


def _common(envelope: pb.Envelope, originator_id: UUID) -> dict[str, Any]:
    return {
        "originator_id": originator_id,
        "originator_version": envelope.position,
        "timestamp": envelope.occurred_at.ToDatetime(tzinfo=UTC),
        "meta": _meta(envelope),
    }


def _room_event(kind: str, envelope: pb.Envelope) -> DomainEventProtocol[Any]:
    p = getattr(envelope, kind)
    common = _common(envelope, UUID(p.room_id))
    builders: dict[str, Callable[[], DomainEventProtocol[Any]]] = {
        "room_created": lambda: Room.RoomCreated(
            originator_topic=_ROOM_TOPIC,
            name=p.name,
            kind=RoomKind(p.kind),
            public=p.public,
            namespace=p.namespace or DEFAULT_NAMESPACE,
            **common,
        ),
        "room_settings_changed": lambda: Room.RoomSettingsChanged(
            name=p.name, public=p.public, **common
        ),
        "member_joined": lambda: Room.MemberJoined(
            user_id=p.user_id, role=Role(p.role), added_by=p.added_by, **common
        ),
        "member_left": lambda: Room.MemberLeft(
            user_id=p.user_id, removed_by=p.removed_by, **common
        ),
        "member_role_changed": lambda: Room.MemberRoleChanged(
            user_id=p.user_id, role=Role(p.role), **common
        ),
        "message_posted": lambda: Room.MessagePosted(
            message_id=p.message_id, client_msg_id=p.client_msg_id, text=p.text, **common
        ),
        "event_emitted": lambda: Room.EventEmitted(
            name=p.name,
            payload=payload_json(p.payload),
            client_event_id=p.client_event_id,
            **common,
        ),
        "message_edited": lambda: Room.MessageEdited(
            message_id=p.message_id, text=p.text, **common
        ),
        "message_deleted": lambda: Room.MessageDeleted(message_id=p.message_id, **common),
        "room_stream_started": lambda: Room.StreamStarted(members=p.members, **common),
        "acked": lambda: Room.Acked(kind=AckKind(p.kind), up_to=p.up_to, **common),
        "ban_lifted": lambda: Room.BanLifted(user_id=p.user_id, **common),
        "direct_answered": lambda: Room.DirectAnswered(**common),
        "room_deleted": lambda: Room.Deleted(**common),
    }
    return builders[kind]()


def domain_event(envelope: pb.Envelope) -> DomainEventProtocol[Any]:
    """The domain event an envelope carries (the inverse of :func:`encode_event`)."""
    kind = payload_kind(envelope)
    if kind == "presence_changed":
        p = envelope.presence_changed
        return PresenceChanged(
            user_id=p.user_id,
            device_id=p.device_id,
            status=PresenceStatus(p.status),
            **_common(envelope, user_aggregate_id(p.user_id)),
        )
    if kind == "namespace_configured":
        n = envelope.namespace_configured
        return NamespaceConfigured(
            name=n.name,
            settings=n.settings_json,
            **_common(envelope, namespace_aggregate_id(n.name)),
        )
    if kind == "api_key_created":
        k = envelope.api_key_created
        return ApiKeyCreated(
            key_id=k.key_id,
            name=k.name,
            scopes=tuple(k.scopes),
            namespaces=tuple(k.namespaces),
            secret_hash=k.secret_hash,
            **_common(envelope, api_key_aggregate_id(k.key_id)),
        )
    if kind == "api_key_revoked":
        key_id = envelope.api_key_revoked.key_id
        return ApiKeyRevoked(key_id=key_id, **_common(envelope, api_key_aggregate_id(key_id)))
    if kind == "sessions_revoked":
        r = envelope.sessions_revoked
        return SessionsRevoked(
            user_id=r.user_id,
            device_id=r.device_id,
            **_common(envelope, user_aggregate_id(r.user_id)),
        )
    return _room_event(kind, envelope)


def decode_envelope(data: bytes) -> DomainEventProtocol[Any]:
    return domain_event(envelope_from_bytes(data))
