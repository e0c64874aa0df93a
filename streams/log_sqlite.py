"""The embedded log: eventsourcing's SQLite application recorder behind one writer.

Events are stored as protobuf envelopes (:class:`ProtobufMapper`); the recorder's
notification id is the log offset. One batch at a time, in arrival order, commands for
every stream are decided on the event loop and committed by one writer thread, which makes
it the single writer the ports ask for (see :class:`EmbeddedLog`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing import persistence as es
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from domain import commands as c
from domain.apikeys import ApiKeyCreated, ApiKeyRevoked, api_key_aggregate_id
from domain.commands import Command
from domain.handler import CommandHandler, Decision, EventRef
from domain.namespaces import NamespaceConfigured, Namespaces, namespace_aggregate_id
from domain.room import Room
from domain.values import LARGE_ROOM_MEMBERS, direct_room_id, user_aggregate_id
from proto.codec import (
    Envelope,
    decode_envelope,
    encode_event,
    envelope_from_bytes,
    payload_kind,
)
from streams import tracing
from streams.log import (
    CommandBus,
    CommandResult,
    EventLog,
    LogRecord,
    LogScanner,
    LogUnavailable,
)
from streams.metrics import WRITER_BATCH, WRITER_QUEUE

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


@contextlib.contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    """SQLite's operational failures (disk full or unwritable, the file locked for longer
    than the lock timeout, an I/O error) as the port's error: the caller may retry."""
    try:
        yield
    except (sqlite3.OperationalError, es.OperationalError) as exc:
        raise LogUnavailable(f"the event log cannot be used now: {exc}") from exc


class ProtobufMapper(Mapper[UUID]):
    """eventsourcing's Mapper seam: stored events hold serialised envelopes."""

    def __init__(self, transcoder: Transcoder, epoch: str) -> None:
        super().__init__(transcoder)
        self.epoch = epoch

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        return self.encode(domain_event)[0]

    def encode(self, domain_event: DomainEventProtocol[UUID]) -> tuple[StoredEvent, Envelope]:
        """The stored event and the envelope it holds (callers that answer with the
        envelope need not decode what they stored)."""
        assert isinstance(domain_event, DomainEvent)
        envelope = encode_event(domain_event, self.epoch)
        stored = StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=payload_kind(envelope),
            state=envelope.SerializeToString(),
        )
        return stored, envelope

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return decode_envelope(stored_event.state)


class _LogApplication(Application[UUID]):
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        # The writer thread is the only user of cached aggregates; it evicts on failure.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
        # ... and the only writer of the log, so a cached aggregate is never behind it: no
        # query per command to look for newer events.
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }

    def __init__(self, db_path: str, epoch: str) -> None:
        self.epoch = epoch
        super().__init__(env={"SQLITE_DBNAME": db_path, "SQLITE_LOCK_TIMEOUT": "30"})

    def construct_mapper(self) -> Mapper[UUID]:
        return ProtobufMapper(self.construct_transcoder(), self.epoch)


class _Streams:
    """The handler's view of current stream state, backed by the application.

    Rooms changed by the batch being decided are held in :attr:`touched` until the batch is
    saved, so a later command of the same batch sees them (a room created in the batch is in
    no store yet)."""

    def __init__(self, app: _LogApplication) -> None:
        self._app = app
        self.user_lengths: dict[str, int] = {}
        self.namespaces: dict[str, tuple[int, str]] = {}
        self.api_keys: dict[str, tuple[int, str]] = {}
        self.touched: dict[UUID, Room] = {}

    def get_room(self, room_id: UUID) -> Room | None:
        room = self.touched.get(room_id)
        if room is not None:
            return room
        try:
            found: object = self._app.repository.get(room_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(found, Room)
        return found

    def user_stream_length(self, user_id: str) -> int:
        if user_id not in self.user_lengths:
            last = self._app.recorder.select_events(user_aggregate_id(user_id), desc=True, limit=1)
            self.user_lengths[user_id] = last[0].originator_version if last else 0
        return self.user_lengths[user_id]

    def namespace_settings(self, name: str) -> tuple[int, str]:
        """Read from the log the first time (a process configures namespaces at start)."""
        if name not in self.namespaces:
            last = self._app.recorder.select_events(
                namespace_aggregate_id(name), desc=True, limit=1
            )
            event = decode_envelope(last[0].state) if last else None
            self.namespaces[name] = (
                (event.originator_version, event.settings)
                if isinstance(event, NamespaceConfigured)
                else (0, "")
            )
        return self.namespaces[name]

    def api_key(self, key_id: str) -> tuple[int, str]:
        """Read from the log the first time (keys change rarely)."""
        if key_id not in self.api_keys:
            stored = self._app.recorder.select_events(api_key_aggregate_id(key_id))
            events = [decode_envelope(e.state) for e in stored]
            created = [e.secret_hash for e in events if isinstance(e, ApiKeyCreated)]
            self.api_keys[key_id] = (len(events), created[0] if created else "")
        return self.api_keys[key_id]

    def note_api_key(self, event: ApiKeyCreated | ApiKeyRevoked) -> None:
        secret_hash = event.secret_hash if isinstance(event, ApiKeyCreated) else ""
        self.api_keys[event.key_id] = (
            event.originator_version,
            secret_hash or self.api_keys.get(event.key_id, (0, ""))[1],
        )

    def missing(self, streams: list[UUID | str]) -> list[UUID | str]:
        """Which of these streams (room ids, user ids) are not in memory."""
        cache = self._app.repository.cache
        out: list[UUID | str] = []
        for stream in streams:
            if isinstance(stream, str):
                if stream not in self.user_lengths:
                    out.append(stream)
            elif stream not in self.touched and (cache is None or not _cached(cache, stream)):
                out.append(stream)
        return out

    def load(self, streams: list[UUID | str]) -> None:
        """Reads these streams from the log into memory (in the writer thread)."""
        for stream in streams:
            if isinstance(stream, str):
                self.user_stream_length(stream)
            else:
                self.get_room(stream)


def _cached(cache: Any, key: UUID) -> bool:
    try:
        cache.get(key)
    except KeyError:
        return False
    return True


@dataclass(slots=True)
class _Decided:
    decision: Decision
    events: list[DomainEvent]


Outcome = CommandResult | BaseException
"""What one command of a batch came to: its result, or the error it alone fails with."""


def _stream_of(command: Command) -> UUID | str | None:
    """The stream a command's decision reads: its room, or the user's own stream."""
    match command:
        case c.OpenDirect(meta, peer_id, namespace):
            return direct_room_id(meta.user_id, peer_id, namespace)
        case c.ChangePresence(meta) | c.RevokeSessions(meta):
            return meta.user_id
        case c.ConfigureNamespace() | c.CreateApiKey() | c.RevokeApiKey():
            return None  # read by the handler itself (once per stream and process)
    room_id: UUID = getattr(command, "room_id")  # noqa: B009 - every other command has one
    return room_id


def _answer(
    decided: _Decided,
    offsets: dict[tuple[UUID, int], int],
    envelopes: dict[tuple[UUID, int], Envelope],
) -> CommandResult:
    ref = decided.decision.answer
    offset = 0
    if decided.events:
        last = decided.events[-1]
        offset = offsets[(last.originator_id, last.originator_version)]
    return CommandResult(
        envelopes[(ref.originator_id, ref.position)],
        duplicate=decided.decision.duplicate,
        offset=offset,
    )


class EmbeddedLog(CommandBus, EventLog, LogScanner):
    """The single writer decides commands in batches and commits each batch at once.

    Commands queue while a batch is being written; then the next batch takes every queued
    command (up to :data:`MAX_BATCH`), decides them in arrival order against the aggregates
    (each seeing the effects of the ones before it), appends all their events in one SQLite
    transaction (one fsync: ``synchronous=FULL`` in WAL mode, ADR 13) and only then answers
    each. A command the domain rejects fails alone; if the batch cannot be stored, its
    commands are retried one by one, so only a command that cannot be stored fails.
    """

    MAX_BATCH = 1000
    TAIL_SIZE = 1_000
    """Records kept for the projection runner, which reads them right after they are written."""

    def __init__(
        self,
        path: str | Path,
        large_room_members: int = LARGE_ROOM_MEMBERS,
        namespaces: Namespaces | None = None,
    ) -> None:
        db_path = str(path)
        self.epoch = _load_epoch(db_path)
        self._app = _LogApplication(db_path, self.epoch)
        mapper = self._app.mapper
        assert isinstance(mapper, ProtobufMapper)
        self._mapper = mapper
        self._streams = _Streams(self._app)
        self._handler = CommandHandler(self._streams, large_room_members, namespaces)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-writer")
        self._appended = asyncio.Condition()
        self._last_offset = self._app.recorder.max_notification_id() or 0
        self._queue: list[tuple[Command, asyncio.Future[CommandResult]]] = []
        # The latest records this process wrote, as written: the projection runner reads
        # them from memory. Every record in (_tail_after, _last_offset] is in _tail, in order.
        self._tail: list[LogRecord] = []
        self._tail_after = self._last_offset
        self._draining: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ CommandBus

    async def execute(self, command: Command) -> CommandResult:
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="tidings-writer")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            WRITER_QUEUE.labels("embedded").set(len(self._queue))
            batch = self._queue[: self.MAX_BATCH]
            del self._queue[: self.MAX_BATCH]
            WRITER_BATCH.labels("embedded").observe(len(batch))
            try:
                trace_ids = (command.meta.trace_id for command, _ in batch)
                with tracing.steps("decide", trace_ids, "command"):
                    outcomes = await self._run_batch([command for command, _ in batch])
            except BaseException as exc:  # the writer itself failed: every command with it
                outcomes = [exc] * len(batch)
            appended = False
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    if not future.done():
                        future.set_exception(outcome)
                    continue
                appended = appended or not outcome.duplicate
                if not future.done():
                    future.set_result(outcome)
            if appended:
                async with self._appended:
                    self._appended.notify_all()

    async def _run_batch(self, commands: list[Command]) -> list[Outcome]:
        """Decides the commands on the event loop and commits their events in the writer
        thread. Only the writer thread touches the disk: it first loads the streams the
        batch needs that are not in memory (rarely: they stay cached), then, once the loop
        has decided, inserts and commits. One thread holding the GIL for the Python work
        and one waiting for the disk, rather than two contending for the GIL."""
        loop = asyncio.get_running_loop()
        wanted = [s for s in map(_stream_of, commands) if s is not None]
        missing = self._streams.missing(wanted)
        if missing:
            with _unavailable_on_failure():
                await loop.run_in_executor(self._writer, self._streams.load, missing)
        outcomes: list[Outcome | _Decided] = []
        events: list[DomainEvent] = []
        for command in commands:
            try:
                decided = self._decide(command)
            except Exception as exc:
                outcomes.append(exc)
                continue
            outcomes.append(decided)
            events.extend(decided.events)
        try:
            encoded = [self._mapper.encode(event) for event in events]
            stored = [record for record, _ in encoded]
            with _unavailable_on_failure():
                offsets = await loop.run_in_executor(self._writer, self._insert, events, stored)
        except Exception as exc:
            self._forget()
            if len(commands) == 1:
                return [exc]
            return [(await self._run_batch([command]))[0] for command in commands]
        self._remember()
        self._remember_tail(
            [
                LogRecord(offsets[key], record.state, envelope=envelope)
                for key, (record, envelope) in zip(offsets, encoded, strict=True)
            ]
        )
        envelopes = {key: envelope for key, (_, envelope) in zip(offsets, encoded, strict=True)}
        earlier = [
            o.decision.answer
            for o in outcomes
            if isinstance(o, _Decided)
            and (o.decision.answer.originator_id, o.decision.answer.position) not in envelopes
        ]
        if earlier:  # duplicates of events of earlier batches: read them back
            with _unavailable_on_failure():
                found = await loop.run_in_executor(self._writer, self._load_all, earlier)
            envelopes.update(found)
        return [
            outcome if not isinstance(outcome, _Decided) else _answer(outcome, offsets, envelopes)
            for outcome in outcomes
        ]

    def _remember_tail(self, records: list[LogRecord]) -> None:
        if not records:
            return
        self._tail.extend(records)
        self._last_offset = records[-1].offset
        if len(self._tail) > self.TAIL_SIZE + self.TAIL_SIZE // 4:
            self._tail_after = self._tail[-self.TAIL_SIZE - 1].offset
            del self._tail[: -self.TAIL_SIZE]

    def _insert(
        self, events: list[DomainEvent], stored: list[StoredEvent]
    ) -> dict[tuple[UUID, int], int]:
        """In the writer thread: appends the events in one transaction (the recorder's
        batch insert); returns the log offset of each (originator id, position)."""
        if not stored:
            return {}
        offsets = self._app.recorder.insert_events(stored)
        assert offsets is not None and len(offsets) == len(events)
        return {
            (event.originator_id, event.originator_version): offset
            for event, offset in zip(events, offsets, strict=True)
        }

    def _decide(self, command: Command) -> _Decided:
        decision = self._handler.decide(command)
        events: list[DomainEvent] = []
        for item in decision.pending:
            if isinstance(item, Room):
                self._streams.touched[item.id] = item
                events.extend(item.collect_events())  # type: ignore[arg-type]
            elif isinstance(item, NamespaceConfigured):
                self._streams.namespaces[item.name] = (item.originator_version, item.settings)
                events.append(item)
            elif isinstance(item, ApiKeyCreated | ApiKeyRevoked):
                self._streams.note_api_key(item)
                events.append(item)
            else:
                self._streams.user_lengths[item.user_id] = item.originator_version
                events.append(item)
        return _Decided(decision, events)

    def _remember(self) -> None:
        """After a commit: rooms the batch changed stay cached for the next batch."""
        cache = self._app.repository.cache
        if cache is not None:
            for room_id, room in self._streams.touched.items():
                cache.put(room_id, room)
        self._streams.touched.clear()

    def _forget(self) -> None:
        """After a failed commit: drops every state the batch changed in memory."""
        cache = self._app.repository.cache
        for room_id in self._streams.touched:
            if cache is not None:
                with contextlib.suppress(KeyError):
                    cache.get(room_id, evict=True)
        self._streams.touched.clear()
        self._streams.user_lengths.clear()
        self._streams.namespaces.clear()
        self._streams.api_keys.clear()

    def _load_all(self, refs: list[EventRef]) -> dict[tuple[UUID, int], Envelope]:
        found = {}
        for ref in refs:
            stored = self._app.recorder.select_events(
                ref.originator_id, gt=ref.position - 1, lte=ref.position
            )
            found[(ref.originator_id, ref.position)] = envelope_from_bytes(stored[0].state)
        return found

    # ------------------------------------------------------------------ EventLog

    async def read(self, after: int, limit: int) -> list[LogRecord]:
        if self._tail_after <= after < self._last_offset or (
            self._draining is not None and after >= self._tail_after
        ):
            # In memory: records this process wrote, and (once it has written, being the
            # log's single writer) the knowledge that nothing follows _last_offset.
            start = bisect.bisect_right(self._tail, after, key=lambda r: r.offset)
            return self._tail[start : start + limit]
        with _unavailable_on_failure():
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
        with _unavailable_on_failure():
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
