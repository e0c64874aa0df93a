from proto.tidings.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommandRecord(_message.Message):
    __slots__ = ("request_id", "gateway_id", "actor", "trace_id", "namespaces", "namespace", "server", "backend_request_id", "create_room", "open_direct", "join_room", "add_member", "leave_room", "remove_member", "change_role", "change_room_settings", "post_message", "edit_message", "delete_message", "ack_room", "change_presence", "revoke_sessions", "lift_ban", "emit_event", "configure_namespace", "delete_room", "create_api_key", "revoke_api_key")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_ROOM_FIELD_NUMBER: _ClassVar[int]
    OPEN_DIRECT_FIELD_NUMBER: _ClassVar[int]
    JOIN_ROOM_FIELD_NUMBER: _ClassVar[int]
    ADD_MEMBER_FIELD_NUMBER: _ClassVar[int]
    LEAVE_ROOM_FIELD_NUMBER: _ClassVar[int]
    REMOVE_MEMBER_FIELD_NUMBER: _ClassVar[int]
    CHANGE_ROLE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_ROOM_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    POST_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EDIT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DELETE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACK_ROOM_FIELD_NUMBER: _ClassVar[int]
    CHANGE_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    REVOKE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    LIFT_BAN_FIELD_NUMBER: _ClassVar[int]
    EMIT_EVENT_FIELD_NUMBER: _ClassVar[int]
    CONFIGURE_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DELETE_ROOM_FIELD_NUMBER: _ClassVar[int]
    CREATE_API_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_API_KEY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    gateway_id: str
    actor: _events_pb2.Actor
    trace_id: str
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    namespace: str
    server: bool
    backend_request_id: str
    create_room: CreateRoomCommand
    open_direct: OpenDirectCommand
    join_room: JoinRoomCommand
    add_member: AddMemberCommand
    leave_room: LeaveRoomCommand
    remove_member: RemoveMemberCommand
    change_role: ChangeRoleCommand
    change_room_settings: ChangeRoomSettingsCommand
    post_message: PostMessageCommand
    edit_message: EditMessageCommand
    delete_message: DeleteMessageCommand
    ack_room: AckRoomCommand
    change_presence: ChangePresenceCommand
    revoke_sessions: RevokeSessionsCommand
    lift_ban: LiftBanCommand
    emit_event: EmitEventCommand
    configure_namespace: ConfigureNamespaceCommand
    delete_room: DeleteRoomCommand
    create_api_key: CreateApiKeyCommand
    revoke_api_key: RevokeApiKeyCommand
    def __init__(self, request_id: _Optional[str] = ..., gateway_id: _Optional[str] = ..., actor: _Optional[_Union[_events_pb2.Actor, _Mapping]] = ..., trace_id: _Optional[str] = ..., namespaces: _Optional[_Iterable[str]] = ..., namespace: _Optional[str] = ..., server: _Optional[bool] = ..., backend_request_id: _Optional[str] = ..., create_room: _Optional[_Union[CreateRoomCommand, _Mapping]] = ..., open_direct: _Optional[_Union[OpenDirectCommand, _Mapping]] = ..., join_room: _Optional[_Union[JoinRoomCommand, _Mapping]] = ..., add_member: _Optional[_Union[AddMemberCommand, _Mapping]] = ..., leave_room: _Optional[_Union[LeaveRoomCommand, _Mapping]] = ..., remove_member: _Optional[_Union[RemoveMemberCommand, _Mapping]] = ..., change_role: _Optional[_Union[ChangeRoleCommand, _Mapping]] = ..., change_room_settings: _Optional[_Union[ChangeRoomSettingsCommand, _Mapping]] = ..., post_message: _Optional[_Union[PostMessageCommand, _Mapping]] = ..., edit_message: _Optional[_Union[EditMessageCommand, _Mapping]] = ..., delete_message: _Optional[_Union[DeleteMessageCommand, _Mapping]] = ..., ack_room: _Optional[_Union[AckRoomCommand, _Mapping]] = ..., change_presence: _Optional[_Union[ChangePresenceCommand, _Mapping]] = ..., revoke_sessions: _Optional[_Union[RevokeSessionsCommand, _Mapping]] = ..., lift_ban: _Optional[_Union[LiftBanCommand, _Mapping]] = ..., emit_event: _Optional[_Union[EmitEventCommand, _Mapping]] = ..., configure_namespace: _Optional[_Union[ConfigureNamespaceCommand, _Mapping]] = ..., delete_room: _Optional[_Union[DeleteRoomCommand, _Mapping]] = ..., create_api_key: _Optional[_Union[CreateApiKeyCommand, _Mapping]] = ..., revoke_api_key: _Optional[_Union[RevokeApiKeyCommand, _Mapping]] = ...) -> None: ...

class CreateRoomCommand(_message.Message):
    __slots__ = ("room_id", "name", "public", "kind", "namespace")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    name: str
    public: bool
    kind: _events_pb2.RoomKind
    namespace: str
    def __init__(self, room_id: _Optional[str] = ..., name: _Optional[str] = ..., public: _Optional[bool] = ..., kind: _Optional[_Union[_events_pb2.RoomKind, str]] = ..., namespace: _Optional[str] = ...) -> None: ...

class OpenDirectCommand(_message.Message):
    __slots__ = ("peer_id", "namespace")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    namespace: str
    def __init__(self, peer_id: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class JoinRoomCommand(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class AddMemberCommand(_message.Message):
    __slots__ = ("room_id", "user_id", "role")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    role: _events_pb2.Role
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[_events_pb2.Role, str]] = ...) -> None: ...

class LeaveRoomCommand(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class RemoveMemberCommand(_message.Message):
    __slots__ = ("room_id", "user_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ChangeRoleCommand(_message.Message):
    __slots__ = ("room_id", "user_id", "role")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    role: _events_pb2.Role
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[_events_pb2.Role, str]] = ...) -> None: ...

class ChangeRoomSettingsCommand(_message.Message):
    __slots__ = ("room_id", "name", "public")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    name: str
    public: bool
    def __init__(self, room_id: _Optional[str] = ..., name: _Optional[str] = ..., public: _Optional[bool] = ...) -> None: ...

class PostMessageCommand(_message.Message):
    __slots__ = ("room_id", "client_msg_id", "text")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    client_msg_id: str
    text: str
    def __init__(self, room_id: _Optional[str] = ..., client_msg_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class EditMessageCommand(_message.Message):
    __slots__ = ("room_id", "message_id", "text")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    text: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class DeleteMessageCommand(_message.Message):
    __slots__ = ("room_id", "message_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class AckRoomCommand(_message.Message):
    __slots__ = ("room_id", "kind", "up_to")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    kind: _events_pb2.AckKind
    up_to: int
    def __init__(self, room_id: _Optional[str] = ..., kind: _Optional[_Union[_events_pb2.AckKind, str]] = ..., up_to: _Optional[int] = ...) -> None: ...

class ChangePresenceCommand(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _events_pb2.PresenceStatus
    def __init__(self, status: _Optional[_Union[_events_pb2.PresenceStatus, str]] = ...) -> None: ...

class RevokeSessionsCommand(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class LiftBanCommand(_message.Message):
    __slots__ = ("room_id", "user_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ConfigureNamespaceCommand(_message.Message):
    __slots__ = ("name", "settings_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    settings_json: str
    def __init__(self, name: _Optional[str] = ..., settings_json: _Optional[str] = ...) -> None: ...

class DeleteRoomCommand(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class CreateApiKeyCommand(_message.Message):
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

class RevokeApiKeyCommand(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class EmitEventCommand(_message.Message):
    __slots__ = ("room_id", "name", "payload_json", "client_event_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    CLIENT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    name: str
    payload_json: str
    client_event_id: str
    def __init__(self, room_id: _Optional[str] = ..., name: _Optional[str] = ..., payload_json: _Optional[str] = ..., client_event_id: _Optional[str] = ...) -> None: ...

class CommandRejection(_message.Message):
    __slots__ = ("message", "code")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    message: str
    code: str
    def __init__(self, message: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class CommandReply(_message.Message):
    __slots__ = ("request_id", "event", "rejected", "duplicate", "partition", "offset")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    event: _events_pb2.Envelope
    rejected: CommandRejection
    duplicate: bool
    partition: int
    offset: int
    def __init__(self, request_id: _Optional[str] = ..., event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ..., rejected: _Optional[_Union[CommandRejection, _Mapping]] = ..., duplicate: _Optional[bool] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class InboxRecord(_message.Message):
    __slots__ = ("user_id", "event")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    event: _events_pb2.Envelope
    def __init__(self, user_id: _Optional[str] = ..., event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ...) -> None: ...

class LiveRecord(_message.Message):
    __slots__ = ("user_ids", "room_event", "inbox", "presence", "typing", "app_event", "disconnect")
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    ROOM_EVENT_FIELD_NUMBER: _ClassVar[int]
    INBOX_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    APP_EVENT_FIELD_NUMBER: _ClassVar[int]
    DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    room_event: _events_pb2.Envelope
    inbox: InboxDelivery
    presence: PresenceDelivery
    typing: TypingDelivery
    app_event: AppEventDelivery
    disconnect: DisconnectDelivery
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ..., room_event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ..., inbox: _Optional[_Union[InboxDelivery, _Mapping]] = ..., presence: _Optional[_Union[PresenceDelivery, _Mapping]] = ..., typing: _Optional[_Union[TypingDelivery, _Mapping]] = ..., app_event: _Optional[_Union[AppEventDelivery, _Mapping]] = ..., disconnect: _Optional[_Union[DisconnectDelivery, _Mapping]] = ...) -> None: ...

class DisconnectDelivery(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class InboxDelivery(_message.Message):
    __slots__ = ("position", "event")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    position: int
    event: _events_pb2.Envelope
    def __init__(self, position: _Optional[int] = ..., event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ...) -> None: ...

class PresenceDelivery(_message.Message):
    __slots__ = ("event", "online")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.Envelope
    online: bool
    def __init__(self, event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ..., online: _Optional[bool] = ...) -> None: ...

class TypingDelivery(_message.Message):
    __slots__ = ("room_id", "user_id", "typing", "namespace")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    typing: bool
    namespace: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., typing: _Optional[bool] = ..., namespace: _Optional[str] = ...) -> None: ...

class AppEventDelivery(_message.Message):
    __slots__ = ("room_id", "user_id", "name", "payload_json", "namespace")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    name: str
    payload_json: str
    namespace: str
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., name: _Optional[str] = ..., payload_json: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...
