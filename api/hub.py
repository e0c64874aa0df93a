"""The gateway's hub: which connections belong to which user and follow which room streams,
and live fan-out to them.

Whatever feeds the hub (the embedded projection runner and typing relay, or the live-topic
consumer in distributed mode) calls :meth:`Hub.publish`, its one entry, with a batch of
deliveries (``projections.changes.Delivery``) in order; frames are rendered by
``proto/wire.py``. Each event
is encoded to its JSON once, however many recipients it has; a room-stream event becomes
one frame, written as is to every follower (websockets' ``broadcast()`` model). Subscribers
queue what a batch brings them and are flushed together. After a flush the next one waits
a few times as long as that flush took, up to ``flush_interval``: cheap flushes (a few
sockets) follow each other at once, while when a flush to many sockets is expensive, events
that come meanwhile are written together, one write per socket for all of them (the
write, a system call, is most of the cost of a delivery), at the price of at most
``flush_interval`` of latency. Publishing never blocks: a
subscriber queues the frame or disconnects itself when its client reads too slowly.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from api.metrics import observe_delivery
from api.ws_frames import SharedFrame
from domain.values import room_stream
from projections.changes import (
    AppEventNotice,
    Delivery,
    DisconnectNotice,
    InboxEntry,
    LiveNotice,
    RoomStreamEntry,
    TypingNotice,
)
from proto.codec import Envelope, occurred_seconds
from proto.wire import (
    app_event_frame,
    envelope_json,
    inbox_push_frame,
    presence_frame,
    room_push_frame,
    typing_frame,
)
from streams import tracing

__all__ = ["FLUSH_SPACING", "Hub", "Subscriber"]

FLUSH_SPACING = 4.0
"""A flush is followed by a pause of this many times its own duration (capped by the flush
interval): writing to sockets takes at most about a fifth of the loop under load."""


class Subscriber(Protocol):
    """A connection. The push methods queue a frame; :meth:`flush` sends what is queued."""

    @property
    def user_id(self) -> str: ...

    @property
    def namespace(self) -> str:
        """The namespace the connection is in ("" for default): it sees nothing of others."""

    @property
    def queued_frames(self) -> int:
        """Frames queued for the socket and not yet written (a slow reader's backlog)."""

    def push_inbox(self, position: int, frame: str | None) -> None:
        """The event at ``position`` of the user's inbox; None when it is not for this
        connection (another namespace's): the position moves on, nothing is sent."""

    def push_room(self, room_id: str, position: int, frame: str) -> None: ...

    def push(self, frame: str) -> None: ...

    def flush(self) -> None: ...

    def unfollowed(self, room_id: str) -> None:
        """The user left the room: the hub no longer delivers its stream to them."""

    def revoked(self, device_id: str, at: float) -> None:
        """The user's sessions on ``device_id`` ("" for all) were revoked at ``at``: a
        connection of that device authenticated by an older token ends."""

    def disconnect(self, device_id: str) -> None:
        """A backend closes the user's connections on ``device_id`` ("" for all)."""


class Hub:
    def __init__(
        self, epoch: str, flush_interval: float = 0.0, inbox_after: str = "project"
    ) -> None:
        self.epoch = epoch
        self.flush_interval = flush_interval
        self.inbox_after = inbox_after
        """The traced step an inbox entry comes from (streams/tracing.py): "project" where
        one stage projects and appends to inboxes (embedded), "inbox" where a second does."""
        self._touched: set[Subscriber] = set()
        self._next_flush = 0.0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._by_user: dict[str, set[Subscriber]] = defaultdict(set)
        self._followers: dict[str, set[Subscriber]] = {}
        """Stream name ("room:<id>", the live topic's key) -> its local followers."""

    def subscribe(self, subscriber: Subscriber) -> None:
        self._by_user[subscriber.user_id].add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._by_user.get(subscriber.user_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._by_user[subscriber.user_id]

    def follow(self, room_id: str, subscriber: Subscriber) -> None:
        self._followers.setdefault(room_stream(room_id), set()).add(subscriber)

    def unfollow(self, room_id: str, subscriber: Subscriber) -> None:
        stream = room_stream(room_id)
        followers = self._followers.get(stream)
        if followers is not None:
            followers.discard(subscriber)
            if not followers:
                del self._followers[stream]

    def connections_of(self, user_id: str) -> int:
        return len(self._by_user.get(user_id, ()))

    @property
    def connection_count(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    def census(self) -> tuple[dict[str, int], int, list[int]]:
        """For /metrics, when scraped: connections by namespace ("default" for ""), room
        stream follows, and each connection's queued frames."""
        by_namespace: dict[str, int] = defaultdict(int)
        queued: list[int] = []
        for subscribers in self._by_user.values():
            for subscriber in subscribers:
                by_namespace[subscriber.namespace or "default"] += 1
                queued.append(subscriber.queued_frames)
        return dict(by_namespace), sum(len(f) for f in self._followers.values()), queued

    def publish(self, deliveries: Sequence[Delivery]) -> None:
        touched = self._touched
        encoded: dict[int, bytes] = {}
        revocations: set[int] = set()  # envelopes that end sessions (looked at once each)
        traced: list[tuple[str, str]] = []
        for delivery in deliveries:
            if isinstance(delivery, RoomStreamEntry):
                self._publish_room(delivery, touched)
            elif isinstance(delivery, InboxEntry):
                subscribers = self._by_user.get(delivery.user_id)
                if not subscribers:
                    continue
                key = id(delivery.envelope)
                if key not in encoded:
                    encoded[key] = envelope_json(delivery.envelope)
                    observe_delivery("inbox", occurred_seconds(delivery.envelope))
                    if tracing.enabled():
                        traced.append((delivery.envelope.trace_id, self.inbox_after))
                    if delivery.envelope.WhichOneof("payload") == "sessions_revoked":
                        revocations.add(key)
                frame = inbox_push_frame(delivery.position, self.epoch, encoded[key])
                namespace = delivery.envelope.namespace
                everyone = delivery.envelope.stream.startswith("user:")  # the user's own
                for subscriber in subscribers:
                    seen = everyone or subscriber.namespace == namespace
                    subscriber.push_inbox(delivery.position, frame if seen else None)
                touched |= subscribers
                if key in revocations:
                    self._revoke(delivery.envelope, subscribers)
            elif isinstance(delivery, LiveNotice):
                p = delivery.envelope.presence_changed
                frame = presence_frame(p.user_id, p.device_id, p.status, delivery.online)
                self._push_to(delivery.user_ids, frame, touched, delivery.envelope.namespace)
            elif isinstance(delivery, TypingNotice):
                frame = typing_frame(delivery.room_id, delivery.user_id, delivery.typing)
                self._push_to(delivery.user_ids, frame, touched, delivery.namespace)
            elif isinstance(delivery, AppEventNotice):
                frame = app_event_frame(
                    delivery.room_id, delivery.user_id, delivery.name, delivery.payload
                )
                self._push_to(delivery.user_ids, frame, touched, delivery.namespace)
            elif isinstance(delivery, DisconnectNotice):
                for subscriber in list(self._by_user.get(delivery.user_id, ())):
                    subscriber.disconnect(delivery.device_id)
                    touched.add(subscriber)  # its flush closes the socket
        for trace_id, after in traced:
            _delivered(trace_id, after, 0)
        self._schedule_flush()

    @staticmethod
    def _revoke(envelope: Envelope, subscribers: set[Subscriber]) -> None:
        at = occurred_seconds(envelope)
        for subscriber in list(subscribers):
            subscriber.revoked(envelope.sessions_revoked.device_id, at)

    def _schedule_flush(self) -> None:
        if self._flush_timer is not None or not self._touched:
            return
        wait = self._next_flush - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._flush_timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        """Writes out what every touched subscriber has queued."""
        self._flush_timer = None
        started = time.monotonic()
        touched, self._touched = self._touched, set()
        for subscriber in touched:
            subscriber.flush()
        ended = time.monotonic()
        self._next_flush = ended + min(self.flush_interval, FLUSH_SPACING * (ended - started))

    def _publish_room(self, entry: RoomStreamEntry, touched: set[Subscriber]) -> None:
        followers = self._followers.get(entry.envelope.stream)
        if not followers:
            return
        frame = SharedFrame(room_push_frame(self.epoch, entry.envelope))
        observe_delivery("room", occurred_seconds(entry.envelope))
        if tracing.enabled():
            _delivered(entry.envelope.trace_id, "project", len(followers))
        room_id, position = entry.room_id, entry.position
        for follower in followers:
            follower.push_room(room_id, position, frame)
        touched |= followers
        if entry.envelope.WhichOneof("payload") == "member_left":
            gone = entry.envelope.member_left.user_id
            for follower in [f for f in followers if f.user_id == gone]:
                self.unfollow(room_id, follower)
                follower.unfollowed(room_id)

    def is_local(self, key: str) -> bool:
        """Whether a live record keyed ``key`` (a user id, or a room stream's name) has a
        recipient here."""
        return key in self._by_user or key in self._followers

    def _push_to(
        self, user_ids: Iterable[str], frame: str, touched: set[Subscriber], namespace: str
    ) -> None:
        """Pushes ``frame`` to the connections of ``user_ids`` in ``namespace``."""
        for user_id in user_ids:
            for subscriber in self._by_user.get(user_id, ()):
                if subscriber.namespace == namespace:
                    subscriber.push(frame)
                    touched.add(subscriber)


def _delivered(trace_id: str, after: str, followers: int) -> None:
    """The trace's delivery span on this gateway (several gateways deliver one event: its
    span id is its own)."""
    attributes = {"followers": followers} if followers else None
    with tracing.step("deliver", trace_id, after, attributes, shared=False):
        pass
