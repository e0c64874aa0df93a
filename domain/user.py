"""A user's own stream (``user:<id>``): acknowledgements and presence, one event each.

These events have no aggregate: their only rule (acks name rooms the user belongs to) is the
room's, and their position is simply the next one in the user's stream.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import DomainEvent

from domain.values import AckKind, EventMeta, PresenceStatus, user_aggregate_id

__all__ = ["Acked", "PresenceChanged", "UserEvent", "acked", "presence_changed"]


class UserEvent(DomainEvent):
    meta: EventMeta
    user_id: str


class Acked(UserEvent):
    """The user received (delivered) or read a room up to a room stream position."""

    room_id: UUID
    kind: AckKind
    up_to: int


class PresenceChanged(UserEvent):
    device_id: str
    status: PresenceStatus


def acked(meta: EventMeta, position: int, room_id: UUID, kind: AckKind, up_to: int) -> Acked:
    return Acked(
        originator_id=user_aggregate_id(meta.user_id),
        originator_version=position,
        timestamp=_now(),
        meta=meta,
        user_id=meta.user_id,
        room_id=room_id,
        kind=kind,
        up_to=up_to,
    )


def presence_changed(meta: EventMeta, position: int, status: PresenceStatus) -> PresenceChanged:
    return PresenceChanged(
        originator_id=user_aggregate_id(meta.user_id),
        originator_version=position,
        timestamp=_now(),
        meta=meta,
        user_id=meta.user_id,
        device_id=meta.device_id,
        status=status,
    )


def _now() -> datetime:
    return DomainEvent.create_timestamp()
