"""Replays the log into a projection store: ``tidings replay`` and the rebuild behind
``tidings verify``.

The target records, with each batch, the scanner's cursor of its last event, so an
interrupted replay resumes where it stopped. The target must be fresh (a new SQLite file or
keyspace) or an earlier, interrupted replay of the same log: a store fed by the live
projection runner tracks other offsets in distributed mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from projections.projector import project
from projections.store import ProjectionStore
from proto.codec import Envelope, envelope_from_bytes
from streams.log import LogScanner

__all__ = ["ReplayResult", "replay"]

Observer = Callable[[Envelope], None]
Filter = Callable[[Envelope], bool]
Progress = Callable[[int], object]


@dataclass
class ReplayResult:
    scanned: int = 0
    applied: int = 0
    last_offsets: dict[int, int] = field(default_factory=dict)
    """The log offset of the last event scanned, per partition."""


async def replay(
    scanner: LogScanner,
    target: ProjectionStore,
    *,
    observe: Observer | None = None,
    keep: Filter | None = None,
    progress: Progress | None = None,
    after: int | None = None,
    batch_size: int = 500,
) -> ReplayResult:
    """Projects the committed events after the target's tracked cursor (or ``after``) into
    ``target``. ``observe`` sees every event scanned; ``keep`` chooses which are applied;
    ``progress`` is told how many events each batch scanned."""
    result = ReplayResult()
    batch: list[tuple[int, Envelope]] = []
    scanned = 0

    async def flush() -> None:
        nonlocal scanned
        if batch:
            await target.apply(batch, project)
            result.applied += len(batch)
            batch.clear()
        if progress is not None and scanned:
            progress(scanned)
        scanned = 0

    start = await target.tracked_offset() if after is None else after
    async for record in scanner.scan(start):
        envelope = envelope_from_bytes(record.data)
        result.scanned += 1
        scanned += 1
        result.last_offsets[record.partition] = record.offset
        if observe is not None:
            observe(envelope)
        if keep is None or keep(envelope):
            batch.append((scanner.cursor(record), envelope))
        if scanned >= batch_size:
            await flush()
    await flush()
    return result
