"""The composition root: the only module that picks adapters, from typed settings.

``create_app(settings)`` builds the FastAPI app; its lifespan opens the embedded log and the
SQLite projections, starts the projection runner, and closes everything on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import metadata

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import metrics
from api.auth import AuthError, TokenVerifier
from api.errors import fault_of
from api.hub import Hub
from api.logs import configure_logging
from api.presence import PresenceTracker
from api.rest import router
from api.service import Tidings
from api.settings import Settings
from api.ws import Connection, GatewayContext
from domain import commands as c
from domain.errors import DomainError
from domain.values import EventMeta, PresenceStatus
from projections.projector import project
from projections.store import StoreUnavailable
from projections.store_sqlite import SqliteProjectionStore
from streams.log import LogUnavailable
from streams.log_sqlite import EmbeddedLog
from streams.runner import ProjectionRunner

__all__ = ["Runtime", "create_app", "token_verifier"]


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
    log: EmbeddedLog
    store: SqliteProjectionStore
    hub: Hub
    runner: ProjectionRunner
    service: Tidings
    verifier: TokenVerifier
    presence: PresenceTracker
    gateway: GatewayContext

    @classmethod
    def embedded(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log = EmbeddedLog(settings.log_path)
        store = SqliteProjectionStore(settings.projections_path)
        hub = Hub(store.epoch)
        runner = ProjectionRunner(log, store, project, hub.publish)
        service = Tidings(log, store, runner, hub, history_page_max=settings.history_page_max)

        async def emit_presence(user_id: str, device_id: str, status: PresenceStatus) -> None:
            meta = EventMeta(user_id, device_id, uuid.uuid4().hex[:16])
            await service.execute(c.ChangePresence(meta, status))

        presence = PresenceTracker(emit_presence, settings.presence_grace_seconds)
        verifier = token_verifier(settings)
        gateway = GatewayContext(
            service, hub, verifier, presence, settings.session_config(), settings.catch_up_limit
        )
        return cls(settings, log, store, hub, runner, service, verifier, presence, gateway)

    async def start(self) -> asyncio.Task[None]:
        stale = await self.store.online_users()
        self.presence.adopt_stale([(r.user_id, d) for r in stale for d in r.devices])
        return asyncio.create_task(self.runner.run(), name="projection-runner")

    async def stop(self, runner_task: asyncio.Task[None]) -> None:
        await self.presence.close()
        runner_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner_task
        self.log.close()
        await self.store.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.embedded(settings)
        app.state.runtime = runtime
        task = await runtime.start()
        try:
            yield
        finally:
            await runtime.stop(task)

    app = FastAPI(
        title="Tidings",
        version=metadata.version("tidings"),
        description="Event-sourced real-time messaging: REST API. "
        "The WebSocket protocol at /v1/ws is documented in docs/protocol.md.",
        lifespan=lifespan,
    )
    app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        fault = fault_of(exc)
        body = {"code": fault.name, "message": fault.message, "temporary": fault.temporary}
        headers = {"Retry-After": "1"} if fault.status == 503 else None
        return JSONResponse({"error": body}, status_code=fault.status, headers=headers)

    # Expected failures are answered here; anything else is a bug and becomes a plain 500.
    for expected in (DomainError, AuthError, StoreUnavailable, LogUnavailable):
        app.add_exception_handler(expected, on_error)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        body = {"code": "INVALID_ARGUMENT", "message": message, "temporary": False}
        return JSONResponse({"error": body}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        head = await runtime.log.head()
        ready = runtime.runner.caught_up_once
        body = {
            "status": "ready" if ready else "catching_up",
            "log_head": head,
            "projected": runtime.runner.offset,
            "lag": head - runtime.runner.offset,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.websocket("/v1/ws")
    async def websocket(ws: WebSocket) -> None:
        runtime: Runtime = ws.app.state.runtime
        metrics.CONNECTIONS.inc()
        connection = Connection(ws, runtime.gateway)
        try:
            await connection.serve()
        finally:
            metrics.CONNECTIONS.dec()
            metrics.DISCONNECTS.labels(str(connection.session.close_code)).inc()

    return app
