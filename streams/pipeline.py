"""The distributed projection pipeline, in batches, over the projection ports.

Stage 1 (:meth:`ProjectionPipeline.on_events`, events topic): read what the batch needs
(one prefetch), project it with the pure core (:func:`projections.batch.project_batch`),
write its state changes (concurrently: each write is stamped with its event's position),
publish an InboxRecord per inbox entry the projector decided (every member's, for a small
room; for a room stream only the move to it and members' own joins, leaves and roles),
keyed by user, and live records (``streams/live_records.py``) for each room-stream event
(once, keyed by its stream: gateways deliver it to their followers) and presence change,
then record each partition's last offset (for read-your-writes).
Stage 2 (:meth:`ProjectionPipeline.on_inbox`, inbox topic): append the batch's records to
the users' inboxes (the inbox writer deduplicates by source stream position) and publish
each new entry as a live record for the gateways.

Kafka sends are pipelined: a batch enqueues all of its records, then awaits their acks.
Both stages are idempotent, so at-least-once delivery from the host is enough. A store or
Kafka failure retries the whole batch until it succeeds: the host never moves past an
unwritten record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from projections.batch import project_batch
from projections.projector import project
from projections.store import InboxWriter, StateWriter, StoreUnavailable
from proto.codec import CodecError, Envelope, envelope_from_bytes
from proto.tidings.v1 import internal_pb2 as ip
from streams import tracing
from streams.live_records import encode_live
from streams.log import LogUnavailable
from streams.metrics import BACKEND_RETRIES, stage_done

__all__ = ["TRACKING_NAME", "ProjectionPipeline", "Record", "Send"]

log = structlog.get_logger(__name__)

Send = Callable[[str, str, bytes], Awaitable[Awaitable[object]]]
"""send(topic, key, value): enqueues the record; the awaitable it returns resolves once
Kafka acknowledged it. Failures raise LogUnavailable."""

Record = tuple[int, int, bytes]
"""(partition, offset, value) of one consumed record."""

TRACKING_NAME = "events"


class ProjectionPipeline:
    def __init__(
        self,
        state: StateWriter,
        inbox: InboxWriter,
        send: Send,
        inbox_topic: str,
        live_topic: str,
        *,
        retry_delay: float = 0.5,
    ) -> None:
        self.state = state
        self.inbox = inbox
        self._send = send
        self._inbox_topic = inbox_topic
        self._live_topic = live_topic
        self._retry_delay = retry_delay

    def forget(self) -> None:
        """Partitions moved: what the inbox writer remembers may be another's now."""
        self.inbox.forget()

    # ------------------------------------------------------------------ stage 1

    async def on_events(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        envelopes: list[Envelope] = []
        last: dict[int, int] = {}
        for partition, offset, data in records:
            last[partition] = max(offset, last.get(partition, -1))
            try:
                envelopes.append(envelope_from_bytes(data))
            except CodecError as exc:
                log.error(
                    "event_skipped_malformed", partition=partition, offset=offset, error=str(exc)
                )

        async def stage() -> None:
            if envelopes:
                batch = project_batch(envelopes, await self.state.prefetch(envelopes), project)
                await self.state.write_state(batch.state)
                outgoing = [
                    (
                        self._inbox_topic,
                        user_id,
                        ip.InboxRecord(user_id=user_id, event=envelope).SerializeToString(),
                    )
                    for user_id, envelope in batch.inbox
                ]
                outgoing += [(self._live_topic, *encode_live(d)) for d in batch.live]
                await self._publish(outgoing)
            for partition, offset in last.items():
                await self.state.track(TRACKING_NAME, partition, offset)

        with tracing.steps("project", (e.trace_id for e in envelopes), "decide"):
            await self._retrying(stage, "events", last)
        stage_done("events", len(records), started)

    # ------------------------------------------------------------------ stage 2

    async def on_inbox(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        appends: list[tuple[str, Envelope]] = []
        last: dict[int, int] = {}
        for partition, offset, data in records:
            last[partition] = max(offset, last.get(partition, -1))
            try:
                record = ip.InboxRecord.FromString(data)
            except Exception as exc:
                log.error(
                    "inbox_skipped_malformed", partition=partition, offset=offset, error=str(exc)
                )
                continue
            appends.append((record.user_id, record.event))

        async def stage() -> None:
            if not appends:
                return
            entries = await self.inbox.append(appends)
            await self._publish([(self._live_topic, *encode_live(entry)) for entry in entries])

        with tracing.steps("inbox", (e.trace_id for _, e in appends), "project"):
            await self._retrying(stage, "inbox", last)
        stage_done("inbox", len(records), started)

    # ------------------------------------------------------------------ plumbing

    async def _publish(self, records: list[tuple[str, str, bytes]]) -> None:
        """Enqueues every record, then waits for all acknowledgements."""
        acks: list[Awaitable[object]] = []
        try:
            for topic, key, value in records:
                acks.append(await self._send(topic, key, value))
        finally:
            outcomes = await asyncio.gather(*acks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _retrying(
        self, stage: Callable[[], Awaitable[None]], name: str, offsets: dict[int, int]
    ) -> None:
        attempt = 0
        while True:
            try:
                await stage()
                return
            except (StoreUnavailable, LogUnavailable, OSError, TimeoutError) as exc:
                attempt += 1
                BACKEND_RETRIES.labels(name).inc()
                log.warning(
                    "projection_retrying",
                    stage=name,
                    offsets=offsets,
                    attempt=attempt,
                    error=str(exc),
                )
                await asyncio.sleep(min(self._retry_delay * attempt, 5.0))
