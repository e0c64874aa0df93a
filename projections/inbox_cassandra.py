"""Cassandra inbox writer: appends at dense per-user positions, deduplicated per source stream.

Each user's inbox state is one partition of ``inbox_state``: the head (a static column) and,
per source stream, the last stream position appended (mark) and the inbox position it got
(at). A batch of appends is written per user in two steps: the rows (one unlogged batch per
inbox bucket), then head and marks together (one unlogged batch: atomic within the
partition). A crash between them leaves the head unmoved, so the retry writes the same rows
at the same positions: never a duplicate, never a hole.

The writer is the only one for its users (the inbox topic is keyed by user and each
partition has one consumer), so it keeps their state in memory between batches and reads a
user's partition only the first time; :meth:`forget` drops that memory when partitions
move, and any failed batch drops it for the users involved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from projections.cassandra_session import CassandraSession, gather_bounded
from projections.changes import InboxEntry
from projections.migrations_cassandra import BUCKET_SIZE
from projections.store import InboxWriter
from proto.codec import Envelope

__all__ = ["CassandraInbox", "bucket"]

CACHED_USERS = 100_000
CHUNK = 100
"""Appends of one user written per round; keeps the head-and-marks batch far below
Cassandra's batch size limits (batch_size_fail_threshold: 50 KiB)."""
ROWS_PER_BATCH = 16
"""Inbox rows per unlogged batch (~500 bytes each)."""


def bucket(position: int) -> int:
    return max(position, 0) // BUCKET_SIZE


@dataclass
class _UserInbox:
    head: int = 0
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)
    """stream -> (last stream position appended, its inbox position)."""


class CassandraInbox(InboxWriter):
    def __init__(self, session: CassandraSession) -> None:
        self._db = session
        self._users: OrderedDict[str, _UserInbox] = OrderedDict()

    def forget(self) -> None:
        self._users.clear()

    async def append(self, appends: Sequence[tuple[str, Envelope]]) -> list[InboxEntry]:
        by_user: dict[str, list[Envelope]] = {}
        for user_id, envelope in appends:
            by_user.setdefault(user_id, []).append(envelope)
        try:
            written = await gather_bounded(
                self._append_for(user_id, envelopes) for user_id, envelopes in by_user.items()
            )
        except BaseException:
            for user_id in by_user:
                self._users.pop(user_id, None)
            raise
        return [entry for entries in written for entry in entries]

    async def _append_for(self, user_id: str, envelopes: list[Envelope]) -> list[InboxEntry]:
        state = self._users.get(user_id) or await self._load(user_id)
        out: list[InboxEntry] = []
        for start in range(0, len(envelopes), CHUNK):
            state = await self._append_chunk(user_id, state, envelopes[start : start + CHUNK], out)
            self._remember(user_id, state)
        return out

    async def _append_chunk(
        self, user_id: str, state: _UserInbox, envelopes: list[Envelope], out: list[InboxEntry]
    ) -> _UserInbox:
        head, marks = state.head, dict(state.marks)
        rows: dict[int, list[tuple[str, list[object]]]] = {}
        changed: set[str] = set()
        for envelope in envelopes:
            mark = marks.get(envelope.stream)
            if mark is not None and envelope.position <= mark[0]:
                if envelope.position == mark[0]:  # the latest one: deliver it again
                    out.append(InboxEntry(user_id, mark[1], envelope))
                continue
            head += 1
            marks[envelope.stream] = (envelope.position, head)
            changed.add(envelope.stream)
            rows.setdefault(bucket(head), []).append(
                (
                    "INSERT INTO inbox (user_id, bucket, position, envelope) VALUES (?,?,?,?)",
                    [user_id, bucket(head), head, envelope.SerializeToString()],
                )
            )
            out.append(InboxEntry(user_id, head, envelope))
        if changed:
            await gather_bounded(
                self._db.run_batch(writes[i : i + ROWS_PER_BATCH])
                for writes in rows.values()
                for i in range(0, len(writes), ROWS_PER_BATCH)
            )
            moves: list[tuple[str, Sequence[object]]] = [
                ("UPDATE inbox_state SET head=? WHERE user_id=?", (head, user_id))
            ]
            moves += [
                (
                    "UPDATE inbox_state SET mark=?, at=? WHERE user_id=? AND stream=?",
                    (marks[stream][0], marks[stream][1], user_id, stream),
                )
                for stream in sorted(changed)
            ]
            await self._db.run_batch(moves)
        return _UserInbox(head, marks)

    async def _load(self, user_id: str) -> _UserInbox:
        rows = await self._db.run(
            "SELECT stream, mark, at, head FROM inbox_state WHERE user_id=?", (user_id,)
        )
        state = _UserInbox()
        for row in rows:
            state.head = int(row.head or 0)
            if row.mark is not None:
                state.marks[row.stream] = (int(row.mark), int(row.at or 0))
        return state

    def _remember(self, user_id: str, state: _UserInbox) -> None:
        self._users[user_id] = state
        self._users.move_to_end(user_id)
        while len(self._users) > CACHED_USERS:
            self._users.popitem(last=False)
