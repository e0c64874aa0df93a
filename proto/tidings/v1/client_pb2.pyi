from google.protobuf import struct_pb2 as _struct_pb2
from proto.tidings.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    BAD_REQUEST: _ClassVar[ErrorCode]
    UNKNOWN_COMMAND: _ClassVar[ErrorCode]
    UNAUTHORIZED: _ClassVar[ErrorCode]
    TOKEN_EXPIRED: _ClassVar[ErrorCode]
    FORBIDDEN: _ClassVar[ErrorCode]
    NOT_FOUND: _ClassVar[ErrorCode]
    CONFLICT: _ClassVar[ErrorCode]
    INVALID_ARGUMENT: _ClassVar[ErrorCode]
    UNAVAILABLE: _ClassVar[ErrorCode]
    INTERNAL: _ClassVar[ErrorCode]
    RATE_LIMITED: _ClassVar[ErrorCode]

class Recovery(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECOVERY_UNSPECIFIED: _ClassVar[Recovery]
    RECOVERY_NOT_REQUESTED: _ClassVar[Recovery]
    RECOVERY_RECOVERED: _ClassVar[Recovery]
    RECOVERY_TOO_FAR_BEHIND: _ClassVar[Recovery]
    RECOVERY_EPOCH_CHANGED: _ClassVar[Recovery]
    RECOVERY_FUTURE_POSITION: _ClassVar[Recovery]
ERROR_CODE_UNSPECIFIED: ErrorCode
BAD_REQUEST: ErrorCode
UNKNOWN_COMMAND: ErrorCode
UNAUTHORIZED: ErrorCode
TOKEN_EXPIRED: ErrorCode
FORBIDDEN: ErrorCode
NOT_FOUND: ErrorCode
CONFLICT: ErrorCode
INVALID_ARGUMENT: ErrorCode
UNAVAILABLE: ErrorCode
INTERNAL: ErrorCode
RATE_LIMITED: ErrorCode
RECOVERY_UNSPECIFIED: Recovery
RECOVERY_NOT_REQUESTED: Recovery
RECOVERY_RECOVERED: Recovery
RECOVERY_TOO_FAR_BEHIND: Recovery
RECOVERY_EPOCH_CHANGED: Recovery
RECOVERY_FUTURE_POSITION: Recovery

class ClientFrame(_message.Message):
    __slots__ = ("id", "connect", "join", "leave", "send", "edit", "delete", "ack", "presence", "typing", "history", "refresh", "pong", "follow", "unfollow", "emit")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONNECT_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    UNFOLLOW_FIELD_NUMBER: _ClassVar[int]
    EMIT_FIELD_NUMBER: _ClassVar[int]
    id: str
    connect: Connect
    join: Join
    leave: Leave
    send: Send
    edit: Edit
    delete: Delete
    ack: Ack
    presence: SetPresence
    typing: Typing
    history: History
    refresh: Refresh
    pong: Pong
    follow: Follow
    unfollow: Unfollow
    emit: Emit
    def __init__(self, id: _Optional[str] = ..., connect: _Optional[_Union[Connect, _Mapping]] = ..., join: _Optional[_Union[Join, _Mapping]] = ..., leave: _Optional[_Union[Leave, _Mapping]] = ..., send: _Optional[_Union[Send, _Mapping]] = ..., edit: _Optional[_Union[Edit, _Mapping]] = ..., delete: _Optional[_Union[Delete, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., presence: _Optional[_Union[SetPresence, _Mapping]] = ..., typing: _Optional[_Union[Typing, _Mapping]] = ..., history: _Optional[_Union[History, _Mapping]] = ..., refresh: _Optional[_Union[Refresh, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., follow: _Optional[_Union[Follow, _Mapping]] = ..., unfollow: _Optional[_Union[Unfollow, _Mapping]] = ..., emit: _Optional[_Union[Emit, _Mapping]] = ...) -> None: ...

class StreamPosition(_message.Message):
    __slots__ = ("position", "epoch")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    position: int
    epoch: str
    def __init__(self, position: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class Connect(_message.Message):
    __slots__ = ("token", "device_id", "inbox", "namespace")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    INBOX_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    token: str
    device_id: str
    inbox: StreamPosition
    namespace: str
    def __init__(self, token: _Optional[str] = ..., device_id: _Optional[str] = ..., inbox: _Optional[_Union[StreamPosition, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class Join(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class Leave(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class Send(_message.Message):
    __slots__ = ("room_id", "client_msg_id", "text")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    client_msg_id: str
    text: str
    def __init__(self, room_id: _Optional[str] = ..., client_msg_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Edit(_message.Message):
    __slots__ = ("room_id", "message_id", "text")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    text: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Delete(_message.Message):
    __slots__ = ("room_id", "message_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    message_id: str
    def __init__(self, room_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("room_id", "kind", "up_to")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    kind: _events_pb2.AckKind
    up_to: int
    def __init__(self, room_id: _Optional[str] = ..., kind: _Optional[_Union[_events_pb2.AckKind, str]] = ..., up_to: _Optional[int] = ...) -> None: ...

class SetPresence(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _events_pb2.PresenceStatus
    def __init__(self, status: _Optional[_Union[_events_pb2.PresenceStatus, str]] = ...) -> None: ...

class Typing(_message.Message):
    __slots__ = ("room_id", "typing")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    typing: bool
    def __init__(self, room_id: _Optional[str] = ..., typing: _Optional[bool] = ...) -> None: ...

class History(_message.Message):
    __slots__ = ("room_id", "before", "after", "limit")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    before: int
    after: int
    limit: int
    def __init__(self, room_id: _Optional[str] = ..., before: _Optional[int] = ..., after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class Refresh(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Follow(_message.Message):
    __slots__ = ("room_id", "position", "epoch")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    position: int
    epoch: str
    def __init__(self, room_id: _Optional[str] = ..., position: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class Unfollow(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class Emit(_message.Message):
    __slots__ = ("name", "payload", "room_id", "user_id", "volatile", "client_event_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VOLATILE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    payload: _struct_pb2.Value
    room_id: str
    user_id: str
    volatile: bool
    client_event_id: str
    def __init__(self, name: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., volatile: _Optional[bool] = ..., client_event_id: _Optional[str] = ...) -> None: ...

class ServerFrame(_message.Message):
    __slots__ = ("reply", "push")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    reply: Reply
    push: Push
    def __init__(self, reply: _Optional[_Union[Reply, _Mapping]] = ..., push: _Optional[_Union[Push, _Mapping]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "temporary", "retry_after_ms")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    temporary: bool
    retry_after_ms: int
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., temporary: _Optional[bool] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class Reply(_message.Message):
    __slots__ = ("id", "error", "connect", "join", "leave", "send", "edit", "delete", "ack", "presence", "typing", "history", "refresh", "follow", "unfollow", "emit")
    ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONNECT_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    UNFOLLOW_FIELD_NUMBER: _ClassVar[int]
    EMIT_FIELD_NUMBER: _ClassVar[int]
    id: str
    error: Error
    connect: ConnectResult
    join: RoomResult
    leave: Empty
    send: EventResult
    edit: EventResult
    delete: EventResult
    ack: EventResult
    presence: Empty
    typing: Empty
    history: HistoryResult
    refresh: Empty
    follow: FollowResult
    unfollow: Empty
    emit: EmitResult
    def __init__(self, id: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., connect: _Optional[_Union[ConnectResult, _Mapping]] = ..., join: _Optional[_Union[RoomResult, _Mapping]] = ..., leave: _Optional[_Union[Empty, _Mapping]] = ..., send: _Optional[_Union[EventResult, _Mapping]] = ..., edit: _Optional[_Union[EventResult, _Mapping]] = ..., delete: _Optional[_Union[EventResult, _Mapping]] = ..., ack: _Optional[_Union[EventResult, _Mapping]] = ..., presence: _Optional[_Union[Empty, _Mapping]] = ..., typing: _Optional[_Union[Empty, _Mapping]] = ..., history: _Optional[_Union[HistoryResult, _Mapping]] = ..., refresh: _Optional[_Union[Empty, _Mapping]] = ..., follow: _Optional[_Union[FollowResult, _Mapping]] = ..., unfollow: _Optional[_Union[Empty, _Mapping]] = ..., emit: _Optional[_Union[EmitResult, _Mapping]] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConnectResult(_message.Message):
    __slots__ = ("user_id", "device_id", "inbox", "recovery", "missed", "heartbeat_interval_ms", "heartbeat_timeout_ms")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    INBOX_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: str
    inbox: StreamPosition
    recovery: Recovery
    missed: int
    heartbeat_interval_ms: int
    heartbeat_timeout_ms: int
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[str] = ..., inbox: _Optional[_Union[StreamPosition, _Mapping]] = ..., recovery: _Optional[_Union[Recovery, str]] = ..., missed: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., heartbeat_timeout_ms: _Optional[int] = ...) -> None: ...

class FollowResult(_message.Message):
    __slots__ = ("room_id", "position", "recovery", "missed")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    position: StreamPosition
    recovery: Recovery
    missed: int
    def __init__(self, room_id: _Optional[str] = ..., position: _Optional[_Union[StreamPosition, _Mapping]] = ..., recovery: _Optional[_Union[Recovery, str]] = ..., missed: _Optional[int] = ...) -> None: ...

class RoomResult(_message.Message):
    __slots__ = ("room_id", "event")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    event: EventResult
    def __init__(self, room_id: _Optional[str] = ..., event: _Optional[_Union[EventResult, _Mapping]] = ...) -> None: ...

class EventResult(_message.Message):
    __slots__ = ("event", "duplicate")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.Envelope
    duplicate: bool
    def __init__(self, event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class TimelineItem(_message.Message):
    __slots__ = ("position", "message_id", "author_id", "text", "client_msg_id", "edited", "deleted", "posted_at", "trace_id")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    EDITED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    position: int
    message_id: str
    author_id: str
    text: str
    client_msg_id: str
    edited: bool
    deleted: bool
    posted_at: str
    trace_id: str
    def __init__(self, position: _Optional[int] = ..., message_id: _Optional[str] = ..., author_id: _Optional[str] = ..., text: _Optional[str] = ..., client_msg_id: _Optional[str] = ..., edited: _Optional[bool] = ..., deleted: _Optional[bool] = ..., posted_at: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class EmitResult(_message.Message):
    __slots__ = ("event", "duplicate", "delivered", "answer", "handler_error")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    HANDLER_ERROR_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.Envelope
    duplicate: bool
    delivered: int
    answer: _struct_pb2.Value
    handler_error: str
    def __init__(self, event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ..., duplicate: _Optional[bool] = ..., delivered: _Optional[int] = ..., answer: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., handler_error: _Optional[str] = ...) -> None: ...

class HistoryResult(_message.Message):
    __slots__ = ("messages", "has_more")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[TimelineItem]
    has_more: bool
    def __init__(self, messages: _Optional[_Iterable[_Union[TimelineItem, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class Push(_message.Message):
    __slots__ = ("event", "presence", "typing", "ping", "room", "app")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    event: InboxEvent
    presence: PresenceNotice
    typing: TypingNotice
    ping: Ping
    room: RoomEvent
    app: AppEvent
    def __init__(self, event: _Optional[_Union[InboxEvent, _Mapping]] = ..., presence: _Optional[_Union[PresenceNotice, _Mapping]] = ..., typing: _Optional[_Union[TypingNotice, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., room: _Optional[_Union[RoomEvent, _Mapping]] = ..., app: _Optional[_Union[AppEvent, _Mapping]] = ...) -> None: ...

class AppEvent(_message.Message):
    __slots__ = ("room_id", "user_id", "name", "payload")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    name: str
    payload: _struct_pb2.Value
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., name: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class InboxEvent(_message.Message):
    __slots__ = ("position", "epoch", "event")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    position: int
    epoch: str
    event: _events_pb2.Envelope
    def __init__(self, position: _Optional[int] = ..., epoch: _Optional[str] = ..., event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ...) -> None: ...

class RoomEvent(_message.Message):
    __slots__ = ("epoch", "event")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    epoch: str
    event: _events_pb2.Envelope
    def __init__(self, epoch: _Optional[str] = ..., event: _Optional[_Union[_events_pb2.Envelope, _Mapping]] = ...) -> None: ...

class PresenceNotice(_message.Message):
    __slots__ = ("user_id", "device_id", "status", "online")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    device_id: str
    status: _events_pb2.PresenceStatus
    online: bool
    def __init__(self, user_id: _Optional[str] = ..., device_id: _Optional[str] = ..., status: _Optional[_Union[_events_pb2.PresenceStatus, str]] = ..., online: _Optional[bool] = ...) -> None: ...

class TypingNotice(_message.Message):
    __slots__ = ("room_id", "user_id", "typing")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    user_id: str
    typing: bool
    def __init__(self, room_id: _Optional[str] = ..., user_id: _Optional[str] = ..., typing: _Optional[bool] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
