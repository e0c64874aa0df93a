"""Reads a projection through the store port into per-room and per-user checksums.

Used by ``tidings verify`` on the live store and on a rebuild from the log; reading through
the port means every adapter is compared the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import astuple

from projections.checker import Findings, InboxCheck, ProjectionDigest, RoomStreamCheck
from projections.store import ProjectionStore

__all__ = ["digest"]

_PAGE = 500


def _checksum(items: Iterable[object]) -> str:
    return _Ordered().add_all(items).hexdigest()


class _Ordered:
    """A checksum of a sequence, fed page by page."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add_all(self, items: Iterable[object]) -> _Ordered:
        for item in items:
            self._hash.update(repr(item).encode() + b"\n")
        return self

    def hexdigest(self) -> str:
        return self._hash.hexdigest()[:16]


class _Unordered:
    """A checksum of a set: the sum of its members' hashes, so order does not matter."""

    def __init__(self) -> None:
        self._sum = 0

    def add(self, item: str) -> None:
        digest = hashlib.sha256(item.encode()).digest()[:16]
        self._sum = (self._sum + int.from_bytes(digest)) % (1 << 128)

    def hexdigest(self) -> str:
        return f"{self._sum:032x}"[:16]


async def digest(
    store: ProjectionStore,
    room_ids: Iterable[str],
    user_ids: Iterable[str],
    *,
    findings: Findings | None = None,
    concurrency: int = 16,
) -> ProjectionDigest:
    """Checksums of the given rooms and users. With ``findings``, every inbox is also
    checked for gaps, duplicates and order (see :class:`InboxCheck`), and timeline
    messages are counted."""
    result = ProjectionDigest()
    limit = asyncio.Semaphore(concurrency)

    async def room(room_id: str) -> None:
        async with limit:
            row = await store.room(room_id)
            members = sorted(astuple(m) for m in await store.members(room_id))
            timeline, messages, after = _Ordered(), 0, 0
            while page := await store.timeline(room_id, before=None, after=after, limit=_PAGE):
                timeline.add_all(astuple(m) for m in page)
                messages += len(page)
                after = page[-1].position
            stream = await room_stream(room_id)
        if findings is not None:
            findings.count("timeline_messages", messages)
        result.rooms[room_id] = {
            "room": _checksum([astuple(row) if row else None]),
            "members": _checksum(members),
            "timeline": timeline.hexdigest(),
        }
        if stream is not None:
            result.rooms[room_id]["stream"] = stream

    async def room_stream(room_id: str) -> str | None:
        head = await store.room_stream_head(room_id)
        if head is None:
            return None
        check = RoomStreamCheck(room_id, head.since, findings) if findings else None
        events, after = _Ordered().add_all([head.since]), head.since - 1
        while after < head.head:
            page = await store.room_stream(room_id, after=after, limit=_PAGE)
            if not page:
                break
            for envelope in page:
                events.add_all([(envelope.position, envelope.event_id)])
                if check is not None:
                    check.observe(envelope)
            after = page[-1].position
        if check is not None:
            check.finish(head.head)
        return events.hexdigest()

    async def user(user_id: str) -> None:
        async with limit:
            rooms = sorted(astuple(r) for r in await store.rooms_of(user_id))
            check = InboxCheck(user_id, findings) if findings else None
            inbox, after = _Unordered(), 0
            while page := await store.inbox(user_id, after=after, limit=_PAGE):
                for entry in page:
                    inbox.add(entry.envelope.event_id)
                    if check is not None:
                        check.observe(entry.position, entry.envelope)
                after = page[-1].position
        result.users[user_id] = {"rooms": _checksum(rooms), "inbox": inbox.hexdigest()}

    await asyncio.gather(*(room(r) for r in room_ids), *(user(u) for u in user_ids))
    return result
