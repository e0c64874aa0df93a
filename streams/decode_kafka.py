"""``tidings decode``: the event topic as JSON lines (protobuf JSON mapping)."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from proto.codec import envelope_from_bytes, envelope_to_dict

__all__ = ["print_events"]


async def print_events(bootstrap: str, topic: str, limit: int = 0) -> int:
    """Prints every committed event (or the first ``limit``), partition by partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    printed = 0
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        for partition in partitions:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    line = {
                        "partition": partition,
                        "offset": record.offset,
                        "key": (record.key or b"").decode(),
                        "event": envelope_to_dict(envelope_from_bytes(record.value)),
                    }
                    print(orjson.dumps(line).decode())
                    printed += 1
                    if limit and printed >= limit:
                        return 0
    finally:
        await consumer.stop()
    return 0
