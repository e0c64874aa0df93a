"""The Kafka adapter of :class:`streams.feed.EventFeed`: a consumer group per feed name on
the events topic (``read_committed``), its committed offsets being the feed's position.
Feeds of one name on several gateways split the partitions between them."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from streams.feed import EventFeed
from streams.kafka_read import stop
from streams.log import LogRecord
from streams.topics import Topics

__all__ = ["KafkaEventFeed"]

log = structlog.get_logger(__name__)

BATCH = 500


class KafkaEventFeed(EventFeed):
    def __init__(self, bootstrap: str, topics: Topics, name: str) -> None:
        self._topic = topics.events
        self._group = f"{topics.prefix}-observer-{name}"
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self._started = False

    async def next_batch(self, wait: float) -> list[LogRecord]:
        if not self._started:
            await self._consumer.start()
            self._consumer.subscribe([self._topic])
            self._started = True
        batches = await self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=BATCH)
        return [
            LogRecord(record.offset, record.value, tp.partition)
            for tp, records in sorted(batches.items(), key=lambda item: item[0].partition)
            for record in records
            if record.value is not None
        ]

    async def commit(self, records: list[LogRecord]) -> None:
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = max(last.get(record.partition, -1), record.offset)
        offsets = {TopicPartition(self._topic, p): o + 1 for p, o in last.items()}
        if not offsets:
            return
        try:
            await asyncio.shield(self._consumer.commit(offsets))  # a stop must not undo it
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance moved the partitions: their new reader sees these records again
            # (at least once).
            log.warning("observer_commit_failed", group=self._group, error=str(exc))

    async def close(self) -> None:
        if self._started:
            await stop(self._consumer)
