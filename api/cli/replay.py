"""The ``tidings replay`` driver: rebuilds the projections from the log into a fresh target.

Embedded: a new SQLite file (``--target-dir DIR`` holds ``projections.sqlite``). Distributed:
a new Cassandra keyspace (``--keyspace``), migrated first, with a new inbox epoch. Rerunning
the same command resumes an interrupted replay. See docs/operations.md for switching the
live system to the rebuilt projection.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from api.runtime import open_log_tools
from api.settings import Settings
from projections.audit import EventSelector, aware
from streams.replay import ReplayResult, replay

__all__ = ["run_replay"]


async def run_replay(
    settings: Settings,
    target_dir: Path | None,
    keyspace: str | None,
    since: datetime | None,
    from_position: int | None,
    quiet: bool = False,
) -> int:
    tools = await open_log_tools(settings)
    try:
        target = await tools.target(target_dir, keyspace, create=True)
        scanner, store = tools.scanner, target.store
        after = from_position if from_position is not None else await store.tracked_offset()
        total = await scanner.remaining(after)
        started = time.monotonic()
        with tqdm(total=total, unit="ev", file=sys.stderr, disable=quiet, smoothing=0.1) as bar:
            result: ReplayResult = await replay(
                scanner,
                store,
                keep=EventSelector(since=aware(since)).selects if since else None,
                progress=bar.update,
                after=after,
            )
        await target.finish(result.last_offsets)
        elapsed = time.monotonic() - started
        rate = result.scanned / elapsed if elapsed else 0.0
        if not result.scanned:
            print(f"nothing new to replay: {target.name} is at the end of the log")
            return 0
        print(
            f"replayed {result.applied} of {result.scanned} events scanned in {elapsed:.1f} s "
            f"({rate:,.0f} events/s) into {target.name} (epoch {store.epoch})"
        )
    finally:
        await tools.close()
    return 0
