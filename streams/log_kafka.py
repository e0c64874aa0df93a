"""Kafka adapter of :class:`LogScanner`: the events topic read once, for tools.

It reads with ``read_committed`` (aborted transactions of a fenced processor are never
seen) and assigns partitions by hand, so it joins no consumer group and disturbs nobody.
Partitions are read one after the other; a cursor is ``partition << 40 | (offset + 1)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka_read import read_to, stop
from streams.log import LogRecord, LogScanner, LogUnavailable

__all__ = ["KafkaLogScanner"]

_SHIFT = 40
_MASK = (1 << _SHIFT) - 1


class KafkaLogScanner(LogScanner):
    def __init__(self, bootstrap: str, topic: str, *, batch: int = 2000) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._batch = batch

    def cursor(self, record: LogRecord) -> int:
        return (record.partition << _SHIFT) | (record.offset + 1)

    @staticmethod
    def _start(partition: int, after: int) -> int:
        """The first offset of ``partition`` a scan after cursor ``after`` reads."""
        resume_partition, next_offset = after >> _SHIFT, after & _MASK
        if partition < resume_partition:
            return -1  # done already
        return next_offset if partition == resume_partition else 0

    async def _partitions(self) -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            (topic,) = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        if topic["error_code"] or not topic["partitions"]:
            raise LogUnavailable(f"topic {self._topic} does not exist: run tidings migrate")
        return sorted(p["partition"] for p in topic["partitions"])

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=15000,
        )

    async def remaining(self, after: int = 0) -> int:
        consumer = self._consumer()
        await consumer.start()
        try:
            tps = [TopicPartition(self._topic, p) for p in await self._partitions()]
            ends = await consumer.end_offsets(tps)
            return sum(
                max(ends[tp] - self._start(tp.partition, after), 0)
                for tp in tps
                if self._start(tp.partition, after) >= 0
            )
        finally:
            await stop(consumer)

    async def scan(self, after: int = 0) -> AsyncIterator[LogRecord]:
        partitions = await self._partitions()
        consumer = self._consumer()
        await consumer.start()
        try:
            # Every partition's end as of the call: what is appended during the scan is not
            # part of it, whichever partition it lands in.
            tps = [TopicPartition(self._topic, p) for p in partitions]
            ends = await consumer.end_offsets(tps)
            for partition, tp in zip(partitions, tps, strict=True):
                start = self._start(partition, after)
                if start < 0:
                    continue
                consumer.assign([tp])
                end = ends[tp]
                if start >= end:
                    continue
                consumer.seek(tp, start)
                async for record in read_to(consumer, tp, end, max_records=self._batch):
                    if record.value is not None:
                        yield LogRecord(record.offset, record.value, partition)
        finally:
            await stop(consumer)
