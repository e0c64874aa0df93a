"""Cassandra projection store (distributed mode), on cassandra-driver.

Driver calls are bridged to asyncio without blocking the loop (``execute_async`` callbacks
resolve asyncio futures). Statements are prepared once. Writes are idempotent: each carries
``USING TIMESTAMP <stream position>`` (last write wins by position, so a replayed older event
never overwrites newer state), and inbox appends are deduplicated by the source stream
position they carry (one writer per user: the inbox topic is keyed by user).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from cassandra import DriverException
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import PreparedStatement

from domain.values import AckKind, PresenceStatus
from projections import changes as ch
from projections.migrations_cassandra import BUCKET_SIZE, schema_statements
from projections.store import (
    MemberRow,
    MessageRow,
    PresenceRow,
    ProjectionStore,
    Projector,
    RoomRow,
    StoreUnavailable,
)
from proto.codec import Envelope, envelope_from_bytes, payload_kind

__all__ = ["CassandraProjectionStore", "PrefetchedView", "migrate"]

_ONLINE = (PresenceStatus.ONLINE, PresenceStatus.AWAY)
APPLY_TRACKING = "apply"
"""Tracking name of :meth:`CassandraProjectionStore.apply` (single-writer replays)."""
UNREAD_SCAN_LIMIT = 1000
"""Unread counts are exact up to this many messages, and this number beyond."""


def _bucket(position: int) -> int:
    return max(position, 0) // BUCKET_SIZE


REQUEST_TIMEOUT = 5.0
"""Seconds before a statement fails with StoreUnavailable (REST answers 503, projectors retry)."""
HEARTBEAT_SECONDS = 5
"""An idle connection is probed this often and dropped when the probe gets no answer in as
long: a peer that vanished without a FIN (blackholed, frozen) is noticed within ~10 s."""


def _cluster(hosts: Sequence[str], port: int) -> Cluster:
    return Cluster(
        list(hosts),
        port=port,
        protocol_version=5,
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        # Back within seconds after an outage (the driver's default waits up to 10 minutes).
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=4.0),
        idle_heartbeat_interval=HEARTBEAT_SECONDS,
        idle_heartbeat_timeout=HEARTBEAT_SECONDS,
        prepare_on_all_hosts=True,
        reprepare_on_up=True,
        connect_timeout=5,
    )


def migrate(hosts: Sequence[str], port: int, keyspace: str, replication_factor: int = 1) -> str:
    """Creates the keyspace and tables (idempotent) and the inbox epoch; returns the epoch."""
    cluster = _cluster(hosts, port)
    try:
        session = cluster.connect()
        for statement in schema_statements(keyspace, replication_factor):
            session.execute(statement, timeout=60)
        session.execute(
            f"INSERT INTO {keyspace}.meta (key, value) VALUES ('epoch', %s) IF NOT EXISTS",
            (uuid.uuid4().hex[:12],),
        )
        row = session.execute(f"SELECT value FROM {keyspace}.meta WHERE key='epoch'").one()
        return str(row.value)
    finally:
        cluster.shutdown()


class PrefetchedView:
    """The projector's reads, loaded before it runs (Cassandra reads are asynchronous)."""

    def __init__(
        self,
        members: dict[str, frozenset[str]],
        contacts: dict[str, frozenset[str]],
        online: dict[str, frozenset[str]],
    ) -> None:
        self._members, self._contacts, self._online = members, contacts, online

    def members(self, room_id: str) -> frozenset[str]:
        return self._members.get(room_id, frozenset())

    def contacts(self, user_id: str) -> frozenset[str]:
        return self._contacts.get(user_id, frozenset())

    def online_devices(self, user_id: str) -> frozenset[str]:
        return self._online.get(user_id, frozenset())


class CassandraProjectionStore(ProjectionStore):
    def __init__(self, cluster: Cluster, session: Session, keyspace: str, epoch: str) -> None:
        self._cluster = cluster
        self._session = session
        self.keyspace = keyspace
        self.epoch = epoch
        self._prepared: dict[str, PreparedStatement] = {}

    @classmethod
    async def connect(
        cls, hosts: Sequence[str], port: int, keyspace: str
    ) -> CassandraProjectionStore:
        """Connects to a migrated keyspace (``tidings migrate`` creates it)."""
        cluster = _cluster(hosts, port)
        try:
            session = await asyncio.to_thread(cluster.connect, keyspace)
            row = await asyncio.to_thread(
                lambda: session.execute("SELECT value FROM meta WHERE key='epoch'").one()
            )
        except (NoHostAvailable, DriverException) as exc:
            cluster.shutdown()
            raise StoreUnavailable(f"cassandra: {exc}") from exc
        if row is None:
            cluster.shutdown()
            raise StoreUnavailable(f"keyspace {keyspace} is not migrated: run tidings migrate")
        session.default_timeout = REQUEST_TIMEOUT  # also bounds the driver's own requests
        return cls(cluster, session, keyspace, str(row.value))

    # ------------------------------------------------------------------ driver bridge

    async def _statement(self, cql: str) -> PreparedStatement:
        """The prepared statement for ``cql``. The driver prepares synchronously, so the first
        use of a shape runs in a thread: a slow or unreachable node must never freeze the
        event loop (every connection of the gateway would stall with it)."""
        statement = self._prepared.get(cql)
        if statement is None:
            statement = await asyncio.to_thread(self._session.prepare, cql)
            self._prepared[cql] = statement
        return statement

    async def _write(self, cql: str, params: Sequence[Any], timestamp: int) -> list[Any]:
        """A write stamped ``USING TIMESTAMP ?`` (a bind marker: one prepared statement per
        shape, not per value). INSERTs take the stamp last, UPDATE and DELETE first."""
        if cql.lstrip().upper().startswith("INSERT"):
            return await self._run(cql, (*params, timestamp))
        return await self._run(cql, (timestamp, *params))

    async def execute(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Runs a prepared statement on this store's connection (for adapters that keep
        their own tables in the keyspace); returns the rows of its first page."""
        return await self._run(cql, params)

    async def _run(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Executes a prepared statement; returns the rows of its first page."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()

        def resolve(rows: Any) -> None:
            if not future.done():
                future.set_result(list(rows or []))

        def reject(exc: BaseException) -> None:
            if not future.done():
                future.set_exception(exc)

        try:
            statement = await self._statement(cql)
            response = self._session.execute_async(
                statement, tuple(params), timeout=REQUEST_TIMEOUT
            )
        except (NoHostAvailable, DriverException) as exc:
            raise StoreUnavailable(f"cassandra: {exc}") from exc
        response.add_callbacks(
            lambda rows: loop.call_soon_threadsafe(resolve, rows),
            lambda exc: loop.call_soon_threadsafe(reject, exc),
        )
        try:
            return await future
        except (NoHostAvailable, DriverException) as exc:
            raise StoreUnavailable(f"cassandra: {exc}") from exc

    # ------------------------------------------------------------------ projection writes

    async def view_for(self, envelope: Envelope) -> PrefetchedView:
        """Loads what :func:`projections.projector.project` will read for this event."""
        kind = payload_kind(envelope)
        if kind == "presence_changed":
            user = envelope.presence_changed.user_id
            contacts: set[str] = set()
            for room in await self._run(
                "SELECT room_id FROM rooms_by_user WHERE user_id=?", (user,)
            ):
                contacts.update(await self._member_ids(room.room_id))
            contacts.discard(user)
            online = await self._run(
                "SELECT device_id, status FROM presence WHERE user_id=?", (user,)
            )
            devices = frozenset(r.device_id for r in online if r.status in _ONLINE)
            return PrefetchedView({}, {user: frozenset(contacts)}, {user: devices})
        room_id = getattr(envelope, kind).room_id
        return PrefetchedView({room_id: await self._member_ids(room_id)}, {}, {})

    async def _member_ids(self, room_id: str) -> frozenset[str]:
        rows = await self._run("SELECT user_id FROM room_members WHERE room_id=?", (room_id,))
        return frozenset(r.user_id for r in rows)

    async def apply_changes(self, envelope: Envelope, changes: Sequence[ch.Change]) -> None:
        """Applies the state changes of one event (not inbox or live ones), idempotently.

        They run concurrently: every write is stamped with the event's position, so their
        order does not matter."""
        ts = envelope.position
        await asyncio.gather(*(self._apply_change(change, ts) for change in changes))

    async def _apply_change(self, change: ch.Change, ts: int) -> None:
        match change:
            case ch.UpsertRoom(room_id, kind, name, public):
                if kind:
                    await self._write(
                        "UPDATE rooms USING TIMESTAMP ? SET kind=? WHERE room_id=?",
                        (kind, room_id),
                        ts,
                    )
                await self._write(
                    "UPDATE rooms USING TIMESTAMP ? SET name=?, public=? WHERE room_id=?",
                    (name, public, room_id),
                    ts,
                )
            case ch.AdvanceRoom(room_id, position, at):
                await self._write(
                    "UPDATE rooms USING TIMESTAMP ? SET head=?, last_activity=? WHERE room_id=?",
                    (position, at, room_id),
                    ts,
                )
            case ch.AddMember(room_id, user_id, role, position):
                await self._write(
                    "INSERT INTO room_members (room_id, user_id, role, joined_at) "
                    "VALUES (?,?,?,?) USING TIMESTAMP ?",
                    (room_id, user_id, role, position),
                    ts,
                )
                await self._write(
                    "INSERT INTO rooms_by_user (user_id, room_id, role) VALUES (?,?,?) "
                    "USING TIMESTAMP ?",
                    (user_id, room_id, role),
                    ts,
                )
            case ch.RemoveMember(room_id, user_id):
                await self._write(
                    "DELETE FROM room_members USING TIMESTAMP ? WHERE room_id=? AND user_id=?",
                    (room_id, user_id),
                    ts,
                )
                await self._write(
                    "DELETE FROM rooms_by_user USING TIMESTAMP ? WHERE user_id=? AND room_id=?",
                    (user_id, room_id),
                    ts,
                )
            case ch.SetRole(room_id, user_id, role):
                await self._write(
                    "UPDATE room_members USING TIMESTAMP ? SET role=? "
                    "WHERE room_id=? AND user_id=?",
                    (role, room_id, user_id),
                    ts,
                )
                await self._write(
                    "UPDATE rooms_by_user USING TIMESTAMP ? SET role=? "
                    "WHERE user_id=? AND room_id=?",
                    (role, user_id, room_id),
                    ts,
                )
            case ch.StoreMessage():
                m = change
                await self._write(
                    "INSERT INTO messages (room_id, bucket, position, message_id, author_id, "
                    "client_msg_id, text, posted_at, trace_id, edited, deleted) "
                    "VALUES (?,?,?,?,?,?,?,?,?,false,false) USING TIMESTAMP ?",
                    (
                        m.room_id,
                        _bucket(m.position),
                        m.position,
                        m.message_id,
                        m.author_id,
                        m.client_msg_id,
                        m.text,
                        m.posted_at,
                        m.trace_id,
                    ),
                    ts,
                )
                await self._write(
                    "INSERT INTO message_positions (room_id, message_id, position) "
                    "VALUES (?,?,?) USING TIMESTAMP ?",
                    (m.room_id, m.message_id, m.position),
                    ts,
                )
            case ch.EditMessage(room_id, message_id, text):
                stored_at = await self._message_position(room_id, message_id)
                if stored_at is not None:
                    await self._write(
                        "UPDATE messages USING TIMESTAMP ? SET text=?, edited=true "
                        "WHERE room_id=? AND bucket=? AND position=?",
                        (text, room_id, _bucket(stored_at), stored_at),
                        ts,
                    )
            case ch.DeleteMessage(room_id, message_id):
                stored_at = await self._message_position(room_id, message_id)
                if stored_at is not None:
                    await self._write(
                        "UPDATE messages USING TIMESTAMP ? SET text='', deleted=true "
                        "WHERE room_id=? AND bucket=? AND position=?",
                        (room_id, _bucket(stored_at), stored_at),
                        ts,
                    )
            case ch.RaiseReadState(user_id, room_id, kind, up_to):
                # Stamped with up_to itself: the highest acknowledged position wins.
                column = "read_up_to" if kind == AckKind.READ else "delivered_up_to"
                await self._write(
                    f"UPDATE read_states USING TIMESTAMP ? SET {column}=? "
                    "WHERE user_id=? AND room_id=?",
                    (up_to, user_id, room_id),
                    up_to,
                )
            case ch.SetPresence(user_id, device_id, status, at):
                await self._write(
                    "INSERT INTO presence (user_id, device_id, status, updated_at) "
                    "VALUES (?,?,?,?) USING TIMESTAMP ?",
                    (user_id, device_id, status, at),
                    ts,
                )
            case ch.AppendInbox() | ch.NotifyLive():
                pass  # routed through Kafka by the caller

    async def _message_position(self, room_id: str, message_id: str) -> int | None:
        rows = await self._run(
            "SELECT position FROM message_positions WHERE room_id=? AND message_id=?",
            (room_id, message_id),
        )
        return int(rows[0].position) if rows else None

    async def append_inbox(self, user_id: str, envelope: Envelope) -> ch.InboxEntry | None:
        """Appends at the user's next position, unless this stream position is there already.

        Callers must be the single writer of this user's inbox (the inbox topic is keyed by
        user), and must hand each source stream's events in order, which they are. The row is
        written first; the head and the stream's mark then move together in one
        single-partition batch, so a crash at any point leads to the same row being rewritten
        at the same position, never to a duplicate or a hole.

        Returns the new entry; for a replay of the stream's latest appended event, the
        existing entry (so that its live delivery, which a crash may have cut, is repeated);
        None for older replays.
        """
        rows, head = await asyncio.gather(
            self._run(
                "SELECT mark, at FROM inbox_state WHERE user_id=? AND stream=?",
                (user_id, envelope.stream),
            ),
            self.inbox_head(user_id),
        )
        mark = rows[0].mark if rows else None
        if mark is not None and envelope.position <= mark:
            if envelope.position == mark and rows[0].at is not None:
                return ch.InboxEntry(user_id, int(rows[0].at), envelope)
            return None
        position = head + 1
        await self._run(
            "INSERT INTO inbox (user_id, bucket, position, envelope) VALUES (?,?,?,?)",
            (user_id, _bucket(position), position, envelope.SerializeToString()),
        )
        await self._run(
            "BEGIN UNLOGGED BATCH "
            "UPDATE inbox_state SET head=? WHERE user_id=?; "
            "UPDATE inbox_state SET mark=?, at=? WHERE user_id=? AND stream=?; "
            "APPLY BATCH",
            (position, user_id, envelope.position, position, user_id, envelope.stream),
        )
        return ch.InboxEntry(user_id, position, envelope)

    async def track(self, name: str, partition: int, offset: int) -> None:
        await self._write(
            "INSERT INTO tracking (name, partition, offset) VALUES (?,?,?) USING TIMESTAMP ?",
            (name, partition, offset),
            offset + 1,
        )

    async def tracked(self, name: str, partition: int) -> int:
        """The last offset recorded for (name, partition); -1 if none."""
        rows = await self._run(
            "SELECT offset FROM tracking WHERE name=? AND partition=?", (name, partition)
        )
        return int(rows[0].offset) if rows else -1

    # ------------------------------------------------------------------ the generic port

    async def apply(
        self, events: Sequence[tuple[int, Envelope]], project: Projector
    ) -> list[ch.Delivery]:
        """Single-writer application of a batch (tests, replay tools); see the port contract."""
        last = await self.tracked(APPLY_TRACKING, 0)
        deliveries: list[ch.Delivery] = []
        for offset, envelope in events:
            if offset <= last:
                continue
            changes = project(envelope, await self.view_for(envelope))
            await self.apply_changes(envelope, changes)
            for change in changes:
                if isinstance(change, ch.AppendInbox):
                    # Each user's inbox is its own partition: append to all at once.
                    entries = await asyncio.gather(
                        *(self.append_inbox(u, envelope) for u in sorted(change.user_ids))
                    )
                    deliveries.extend(e for e in entries if e is not None)
                elif isinstance(change, ch.NotifyLive):
                    deliveries.append(ch.LiveNotice(change.user_ids, envelope, change.online))
            await self.track(APPLY_TRACKING, 0, offset)
            last = offset
        return deliveries

    async def tracked_offset(self) -> int:
        return max(await self.tracked(APPLY_TRACKING, 0), 0)

    # ------------------------------------------------------------------ reads

    async def rooms_of(self, user_id: str) -> list[RoomRow]:
        memberships = await self._run(
            "SELECT room_id, role FROM rooms_by_user WHERE user_id=?", (user_id,)
        )
        return await self._with_read_states(user_id, memberships)

    async def room_of(self, user_id: str, room_id: str) -> RoomRow | None:
        memberships = await self._run(
            "SELECT room_id, role FROM rooms_by_user WHERE user_id=? AND room_id=?",
            (user_id, room_id),
        )
        rows = await self._with_read_states(user_id, memberships)
        return rows[0] if rows else None

    async def _with_read_states(self, user_id: str, memberships: list[Any]) -> list[RoomRow]:
        rooms = []
        for membership in memberships:
            room = await self.room(membership.room_id)
            if room is None:
                continue
            states = await self._run(
                "SELECT read_up_to, delivered_up_to FROM read_states WHERE user_id=? AND room_id=?",
                (user_id, room.room_id),
            )
            read = int(states[0].read_up_to or 0) if states else 0
            delivered = int(states[0].delivered_up_to or 0) if states else 0
            unread = await self._unread(room.room_id, user_id, read, room.head)
            rooms.append(
                RoomRow(
                    room.room_id,
                    room.kind,
                    room.name,
                    room.public,
                    room.head,
                    room.last_activity,
                    membership.role,
                    read,
                    delivered,
                    unread,
                )
            )
        rooms.sort(key=lambda r: r.room_id)
        rooms.sort(key=lambda r: r.last_activity, reverse=True)
        return rooms

    async def _unread(self, room_id: str, user_id: str, read_up_to: int, head: int) -> int:
        count = 0
        for bucket in range(_bucket(read_up_to), _bucket(head) + 1):
            rows = await self._run(
                "SELECT author_id, deleted FROM messages WHERE room_id=? AND bucket=? "
                "AND position>? LIMIT ?",
                (room_id, bucket, read_up_to, UNREAD_SCAN_LIMIT),
            )
            count += sum(1 for r in rows if r.author_id != user_id and not r.deleted)
            if count >= UNREAD_SCAN_LIMIT:
                return UNREAD_SCAN_LIMIT
        return count

    async def room(self, room_id: str) -> RoomRow | None:
        rows = await self._run(
            "SELECT room_id, kind, name, public, head, last_activity FROM rooms WHERE room_id=?",
            (room_id,),
        )
        if not rows or rows[0].kind is None:
            return None
        r = rows[0]
        return RoomRow(
            r.room_id, r.kind, r.name or "", bool(r.public), r.head or 0, r.last_activity or ""
        )

    async def members(self, room_id: str) -> list[MemberRow]:
        rows = await self._run(
            "SELECT user_id, role, joined_at FROM room_members WHERE room_id=?", (room_id,)
        )
        return sorted(
            (MemberRow(r.user_id, r.role, r.joined_at) for r in rows), key=lambda m: m.joined_at
        )

    async def role_of(self, room_id: str, user_id: str) -> int:
        rows = await self._run(
            "SELECT role FROM room_members WHERE room_id=? AND user_id=?", (room_id, user_id)
        )
        return int(rows[0].role) if rows else 0

    _MESSAGE = (
        "SELECT position, message_id, author_id, text, client_msg_id, posted_at, trace_id, "
        "edited, deleted FROM messages"
    )

    @staticmethod
    def _message_row(r: Any) -> MessageRow:
        return MessageRow(
            r.position,
            r.message_id,
            r.author_id,
            r.text or "",
            r.client_msg_id or "",
            r.posted_at,
            r.trace_id or "",
            bool(r.edited),
            bool(r.deleted),
        )

    async def timeline(
        self, room_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[MessageRow]:
        room = await self.room(room_id)
        if room is None:
            return []
        head = room.head
        out: list[MessageRow] = []
        if after is not None:
            upper = head if before is None else min(head, before - 1)
            for bucket in range(_bucket(after + 1), _bucket(upper) + 1):
                rows = await self._run(
                    f"{self._MESSAGE} WHERE room_id=? AND bucket=? AND position>? "
                    "AND position<=? ORDER BY position ASC LIMIT ?",
                    (room_id, bucket, after, upper, limit - len(out)),
                )
                out.extend(self._message_row(r) for r in rows)
                if len(out) >= limit:
                    break
            return out
        upper = head if before is None else min(head, before - 1)
        for bucket in range(_bucket(upper), -1, -1):
            rows = await self._run(
                f"{self._MESSAGE} WHERE room_id=? AND bucket=? AND position<=? LIMIT ?",
                (room_id, bucket, upper, limit - len(out)),
            )
            out.extend(self._message_row(r) for r in rows)
            if len(out) >= limit:
                break
        return list(reversed(out))

    async def message(self, room_id: str, message_id: str) -> MessageRow | None:
        position = await self._message_position(room_id, message_id)
        if position is None:
            return None
        rows = await self._run(
            f"{self._MESSAGE} WHERE room_id=? AND bucket=? AND position=?",
            (room_id, _bucket(position), position),
        )
        return self._message_row(rows[0]) if rows else None

    async def inbox(self, user_id: str, *, after: int, limit: int) -> list[ch.InboxEntry]:
        head = await self.inbox_head(user_id)
        out: list[ch.InboxEntry] = []
        for bucket in range(_bucket(after + 1), _bucket(head) + 1):
            rows = await self._run(
                "SELECT position, envelope FROM inbox WHERE user_id=? AND bucket=? "
                "AND position>? AND position<=? LIMIT ?",
                (user_id, bucket, after, head, limit - len(out)),
            )
            out.extend(
                ch.InboxEntry(user_id, r.position, envelope_from_bytes(r.envelope)) for r in rows
            )
            if len(out) >= limit:
                break
        return out

    async def inbox_head(self, user_id: str) -> int:
        rows = await self._run("SELECT head FROM inbox_state WHERE user_id=? LIMIT 1", (user_id,))
        return int(rows[0].head) if rows and rows[0].head is not None else 0

    async def presence(self, user_ids: Sequence[str]) -> list[PresenceRow]:
        out = []
        for user_id in sorted(set(user_ids)):
            rows = await self._run(
                "SELECT device_id, status FROM presence WHERE user_id=?", (user_id,)
            )
            devices = {r.device_id: r.status for r in rows}
            out.append(PresenceRow(user_id, any(s in _ONLINE for s in devices.values()), devices))
        return out

    async def online_users(self) -> list[PresenceRow]:
        """Scans the presence table (fine for operations tooling, not for hot paths)."""
        rows = await asyncio.to_thread(
            lambda: list(self._session.execute("SELECT user_id, device_id, status FROM presence"))
        )
        devices: dict[str, dict[str, int]] = {}
        for r in rows:
            devices.setdefault(r.user_id, {})[r.device_id] = r.status
        return [
            PresenceRow(u, True, d)
            for u, d in sorted(devices.items())
            if any(s in _ONLINE for s in d.values())
        ]

    async def close(self) -> None:
        await asyncio.to_thread(self._cluster.shutdown)
