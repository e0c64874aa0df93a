"""``tidings decode``: the event topic as JSON lines (protobuf JSON mapping)."""

from __future__ import annotations

import asyncio

import orjson
from aiokafka import AIOKafkaConsumer

from proto.codec import envelope_from_bytes, envelope_to_dict

__all__ = ["print_events"]


async def print_events(bootstrap: str, topic: str, limit: int = 0) -> int:
    """Prints every committed event up to the current end (or the first ``limit``)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    printed = 0
    try:
        for _ in range(200):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    line = {
                        "partition": tp.partition,
                        "offset": record.offset,
                        "key": (record.key or b"").decode(),
                        "event": envelope_to_dict(envelope_from_bytes(record.value)),
                    }
                    print(orjson.dumps(line).decode(), flush=True)
                    printed += 1
                    if limit and printed >= limit:
                        return 0
    finally:
        await consumer.stop()
    return 0
