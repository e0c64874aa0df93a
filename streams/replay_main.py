"""The ``tidings replay`` driver: rebuilds the projections from the log into a fresh target.

Embedded: a new SQLite file (``--target-dir DIR`` holds ``projections.sqlite``). Distributed:
a new Cassandra keyspace (``--keyspace``), migrated first, with a new inbox epoch. Rerunning
the same command resumes an interrupted replay. See docs/operations.md for switching the
live system to the rebuilt projection.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from projections.store import ProjectionStore
from proto.codec import Envelope
from streams.log import LogScanner
from streams.replay import ReplayResult, replay

if TYPE_CHECKING:
    from api.runtime import LogTools

__all__ = ["run_replay"]


def since_filter(since: datetime | None) -> Any:
    if since is None:
        return None
    cutoff = since.replace(tzinfo=since.tzinfo or UTC)

    def keep(envelope: Envelope) -> bool:
        return bool(envelope.occurred_at.ToDatetime(tzinfo=UTC) >= cutoff)

    return keep


async def _open(
    settings: Any, target_dir: Path | None, keyspace: str | None
) -> tuple[LogScanner, ProjectionStore, LogTools]:
    from api.runtime import open_log_tools  # the composition root chooses the adapters

    tools = await open_log_tools(settings)
    await tools.live.close()  # replay reads the log only
    if settings.mode == "distributed":
        from projections.store_cassandra import CassandraProjectionStore, migrate

        if not keyspace:
            raise ValueError("give --keyspace (a new one) in distributed mode")
        if keyspace == settings.cassandra_keyspace:
            raise ValueError("the target keyspace must not be the live one")
        migrate(
            settings.cassandra_contact_points,
            settings.cassandra_port,
            keyspace,
            settings.cassandra_replication_factor,
        )
        store: ProjectionStore = await CassandraProjectionStore.connect(
            settings.cassandra_contact_points, settings.cassandra_port, keyspace
        )
    else:
        from projections.store_sqlite import SqliteProjectionStore

        if target_dir is None:
            raise ValueError("give --target-dir (a new directory) in embedded mode")
        if target_dir.resolve() == Path(settings.data_dir).resolve():
            raise ValueError("the target directory must not be the live data directory")
        target_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteProjectionStore(target_dir / "projections.sqlite")
    return tools.scanner, store, tools


async def run_replay(
    settings: Any,
    target_dir: Path | None,
    keyspace: str | None,
    since: datetime | None,
    from_position: int | None,
    quiet: bool = False,
) -> int:
    try:
        scanner, store, tools = await _open(settings, target_dir, keyspace)
    except (ValueError, FileNotFoundError) as exc:
        print(f"tidings replay: {exc}", file=sys.stderr)
        return 2
    try:
        after = from_position if from_position is not None else await store.tracked_offset()
        total = await scanner.remaining(after)
        started = time.monotonic()
        with tqdm(total=total, unit="ev", file=sys.stderr, disable=quiet, smoothing=0.1) as bar:
            result: ReplayResult = await replay(
                scanner,
                store,
                keep=since_filter(since),
                progress=bar.update,
                after=after,
            )
        if settings.mode == "distributed":
            await _mark_projected(store, result)
        elapsed = time.monotonic() - started
        rate = result.scanned / elapsed if elapsed else 0.0
        print(
            f"replayed {result.applied} of {result.scanned} events scanned in {elapsed:.1f} s "
            f"({rate:,.0f} events/s) into {keyspace or target_dir} (epoch {store.epoch})"
        )
    finally:
        await store.close()
        await tools.close()
    return 0


async def _mark_projected(store: ProjectionStore, result: ReplayResult) -> None:
    """Records, as the live pipeline would, how far each events partition is projected, so
    gateways switched to this keyspace see their writes (read-your-writes) at once."""
    from projections.store_cassandra import CassandraProjectionStore
    from streams.pipeline import TRACKING_NAME

    assert isinstance(store, CassandraProjectionStore)
    for partition, offset in result.last_offsets.items():
        await store.track(TRACKING_NAME, partition, offset)
