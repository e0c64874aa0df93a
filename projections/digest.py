"""Reads a projection through the store port into per-room and per-user checksums.

Used by ``tidings verify`` on the live store and on a rebuild from the log; reading through
the port means every adapter is compared the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import astuple

from projections.checker import Findings, InboxCheck, ProjectionDigest
from projections.store import ProjectionStore

__all__ = ["digest"]

_PAGE = 500


def _checksum(items: Iterable[object]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(repr(item).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


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
            timeline: list[tuple[object, ...]] = []
            after = 0
            while page := await store.timeline(room_id, before=None, after=after, limit=_PAGE):
                timeline.extend(astuple(m) for m in page)
                after = page[-1].position
        if findings is not None:
            findings.count("timeline_messages", len(timeline))
        result.rooms[room_id] = {
            "room": _checksum([astuple(row) if row else None]),
            "members": _checksum(members),
            "timeline": _checksum(timeline),
        }

    async def user(user_id: str) -> None:
        async with limit:
            rooms = sorted(astuple(r) for r in await store.rooms_of(user_id))
            check = InboxCheck(user_id, findings) if findings else None
            event_ids: list[str] = []
            after = 0
            while page := await store.inbox(user_id, after=after, limit=_PAGE):
                for entry in page:
                    event_ids.append(entry.envelope.event_id)
                    if check is not None:
                        check.observe(entry.position, entry.envelope)
                after = page[-1].position
        result.users[user_id] = {"rooms": _checksum(rooms), "inbox": _checksum(sorted(event_ids))}

    await asyncio.gather(*(room(r) for r in room_ids), *(user(u) for u in user_ids))
    return result
