"""Reading one partition of a transactional topic up to an end offset.

With ``read_committed``, a partition's last offset is often a transaction marker, which a
consumer never returns. aiokafka does not step its position over a marker that ends a
partition (aio-libs/aiokafka#911): a loop ``while position < end`` then waits forever. Here
a fetch that returns nothing, twice, with only the last offset left, means that offset is a
marker; a position that does not move for much longer is an error, not a hang.

Stopping such a consumer can hang too: aiokafka 0.14 sometimes never finishes cancelling its
fetch routine (seen in the contract tests about one run in five, right after a read to a
partition's end). :func:`stop` gives it a bound and leaves the rest to the process's exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.log import LogUnavailable

__all__ = ["read_to", "stop"]

log = structlog.get_logger(__name__)

MARKER_FETCHES = 2
"""Empty fetches with only the last offset left that show it is a transaction marker."""
STUCK_FETCHES = 60
"""Empty fetches without progress after which the partition is reported unavailable."""


async def read_to(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    end: int,
    *,
    timeout_ms: int = 1000,
    max_records: int = 2000,
) -> AsyncIterator[ConsumerRecord]:
    """The records of ``tp`` from the consumer's position up to ``end`` (exclusive)."""
    empty = 0
    while (position := await consumer.position(tp)) < end:
        batch = await consumer.getmany(tp, timeout_ms=timeout_ms, max_records=max_records)
        records = [r for r in batch.get(tp, []) if r.offset < end]
        if records or await consumer.position(tp) != position:
            empty = 0
            for record in records:
                yield record
            continue
        empty += 1
        if position == end - 1 and empty >= MARKER_FETCHES:
            return  # the last offset is a transaction marker
        if empty >= STUCK_FETCHES:
            raise LogUnavailable(f"{tp.topic}[{tp.partition}] makes no progress at {position}")


STOP_SECONDS = 10.0


async def stop(consumer: AIOKafkaConsumer, timeout: float = STOP_SECONDS) -> None:
    """Stops a consumer that reads by hand (no group), waiting at most ``timeout``."""
    stopping = asyncio.ensure_future(consumer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=timeout)
    if not done:
        log.warning("kafka_consumer_stop_timed_out", seconds=timeout)
