"""Does a consumer holding a long fetch see a record (or a transaction's commit) at once?

``FETCH_MAX_WAIT_MS`` (streams/topics.py) is 500 ms on the grounds that the broker answers a
held fetch as soon as a record becomes readable, for read_committed consumers when the
transaction commits. This checks it on the Kafka that ``make infra`` runs: a consumer holds
fetches of 2 s; transactional and plain records are sent 300 ms apart; it prints, for each,
the time from the send's (or commit's) acknowledgement to the record's arrival.

Usage: python bench/kafka_fetch_wait.py [--bootstrap 127.0.0.1:9092]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

HOLD_MS = 2000
ROUNDS = 10


async def measure(bootstrap: str) -> None:
    topic = f"bench-fetch-wait-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    transactional = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic)
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
    await transactional.start()
    await plain.start()
    try:
        for isolation in ("read_committed", "read_uncommitted"):
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap,
                isolation_level=isolation,
                fetch_max_wait_ms=HOLD_MS,
            )
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.start()
            try:
                await consumer.seek_to_end(partition)
                waits: dict[str, list[float]] = {"transaction": [], "plain": []}
                for i in range(ROUNDS):
                    await asyncio.sleep(0.3)  # the consumer's fetch is held by now
                    kind = "transaction" if i % 2 == 0 else "plain"
                    if kind == "transaction":
                        async with transactional.transaction():
                            await transactional.send_and_wait(topic, b"x")
                    else:
                        await plain.send_and_wait(topic, b"x")
                    acknowledged = time.perf_counter()
                    while not await consumer.getmany(timeout_ms=5 * HOLD_MS):
                        pass
                    waits[kind].append((time.perf_counter() - acknowledged) * 1000)
                for kind, ms in waits.items():
                    print(
                        f"{isolation:17} {kind:11} acknowledged -> received: "
                        f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
                        f"(fetches held up to {HOLD_MS} ms)"
                    )
            finally:
                await consumer.stop()
    finally:
        await transactional.stop()
        await plain.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    asyncio.run(measure(parser.parse_args().bootstrap))


if __name__ == "__main__":
    main()
