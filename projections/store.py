"""The projection store ports, split by job as eventsourcing splits its recorders.

- :class:`ProjectionReader`: the queries REST and sessions make (rooms, timelines, inboxes,
  room streams, presence);
- :class:`StateWriter`: reads what a batch's projection needs, writes its state changes
  idempotently, and tracks how far it got;
- :class:`InboxWriter`: appends events to users' inboxes at dense positions, deduplicated;
- :class:`ProjectionStore`: a reader that also applies whole batches of the log with their
  offset and returns the live deliveries they make (the embedded runner and
  ``tidings replay`` drive it).

An adapter raises :class:`StoreUnavailable` for any failure that retrying may cure (a
database down or unreachable, a disk full, a lock held too long), never its driver's own
errors.

Every writer runs the same pure core, :func:`projections.batch.project_batch`. Adapters:
``store_sqlite.py`` (embedded), ``store_cassandra.py`` and ``inbox_cassandra.py``
(distributed). The contract suites in ``tests/contract/`` run against every adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from projections.changes import Change, Delivery, InboxEntry
from projections.projector import ProjectionView
from proto.codec import Envelope

if TYPE_CHECKING:
    from projections.batch import Prefetch

__all__ = [
    "ApiKeyRow",
    "DeviceRow",
    "DirectoryRow",
    "InboxWriter",
    "MemberRow",
    "MessageRow",
    "PresenceRow",
    "ProjectionReader",
    "ProjectionStore",
    "Projector",
    "RoomRow",
    "StateWriter",
    "StoreUnavailable",
    "StreamHead",
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
    streamed_since: int = 0
    """The room position its room stream starts at; 0: delivered through inboxes."""


@dataclass(frozen=True, slots=True)
class StreamHead:
    """Where a room stream starts (its first room position) and its last position."""

    since: int
    head: int


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
class DeviceRow:
    device_id: str
    status: int
    last_activity: str
    """ISO time of the device's last presence change."""


@dataclass(frozen=True, slots=True)
class PresenceRow:
    user_id: str
    online: bool
    devices: dict[str, int]


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    """A group room or channel in the directory."""

    room_id: str
    namespace: str
    name: str
    kind: int
    public: bool
    members: int


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    namespaces: tuple[str, ...]
    """Empty: every namespace."""
    secret_hash: str
    created_at: str
    created_by: str
    revoked_at: str = ""
    """ISO time it was revoked; empty while it works."""


class ProjectionReader(ABC):
    """Queries over the read models.

    Contract: queries never raise for unknown ids: they return empty results or None; any
    backend outage surfaces as :class:`StoreUnavailable`. :attr:`epoch` identifies the
    store's inbox history; a rebuilt store has a new one.
    """

    epoch: str

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
    async def room_stream(self, room_id: str, *, after: int, limit: int) -> list[Envelope]:
        """Events of the room stream with room position > ``after``, ascending. Every
        position from the stream's start to its head is there."""

    @abstractmethod
    async def room_stream_head(self, room_id: str) -> StreamHead | None:
        """The room stream's start and head; None if the room is not a room stream."""

    @abstractmethod
    async def presence(self, user_ids: Sequence[str]) -> list[PresenceRow]: ...

    @abstractmethod
    async def online_users(self) -> list[PresenceRow]:
        """Every user with at least one device online or away."""

    @abstractmethod
    async def room_namespace(self, room_id: str) -> str:
        """The namespace of the room ("default" for rooms of no other, and unknown ones)."""

    @abstractmethod
    async def quiet_rooms(self, room_ids: Sequence[str]) -> set[str]:
        """Those of the rooms whose members share no presence (unanswered direct rooms)."""

    @abstractmethod
    async def devices(self, user_id: str) -> list[DeviceRow]:
        """The user's devices with their presence, by device id."""

    @abstractmethod
    async def directory(
        self,
        namespaces: Collection[str],
        *,
        query: str = "",
        after: str = "",
        limit: int = 50,
        public_only: bool = True,
    ) -> list[DirectoryRow]:
        """Group rooms and channels of ``namespaces`` whose name contains ``query`` (case
        insensitive), ordered by lower-cased name then room id, starting after the room
        ``after`` (a room id from an earlier page); deleted rooms never appear."""

    @abstractmethod
    async def api_key(self, key_id: str) -> ApiKeyRow | None: ...

    @abstractmethod
    async def api_keys(self) -> list[ApiKeyRow]:
        """Every key ever created (revoked ones too), by key id."""

    @abstractmethod
    async def revoked_at(self, user_id: str, device_id: str) -> float:
        """The latest revocation of the user's sessions on ``device_id`` or on every
        device (seconds since the epoch); 0.0 if none."""

    @abstractmethod
    async def close(self) -> None: ...


class StateWriter(ABC):
    """Writes the state read models (everything but inboxes) from projected batches.

    Contract: :meth:`write_state` is idempotent and order-insensitive within a batch (each
    write is stamped with its event's stream position; the highest wins), so a batch
    replayed after a crash changes nothing. :meth:`tracked` returns what :meth:`track`
    recorded last for (name, partition), -1 if nothing.
    """

    @abstractmethod
    async def prefetch(self, events: Sequence[Envelope]) -> Prefetch:
        """What :func:`projections.batch.project_batch` needs to know about these events
        (see :func:`projections.batch.reads_of`), as stored now."""

    @abstractmethod
    async def write_state(self, changes: Sequence[tuple[Envelope, Change]]) -> None: ...

    @abstractmethod
    async def track(self, name: str, partition: int, offset: int) -> None: ...

    @abstractmethod
    async def tracked(self, name: str, partition: int) -> int: ...


class InboxWriter(ABC):
    """Appends events to users' inboxes.

    Contract: the caller is the single writer of these users' inboxes and hands each source
    stream's events in stream order. Each (user, event) lands once, at the user's next
    dense position; :meth:`append` returns the entries written, and for an event that is
    the latest one appended from its stream already, its existing entry (its live delivery
    may have been cut by a crash); older repeats return nothing. On an error nothing is
    known about what was written: the caller retries the same appends, which then land
    where they would have.
    """

    @abstractmethod
    async def append(self, appends: Sequence[tuple[str, Envelope]]) -> list[InboxEntry]: ...

    def forget(self) -> None:
        """Drops what the writer remembers of inbox heads (its users may have moved to
        another writer and back)."""
        return None


class ProjectionStore(ProjectionReader):
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

    @abstractmethod
    async def apply(
        self, events: Sequence[tuple[int, Envelope]], project: Projector
    ) -> list[Delivery]:
        """Projects ``(offset, envelope)`` pairs; returns what to deliver live."""

    @abstractmethod
    async def tracked_offset(self) -> int:
        """The log offset of the last applied event (0 before the first)."""
