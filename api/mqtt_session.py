"""The sans-I/O core of an MQTT session: topics, what a session keeps, and the QoS 1
window of what is sent to the device. No I/O: ``api/mqtt.py`` drives it.

A device's messages come from its inbox (the log's per-user projection), in inbox order:
the session's durable state is one inbox position, the highest one below which every event
was PUBACKed by the device or was not for it (no subscription matched). A reconnecting
device is sent what follows that position, read from the inbox, however long it was away
(docs/mqtt.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "INBOX_TOPIC",
    "InvalidTopic",
    "Outbox",
    "SavedSession",
    "delivery_for",
    "filter_room",
    "matches",
    "publish_target",
    "topic_of",
    "valid_filter",
]

INBOX_TOPIC = "inbox"
MAX_PACKET_ID = 0xFFFF


class InvalidTopic(ValueError):
    """A topic a device may not publish to, or a malformed topic filter."""


# ---------------------------------------------------------------------------- topics


def topic_of(event: Mapping[str, Any]) -> str:
    """The topic an event (its JSON envelope) is published on: ``rooms/{id}`` for a room's
    events, ``rooms/{id}/events/{name}`` for an application event, ``inbox`` for the rest
    (the user's own stream)."""
    stream = str(event.get("stream", ""))
    if not stream.startswith("room:"):
        return INBOX_TOPIC
    room = f"rooms/{stream[5:]}"
    emitted = event.get("eventEmitted")
    if isinstance(emitted, dict) and emitted.get("name"):
        return f"{room}/events/{emitted['name']}"
    return room


def publish_target(topic: str) -> tuple[str, str | None]:
    """(room id, application event name or None for a message) of a topic a device
    publishes to; :class:`InvalidTopic` for any other topic."""
    parts = topic.split("/")
    if len(parts) == 2 and parts[0] == "rooms" and parts[1]:
        return parts[1], None
    if len(parts) == 4 and parts[0] == "rooms" and parts[2] == "events" and parts[1] and parts[3]:
        return parts[1], parts[3]
    raise InvalidTopic("publish to rooms/{roomId} or rooms/{roomId}/events/{name}")


def valid_filter(pattern: str) -> bool:
    """MQTT's rules: ``+`` fills a whole level, ``#`` only the last one."""
    if not pattern or "\x00" in pattern:
        return False
    levels = pattern.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def filter_room(pattern: str) -> str | None:
    """The one room a filter names (``rooms/{id}`` or below), which the subscriber must be
    a member of; None when it names none (``inbox``, or a wildcard at the room level)."""
    parts = pattern.split("/")
    if len(parts) >= 2 and parts[0] == "rooms" and parts[1] not in ("+", "#"):
        return parts[1]
    return None


def matches(pattern: str, topic: str) -> bool:
    """Whether a topic filter matches a topic (MQTT 4.7)."""
    filter_levels, topic_levels = pattern.split("/"), topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(filter_levels) == len(topic_levels)


def delivery_for(subscriptions: Mapping[str, int], topic: str) -> tuple[str, int] | None:
    """(topic, QoS) an event on ``topic`` is sent with, or None when the session does not
    want it. Filters that match it give its own topic; otherwise an ``inbox``
    subscription takes everything in the inbox, under the topic ``inbox``."""
    qos = [q for pattern, q in subscriptions.items() if matches(pattern, topic)]
    if qos:
        return topic, max(qos)
    if INBOX_TOPIC in subscriptions:
        return INBOX_TOPIC, subscriptions[INBOX_TOPIC]
    return None


# ---------------------------------------------------------------------------- state


@dataclass
class SavedSession:
    """What a persistent session keeps between connections (durable: ``MqttSessions``)."""

    position: int
    """Every inbox event up to here was PUBACKed or was not for this session."""
    epoch: str
    """The log's history ``position`` belongs to; another epoch: the session is gone."""
    subscriptions: dict[str, int] = field(default_factory=dict)
    """Topic filter -> granted QoS."""
    received: dict[int, str] = field(default_factory=dict)
    """QoS 2 publishes received and not yet released: packet id -> the client message id
    their message was posted with (a retransmission posts nothing new)."""
    expires_at: float | None = None
    """When the session ends after a disconnect (MQTT 5's expiry); None: never (3.1.1)."""

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "position": self.position,
                "epoch": self.epoch,
                "subscriptions": self.subscriptions,
                "received": {str(k): v for k, v in self.received.items()},
                "expiresAt": self.expires_at,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> SavedSession:
        data = orjson.loads(text)
        return cls(
            position=int(data["position"]),
            epoch=str(data["epoch"]),
            subscriptions={str(k): int(v) for k, v in data["subscriptions"].items()},
            received={int(k): str(v) for k, v in data["received"].items()},
            expires_at=data.get("expiresAt"),
        )


class Outbox:
    """The QoS 1 window of one connection: which inbox positions were sent under which
    packet id, and the position every one up to which is done with (PUBACKed, sent at
    QoS 0, or not for this session). Events are offered in inbox order, each once."""

    def __init__(self, position: int, window: int) -> None:
        self.offered = position
        """The last inbox position offered (sent or passed over)."""
        self.window = window
        self._in_flight: dict[int, int] = {}
        """Packet id -> inbox position, in the order sent."""
        self._next_id = 1

    @property
    def room(self) -> int:
        """How many more QoS 1 events may be sent before a PUBACK."""
        return self.window - len(self._in_flight)

    @property
    def done(self) -> int:
        """The durable position: everything up to it needs nothing more from the device."""
        if self._in_flight:
            return min(self._in_flight.values()) - 1
        return self.offered

    def offer(self, position: int, qos: int) -> int | None:
        """Records the event at ``position`` (the next one: ``offered + 1``) as sent at
        ``qos`` (0 when passed over); returns the packet id for QoS 1, else None."""
        if position != self.offered + 1:
            raise ValueError(f"inbox position {position} offered after {self.offered}")
        self.offered = position
        if qos == 0:
            return None
        packet_id = self._free_id()
        self._in_flight[packet_id] = position
        return packet_id

    def acked(self, packet_id: int) -> bool:
        """A PUBACK; True when it moved :attr:`done` on."""
        before = self.done
        self._in_flight.pop(packet_id, None)
        return self.done != before

    def _free_id(self) -> int:
        while self._next_id in self._in_flight:
            self._next_id = self._next_id % MAX_PACKET_ID + 1
        packet_id = self._next_id
        self._next_id = self._next_id % MAX_PACKET_ID + 1
        return packet_id
