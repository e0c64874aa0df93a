"""The sans-I/O session core: one client connection's protocol state.

It never awaits and never touches a socket. The driver (``api/ws.py``) feeds it what arrives
(:meth:`Session.receive_text`, :meth:`Session.tick`), executes the commands it returns, hands
it replies and pushes, writes what :meth:`Session.next_frame` returns, and closes the
socket with :attr:`Session.close_code` once it is set.

States: AWAITING_CONNECT -> RECOVERING (authenticated; live pushes are buffered while the
driver reads history) -> OPEN -> CLOSED. Once open, the session may also follow room
streams, each recovered the same way on its own (:meth:`Session.follow`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from api.recovery import merge
from proto.wire import (
    ClientFrame,
    ErrorCode,
    WireError,
    error_frame,
    parse_client_frame,
    ping_frame,
)

__all__ = ["CloseCode", "Session", "SessionConfig", "State"]


class CloseCode(IntEnum):
    """WebSocket close codes Tidings uses (documented in docs/protocol.md)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013
    UNAUTHORIZED = 4001
    CONNECT_TIMEOUT = 4002
    TOKEN_EXPIRED = 4003
    HEARTBEAT_TIMEOUT = 4004
    REVOKED = 4005
    DISCONNECTED = 4006
    SLOW_CONSUMER = 4008
    RESYNC_REQUIRED = 4010
    RATE_LIMITED = 4029


class State(Enum):
    AWAITING_CONNECT = "awaiting_connect"
    RECOVERING = "recovering"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    heartbeat_interval: float = 25.0
    heartbeat_timeout: float = 10.0
    connect_timeout: float = 10.0
    max_queued_frames: int = 2000
    max_queued_bytes: int = 8 * 1024 * 1024
    token_leeway: float = 10.0
    max_session_age: float = 7 * 24 * 3600.0
    """Refresh extends a connection at most this long after it authenticated."""


@dataclass(slots=True)
class _Follow:
    position: int = 0
    buffered: list[tuple[int, str]] | None = field(default_factory=list)
    """Pushes that arrived while the stream's history was read; None once recovered."""


class Session:
    __slots__ = (
        "_buffered",
        "_connecting",
        "_deferred",
        "_expires_at",
        "_follows",
        "_next_ping",
        "_opened_at",
        "_outgoing",
        "_ping_sent_at",
        "_queued_bytes",
        "close_code",
        "close_reason",
        "config",
        "device_id",
        "inbox_position",
        "issued_at",
        "state",
        "user_id",
    )

    def __init__(self, config: SessionConfig, now: float) -> None:
        self.config = config
        self.state = State.AWAITING_CONNECT
        self.user_id = ""
        self.device_id = ""
        self.issued_at = 0.0
        """When the token in force was issued (a revocation ends sessions of older ones)."""
        self.close_code: int | None = None
        self.close_reason = ""
        self.inbox_position = 0
        self._opened_at = now
        self._expires_at: float | None = None
        self._ping_sent_at: float | None = None
        self._next_ping = now + config.heartbeat_interval
        self._outgoing: deque[str] | None = None  # made when needed: idle connections have none
        self._queued_bytes = 0
        self._buffered: list[tuple[int, str | None]] = []
        self._deferred: list[str] = []
        self._follows: dict[str, _Follow] = {}
        self._connecting = False

    # ------------------------------------------------------------------ inbound

    def receive_text(self, text: str, now: float) -> ClientFrame | None:
        """Parses one frame; returns a command for the driver to execute, or None."""
        if self.state is State.CLOSED:
            return None
        self._ping_sent_at = None  # any frame proves the client is alive
        try:
            frame = parse_client_frame(text)
        except WireError as exc:
            if self.state is State.AWAITING_CONNECT:
                self._fail_connect(exc.frame_id, str(exc))
            else:
                self.send(error_frame(exc.frame_id, exc.code, str(exc)))
            return None
        command = frame.WhichOneof("command")
        if command == "pong":
            return None
        if self.state is State.AWAITING_CONNECT and not self._connecting:
            if command != "connect":
                self._fail_connect(frame.id, "the first frame must be connect")
                return None
            self._connecting = True  # later frames wait behind it in the driver
        elif command == "connect":
            self.send(error_frame(frame.id, ErrorCode.BAD_REQUEST, "already connected"))
            return None
        return frame

    def _fail_connect(self, frame_id: str, message: str) -> None:
        self.reject(frame_id, ErrorCode.UNAUTHORIZED, message, CloseCode.UNAUTHORIZED)

    def reject(
        self, frame_id: str, code: int, message: str, close_code: int, temporary: bool = False
    ) -> None:
        """Answers with an error and ends the connection (bad token, bad connect)."""
        self.send(error_frame(frame_id, code, message, temporary))
        self.close(close_code, message)

    # ------------------------------------------------------------------ connect and resume

    def authenticated(
        self, user_id: str, device_id: str, expires_at: float, issued_at: float, now: float
    ) -> None:
        """The connect frame's token is valid: buffer live pushes until recovery is done.
        The session ends when the token expires, or at the maximum session age."""
        self.user_id = user_id
        self.device_id = device_id
        self.issued_at = issued_at
        self._opened_at = now
        self._expires_at = min(expires_at, now + self.config.max_session_age)
        self.state = State.RECOVERING

    def recovered(
        self,
        reply: str,
        start: int,
        history: list[tuple[int, str | None]],
        complete_required: bool,
    ) -> int:
        """Sends the connect reply, then history and buffered pushes after ``start`` in order.

        ``complete_required`` is true when the reply promised a full recovery; a hole in the
        merged sequence then ends the connection with RESYNC_REQUIRED rather than hiding it.
        Returns how many events were pushed. An item whose frame is None is another
        namespace's event: it counts for order, nothing is sent.
        """
        items, top, complete = merge(start, history, self._buffered)
        self._buffered = []
        if complete_required and not complete:
            self.close(CloseCode.RESYNC_REQUIRED, "inbox history has a gap; resume again")
            return 0
        if self.state is State.RECOVERING:
            self.state = State.OPEN
        self.send(reply)
        sent = 0
        for _, frame in items:
            if frame is not None:
                self.send(frame)
                sent += 1
        for frame in self._deferred:  # presence and typing that arrived meanwhile
            self.send(frame)
        self._deferred = []
        self.inbox_position = top
        return sent

    # ------------------------------------------------------------------ room streams

    def follow(self, room_id: str) -> None:
        """Starts following a room stream: its pushes are buffered until
        :meth:`room_recovered` (following it again starts over)."""
        self._follows[room_id] = _Follow()

    def room_recovered(
        self,
        room_id: str,
        reply: str,
        start: int,
        history: list[tuple[int, str]],
        complete_required: bool,
    ) -> int:
        """Like :meth:`recovered`, for one room stream."""
        follow = self._follows.get(room_id)
        if follow is None or follow.buffered is None:
            return 0
        items, top, complete = merge(start, history, follow.buffered)
        follow.buffered = None
        if complete_required and not complete:
            self.close(CloseCode.RESYNC_REQUIRED, "room stream history has a gap; resume again")
            return 0
        self.send(reply)
        for _, frame in items:
            self.send(frame)
        follow.position = top
        return len(items)

    def unfollow(self, room_id: str) -> None:
        self._follows.pop(room_id, None)

    @property
    def followed(self) -> list[str]:
        return list(self._follows)

    def push_room(self, room_id: str, position: int, frame: str) -> None:
        """A live room-stream event: as :meth:`push_inbox`, per followed room."""
        follow = self._follows.get(room_id)
        if follow is None or self.state is not State.OPEN:
            return
        if follow.buffered is not None:
            follow.buffered.append((position, frame))
        elif self._next_in_order(follow.position, position, "room"):
            follow.position = position
            self.send(frame)

    def refresh(self, expires_at: float, issued_at: float, now: float) -> bool:
        """A newer token extends the session, never beyond the maximum session age;
        False (nothing changed) when the session is already that old."""
        limit = self._opened_at + self.config.max_session_age
        if now >= limit:
            return False
        self._expires_at = min(expires_at, limit)
        self.issued_at = max(self.issued_at, issued_at)
        return True

    def revoked(self, device_id: str, at: float) -> None:
        """Sessions of ``device_id`` (all when empty) whose token was issued at or before
        ``at`` end (token ``iat`` has whole seconds: one issued in the same second as the
        revocation is refused too)."""
        if device_id in ("", self.device_id) and self.issued_at <= at:
            self.close(CloseCode.REVOKED, "session revoked")

    def disconnect(self, device_id: str) -> None:
        """A backend closes this user's sessions on ``device_id`` (all when empty); the
        client may reconnect."""
        if device_id in ("", self.device_id):
            self.close(CloseCode.DISCONNECTED, "disconnected by the server")

    # ------------------------------------------------------------------ outbound

    def push_inbox(self, position: int, frame: str | None) -> None:
        """A live inbox event (None: not for this connection, only its position counts).
        Duplicates are dropped; a gap forces the client to resume."""
        if self.state is State.RECOVERING:
            self._buffered.append((position, frame))
            return
        if self.state is State.OPEN and self._next_in_order(self.inbox_position, position, "inbox"):
            self.inbox_position = position
            if frame is not None:
                self.send(frame)

    def _next_in_order(self, last: int, position: int, stream: str) -> bool:
        """Whether a live push comes right after ``last``: a repeat is dropped, and a gap
        closes the connection (the client resumes) rather than hiding the missed events."""
        if position <= last:
            return False
        if position != last + 1:
            self.close(CloseCode.RESYNC_REQUIRED, f"missed live {stream} events; resume again")
            return False
        return True

    def send(self, frame: str) -> None:
        """Queues a frame; a client that lets the queue overflow is disconnected."""
        if self.state is State.CLOSED:
            return
        if self.state is State.RECOVERING:
            self._deferred.append(frame)  # nothing may precede the connect reply
            return
        if self._outgoing is None:
            self._outgoing = deque()
        self._outgoing.append(frame)
        self._queued_bytes += len(frame)
        if (
            len(self._outgoing) > self.config.max_queued_frames
            or self._queued_bytes > self.config.max_queued_bytes
        ):
            self.close(CloseCode.SLOW_CONSUMER, "the client does not read fast enough")

    def next_frame(self) -> str | None:
        """The next frame to write, or None. A frame counts against the queue's bounds
        until the driver takes it, one at a time, to write it."""
        if not self._outgoing:
            self._outgoing = None
            return None
        frame = self._outgoing.popleft()
        self._queued_bytes -= len(frame)
        return frame

    def frames_to_send(self) -> list[str]:
        """Every queued frame at once."""
        frames = list(self._outgoing or ())
        self._outgoing = None
        self._queued_bytes = 0
        return frames

    @property
    def has_frames(self) -> bool:
        return bool(self._outgoing)

    @property
    def queued_frames(self) -> int:
        return len(self._outgoing) if self._outgoing else 0

    # ------------------------------------------------------------------ time

    def tick(self, now: float) -> None:
        """Heartbeats, connect timeout and token expiry; call at least once a second."""
        if self.state is State.CLOSED:
            return
        if self.state is State.AWAITING_CONNECT:
            if now - self._opened_at > self.config.connect_timeout:
                self.close(CloseCode.CONNECT_TIMEOUT, "no connect frame in time")
            return
        if self._expires_at is not None and now > self._expires_at + self.config.token_leeway:
            self.close(CloseCode.TOKEN_EXPIRED, "token expired; reconnect with a new one")
            return
        if self._ping_sent_at is not None:
            if now - self._ping_sent_at > self.config.heartbeat_timeout:
                self.close(CloseCode.HEARTBEAT_TIMEOUT, "no pong in time")
            return
        if now >= self._next_ping:
            self._ping_sent_at = now
            self._next_ping = now + self.config.heartbeat_interval
            self.send(ping_frame())

    def close(self, code: int, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.close_code = code
        self.close_reason = reason
