"""The embedded log: eventsourcing's SQLite application recorder, one writer thread.

Events are stored as protobuf envelopes (``proto.codec.ProtobufMapper``); the recorder's
notification id is the log offset. One thread owns the aggregates, so commands for every
stream are decided one at a time, which makes it the single writer the ports ask for.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import Mapper

from domain.commands import Command
from domain.handler import CommandHandler, Decision
from domain.room import Room
from domain.user import UserEvent
from domain.values import user_aggregate_id
from proto.codec import Envelope, ProtobufMapper, encode_event, envelope_from_bytes
from streams.log import CommandBus, CommandResult, EventLog, LogRecord, LogScanner

__all__ = ["EmbeddedLog"]


def _load_epoch(path: str) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS tidings_meta (key TEXT PRIMARY KEY, value TEXT)")
        row = conn.execute("SELECT value FROM tidings_meta WHERE key='epoch'").fetchone()
        if row:
            return str(row[0])
        epoch = uuid.uuid4().hex[:12]
        conn.execute("INSERT INTO tidings_meta VALUES ('epoch', ?)", (epoch,))
        return epoch


class _LogApplication(Application[UUID]):
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        # The writer thread is the only user of cached aggregates; it evicts on failure.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def __init__(self, db_path: str, epoch: str) -> None:
        self.epoch = epoch
        super().__init__(env={"SQLITE_DBNAME": db_path, "SQLITE_LOCK_TIMEOUT": "30"})

    def construct_mapper(self) -> Mapper[UUID]:
        return ProtobufMapper(self.construct_transcoder(), self.epoch)


class _Streams:
    """The handler's view of current stream state, backed by the application."""

    def __init__(self, app: _LogApplication) -> None:
        self._app = app
        self.user_lengths: dict[str, int] = {}

    def get_room(self, room_id: UUID) -> Room | None:
        try:
            room: object = self._app.repository.get(room_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(room, Room)
        return room

    def user_stream_length(self, user_id: str) -> int:
        if user_id not in self.user_lengths:
            last = self._app.recorder.select_events(user_aggregate_id(user_id), desc=True, limit=1)
            self.user_lengths[user_id] = last[0].originator_version if last else 0
        return self.user_lengths[user_id]


class EmbeddedLog(CommandBus, EventLog, LogScanner):
    def __init__(self, path: str | Path) -> None:
        db_path = str(path)
        self.epoch = _load_epoch(db_path)
        self._app = _LogApplication(db_path, self.epoch)
        self._streams = _Streams(self._app)
        self._handler = CommandHandler(self._streams)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-writer")
        self._appended = asyncio.Condition()
        self._last_offset = self._app.recorder.max_notification_id() or 0

    # ------------------------------------------------------------------ CommandBus

    async def execute(self, command: Command) -> CommandResult:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._writer, self._execute, command)
        if not result.duplicate:
            async with self._appended:
                self._appended.notify_all()
        return result

    def _execute(self, command: Command) -> CommandResult:
        decision = self._handler.decide(command)
        if decision.duplicate:
            return CommandResult(self._load(decision), duplicate=True)
        try:
            recordings = self._app.save(*decision.pending)
        except BaseException:
            self._forget(decision)
            raise
        answer = None
        for recording in recordings:
            event = recording.domain_event
            assert isinstance(event, DomainEvent)
            if isinstance(event, UserEvent):
                self._streams.user_lengths[event.user_id] = event.originator_version
            if (event.originator_id, event.originator_version) == (
                decision.answer.originator_id,
                decision.answer.position,
            ):
                answer = encode_event(event, self.epoch)
        offset = recordings[-1].notification.id
        self._last_offset = max(self._last_offset, offset)
        envelope = answer if answer is not None else self._load(decision)
        return CommandResult(envelope, offset=offset)

    def _forget(self, decision: Decision) -> None:
        """Drops cached state that a failed save may have left half-changed."""
        cache = self._app.repository.cache
        for item in decision.pending:
            if isinstance(item, Room):
                if cache is not None:
                    with contextlib.suppress(KeyError):
                        cache.get(item.id, evict=True)
            else:
                self._streams.user_lengths.pop(item.user_id, None)

    def _load(self, decision: Decision) -> Envelope:
        ref = decision.answer
        stored = self._app.recorder.select_events(
            ref.originator_id, gt=ref.position - 1, lte=ref.position
        )
        return envelope_from_bytes(stored[0].state)

    # ------------------------------------------------------------------ EventLog

    async def read(self, after: int, limit: int) -> list[LogRecord]:
        notifications = await asyncio.to_thread(
            self._app.recorder.select_notifications,
            after,
            limit,
            inclusive_of_start=False,
        )
        return [LogRecord(n.id, n.state) for n in notifications]

    async def wait(self, after: int, timeout: float) -> None:
        async with self._appended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._appended.wait_for(lambda: self._last_offset > after), timeout
                )

    async def head(self) -> int:
        return await asyncio.to_thread(self._app.recorder.max_notification_id) or 0

    # ------------------------------------------------------------------ LogScanner

    def cursor(self, record: LogRecord) -> int:
        """The log offset itself: a replay's tracked offset is the projection runner's."""
        return record.offset

    async def remaining(self, after: int = 0) -> int:
        return max(await self.head() - after, 0)

    async def scan(self, after: int = 0) -> AsyncIterator[LogRecord]:
        end = await self.head()
        while after < end:
            records = [r for r in await self.read(after, 1000) if r.offset <= end]
            if not records:
                return
            for record in records:
                yield record
            after = records[-1].offset

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._app.close()
