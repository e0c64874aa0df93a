"""The sans-I/O core of an MQTT session: topics, what a session keeps, and the QoS 1
window of what is sent to the device. No I/O: ``api/mqtt.py`` drives it.

A device's messages come from its inbox (the log's per-user projection) and, for channels
and large rooms, from their room streams, each in its own order: the session's durable
state is one position per stream, the highest one below which every event was PUBACKed by
the device or was not for it (no subscription matched). A reconnecting device is sent what
follows those positions, read from the store, however long it was away (docs/mqtt.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "INBOX",
    "INBOX_TOPIC",
    "InvalidTopic",
    "Outbox",
    "SavedSession",
    "delivery_for",
    "filter_room",
    "matches",
    "publish_target",
    "room_delivery",
    "topic_of",
    "topic_of_json",
    "valid_filter",
    "wants_room",
]

INBOX_TOPIC = "inbox"
INBOX = ""
"""The inbox's key among a session's streams (a room stream's key is its room id)."""
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


def topic_of_json(event_json: str) -> str:
    """:func:`topic_of` for an event's JSON, without decoding all of it: the envelope's
    ``stream`` is its first field of that name (a payload's text cannot contain the bare
    quotes), and only an application event needs the rest."""
    if '"eventEmitted"' in event_json:
        return topic_of(orjson.loads(event_json))
    start = event_json.find('"stream":"')
    if start < 0:
        return INBOX_TOPIC
    start += len('"stream":"')
    stream = event_json[start : event_json.index('"', start)]
    return f"rooms/{stream[5:]}" if stream.startswith("room:") else INBOX_TOPIC


def room_delivery(room_id: str, position: int, frame: str) -> tuple[str, bytes, str]:
    """(topic, payload, the user a ``memberLeft`` is about, else "") of a room push frame:
    the compact event with what it leaves out put back (its room id, a message's id), its
    room position as ``roomPosition``."""
    push = orjson.loads(str(frame))["push"]["room"]  # str: orjson takes no subclass
    event = push["event"]
    kind = next((k for k, v in event.items() if isinstance(v, dict) and k != "actor"), "")
    left = ""
    if kind:
        event[kind].setdefault("roomId", room_id)
        if kind == "messagePosted":
            event[kind].setdefault("messageId", event.get("eventId", ""))
        if kind == "memberLeft":
            left = str(event[kind].get("userId", ""))
    body = {"roomPosition": str(position), "epoch": push["epoch"], "event": event}
    return topic_of(event), orjson.dumps(body), left


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


def wants_room(subscriptions: Mapping[str, int], room_id: str) -> bool:
    """Whether any subscription can match a topic of the room (its room stream is then
    followed): a filter at or under ``rooms/{room_id}`` or a wildcard over rooms, or
    ``inbox``, which takes everything no other filter does."""
    for pattern in subscriptions:
        levels = pattern.split("/")
        if pattern == INBOX_TOPIC or levels[0] == "#":
            return True
        if levels[0] in ("rooms", "+") and len(levels) > 1 and levels[1] in ("+", "#", room_id):
            return True
    return False


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
    rooms: dict[str, int] = field(default_factory=dict)
    """Followed room streams: room id -> the room position done with (like ``position``)."""
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
                "rooms": self.rooms,
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
            rooms={str(k): int(v) for k, v in data.get("rooms", {}).items()},
            received={int(k): str(v) for k, v in data["received"].items()},
            expires_at=data.get("expiresAt"),
        )


class Outbox:
    """The QoS 1 window of one connection, over its streams (the inbox, followed room
    streams): which positions were sent under which packet id, and per stream the position
    every one up to which is done with (PUBACKed, sent at QoS 0, or not for this session).
    Each stream's events are offered in its order, each once."""

    def __init__(self, position: int, window: int) -> None:
        self.window = window
        self._offered: dict[str, int] = {INBOX: position}
        """Stream -> the last position offered (sent or passed over)."""
        self._in_flight: dict[int, tuple[str, int]] = {}
        """Packet id -> (stream, position)."""
        self._waiting: dict[str, deque[int]] = {INBOX: deque()}
        """Stream -> positions sent at QoS 1 and not done with, oldest first."""
        self._acked: dict[str, set[int]] = {INBOX: set()}
        """Stream -> PUBACKed positions still behind an older unacked one."""
        self._next_id = 1

    @property
    def room(self) -> int:
        """How many more QoS 1 events may be sent before a PUBACK."""
        return self.window - len(self._in_flight)

    @property
    def streams(self) -> list[str]:
        return list(self._offered)

    def start(self, stream: str, position: int) -> None:
        """Starts a stream after ``position`` (a followed room stream); the inbox starts
        at the ``position`` given to the constructor."""
        if stream not in self._offered:
            self._offered[stream] = position
            self._waiting[stream] = deque()
            self._acked[stream] = set()

    def stop(self, stream: str) -> None:
        self._offered.pop(stream, None)
        self._waiting.pop(stream, None)
        self._acked.pop(stream, None)
        for packet_id in [k for k, (s, _) in self._in_flight.items() if s == stream]:
            del self._in_flight[packet_id]

    def offered(self, stream: str = INBOX) -> int:
        """The last position of ``stream`` offered."""
        return self._offered[stream]

    def done(self, stream: str = INBOX) -> int:
        """The durable position of ``stream``: everything up to it needs nothing more."""
        waiting = self._waiting[stream]
        return waiting[0] - 1 if waiting else self._offered[stream]

    def offer(self, position: int, qos: int, stream: str = INBOX) -> int | None:
        """Records the event at ``position`` of ``stream`` (the next one) as sent at
        ``qos`` (0 when passed over); returns the packet id for QoS 1, else None."""
        last = self._offered[stream]
        if position != last + 1:
            raise ValueError(f"position {position} of {stream or 'inbox'} offered after {last}")
        self._offered[stream] = position
        if qos == 0:
            return None
        packet_id = self._free_id()
        self._in_flight[packet_id] = (stream, position)
        self._waiting[stream].append(position)
        return packet_id

    def acked(self, packet_id: int) -> bool:
        """A PUBACK; True when it moved a stream's :meth:`done` on."""
        sent = self._in_flight.pop(packet_id, None)
        if sent is None:
            return False
        stream, position = sent
        waiting, acked = self._waiting[stream], self._acked[stream]
        if waiting[0] != position:
            acked.add(position)  # an older one is still out
            return False
        waiting.popleft()
        while waiting and waiting[0] in acked:
            acked.remove(waiting.popleft())
        return True

    def _free_id(self) -> int:
        while self._next_id in self._in_flight:
            self._next_id = self._next_id % MAX_PACKET_ID + 1
        packet_id = self._next_id
        self._next_id = self._next_id % MAX_PACKET_ID + 1
        return packet_id
