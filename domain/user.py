"""A user's own stream (``user:<id>``): device presence changes.

These events have no aggregate: they have no rule to check, and their position is simply the
next one in the user's stream.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import DomainEvent

from domain.values import EventMeta, PresenceStatus, user_aggregate_id

__all__ = ["PresenceChanged", "UserEvent", "presence_changed"]


class UserEvent(DomainEvent):
    meta: EventMeta
    user_id: str


class PresenceChanged(UserEvent):
    device_id: str
    status: PresenceStatus


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
