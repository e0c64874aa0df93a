"""The distributed deployment's :class:`ClusterView`: process reports in Cassandra (rows
written with a TTL, gone when a process stops), lag against Kafka's end offsets: the
projectors' tracked offsets (``tracking``) and the command processor's committed ones."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from api.cluster import REPORT_SECONDS, ClusterView, ProcessStatus
from projections.store_cassandra import CassandraProjectionStore
from streams.kafka_read import stop
from streams.pipeline import TRACKING_NAME
from streams.topics import Topics

__all__ = ["DistributedCluster"]

KEEP_SECONDS = int(REPORT_SECONDS * 5)


class DistributedCluster(ClusterView):
    def __init__(self, store: CassandraProjectionStore, bootstrap: str, topics: Topics) -> None:
        self._store = store
        self._bootstrap = bootstrap
        self._topics = topics

    async def report(self, status: ProcessStatus) -> None:
        body = status.to_json()
        await self._store.execute(
            "INSERT INTO process_status (process_id, status) VALUES (?, ?) USING TTL ?",
            (status.process_id, json.dumps(body), KEEP_SECONDS),
        )

    async def processes(self) -> list[ProcessStatus]:
        rows = await self._store.execute("SELECT status FROM process_status")
        return sorted(
            (ProcessStatus(**json.loads(r.status)) for r in rows), key=lambda p: p.process_id
        )

    async def lag(self) -> dict[str, Any]:
        partitions = range(self._topics.partitions)
        events = [TopicPartition(self._topics.events, p) for p in partitions]
        commands = [TopicPartition(self._topics.commands, p) for p in partitions]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=10000,
        )
        await consumer.start()
        try:
            ends = await consumer.end_offsets([*events, *commands])
        finally:
            await stop(consumer)
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            group = f"{self._topics.prefix}-command-processor"
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        projection = {}
        for tp in events:
            # Tracked: the last offset projected. Events are written in transactions, each
            # ending with a marker that takes an offset: the record after the tracked one
            # is its marker, so caught up is end == tracked + 2, and further markers make
            # the figure an upper bound of the records left.
            tracked = await self._store.tracked(TRACKING_NAME, tp.partition)
            behind = ends[tp] if tracked < 0 else ends[tp] - tracked - 2
            projection[tp.partition] = max(behind, 0)
        decided = {
            tp.partition: max(ends[tp] - (committed[tp].offset if tp in committed else 0), 0)
            for tp in commands
        }
        return {
            "projections": sum(projection.values()),
            "commands": sum(decided.values()),
            "partitions": {"projections": projection, "commands": decided},
        }
