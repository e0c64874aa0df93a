"""Deliveries as records of the live topic, and back (internal protobuf types only).

A record's key says whom it is for when that is one user or one room stream, so a gateway
skips records for nobody it holds before decoding them; multi-user notices are unkeyed.
"""

from __future__ import annotations

from projections.changes import (
    AppEventNotice,
    Delivery,
    DisconnectNotice,
    InboxEntry,
    LiveNotice,
    RoomStreamEntry,
    TypingNotice,
)
from proto.tidings.v1 import internal_pb2 as ip

__all__ = ["decode_live", "encode_live"]


def encode_live(delivery: Delivery) -> tuple[str, bytes]:
    """The key and value of the live record that carries ``delivery``."""
    match delivery:
        case RoomStreamEntry(envelope=envelope):
            return envelope.stream, ip.LiveRecord(room_event=envelope).SerializeToString()
        case InboxEntry(user_id, position, envelope):
            inbox = ip.InboxDelivery(position=position, event=envelope)
            return user_id, ip.LiveRecord(user_ids=[user_id], inbox=inbox).SerializeToString()
        case LiveNotice(user_ids, envelope, online):
            presence = ip.PresenceDelivery(event=envelope, online=online)
            record = ip.LiveRecord(user_ids=sorted(user_ids), presence=presence)
            return "", record.SerializeToString()
        case TypingNotice(user_ids, room_id, user_id, typing, namespace):
            notice = ip.TypingDelivery(
                room_id=room_id, user_id=user_id, typing=typing, namespace=namespace
            )
            return "", ip.LiveRecord(user_ids=user_ids, typing=notice).SerializeToString()
        case AppEventNotice(user_ids, room_id, user_id, name, payload, namespace):
            app = ip.AppEventDelivery(
                room_id=room_id,
                user_id=user_id,
                name=name,
                payload_json=payload,
                namespace=namespace,
            )
            return "", ip.LiveRecord(user_ids=user_ids, app_event=app).SerializeToString()
        case DisconnectNotice(user_id, device_id):
            disconnect = ip.DisconnectDelivery(device_id=device_id)
            record = ip.LiveRecord(user_ids=[user_id], disconnect=disconnect)
            return user_id, record.SerializeToString()


def decode_live(data: bytes) -> Delivery | None:
    """The delivery a live record carries (None for a kind this version does not know)."""
    record = ip.LiveRecord.FromString(data)
    kind = record.WhichOneof("kind")
    if kind == "room_event":
        event = record.room_event
        return RoomStreamEntry(event.stream.removeprefix("room:"), event.position, event)
    if kind == "inbox":
        return InboxEntry(record.user_ids[0], record.inbox.position, record.inbox.event)
    if kind == "presence":
        p = record.presence
        return LiveNotice(frozenset(record.user_ids), p.event, p.online)
    if kind == "typing":
        t = record.typing
        return TypingNotice(tuple(record.user_ids), t.room_id, t.user_id, t.typing, t.namespace)
    if kind == "app_event":
        a = record.app_event
        return AppEventNotice(
            tuple(record.user_ids), a.room_id, a.user_id, a.name, a.payload_json, a.namespace
        )
    if kind == "disconnect":
        return DisconnectNotice(record.user_ids[0], record.disconnect.device_id)
    return None
