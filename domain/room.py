"""The Room aggregate: membership, roles, settings and message authorship.

A room's events form the stream ``room:<id>``; the aggregate version is the dense stream
position. Small rooms are delivered through their members' inboxes; channels, and group
rooms that grow past the large-room size, are followed directly as room streams from
:attr:`Room.streamed_since` on (ADR 14). Message bodies live in projections, not here: the
aggregate keeps only what its rules need (who wrote which message, which client message
ids it has accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    AlreadyAMember,
    Banned,
    BanNotFound,
    InsufficientRole,
    InvalidArgument,
    LastOwnerCannotLeave,
    MemberNotFound,
    MessageNotFound,
    NotAMember,
    NotTheAuthor,
)
from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import (
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    AckKind,
    EventMeta,
    Role,
    RoomKind,
    check_user_id,
    event_id,
    room_stream,
)

__all__ = ["MessageRecord", "Room", "check_text"]


def check_text(text: str) -> str:
    if not text.strip():
        raise InvalidArgument("text must not be empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidArgument(f"text is longer than {MAX_TEXT_LENGTH} characters")
    return text


def _check_name(name: str) -> str:
    if len(name) > MAX_ROOM_NAME_LENGTH:
        raise InvalidArgument(f"room names are at most {MAX_ROOM_NAME_LENGTH} characters")
    return name


@dataclass(slots=True)
class MessageRecord:
    author_id: str
    position: int
    deleted: bool = False


class _RoomEvent(Aggregate.Event):
    meta: EventMeta

    def mutate(self, aggregate: Any) -> Any:
        """Applies the event, then notes its request id: a backend's request (one or more
        events) is applied once per room, however often it is sent."""
        room = super().mutate(aggregate)
        if self.meta.request_id and room is not None:
            room.accepted_requests.setdefault(self.meta.request_id, self.originator_version)
        return room


class Room(Aggregate):
    """A group room or a direct conversation. Commands are the public methods.

    An actor with ``meta.server`` (a backend's API key) has an owner's rights in every room
    without being a member."""

    class RoomCreated(Aggregate.Created):
        meta: EventMeta
        name: str
        kind: RoomKind
        public: bool
        namespace: str

    class RoomSettingsChanged(_RoomEvent):
        meta: EventMeta
        name: str
        public: bool

    class MemberJoined(_RoomEvent):
        meta: EventMeta
        user_id: str
        role: Role
        added_by: str

    class MemberLeft(_RoomEvent):
        meta: EventMeta
        user_id: str
        removed_by: str

    class MemberRoleChanged(_RoomEvent):
        meta: EventMeta
        user_id: str
        role: Role

    class MessagePosted(_RoomEvent):
        meta: EventMeta
        message_id: str
        client_msg_id: str
        text: str

    class EventEmitted(_RoomEvent):
        """An application event (docs/events.md): a named JSON payload for the members."""

        meta: EventMeta
        name: str
        payload: str
        """JSON text."""
        client_event_id: str

    class MessageEdited(_RoomEvent):
        meta: EventMeta
        message_id: str
        text: str

    class MessageDeleted(_RoomEvent):
        meta: EventMeta
        message_id: str

    class DirectAnswered(_RoomEvent):
        """The peer of a direct conversation posted in it: from here on the two share
        presence (a stranger who opens a conversation learns nothing until answered)."""

        meta: EventMeta

    class BanLifted(_RoomEvent):
        meta: EventMeta
        user_id: str

    class StreamStarted(_RoomEvent):
        """The room grew past the large-room size: members follow it as a room stream."""

        meta: EventMeta
        members: int

    class Deleted(_RoomEvent):
        """The room ended (after its members left it): nothing can happen in it again."""

    class Acked(_RoomEvent):
        """A member received (delivered) or read the room up to a room position."""

        meta: EventMeta
        kind: AckKind
        up_to: int

    @event(RoomCreated)
    def __init__(
        self, meta: EventMeta, name: str, kind: RoomKind, public: bool, namespace: str
    ) -> None:
        self.name = name
        self.kind = kind
        self.public = public
        self.namespace = namespace or DEFAULT_NAMESPACE
        self.members: dict[str, Role] = {}
        self.messages: dict[str, MessageRecord] = {}
        self.accepted_client_msgs: dict[tuple[str, str], str] = {}
        self.accepted_client_events: dict[tuple[str, str], int] = {}
        self.opener = meta.user_id
        self.answered = kind is not RoomKind.DIRECT
        """A direct conversation is answered once its peer (not its opener) posted."""
        self.banned: set[str] = set()
        """Members removed by an admin: they may not join again until the ban is lifted."""
        self.streamed_since = 1 if kind is RoomKind.CHANNEL else 0
        """The room position from which members follow the room stream; 0: inbox fan-out."""
        self.deleted = False
        self.accepted_requests: dict[str, int] = {}
        """A backend's request id -> the position of the first event it caused."""
        if meta.request_id:
            self.accepted_requests[meta.request_id] = 1

    # ------------------------------------------------------------------ factories

    @classmethod
    def create_group(
        cls,
        room_id: UUID,
        meta: EventMeta,
        name: str,
        public: bool,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> Room:
        """A new group room; its creator is its first owner."""
        return cls._create_owned(room_id, meta, name, public, RoomKind.GROUP, namespace)

    @classmethod
    def create_channel(
        cls,
        room_id: UUID,
        meta: EventMeta,
        name: str,
        public: bool,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> Room:
        """A broadcast room: everybody reads, admins and owners post; its creator owns it."""
        return cls._create_owned(room_id, meta, name, public, RoomKind.CHANNEL, namespace)

    @classmethod
    def _create_owned(
        cls,
        room_id: UUID,
        meta: EventMeta,
        name: str,
        public: bool,
        kind: RoomKind,
        namespace: str,
    ) -> Room:
        room = cls._create(
            cls.RoomCreated,
            id=room_id,
            meta=meta,
            name=_check_name(name),
            kind=kind,
            public=public,
            namespace=namespace,
        )
        room._joined(meta=meta, user_id=meta.user_id, role=Role.OWNER, added_by="")
        return room

    @classmethod
    def create_direct(
        cls, room_id: UUID, meta: EventMeta, peer_id: str, namespace: str = DEFAULT_NAMESPACE
    ) -> Room:
        """The direct conversation between the actor and a peer, both plain members."""
        check_user_id(peer_id)
        if peer_id == meta.user_id:
            raise InvalidArgument("a direct conversation needs two different users")
        room = cls._create(
            cls.RoomCreated,
            id=room_id,
            meta=meta,
            name="",
            kind=RoomKind.DIRECT,
            public=False,
            namespace=namespace,
        )
        room._joined(meta=meta, user_id=meta.user_id, role=Role.MEMBER, added_by="")
        room._joined(meta=meta, user_id=peer_id, role=Role.MEMBER, added_by=meta.user_id)
        return room

    # ------------------------------------------------------------------ queries

    @property
    def stream(self) -> str:
        return room_stream(self.id)

    @property
    def streamed(self) -> bool:
        return self.streamed_since > 0

    def is_member(self, user_id: str) -> bool:
        return user_id in self.members

    def check_member(self, user_id: str) -> Role:
        try:
            return self.members[user_id]
        except KeyError:
            raise NotAMember(user_id) from None

    # ------------------------------------------------------------------ commands

    def join(self, meta: EventMeta) -> None:
        if self.is_member(meta.user_id):
            raise AlreadyAMember(meta.user_id)
        if self.kind is RoomKind.DIRECT or not self.public:
            raise NotAMember(meta.user_id)  # a stranger cannot tell it exists
        if meta.user_id in self.banned:
            raise Banned()
        self._joined(meta=meta, user_id=meta.user_id, role=Role.MEMBER, added_by="")

    def add_member(self, meta: EventMeta, user_id: str, role: Role = Role.MEMBER) -> None:
        actor_role = self._check_group_admin(meta)
        check_user_id(user_id)
        if self.is_member(user_id):
            raise AlreadyAMember(user_id)
        if role is Role.OWNER and actor_role is not Role.OWNER:
            raise InsufficientRole("only owners may add owners")
        self._joined(meta=meta, user_id=user_id, role=role, added_by=meta.user_id)

    def leave(self, meta: EventMeta) -> None:
        role = self.check_member(meta.user_id)
        if self.kind is RoomKind.DIRECT:
            raise InsufficientRole("a direct conversation cannot be left")
        if role is Role.OWNER and self._owners() == {meta.user_id} and len(self.members) > 1:
            raise LastOwnerCannotLeave()
        self._left(meta=meta, user_id=meta.user_id, removed_by="")

    def remove_member(self, meta: EventMeta, user_id: str) -> None:
        actor_role = self._check_group_admin(meta)
        target_role = self._member_role(user_id)
        if user_id == meta.user_id and not meta.server:
            raise InvalidArgument("use leave to leave a room")
        if target_role >= actor_role and actor_role is not Role.OWNER:
            raise InsufficientRole("admins may remove members only")
        # The last owner is never removed here: only an owner removes an owner, and an
        # owner removing themselves is told to leave (where the last-owner rule applies).
        self._left(meta=meta, user_id=user_id, removed_by=meta.user_id)

    def lift_ban(self, meta: EventMeta, user_id: str) -> None:
        """An admin lets a removed member join again (adding them back also does)."""
        self._check_group_admin(meta)
        if user_id not in self.banned:
            raise BanNotFound(user_id)
        self._ban_lifted(meta=meta, user_id=user_id)

    def change_role(self, meta: EventMeta, user_id: str, role: Role) -> None:
        if self._check_group_admin(meta) is not Role.OWNER:
            raise InsufficientRole("only owners change roles")
        current = self._member_role(user_id)
        if current is role:
            return
        if current is Role.OWNER and self._owners() == {user_id} and not meta.server:
            raise LastOwnerCannotLeave()
        self._role_changed(meta=meta, user_id=user_id, role=role)

    def change_settings(self, meta: EventMeta, name: str, public: bool) -> None:
        self._check_group_admin(meta)
        self._settings_changed(meta=meta, name=_check_name(name), public=public)

    def grow(self, meta: EventMeta, large_room_members: int) -> None:
        """Moves a group room that has more than ``large_room_members`` members to its room
        stream, once; a room that shrinks again stays there."""
        large = len(self.members) > large_room_members
        if self.kind is RoomKind.GROUP and not self.streamed and large:
            self._stream_started(meta=meta, members=len(self.members))

    def post_message(self, meta: EventMeta, client_msg_id: str, text: str) -> str:
        """Posts a message and returns its id; a repeated client_msg_id posts nothing."""
        self._check_poster(meta)
        if len(client_msg_id) > MAX_CLIENT_MSG_ID_LENGTH:
            raise InvalidArgument(f"client_msg_id is longer than {MAX_CLIENT_MSG_ID_LENGTH}")
        if client_msg_id:
            accepted = self.accepted_client_msgs.get((meta.user_id, client_msg_id))
            if accepted is not None:
                return accepted
        message_id = event_id(self.stream, self.version + 1)
        self._posted(
            meta=meta, message_id=message_id, client_msg_id=client_msg_id, text=check_text(text)
        )
        if not self.answered and meta.user_id != self.opener and not meta.server:
            self._answered(meta=meta)
        return message_id

    def emit(self, meta: EventMeta, name: str, payload: str, client_event_id: str) -> int:
        """Emits an application event for the members and returns its room position; a
        repeated client_event_id emits nothing and returns the original's position. The
        name and payload were checked against the namespace by the caller."""
        self._check_poster(meta)
        if len(client_event_id) > MAX_CLIENT_MSG_ID_LENGTH:
            raise InvalidArgument(f"client_event_id is longer than {MAX_CLIENT_MSG_ID_LENGTH}")
        if client_event_id:
            accepted = self.accepted_client_events.get((meta.user_id, client_event_id))
            if accepted is not None:
                return accepted
        self._emitted(meta=meta, name=name, payload=payload, client_event_id=client_event_id)
        return self.version

    def edit_message(self, meta: EventMeta, message_id: str, text: str) -> None:
        self._check_poster(meta)
        message = self._live_message(message_id)
        if message.author_id != meta.user_id:
            raise NotTheAuthor()
        self._edited(meta=meta, message_id=message_id, text=check_text(text))

    def delete_message(self, meta: EventMeta, message_id: str) -> None:
        role = self._actor_role(meta)
        message = self._live_message(message_id)
        if message.author_id != meta.user_id and role < Role.ADMIN:
            raise NotTheAuthor()
        self._deleted(meta=meta, message_id=message_id)

    def ack(self, meta: EventMeta, kind: AckKind, up_to: int) -> None:
        """Acks name a position of this room's stream that exists."""
        self.check_member(meta.user_id)
        if not 1 <= up_to <= self.version:
            raise InvalidArgument(f"up_to must be between 1 and {self.version}")
        self._acked(meta=meta, kind=kind, up_to=up_to)

    def delete(self, meta: EventMeta) -> None:
        """Every member leaves (removed by the actor, not banned), then the room ends."""
        if self._check_group_admin(meta) is not Role.OWNER:
            raise InsufficientRole("only owners delete a room")
        for user_id in sorted(self.members):
            self._left(meta=meta, user_id=user_id, removed_by="")
        self._deleted_room(meta=meta)

    # ------------------------------------------------------------------ helpers

    def _actor_role(self, meta: EventMeta) -> Role:
        """The actor's role: an owner's for a backend, else their membership's."""
        return Role.OWNER if meta.server else self.check_member(meta.user_id)

    def _owners(self) -> set[str]:
        return {user for user, role in self.members.items() if role is Role.OWNER}

    def _check_group_admin(self, meta: EventMeta) -> Role:
        role = self._actor_role(meta)
        if self.kind is RoomKind.DIRECT:
            raise InsufficientRole("direct conversations have no administrators")
        if role < Role.ADMIN:
            raise InsufficientRole("only admins and owners may do this")
        return role

    def _member_role(self, user_id: str) -> Role:
        """The role of the member a command is about (not the caller)."""
        role = self.members.get(user_id)
        if role is None:
            raise MemberNotFound(user_id)
        return role

    def _check_poster(self, meta: EventMeta) -> Role:
        role = self._actor_role(meta)
        if self.kind is RoomKind.CHANNEL and role < Role.ADMIN:
            raise InsufficientRole("only admins and owners post in a channel")
        return role

    def _live_message(self, message_id: str) -> MessageRecord:
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            raise MessageNotFound(message_id)
        return message

    # ------------------------------------------------------------------ appliers

    @event(MemberJoined)
    def _joined(self, meta: EventMeta, user_id: str, role: Role, added_by: str) -> None:
        self.members[user_id] = role
        self.banned.discard(user_id)

    @event(MemberLeft)
    def _left(self, meta: EventMeta, user_id: str, removed_by: str) -> None:
        del self.members[user_id]
        if removed_by:
            self.banned.add(user_id)

    @event(DirectAnswered)
    def _answered(self, meta: EventMeta) -> None:
        self.answered = True

    @event(BanLifted)
    def _ban_lifted(self, meta: EventMeta, user_id: str) -> None:
        self.banned.discard(user_id)

    @event(MemberRoleChanged)
    def _role_changed(self, meta: EventMeta, user_id: str, role: Role) -> None:
        self.members[user_id] = role

    @event(RoomSettingsChanged)
    def _settings_changed(self, meta: EventMeta, name: str, public: bool) -> None:
        self.name = name
        self.public = public

    @event(MessagePosted)
    def _posted(self, meta: EventMeta, message_id: str, client_msg_id: str, text: str) -> None:
        # Appliers run before the version moves on, so this event sits at version + 1.
        self.messages[message_id] = MessageRecord(meta.user_id, self.version + 1)
        if client_msg_id:
            self.accepted_client_msgs[(meta.user_id, client_msg_id)] = message_id

    @event(EventEmitted)
    def _emitted(self, meta: EventMeta, name: str, payload: str, client_event_id: str) -> None:
        if client_event_id:
            self.accepted_client_events[(meta.user_id, client_event_id)] = self.version + 1

    @event(MessageEdited)
    def _edited(self, meta: EventMeta, message_id: str, text: str) -> None:
        pass

    @event(MessageDeleted)
    def _deleted(self, meta: EventMeta, message_id: str) -> None:
        self.messages[message_id].deleted = True

    @event(StreamStarted)
    def _stream_started(self, meta: EventMeta, members: int) -> None:
        self.streamed_since = self.version + 1

    @event(Deleted)
    def _deleted_room(self, meta: EventMeta) -> None:
        self.deleted = True

    @event(Acked)
    def _acked(self, meta: EventMeta, kind: AckKind, up_to: int) -> None:
        pass
