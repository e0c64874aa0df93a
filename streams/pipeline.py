"""The distributed projection pipeline, independent of the stream framework that hosts it.

Stage 1 (``on_event``, events topic): project the event, write the state changes to the
store, fan room events out to members' inboxes as InboxRecords (keyed by user), publish
presence notices, and record the partition offset (for read-your-writes).
Stage 2 (``on_inbox``, inbox topic): append to the user's inbox at the next dense position
(deduplicated by the record's offset) and publish the inbox event for live delivery.

Both stages are idempotent, so at-least-once delivery from the host is enough. A store or
Kafka failure is retried until it succeeds: the host never moves past an unwritten event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from projections import changes as ch
from projections.projector import project
from projections.store import StoreUnavailable
from projections.store_cassandra import CassandraProjectionStore
from proto.codec import CodecError, envelope_from_bytes
from proto.tidings.v1 import client_pb2 as cp
from proto.tidings.v1 import internal_pb2 as ip
from streams.log import LogUnavailable

__all__ = ["ProjectionPipeline", "Send"]

log = structlog.get_logger(__name__)

Send = Callable[[str, str, bytes], Awaitable[None]]
"""send(topic, key, value): resolves once the record is acknowledged by Kafka."""

T = TypeVar("T")

TRACKING_NAME = "events"


class ProjectionPipeline:
    def __init__(
        self,
        store: CassandraProjectionStore,
        send: Send,
        inbox_topic: str,
        live_topic: str,
        *,
        retry_delay: float = 0.5,
    ) -> None:
        self.store = store
        self._send = send
        self._inbox_topic = inbox_topic
        self._live_topic = live_topic
        self._retry_delay = retry_delay

    async def on_event(self, partition: int, offset: int, data: bytes) -> None:
        try:
            envelope = envelope_from_bytes(data)
        except CodecError as exc:
            log.error("event_skipped_malformed", partition=partition, offset=offset, error=str(exc))
            return

        async def stage() -> None:
            changes = project(envelope, await self.store.view_for(envelope))
            await self.store.apply_changes(envelope, changes)
            sends = []
            for change in changes:
                if isinstance(change, ch.AppendInbox):
                    # One record per member, all in flight at once (each user's records keep
                    # their order: they go to one partition from this single producer).
                    for user_id in sorted(change.user_ids):
                        record = ip.InboxRecord(user_id=user_id, event=envelope)
                        sends.append(
                            self._send(self._inbox_topic, user_id, record.SerializeToString())
                        )
                elif isinstance(change, ch.NotifyLive):
                    p = envelope.presence_changed
                    notice = cp.PresenceNotice(
                        user_id=p.user_id,
                        device_id=p.device_id,
                        status=p.status,
                        online=change.online,
                    )
                    live = ip.LiveRecord(user_ids=sorted(change.user_ids), presence=notice)
                    sends.append(self._send(self._live_topic, "", live.SerializeToString()))
            await asyncio.gather(*sends)
            await self.store.track(TRACKING_NAME, partition, offset)

        await self._retrying(stage, "event", partition, offset)

    async def on_inbox(self, partition: int, offset: int, data: bytes) -> None:
        try:
            record = ip.InboxRecord.FromString(data)
        except Exception as exc:
            log.error("inbox_skipped_malformed", partition=partition, offset=offset, error=str(exc))
            return

        async def stage() -> None:
            entry = await self.store.append_inbox(record.user_id, record.event)
            if entry is None:
                return
            live = ip.LiveRecord(
                user_ids=[entry.user_id],
                event=cp.InboxEvent(
                    position=entry.position, epoch=self.store.epoch, event=record.event
                ),
            )
            await self._send(self._live_topic, entry.user_id, live.SerializeToString())

        await self._retrying(stage, "inbox", partition, offset)

    async def _retrying(
        self, stage: Callable[[], Awaitable[None]], name: str, partition: int, offset: int
    ) -> None:
        attempt = 0
        while True:
            try:
                await stage()
                return
            except (StoreUnavailable, LogUnavailable, OSError, TimeoutError) as exc:
                attempt += 1
                log.warning(
                    "projection_retrying",
                    stage=name,
                    partition=partition,
                    offset=offset,
                    attempt=attempt,
                    error=str(exc),
                )
                await asyncio.sleep(min(self._retry_delay * attempt, 5.0))
