"""Cassandra projection store (distributed mode): the reader and the state writer.

Writes are idempotent: each carries ``USING TIMESTAMP <stream position>`` (last write wins
by position, so a replayed older event never overwrites newer state, and the writes of one
batch may run in any order, concurrently). Inbox appends are ``inbox_cassandra.py``'s; the
driver bridge is ``cassandra_session.py``'s. :meth:`CassandraProjectionStore.apply` (tests,
``tidings replay``) runs a batch through the same pure core as the live pipeline.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import AckKind, PresenceStatus
from projections import changes as ch
from projections.batch import Prefetch, project_batch, reads_of
from projections.cassandra_session import CassandraSession, gather_bounded, migrate
from projections.inbox_cassandra import CassandraInbox
from projections.inbox_cassandra import bucket as _bucket
from projections.store import (
    ApiKeyRow,
    DeviceRow,
    DirectoryRow,
    MemberRow,
    MessageRow,
    PresenceRow,
    ProjectionStore,
    Projector,
    RoomRow,
    StateWriter,
    StreamHead,
)
from proto.codec import Envelope, envelope_from_bytes

__all__ = ["CassandraProjectionStore", "migrate"]

_ONLINE = (PresenceStatus.ONLINE, PresenceStatus.AWAY)
APPLY_TRACKING = "apply"
"""Tracking name of :meth:`CassandraProjectionStore.apply` (single-writer replays)."""
UNREAD_SCAN_LIMIT = 1000
"""Unread counts are exact up to this many messages, and this number beyond."""


Write = tuple[str, tuple[Any, ...], int]
"""A stamped write: (CQL with ``USING TIMESTAMP ?``, its other parameters, the stamp)."""


class CassandraProjectionStore(ProjectionStore, StateWriter):
    def __init__(self, session: CassandraSession) -> None:
        self._db = session
        self.keyspace = session.keyspace
        self.epoch = session.epoch
        self.inbox_writer = CassandraInbox(session)

    @classmethod
    async def connect(
        cls, hosts: Sequence[str], port: int, keyspace: str
    ) -> CassandraProjectionStore:
        """Connects to a migrated keyspace (``tidings migrate`` creates it)."""
        return cls(await CassandraSession.connect(hosts, port, keyspace))

    async def execute(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Runs a prepared statement on this store's connection (for adapters that keep
        their own tables in the keyspace); returns the rows of its first page."""
        return await self._db.run(cql, params)

    async def _run(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._db.run(cql, params)

    # ------------------------------------------------------------------ state writer

    async def prefetch(self, events: Sequence[Envelope]) -> Prefetch:
        rooms, users = reads_of(events)
        out = Prefetch()
        memberships = await gather_bounded(
            self._run("SELECT room_id FROM rooms_by_user WHERE user_id=?", (u,)) for u in users
        )
        for user_id, rows in zip(users, memberships, strict=True):
            out.rooms_of[user_id] = {r.room_id for r in rows}
            rooms.update(out.rooms_of[user_id])
        devices = await gather_bounded(
            self._run("SELECT device_id, status FROM presence WHERE user_id=?", (u,)) for u in users
        )
        for user_id, rows in zip(users, devices, strict=True):
            out.online[user_id] = {r.device_id for r in rows if r.status in _ONLINE}
        candidates = sorted(rooms)
        streams = await gather_bounded(
            self._run("SELECT since FROM room_streams WHERE room_id=?", (r,)) for r in candidates
        )
        for room_id, rows in zip(candidates, streams, strict=True):
            if rows and rows[0].since:
                out.streamed[room_id] = rows[0].since
        presence_rooms = sorted(set().union(*out.rooms_of.values())) if out.rooms_of else []
        out.quiet = await self.quiet_rooms(presence_rooms)
        room_ids = [r for r in candidates if r not in out.streamed]
        members = await gather_bounded(
            self._run("SELECT user_id FROM room_members WHERE room_id=?", (r,)) for r in room_ids
        )
        for room_id, rows in zip(room_ids, members, strict=True):
            out.members[room_id] = {r.user_id for r in rows}
        return out

    async def write_state(self, changes: Sequence[tuple[Envelope, ch.Change]]) -> None:
        """Writes every change of a batch concurrently (bounded); a room's head and activity
        are written once, for its latest event."""
        writes: list[Write] = []
        streamed: list[Write] = []
        heads: dict[str, tuple[int, str, int]] = {}
        posted: dict[tuple[str, str], int] = {}  # messages of this batch, for its edits
        for envelope, change in changes:
            if isinstance(change, ch.AdvanceRoom):
                known = heads.get(change.room_id)
                if known is None or change.position > known[0]:
                    heads[change.room_id] = (change.position, change.at, envelope.position)
                continue
            if isinstance(change, ch.AppendRoomStream):
                streamed.append(self._stream_write(change))
            if isinstance(change, ch.StoreMessage):
                posted[(change.room_id, change.message_id)] = change.position
            writes.extend(await self._writes_of(change, envelope.position, posted))
        for room_id, (position, at, stamp) in heads.items():
            writes.append(
                (
                    "UPDATE rooms USING TIMESTAMP ? SET head=?, last_activity=? WHERE room_id=?",
                    (position, at, room_id),
                    stamp,
                )
            )
        # Room-stream events before the stream heads: a reader that sees a head finds
        # every event up to it.
        await gather_bounded(self._write(*write) for write in streamed)
        await gather_bounded(self._write(*write) for write in writes)

    @staticmethod
    def _stream_write(change: ch.AppendRoomStream) -> Write:
        position = change.envelope.position
        return (
            "INSERT INTO room_events (room_id, bucket, position, envelope) VALUES (?,?,?,?) "
            "USING TIMESTAMP ?",
            (change.room_id, _bucket(position), position, change.envelope.SerializeToString()),
            position,
        )

    async def _write(self, cql: str, params: tuple[Any, ...], timestamp: int) -> None:
        """A write stamped ``USING TIMESTAMP ?`` (a bind marker: one prepared statement per
        shape, not per value). INSERTs take the stamp last, UPDATE and DELETE first."""
        if cql.lstrip().upper().startswith("INSERT"):
            await self._run(cql, (*params, timestamp))
        else:
            await self._run(cql, (timestamp, *params))

    async def _writes_of(
        self, change: ch.Change, ts: int, posted: dict[tuple[str, str], int]
    ) -> list[Write]:
        match change:
            case ch.UpsertRoom(room_id, kind, name, public):
                writes: list[Write] = [
                    (
                        "UPDATE rooms USING TIMESTAMP ? SET name=?, public=? WHERE room_id=?",
                        (name, public, room_id),
                        ts,
                    )
                ]
                if kind:
                    writes.append(
                        (
                            "UPDATE rooms USING TIMESTAMP ? SET kind=? WHERE room_id=?",
                            (kind, room_id),
                            ts,
                        )
                    )
                return writes
            case ch.AddMember(room_id, user_id, role, position):
                return [
                    (
                        "INSERT INTO room_members (room_id, user_id, role, joined_at) "
                        "VALUES (?,?,?,?) USING TIMESTAMP ?",
                        (room_id, user_id, role, position),
                        ts,
                    ),
                    (
                        "INSERT INTO rooms_by_user (user_id, room_id, role) VALUES (?,?,?) "
                        "USING TIMESTAMP ?",
                        (user_id, room_id, role),
                        ts,
                    ),
                ]
            case ch.RemoveMember(room_id, user_id):
                return [
                    (
                        "DELETE FROM room_members USING TIMESTAMP ? WHERE room_id=? AND user_id=?",
                        (room_id, user_id),
                        ts,
                    ),
                    (
                        "DELETE FROM rooms_by_user USING TIMESTAMP ? WHERE user_id=? AND room_id=?",
                        (user_id, room_id),
                        ts,
                    ),
                ]
            case ch.SetRole(room_id, user_id, role):
                return [
                    (
                        "UPDATE room_members USING TIMESTAMP ? SET role=? "
                        "WHERE room_id=? AND user_id=?",
                        (role, room_id, user_id),
                        ts,
                    ),
                    (
                        "UPDATE rooms_by_user USING TIMESTAMP ? SET role=? "
                        "WHERE user_id=? AND room_id=?",
                        (role, user_id, room_id),
                        ts,
                    ),
                ]
            case ch.StoreMessage():
                m = change
                return [
                    (
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
                    ),
                    (
                        "INSERT INTO message_positions (room_id, message_id, position) "
                        "VALUES (?,?,?) USING TIMESTAMP ?",
                        (m.room_id, m.message_id, m.position),
                        ts,
                    ),
                ]
            case ch.EditMessage(room_id, message_id, text):
                at = posted.get((room_id, message_id))
                at = at if at is not None else await self._message_position(room_id, message_id)
                if at is None:
                    return []
                return [
                    (
                        "UPDATE messages USING TIMESTAMP ? SET text=?, edited=true "
                        "WHERE room_id=? AND bucket=? AND position=?",
                        (text, room_id, _bucket(at), at),
                        ts,
                    )
                ]
            case ch.DeleteMessage(room_id, message_id):
                at = posted.get((room_id, message_id))
                at = at if at is not None else await self._message_position(room_id, message_id)
                if at is None:
                    return []
                return [
                    (
                        "UPDATE messages USING TIMESTAMP ? SET text='', deleted=true "
                        "WHERE room_id=? AND bucket=? AND position=?",
                        (room_id, _bucket(at), at),
                        ts,
                    )
                ]
            case ch.RaiseReadState(user_id, room_id, kind, up_to):
                # Stamped with up_to itself: the highest acknowledged position wins.
                column = "read_up_to" if kind == AckKind.READ else "delivered_up_to"
                return [
                    (
                        f"UPDATE read_states USING TIMESTAMP ? SET {column}=? "
                        "WHERE user_id=? AND room_id=?",
                        (up_to, user_id, room_id),
                        up_to,
                    )
                ]
            case ch.StartRoomStream(room_id, since):
                return [
                    (
                        "UPDATE room_streams USING TIMESTAMP ? SET since=? WHERE room_id=?",
                        (since, room_id),
                        since,
                    )
                ]
            case ch.AppendRoomStream(room_id, envelope):
                return [
                    (
                        "UPDATE room_streams USING TIMESTAMP ? SET head=? WHERE room_id=?",
                        (envelope.position, room_id),
                        envelope.position,
                    )
                ]
            case ch.ListRoom(room_id, namespace, name, public, kind):
                cql = "UPDATE room_directory USING TIMESTAMP ? SET name=?, public=?"
                params: tuple[Any, ...] = (name, public)
                if kind:
                    cql, params = cql + ", kind=?", (*params, kind)
                return [
                    (cql + " WHERE namespace=? AND room_id=?", (*params, namespace, room_id), ts)
                ]
            case ch.UnlistRoom(room_id, namespace):
                return [
                    (
                        "DELETE FROM room_directory USING TIMESTAMP ? "
                        "WHERE namespace=? AND room_id=?",
                        (namespace, room_id),
                        ts,
                    ),
                    ("DELETE FROM rooms USING TIMESTAMP ? WHERE room_id=?", (room_id,), ts),
                ]
            case ch.SetApiKey(key_id, name, scopes, namespaces, secret_hash, at, by):
                return [
                    (
                        "UPDATE api_keys USING TIMESTAMP ? SET name=?, scopes=?, namespaces=?, "
                        "secret_hash=?, created_at=?, created_by=? WHERE key_id=?",
                        (name, " ".join(scopes), " ".join(namespaces), secret_hash, at, by, key_id),
                        ts,
                    )
                ]
            case ch.RevokeApiKey(key_id, at):
                return [
                    (
                        "UPDATE api_keys USING TIMESTAMP ? SET revoked_at=? WHERE key_id=?",
                        (at, key_id),
                        ts,
                    )
                ]
            case ch.SetNamespace(room_id, namespace):
                return [
                    (
                        "INSERT INTO room_namespaces (room_id, namespace) VALUES (?,?) "
                        "USING TIMESTAMP ?",
                        (room_id, namespace),
                        ts,
                    )
                ]
            case ch.SetQuiet(room_id, quiet):
                if quiet:
                    return [
                        (
                            "INSERT INTO quiet_rooms (room_id) VALUES (?) USING TIMESTAMP ?",
                            (room_id,),
                            ts,
                        )
                    ]
                return [
                    ("DELETE FROM quiet_rooms USING TIMESTAMP ? WHERE room_id=?", (room_id,), ts)
                ]
            case ch.SetRevocation(user_id, device_id, at):
                return [
                    (
                        "INSERT INTO revocations (user_id, device_id, revoked_at) "
                        "VALUES (?,?,?) USING TIMESTAMP ?",
                        (user_id, device_id, at),
                        ts,
                    )
                ]
            case ch.SetPresence(user_id, device_id, status, at):
                return [
                    (
                        "INSERT INTO presence (user_id, device_id, status, updated_at) "
                        "VALUES (?,?,?,?) USING TIMESTAMP ?",
                        (user_id, device_id, status, at),
                        ts,
                    )
                ]
        return []

    async def _message_position(self, room_id: str, message_id: str) -> int | None:
        rows = await self._run(
            "SELECT position FROM message_positions WHERE room_id=? AND message_id=?",
            (room_id, message_id),
        )
        return int(rows[0].position) if rows else None

    async def track(self, name: str, partition: int, offset: int) -> None:
        await self._write(
            "INSERT INTO tracking (name, partition, offset) VALUES (?,?,?) USING TIMESTAMP ?",
            (name, partition, offset),
            offset + 1,
        )

    async def tracked(self, name: str, partition: int) -> int:
        rows = await self._run(
            "SELECT offset FROM tracking WHERE name=? AND partition=?", (name, partition)
        )
        return int(rows[0].offset) if rows else -1

    # ------------------------------------------------------------------ the generic port

    async def apply(
        self, events: Sequence[tuple[int, Envelope]], project: Projector
    ) -> list[ch.Delivery]:
        """Single-writer application of a batch (tests, replay tools): the live pipeline's
        two stages in one call; see the port contract."""
        last = await self.tracked(APPLY_TRACKING, 0)
        fresh = [(offset, envelope) for offset, envelope in events if offset > last]
        if not fresh:
            return []
        envelopes = [envelope for _, envelope in fresh]
        batch = project_batch(envelopes, await self.prefetch(envelopes), project)
        await self.write_state(batch.state)
        deliveries: list[ch.Delivery] = list(await self.inbox_writer.append(batch.inbox))
        deliveries.extend(batch.live)
        await self.track(APPLY_TRACKING, 0, fresh[-1][0])
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
                    room.streamed_since,
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
        stream = await self.room_stream_head(room_id)
        return RoomRow(
            r.room_id,
            r.kind,
            r.name or "",
            bool(r.public),
            r.head or 0,
            r.last_activity or "",
            streamed_since=stream.since if stream else 0,
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
        rows = await self._run("SELECT kind, head FROM rooms WHERE room_id=?", (room_id,))
        if not rows or rows[0].kind is None:
            return []
        head = rows[0].head or 0
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

    async def room_stream(self, room_id: str, *, after: int, limit: int) -> list[Envelope]:
        stream = await self.room_stream_head(room_id)
        if stream is None:
            return []
        out: list[Envelope] = []
        for bucket in range(_bucket(after + 1), _bucket(stream.head) + 1):
            rows = await self._run(
                "SELECT envelope FROM room_events WHERE room_id=? AND bucket=? "
                "AND position>? AND position<=? LIMIT ?",
                (room_id, bucket, after, stream.head, limit - len(out)),
            )
            out.extend(envelope_from_bytes(r.envelope) for r in rows)
            if len(out) >= limit:
                break
        return out

    async def room_stream_head(self, room_id: str) -> StreamHead | None:
        rows = await self._run("SELECT since, head FROM room_streams WHERE room_id=?", (room_id,))
        if not rows or not rows[0].since:
            return None
        return StreamHead(rows[0].since, rows[0].head or 0)

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

    async def room_namespace(self, room_id: str) -> str:
        rows = await self._run("SELECT namespace FROM room_namespaces WHERE room_id=?", (room_id,))
        return str(rows[0].namespace) if rows else DEFAULT_NAMESPACE

    async def quiet_rooms(self, room_ids: Sequence[str]) -> set[str]:
        ids = sorted(set(room_ids))
        found = await gather_bounded(
            self._run("SELECT room_id FROM quiet_rooms WHERE room_id=?", (r,)) for r in ids
        )
        return {room_id for room_id, rows in zip(ids, found, strict=True) if rows}

    async def devices(self, user_id: str) -> list[DeviceRow]:
        rows = await self._run(
            "SELECT device_id, status, updated_at FROM presence WHERE user_id=?", (user_id,)
        )
        return [DeviceRow(r.device_id, r.status, r.updated_at) for r in rows]

    async def directory(
        self,
        namespaces: Collection[str],
        *,
        query: str = "",
        after: str = "",
        limit: int = 50,
        public_only: bool = True,
    ) -> list[DirectoryRow]:
        """Reads the namespaces' partitions and filters here (the directory of a namespace
        is read whole: fine for thousands of rooms, see docs/server-api.md)."""
        entries: list[tuple[str, str, str, Any]] = []
        for namespace in sorted(set(namespaces)):
            rows = await self._run(
                "SELECT room_id, name, public, kind FROM room_directory WHERE namespace=?",
                (namespace,),
            )
            entries.extend(
                (r.name.lower(), r.room_id, namespace, r)
                for r in rows
                if r.name is not None and (r.public or not public_only)
            )
        needle = query.lower()
        entries = sorted(e for e in entries if needle in e[0])
        start = next((i + 1 for i, e in enumerate(entries) if e[1] == after), 0)
        page = entries[start : start + max(limit, 0)]
        counts = await gather_bounded(
            self._run("SELECT count(*) AS n FROM room_members WHERE room_id=?", (e[1],))
            for e in page
        )
        return [
            DirectoryRow(room_id, namespace, r.name, r.kind or 0, bool(r.public), n[0].n)
            for (_, room_id, namespace, r), n in zip(page, counts, strict=True)
        ]

    async def api_key(self, key_id: str) -> ApiKeyRow | None:
        rows = await self._run(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id=?", (key_id,))
        return _api_key(rows[0]) if rows and rows[0].secret_hash else None

    async def api_keys(self) -> list[ApiKeyRow]:
        rows = await self._db.scan(f"SELECT {_KEY_COLUMNS} FROM api_keys")
        return sorted((_api_key(r) for r in rows if r.secret_hash), key=lambda k: k.key_id)

    async def revoked_at(self, user_id: str, device_id: str) -> float:
        rows = await self._run(
            "SELECT revoked_at FROM revocations WHERE user_id=? AND device_id IN ?",
            (user_id, ["", device_id]),
        )
        return max((float(r.revoked_at) for r in rows), default=0.0)

    async def online_users(self) -> list[PresenceRow]:
        """Scans the presence table (fine for operations tooling, not for hot paths)."""
        rows = await self._db.scan("SELECT user_id, device_id, status FROM presence")
        devices: dict[str, dict[str, int]] = {}
        for r in rows:
            devices.setdefault(r.user_id, {})[r.device_id] = r.status
        return [
            PresenceRow(u, True, d)
            for u, d in sorted(devices.items())
            if any(s in _ONLINE for s in d.values())
        ]

    async def close(self) -> None:
        await self._db.close()


_KEY_COLUMNS = "key_id, name, scopes, namespaces, secret_hash, created_at, created_by, revoked_at"


def _api_key(row: Any) -> ApiKeyRow:
    return ApiKeyRow(
        row.key_id,
        row.name,
        tuple((row.scopes or "").split()),
        tuple((row.namespaces or "").split()),
        row.secret_hash,
        row.created_at or "",
        row.created_by or "",
        row.revoked_at or "",
    )
