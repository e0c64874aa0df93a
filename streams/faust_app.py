"""The Faust app hosting the distributed projectors (and the command processor as a task).

Agents are thin: take a batch of records (``take_events``: up to BATCH_SIZE, or what came
within BATCH_WAIT), hand it to :class:`streams.pipeline.ProjectionPipeline`. Faust provides
consumer groups, partition assignment across processor processes, ordered per-partition
delivery and at-least-once offset commits (``at_least_once``: Faust's exactly_once is not
reliable with aiokafka, see ADR 8); ``take_events`` acks a batch once the pipeline has
written it, and the pipeline is idempotent.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from faust.transport.drivers import aiokafka as faust_aiokafka

from projections.store_cassandra import CassandraProjectionStore
from streams.command_processor_kafka import KafkaCommandProcessor
from streams.log import LogUnavailable
from streams.pipeline import ProjectionPipeline, Record
from streams.topics import FETCH_MAX_WAIT_MS, Topics

__all__ = ["create_faust_app", "quiet_worker"]


class _CommittedReadsThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust reads uncommitted records unless it runs exactly_once itself. The events topic
    is written in transactions by the command processor, and the events of an aborted
    transaction are not in the log: they must never be projected (ADR 13)."""

    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer: AIOKafkaConsumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # read by start(), which comes later
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _CommittedReadsConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _CommittedReadsThread:
        return _CommittedReadsThread(self, loop=self.loop, beacon=self.beacon)


def quiet_worker(app: faust.App, loop: asyncio.AbstractEventLoop, loglevel: str) -> faust.Worker:
    """A Faust worker that logs at ``loglevel`` and does no work for messages below it.

    Faust's terminal spinner, at WARNING or above, lowers the root logger to DEBUG so that it
    can spin on every record: every aiokafka debug call then built a record that the handler
    dropped (a tenth of the processor's CPU under load). No spinner, no such records."""
    worker = faust.Worker(app, loop=loop, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker


BATCH_SIZE = 500
BATCH_WAIT = 0.01
"""Seconds a partial batch waits for more records (added latency per stage at low load)."""


def _data_dir(app_id: str) -> Path:
    parent = Path(tempfile.gettempdir()) / "tidings-faust"
    parent.mkdir(exist_ok=True)  # Faust creates only the last level
    return parent / app_id


def create_faust_app(
    *,
    app_id: str,
    bootstrap: str,
    topics: Topics,
    store: CassandraProjectionStore,
    command_processor: KafkaCommandProcessor | None,
) -> faust.App:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        # Tables live in memory; Faust still creates its data directory, so keep it
        # out of the working directory.
        datadir=str(_data_dir(app_id)),
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        processing_guarantee="at_least_once",
        stream_wait_empty=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        # A killed processor's partitions move to a live one after this long.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_acks=-1,
        producer_linger=0.002,
    )

    app.transport.Consumer = _CommittedReadsConsumer  # type: ignore[misc]

    async def send(topic: str, key: str, value: bytes) -> Awaitable[object]:
        try:
            sent = await app.producer.send(
                topic, key.encode() if key else None, value, None, None, None
            )
        except KafkaError as exc:
            raise LogUnavailable(str(exc)) from exc

        async def acknowledged() -> object:
            try:
                return await sent
            except KafkaError as exc:
                raise LogUnavailable(str(exc)) from exc

        return asyncio.ensure_future(acknowledged())

    pipeline = ProjectionPipeline(store, store.inbox_writer, send, topics.inbox, topics.live)

    async def partitions_moved(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        # The inbox writer's memory of heads holds only while this worker owns the users'
        # partitions. Faust finishes the batch in progress before rebalancing
        # (stream_wait_empty, kept at its default), so no batch outlives the forgetting.
        pipeline.forget()

    app.on_partitions_revoked.connect(partitions_moved)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(partitions_moved)  # type: ignore[arg-type]

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(
            name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    events_topic = raw_topic(topics.events)
    inbox_topic = raw_topic(topics.inbox)

    def records(events: Sequence[faust.EventT[bytes]]) -> list[Record]:
        return [(e.message.partition, e.message.offset, e.value) for e in events]

    @app.agent(events_topic)
    async def project_events(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take_events(BATCH_SIZE, within=BATCH_WAIT)  # type: ignore[attr-defined]
        async for events in batches:
            await pipeline.on_events(records(events))

    @app.agent(inbox_topic)
    async def project_inbox(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take_events(BATCH_SIZE, within=BATCH_WAIT)  # type: ignore[attr-defined]
        async for events in batches:
            await pipeline.on_inbox(records(events))

    if command_processor is not None:

        @app.task  # type: ignore[untyped-decorator]
        async def run_command_processor() -> None:
            await command_processor.run()

    return app
