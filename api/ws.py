"""The WebSocket driver: a thin loop around the sans-I/O :class:`api.session.Session`.

Per connection, at rest, one task: the one serving it, which reads frames (pongs and bad
frames handled at once). Frames go out by direct writes to the socket (``ws_transport``),
flushed by the hub after each batch of pushes or after a command; a writer task exists only
while a slow socket holds frames back, and a command task only while the client has
commands waiting (run one at a time, so a client's sends keep their order, and a slow
command never holds up a pong). One ticker serves every connection (heartbeats, timeouts).
The session decides; this module only moves bytes and awaits services.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog
from google.protobuf.message import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from api import metrics
from api.auth import AuthError, Claims, TokenExpired, TokenVerifier
from api.connect_proxy import ConnectProxy, ProxyUnavailable
from api.errors import fault_of
from api.hub import Hub
from api.limits import CommandBudget, GatewayLimits, RateLimited
from api.presence import PresenceTracker
from api.recovery import Recovery, plan_recovery
from api.service import Tidings, parse_room_id, visible_in
from api.session import CloseCode, Session, SessionConfig, State
from api.ws_commands import CommandHandlers
from api.ws_frames import wire_of
from api.ws_transport import DirectWriter, direct_writer
from domain import commands as c
from domain.errors import (
    DomainError,
    InvalidArgument,
    NamespaceNotGranted,
    NotARoomStream,
)
from domain.namespaces import DEFAULT_NAMESPACE, Namespaces
from domain.values import EventMeta, check_device_id, new_trace_id
from proto.tidings.v1 import client_pb2 as cp
from proto.wire import (
    ClientFrame,
    ErrorCode,
    envelope_json,
    error_frame,
    inbox_push_frame,
    reply_frame,
    room_push_frame,
)
from streams.log import CommandResult

__all__ = ["Connection", "GatewayContext"]

Handler = Callable[[ClientFrame, EventMeta], Awaitable[tuple[str, Message] | None]]

log = structlog.get_logger(__name__)

TICK_SECONDS = 1.0
CLOSE_TIMEOUT = 1.0
MAX_PIPELINED_COMMANDS = 100
"""Commands a client may have waiting before its frames are no longer read."""


class Ticker:
    """One timer for every connection of the gateway: each second, ticks every session
    (heartbeats, timeouts). One task instead of one per connection, so that idle
    connections cost no wake-ups of their own."""

    def __init__(self) -> None:
        self._connections: set[Connection] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: Connection) -> None:
        self._connections.add(connection)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="session-ticker")

    def discard(self, connection: Connection) -> None:
        self._connections.discard(connection)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.time()
            for connection in list(self._connections):
                try:
                    connection.tick(now)
                except Exception:  # one session's bug must not stop everyone's heartbeats
                    log.exception("session_tick_failed", user_id=connection.user_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class GatewayContext:
    """What every connection of this gateway shares."""

    def __init__(
        self,
        service: Tidings,
        hub: Hub,
        verifier: TokenVerifier,
        presence: PresenceTracker,
        session_config: SessionConfig,
        catch_up_limit: int,
        limits: GatewayLimits,
        namespaces: Namespaces | None = None,
        connect_proxy: ConnectProxy | None = None,
    ) -> None:
        self.service = service
        self.connect_proxy = connect_proxy
        self.namespaces = namespaces or Namespaces()
        self.hub = hub
        self.verifier = verifier
        self.presence = presence
        self.session_config = session_config
        self.catch_up_limit = catch_up_limit
        self.limits = limits
        self.ticker = Ticker()

    async def claims_for(self, token: str, device_id: str, namespace: str, address: str) -> Claims:
        """The token's claims, or, for a token that is no Tidings JWT, the connect proxy's
        answer (when one is configured). Raises AuthError or ProxyUnavailable."""
        try:
            return self.verifier.verify(token)
        except TokenExpired:
            raise
        except AuthError:
            if self.connect_proxy is None:
                raise
        return await self.connect_proxy.authenticate(token, device_id, namespace, address)


class Connection(CommandHandlers):
    """One client connection. At rest it holds no task of its own beyond the one serving it
    (which reads frames): frames go out by direct writes to the socket when the server
    provides them (:mod:`api.ws_transport`), and a writer task exists only while frames
    wait for a slow socket; a command task only while commands wait."""

    HANDLERS = {
        "join": "_join",
        "leave": "_leave",
        "send": "_send",
        "edit": "_edit",
        "delete": "_delete",
        "ack": "_ack",
        "presence": "_presence",
        "typing": "_typing",
        "history": "_history",
        "refresh": "_refresh",
        "follow": "_follow",
        "unfollow": "_unfollow",
        "emit": "_emit",
    }
    """Command -> handler method. A handler returns its reply's field and result, or None
    when it queued the reply itself (follow: the reply, then the missed events, in order)."""

    __slots__ = (
        "_budget",
        "_closer",
        "_commands",
        "_direct",
        "_executor",
        "_granted",
        "_last_write",
        "_presence_device",
        "_refused",
        "_subscribed",
        "_writer",
        "ctx",
        "namespace",
        "session",
        "ws",
    )

    def __init__(self, ws: WebSocket, ctx: GatewayContext) -> None:
        self.ws = ws
        self.ctx = ctx
        self.session = Session(ctx.session_config, time.time())
        self._direct: DirectWriter | None = None
        self._last_write: CommandResult | None = None
        self._subscribed = False
        self._commands: list[ClientFrame] = []
        self._executor: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._budget: CommandBudget | None = None
        self._refused = 0
        self.namespace = ""
        """The namespace the connection is in ("" for default; Connect.namespace)."""
        self._granted = frozenset({DEFAULT_NAMESPACE})
        self._presence_device = ""
        """The device its presence counts for ("<namespace>:<device>" outside default);
        empty while it counts for none."""

    # Subscriber (called by the hub, which flushes after a batch; never blocks)
    @property
    def user_id(self) -> str:
        return self.session.user_id

    @property
    def queued_frames(self) -> int:
        return self.session.queued_frames

    def push_inbox(self, position: int, frame: str | None) -> None:
        self.session.push_inbox(position, frame)

    def push_room(self, room_id: str, position: int, frame: str) -> None:
        self.session.push_room(room_id, position, frame)

    def unfollowed(self, room_id: str) -> None:
        self.session.unfollow(room_id)

    def push(self, frame: str) -> None:
        self.session.send(frame)

    def revoked(self, device_id: str, at: float) -> None:
        self.session.revoked(device_id, at)

    def disconnect(self, device_id: str) -> None:
        self.session.disconnect(device_id)

    # ------------------------------------------------------------------ writing

    def flush(self) -> None:
        """Sends what the session queued: written at once when the socket takes it, else by a
        writer task that awaits the slow socket (frames stay queued, and counted, meanwhile).
        Once the session closed, closes the socket."""
        if self.session.close_code is not None:
            self._start_closing()
        if self._writer is not None:
            return
        direct = self._direct
        if direct is not None and direct.can_write():
            frames = self.session.frames_to_send()
            if not frames:
                return
            direct.write(wire_of(frames[0]) if len(frames) == 1 else b"".join(map(wire_of, frames)))
        elif self.session.has_frames:
            self._writer = asyncio.create_task(self._write_waiting())

    async def _write_waiting(self) -> None:
        try:
            while (frame := self.session.next_frame()) is not None:
                if self.session.close_code == CloseCode.SLOW_CONSUMER:
                    return  # do not wait for a client that does not read
                await self.ws.send_text(frame)
        finally:
            self._writer = None

    def _start_closing(self) -> None:
        if self._closer is None:
            self._closer = asyncio.create_task(self._close_socket())

    async def _close_socket(self) -> None:
        """Sends what is queued (unless the client stopped reading), then the close frame;
        the reader then sees the disconnect and the connection ends."""
        if self.session.close_code != CloseCode.SLOW_CONSUMER:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(), CLOSE_TIMEOUT)
        code = self.session.close_code or CloseCode.NORMAL
        try:
            await asyncio.wait_for(
                self.ws.close(code, self.session.close_reason[:120]), CLOSE_TIMEOUT
            )
        except Exception:
            if self._direct is not None:
                self._direct.abort()

    async def _drain(self) -> None:
        while self._writer is not None:
            await asyncio.shield(self._writer)
        for frame in self.session.frames_to_send():
            await self.ws.send_text(frame)

    # ------------------------------------------------------------------ lifecycle

    async def serve(self) -> None:
        await self.ws.accept()
        self._direct = direct_writer(self.ws.scope)
        self.ws.scope["headers"] = []  # read by the handshake only; connections live long
        self.ctx.ticker.add(self)
        try:
            await self._read_loop()
            if self._closer is None:
                self.session.close(CloseCode.NORMAL, "")
                self._start_closing()
        finally:
            self.ctx.ticker.discard(self)
            if self._executor is not None:
                self._executor.cancel()
            if self._closer is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self._closer
            if self._writer is not None:
                self._writer.cancel()
            for room_id in self.session.followed:
                self.ctx.hub.unfollow(room_id, self)
            if self._subscribed:
                self.ctx.hub.unsubscribe(self)
            if self._presence_device:
                self.ctx.presence.disconnected(self.session.user_id, self._presence_device)

    async def _read_loop(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                self.session.close(message.get("code") or CloseCode.NORMAL, "client closed")
                return
            if self.session.state is State.CLOSED:
                continue  # closing: wait for the disconnect
            text = message.get("text")
            if text is None:
                self.session.send(error_frame("", ErrorCode.BAD_REQUEST, "send text frames"))
                self.flush()
                continue
            frame = self.session.receive_text(text, time.time())
            if frame is not None:
                self._commands.append(frame)
                if self._executor is None:
                    self._executor = asyncio.create_task(self._execute_waiting())
                elif len(self._commands) >= MAX_PIPELINED_COMMANDS:
                    # Back-pressure on a client that sends faster than its commands run.
                    await asyncio.shield(self._executor)
            self.flush()

    async def _execute_waiting(self) -> None:
        """Executes the client's commands in arrival order, then ends (an idle connection
        has no executor task)."""
        try:
            while self._commands and self.session.state is not State.CLOSED:
                await self._execute(self._commands.pop(0))
                self.flush()
        finally:
            self._executor = None

    def tick(self, now: float) -> None:
        self.session.tick(now)
        if self.session.has_frames or self.session.close_code is not None:
            self.flush()

    # ------------------------------------------------------------------ commands

    async def _execute(self, frame: ClientFrame) -> None:
        command = frame.WhichOneof("command") or ""
        trace_id = new_trace_id()
        started = time.perf_counter()
        try:
            if command == "connect":
                with structlog.contextvars.bound_contextvars(trace_id=trace_id, command=command):
                    await self._connect(frame)
                return
            self._check_budget(command)
            meta = EventMeta(
                self.session.user_id,
                self.session.device_id,
                trace_id,
                self.namespace,
                self._granted,
            )
            handler: Handler = getattr(self, self.HANDLERS[command])
            answer = await handler(frame, meta)
            if answer is not None:  # None: the handler queued its reply itself
                self.session.send(reply_frame(frame.id, *answer))
            metrics.count_command(command, "ok", started)
        except Exception as exc:
            fault = fault_of(exc)
            if fault.code == ErrorCode.INTERNAL:
                # Bound here, not for every command: binding costs as much as a small command.
                log.exception("command_failed", trace_id=trace_id, command=command)
            metrics.count_command(command, fault.name, started)
            if fault.name == "RATE_LIMITED":
                metrics.RATE_LIMITED.labels("command").inc()
            self.session.send(
                error_frame(
                    frame.id, fault.code, fault.message, fault.temporary, fault.retry_after_ms
                )
            )
            if self._refused >= self.ctx.limits.max_refused_in_a_row:
                self.session.close(CloseCode.RATE_LIMITED, "rate limit ignored")

    def _check_budget(self, command: str) -> None:
        """Refuses a command over the connection's or the user's budget; a client that
        keeps sending regardless is disconnected."""
        now = time.monotonic()
        if self._budget is None:  # made at the first command: idle connections have none
            self._budget = self.ctx.limits.budget(now)
        wait = self._budget.take(command, self.session.user_id, now)
        if not wait:
            self._refused = 0
            return
        self._refused += 1  # past the limit in a row, the connection closes after the reply
        raise RateLimited(f"too many {command} commands; slow down", wait)

    async def _connect(self, frame: ClientFrame) -> None:
        request = frame.connect
        try:
            client = self.ws.client
            claims = await self.ctx.claims_for(
                request.token, request.device_id, request.namespace, client.host if client else ""
            )
        except AuthError as exc:
            code = (
                ErrorCode.TOKEN_EXPIRED if isinstance(exc, TokenExpired) else ErrorCode.UNAUTHORIZED
            )
            self.session.reject(frame.id, code, str(exc), CloseCode.UNAUTHORIZED)
            return
        except ProxyUnavailable as exc:
            later = CloseCode.TRY_AGAIN_LATER
            self.session.reject(frame.id, ErrorCode.UNAVAILABLE, str(exc), later, temporary=True)
            return
        try:
            requested = check_device_id(request.device_id or claims.device_id)
            if claims.device_id and requested != claims.device_id:
                raise InvalidArgument(f"this token is for device {claims.device_id!r} only")
        except InvalidArgument as exc:
            self.session.reject(
                frame.id, ErrorCode.INVALID_ARGUMENT, str(exc), CloseCode.UNAUTHORIZED
            )
            return
        namespace = request.namespace or DEFAULT_NAMESPACE
        try:
            rules = self.ctx.namespaces[namespace]
            if namespace not in claims.namespaces:
                raise NamespaceNotGranted(namespace)
        except DomainError as exc:
            fault = fault_of(exc)
            self.session.reject(frame.id, fault.code, fault.message, CloseCode.UNAUTHORIZED)
            return
        if self.ctx.hub.connections_of(claims.user_id) >= self.ctx.limits.max_connections_per_user:
            metrics.RATE_LIMITED.labels("connect").inc()
            self.session.reject(
                frame.id,
                ErrorCode.RATE_LIMITED,
                "too many connections for this user",
                CloseCode.RATE_LIMITED,
            )
            return
        store = self.ctx.service.store
        if claims.issued_at <= await store.revoked_at(claims.user_id, requested):
            self.session.reject(
                frame.id, ErrorCode.UNAUTHORIZED, "token revoked", CloseCode.UNAUTHORIZED
            )
            return
        device_id = self.ctx.presence.device_for(claims.user_id, requested)
        if namespace != DEFAULT_NAMESPACE:
            self.namespace = namespace
            self._granted = frozenset({namespace})
        now = time.time()
        self.session.authenticated(
            claims.user_id, device_id, claims.expires_at, claims.issued_at, now
        )
        structlog.contextvars.bind_contextvars(user_id=claims.user_id)
        self.ctx.hub.subscribe(self)  # live pushes are buffered from here on
        self._subscribed = True
        head = await store.inbox_head(claims.user_id)
        position = request.inbox.position if request.HasField("inbox") else None
        plan = plan_recovery(
            position, request.inbox.epoch, store.epoch, head, self.ctx.catch_up_limit
        )
        history: list[tuple[int, str | None]] = []
        if plan.missed:
            entries = await store.inbox(claims.user_id, after=plan.start, limit=plan.missed)
            history = [
                (
                    e.position,
                    inbox_push_frame(e.position, store.epoch, envelope_json(e.envelope))
                    if visible_in(e.envelope, self._granted)
                    else None,
                )
                for e in entries
            ]
        result = cp.ConnectResult(
            user_id=claims.user_id,
            device_id=device_id,
            inbox=cp.StreamPosition(position=plan.start, epoch=store.epoch),
            recovery=int(plan.outcome),  # type: ignore[arg-type]
            missed=sum(frame is not None for _, frame in history),
            heartbeat_interval_ms=int(self.ctx.session_config.heartbeat_interval * 1000),
            heartbeat_timeout_ms=int(self.ctx.session_config.heartbeat_timeout * 1000),
        )
        self.session.recovered(
            reply_frame(frame.id, "connect", result),
            plan.start,
            history,
            complete_required=plan.outcome is Recovery.RECOVERED,
        )
        metrics.RESUMES.labels(plan.outcome.name).inc()
        if plan.outcome is Recovery.RECOVERED:
            metrics.RESUMED_EVENTS.observe(result.missed)
        log.info(
            "connected",
            device_id=device_id,
            namespace=namespace,
            recovery=plan.outcome.name,
            missed=result.missed,
        )
        if rules.presence:
            self._presence_device = f"{self.namespace}:{device_id}" if self.namespace else device_id
            self.ctx.presence.connected(claims.user_id, self._presence_device)

    async def _run(self, command: c.Command) -> cp.EventResult:
        result = await self.ctx.service.execute(command)
        if result.offset:
            self._last_write = result
        return cp.EventResult(event=result.envelope, duplicate=result.duplicate)

    async def _follow(self, frame: ClientFrame, meta: EventMeta) -> None:
        """Recovers a room stream as :meth:`_connect` recovers the inbox: follow (pushes
        are buffered), read the head and the history after the client's position, merge."""
        request = frame.follow
        room_id = str(parse_room_id(request.room_id))
        store = self.ctx.service.store
        await self.ctx.service.wait_projected(self._last_write)  # a join just made
        await self.ctx.service.require_member(meta.user_id, room_id, meta.namespaces)
        self.session.follow(room_id)
        self.ctx.hub.follow(room_id, self)
        try:
            stream = await store.room_stream_head(room_id)
            if stream is None:
                raise NotARoomStream()
            position = request.position if request.HasField("position") else None
            plan = plan_recovery(
                position,
                request.epoch,
                store.epoch,
                stream.head,
                self.ctx.catch_up_limit,
                floor=stream.since - 1,
            )
            history: list[tuple[int, str]] = []
            if plan.missed:
                events = await store.room_stream(room_id, after=plan.start, limit=plan.missed)
                history = [(e.position, room_push_frame(store.epoch, e)) for e in events]
        except BaseException:
            self._stop_following(room_id)
            raise
        result = cp.FollowResult(
            room_id=room_id,
            position=cp.StreamPosition(position=plan.start, epoch=store.epoch),
            recovery=int(plan.outcome),  # type: ignore[arg-type]
            missed=len(history),
        )
        self.session.room_recovered(
            room_id,
            reply_frame(frame.id, "follow", result),
            plan.start,
            history,
            complete_required=plan.outcome is Recovery.RECOVERED,
        )
        return None

    async def _unfollow(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        self._stop_following(str(parse_room_id(frame.unfollow.room_id)))
        return "unfollow", cp.Empty()

    def _stop_following(self, room_id: str) -> None:
        self.ctx.hub.unfollow(room_id, self)
        self.session.unfollow(room_id)
