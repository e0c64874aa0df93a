"""The composition root: the only place that chooses adapters, from typed settings.

``open_runtime(settings)`` wires the embedded adapters (SQLite log and projections, an
in-process projection runner) or the distributed ones (Kafka command bus and live topic,
Cassandra projections); everything above it — service, sessions, REST — is the same.
Backend modules are imported inside their builder, so an embedded process never loads the
Kafka, Cassandra or Faust clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.auth import TokenVerifier
from api.hub import Hub
from api.leases import DeviceLeases, NoLeases, reap_forever
from api.presence import PresenceTracker
from api.service import Tidings, TypingRelay
from api.settings import Settings
from api.ws import GatewayContext
from domain import commands as c
from domain.values import EventMeta, PresenceStatus, new_trace_id
from projections.projector import project
from projections.store import ProjectionStore
from proto.wire import typing_frame
from streams.log import CommandBus, LogScanner, ProjectionProgress
from streams.topics import Topics

__all__ = ["LogTools", "Runtime", "open_log_tools", "open_runtime", "token_verifier"]

Closer = Callable[[], Awaitable[None]]


def token_verifier(settings: Settings) -> TokenVerifier:
    public_key = settings.jwt_public_key_file.read_text() if settings.jwt_public_key_file else None
    secret = settings.jwt_secret
    if secret is None and public_key is None:
        secret = settings.development_secret()
    return TokenVerifier(
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        secret=secret,
        public_key=public_key,
        algorithms=settings.jwt_algorithms,
        leeway=settings.jwt_leeway_seconds,
    )


@dataclass
class Runtime:
    settings: Settings
    bus: CommandBus
    store: ProjectionStore
    hub: Hub
    service: Tidings
    verifier: TokenVerifier
    presence: PresenceTracker
    gateway: GatewayContext
    readiness: Callable[[], Awaitable[dict[str, Any]]]
    """Returns the readiness report; its "ready" key says whether to serve traffic."""
    closers: list[Closer] = field(default_factory=list)

    async def close(self) -> None:
        await self.gateway.ticker.close()
        await self.presence.close()
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                await closer()


def _assemble(
    settings: Settings,
    bus: CommandBus,
    store: ProjectionStore,
    hub: Hub,
    progress: ProjectionProgress,
    typing: TypingRelay,
    readiness: Callable[[], Awaitable[dict[str, Any]]],
    closers: list[Closer],
    leases: DeviceLeases | None = None,
) -> Runtime:
    service = Tidings(bus, store, progress, typing, history_page_max=settings.history_page_max)
    held = leases or NoLeases()

    async def emit_presence(user_id: str, device_id: str, status: PresenceStatus) -> None:
        meta = EventMeta(user_id, device_id, new_trace_id())
        await service.execute(c.ChangePresence(meta, status))
        if status == PresenceStatus.OFFLINE:
            await held.detach(user_id, device_id)
        else:
            await held.attach(user_id, device_id)

    presence = PresenceTracker(emit_presence, settings.presence_grace_seconds)
    if leases is not None:
        reaper = asyncio.create_task(
            reap_forever(leases, emit_presence, settings.presence_lease_seconds),
            name="presence-leases",
        )

        async def stop_reaper() -> None:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper

        closers.append(stop_reaper)  # closers run last first: before the store closes
    verifier = token_verifier(settings)
    gateway = GatewayContext(
        service, hub, verifier, presence, settings.session_config(), settings.catch_up_limit
    )
    return Runtime(
        settings, bus, store, hub, service, verifier, presence, gateway, readiness, closers
    )


def _local_typing(hub: Hub) -> TypingRelay:
    async def relay(user_ids: Iterable[str], room_id: str, user_id: str, typing: bool) -> None:
        hub.push_to(user_ids, typing_frame(room_id, user_id, typing))

    return relay


async def _embedded(settings: Settings) -> Runtime:
    from projections.store_sqlite import SqliteProjectionStore
    from streams.log_sqlite import EmbeddedLog
    from streams.runner import ProjectionRunner

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = EmbeddedLog(settings.log_path, settings.large_room_members)
    # Projections are written on the event loop: no thread hop, no GIL contention per batch
    # (ADR 13); the log's writer thread is the only one that waits for the disk.
    store = SqliteProjectionStore(settings.projections_path, inline_writes=True)
    hub = Hub(store.epoch, settings.flush_interval_ms / 1000)
    runner = ProjectionRunner(log, store, project, hub.publish)
    task = asyncio.create_task(runner.run(), name="projection-runner")

    async def readiness() -> dict[str, Any]:
        head = await log.head()
        return {
            "ready": runner.caught_up_once,
            "log_head": head,
            "projected": runner.offset,
            "lag": head - runner.offset,
        }

    async def stop_runner() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close_log() -> None:
        log.close()

    runtime = _assemble(
        settings,
        log,
        store,
        hub,
        runner,
        _local_typing(hub),
        readiness,
        [store.close, close_log, stop_runner],
    )
    stale = await store.online_users()
    runtime.presence.adopt_stale([(r.user_id, d) for r in stale for d in r.devices])
    return runtime


async def _distributed(settings: Settings) -> Runtime:
    from api.leases_cassandra import CassandraDeviceLeases
    from projections.store_cassandra import CassandraProjectionStore
    from streams.command_bus_kafka import KafkaCommandBus
    from streams.live_kafka import KafkaLivePublisher, KafkaLiveSubscriber
    from streams.pipeline import TRACKING_NAME
    from streams.progress import TrackedProgress

    topics = Topics(settings.topic_prefix, settings.partitions)
    store = await CassandraProjectionStore.connect(
        settings.cassandra_contact_points, settings.cassandra_port, settings.cassandra_keyspace
    )
    closers: list[Closer] = [store.close]
    hub = Hub(store.epoch, settings.flush_interval_ms / 1000)
    gateway_id = settings.gateway_id or f"gw-{uuid.uuid4().hex[:12]}"
    bus = KafkaCommandBus(
        settings.kafka_bootstrap, topics, gateway_id, timeout=settings.command_timeout_seconds
    )
    await bus.start()
    closers.append(bus.stop)
    publisher = KafkaLivePublisher(settings.kafka_bootstrap, topics)
    await publisher.start()
    closers.append(publisher.stop)
    subscriber = KafkaLiveSubscriber(
        settings.kafka_bootstrap, topics, hub.deliver_live, hub.is_local
    )
    await subscriber.start()
    closers.append(subscriber.stop)

    async def readiness() -> dict[str, Any]:
        return {"ready": True, "gateway_id": gateway_id, "connections": hub.connection_count}

    return _assemble(
        settings,
        bus,
        store,
        hub,
        TrackedProgress(store, TRACKING_NAME),
        publisher.typing,
        readiness,
        closers,
        CassandraDeviceLeases(store, gateway_id, settings.presence_lease_seconds),
    )


async def open_runtime(settings: Settings) -> Runtime:
    if settings.mode == "distributed":
        return await _distributed(settings)
    return await _embedded(settings)


class LogTools(ABC):
    """The adapters the operator tools (verify, replay, audit) work with, chosen by mode.

    The log scanner is open from the start; stores are opened on request, and everything is
    closed by :meth:`close`.
    """

    def __init__(self, settings: Settings, scanner: LogScanner, closers: list[Closer]) -> None:
        self.settings = settings
        self.scanner = scanner
        self._closers = closers

    @abstractmethod
    async def live(self) -> ProjectionStore:
        """The projection the servers read."""

    @abstractmethod
    async def target(
        self, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ProjectionStore:
        """A replay target, never the live one (ValueError); with ``create`` it is made if
        missing, otherwise it must exist (FileNotFoundError / StoreUnavailable)."""

    async def finish_replay(self, target: ProjectionStore, last_offsets: dict[int, int]) -> None:
        """Whatever the live pipeline needs, beyond the projections, to take over ``target``
        (nothing by default: the embedded runner resumes from the target's own offset)."""
        return None

    def _closing(self, store: ProjectionStore) -> ProjectionStore:
        self._closers.append(store.close)
        return store

    async def close(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                await closer()


class _EmbeddedTools(LogTools):
    async def live(self) -> ProjectionStore:
        from projections.store_sqlite import SqliteProjectionStore

        return self._closing(SqliteProjectionStore(self.settings.projections_path))

    async def target(
        self, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ProjectionStore:
        from projections.store_sqlite import SqliteProjectionStore

        if target_dir is None:
            raise ValueError("give --target-dir (a new directory) in embedded mode")
        if target_dir.resolve() == self.settings.data_dir.resolve():
            raise ValueError("the target directory must not be the live data directory")
        path = target_dir / "projections.sqlite"
        if create:
            target_dir.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise FileNotFoundError(f"no replay at {path}: run tidings replay --target-dir first")
        return self._closing(SqliteProjectionStore(path))


class _DistributedTools(LogTools):
    async def _connect(self, keyspace: str) -> ProjectionStore:
        from projections.store_cassandra import CassandraProjectionStore

        s = self.settings
        store = await CassandraProjectionStore.connect(
            s.cassandra_contact_points, s.cassandra_port, keyspace
        )
        return self._closing(store)

    async def live(self) -> ProjectionStore:
        return await self._connect(self.settings.cassandra_keyspace)

    async def target(
        self, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ProjectionStore:
        from projections.store_cassandra import migrate

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
            await asyncio.to_thread(migrate, hosts, port, keyspace, rf)
        return await self._connect(keyspace)

    async def finish_replay(self, target: ProjectionStore, last_offsets: dict[int, int]) -> None:
        """Records how far each events partition is projected, as the live pipeline does, so
        gateways switched to ``target`` see their writes (read-your-writes) at once."""
        from projections.store_cassandra import CassandraProjectionStore
        from streams.pipeline import TRACKING_NAME

        assert isinstance(target, CassandraProjectionStore)
        for partition, offset in last_offsets.items():
            await target.track(TRACKING_NAME, partition, offset)


async def open_log_tools(settings: Settings) -> LogTools:
    if settings.mode == "distributed":
        from streams.log_kafka import KafkaLogScanner

        topics = Topics(settings.topic_prefix, settings.partitions)
        scanner = KafkaLogScanner(settings.kafka_bootstrap, topics.events)
        return _DistributedTools(settings, scanner, [])

    from streams.log_sqlite import EmbeddedLog

    if not settings.log_path.exists():
        raise FileNotFoundError(
            f"no event log at {settings.log_path}: give --data-dir (or TIDINGS_DATA_DIR), or "
            "TIDINGS_MODE=distributed for Kafka and Cassandra"
        )
    log = EmbeddedLog(settings.log_path)

    async def close_log() -> None:
        log.close()

    return _EmbeddedTools(settings, log, [close_log])
