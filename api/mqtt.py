"""The MQTT driver: devices speak MQTT 3.1.1 or 5 (over TCP, or over WebSocket at
``/mqtt``) to the same rooms and inboxes as WebSocket clients (docs/mqtt.md, ADR 21).

One task per connection reads packets (``api/mqtt_codec.py``) and runs them in order;
a writer task sends what is queued; a pump task reads the inbox from the store whenever
the device is behind (on connect, or when live pushes came faster than its QoS 1 window).
Live pushes that come in order while the window has room go out at once. The session's
rules (topics, the window, what is saved) are ``api/mqtt_session.py``'s; what is saved
goes to :class:`api.mqtt_sessions.MqttSessions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import mqtt5
import orjson
import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from api import metrics
from api.apikeys import ApiKeyVerifier
from api.auth import AuthError, Claims
from api.connect_proxy import ProxyUnavailable
from api.errors import fault_of
from api.events import EmitRequest, emit
from api.limits import CommandBudget, RateLimited
from api.mqtt_codec import MQTT_5, MqttCodec, MqttProtocolError
from api.mqtt_delivery import Delivering
from api.mqtt_session import (
    INBOX,
    InvalidTopic,
    Outbox,
    SavedSession,
    filter_room,
    publish_target,
    valid_filter,
)
from api.mqtt_sessions import MqttSessions
from api.service import DEFAULT_SCOPE, parse_room_id
from api.session import CloseCode
from api.ws import GatewayContext
from domain import commands as c
from domain.apikeys import Scope
from domain.errors import InvalidArgument, RoomNotFound
from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import EventMeta, check_device_id, check_user_id, new_trace_id
from projections.store import StoreUnavailable
from proto.wire import ErrorCode
from streams.log import LogUnavailable

__all__ = ["MqttConnection", "MqttGateway", "MqttTransport", "serve_tcp", "serve_websocket"]

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "tdk_"
NEVER_EXPIRES = 0xFFFFFFFF
"""MQTT 5's session expiry interval for a session that never expires."""
NO_KEEP_ALIVE = 3600.0
"""How long a device that asked for no keep-alive may stay silent."""

Reason = mqtt5.PubAckReasonCode
_REFUSALS = {
    "NOT_FOUND": Reason.NOT_AUTHORIZED,  # the room is not one of the user's: same answer
    "FORBIDDEN": Reason.NOT_AUTHORIZED,
    "UNAUTHORIZED": Reason.NOT_AUTHORIZED,
    "INVALID_ARGUMENT": Reason.PAYLOAD_FORMAT_INVALID,
    "BAD_REQUEST": Reason.PAYLOAD_FORMAT_INVALID,
    "RATE_LIMITED": Reason.QUOTA_EXCEEDED,
}
"""Tidings error names -> the PUBACK / PUBREC reason code a refused publish gets."""


class MqttTransport(Protocol):
    """The bytes of one connection, whatever carries them (TCP or WebSocket)."""

    peer: str

    async def read(self) -> bytes:
        """The next bytes; b"" once the peer closed."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass
class MqttGateway:
    """What every MQTT connection of a gateway shares."""

    ctx: GatewayContext
    sessions: MqttSessions
    api_keys: ApiKeyVerifier
    max_in_flight: int
    max_packet_size: int
    connections: dict[tuple[str, str], MqttConnection] = field(default_factory=dict)
    """(user, client id) -> its connection here (a newer one takes the session over)."""


class Refused(Exception):
    def __init__(self, reason: mqtt5.PubAckReasonCode, message: str) -> None:
        super().__init__(message)
        self.reason = int(reason)  # the same codes serve PUBREC


class MqttConnection(Delivering):
    """One device. A hub subscriber like a WebSocket connection (``api/hub.py``)."""

    namespace = ""  # MQTT devices are in the default namespace

    def __init__(self, transport: MqttTransport, gateway: MqttGateway) -> None:
        self.transport = transport
        self.gateway = gateway
        self.ctx = gateway.ctx
        self.codec = MqttCodec(gateway.max_packet_size)
        self.user_id = ""
        self.client_id = ""
        self._issued_at = 0.0
        self._expires_at = float("inf")
        self._keep_alive = NO_KEEP_ALIVE
        self._persistent = False
        self._session_expiry: float | None = None
        """MQTT 5: seconds the session outlives a disconnect; None: for ever (3.1.1)."""
        self._saved = SavedSession(0, "")
        self._outbox = Outbox(0, gateway.max_in_flight)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._wake_writer = asyncio.Event()
        self._taken = asyncio.Event()
        """Set whenever the writer took what was queued."""
        self._init_delivery()
        self._closing = False
        self._online = False
        """Whether the device counts for the user's presence (the namespace's rule)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._budget: CommandBudget | None = None

    # ------------------------------------------------------------------ hub subscriber

    @property
    def queued_frames(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        if self._pending:
            self._wake_writer.set()

    def revoked(self, device_id: str, at: float) -> None:
        if device_id in ("", self.client_id) and self._issued_at <= at:
            self._end(mqtt5.DisconnectReasonCode.NOT_AUTHORIZED, "session revoked")

    def disconnect(self, device_id: str) -> None:
        if device_id in ("", self.client_id):
            self._end(mqtt5.DisconnectReasonCode.ADMINISTRATIVE_ACTION, "disconnected")

    # ------------------------------------------------------------------ writing

    def _send(self, packet: mqtt5.Packet) -> None:
        """Queues a packet; a device that lets the queue pass the connection's bound (the
        WebSocket one, ``TIDINGS_MAX_QUEUED_BYTES``) is cut off, as a slow reader."""
        data = self.codec.encode(packet)
        if data is not None:
            self._pending.append(data)
            self._pending_bytes += len(data)
            self._wake_writer.set()
            if self._pending_bytes > self.ctx.session_config.max_queued_bytes:
                metrics.DISCONNECTS.labels(str(CloseCode.SLOW_CONSUMER)).inc()
                self._end(mqtt5.DisconnectReasonCode.QUOTA_EXCEEDED, "the device reads too slowly")

    async def _write_forever(self) -> None:
        while True:
            await self._wake_writer.wait()
            self._wake_writer.clear()
            data, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
            self._taken.set()
            if data:
                await self.transport.write(data)

    def _end(self, reason: mqtt5.DisconnectReasonCode, message: str) -> None:
        """Ends the connection from the server's side (MQTT 5 says why first)."""
        if self._closing:
            return
        self._closing = True
        log.info("mqtt_closed", user_id=self.user_id, client_id=self.client_id, why=message)
        if self.codec.version == MQTT_5:
            self._send(mqtt5.DisconnectPacket(reason_code=reason, reason_str=message[:100]))
        self._tasks.append(asyncio.get_running_loop().create_task(self._close_soon()))

    async def _close_soon(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain(), 1.0)
        await self.transport.close()

    async def _drain(self, below: int = 0) -> None:
        """Returns once at most ``below`` bytes wait for the writer to take them."""
        while self._pending_bytes > below:
            self._taken.clear()
            await self._taken.wait()

    # ------------------------------------------------------------------ serving

    async def serve(self) -> None:
        metrics.CONNECTIONS.inc()
        try:
            if await self._open():
                await self._read_forever()
        except MqttProtocolError as exc:
            log.info("mqtt_protocol_error", peer=self.transport.peer, error=str(exc))
            if self.codec.version == MQTT_5 and self.user_id:
                self._send(
                    mqtt5.DisconnectPacket(
                        reason_code=mqtt5.DisconnectReasonCode.MALFORMED_PACKET,
                        reason_str=str(exc)[:100],
                    )
                )
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._drain(), 1.0)
        finally:
            metrics.CONNECTIONS.dec()
            await self._finish()

    async def _read_packets(self, timeout: float) -> list[mqtt5.Packet] | None:
        """The next packets (None once the device is gone or silent too long)."""
        packets: list[mqtt5.Packet] = []
        while not packets:
            try:
                async with asyncio.timeout(timeout):  # no task per read, unlike wait_for
                    data = await self.transport.read()
            except (TimeoutError, ConnectionError, OSError):
                return None
            if not data:
                return None
            packets = self.codec.feed(data)
        return packets

    async def _open(self) -> bool:
        """Reads and answers the CONNECT; True when the device is connected."""
        packets = await self._read_packets(self.ctx.session_config.connect_timeout)
        if not packets:
            return False
        connect = packets[0]
        if not isinstance(connect, mqtt5.ConnectPacket):
            raise MqttProtocolError("the first packet must be CONNECT")
        writer = asyncio.create_task(self._write_forever(), name="mqtt-writer")
        self._tasks.append(writer)
        try:
            reason = await self._connect(connect)
        except (StoreUnavailable, LogUnavailable) as exc:  # the device may try again
            log.warning("mqtt_connect_unavailable", error=str(exc))
            reason = mqtt5.ConnAckReasonCode.SERVER_UNAVAILABLE
        if reason is not None:
            self._send(mqtt5.ConnAckPacket(reason_code=reason))
            self._closing = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(), 1.0)
            return False
        for packet in packets[1:]:
            await self._handle(packet)
        return True

    async def _authenticate(self, connect: mqtt5.ConnectPacket) -> Claims:
        """A JWT in the password; or an API key there with the ``tokens`` scope (it could
        mint the user a token) and the user id as the user name; or the connect proxy's
        answer."""
        token = (connect.password or b"").decode(errors="replace")
        if token.startswith(API_KEY_PREFIX):
            key = await self.gateway.api_keys.verify(token)
            if not key.allows(Scope.TOKENS):
                raise AuthError("this API key may not act for users (scope tokens)")
            if key.namespaces and DEFAULT_NAMESPACE not in key.namespaces:
                raise AuthError("this API key is not for the default namespace")
            try:
                user_id = check_user_id(connect.username or "")
            except InvalidArgument as exc:
                raise AuthError(f"the user name names the user: {exc}") from None
            return Claims(user_id, expires_at=float("inf"), issued_at=time.time())
        return await self.ctx.claims_for(token, connect.client_id, "", self.transport.peer)

    async def _connect(self, connect: mqtt5.ConnectPacket) -> mqtt5.ConnAckReasonCode | None:
        """Authenticates and restores or starts the session; a refusal's reason code."""
        codes = mqtt5.ConnAckReasonCode
        try:
            claims = await self._authenticate(connect)
        except AuthError:
            return codes.BAD_USER_NAME_OR_PASSWORD
        except ProxyUnavailable:
            return codes.SERVER_UNAVAILABLE
        if self.ctx.hub.connections_of(claims.user_id) >= self.ctx.limits.max_connections_per_user:
            return codes.QUOTA_EXCEEDED
        version = self.codec.version
        persistent = (
            connect.session_expiry_interval > 0 if version == MQTT_5 else not connect.clean_start
        )
        assigned = None
        client_id = connect.client_id
        if not client_id:
            if persistent and version != MQTT_5:
                return codes.CLIENT_ID_NOT_VALID  # 3.1.1: a lasting session needs a name
            client_id = assigned = f"mqtt-{uuid.uuid4().hex[:12]}"
            persistent = False
        try:
            check_device_id(client_id)
            if claims.device_id and client_id != claims.device_id:
                raise InvalidArgument("this token is for another device")
        except InvalidArgument:
            return codes.CLIENT_ID_NOT_VALID
        store = self.ctx.service.store
        if claims.issued_at <= await store.revoked_at(claims.user_id, client_id):
            return codes.NOT_AUTHORIZED
        self.user_id, self.client_id = claims.user_id, client_id
        self._issued_at, self._expires_at = claims.issued_at, claims.expires_at
        if connect.keep_alive:
            self._keep_alive = connect.keep_alive * 1.5
        self._persistent = persistent
        previous = self.gateway.connections.get((self.user_id, client_id))
        if previous is not None:
            previous._end(mqtt5.DisconnectReasonCode.SESSION_TAKEN_OVER, "session taken over")
        self.gateway.connections[(self.user_id, client_id)] = self
        saved = None if connect.clean_start else await self._load_saved(store.epoch)
        present = saved is not None
        if saved is None:
            saved = SavedSession(await store.inbox_head(self.user_id), store.epoch)
        if not persistent:
            await self.gateway.sessions.drop(self.user_id, client_id)
        elif version == MQTT_5:
            saved.expires_at = None  # counted from the disconnect (see _finish)
            if connect.session_expiry_interval != NEVER_EXPIRES:
                self._session_expiry = connect.session_expiry_interval
        self._saved = saved
        self._outbox = Outbox(saved.position, min(self.gateway.max_in_flight, connect.receive_max))
        self.ctx.hub.subscribe(self)  # from here, live pushes count (they start the pump)
        self._resume_follows()
        head = await store.inbox_head(self.user_id)  # read after subscribing: none is missed
        self._heads[INBOX] = max(self._heads[INBOX], head)
        if persistent:
            await self._save()
        self._send(
            mqtt5.ConnAckPacket(
                session_present=present,
                assigned_client_id=assigned,
                receive_max=self.gateway.max_in_flight,
                max_qos=mqtt5.QoS.EXACTLY_ONCE,
                retain_available=False,
                max_packet_size=self.gateway.max_packet_size,
                subscription_id_available=False,
                shared_subscription_available=False,
            )
        )
        self._tasks += [
            asyncio.create_task(self._pump_forever(), name="mqtt-pump"),
            asyncio.create_task(self._save_forever(), name="mqtt-saver"),
        ]
        self._behind.set()  # the pump reads what was missed, then live pushes go straight out
        if self.ctx.namespaces[DEFAULT_NAMESPACE].presence:
            self._online = True
            self.ctx.presence.connected(self.user_id, client_id)
        log.info(
            "mqtt_connected",
            user_id=self.user_id,
            client_id=client_id,
            version=version,
            session_present=present,
            missed=head - saved.position,
        )
        return None

    async def _load_saved(self, epoch: str) -> SavedSession | None:
        """The device's saved session, unless it expired or is of another epoch of the
        log (then CONNACK says no session is present: the device resyncs over REST)."""
        saved = await self.gateway.sessions.load(self.user_id, self.client_id)
        if saved is None:
            return None
        if saved.epoch != epoch or (
            saved.expires_at is not None and saved.expires_at < time.time()
        ):
            return None
        return saved

    async def _read_forever(self) -> None:
        while not self._closing:
            timeout = min(self._keep_alive, max(self._expires_at - time.time(), 0.0) + 10.0)
            packets = await self._read_packets(timeout)
            if packets is None:
                if time.time() > self._expires_at:
                    self._end(mqtt5.DisconnectReasonCode.NOT_AUTHORIZED, "token expired")
                return
            for packet in packets:
                if isinstance(packet, mqtt5.DisconnectPacket):
                    expiry = packet.session_expiry_interval
                    if expiry is not None and self._persistent:
                        self._persistent = expiry > 0
                        self._session_expiry = None if expiry == NEVER_EXPIRES else expiry
                    return
                await self._handle(packet)

    async def _finish(self) -> None:
        self._closing = True
        if self.gateway.connections.get((self.user_id, self.client_id)) is self:
            del self.gateway.connections[(self.user_id, self.client_id)]
        if self._online:
            self.ctx.presence.disconnected(self.user_id, self.client_id)
        if self.user_id:
            self.ctx.hub.unsubscribe(self)
            for room_id in self._saved.rooms:
                self.ctx.hub.unfollow(room_id, self)
        for task in self._tasks[1:]:  # the writer last: it may still be draining
            task.cancel()
        if self.user_id and self.client_id:
            with contextlib.suppress(Exception):
                if self._persistent:
                    if self._session_expiry is not None:
                        self._saved.expires_at = time.time() + self._session_expiry
                    await self._save()
                elif self.gateway.connections.get((self.user_id, self.client_id)) is None:
                    await self.gateway.sessions.drop(self.user_id, self.client_id)
        for task in self._tasks[:1]:
            task.cancel()
        await self.transport.close()

    # ------------------------------------------------------------------ packets

    async def _handle(self, packet: mqtt5.Packet) -> None:
        match packet:
            case mqtt5.PublishPacket():
                await self._publish(packet)
            case mqtt5.PubAckPacket():
                self._acked(packet.packet_id)
            case mqtt5.PubRelPacket():
                self._saved.received.pop(packet.packet_id, None)
                if self._persistent:
                    await self._save()
                self._send(mqtt5.PubCompPacket(packet.packet_id))
            case mqtt5.SubscribePacket():
                await self._subscribe(packet)
            case mqtt5.UnsubscribePacket():
                codes = []
                for pattern in packet.patterns:
                    known = self._saved.subscriptions.pop(pattern, None) is not None
                    codes.append(
                        mqtt5.UnsubAckReasonCode.SUCCESS
                        if known
                        else mqtt5.UnsubAckReasonCode.NO_SUBSCRIPTION_EXISTED
                    )
                if self._persistent:
                    await self._save()
                self._send(mqtt5.UnsubAckPacket(packet.packet_id, codes))
            case mqtt5.PingReqPacket():
                self._send(mqtt5.PingRespPacket())
            case _:
                raise MqttProtocolError(f"a client does not send {type(packet).__name__}")

    async def _subscribe(self, packet: mqtt5.SubscribePacket) -> None:
        codes = []
        for topic_filter in packet.topic_filters:
            pattern = topic_filter.pattern
            if pattern.startswith("$") or not valid_filter(pattern):
                codes.append(mqtt5.SubAckReasonCode.TOPIC_FILTER_INVALID)
                continue
            room = filter_room(pattern)
            if room is not None:
                try:
                    await self.ctx.service.require_member(self.user_id, str(parse_room_id(room)))
                except Exception as exc:
                    refused = fault_of(exc).code in (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN)
                    codes.append(
                        mqtt5.SubAckReasonCode.NOT_AUTHORIZED
                        if refused
                        else mqtt5.SubAckReasonCode.UNSPECIFIED_ERROR  # the store failed
                    )
                    continue
            qos = min(int(topic_filter.max_qos), 1)  # QoS 2 is granted as 1 (docs/mqtt.md)
            self._saved.subscriptions[pattern] = qos
            codes.append(mqtt5.SubAckReasonCode(qos))
        await self._follow_wanted_rooms()
        if self._persistent:
            await self._save()
        self._send(mqtt5.SubAckPacket(packet.packet_id, codes))

    async def _publish(self, packet: mqtt5.PublishPacket) -> None:
        """A send (``rooms/{id}``) or an application event (``rooms/{id}/events/{name}``).
        QoS 1 is acknowledged once the event is in the log; QoS 2 posts one message
        however often it is retransmitted before PUBREL."""
        started = time.perf_counter()
        qos = int(packet.qos)
        client_msg_id = ""
        if qos == 2:
            client_msg_id = self._saved.received.setdefault(
                packet.packet_id or 0, f"mqtt-{uuid.uuid4().hex}"
            )
            if self._persistent:
                await self._save()  # a retransmission after a crash reuses the id
        properties: list[tuple[str, str]] = []
        try:
            event_id = await self._execute(packet, client_msg_id)
            metrics.count_command("send", "ok", started)
            reason = 0
            if event_id:
                properties = [("eventId", event_id)]  # MQTT 5: the logged event's id
        except Refused as exc:
            metrics.count_command("send", "REFUSED", started)
            self._saved.received.pop(packet.packet_id or 0, None)
            if self.codec.version != MQTT_5:  # 3.1.1 cannot say no: it is disconnected
                self._end(mqtt5.DisconnectReasonCode.NOT_AUTHORIZED, str(exc))
                return
            reason = exc.reason
        packet_id = packet.packet_id or 0
        if qos == 1:
            code = Reason(reason)
            self._send(mqtt5.PubAckPacket(packet_id, reason_code=code, user_properties=properties))
        elif qos == 2:
            rec = mqtt5.PubRecReasonCode(reason)
            self._send(mqtt5.PubRecPacket(packet_id, reason_code=rec, user_properties=properties))

    async def _execute(self, packet: mqtt5.PublishPacket, client_msg_id: str) -> str:
        """Runs the publish; the logged event's id ("" for a volatile event)."""
        try:
            room_id, event_name = publish_target(packet.topic)
            try:
                room = parse_room_id(room_id)
            except RoomNotFound:
                raise InvalidTopic(f"{room_id!r} is not a room id") from None
            self._take_budget()
            meta = EventMeta(self.user_id, self.client_id, new_trace_id(), "", DEFAULT_SCOPE)
            if event_name is None:
                text = packet.payload.decode()
                command = c.PostMessage(meta, room, client_msg_id, text)
                return (await self.ctx.service.execute(command)).envelope.event_id
            else:
                payload = orjson.loads(packet.payload) if packet.payload else None
                request = EmitRequest(
                    event_name, payload, room_id=room_id, client_event_id=client_msg_id
                )
                emission = await emit(self.ctx.service, meta, DEFAULT_SCOPE, request)
                return emission.event.event_id if emission.event is not None else ""
        except InvalidTopic as exc:
            raise Refused(Reason.TOPIC_NAME_INVALID, str(exc)) from None
        except (UnicodeDecodeError, orjson.JSONDecodeError):
            raise Refused(Reason.PAYLOAD_FORMAT_INVALID, "not UTF-8 text (or JSON)") from None
        except Exception as exc:
            fault = fault_of(exc)
            reason = _REFUSALS.get(fault.name, Reason.IMPLEMENTATION_SPECIFIC_ERROR)
            if fault.code == ErrorCode.INTERNAL:  # a bug; UNAVAILABLE and the like are not
                log.exception("mqtt_publish_failed", user_id=self.user_id)
            raise Refused(reason, fault.message) from None

    def _take_budget(self) -> None:
        now = time.monotonic()
        if self._budget is None:
            self._budget = self.ctx.limits.budget(now)
        wait = self._budget.take("send", self.user_id, now)
        if wait:
            metrics.RATE_LIMITED.labels("command").inc()
            raise RateLimited("too many publishes; slow down", wait)


# ---------------------------------------------------------------------------- transports


class WebSocketTransport:
    """MQTT over WebSocket (binary messages, subprotocol ``mqtt``), at ``/mqtt``."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self.peer = ws.client.host if ws.client else ""

    async def read(self) -> bytes:
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return b""
        if message["type"] == "websocket.disconnect":
            return b""
        return message.get("bytes") or (message.get("text") or "").encode()

    async def write(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()


async def serve_websocket(gateway: MqttGateway, ws: WebSocket) -> None:
    offered = ws.scope.get("subprotocols") or []
    await ws.accept(subprotocol="mqtt" if "mqtt" in offered else None)
    await _serve_one(gateway, WebSocketTransport(ws))


class _StreamTransport:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if peer else ""

    async def read(self) -> bytes:
        return await self._reader.read(65536)

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def serve_tcp(
    gateway_of: Callable[[], MqttGateway | None], host: str, port: int
) -> asyncio.Server:
    """Starts the MQTT listener on ``host:port`` (0: any free port)."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        gateway = gateway_of()
        transport = _StreamTransport(reader, writer)
        if gateway is None:
            await transport.close()
            return
        await _serve_one(gateway, transport)

    return await asyncio.start_server(accept, host, port)


async def _serve_one(gateway: MqttGateway, transport: MqttTransport) -> None:
    address = transport.peer
    if gateway.ctx.limits.connects.take(address, time.monotonic()):
        metrics.RATE_LIMITED.labels("handshake").inc()
        await transport.close()
        return
    try:
        await MqttConnection(transport, gateway).serve()
    except Exception:
        log.exception("mqtt_connection_failed", peer=address)
