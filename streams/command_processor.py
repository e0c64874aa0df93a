"""The command processor's state for one partition, without I/O.

A partition's state is every Room aggregate and user-stream length whose stream hashes to
that partition, folded from the partition's events. The Kafka driver
(``command_processor_kafka.py``) rebuilds it when the partition is assigned, asks it to
decide each command, and writes the decided events in a transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.domain import DomainEvent

from domain.apikeys import ApiKeyCreated, ApiKeyRevoked
from domain.commands import Command
from domain.errors import DomainError
from domain.handler import CommandHandler, EventRef
from domain.namespaces import NamespaceConfigured, Namespaces
from domain.room import Room
from domain.user import UserEvent
from domain.values import LARGE_ROOM_MEMBERS
from proto.codec import decode_envelope

__all__ = ["Outcome", "PartitionState"]

RECENT_EVENTS = 10_000
"""Envelopes kept in memory per partition to answer duplicate commands without a fetch."""


@dataclass(slots=True)
class Outcome:
    events: list[DomainEvent] = field(default_factory=list)
    """New events, in order, to append to the partition."""
    answer: EventRef | None = None
    duplicate: bool = False
    rejection: DomainError | None = None


class PartitionState:
    """Implements the handler's ``Streams`` view for one partition."""

    def __init__(
        self, large_room_members: int = LARGE_ROOM_MEMBERS, namespaces: Namespaces | None = None
    ) -> None:
        self.rooms: dict[UUID, Room] = {}
        self.user_lengths: dict[str, int] = {}
        self.namespaces: dict[str, tuple[int, str]] = {}
        """Namespace -> position and settings of its last NamespaceConfigured."""
        self.api_keys: dict[str, tuple[int, str]] = {}
        """Key id -> position of its last event and its secret hash."""
        self.offsets: dict[tuple[UUID, int], int] = {}
        """(originator, position) -> events-topic offset, for events a duplicate may name."""
        self.recent: OrderedDict[tuple[UUID, int], bytes] = OrderedDict()
        self._handler = CommandHandler(self, large_room_members, namespaces)

    # Streams
    def get_room(self, room_id: UUID) -> Room | None:
        return self.rooms.get(room_id)

    def user_stream_length(self, user_id: str) -> int:
        return self.user_lengths.get(user_id, 0)

    def namespace_settings(self, name: str) -> tuple[int, str]:
        return self.namespaces.get(name, (0, ""))

    def api_key(self, key_id: str) -> tuple[int, str]:
        return self.api_keys.get(key_id, (0, ""))

    def _note_api_key(self, event: ApiKeyCreated | ApiKeyRevoked) -> None:
        secret_hash = event.secret_hash if isinstance(event, ApiKeyCreated) else ""
        self.api_keys[event.key_id] = (
            event.originator_version,
            secret_hash or self.api_key(event.key_id)[1],
        )

    def fold(self, data: bytes, offset: int) -> None:
        """Applies one stored event (rebuilding state from the events topic)."""
        event = decode_envelope(data)
        if isinstance(event, UserEvent):
            self.user_lengths[event.user_id] = event.originator_version
        elif isinstance(event, NamespaceConfigured):
            self.namespaces[event.name] = (event.originator_version, event.settings)
        elif isinstance(event, ApiKeyCreated | ApiKeyRevoked):
            self._note_api_key(event)
        else:
            assert isinstance(event, Room.Event)
            self.rooms[event.originator_id] = event.mutate(self.rooms.get(event.originator_id))  # type: ignore[assignment]
        self.remember(event, data, offset)

    def remember(self, event: DomainEvent, data: bytes, offset: int) -> None:
        key = (event.originator_id, event.originator_version)
        answers = Room.MessagePosted | Room.RoomCreated | NamespaceConfigured | ApiKeyCreated
        if isinstance(event, answers) or event.meta.request_id:  # type: ignore[attr-defined]
            self.offsets[key] = offset
        self.recent[key] = data
        if len(self.recent) > RECENT_EVENTS:
            self.recent.popitem(last=False)

    def decide(self, command: Command) -> Outcome:
        """Runs the command against current state; new events are applied to it already."""
        try:
            decision = self._handler.decide(command)
        except DomainError as exc:
            return Outcome(rejection=exc)
        if decision.duplicate:
            return Outcome(answer=decision.answer, duplicate=True)
        events: list[DomainEvent] = []
        for item in decision.pending:
            if isinstance(item, Room):
                self.rooms[item.id] = item
                events.extend(item.collect_events())  # type: ignore[arg-type]
            elif isinstance(item, NamespaceConfigured):
                self.namespaces[item.name] = (item.originator_version, item.settings)
                events.append(item)
            elif isinstance(item, ApiKeyCreated | ApiKeyRevoked):
                self._note_api_key(item)
                events.append(item)
            else:
                self.user_lengths[item.user_id] = item.originator_version
                events.append(item)
        return Outcome(events=events, answer=decision.answer)
