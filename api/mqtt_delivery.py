"""What an MQTT connection is sent: its inbox and the room streams it follows, live or read
from the store, within its QoS 1 window (a mixin of :class:`api.mqtt.MqttConnection`).

Live pushes (the hub's) go straight out when they come in order and the window has room;
otherwise the stream is marked behind and the pump reads it from the store, page by page,
as PUBACKs free the window. The inbox says when to follow a room stream: the room moved to
one (``roomStreamStarted`` at room position P: follow after P) or the user joined a room
that is one (their ``memberJoined`` at J: follow after J), exactly as the SDKs do
(docs/protocol.md, "Room streams"); those events always go through the pump, which may
await the store. While a room stream is followed, its events in the inbox (what concerns
the user) are passed over: the stream brings them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import mqtt5
import structlog

from api.mqtt_session import (
    INBOX,
    Outbox,
    SavedSession,
    delivery_for,
    room_delivery,
    topic_of_json,
    wants_room,
)
from api.service import DEFAULT_SCOPE, visible_in
from proto.wire import envelope_json, inbox_push_body, inbox_push_frame, room_push_frame

if TYPE_CHECKING:
    from api.mqtt import MqttGateway
    from api.ws import GatewayContext

__all__ = ["Delivering"]

log = structlog.get_logger(__name__)

PAGE = 200
"""Events read from the store at a time while a device catches up."""
MAX_BUFFERED_BYTES = 1024 * 1024
"""The pump waits while this much is written and not yet taken by the socket."""
_STREAM_STARTED, _JOINED = '"roomStreamStarted"', '"memberJoined"'
"""Inbox events that may start a follow: they go through the pump."""


_last_room_delivery: tuple[str, tuple[str, bytes, str]] | None = None


def _room_delivery(room_id: str, position: int, frame: str) -> tuple[str, bytes, str]:
    """:func:`room_delivery`, decoded once per event however many devices follow the room:
    the hub hands the same frame object to every follower in turn."""
    global _last_room_delivery
    if _last_room_delivery is not None and _last_room_delivery[0] is frame:
        return _last_room_delivery[1]
    delivery = room_delivery(room_id, position, frame)
    _last_room_delivery = (frame, delivery)
    return delivery


class Delivering:
    """The delivering half of an MQTT connection."""

    ctx: GatewayContext
    gateway: MqttGateway
    user_id: str
    client_id: str
    _saved: SavedSession
    _outbox: Outbox
    _persistent: bool

    def _send(self, packet: mqtt5.Packet) -> None:
        raise NotImplementedError

    def _init_delivery(self) -> None:
        self._behind = asyncio.Event()
        self._pumping = True
        """Live pushes wait for the pump while it reads (and until its first run, after
        the CONNACK: nothing goes out before it)."""
        self._save_needed = asyncio.Event()
        self._heads: dict[str, int] = {INBOX: 0}
        """Per stream, the highest position a live push or the store showed."""
        self._unread: set[str] = set()
        """Streams to read from the store whatever their known head (just followed)."""

    # ------------------------------------------------------------------ hub subscriber

    def push_inbox(self, position: int, frame: str | None) -> None:
        try:
            hint = frame is not None and (_STREAM_STARTED in frame or _JOINED in frame)
            if self._in_order(INBOX, position, through_pump=hint):
                self._offer_inbox(position, frame)
        except Exception:  # never into the hub: it serves every connection
            self._failed()

    def push_room(self, room_id: str, position: int, frame: str) -> None:
        try:
            if room_id in self._saved.rooms and self._in_order(room_id, position):
                self._offer_room(room_id, position, frame)
        except Exception:
            self._failed()

    def _failed(self) -> None:
        """A bug while delivering: this connection ends (the device resumes), the others
        are not disturbed."""
        log.exception("mqtt_delivery_failed", user_id=self.user_id, client_id=self.client_id)
        self._end(mqtt5.DisconnectReasonCode.UNSPECIFIED_ERROR, "delivery failed")

    def _end(self, reason: mqtt5.DisconnectReasonCode, message: str) -> None:
        raise NotImplementedError

    async def _drain(self, below: int = 0) -> None:
        raise NotImplementedError

    def push(self, frame: str) -> None:
        return None  # presence and typing are not sent over MQTT

    def unfollowed(self, room_id: str) -> None:
        self._stop_following(room_id)

    def _in_order(self, stream: str, position: int, through_pump: bool = False) -> bool:
        """Whether a live push can go out now; if not, the pump reads it later."""
        self._heads[stream] = max(self._heads.get(stream, 0), position)
        offered = self._outbox.offered(stream)
        now = not (self._pumping or through_pump) and self._outbox.room > 0
        if now and position == offered + 1:
            return True
        if position > offered:
            self._behind.set()
        return False

    # ------------------------------------------------------------------ offering

    def _offer_inbox(self, position: int, frame: str | None) -> None:
        """Sends the inbox event at ``position`` if a subscription wants it (and no
        followed room stream brings it); either way the session moves past it."""
        if frame is None:
            self._offer(INBOX, position, None, b"")
            return
        body = inbox_push_body(frame)
        topic = topic_of_json(body)
        if topic.startswith("rooms/") and topic.split("/", 2)[1] in self._saved.rooms:
            self._offer(INBOX, position, None, b"")  # the room's stream brings it
        else:
            self._offer(INBOX, position, topic, body.encode())

    def _offer_room(self, room_id: str, position: int, frame: str) -> None:
        """A followed room stream's event (see :func:`room_delivery`)."""
        topic, payload, left = _room_delivery(room_id, position, frame)
        self._offer(room_id, position, topic, payload)
        if left == self.user_id:
            self._stop_following(room_id)

    def _offer(self, stream: str, position: int, topic: str | None, payload: bytes) -> None:
        delivery = delivery_for(self._saved.subscriptions, topic) if topic else None
        if delivery is None:
            self._outbox.offer(position, 0, stream)
        else:
            topic, qos = delivery
            packet_id = self._outbox.offer(position, qos, stream)
            qos_ = mqtt5.QoS(qos)
            self._send(mqtt5.PublishPacket(topic, payload, qos=qos_, packet_id=packet_id))
        self._moved()

    # ------------------------------------------------------------------ following

    def _follow(self, room_id: str, after: int) -> None:
        """Follows a room stream from after ``after`` (its events come from the store
        first, then live)."""
        if room_id in self._saved.rooms:
            return
        self._outbox.start(room_id, after)
        self._saved.rooms[room_id] = after
        self.ctx.hub.follow(room_id, self)  # type: ignore[arg-type]
        self._unread.add(room_id)
        self._behind.set()
        self._moved()

    def _stop_following(self, room_id: str) -> None:
        if self._saved.rooms.pop(room_id, None) is not None:
            self.ctx.hub.unfollow(room_id, self)  # type: ignore[arg-type]
            self._outbox.stop(room_id)
            self._moved()

    def _resume_follows(self) -> None:
        """Follows again the room streams a resumed session followed, from its positions."""
        for room_id, position in self._saved.rooms.items():
            self._outbox.start(room_id, position)
            self.ctx.hub.follow(room_id, self)  # type: ignore[arg-type]
            self._unread.add(room_id)

    async def _follow_wanted_rooms(self) -> None:
        """Follows, from their head, the user's room streams that the subscriptions now
        want and that are not followed yet (after a SUBSCRIBE)."""
        store = self.ctx.service.store
        for row in await store.rooms_of(self.user_id):
            wanted = wants_room(self._saved.subscriptions, row.room_id)
            if row.streamed_since and wanted and row.room_id not in self._saved.rooms:
                stream = await store.room_stream_head(row.room_id)
                if stream is not None:
                    self._follow(row.room_id, stream.head)

    async def _follows_from(self, event: Any) -> None:
        """Follows the room stream an inbox event announces (see the module's doc)."""
        kind = event.WhichOneof("payload")
        if kind == "room_stream_started":
            room_id = event.room_stream_started.room_id
        elif kind == "member_joined" and event.member_joined.user_id == self.user_id:
            room_id = event.member_joined.room_id
            if await self.ctx.service.store.room_stream_head(room_id) is None:
                return  # a room fanned out through inboxes
        else:
            return
        if wants_room(self._saved.subscriptions, room_id):
            self._follow(room_id, event.position)

    # ------------------------------------------------------------------ the pump

    def _needs_reading(self, stream: str) -> bool:
        return stream in self._unread or self._heads.get(stream, 0) > self._outbox.offered(stream)

    async def _pump_forever(self) -> None:
        while True:
            await self._behind.wait()
            self._pumping = True
            try:
                while True:
                    self._behind.clear()
                    progressed = False
                    for stream in self._outbox.streams:
                        if self._outbox.room <= 0:
                            break  # a PUBACK wakes the pump
                        if stream in self._outbox.streams and self._needs_reading(stream):
                            progressed |= await self._read(stream)
                    await self._drain(MAX_BUFFERED_BYTES)
                    if self._outbox.room <= 0 or not (progressed or self._behind.is_set()):
                        break
            finally:
                self._pumping = False

    async def _read(self, stream: str) -> bool:
        """Offers the next page of ``stream`` from the store; whether there was one."""
        store = self.ctx.service.store
        after = self._outbox.offered(stream)
        limit = min(self._outbox.room, PAGE)
        if stream == INBOX:
            entries = await store.inbox(self.user_id, after=after, limit=limit)
            for e in entries:
                if e.position != self._outbox.offered(INBOX) + 1:
                    break
                visible = visible_in(e.envelope, DEFAULT_SCOPE)
                frame = inbox_push_frame(e.position, store.epoch, envelope_json(e.envelope))
                self._offer_inbox(e.position, frame if visible else None)
                if visible:  # after the event itself: it is the device's, not the stream's
                    await self._follows_from(e.envelope)
            count = len(entries)
        else:
            events = await store.room_stream(stream, after=after, limit=limit)
            for envelope in events:
                if stream not in self._saved.rooms:
                    break  # left the room meanwhile
                if envelope.position != self._outbox.offered(stream) + 1:
                    break
                self._offer_room(stream, envelope.position, room_push_frame(store.epoch, envelope))
            count = len(events)
        if count < limit:
            self._unread.discard(stream)
            if stream in self._outbox.streams:
                self._heads[stream] = max(self._heads.get(stream, 0), self._outbox.offered(stream))
        return count > 0

    # ------------------------------------------------------------------ saving

    def _acked(self, packet_id: int) -> None:
        """A PUBACK: the session may move on, and the window has room again."""
        if self._outbox.acked(packet_id):
            self._moved()
        if any(self._needs_reading(s) for s in self._outbox.streams):
            self._behind.set()

    def _moved(self) -> None:
        if self._persistent:
            self._save_needed.set()

    async def _save_forever(self) -> None:
        """Saves the session whenever it moved on, one save at a time: saves come as
        fast as the store takes them, never more than one behind."""
        while True:
            await self._save_needed.wait()
            self._save_needed.clear()
            await self._save()

    async def _save(self) -> None:
        self._saved.position = self._outbox.done()
        for room_id in self._saved.rooms:
            self._saved.rooms[room_id] = self._outbox.done(room_id)
        await self.gateway.sessions.save(self.user_id, self.client_id, self._saved)
