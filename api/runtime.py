"""The composition root: the one module that chooses the backend, from typed settings.

:func:`open_backend` is the only place that looks at ``settings.mode``; every kind of
process is built here from the backend it returns:

- :func:`open_runtime`: a serving process (the embedded server, or a distributed gateway);
- :meth:`Backend.run_processor`: the distributed command processor and projectors;
- :func:`open_log_tools`: the operator tools (decode, verify, replay, audit);
- :meth:`Backend.migrate`: create topics, keyspaces, directories.

Backend modules are imported inside :func:`open_backend`, so an embedded process never
loads the Kafka, Cassandra or Faust clients.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from api import metrics
from api.apikeys import ApiKeyVerifier
from api.auth import KeySetFile, TokenVerifier
from api.backend import Backend, Closers, GatewayParts, ReplayTarget, cancelling
from api.cluster import StatusReporter
from api.connect_proxy import ConnectProxy
from api.leases import LeasedPresence, reap_forever
from api.limits import BucketsByKey, GatewayLimits, Rate
from api.mqtt import MqttGateway
from api.observers import ObserverRunner
from api.plugins import load_plugins
from api.presence import PresenceTracker
from api.service import Tidings
from api.settings import Settings
from api.ws import GatewayContext
from domain import commands as c
from domain.namespaces import DEFAULT_NAMESPACE, Namespaces
from domain.values import EventMeta, PresenceStatus, new_trace_id
from projections.store import ProjectionStore
from streams import tracing
from streams.log import LogScanner

__all__ = ["LogTools", "Runtime", "open_backend", "open_log_tools", "open_runtime"]


def open_backend(settings: Settings) -> Backend:
    if settings.mode == "distributed":
        try:
            from api.backend_distributed import DistributedBackend
        except ImportError as exc:
            raise ValueError(
                f"distributed mode needs its libraries ({exc.name} is missing): "
                "pip install 'tidings[distributed]'"
            ) from exc
        return DistributedBackend(settings)
    from api.backend_embedded import EmbeddedBackend

    return EmbeddedBackend(settings)


def token_verifier(settings: Settings) -> TokenVerifier:
    public_key = settings.jwt_public_key_file.read_text() if settings.jwt_public_key_file else None
    secret = settings.jwt_secret
    if settings.development_mode:
        secret = settings.development_secret()
    key_set = KeySetFile(settings.jwt_jwks_file) if settings.jwt_jwks_file else None
    return TokenVerifier(
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        secret=secret,
        public_key=public_key,
        key_set=key_set,
        algorithms=settings.jwt_algorithms,
        leeway=settings.jwt_leeway_seconds,
    )


def gateway_limits(settings: Settings) -> GatewayLimits:
    s = settings
    return GatewayLimits(
        writes=Rate(s.send_rate, s.send_burst),
        reads=Rate(s.read_rate, s.read_burst),
        user_writes=BucketsByKey(Rate(s.user_send_rate, s.user_send_burst)),
        connects=BucketsByKey(Rate(s.connect_rate, s.connect_burst)),
        max_connections_per_user=s.max_connections_per_user,
        max_refused_in_a_row=s.max_rate_limited_in_a_row,
    )


@dataclass
class Runtime:
    """A serving process: the backend's parts and the gateway built on them."""

    parts: GatewayParts
    service: Tidings
    verifier: TokenVerifier
    presence: PresenceTracker
    gateway: GatewayContext
    settings: Settings
    api_keys: ApiKeyVerifier
    mqtt: MqttGateway

    async def readiness(self) -> dict[str, Any]:
        """The readiness report; its "ready" key says whether to serve traffic."""
        return await self.parts.readiness()

    async def close(self) -> None:
        await self.gateway.ticker.close()
        await self.presence.close()
        await self.parts.closers.close()


log = structlog.get_logger(__name__)

OPERATOR = EventMeta("operator", "config")
"""Who records the namespaces file's settings in the log."""


async def record_namespaces(service: Tidings, namespaces: Namespaces, attempts: int = 30) -> None:
    """Records each namespace's settings in the log unless they are the ones recorded last
    (the single writer of ``namespace:<name>`` decides, so gateways starting together record
    a change once). In the background, retried: a gateway may start before its processor."""
    for rules in namespaces:
        meta = replace(OPERATOR, trace_id=new_trace_id(), namespaces=namespaces.names)
        command = c.ConfigureNamespace(meta, rules.name, rules.settings_json())
        for attempt in range(attempts):
            try:
                result = await service.execute(command)
            except Exception as exc:  # unavailable, or a timeout: try again soon
                log.warning("namespace_not_recorded_yet", namespace=rules.name, error=repr(exc))
                await asyncio.sleep(min(0.5 * 2**attempt, 5.0))
                continue
            if not result.duplicate:
                log.info(
                    "namespace_configured", namespace=rules.name, position=result.envelope.position
                )
            break


async def open_runtime(settings: Settings) -> Runtime:
    parts = await open_backend(settings).open_gateway()
    config = settings.app_config
    plugins = load_plugins(list(config.namespaces), config.plugins)
    service = Tidings(
        parts.bus,
        parts.store,
        parts.progress,
        parts.relay,
        history_page_max=settings.history_page_max,
        namespaces=config.namespaces,
        plugins=plugins,
    )

    async def log_presence(user_id: str, device_id: str, status: PresenceStatus) -> None:
        # A connection outside default counts as the device "<namespace>:<device>", and
        # its presence is told in that namespace only (api/ws.py).
        prefix, _, _ = device_id.partition(":")
        namespace = prefix if prefix in config.namespaces.names - {DEFAULT_NAMESPACE} else ""
        meta = EventMeta(user_id, device_id, new_trace_id(), namespace)
        await service.execute(c.ChangePresence(meta, status))

    emit = LeasedPresence(log_presence, parts.leases)
    presence = PresenceTracker(
        emit,
        settings.presence_grace_seconds,
        Rate(settings.presence_rate, settings.presence_burst),
    )
    presence.adopt_stale(parts.stale_devices)
    metrics.watch_connections(parts.hub.census)
    if settings.tracing and not tracing.enabled():
        tracing.configure("tidings-gateway", settings.otlp_endpoint)
    reaper = reap_forever(parts.leases, emit, settings.presence_lease_seconds)
    # Closers run last first: the reaper stops before the store closes.
    parts.closers.add(cancelling(asyncio.create_task(reaper, name="presence-leases")))
    if parts.cluster is not None:
        reporter = StatusReporter(
            parts.cluster, parts.process_id, parts.process_kind, lambda: parts.hub.connection_count
        )
        parts.closers.add(cancelling(asyncio.create_task(reporter.run(), name="status")))
    if settings.namespaces_file is not None:
        recording = record_namespaces(service, config.namespaces)
        parts.closers.add(cancelling(asyncio.create_task(recording, name="record-namespaces")))
    parts.closers.add(plugins.close)
    if parts.open_feed is not None:
        for name, observer, namespaces, plugin in plugins.observers():
            feed = parts.open_feed(name)
            parts.closers.add(feed.close)
            runner = ObserverRunner(name, observer, namespaces, feed, plugin.timeout_seconds)
            runner.start()
            parts.closers.add(runner.stop)
    verifier = token_verifier(settings)
    proxy = None
    if settings.connect_proxy_url:
        proxy = ConnectProxy(
            settings.connect_proxy_url,
            settings.connect_proxy_secret,
            settings.connect_proxy_timeout_seconds,
        )
        parts.closers.add(proxy.close)
    gateway = GatewayContext(
        service,
        parts.hub,
        verifier,
        presence,
        settings.session_config(),
        settings.catch_up_limit,
        gateway_limits(settings),
        config.namespaces,
        proxy,
    )
    api_keys = ApiKeyVerifier(parts.store, settings.api_key_cache_seconds, parts.operator_key)
    mqtt = MqttGateway(
        gateway,
        parts.mqtt_sessions,
        api_keys,
        settings.mqtt_max_in_flight,
        settings.max_frame_bytes,
    )
    return Runtime(parts, service, verifier, presence, gateway, settings, api_keys, mqtt)


class LogTools:
    """What the operator tools work with: the log's scanner (open from the start), stores
    opened on request, all closed by :meth:`close`."""

    def __init__(self, backend: Backend, scanner: LogScanner, closers: Closers) -> None:
        self.scanner = scanner
        self._backend = backend
        self._closers = closers

    async def live(self) -> ProjectionStore:
        """The projection the servers read."""
        return await self._backend.open_projections(self._closers)

    async def target(
        self, target_dir: Path | None, keyspace: str | None, *, create: bool
    ) -> ReplayTarget:
        """A replay target (see :meth:`Backend.open_replay_target`)."""
        return await self._backend.open_replay_target(
            self._closers, target_dir, keyspace, create=create
        )

    async def close(self) -> None:
        await self._closers.close()


async def open_log_tools(settings: Settings) -> LogTools:
    backend = open_backend(settings)
    closers = Closers()
    return LogTools(backend, await backend.open_scanner(closers), closers)
