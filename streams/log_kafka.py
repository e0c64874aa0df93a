"""Kafka adapter of :class:`LogScanner`: the events topic read once, for tools.

It reads with ``read_committed`` (aborted transactions of a fenced processor are never
seen) and assigns partitions by hand, so it joins no consumer group and disturbs nobody.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.log import LogRecord, LogScanner, LogUnavailable

__all__ = ["KafkaLogScanner"]


class KafkaLogScanner(LogScanner):
    def __init__(self, bootstrap: str, topic: str, *, batch: int = 2000) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._batch = batch

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

    async def scan(self) -> AsyncIterator[LogRecord]:
        partitions = await self._partitions()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=15000,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self._topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=self._batch)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset < ends[tp] and record.value is not None:
                            yield LogRecord(record.offset, record.value, tp.partition)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
        finally:
            await consumer.stop()
