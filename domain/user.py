"""A user's own stream (``user:<id>``): device presence changes and session revocations.

These events have no aggregate: they have no rule to check, and their position is simply the
next one in the user's stream.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEvent

from domain.values import EventMeta, PresenceStatus, user_aggregate_id

__all__ = [
    "PresenceChanged",
    "SessionsRevoked",
    "UserEvent",
    "presence_changed",
    "sessions_revoked",
]


class UserEvent(DomainEvent):
    meta: EventMeta
    user_id: str


class PresenceChanged(UserEvent):
    device_id: str
    status: PresenceStatus


class SessionsRevoked(UserEvent):
    device_id: str
    """The device whose sessions end; empty: every device of the user."""


def sessions_revoked(meta: EventMeta, position: int, device_id: str) -> SessionsRevoked:
    return SessionsRevoked(**_header(meta, position), device_id=device_id)


def presence_changed(meta: EventMeta, position: int, status: PresenceStatus) -> PresenceChanged:
    return PresenceChanged(**_header(meta, position), device_id=meta.device_id, status=status)


def _header(meta: EventMeta, position: int) -> dict[str, Any]:
    """What every event of the user's stream carries: its place in the stream, its time
    and who did it."""
    return {
        "originator_id": user_aggregate_id(meta.user_id),
        "originator_version": position,
        "timestamp": DomainEvent.create_timestamp(),
        "meta": meta,
        "user_id": meta.user_id,
    }
