"""What projectors ask a store to do, and what a store hands back for live delivery.

Every change is idempotent under replay because a store applies a batch of changes and the
log offset it came from in one transaction, and skips offsets it has already applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto.codec import Envelope

__all__ = [
    "AddMember",
    "AdvanceRoom",
    "AppEventNotice",
    "AppendInbox",
    "AppendRoomStream",
    "Change",
    "DeleteMessage",
    "Delivery",
    "DisconnectNotice",
    "EditMessage",
    "InboxEntry",
    "ListRoom",
    "LiveNotice",
    "NotifyLive",
    "RaiseReadState",
    "RemoveMember",
    "RevokeApiKey",
    "RoomStreamEntry",
    "SetApiKey",
    "SetNamespace",
    "SetPresence",
    "SetQuiet",
    "SetRevocation",
    "SetRole",
    "StartRoomStream",
    "StoreMessage",
    "TypingNotice",
    "UnlistRoom",
    "UpsertRoom",
]


@dataclass(frozen=True, slots=True)
class UpsertRoom:
    room_id: str
    kind: int
    name: str
    public: bool


@dataclass(frozen=True, slots=True)
class AdvanceRoom:
    """The room's stream reached ``position`` at ``at`` (ISO time)."""

    room_id: str
    position: int
    at: str


@dataclass(frozen=True, slots=True)
class AddMember:
    room_id: str
    user_id: str
    role: int
    position: int


@dataclass(frozen=True, slots=True)
class RemoveMember:
    room_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class SetRole:
    room_id: str
    user_id: str
    role: int


@dataclass(frozen=True, slots=True)
class StoreMessage:
    room_id: str
    position: int
    message_id: str
    author_id: str
    client_msg_id: str
    text: str
    posted_at: str
    trace_id: str


@dataclass(frozen=True, slots=True)
class EditMessage:
    room_id: str
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    room_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class RaiseReadState:
    """Moves a read state forward; a lower ``up_to`` than the stored one changes nothing."""

    user_id: str
    room_id: str
    kind: int
    up_to: int


@dataclass(frozen=True, slots=True)
class SetPresence:
    user_id: str
    device_id: str
    status: int
    at: str


@dataclass(frozen=True, slots=True)
class SetNamespace:
    """The room belongs to a namespace other than default (for ever)."""

    room_id: str
    namespace: str


@dataclass(frozen=True, slots=True)
class ListRoom:
    """The room's entry in the directory of group rooms and channels (``kind`` 0: keep
    the kind listed already)."""

    room_id: str
    namespace: str
    name: str
    public: bool
    kind: int


@dataclass(frozen=True, slots=True)
class UnlistRoom:
    """The room was deleted: it leaves the directory."""

    room_id: str
    namespace: str


@dataclass(frozen=True, slots=True)
class SetApiKey:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    namespaces: tuple[str, ...]
    secret_hash: str
    created_at: str
    created_by: str


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    key_id: str
    revoked_at: str


@dataclass(frozen=True, slots=True)
class SetQuiet:
    """Whether the room's members share presence through it: a direct room is quiet
    until its peer answers."""

    room_id: str
    quiet: bool


@dataclass(frozen=True, slots=True)
class SetRevocation:
    """Tokens of ``user_id`` on ``device_id`` ("" for every device) issued at or before
    ``at`` (seconds since the epoch) are refused."""

    user_id: str
    device_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AppendInbox:
    """Appends the event to each user's inbox at that inbox's next position."""

    user_ids: frozenset[str]
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class StartRoomStream:
    """From room position ``since`` on, the room is followed as a room stream."""

    room_id: str
    since: int


@dataclass(frozen=True, slots=True)
class AppendRoomStream:
    """Stores the event in its room's stream (history for resume) and delivers it live to
    the room's followers, once per event however many they are."""

    room_id: str
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class NotifyLive:
    """Delivers the event to connected users only; nothing is stored."""

    user_ids: frozenset[str]
    envelope: Envelope
    online: bool


Change = (
    UpsertRoom
    | AdvanceRoom
    | AddMember
    | RemoveMember
    | SetRole
    | StoreMessage
    | EditMessage
    | DeleteMessage
    | RaiseReadState
    | SetPresence
    | SetRevocation
    | SetQuiet
    | SetNamespace
    | ListRoom
    | UnlistRoom
    | SetApiKey
    | RevokeApiKey
    | StartRoomStream
    | AppendRoomStream
    | AppendInbox
    | NotifyLive
)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One event at one position of one user's inbox."""

    user_id: str
    position: int
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class LiveNotice:
    """A presence change (``envelope.presence_changed``) for the users who share a room."""

    user_ids: frozenset[str]
    envelope: Envelope
    online: bool


@dataclass(frozen=True, slots=True)
class RoomStreamEntry:
    """One event of a room stream, at its room position."""

    room_id: str
    position: int
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class TypingNotice:
    """Someone typing in a room, for its other members (ephemeral: never logged)."""

    user_ids: tuple[str, ...]
    room_id: str
    user_id: str
    typing: bool
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class AppEventNotice:
    """A volatile application event (docs/events.md) for connected users: never logged."""

    user_ids: tuple[str, ...]
    room_id: str
    """The room it was emitted in; empty when sent to one user."""
    user_id: str
    """The sender."""
    name: str
    payload: str
    """JSON text."""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """A backend asked to close the connections of ``user_id`` (on ``device_id`` only, when
    given): never logged, the clients reconnect (revoke sessions to keep them out)."""

    user_id: str
    device_id: str = ""


Delivery = (
    InboxEntry | LiveNotice | RoomStreamEntry | TypingNotice | AppEventNotice | DisconnectNotice
)
"""What a gateway's hub delivers to its connections (``api.hub.Hub.publish``)."""
