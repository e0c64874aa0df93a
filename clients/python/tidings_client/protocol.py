"""The client protocol without I/O: frames in, actions out (python-websockets' model).

:class:`ClientProtocol` holds what a client knows (its user, inbox position and epoch, the
room streams it follows and where) and decides everything the protocol asks of a client:
the ``connect`` frame from the saved position, what each recovery outcome means, which push
is new and which a duplicate, when to start or stop following a room stream, which reply
answers which command. It returns :data:`Action` values; ``client.py`` carries them out with
websockets and httpx. Tests drive it with JSON frames (``clients/fixtures/``), shared with
the JavaScript SDK's tests.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from tidings_client.events import (
    AppEvent,
    ConnectionChanged,
    Event,
    InboxEvent,
    PresenceNotice,
    RoomEvent,
    TypingNotice,
)

__all__ = [
    "Action",
    "ClientProtocol",
    "Emit",
    "Follow",
    "PageInbox",
    "PageRoom",
    "Positions",
    "Reply",
    "Send",
    "TidingsError",
]

Frame = dict[str, Any]


class TidingsError(Exception):
    """A command the server refused; ``code`` is the protocol's ErrorCode name."""

    def __init__(
        self, code: str, message: str, temporary: bool = False, retry_after: float = 0.0
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.temporary = temporary
        self.retry_after = retry_after
        """RATE_LIMITED: seconds to wait before retrying."""

    @classmethod
    def from_reply(cls, error: Frame) -> TidingsError:
        return cls(
            error.get("code", ""),
            error.get("message", ""),
            error.get("temporary", False),
            int(error.get("retryAfterMs", 0)) / 1000,
        )


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand this event to the application."""

    event: Event


@dataclass(frozen=True, slots=True)
class Send:
    """Send this frame now."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the command with this id (``error`` or the result)."""

    request_id: str
    reply: Frame


@dataclass(frozen=True, slots=True)
class Follow:
    """Follow this room stream from ``position`` (None: from its head)."""

    room_id: str
    position: int | None
    epoch: str


@dataclass(frozen=True, slots=True)
class PageInbox:
    """Read the inbox after ``after`` up to ``head`` over REST; hand each item to
    :meth:`ClientProtocol.paged_inbox`."""

    after: int
    head: int


@dataclass(frozen=True, slots=True)
class PageRoom:
    """Read a room stream after ``after`` up to ``head`` over REST (each item to
    :meth:`ClientProtocol.paged_room`), then follow it again from the last one."""

    room_id: str
    after: int
    head: int
    epoch: str


Action = Emit | Send | Reply | Follow | PageInbox | PageRoom


@dataclass
class Positions:
    """Where the client is: what it saves, and what it resumes from."""

    position: int | None = None
    epoch: str = ""
    rooms: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Followed room streams: room id -> (last room position, epoch)."""

    def to_json(self) -> str:
        rooms = {room: list(at) for room, at in self.rooms.items()}
        return json.dumps({"position": self.position, "epoch": self.epoch, "rooms": rooms})

    @classmethod
    def from_json(cls, text: str) -> Positions:
        saved = json.loads(text)
        position = saved.get("position")
        rooms = {r: (int(p), str(e)) for r, (p, e) in saved.get("rooms", {}).items()}
        return cls(
            int(position) if position is not None else None, str(saved.get("epoch", "")), rooms
        )


class ClientProtocol:
    def __init__(self, positions: Positions | None = None) -> None:
        self.positions = positions or Positions()
        self.user_id = ""
        self.changed = False
        """Whether the positions moved since the I/O layer last saved them."""
        self._emitted: dict[str, int] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ frames out

    def connect_frame(self, token: str, device_id: str, namespace: str = "") -> Frame:
        """The first frame: resumes from the saved inbox position when there is one."""
        body: Frame = {"token": token, "deviceId": device_id}
        if namespace:
            body["namespace"] = namespace
        if self.positions.position is not None:
            p = self.positions
            body["inbox"] = {"position": str(p.position), "epoch": p.epoch}
        return {"id": "connect", "connect": body}

    def command(self, name: str, body: Frame) -> tuple[str, Frame]:
        """A command frame and the id its reply will carry."""
        request_id = str(next(self._ids))
        return request_id, {"id": request_id, name: body}

    def follow_frame(self, room_id: str, position: int | None, epoch: str) -> Frame:
        """The body of ``follow``; a given position is where the stream's pushes start."""
        body: Frame = {"roomId": room_id}
        if position is not None:
            body |= {"position": str(position), "epoch": epoch}
            self._track(room_id, position, epoch)
        return body

    # ------------------------------------------------------------------ answers in

    def connected(self, reply: Frame) -> list[Action]:
        """The reply to ``connect``: raises TidingsError if refused; otherwise what the
        recovery outcome asks for, then a follow of every room stream followed before."""
        if "error" in reply:
            raise TidingsError.from_reply(reply["error"])
        result = reply["connect"]
        self.user_id = result["userId"]
        recovery = result.get("recovery", "")
        head = int(result["inbox"].get("position", 0))
        epoch = result["inbox"]["epoch"]
        actions: list[Action] = []
        if recovery == "RECOVERY_RECOVERED":
            actions.append(Emit(ConnectionChanged("resumed", recovery)))
        elif recovery == "RECOVERY_TOO_FAR_BEHIND" and self.positions.position is not None:
            actions += [
                PageInbox(self.positions.position, head),
                Emit(ConnectionChanged("resumed", recovery)),
            ]
        else:
            lost = recovery in _LOST
            changed = ConnectionChanged("not_recovered" if lost else "connected", recovery)
            actions.append(Emit(changed))
            self._advance(head, epoch)
        rooms = self.positions.rooms.items()
        return actions + [Follow(room, position, e) for room, (position, e) in rooms]

    def followed(self, room_id: str, requested: int | None, result: Frame) -> list[Action]:
        """The result of ``follow``: page over REST when too far behind; otherwise live
        pushes continue after the stream's head."""
        recovery = result.get("recovery", "")
        start = result.get("position", {})
        head, epoch = int(start.get("position", 0)), start.get("epoch", "")
        if recovery == "RECOVERY_TOO_FAR_BEHIND" and requested is not None:
            return [PageRoom(room_id, requested, head, epoch)]
        actions: list[Action] = []
        if recovery in _LOST:
            actions.append(Emit(ConnectionChanged("not_recovered", recovery)))
        current = self.positions.rooms.get(room_id)
        if current is None or current[1] != epoch or current[0] < head:
            self._track(room_id, head, epoch)
        return actions

    def unfollowed(self, room_id: str) -> None:
        if self.positions.rooms.pop(room_id, None) is not None:
            self.changed = True

    def receive(self, frame: Frame) -> list[Action]:
        """Any frame after the connect reply."""
        if "reply" in frame:
            return [Reply(frame["reply"].get("id", ""), frame["reply"])]
        push = frame.get("push", {})
        if "event" in push:
            return self.paged_inbox(push["event"])
        if "room" in push:
            return self.paged_room(push["room"])
        if "ping" in push:
            return [Send({"pong": {}})]
        if "presence" in push:
            p = push["presence"]
            notice = PresenceNotice(
                p["userId"], p.get("deviceId", ""), p.get("status", ""), p.get("online", False)
            )
            return [Emit(notice)]
        if "typing" in push:
            t = push["typing"]
            return [Emit(TypingNotice(t["roomId"], t["userId"], t.get("typing", False)))]
        if "app" in push:
            a = push["app"]
            event = AppEvent(a["name"], a.get("payload"), a.get("roomId", ""), a["userId"])
            return [Emit(event)]
        return []  # a push this version does not know

    def paged_inbox(self, item: Frame) -> list[Action]:
        """An inbox event, pushed or read over REST."""
        event = InboxEvent.from_push(item)
        p = self.positions
        if p.position is not None and event.position <= p.position:
            return []  # already seen
        self._advance(event.position, event.epoch)
        return self._once(event) + self._follows_after(event)

    def paged_room(self, item: Frame) -> list[Action]:
        """A room stream's event, pushed or read over REST."""
        event = RoomEvent.from_push(item)
        self._track(event.room_id, event.position, event.epoch)
        return self._once(event)

    # ------------------------------------------------------------------ rules

    def _once(self, event: InboxEvent) -> list[Action]:
        """A room's events once each: a followed room's event may come both in the inbox
        (what concerns you) and in its stream."""
        if event.room_id in self.positions.rooms or isinstance(event, RoomEvent):
            if event.room_position <= self._emitted.get(event.room_id, 0):
                return []
            self._emitted[event.room_id] = event.room_position
        return [Emit(event)]

    def _follows_after(self, event: InboxEvent) -> list[Action]:
        """Starts or stops following a room stream when the inbox says so."""
        me = event.payload.get("userId") == self.user_id
        if event.kind == "roomStreamStarted" or (event.kind == "memberJoined" and me):
            if event.room_id not in self.positions.rooms:
                # A join to a small room is refused (not a stream): nothing to follow.
                return [Follow(event.room_id, event.room_position, event.epoch)]
        elif event.kind == "memberLeft" and me:
            self.unfollowed(event.room_id)
        return []

    def _advance(self, position: int, epoch: str) -> None:
        self.positions.position, self.positions.epoch = position, epoch
        self.changed = True

    def _track(self, room_id: str, position: int, epoch: str) -> None:
        self.positions.rooms[room_id] = (position, epoch)
        self.changed = True


_LOST = ("RECOVERY_EPOCH_CHANGED", "RECOVERY_FUTURE_POSITION")
"""Recovery outcomes after which missed events cannot be delivered."""
