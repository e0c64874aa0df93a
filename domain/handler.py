"""The command handler: decides which events a command produces, without storing them.

The caller (a single writer per room, see ``streams/``) loads nothing itself: it gives the
handler a :class:`Streams` view, saves :attr:`Decision.pending` atomically, and answers the
client with the event named by :attr:`Decision.answer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol
from uuid import UUID

from domain import commands as c
from domain.apikeys import (
    ApiKeyCreated,
    ApiKeyRevoked,
    api_key_aggregate_id,
    api_key_created,
    api_key_revoked,
    check_key_id,
    check_key_name,
    check_scopes,
)
from domain.errors import (
    ApiKeyNotFound,
    Conflict,
    InsufficientRole,
    InvalidArgument,
    NamespaceNotGranted,
    RoomFull,
    RoomNotFound,
)
from domain.namespaces import (
    DEFAULT_NAMESPACE,
    NamespaceConfigured,
    NamespaceRules,
    Namespaces,
    namespace_aggregate_id,
    namespace_configured,
)
from domain.room import Room
from domain.user import UserEvent, presence_changed, sessions_revoked
from domain.values import (
    LARGE_ROOM_MEMBERS,
    EventMeta,
    RoomKind,
    direct_room_id,
    user_aggregate_id,
)

__all__ = ["CommandHandler", "Decision", "EventRef", "Streams"]


class Streams(Protocol):
    """Read access to the current state of the streams.

    Contract: every read reflects every event saved before the call (the handler runs in the
    single writer of these streams, so nothing changes underneath it).
    """

    def get_room(self, room_id: UUID) -> Room | None:
        """The room rebuilt from its stream, or None if it has no events."""

    def user_stream_length(self, user_id: str) -> int:
        """The position of the last event in ``user:<user_id>``, 0 if none."""

    def namespace_settings(self, name: str) -> tuple[int, str]:
        """The position and settings of the last event of ``namespace:<name>`` ((0, "")
        if none)."""

    def api_key(self, key_id: str) -> tuple[int, str]:
        """The position of the last event of ``apikey:<key_id>`` (0: none, 1: created,
        2: revoked) and the secret hash it was created with ("" if none)."""


@dataclass(frozen=True, slots=True)
class EventRef:
    """Names one event of the log by its originator (aggregate id) and position."""

    originator_id: UUID
    position: int


@dataclass(frozen=True, slots=True)
class Decision:
    pending: tuple[Room | UserEvent | NamespaceConfigured | ApiKeyCreated | ApiKeyRevoked, ...]
    """Aggregates with new events, and standalone events, to save in one transaction."""
    answer: EventRef
    """The event that answers the command: a new one, or the original one of a duplicate."""
    duplicate: bool = False


class CommandHandler:
    def __init__(
        self,
        streams: Streams,
        large_room_members: int = LARGE_ROOM_MEMBERS,
        namespaces: Namespaces | None = None,
    ) -> None:
        """``large_room_members``: a group room with more members moves to its room stream
        (the move is an event, so changing the setting never changes the past).
        ``namespaces``: the deployment's namespaces (only ``default`` when None)."""
        self._streams = streams
        self._large_room_members = large_room_members
        self._namespaces = namespaces or Namespaces()

    def decide(self, command: c.Command) -> Decision:
        """The events ``command`` produces, each stamped with its room's namespace."""
        command = self._in_namespace(command)
        return self._replayed(command) or self._decide(command)

    def _replayed(self, command: c.Command) -> Decision | None:
        """The original answer of a backend's request the room has already applied."""
        request_id = command.meta.request_id
        room_id = getattr(command, "room_id", None)
        if not request_id or room_id is None or isinstance(command, c.CreateRoom):
            return None
        room = self._streams.get_room(room_id)
        position = room.accepted_requests.get(request_id) if room is not None else None
        if room is None or position is None or room.namespace not in command.meta.namespaces:
            return None
        return Decision((), EventRef(room_id, position), duplicate=True)

    def _in_namespace(self, command: c.Command) -> c.Command:
        if isinstance(command, c.CreateRoom | c.OpenDirect):
            namespace = command.namespace
        elif isinstance(
            command,
            c.ChangePresence
            | c.RevokeSessions
            | c.ConfigureNamespace
            | c.CreateApiKey
            | c.RevokeApiKey,
        ):
            return command
        else:
            room = self._streams.get_room(command.room_id)
            namespace = room.namespace if room is not None else DEFAULT_NAMESPACE
        stamp = "" if namespace == DEFAULT_NAMESPACE else namespace
        if command.meta.namespace == stamp:
            return command
        return replace(command, meta=replace(command.meta, namespace=stamp))

    def _decide(self, command: c.Command) -> Decision:
        match command:
            case c.CreateRoom(meta, room_id, name, public, kind, namespace):
                if not self._granted(meta, namespace).create_rooms:
                    raise InsufficientRole(
                        f"rooms of namespace {namespace!r} are made by the operator"
                    )
                existing = self._streams.get_room(room_id)
                if existing is not None:
                    if meta.request_id and existing.accepted_requests.get(meta.request_id) == 1:
                        return Decision((), EventRef(room_id, 1), duplicate=True)
                    raise Conflict(f"room {room_id} already exists")
                if kind is RoomKind.CHANNEL:
                    room = Room.create_channel(room_id, meta, name, public, namespace)
                elif kind is RoomKind.GROUP:
                    room = Room.create_group(room_id, meta, name, public, namespace)
                else:
                    raise InvalidArgument("kind must be GROUP or CHANNEL")
                return Decision((room,), EventRef(room_id, 1))
            case c.OpenDirect(meta, peer_id, namespace):
                self._granted(meta, namespace)
                room_id = direct_room_id(meta.user_id, peer_id, namespace)
                existing = self._streams.get_room(room_id)
                if existing is not None:
                    existing.check_member(meta.user_id)
                    return Decision((), EventRef(room_id, 1), duplicate=True)
                room = Room.create_direct(room_id, meta, peer_id, namespace)
                return Decision((room,), EventRef(room_id, 1))
            case c.JoinRoom(meta, room_id):
                room = self._room(room_id, meta)
                self._check_room_for(room, meta.user_id)
                room.join(meta)
                return self._grown(room, meta)
            case c.AddMember(meta, room_id, user_id, role):
                room = self._room(room_id, meta)
                self._check_room_for(room, user_id)
                room.add_member(meta, user_id, role)
                return self._grown(room, meta)
            case c.LeaveRoom(meta, room_id):
                room = self._room(room_id, meta)
                room.leave(meta)
                return self._changed(room)
            case c.RemoveMember(meta, room_id, user_id):
                room = self._room(room_id, meta)
                room.remove_member(meta, user_id)
                return self._changed(room)
            case c.ChangeRole(meta, room_id, user_id, role):
                room = self._room(room_id, meta)
                room.change_role(meta, user_id, role)
                return self._changed(room)
            case c.ChangeRoomSettings(meta, room_id, name, public):
                room = self._room(room_id, meta)
                room.change_settings(meta, name, public)
                return self._changed(room)
            case c.PostMessage(meta, room_id, client_msg_id, text):
                room = self._room(room_id, meta)
                before = room.version
                message_id = room.post_message(meta, client_msg_id, text)
                position = room.messages[message_id].position
                if room.version == before:
                    return Decision((), EventRef(room_id, position), duplicate=True)
                # The answer is the message, even when a DirectAnswered follows it.
                return Decision((room,), EventRef(room_id, position))
            case c.EmitEvent(meta, room_id, name, payload, client_event_id):
                room = self._room(room_id, meta)
                before = room.version
                position = room.emit(meta, name, payload, client_event_id)
                if room.version == before:
                    return Decision((), EventRef(room_id, position), duplicate=True)
                return Decision((room,), EventRef(room_id, position))
            case c.EditMessage(meta, room_id, message_id, text):
                room = self._room(room_id, meta)
                room.edit_message(meta, message_id, text)
                return self._changed(room)
            case c.DeleteMessage(meta, room_id, message_id):
                room = self._room(room_id, meta)
                room.delete_message(meta, message_id)
                return self._changed(room)
            case c.AckRoom(meta, room_id, kind, up_to):
                room = self._room(room_id, meta)
                room.ack(meta, kind, up_to)
                return self._changed(room)
            case c.ChangePresence(meta, status):
                return self._user_event(
                    presence_changed(meta, self._next_user_position(meta.user_id), status)
                )
            case c.RevokeSessions(meta, device_id):
                return self._user_event(
                    sessions_revoked(meta, self._next_user_position(meta.user_id), device_id)
                )
            case c.ConfigureNamespace(meta, name, settings):
                position, recorded = self._streams.namespace_settings(name)
                stream = namespace_aggregate_id(name)
                if settings == recorded:
                    return Decision((), EventRef(stream, position), duplicate=True)
                event = namespace_configured(meta, name, position + 1, settings)
                return Decision((event,), EventRef(stream, position + 1))
            case c.DeleteRoom(meta, room_id):
                room = self._room(room_id, meta)
                room.delete(meta)
                return self._changed(room)
            case c.CreateApiKey(meta, key_id, name, scopes, namespaces, secret_hash):
                position, recorded = self._streams.api_key(check_key_id(key_id))
                stream = api_key_aggregate_id(key_id)
                if position:
                    if recorded != secret_hash:
                        raise Conflict(f"API key {key_id} already exists")
                    return Decision((), EventRef(stream, 1), duplicate=True)
                scopes = tuple(check_scopes(scopes))
                for namespace in namespaces:
                    self._namespaces[namespace]  # an unknown namespace: NamespaceNotFound
                created = api_key_created(
                    meta, key_id, check_key_name(name), scopes, namespaces, secret_hash
                )
                return Decision((created,), EventRef(stream, 1))
            case c.RevokeApiKey(meta, key_id):
                position, _ = self._streams.api_key(check_key_id(key_id))
                stream = api_key_aggregate_id(key_id)
                if position == 0:
                    raise ApiKeyNotFound(key_id)
                if position == 2:
                    return Decision((), EventRef(stream, 2), duplicate=True)
                return Decision((api_key_revoked(meta, key_id),), EventRef(stream, 2))
            case c.LiftBan(meta, room_id, user_id):
                room = self._room(room_id, meta)
                room.lift_ban(meta, user_id)
                return self._changed(room)
        raise TypeError(f"not a command: {command!r}")  # pragma: no cover

    def _room(self, room_id: UUID, meta: EventMeta) -> Room:
        """The room, if it exists in a namespace the actor's token grants (else, to them,
        it does not exist)."""
        room = self._streams.get_room(room_id)
        if room is None or room.deleted or room.namespace not in meta.namespaces:
            raise RoomNotFound(room_id)
        return room

    def _granted(self, meta: EventMeta, namespace: str) -> NamespaceRules:
        if namespace not in meta.namespaces:
            raise NamespaceNotGranted(namespace)
        return self._namespaces[namespace]

    def _check_room_for(self, room: Room, user_id: str) -> None:
        """Refuses a new member past the namespace's largest room (before any change: the
        writer keeps the room in memory, so a rule must hold before the room is touched)."""
        rules = self._namespaces[room.namespace]
        if not room.is_member(user_id) and not rules.check_room_size(len(room.members) + 1):
            raise RoomFull(rules.max_room_members)

    def _next_user_position(self, user_id: str) -> int:
        return self._streams.user_stream_length(user_id) + 1

    def _grown(self, room: Room, meta: EventMeta) -> Decision:
        """A member joined: the answer is the join, followed, if the room just became
        large, by its move to the room stream, in the same transaction."""
        joined = self._changed(room)
        room.grow(meta, self._large_room_members)
        return Decision((room,), joined.answer)

    @staticmethod
    def _changed(room: Room) -> Decision:
        return Decision((room,), EventRef(room.id, room.version))

    @staticmethod
    def _user_event(event: UserEvent) -> Decision:
        return Decision(
            (event,), EventRef(user_aggregate_id(event.user_id), event.originator_version)
        )
