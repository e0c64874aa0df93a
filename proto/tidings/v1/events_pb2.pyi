import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoomKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROOM_KIND_UNSPECIFIED: _ClassVar[RoomKind]
    ROOM_KIND_GROUP: _ClassVar[RoomKind]
    ROOM_KIND_DIRECT: _ClassVar[RoomKind]
    ROOM_KIND_CHANNEL: _ClassVar[RoomKind]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_MEMBER: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_OWNER: _ClassVar[Role]

class AckKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_KIND_UNSPECIFIED: _ClassVar[AckKind]
    ACK_KIND_DELIVERED: _ClassVar[AckKind]
    ACK_KIND_READ: _ClassVar[AckKind]

class PresenceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENCE_STATUS_UNSPECIFIED: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_ONLINE: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_AWAY: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_OFFLINE: _ClassVar[PresenceStatus]
ROOM_KIND_UNSPECIFIED: RoomKind
ROOM_KIND_GROUP: RoomKind
ROOM_KIND_DIRECT: RoomKind
ROOM_KIND_CHANNEL: RoomKind
ROLE_UNSPECIFIED: Role
ROLE_MEMBER: Role
ROLE_ADMIN: Role
ROLE_OWNER: Role
ACK_KIND_UNSPECIFIED: AckKind
ACK_KIND_DELIVERED: AckKind
ACK_KIND_READ: AckKind
PRESENCE_STATUS_UNSPECIFIED: PresenceStatus
PRESENCE_STATUS_ONLINE: PresenceStatus
PRESENCE_STATUS_AWAY: PresenceStatus
PRESENCE_STATUS_OFFLINE: PresenceStatus

class Actor(_message.Message):
    __slots__ = ("user_id", "device_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: str
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("event_id", "stream", "position", "epoch", "occurred_at", "actor", "trace_id", "namespace", "request_id", "room_created", "member_joined", "member_left", "member_role_changed", "message_posted", "message_edited", "message_deleted", "acked", "presence_changed", "room_settings_changed", "room_stream_started", "sessions_revoked", "ban_lifted", "direct_answered", "event_emitted", "namespace_configured", "room_deleted", "api_key_created", "api_key_revoked")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_CREATED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_JOINED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_LEFT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ROLE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_POSTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EDITED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_DELETED_FIELD_NUMBER: _ClassVar[int]
    ACKED_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ROOM_SETTINGS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ROOM_STREAM_STARTED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    BAN_LIFTED_FIELD_NUMBER: _ClassVar[int]
    DIRECT_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    EVENT_EMITTED_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    ROOM_DELETED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_CREATED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_REVOKED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    stream: str
    position: int
    epoch: str
    occurred_at: _timestamp_pb2.Timestamp
    actor: Actor
    trace_id: str
    namespace: str
    request_id: str
    room_created: RoomCreated
    member_joined: MemberJoined
    member_left: MemberLeft
    member_role_changed: MemberRoleChanged
    message_posted: MessagePosted
    message_edited: MessageEdited
    message_deleted: MessageDeleted
    acked: Acked
    presence_changed: PresenceChanged
    room_settings_changed: RoomSettingsChanged
    room_stream_started: RoomStreamStarted
    sessions_revoked: SessionsRevoked
    ban_lifted: BanLifted
    direct_answered: DirectAnswered
    event_emitted: EventEmitted
    namespace_configured: NamespaceConfigured
    room_deleted: RoomDeleted
    api_key_created: ApiKeyCreated
    api_key_revoked: ApiKeyRevoked
    def __init__(self, event_id: _Optional[str] = ..., stream: _Optional[str] = ..., position: _Optional[int] = ..., epoch: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[_Union[Actor, _Mapping]] = ..., trace_id: _Optional[str] = ..., namespace: _Optional[str] = ..., request_id: _Optional[str] = ..., room_created: _Optional[_Union[RoomCreated, _Mapping]] = ..., member_joined: _Optional[_Union[MemberJoined, _Mapping]] = ..., member_left: _Optional[_Union[MemberLeft, _Mapping]] = ..., member_role_changed: _Optional[_Union[MemberRoleChanged, _Mapping]] = ..., message_posted: _Optional[_Union[MessagePosted, _Mapping]] = ..., message_edited: _Optional[_Union[MessageEdited, _Mapping]] = ..., message_deleted: _Optional[_Union[MessageDeleted, _Mapping]] = ..., acked: _Optional[_Union[Acked, _Mapping]] = ..., presence_changed: _Optional[_Union[PresenceChanged, _Mapping]] = ..., room_settings_changed: _Optional[_Union[RoomSettingsChanged, _Mapping]] = ..., room_stream_started: _Optional[_Union[RoomStreamStarted, _Mapping]] = ..., sessions_revoked: _Optional[_Union[SessionsRevoked, _Mapping]] = ..., ban_lifted: _Optional[_Union[BanLifted, _Mapping]] = ..., direct_answered: _Optional[_Union[DirectAnswered, _Mapping]] = ..., event_emitted: _Optional[_Union[EventEmitted, _Mapping]] = ..., namespace_configured: _Optional[_Union[NamespaceConfigured, _Mapping]] = ..., room_deleted: _Optional[_Union[RoomDeleted, _Mapping]] = ..., api_key_created: _Optional[_Union[ApiKeyCreated, _Mapping]] = ..., api_key_revoked: _Optional[_Union[ApiKeyRevoked, _Mapping]] = ...) -> None: ...

class RoomCreated(_message.Message):
    __slots__ = ("room_id", "name", "kind", "public", "namespace")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    name: str
    kind: RoomKind
    public: bool
    namespace: str
    def __init__(self, room_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[RoomKind, str]] = ..., public: _Optional[bool] = ..., namespace: _Optional[str] = ...) -> None: ...

class RoomSettingsChanged(_message.Message):
    __slots__ = ("room_id", "name", "public")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    name: str
    public: bool
    def __init__(self, room_id: _Optional[str] = ..., name: _Optional[str] = ..., public: _Optional[bool] = ...) -> None: ...

class MemberJoined(_message.Message):
    __slots__ = ("room_id", "user_id", "role", "added_by")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ADDED_BY_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    role: Role
    added_by: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., added_by: _Optional[str] = ...) -> None: ...

class MemberLeft(_message.Message):
    __slots__ = ("room_id", "user_id", "removed_by")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REMOVED_BY_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    removed_by: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., removed_by: _Optional[str] = ...) -> None: ...

class MemberRoleChanged(_message.Message):
    __slots__ = ("room_id", "user_id", "role")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    role: Role
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ...) -> None: ...

class MessagePosted(_message.Message):
    __slots__ = ("room_id", "message_id", "client_msg_id", "text")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    client_msg_id: str
    text: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ..., client_msg_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class MessageEdited(_message.Message):
    __slots__ = ("room_id", "message_id", "text")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    text: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class MessageDeleted(_message.Message):
    __slots__ = ("room_id", "message_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class Acked(_message.Message):
    __slots__ = ("room_id", "user_id", "kind", "up_to")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    kind: AckKind
    up_to: int
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., kind: _Optional[_Union[AckKind, str]] = ..., up_to: _Optional[int] = ...) -> None: ...

class PresenceChanged(_message.Message):
    __slots__ = ("user_id", "device_id", "status")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: str
    status: PresenceStatus
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[str] = ..., status: _Optional[_Union[PresenceStatus, str]] = ...) -> None: ...

class SessionsRevoked(_message.Message):
    __slots__ = ("user_id", "device_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: str
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class DirectAnswered(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class BanLifted(_message.Message):
    __slots__ = ("room_id", "user_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class RoomStreamStarted(_message.Message):
    __slots__ = ("room_id", "members")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    members: int
    def __init__(self, room_id: _Optional[str] = ..., members: _Optional[int] = ...) -> None: ...

class EventEmitted(_message.Message):
    __slots__ = ("room_id", "name", "payload", "client_event_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    name: str
    payload: _struct_pb2.Value
    client_event_id: str
    def __init__(self, room_id: _Optional[str] = ..., name: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., client_event_id: _Optional[str] = ...) -> None: ...

class NamespaceConfigured(_message.Message):
    __slots__ = ("name", "settings_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    settings_json: str
    def __init__(self, name: _Optional[str] = ..., settings_json: _Optional[str] = ...) -> None: ...

class RoomDeleted(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class ApiKeyCreated(_message.Message):
    __slots__ = ("key_id", "name", "scopes", "namespaces", "secret_hash")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    SECRET_HASH_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    secret_hash: str
    def __init__(self, key_id: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., namespaces: _Optional[_Iterable[str]] = ..., secret_hash: _Optional[str] = ...) -> None: ...

class ApiKeyRevoked(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...
