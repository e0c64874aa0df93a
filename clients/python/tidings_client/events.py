"""What a client receives, as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ConnectionChanged", "Event", "InboxEvent", "PresenceNotice", "TypingNotice"]

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

    @classmethod
    def from_push(cls, push: dict[str, Any]) -> InboxEvent:
        envelope = push["event"]
        kind = next(
            k
            for k in envelope
            if k[0].islower() and isinstance(envelope[k], dict) and k not in ("actor", "occurredAt")
        )
        payload = envelope[kind]
        return cls(
            position=int(push["position"]),
            epoch=push["epoch"],
            kind=kind,
            room_id=str(payload.get("roomId", "")),
            actor=envelope.get("actor", {}).get("userId", ""),
            payload=payload,
            envelope=envelope,
        )


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


Event = InboxEvent | PresenceNotice | TypingNotice | ConnectionChanged
