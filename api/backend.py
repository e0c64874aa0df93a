"""The port the composition root builds processes from: one factory per backend.

``backend_embedded.py`` (SQLite log and projections, an in-process projection runner) and
``backend_distributed.py`` (Kafka and Cassandra) each make the adapters of their backend,
as eventsourcing's persistence modules each have a ``Factory``. ``api/runtime.py`` picks one
from the settings and builds every kind of process (server, processor, tools, migrate)
from it; nothing else looks at the mode.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.apikeys import NewKey
from api.cluster import ClusterView
from api.hub import Hub
from api.leases import DeviceLeases
from api.mqtt_sessions import MqttSessions
from api.service import Relay
from api.settings import Settings
from projections.store import ProjectionStore
from streams.feed import EventFeed
from streams.log import CommandBus, LogScanner, ProjectionProgress

__all__ = [
    "Backend",
    "Closer",
    "Closers",
    "GatewayParts",
    "ReplayTarget",
    "ServerHoldsLog",
    "cancelling",
]


class ServerHoldsLog(Exception):
    """A running embedded server is the log's single writer: operator commands go to it,
    with the key it left in ``key_file`` (readable by the data directory's owner only)."""

    def __init__(self, key_file: Path) -> None:
        super().__init__(f"a server uses this data directory (its operator key: {key_file})")
        self.key_file = key_file


Closer = Callable[[], Awaitable[None]]


class Closers:
    """Things to close, last opened first; a failing closer does not stop the others."""

    def __init__(self) -> None:
        self._closers: list[Closer] = []

    def add(self, closer: Closer) -> None:
        self._closers.append(closer)

    async def close(self) -> None:
        while self._closers:
            with contextlib.suppress(Exception):
                await self._closers.pop()()


def cancelling(task: asyncio.Task[None]) -> Closer:
    """A closer that stops a background task."""

    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return cancel


@dataclass
class GatewayParts:
    """The backend's half of a gateway: where commands go, what it reads, how live
    deliveries reach its hub."""

    bus: CommandBus
    store: ProjectionStore
    hub: Hub
    progress: ProjectionProgress
    relay: Relay
    """Sends ephemeral deliveries (typing, volatile events) to every gateway's hub."""
    leases: DeviceLeases
    mqtt_sessions: MqttSessions
    """Where persistent MQTT sessions wait between a device's connections."""
    readiness: Callable[[], Awaitable[dict[str, Any]]]
    """The readiness report; its "ready" key says whether to serve traffic."""
    closers: Closers = field(default_factory=Closers)
    open_feed: Callable[[str], EventFeed] | None = None
    """Opens the log as a feed of the given name (plugin observers: ``streams/feed.py``)."""
    stale_devices: list[tuple[str, str]] = field(default_factory=list)
    """(user, device) the projections show online that no gateway will take offline: the
    gateway takes them offline after the grace period unless they reconnect."""
    cluster: ClusterView | None = None
    """Every serving process's status and the pipeline's lag (the admin overview)."""
    process_id: str = "server"
    process_kind: str = "server"
    """"server" (the embedded one) or "gateway"."""
    operator_key: NewKey | None = None
    """An admin key that lives as long as this process, for the operator's tools on the
    same machine (embedded mode: the log has one writer, this process)."""


async def _nothing_to_finish(last_offsets: dict[int, int]) -> None:
    return None


@dataclass
class ReplayTarget:
    store: ProjectionStore
    name: str
    """The directory or keyspace, for messages."""
    finish: Callable[[dict[int, int]], Awaitable[None]] = _nothing_to_finish
    """Whatever the live pipeline needs, beyond the projections, to take over the target,
    given the last offset replayed per partition (nothing for the embedded runner: it
    resumes from the store's own offset)."""


class Backend(ABC):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    async def open_gateway(self) -> GatewayParts:
        """Everything a serving process needs from the backend, started."""

    @abstractmethod
    def run_processor(self, *, with_commands: bool) -> int:
        """Runs the command processor and projectors until stopped (blocking)."""

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Creates what the backend needs (idempotent); returns what it did, line by line."""

    @abstractmethod
    async def open_command_bus(self, closers: Closers) -> CommandBus:
        """A command bus for the operator's tools (API keys); raises
        :class:`ServerHoldsLog` when only a running server may write the log."""

    @abstractmethod
    async def open_scanner(self, closers: Closers) -> LogScanner:
        """The log, for the operator tools."""

    @abstractmethod
    async def open_projections(self, closers: Closers) -> ProjectionStore:
        """The projection the servers read."""

    @abstractmethod
    async def open_replay_target(
        self, closers: Closers, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ReplayTarget:
        """A replay target, never the live one (ValueError); with ``create`` it is made if
        missing, otherwise it must exist (FileNotFoundError / StoreUnavailable)."""
