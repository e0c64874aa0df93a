"""The projection store port: applies projector changes with the log offset, answers queries.

Adapters: ``store_sqlite.py`` (embedded). The contract suite in
``tests/contract/test_projection_store.py`` runs against every adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from projections.changes import Change, Delivery, InboxEntry
from projections.projector import ProjectionView
from proto.codec import Envelope

__all__ = [
    "MemberRow",
    "MessageRow",
    "PresenceRow",
    "ProjectionStore",
    "Projector",
    "RoomRow",
    "StoreUnavailable",
]

Projector = Callable[[Envelope, ProjectionView], list[Change]]


class StoreUnavailable(Exception):
    """The store cannot be reached now; the same call may succeed later."""


@dataclass(frozen=True, slots=True)
class RoomRow:
    room_id: str
    kind: int
    name: str
    public: bool
    head: int
    last_activity: str
    role: int = 0
    read_up_to: int = 0
    delivered_up_to: int = 0
    unread: int = 0


@dataclass(frozen=True, slots=True)
class MemberRow:
    user_id: str
    role: int
    joined_at: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    position: int
    message_id: str
    author_id: str
    text: str
    client_msg_id: str
    posted_at: str
    trace_id: str
    edited: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class PresenceRow:
    user_id: str
    online: bool
    devices: dict[str, int]


class ProjectionStore(ABC):
    """Read models of the log, written only through :meth:`apply`.

    Contract:
    - :meth:`apply` runs ``project`` for each event in order and applies its changes and the
      offset of the last event atomically: after a crash either all of a batch is visible
      or none of it. Events at or below :meth:`tracked_offset` are skipped, so replaying a
      batch changes nothing and returns no deliveries.
    - Inbox positions are dense per user, starting at 1, and never reused within an epoch.
    - :attr:`epoch` identifies this store's history; a rebuilt store has a new one.
    - Queries never raise for unknown ids: they return empty results or None.
    - Any backend outage surfaces as :class:`StoreUnavailable`.
    """

    epoch: str

    @abstractmethod
    async def apply(
        self, events: Sequence[tuple[int, Envelope]], project: Projector
    ) -> list[Delivery]:
        """Projects ``(offset, envelope)`` pairs; returns what to deliver live."""

    @abstractmethod
    async def tracked_offset(self) -> int:
        """The log offset of the last applied event (0 before the first)."""

    @abstractmethod
    async def rooms_of(self, user_id: str) -> list[RoomRow]:
        """The user's rooms with role, read states and unread message counts."""

    @abstractmethod
    async def room(self, room_id: str) -> RoomRow | None: ...

    @abstractmethod
    async def room_of(self, user_id: str, room_id: str) -> RoomRow | None:
        """One of the user's rooms, as :meth:`rooms_of` lists it; None if not a member."""

    @abstractmethod
    async def members(self, room_id: str) -> list[MemberRow]: ...

    @abstractmethod
    async def role_of(self, room_id: str, user_id: str) -> int:
        """The member's role, or 0 when not a member."""

    @abstractmethod
    async def timeline(
        self, room_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[MessageRow]:
        """Messages by room position, ascending. With ``after`` the page starts just after
        it; otherwise it ends just before ``before`` (or at the newest message)."""

    @abstractmethod
    async def message(self, room_id: str, message_id: str) -> MessageRow | None: ...

    @abstractmethod
    async def inbox(self, user_id: str, *, after: int, limit: int) -> list[InboxEntry]:
        """Inbox entries with position > ``after``, ascending."""

    @abstractmethod
    async def inbox_head(self, user_id: str) -> int:
        """The user's last inbox position (0 if empty)."""

    @abstractmethod
    async def presence(self, user_ids: Sequence[str]) -> list[PresenceRow]: ...

    @abstractmethod
    async def online_users(self) -> list[PresenceRow]:
        """Every user with at least one device online or away."""

    @abstractmethod
    async def close(self) -> None: ...
