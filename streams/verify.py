"""``tidings verify``: checks acknowledged sends, the log and the live projections.

It scans the log once, checking every stream (``LogAudit``) while replaying it into a fresh
store, then compares the live projection with that rebuild, room by room and user by user,
and checks every live inbox for gaps, duplicates and order. Live projections that are still
catching up show as differences: run it again once the processors are idle.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.checker import Acked, Findings, LogAudit, compare_digests
from projections.digest import digest
from projections.store import ProjectionStore
from proto.codec import envelope_from_bytes
from streams.log import LogScanner
from streams.replay import replay

__all__ = ["verify"]


async def verify(
    scanner: LogScanner,
    live: ProjectionStore,
    rebuilt: ProjectionStore,
    acked: Iterable[Acked] = (),
    *,
    rebuild: bool = True,
) -> Findings:
    """With ``rebuild``, ``rebuilt`` must be an empty store and holds the replay afterwards;
    without, it is an existing replay (``tidings replay``) and is only compared."""
    findings = Findings()
    audit = LogAudit(findings)
    if rebuild:
        await replay(scanner, rebuilt, observe=audit.observe, after=0)
    else:
        async for record in scanner.scan():
            audit.observe(envelope_from_bytes(record.data))
    audit.check_acked(acked)
    rooms, users = sorted(audit.rooms), sorted(audit.users)
    live_digest = await digest(live, rooms, users, findings=findings)
    rebuilt_digest = await digest(rebuilt, rooms, users)
    compare_digests(live_digest, rebuilt_digest, findings)
    return findings
