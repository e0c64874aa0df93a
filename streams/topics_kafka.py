"""Creates the Kafka topics (idempotent) and reads the cluster's identity."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.topics import Topics

__all__ = ["cluster_epoch", "ensure_topics"]


async def ensure_topics(bootstrap: str, topics: Topics, replication_factor: int = 1) -> list[str]:
    """Creates missing topics with their partition counts and configs; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication_factor, topic_configs=config)
            for name, (partitions, config) in topics.configs().items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def cluster_epoch(bootstrap: str) -> str:
    """The Kafka cluster id, shortened: it changes only if the log itself is lost."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        return str(cluster["cluster_id"])[:12]
    finally:
        await admin.close()
