"""What a client receives, as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AppEvent",
    "ConnectionChanged",
    "Event",
    "InboxEvent",
    "PresenceNotice",
    "RoomEvent",
    "TypingNotice",
]

State = Literal["connected", "reconnecting", "resumed", "not_recovered"]


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """One event of the user's inbox: ``kind`` is the payload name (``messagePosted``, …)."""

    position: int
    epoch: str
    kind: str
    room_id: str
    actor: str
    payload: dict[str, Any]
    envelope: dict[str, Any] = field(repr=False)

    @property
    def text(self) -> str | None:
        value = self.payload.get("text")
        return value if isinstance(value, str) else None

    @property
    def room_position(self) -> int:
        """The event's position in its room (what ``ack`` and history use)."""
        return int(self.envelope.get("position", 0))

    @classmethod
    def from_push(cls, push: dict[str, Any]) -> InboxEvent:
        """From an inbox push: ``position`` is the inbox position."""
        return cls(int(push["position"]), push["epoch"], *_parts(push["event"]))


@dataclass(frozen=True, slots=True)
class RoomEvent(InboxEvent):
    """One event of a room stream the client follows: ``position`` is the room position."""

    @classmethod
    def from_push(cls, push: dict[str, Any]) -> RoomEvent:
        envelope = push["event"]
        kind, _, actor, payload, _ = _parts(envelope)
        # Room pushes leave out what the push implies (docs/protocol.md): restore it.
        payload.setdefault("roomId", str(envelope.get("stream", "")).removeprefix("room:"))
        if kind == "messagePosted":
            payload.setdefault("messageId", envelope.get("eventId", ""))
        position = int(envelope.get("position", 0))
        return cls(position, push["epoch"], kind, payload["roomId"], actor, payload, envelope)


def _parts(envelope: dict[str, Any]) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    kind = next(
        k
        for k in envelope
        if k[0].islower() and isinstance(envelope[k], dict) and k not in ("actor", "occurredAt")
    )
    payload = envelope[kind]
    actor = envelope.get("actor", {}).get("userId", "")
    return kind, str(payload.get("roomId", "")), actor, payload, envelope


@dataclass(frozen=True, slots=True)
class PresenceNotice:
    user_id: str
    device_id: str
    status: str
    online: bool


@dataclass(frozen=True, slots=True)
class TypingNotice:
    room_id: str
    user_id: str
    typing: bool


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """``resumed``: every missed event follows; ``not_recovered``: reload state over REST
    (the inbox was rebuilt); ``connected``: a first connection."""

    state: State
    recovery: str = ""


@dataclass(frozen=True, slots=True)
class AppEvent:
    """An application event (docs/events.md), as ``Client.on`` handlers get it: a volatile
    one (``position`` 0, pushed to connected recipients only) or a durable one (its room
    position; it also arrives as an :class:`InboxEvent` / :class:`RoomEvent`)."""

    name: str
    payload: Any
    room_id: str
    """The room it was emitted in ("" for a volatile event sent to you alone)."""
    sender: str
    position: int = 0

    @property
    def durable(self) -> bool:
        return self.position > 0

    @classmethod
    def of(cls, event: InboxEvent) -> AppEvent | None:
        """The application event a room event carries, if it is one."""
        if event.kind != "eventEmitted":
            return None
        p = event.payload
        return cls(p["name"], p.get("payload"), event.room_id, event.actor, event.room_position)


Event = InboxEvent | RoomEvent | PresenceNotice | TypingNotice | AppEvent | ConnectionChanged
