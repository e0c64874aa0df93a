"""The distributed backend's factory: Kafka for the log, Cassandra for the projections.

A gateway sends commands over the Kafka command bus, reads Cassandra, and gets its live
deliveries from the live topic; the processor (``tidings processor``) runs the command
processor and the Faust projectors.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import prometheus_client

from api import metrics
from api.backend import Backend, Closers, GatewayParts, ReplayTarget
from api.cluster import StatusReporter
from api.cluster_distributed import DistributedCluster
from api.hub import Hub
from api.leases_cassandra import CassandraDeviceLeases
from api.mqtt_sessions_cassandra import CassandraMqttSessions
from projections.changes import Delivery
from projections.store import ProjectionStore
from projections.store_cassandra import CassandraProjectionStore
from projections.store_cassandra import migrate as migrate_keyspace
from streams import tracing
from streams.command_bus_kafka import KafkaCommandBus
from streams.feed_kafka import KafkaEventFeed
from streams.live_kafka import KafkaLivePublisher, KafkaLiveSubscriber
from streams.log import CommandBus, LogScanner
from streams.log_kafka import KafkaLogScanner
from streams.pipeline import TRACKING_NAME
from streams.progress import TrackedProgress
from streams.topics import Topics
from streams.topics_kafka import cluster_epoch, ensure_topics

__all__ = ["DistributedBackend"]


class DistributedBackend(Backend):
    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix, self.settings.partitions)

    async def _connect(self, keyspace: str) -> CassandraProjectionStore:
        s = self.settings
        return await CassandraProjectionStore.connect(
            s.cassandra_contact_points, s.cassandra_port, keyspace
        )

    async def open_command_bus(self, closers: Closers) -> CommandBus:
        """Commands go to the command processor, like a gateway's (it must be running)."""
        s = self.settings
        bus = KafkaCommandBus(
            s.kafka_bootstrap,
            self.topics,
            f"cli-{uuid.uuid4().hex[:12]}",
            timeout=s.command_timeout_seconds,
        )
        await bus.start()
        closers.add(bus.stop)
        return bus

    async def open_gateway(self) -> GatewayParts:
        s, topics, closers = self.settings, self.topics, Closers()
        try:
            store = await self._connect(s.cassandra_keyspace)
            closers.add(store.close)
            hub = Hub(store.epoch, s.flush_interval_ms / 1000, inbox_after="inbox")
            gateway_id = s.gateway_id or f"gw-{uuid.uuid4().hex[:12]}"
            bus = KafkaCommandBus(
                s.kafka_bootstrap, topics, gateway_id, timeout=s.command_timeout_seconds
            )
            await bus.start()
            closers.add(bus.stop)
            publisher = KafkaLivePublisher(s.kafka_bootstrap, topics)
            await publisher.start()
            closers.add(publisher.stop)
            subscriber = KafkaLiveSubscriber(s.kafka_bootstrap, topics, hub.publish, hub.is_local)
            await subscriber.start()
            closers.add(subscriber.stop)
        except BaseException:
            await closers.close()
            raise

        async def relay(deliveries: Sequence[Delivery]) -> None:
            for delivery in deliveries:
                await publisher.publish(delivery)

        async def readiness() -> dict[str, Any]:
            return {"ready": True, "gateway_id": gateway_id, "connections": hub.connection_count}

        leases = CassandraDeviceLeases(store, gateway_id, s.presence_lease_seconds)
        progress = TrackedProgress(store, TRACKING_NAME)
        return GatewayParts(
            bus,
            store,
            hub,
            progress,
            relay,
            leases,
            CassandraMqttSessions(store),
            readiness,
            closers,
            lambda name: KafkaEventFeed(s.kafka_bootstrap, topics, name),
            cluster=DistributedCluster(store, s.kafka_bootstrap, topics),
            process_id=gateway_id,
            process_kind="gateway",
        )

    def run_processor(self, *, with_commands: bool) -> int:
        from streams.command_processor_kafka import KafkaCommandProcessor
        from streams.faust_app import create_faust_app, quiet_worker

        s, topics = self.settings, self.topics
        metrics.PROCESS.info({"role": "processor", "mode": "distributed"})
        if s.tracing:
            tracing.configure("tidings-processor", s.otlp_endpoint)
        if s.processor_metrics_port is not None:
            # Plain text on its own port; a metrics token guards only the gateways' (their
            # /metrics shares the public port), so keep this one on a private address.
            prometheus_client.start_http_server(s.processor_metrics_port, addr=s.host)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        store = loop.run_until_complete(self._connect(s.cassandra_keyspace))
        processor = None
        if with_commands:
            epoch = loop.run_until_complete(cluster_epoch(s.kafka_bootstrap))
            processor = KafkaCommandProcessor(
                s.kafka_bootstrap,
                topics,
                epoch,
                large_room_members=s.large_room_members,
                namespaces=s.namespaces,
            )
        app = create_faust_app(
            app_id=s.processor_app_id,
            bootstrap=s.kafka_bootstrap,
            topics=topics,
            store=store,
            command_processor=processor,
        )
        # Listed in the admin overview beside the gateways (its lag is the partitions').
        cluster = DistributedCluster(store, s.kafka_bootstrap, topics)
        reporter = StatusReporter(cluster, f"proc-{uuid.uuid4().hex[:12]}", "processor", lambda: 0)
        self._reporting = loop.create_task(reporter.run(), name="status")  # ends with the loop
        worker = quiet_worker(app, loop, s.log_level.upper())
        worker.execute_from_commandline()
        return 0

    async def migrate(self) -> list[str]:
        s = self.settings
        created = await ensure_topics(s.kafka_bootstrap, self.topics)
        epoch = await asyncio.to_thread(
            migrate_keyspace,
            s.cassandra_contact_points,
            s.cassandra_port,
            s.cassandra_keyspace,
            s.cassandra_replication_factor,
        )
        return [
            f"kafka topics created: {', '.join(created) or 'none (all existed)'}",
            f"cassandra keyspace {s.cassandra_keyspace} ready (inbox epoch {epoch})",
        ]

    async def open_scanner(self, closers: Closers) -> LogScanner:
        return KafkaLogScanner(self.settings.kafka_bootstrap, self.topics.events)

    async def open_projections(self, closers: Closers) -> ProjectionStore:
        store = await self._connect(self.settings.cassandra_keyspace)
        closers.add(store.close)
        return store

    async def open_replay_target(
        self, closers: Closers, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ReplayTarget:
        s = self.settings
        if not keyspace:
            raise ValueError("give --keyspace (a new one) in distributed mode")
        if keyspace == s.cassandra_keyspace:
            raise ValueError("the target keyspace must not be the live one")
        if create:
            hosts, port, rf = (
                s.cassandra_contact_points,
                s.cassandra_port,
                s.cassandra_replication_factor,
            )
            await asyncio.to_thread(migrate_keyspace, hosts, port, keyspace, rf)
        store = await self._connect(keyspace)
        closers.add(store.close)

        async def finish(last_offsets: dict[int, int]) -> None:
            """Records how far each events partition is projected, as the live pipeline
            does, so gateways switched to the target see their writes (read-your-writes)
            at once."""
            for partition, offset in last_offsets.items():
                await store.track(TRACKING_NAME, partition, offset)

        return ReplayTarget(store, keyspace, finish)
