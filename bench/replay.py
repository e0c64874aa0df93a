"""Replay throughput: how fast ``tidings replay`` rebuilds projections from the log.

Embedded: a log of N events (rooms of M members) replayed into a fresh SQLite projection.
Distributed: the same envelopes written to a fresh Kafka events topic (keyed by stream, as
Tidings does) and replayed into a fresh Cassandra keyspace. Needs infra/kafka.sh and
infra/cassandra.sh running for the second part. Bounded by the given counts.

Usage: python bench/replay.py [--messages 10000] [--distributed-messages 2000] [--members 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402

from domain import commands as c  # noqa: E402
from domain.values import EventMeta  # noqa: E402
from projections.store_cassandra import CassandraProjectionStore, migrate  # noqa: E402
from projections.store_sqlite import SqliteProjectionStore  # noqa: E402
from proto.codec import envelope_from_bytes  # noqa: E402
from streams.log_kafka import KafkaLogScanner  # noqa: E402
from streams.log_sqlite import EmbeddedLog  # noqa: E402
from streams.replay import replay  # noqa: E402
from streams.topics import Topics  # noqa: E402
from streams.topics_kafka import ensure_topics  # noqa: E402
from tests.infra import CASSANDRA_PORT, KAFKA, delete_topics, drop_keyspace, fresh_name  # noqa: E402


async def build_log(path: Path, messages: int, members: int) -> EmbeddedLog:
    log = EmbeddedLog(path)
    rooms = max(messages // 500, 1)
    room_ids = [uuid.uuid4() for _ in range(rooms)]
    for room_id in room_ids:
        owner = EventMeta("owner")
        await log.execute(c.CreateRoom(owner, room_id, "bench"))
        for m in range(members - 1):
            await log.execute(c.AddMember(owner, room_id, f"member{m}"))
    for start in range(0, messages, 500):
        await asyncio.gather(
            *(
                log.execute(c.PostMessage(EventMeta("owner"), room_ids[i % rooms], f"c{i}", "hi"))
                for i in range(start, min(start + 500, messages))
            )
        )
    return log


async def embedded(log: EmbeddedLog, tmp: Path) -> float:
    store = SqliteProjectionStore(tmp / "rebuilt.sqlite")
    started = time.perf_counter()
    result = await replay(log, store)
    elapsed = time.perf_counter() - started
    await store.close()
    print(
        f"embedded replay: {result.applied} events in {elapsed:.1f} s = "
        f"{result.applied / elapsed:,.0f} events/s (SQLite target)"
    )
    return result.applied / elapsed


async def distributed(log: EmbeddedLog, limit: int) -> float:
    name = fresh_name("benchreplay")
    topics = Topics(name, 2)
    await ensure_topics(KAFKA, topics)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5, enable_idempotence=True)
    await producer.start()
    written = 0
    async for record in log.scan():
        stream = envelope_from_bytes(record.data).stream
        await producer.send(topics.events, record.data, key=stream.encode())
        written += 1
        if written >= limit:
            break
    await producer.flush()
    await producer.stop()
    migrate(["127.0.0.1"], CASSANDRA_PORT, name)
    store = await CassandraProjectionStore.connect(["127.0.0.1"], CASSANDRA_PORT, name)
    try:
        started = time.perf_counter()
        result = await replay(KafkaLogScanner(KAFKA, topics.events), store)
        elapsed = time.perf_counter() - started
        print(
            f"distributed replay: {result.applied} events in {elapsed:.1f} s = "
            f"{result.applied / elapsed:,.0f} events/s (Kafka -> Cassandra keyspace)"
        )
        return result.applied / elapsed
    finally:
        await store.close()
        await asyncio.to_thread(drop_keyspace, name)
        await asyncio.to_thread(delete_topics, name)


async def measure_replay(quick: bool = False) -> dict[str, float]:
    """Replay events/s into each target, for bench/run.py."""
    messages, distributed_messages = (5_000, 2_000) if quick else (10_000, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        log = await build_log(Path(tmp) / "log.sqlite", messages, 5)
        try:
            return {
                "embedded (SQLite)": await embedded(log, Path(tmp)),
                "distributed (Kafka -> Cassandra)": await distributed(log, distributed_messages),
            }
        finally:
            log.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--distributed-messages", type=int, default=2_000)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--embedded-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = await build_log(Path(tmp) / "log.sqlite", args.messages, args.members)
        await embedded(log, Path(tmp))
        if not args.embedded_only:
            await distributed(log, args.distributed_messages)
        log.close()


if __name__ == "__main__":
    asyncio.run(main())
