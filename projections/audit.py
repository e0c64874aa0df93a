"""Audit questions answered from the log alone (pure folds over decoded events).

``RoomAsOf`` folds one room's events up to a cut (a position or a time) into what the room
looked like then; ``Receipts`` answers who received and who read one message, and when;
``EventSelector`` chooses the events of a room's or a user's history for export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.values import AckKind, Role
from proto.codec import Envelope, value_to_python

__all__ = ["Cut", "EventSelector", "Receipts", "RoomAsOf", "aware", "occurred_at"]


def aware(at: datetime | None) -> datetime | None:
    """A time given without a zone is taken as UTC (events carry UTC times)."""
    return at.replace(tzinfo=at.tzinfo or UTC) if at is not None else None


def occurred_at(envelope: Envelope) -> datetime:
    return envelope.occurred_at.ToDatetime(tzinfo=UTC)


def _iso(envelope: Envelope) -> str:
    return occurred_at(envelope).isoformat()


@dataclass(frozen=True, slots=True)
class Cut:
    """Events at or before a stream position and/or a time (both optional)."""

    position: int | None = None
    time: datetime | None = None

    def includes(self, envelope: Envelope) -> bool:
        if self.position is not None and envelope.position > self.position:
            return False
        return self.time is None or occurred_at(envelope) <= self.time


@dataclass
class RoomAsOf:
    """A room's members, roles and visible messages as of a cut."""

    room_id: str
    cut: Cut = field(default_factory=Cut)
    name: str = ""
    position: int = 0
    members: dict[str, str] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Its application events (docs/events.md), in order."""

    def observe(self, envelope: Envelope) -> None:
        if envelope.stream != f"room:{self.room_id}" or not self.cut.includes(envelope):
            return
        self.position = envelope.position
        kind = envelope.WhichOneof("payload")
        if kind == "room_created":
            self.name = envelope.room_created.name
        elif kind == "room_settings_changed" and envelope.room_settings_changed.name:
            self.name = envelope.room_settings_changed.name
        elif kind == "member_joined":
            joined = envelope.member_joined
            self.members[joined.user_id] = Role(joined.role).name.lower()
        elif kind == "member_role_changed":
            changed = envelope.member_role_changed
            self.members[changed.user_id] = Role(changed.role).name.lower()
        elif kind == "member_left":
            self.members.pop(envelope.member_left.user_id, None)
        elif kind == "message_posted":
            posted = envelope.message_posted
            self.messages[envelope.event_id] = {
                "messageId": envelope.event_id,
                "position": envelope.position,
                "authorId": envelope.actor.user_id,
                "text": posted.text,
                "postedAt": _iso(envelope),
                "edited": False,
            }
        elif kind == "event_emitted":
            emitted = envelope.event_emitted
            self.events.append(
                {
                    "eventId": envelope.event_id,
                    "position": envelope.position,
                    "name": emitted.name,
                    "payload": value_to_python(emitted.payload),
                    "senderId": envelope.actor.user_id,
                    "emittedAt": _iso(envelope),
                }
            )
        elif kind == "message_edited":
            message = self.messages.get(envelope.message_edited.message_id)
            if message is not None:
                message.update(text=envelope.message_edited.text, edited=True)
        elif kind == "message_deleted":
            self.messages.pop(envelope.message_deleted.message_id, None)

    def report(self) -> dict[str, Any]:
        return {
            "roomId": self.room_id,
            "name": self.name,
            "asOfPosition": self.position,
            "members": [{"userId": u, "role": r} for u, r in sorted(self.members.items())],
            "messages": sorted(self.messages.values(), key=lambda m: m["position"]),
            "events": self.events,
        }


@dataclass
class Receipts:
    """Who received (delivered ack) and who read (read ack) one message, and when.

    An ack covers every message up to its ``up_to`` position, so the first ack of each kind
    reaching the message's position is the moment it was received or read. The members are
    those of the room when the message was posted (a later joiner is listed only if it acked).
    """

    room_id: str
    message_id: str
    position: int = 0
    author: str = ""
    posted_at: str = ""
    _members: set[str] = field(default_factory=set)
    delivered: dict[str, str] = field(default_factory=dict)
    read: dict[str, str] = field(default_factory=dict)

    def observe(self, envelope: Envelope) -> None:
        if envelope.stream != f"room:{self.room_id}":
            return
        kind = envelope.WhichOneof("payload")
        if not self.position:  # before the message: follow membership
            if kind == "member_joined":
                self._members.add(envelope.member_joined.user_id)
            elif kind == "member_left":
                self._members.discard(envelope.member_left.user_id)
            elif kind == "message_posted" and envelope.event_id == self.message_id:
                self.position = envelope.position
                self.author = envelope.actor.user_id
                self.posted_at = _iso(envelope)
            return
        if kind == "acked" and envelope.acked.up_to >= self.position:
            ack = envelope.acked
            is_read = int(ack.kind) == AckKind.READ
            seen = self.read if is_read else self.delivered
            seen.setdefault(ack.user_id, _iso(envelope))
            if is_read:  # reading implies having received
                self.delivered.setdefault(ack.user_id, _iso(envelope))

    def report(self) -> dict[str, Any]:
        if not self.position:
            return {"roomId": self.room_id, "messageId": self.message_id, "found": False}
        users = sorted((self._members | self.delivered.keys() | self.read.keys()) - {self.author})
        return {
            "roomId": self.room_id,
            "messageId": self.message_id,
            "found": True,
            "position": self.position,
            "authorId": self.author,
            "postedAt": self.posted_at,
            "recipients": [
                {"userId": u, "deliveredAt": self.delivered.get(u), "readAt": self.read.get(u)}
                for u in users
            ],
        }


@dataclass(frozen=True, slots=True)
class EventSelector:
    """Chooses the events to export: a room's stream, or everything a user did or was the
    subject of (their presence stream, their messages, acks, joins, removals), within an
    optional time window."""

    room_id: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def selects(self, envelope: Envelope) -> bool:
        if self.room_id is not None and envelope.stream != f"room:{self.room_id}":
            return False
        if self.user_id is not None and not self._about_user(envelope, self.user_id):
            return False
        if self.since is not None or self.until is not None:
            at = occurred_at(envelope)
            if (self.since and at < self.since) or (self.until and at > self.until):
                return False
        return True

    @staticmethod
    def _about_user(envelope: Envelope, user_id: str) -> bool:
        if envelope.stream == f"user:{user_id}" or envelope.actor.user_id == user_id:
            return True
        kind = envelope.WhichOneof("payload")
        return bool(kind) and getattr(getattr(envelope, kind), "user_id", "") == user_id
