"""SQLite projection store for the embedded mode.

One file, WAL mode. Writes (from the projection runner) and reads (from REST and sessions)
use separate connections so that readers never wait for a batch being applied. Queries run
in worker threads; batches are applied in one too, or, for the embedded server, on the
event loop with no write ever waiting for the disk (see ``inline_writes``, ADR 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import PresenceStatus
from projections import changes as ch
from projections.batch import Prefetch, project_batch, reads_of
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
    StoreUnavailable,
    StreamHead,
)
from proto.codec import Envelope, envelope_from_bytes

__all__ = ["SqliteProjectionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (
    room_id TEXT PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL,
    public INTEGER NOT NULL, head INTEGER NOT NULL DEFAULT 0, last_activity TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS members (
    room_id TEXT NOT NULL, user_id TEXT NOT NULL, role INTEGER NOT NULL, joined_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id);
CREATE TABLE IF NOT EXISTS messages (
    room_id TEXT NOT NULL, position INTEGER NOT NULL, message_id TEXT NOT NULL,
    author_id TEXT NOT NULL, client_msg_id TEXT NOT NULL, text TEXT NOT NULL,
    posted_at TEXT NOT NULL, trace_id TEXT NOT NULL,
    edited INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, position)
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (message_id);
CREATE TABLE IF NOT EXISTS read_states (
    user_id TEXT NOT NULL, room_id TEXT NOT NULL,
    delivered_up_to INTEGER NOT NULL DEFAULT 0, read_up_to INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, room_id)
);
CREATE TABLE IF NOT EXISTS presence (
    user_id TEXT NOT NULL, device_id TEXT NOT NULL, status INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE IF NOT EXISTS quiet_rooms (room_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS room_namespaces (room_id TEXT PRIMARY KEY, namespace TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directory (
    room_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,
    public INTEGER NOT NULL, kind INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS directory_by_name ON directory (namespace, lower(name), room_id);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, namespaces TEXT NOT NULL,
    secret_hash TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    revoked_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS revocations (
    user_id TEXT NOT NULL, device_id TEXT NOT NULL, revoked_at REAL NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE IF NOT EXISTS inbox (
    user_id TEXT NOT NULL, position INTEGER NOT NULL, envelope BLOB NOT NULL,
    PRIMARY KEY (user_id, position)
);
CREATE TABLE IF NOT EXISTS inbox_heads (user_id TEXT PRIMARY KEY, head INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS room_streams (
    room_id TEXT PRIMARY KEY, since INTEGER NOT NULL, head INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS room_events (
    room_id TEXT NOT NULL, position INTEGER NOT NULL, envelope BLOB NOT NULL,
    PRIMARY KEY (room_id, position)
);
"""

_ONLINE = (PresenceStatus.ONLINE, PresenceStatus.AWAY)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # Projections are rebuilt from the log, and the offset commits with the rows, so losing
    # the last transactions on power loss is harmless; a process crash loses nothing.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _prefetch(conn: sqlite3.Connection, events: Sequence[Envelope]) -> Prefetch:
    """The projector's reads for a batch (see :func:`projections.batch.reads_of`)."""
    rooms, users = reads_of(events)
    out = Prefetch()
    for user_id in users:
        rows = conn.execute("SELECT room_id FROM members WHERE user_id=?", (user_id,))
        out.rooms_of[user_id] = {r[0] for r in rows}
        rooms.update(out.rooms_of[user_id])
        rows = conn.execute(
            "SELECT device_id FROM presence WHERE user_id=? AND status IN (?,?)",
            (user_id, *_ONLINE),
        )
        out.online[user_id] = {r[0] for r in rows}
        for (room_id,) in conn.execute(
            "SELECT q.room_id FROM quiet_rooms q JOIN members m ON m.room_id = q.room_id "
            "WHERE m.user_id=?",
            (user_id,),
        ):
            out.quiet.add(room_id)
    for room_id in rooms:
        row = conn.execute("SELECT since FROM room_streams WHERE room_id=?", (room_id,)).fetchone()
        if row is not None:
            out.streamed[room_id] = row[0]
            continue
        rows = conn.execute("SELECT user_id FROM members WHERE room_id=?", (room_id,))
        out.members[room_id] = {r[0] for r in rows}
    return out


class _InboxAppender:
    """Appends a batch's inbox entries inside its transaction: each user's head is read
    once, rows and heads are written with one statement each."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def append(self, appends: Sequence[tuple[str, Envelope]]) -> list[ch.InboxEntry]:
        heads: dict[str, int] = {}
        rows: list[tuple[str, int, bytes]] = []
        out: list[ch.InboxEntry] = []
        encoded: dict[int, bytes] = {}
        for user_id, envelope in appends:
            head = heads.get(user_id)
            if head is None:
                row = self._conn.execute(
                    "SELECT head FROM inbox_heads WHERE user_id=?", (user_id,)
                ).fetchone()
                head = row[0] if row else 0
            heads[user_id] = position = head + 1
            data = encoded.get(id(envelope))
            if data is None:
                data = encoded[id(envelope)] = envelope.SerializeToString()
            rows.append((user_id, position, data))
            out.append(ch.InboxEntry(user_id, position, envelope))
        self._conn.executemany("INSERT INTO inbox VALUES (?,?,?)", rows)
        self._conn.executemany("INSERT OR REPLACE INTO inbox_heads VALUES (?,?)", heads.items())
        return out


@contextlib.contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    """SQLite's operational failures (disk full or unwritable, the file locked for longer
    than the timeout, an I/O error) as the port's error: the caller may retry."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(f"the projections cannot be used now: {exc}") from exc


class SqliteProjectionStore(ProjectionStore):
    def __init__(self, path: str | Path, *, inline_writes: bool = False) -> None:
        """Queries run in worker threads. :meth:`apply` does too, unless ``inline_writes``:
        then it runs on the caller's thread (the embedded server's event loop, which then
        needs no thread hop and shares the GIL with no writer thread per batch), and WAL
        checkpoints, the only writes that wait for the disk, run in a thread of their own."""
        self._path = str(path)
        self._inline = inline_writes
        self._writer = _connect(self._path)
        self._writer.executescript(_SCHEMA)
        self._reader = _connect(self._path)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self.epoch = self._load_epoch()
        self._checkpointer: _Checkpointer | None = None
        # Index lookups (an inbox head, a role, a page of at most a few hundred rows) take
        # microseconds and, in WAL mode, never wait for the writer: with inline writes they
        # run on the caller's thread too, on a connection of their own. Scans that may be
        # long (unread counts, everyone online) stay in worker threads.
        self._lookups = _connect(self._path) if inline_writes else None
        if inline_writes:
            self._writer.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = _Checkpointer(self._path)

    def _load_epoch(self) -> str:
        with self._transaction() as c:
            row = c.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
            if row:
                return str(row[0])
            epoch = uuid.uuid4().hex[:12]
            c.execute("INSERT INTO meta VALUES ('epoch', ?)", (epoch,))
            return epoch

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole when anything in it
        fails (the caller retries the batch from the same offset)."""
        with self._write_lock, _unavailable_on_failure():
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._read_lock, _unavailable_on_failure():
                return self._reader.execute(sql, tuple(params)).fetchall()

        return await asyncio.to_thread(run)

    async def _lookup(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A bounded index lookup: inline with inline writes, else like :meth:`_read`."""
        if self._lookups is None:
            return await self._read(sql, params)
        with _unavailable_on_failure():
            return self._lookups.execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------------------ writes

    async def apply(
        self, events: Sequence[tuple[int, Envelope]], project: Projector
    ) -> list[ch.Delivery]:
        if self._inline:
            return self._apply(events, project)
        return await asyncio.to_thread(self._apply, events, project)

    def _apply(
        self, events: Sequence[tuple[int, Envelope]], project: Projector
    ) -> list[ch.Delivery]:
        with self._transaction() as c:
            tracked = self._tracked(c)
            fresh = [(offset, envelope) for offset, envelope in events if offset > tracked]
            if not fresh:
                return []
            envelopes = [envelope for _, envelope in fresh]
            batch = project_batch(envelopes, _prefetch(c, envelopes), project)
            for _, change in batch.state:
                self._apply_change(c, change)
            inbox = _InboxAppender(c)
            deliveries: list[ch.Delivery] = list(inbox.append(batch.inbox))
            deliveries.extend(batch.live)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('offset', ?)", (str(fresh[-1][0]),))
        return deliveries

    @staticmethod
    def _tracked(c: sqlite3.Connection) -> int:
        row = c.execute("SELECT value FROM meta WHERE key='offset'").fetchone()
        return int(row[0]) if row else 0

    def _apply_change(self, c: sqlite3.Connection, change: ch.Change) -> None:
        match change:
            case ch.UpsertRoom(room_id, kind, name, public):
                c.execute(
                    "INSERT INTO rooms (room_id, kind, name, public) VALUES (?,?,?,?) "
                    "ON CONFLICT (room_id) DO UPDATE SET "
                    "name=excluded.name, public=excluded.public",
                    (room_id, kind, name, int(public)),
                )
            case ch.AdvanceRoom(room_id, position, at):
                c.execute(
                    "UPDATE rooms SET head=max(head, ?), last_activity=? WHERE room_id=?",
                    (position, at, room_id),
                )
            case ch.AddMember(room_id, user_id, role, position):
                c.execute(
                    "INSERT OR REPLACE INTO members VALUES (?,?,?,?)",
                    (room_id, user_id, role, position),
                )
            case ch.RemoveMember(room_id, user_id):
                c.execute("DELETE FROM members WHERE room_id=? AND user_id=?", (room_id, user_id))
            case ch.SetRole(room_id, user_id, role):
                c.execute(
                    "UPDATE members SET role=? WHERE room_id=? AND user_id=?",
                    (role, room_id, user_id),
                )
            case ch.StoreMessage():
                c.execute(
                    "INSERT OR IGNORE INTO messages (room_id, position, message_id, author_id, "
                    "client_msg_id, text, posted_at, trace_id) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        change.room_id,
                        change.position,
                        change.message_id,
                        change.author_id,
                        change.client_msg_id,
                        change.text,
                        change.posted_at,
                        change.trace_id,
                    ),
                )
            case ch.EditMessage(room_id, message_id, text):
                c.execute(
                    "UPDATE messages SET text=?, edited=1 WHERE room_id=? AND message_id=?",
                    (text, room_id, message_id),
                )
            case ch.DeleteMessage(room_id, message_id):
                c.execute(
                    "UPDATE messages SET text='', deleted=1 WHERE room_id=? AND message_id=?",
                    (room_id, message_id),
                )
            case ch.RaiseReadState(user_id, room_id, kind, up_to):
                column = "read_up_to" if kind == 2 else "delivered_up_to"
                c.execute(
                    f"INSERT INTO read_states (user_id, room_id, {column}) VALUES (?,?,?) "
                    f"ON CONFLICT (user_id, room_id) DO UPDATE SET "
                    f"{column}=max({column}, excluded.{column})",
                    (user_id, room_id, up_to),
                )
            case ch.SetPresence(user_id, device_id, status, at):
                c.execute(
                    "INSERT OR REPLACE INTO presence VALUES (?,?,?,?)",
                    (user_id, device_id, status, at),
                )
            case ch.SetNamespace(room_id, namespace):
                c.execute(
                    "INSERT OR REPLACE INTO room_namespaces VALUES (?,?)", (room_id, namespace)
                )
            case ch.ListRoom(room_id, namespace, name, public, kind):
                c.execute(
                    "INSERT INTO directory VALUES (?,?,?,?,?) ON CONFLICT (room_id) "
                    "DO UPDATE SET name=excluded.name, public=excluded.public",
                    (room_id, namespace, name, public, kind),
                )
            case ch.UnlistRoom(room_id):
                c.execute("DELETE FROM directory WHERE room_id=?", (room_id,))
                c.execute("DELETE FROM rooms WHERE room_id=?", (room_id,))
            case ch.SetApiKey(key_id, name, scopes, namespaces, secret_hash, at, by):
                c.execute(
                    "INSERT OR IGNORE INTO api_keys VALUES (?,?,?,?,?,?,?,'')",
                    (key_id, name, " ".join(scopes), " ".join(namespaces), secret_hash, at, by),
                )
            case ch.RevokeApiKey(key_id, at):
                c.execute("UPDATE api_keys SET revoked_at=? WHERE key_id=?", (at, key_id))
            case ch.SetQuiet(room_id, quiet):
                if quiet:
                    c.execute("INSERT OR IGNORE INTO quiet_rooms VALUES (?)", (room_id,))
                else:
                    c.execute("DELETE FROM quiet_rooms WHERE room_id=?", (room_id,))
            case ch.SetRevocation(user_id, device_id, at):
                c.execute(
                    "INSERT INTO revocations VALUES (?,?,?) ON CONFLICT (user_id, device_id) "
                    "DO UPDATE SET revoked_at=max(revoked_at, excluded.revoked_at)",
                    (user_id, device_id, at),
                )
            case ch.StartRoomStream(room_id, since):
                c.execute("INSERT OR IGNORE INTO room_streams VALUES (?,?,0)", (room_id, since))
            case ch.AppendRoomStream(room_id, envelope):
                c.execute(
                    "INSERT OR IGNORE INTO room_events VALUES (?,?,?)",
                    (room_id, envelope.position, envelope.SerializeToString()),
                )
                c.execute(
                    "UPDATE room_streams SET head=max(head, ?) WHERE room_id=?",
                    (envelope.position, room_id),
                )
            case _:
                pass

    # ------------------------------------------------------------------ reads

    async def tracked_offset(self) -> int:
        rows = await self._lookup("SELECT value FROM meta WHERE key='offset'")
        return int(rows[0][0]) if rows else 0

    _ROOM_COLUMNS = "r.room_id, r.kind, r.name, r.public, r.head, r.last_activity"

    async def rooms_of(self, user_id: str) -> list[RoomRow]:
        return await self._rooms_of(user_id, None)

    async def room_of(self, user_id: str, room_id: str) -> RoomRow | None:
        rows = await self._rooms_of(user_id, room_id)
        return rows[0] if rows else None

    async def _rooms_of(self, user_id: str, room_id: str | None) -> list[RoomRow]:
        rows = await self._read(
            f"SELECT {self._ROOM_COLUMNS}, m.role, "
            "coalesce(s.read_up_to, 0), coalesce(s.delivered_up_to, 0), "
            "coalesce((SELECT since FROM room_streams t WHERE t.room_id=r.room_id), 0), "
            "(SELECT count(*) FROM messages x WHERE x.room_id=r.room_id "
            "  AND x.position > coalesce(s.read_up_to, 0) AND x.author_id<>m.user_id "
            "  AND x.deleted=0) "
            "FROM members m JOIN rooms r ON r.room_id=m.room_id "
            "LEFT JOIN read_states s ON s.user_id=m.user_id AND s.room_id=m.room_id "
            "WHERE m.user_id=? AND (? IS NULL OR m.room_id=?) "
            "ORDER BY r.last_activity DESC, r.room_id",
            (user_id, room_id, room_id),
        )
        return [
            RoomRow(
                r[0],
                r[1],
                r[2],
                bool(r[3]),
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[10],
                streamed_since=r[9],
            )
            for r in rows
        ]

    async def room(self, room_id: str) -> RoomRow | None:
        rows = await self._lookup(
            f"SELECT {self._ROOM_COLUMNS}, coalesce(t.since, 0) FROM rooms r "
            "LEFT JOIN room_streams t ON t.room_id=r.room_id WHERE r.room_id=?",
            (room_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return RoomRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], streamed_since=r[6])

    async def members(self, room_id: str) -> list[MemberRow]:
        rows = await self._read(
            "SELECT user_id, role, joined_at FROM members WHERE room_id=? ORDER BY joined_at",
            (room_id,),
        )
        return [MemberRow(*r) for r in rows]

    async def role_of(self, room_id: str, user_id: str) -> int:
        rows = await self._lookup(
            "SELECT role FROM members WHERE room_id=? AND user_id=?", (room_id, user_id)
        )
        return int(rows[0][0]) if rows else 0

    _MESSAGE_COLUMNS = (
        "position, message_id, author_id, text, client_msg_id, posted_at, trace_id, edited, deleted"
    )

    @staticmethod
    def _message(r: tuple[Any, ...]) -> MessageRow:
        return MessageRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8]))

    async def timeline(
        self, room_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[MessageRow]:
        if after is not None:
            sql = (
                f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE room_id=? AND position>? "
                "AND (? IS NULL OR position<?) ORDER BY position LIMIT ?"
            )
            rows = await self._lookup(sql, (room_id, after, before, before, limit))
            return [self._message(r) for r in rows]
        sql = (
            f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE room_id=? "
            "AND (? IS NULL OR position<?) ORDER BY position DESC LIMIT ?"
        )
        rows = await self._lookup(sql, (room_id, before, before, limit))
        return [self._message(r) for r in reversed(rows)]

    async def message(self, room_id: str, message_id: str) -> MessageRow | None:
        rows = await self._lookup(
            f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE room_id=? AND message_id=?",
            (room_id, message_id),
        )
        return self._message(rows[0]) if rows else None

    async def inbox(self, user_id: str, *, after: int, limit: int) -> list[ch.InboxEntry]:
        rows = await self._lookup(
            "SELECT position, envelope FROM inbox WHERE user_id=? AND position>? "
            "ORDER BY position LIMIT ?",
            (user_id, after, limit),
        )
        return [ch.InboxEntry(user_id, r[0], envelope_from_bytes(r[1])) for r in rows]

    async def room_stream(self, room_id: str, *, after: int, limit: int) -> list[Envelope]:
        rows = await self._lookup(
            "SELECT envelope FROM room_events WHERE room_id=? AND position>? "
            "ORDER BY position LIMIT ?",
            (room_id, after, limit),
        )
        return [envelope_from_bytes(r[0]) for r in rows]

    async def room_stream_head(self, room_id: str) -> StreamHead | None:
        rows = await self._lookup(
            "SELECT since, head FROM room_streams WHERE room_id=?", (room_id,)
        )
        return StreamHead(rows[0][0], rows[0][1]) if rows else None

    async def inbox_head(self, user_id: str) -> int:
        rows = await self._lookup("SELECT head FROM inbox_heads WHERE user_id=?", (user_id,))
        return int(rows[0][0]) if rows else 0

    async def presence(self, user_ids: Sequence[str]) -> list[PresenceRow]:
        ids = sorted(set(user_ids))
        if not ids:
            return []
        rows = await self._read(
            f"SELECT user_id, device_id, status FROM presence "
            f"WHERE user_id IN ({','.join('?' * len(ids))})",
            ids,
        )
        return _presence_rows(ids, rows)

    async def online_users(self) -> list[PresenceRow]:
        rows = await self._read(
            "SELECT user_id, device_id, status FROM presence WHERE status IN (?,?)", _ONLINE
        )
        return _presence_rows(sorted({r[0] for r in rows}), rows)

    async def room_namespace(self, room_id: str) -> str:
        rows = await self._read("SELECT namespace FROM room_namespaces WHERE room_id=?", (room_id,))
        return str(rows[0][0]) if rows else DEFAULT_NAMESPACE

    async def quiet_rooms(self, room_ids: Sequence[str]) -> set[str]:
        ids = sorted(set(room_ids))
        if not ids:
            return set()
        rows = await self._read(
            f"SELECT room_id FROM quiet_rooms WHERE room_id IN ({','.join('?' * len(ids))})", ids
        )
        return {r[0] for r in rows}

    async def devices(self, user_id: str) -> list[DeviceRow]:
        rows = await self._read(
            "SELECT device_id, status, updated_at FROM presence WHERE user_id=? ORDER BY device_id",
            (user_id,),
        )
        return [DeviceRow(d, s, at) for d, s, at in rows]

    async def directory(
        self,
        namespaces: Collection[str],
        *,
        query: str = "",
        after: str = "",
        limit: int = 50,
        public_only: bool = True,
    ) -> list[DirectoryRow]:
        names = sorted(set(namespaces))
        if not names or limit <= 0:
            return []
        start = await self._read("SELECT lower(name) FROM directory WHERE room_id=?", (after,))
        pattern = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        rows = await self._read(
            "SELECT d.room_id, d.namespace, d.name, d.kind, d.public, "
            "(SELECT count(*) FROM members m WHERE m.room_id = d.room_id) "
            f"FROM directory d WHERE d.namespace IN ({','.join('?' * len(names))}) "
            "AND (? = 0 OR d.public = 1) AND lower(d.name) LIKE ? ESCAPE '\\' "
            "AND (? IS NULL OR (lower(d.name), d.room_id) > (?, ?)) "
            "ORDER BY lower(d.name), d.room_id LIMIT ?",
            (
                *names,
                int(public_only),
                pattern,
                start[0][0] if start else None,
                start[0][0] if start else None,
                after,
                limit,
            ),
        )
        return [DirectoryRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    async def api_key(self, key_id: str) -> ApiKeyRow | None:
        rows = await self._read(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id=?", (key_id,))
        return _api_key(rows[0]) if rows else None

    async def api_keys(self) -> list[ApiKeyRow]:
        rows = await self._read(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY key_id", ())
        return [_api_key(r) for r in rows]

    async def revoked_at(self, user_id: str, device_id: str) -> float:
        rows = await self._lookup(
            "SELECT max(revoked_at) FROM revocations WHERE user_id=? AND device_id IN ('',?)",
            (user_id, device_id),
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else 0.0

    async def close(self) -> None:
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()
        if self._lookups is not None:
            self._lookups.close()


_KEY_COLUMNS = "key_id, name, scopes, namespaces, secret_hash, created_at, created_by, revoked_at"


def _api_key(row: Sequence[Any]) -> ApiKeyRow:
    return ApiKeyRow(row[0], row[1], tuple(row[2].split()), tuple(row[3].split()), *row[4:8])


class _Checkpointer:
    """Moves the WAL into the database file every second, off the writer's thread (a
    PASSIVE checkpoint never blocks the writer or readers)."""

    INTERVAL = 1.0

    def __init__(self, path: str) -> None:
        self._conn = _connect(path)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.INTERVAL):
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._conn.close()


def _presence_rows(user_ids: Sequence[str], rows: list[tuple[Any, ...]]) -> list[PresenceRow]:
    devices: dict[str, dict[str, int]] = {u: {} for u in user_ids}
    for user_id, device_id, status in rows:
        devices[user_id][device_id] = status
    return [PresenceRow(u, any(s in _ONLINE for s in d.values()), d) for u, d in devices.items()]
