"""The embedded adapter of :class:`streams.feed.EventFeed`: the embedded log (one
partition) read after a position kept in a small SQLite file (``observers.db``)."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from streams.feed import EventFeed
from streams.log import EventLog, LogRecord

__all__ = ["SqliteEventFeed"]

BATCH = 500


class SqliteEventFeed(EventFeed):
    def __init__(self, log: EventLog, positions: Path, name: str) -> None:
        self._log = log
        self._name = name
        # One thread owns the file: a commit still running when the reader is cancelled
        # finishes before the close that follows it.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-feed")
        self._db = sqlite3.connect(positions, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed position survives a crash
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS positions (name TEXT PRIMARY KEY, offset INTEGER NOT NULL)"
        )
        row = self._db.execute("SELECT offset FROM positions WHERE name=?", (name,)).fetchone()
        self._after = int(row[0]) if row else 0

    async def next_batch(self, wait: float) -> list[LogRecord]:
        records = await self._log.read(self._after, BATCH)
        if not records:
            await self._log.wait(self._after, wait)
            records = await self._log.read(self._after, BATCH)
        if records:
            self._after = records[-1].offset
        return records

    async def commit(self, records: list[LogRecord]) -> None:
        if records:
            offset = records[-1].offset
            saving = asyncio.get_running_loop().run_in_executor(
                self._thread,
                self._db.execute,
                "INSERT INTO positions VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                "SET offset=excluded.offset",
                (self._name, offset),
            )
            # Shielded: cancelling the reader must not cancel a save not yet started.
            await asyncio.shield(saving)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
        self._thread.shutdown()
