"""The gateway's hub: which connections belong to which user, and live fan-out to them.

Whatever feeds the hub (the embedded projection runner, or an inbox consumer in distributed
mode) calls :meth:`Hub.publish` with deliveries in inbox order. Each envelope is encoded to
JSON once, however many recipients it has. Publishing never blocks: a subscriber queues the
frame or disconnects itself when its client reads too slowly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from projections.changes import Delivery, InboxEntry, LiveNotice
from proto.wire import LiveRecord, envelope_json, inbox_push_frame, presence_frame, typing_frame

__all__ = ["Hub", "Subscriber"]


class Subscriber(Protocol):
    @property
    def user_id(self) -> str: ...

    def push_inbox(self, position: int, frame: str) -> None: ...

    def push(self, frame: str) -> None: ...


class Hub:
    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self._by_user: dict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._by_user[subscriber.user_id].add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._by_user.get(subscriber.user_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._by_user[subscriber.user_id]

    @property
    def connection_count(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    def publish(self, deliveries: Sequence[Delivery]) -> None:
        encoded: dict[int, bytes] = {}
        for delivery in deliveries:
            if isinstance(delivery, InboxEntry):
                subscribers = self._by_user.get(delivery.user_id)
                if not subscribers:
                    continue
                key = id(delivery.envelope)
                if key not in encoded:
                    encoded[key] = envelope_json(delivery.envelope)
                frame = inbox_push_frame(delivery.position, self.epoch, encoded[key])
                for subscriber in list(subscribers):
                    subscriber.push_inbox(delivery.position, frame)
            elif isinstance(delivery, LiveNotice):
                p = delivery.envelope.presence_changed
                frame = presence_frame(p.user_id, p.device_id, p.status, delivery.online)
                self.push_to(delivery.user_ids, frame)

    def deliver_live(self, record: LiveRecord) -> None:
        """A record from another process (distributed mode): inbox event or notice."""
        kind = record.WhichOneof("kind")
        if kind == "event":
            for user_id in record.user_ids:
                self.publish([InboxEntry(user_id, record.event.position, record.event.event)])
        elif kind == "presence":
            p = record.presence
            self.push_to(
                record.user_ids, presence_frame(p.user_id, p.device_id, p.status, p.online)
            )
        elif kind == "typing":
            t = record.typing
            self.push_to(record.user_ids, typing_frame(t.room_id, t.user_id, t.typing))

    def is_local(self, user_id: str) -> bool:
        return user_id in self._by_user

    def push_to(self, user_ids: Iterable[str], frame: str) -> None:
        """An ephemeral push (presence, typing) to whichever of these users are connected."""
        for user_id in user_ids:
            for subscriber in list(self._by_user.get(user_id, ())):
                subscriber.push(frame)
