"""The embedded backend's factory: one process, a SQLite log, SQLite projections.

The projection runner follows the log in the serving process and hands its deliveries to
the hub; presence and typing never leave the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from api.apikeys import new_api_key
from api.backend import (
    Backend,
    Closer,
    Closers,
    GatewayParts,
    ReplayTarget,
    ServerHoldsLog,
    cancelling,
)
from api.cluster import SingleProcess
from api.hub import Hub
from api.leases import NoLeases
from api.mqtt_sessions_sqlite import SqliteMqttSessions
from api.server_lock import OPERATOR_KEY_FILE, DataDirLock
from api.settings import make_private_dir
from projections.changes import Delivery
from projections.projector import project
from projections.store import ProjectionStore
from projections.store_sqlite import SqliteProjectionStore
from streams.feed_sqlite import SqliteEventFeed
from streams.log import CommandBus, LogScanner
from streams.log_sqlite import EmbeddedLog
from streams.runner import ProjectionRunner

__all__ = ["EmbeddedBackend"]


class EmbeddedBackend(Backend):
    async def open_gateway(self) -> GatewayParts:
        s = self.settings
        make_private_dir(s.data_dir)
        closers = Closers()
        lock = DataDirLock(s.data_dir)
        if not lock.try_acquire():
            raise RuntimeError(f"another tidings server uses {s.data_dir}: stop it first")
        closers.add(_releasing(lock))
        operator_key = new_api_key()
        lock.leave_operator_key(operator_key, s.local_url)
        log = EmbeddedLog(s.log_path, s.large_room_members, s.namespaces)
        closers.add(_closing(log))
        # Projections are written on the event loop: no thread hop, no GIL contention per
        # batch (ADR 13); the log's writer thread is the only one that waits for the disk.
        store = SqliteProjectionStore(s.projections_path, inline_writes=True)
        closers.add(store.close)
        mqtt_sessions = SqliteMqttSessions(s.data_dir / "mqtt_sessions.db")
        closers.add(mqtt_sessions.close)
        hub = Hub(store.epoch, s.flush_interval_ms / 1000)
        runner = ProjectionRunner(log, store, project, hub.publish)
        closers.add(cancelling(asyncio.create_task(runner.run(), name="projection-runner")))

        async def relay(deliveries: Sequence[Delivery]) -> None:
            hub.publish(deliveries)

        # Devices the projections still show online from an earlier run of this process.
        stale = [(row.user_id, d) for row in await store.online_users() for d in row.devices]
        return GatewayParts(
            log,
            store,
            hub,
            runner,
            relay,
            NoLeases(),
            mqtt_sessions,
            runner.readiness,
            closers,
            lambda name: SqliteEventFeed(log, s.data_dir / "observers.db", name),
            stale,
            cluster=SingleProcess(runner.readiness),
            operator_key=operator_key,
        )

    def run_processor(self, *, with_commands: bool) -> int:
        raise ValueError(
            "the embedded server projects in its own process; the processor runs only in "
            "distributed mode (TIDINGS_MODE=distributed)"
        )

    async def migrate(self) -> list[str]:
        make_private_dir(self.settings.data_dir)
        return [f"embedded: {self.settings.data_dir} is ready (the server creates its files)"]

    async def open_command_bus(self, closers: Closers) -> CommandBus:
        s = self.settings
        make_private_dir(s.data_dir)
        lock = DataDirLock(s.data_dir)
        if not lock.try_acquire():
            raise ServerHoldsLog(s.data_dir / OPERATOR_KEY_FILE)
        closers.add(_releasing(lock))
        log = EmbeddedLog(s.log_path, s.large_room_members, s.namespaces)
        closers.add(_closing(log))
        return log

    async def open_scanner(self, closers: Closers) -> LogScanner:
        path = self.settings.log_path
        if not path.exists():
            raise FileNotFoundError(
                f"no event log at {path}: give --data-dir (or TIDINGS_DATA_DIR), or "
                "TIDINGS_MODE=distributed for Kafka and Cassandra"
            )
        log = EmbeddedLog(path)
        closers.add(_closing(log))
        return log

    async def open_projections(self, closers: Closers) -> ProjectionStore:
        store = SqliteProjectionStore(self.settings.projections_path)
        closers.add(store.close)
        return store

    async def open_replay_target(
        self, closers: Closers, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ReplayTarget:
        if target_dir is None:
            raise ValueError("give --target-dir (a new directory) in embedded mode")
        if target_dir.resolve() == self.settings.data_dir.resolve():
            raise ValueError("the target directory must not be the live data directory")
        path = target_dir / "projections.sqlite"
        if create:
            make_private_dir(target_dir)
        elif not path.exists():
            raise FileNotFoundError(f"no replay at {path}: run tidings replay --target-dir first")
        store = SqliteProjectionStore(path)
        closers.add(store.close)
        return ReplayTarget(store, str(target_dir))


def _closing(log: EmbeddedLog) -> Closer:
    async def close() -> None:
        log.close()

    return close


def _releasing(lock: DataDirLock) -> Closer:
    async def release() -> None:
        lock.release()

    return release
