"""``tidings processor``: the Faust worker with the projectors and the command processor."""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from projections.store_cassandra import CassandraProjectionStore
from streams.command_processor_kafka import KafkaCommandProcessor
from streams.faust_app import create_faust_app
from streams.topics import Topics
from streams.topics_kafka import cluster_epoch

__all__ = ["run_processor"]


def run_processor(settings: Any, *, with_commands: bool = True) -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    topics = Topics(settings.topic_prefix, settings.partitions)
    store = loop.run_until_complete(
        CassandraProjectionStore.connect(
            settings.cassandra_contact_points,
            settings.cassandra_port,
            settings.cassandra_keyspace,
        )
    )
    processor = None
    if with_commands:
        epoch = loop.run_until_complete(cluster_epoch(settings.kafka_bootstrap))
        processor = KafkaCommandProcessor(
            settings.kafka_bootstrap,
            topics,
            epoch,
            large_room_members=settings.large_room_members,
        )
    app = create_faust_app(
        app_id=settings.processor_app_id,
        bootstrap=settings.kafka_bootstrap,
        topics=topics,
        store=store,
        command_processor=processor,
    )
    worker = faust.Worker(app, loop=loop, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0
