"""The FastAPI application: REST routes, the WebSocket endpoint, health and metrics.

Adapters are chosen in ``api/runtime.py``; this module only wires HTTP to the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import math
import sys
import time
from collections.abc import AsyncIterator
from importlib import metadata
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from api import metrics
from api.admin import router as admin_router
from api.api_docs import mount_doc_assets, serve_docs
from api.auth import AuthError, mint_token
from api.edge import EdgeGuard, refuse_handshake
from api.errors import fault_of, fault_of_invalid_request
from api.limits import RateLimited
from api.logs import configure_logging
from api.metrics_http import HttpMetrics
from api.mqtt import MqttGateway, serve_tcp, serve_websocket
from api.rest import router
from api.rest_models import ERROR_RESPONSES, Model, UserId
from api.runtime import Runtime, open_runtime
from api.server_api import router as server_router
from api.session import CloseCode
from api.settings import Settings
from api.ws import Connection
from domain.errors import DomainError
from projections.store import StoreUnavailable
from streams.log import LogUnavailable

__all__ = ["Gateway", "create_app"]

log = structlog.get_logger(__name__)


def _clients_dir() -> Path:
    """Where the pages and the JS client are: the source checkout's clients/, or where an
    installed wheel put them (pyproject.toml, data-files)."""
    checkout = Path(__file__).resolve().parents[1] / "clients"
    return checkout if (checkout / "web").is_dir() else Path(sys.prefix) / "share" / "tidings"


CLIENTS = _clients_dir()
WEB_FILES = {
    "/": (CLIENTS / "web" / "index.html", "text/html"),
    "/web/app.js": (CLIENTS / "web" / "app.js", "text/javascript"),
    "/client/tidings.js": (CLIENTS / "js" / "tidings.js", "text/javascript"),
    "/admin": (CLIENTS / "admin" / "index.html", "text/html"),
    "/admin/admin.js": (CLIENTS / "admin" / "admin.js", "text/javascript"),
}


class DevTokenIn(Model):
    user_id: UserId


class DevTokenOut(Model):
    token: str


PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
"""The page may load its own files and open sockets to its server, nothing else, and may
not be framed (clickjacking)."""


def _mount_web_page(app: FastAPI, settings: Settings) -> None:
    """The demo chat page (from a source checkout) and, in development mode only, a token
    endpoint for it: anyone who can reach a development server can act as any user (which
    is why a development server listens on loopback only and checks the Host header)."""
    for path, (file, media_type) in WEB_FILES.items():
        if file.exists():
            app.add_api_route(
                path,
                lambda file=file, media_type=media_type: FileResponse(
                    file, media_type=media_type, headers=PAGE_HEADERS
                ),
                include_in_schema=False,
            )
    if settings.development_mode:

        @app.post(
            "/dev/token",
            tags=["development"],
            summary="A token for any user (development mode only: no JWT key configured)",
            responses={s: ERROR_RESPONSES[s] for s in (400, 413, 422, 429, 500)},
        )
        async def dev_token(body: DevTokenIn) -> DevTokenOut:
            token = mint_token(
                body.user_id,
                secret=settings.development_secret(),
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
            )
            return DevTokenOut(token=token)


def answer_errors(app: FastAPI) -> None:
    """Every error as ``{"error": {"code", "message", "temporary"}}`` (both APIs)."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        fault = fault_of(exc)
        body: dict[str, Any] = {
            "code": fault.name,
            "message": fault.message,
            "temporary": fault.temporary,
        }
        headers = {"Retry-After": "1"} if fault.status == 503 else None
        if fault.status == 429:
            metrics.RATE_LIMITED.labels("rest").inc()
        if fault.retry_after_ms:
            body["retryAfterMs"] = fault.retry_after_ms
            headers = {"Retry-After": str(math.ceil(fault.retry_after_ms / 1000))}
        return JSONResponse({"error": body}, status_code=fault.status, headers=headers)

    # Expected failures are answered here; anything else is a bug: INTERNAL (500) in the same
    # shape, and Starlette's error middleware still logs its traceback.
    for expected in (DomainError, AuthError, StoreUnavailable, LogUnavailable, RateLimited):
        app.add_exception_handler(expected, on_error)
    app.add_exception_handler(Exception, on_error)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Routing and body errors in the same shape as every other error."""
        codes = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        body = {"code": codes.get(exc.status_code, "BAD_REQUEST"), "message": str(exc.detail)}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_methods_at(request))
        return JSONResponse(
            {"error": {**body, "temporary": False}}, status_code=exc.status_code, headers=headers
        )

    def _methods_at(request: Request) -> list[str]:
        """Every method some route serves at this path (Starlette names only the first
        route's)."""
        methods: set[str] = set()
        for route in app.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
                methods |= route.methods or set()
        return sorted(methods)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fault = fault_of_invalid_request(exc.errors())
        body = {"code": fault.name, "message": fault.message, "temporary": False}
        return JSONResponse({"error": body}, status_code=fault.status)


def server_api_app(settings: Settings) -> FastAPI:
    """The server API (``/api/v1``, API keys only) with its own OpenAPI document at
    ``/api/openapi.json``; the runtime is handed to it when the gateway starts."""
    api = FastAPI(
        title="Tidings server API",
        version=metadata.version("tidings"),
        description="For application backends, authenticated by API keys "
        "(docs/server-api.md). User tokens are refused.",
        openapi_url="/openapi.json" if settings.api_docs else None,
        docs_url=None,
        redoc_url=None,
    )
    if settings.api_docs:
        serve_docs(api)
    api.include_router(server_router)
    api.include_router(admin_router)
    answer_errors(api)
    return api


GC_THRESHOLDS = (50_000, 50, 100)
"""CPython's defaults (700, 10, 10) run a collection every few hundred allocations; with
thousands of connections alive, each walk of the heap cost a quarter of a connection
storm's CPU. Objects made at start-up are frozen out of collections altogether."""


def tune_garbage_collector() -> None:
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(settings: Settings | None = None) -> EdgeGuard:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    metrics.PROCESS.info({"role": "gateway", "mode": settings.mode})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await open_runtime(settings)
        app.state.runtime = runtime
        for route in app.routes:
            if isinstance(route, Mount) and isinstance(route.app, FastAPI):
                route.app.state.runtime = runtime
        tune_garbage_collector()
        mqtt_server = None
        if settings.mqtt_port is not None:

            def serving() -> MqttGateway | None:
                current: Runtime | None = getattr(app.state, "runtime", None)
                return current.mqtt if current is not None else None

            mqtt_server = await serve_tcp(serving, settings.host, settings.mqtt_port)
            port = mqtt_server.sockets[0].getsockname()[1]
            log.info("mqtt_listening", host=settings.host, port=port)
        try:
            yield
        finally:
            app.state.runtime = None
            if mqtt_server is not None:
                mqtt_server.close()
                for connection in list(runtime.mqtt.connections.values()):
                    await connection.transport.close()
            await runtime.close()

    app = FastAPI(
        title="Tidings",
        version=metadata.version("tidings"),
        description="Event-sourced real-time messaging: REST API. "
        "The WebSocket protocol at /v1/ws is documented in docs/protocol.md.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if settings.api_docs else None,
        docs_url=None,
        redoc_url=None,
    )
    if settings.api_docs:
        mount_doc_assets(app)
        serve_docs(app)
    app.include_router(router)

    answer_errors(app)
    app.mount("/api", server_api_app(settings))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        report = await runtime.readiness()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        expected = settings.metrics_token
        given = request.headers.get("authorization", "")
        if expected is not None and not hmac.compare_digest(given, f"Bearer {expected}"):
            return JSONResponse(
                {"error": {"code": "UNAUTHORIZED", "message": "metrics need a bearer token"}},
                status_code=401,
            )
        await _measure_lag(request.app.state.runtime)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _mount_web_page(app, settings)

    return EdgeGuard(
        Gateway(app),
        hosts=settings.hosts,
        origins=settings.origins,
        max_body_bytes=settings.max_body_bytes,
    )


async def _measure_lag(runtime: Runtime) -> None:
    """The pipeline's lag as of this scrape (a few Kafka round trips in distributed mode;
    left as last measured when the log cannot be reached)."""
    cluster = runtime.parts.cluster
    if cluster is None:
        return
    try:
        async with asyncio.timeout(5):
            metrics.set_lag(await cluster.lag())
    except Exception as exc:
        log.warning("lag_not_measured", error=repr(exc))


class Gateway:
    """The ASGI app ``tidings serve`` runs: ``/v1/ws`` straight to the WebSocket driver,
    everything else to FastAPI. A connection lives for hours; FastAPI's routing,
    middleware and exit stacks held ~11 KiB per idle connection (ADR 14)."""

    PATH = "/v1/ws"
    MQTT_PATH = "/mqtt"

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._http = HttpMetrics(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.PATH:
            await self._websocket(WebSocket(scope, receive, send))
        elif scope["type"] == "websocket" and scope["path"] == self.MQTT_PATH:
            runtime: Runtime | None = getattr(self.app.state, "runtime", None)
            ws = WebSocket(scope, receive, send)
            if runtime is None:
                await ws.close(CloseCode.GOING_AWAY)
            else:
                await serve_websocket(runtime.mqtt, ws)
        else:
            await self._http(scope, receive, send)

    async def _websocket(self, ws: WebSocket) -> None:
        runtime: Runtime | None = getattr(self.app.state, "runtime", None)
        if runtime is None:  # not started (or stopping)
            await ws.close(CloseCode.GOING_AWAY)
            return
        address = ws.client.host if ws.client else ""
        wait = runtime.gateway.limits.connects.take(address, time.monotonic())
        if wait:
            metrics.count_command("connect", "RATE_LIMITED")
            metrics.RATE_LIMITED.labels("handshake").inc()
            await refuse_handshake(
                ws.scope, ws.send, 429, "RATE_LIMITED", "too many connects from this address", wait
            )
            return
        metrics.CONNECTIONS.inc()
        connection = Connection(ws, runtime.gateway)
        try:
            await connection.serve()
        finally:
            metrics.CONNECTIONS.dec()
            metrics.DISCONNECTS.labels(str(connection.session.close_code)).inc()
