"""Commands: what a user asks Tidings to do. Imperative names, plain values, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import AckKind, EventMeta, PresenceStatus, Role, RoomKind

__all__ = [
    "AckRoom",
    "AddMember",
    "ChangePresence",
    "ChangeRole",
    "ChangeRoomSettings",
    "Command",
    "ConfigureNamespace",
    "CreateApiKey",
    "CreateRoom",
    "DeleteMessage",
    "DeleteRoom",
    "EditMessage",
    "EmitEvent",
    "JoinRoom",
    "LeaveRoom",
    "LiftBan",
    "OpenDirect",
    "PostMessage",
    "RemoveMember",
    "RevokeApiKey",
    "RevokeSessions",
]


@dataclass(frozen=True, slots=True)
class CreateRoom:
    meta: EventMeta
    room_id: UUID
    name: str
    public: bool = True
    kind: RoomKind = RoomKind.GROUP
    """GROUP or CHANNEL (direct conversations are opened with :class:`OpenDirect`)."""
    namespace: str = DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True)
class OpenDirect:
    meta: EventMeta
    peer_id: str
    namespace: str = DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True)
class JoinRoom:
    meta: EventMeta
    room_id: UUID


@dataclass(frozen=True, slots=True)
class AddMember:
    meta: EventMeta
    room_id: UUID
    user_id: str
    role: Role = Role.MEMBER


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    meta: EventMeta
    room_id: UUID


@dataclass(frozen=True, slots=True)
class RemoveMember:
    meta: EventMeta
    room_id: UUID
    user_id: str


@dataclass(frozen=True, slots=True)
class ChangeRole:
    meta: EventMeta
    room_id: UUID
    user_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class ChangeRoomSettings:
    meta: EventMeta
    room_id: UUID
    name: str
    public: bool


@dataclass(frozen=True, slots=True)
class PostMessage:
    meta: EventMeta
    room_id: UUID
    client_msg_id: str
    text: str


@dataclass(frozen=True, slots=True)
class EmitEvent:
    """Emits a durable application event in a room (volatile ones never become commands)."""

    meta: EventMeta
    room_id: UUID
    name: str
    payload: str
    """JSON text, already checked against the namespace's rules."""
    client_event_id: str = ""


@dataclass(frozen=True, slots=True)
class EditMessage:
    meta: EventMeta
    room_id: UUID
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    meta: EventMeta
    room_id: UUID
    message_id: str


@dataclass(frozen=True, slots=True)
class AckRoom:
    meta: EventMeta
    room_id: UUID
    kind: AckKind
    up_to: int


@dataclass(frozen=True, slots=True)
class ChangePresence:
    meta: EventMeta
    status: PresenceStatus


@dataclass(frozen=True, slots=True)
class RevokeSessions:
    """Closes the user's sessions on ``device_id`` (every device when empty) and refuses
    their tokens issued until now."""

    meta: EventMeta
    device_id: str = ""


@dataclass(frozen=True, slots=True)
class ConfigureNamespace:
    """Records a namespace's settings (the operator's, read from the namespaces file) unless
    they are the ones recorded last. Issued by processes at start, never by clients."""

    meta: EventMeta
    name: str
    settings: str
    """Canonical JSON (``NamespaceRules.settings_json``)."""


@dataclass(frozen=True, slots=True)
class DeleteRoom:
    """Ends a group room or channel: every member leaves it and nobody can use it again."""

    meta: EventMeta
    room_id: UUID


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    """Records a new API key (issued by the operator's tools and admin keys)."""

    meta: EventMeta
    key_id: str
    name: str
    scopes: tuple[str, ...]
    namespaces: tuple[str, ...]
    secret_hash: str


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    meta: EventMeta
    key_id: str


@dataclass(frozen=True, slots=True)
class LiftBan:
    """Lets a member removed from the room join it again."""

    meta: EventMeta
    room_id: UUID
    user_id: str


Command = (
    CreateRoom
    | OpenDirect
    | JoinRoom
    | AddMember
    | LeaveRoom
    | RemoveMember
    | ChangeRole
    | ChangeRoomSettings
    | PostMessage
    | EmitEvent
    | EditMessage
    | DeleteMessage
    | AckRoom
    | ChangePresence
    | RevokeSessions
    | LiftBan
    | ConfigureNamespace
    | DeleteRoom
    | CreateApiKey
    | RevokeApiKey
)
