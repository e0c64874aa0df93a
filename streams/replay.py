"""Replays the log into a projection store: the rebuild behind ``tidings verify``.

The store applies each batch atomically with a replay counter as its offset, so the target
must be fresh (a new SQLite file or keyspace): offsets of a scan are not those of the live
projection runner.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.projector import project
from projections.store import ProjectionStore
from proto.codec import Envelope, envelope_from_bytes
from streams.log import LogScanner

__all__ = ["replay"]

Observer = Callable[[Envelope], None]


async def replay(
    scanner: LogScanner,
    target: ProjectionStore,
    *,
    observe: Observer | None = None,
    batch_size: int = 500,
) -> int:
    """Projects every committed event into ``target``; returns how many it replayed.
    ``observe`` sees each decoded event first, in log order per partition."""
    count = 0
    batch: list[tuple[int, Envelope]] = []
    async for record in scanner.scan():
        envelope = envelope_from_bytes(record.data)
        if observe is not None:
            observe(envelope)
        count += 1
        batch.append((count, envelope))
        if len(batch) >= batch_size:
            await target.apply(batch, project)
            batch = []
    if batch:
        await target.apply(batch, project)
    return count
