"""REST request and response bodies (camelCase JSON, like the protobuf JSON mapping)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from domain.values import (
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_USER_ID_LENGTH,
    USER_ID_PATTERN,
)

__all__ = [
    "AddMemberIn",
    "CreateRoomIn",
    "DeviceOut",
    "ErrorBody",
    "EventOut",
    "InboxEventOut",
    "InboxOut",
    "MemberOut",
    "MessageOut",
    "PresenceOut",
    "RoleName",
    "RoomOut",
    "SendIn",
    "TimelineOut",
    "UserId",
]

UserId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_USER_ID_LENGTH,
        pattern=USER_ID_PATTERN,
        description="A user id: 1 to 128 characters, without control, format, private-use or "
        "separator characters other than the space",
    ),
]
"""A user id in a body, with the rule ``check_user_id`` applies (a generated client knows it)."""

RoleName = Literal["member", "admin", "owner"]
ROLE_NAMES: dict[int, RoleName] = {1: "member", 2: "admin", 3: "owner"}
ROLE_VALUES: dict[RoleName, int] = {v: k for k, v in ROLE_NAMES.items()}
KindName = Literal["group", "direct", "channel"]
KIND_NAMES: dict[int, KindName] = {1: "group", 2: "direct", 3: "channel"}
StatusName = Literal["online", "away", "offline"]
STATUS_NAMES: dict[int, StatusName] = {1: "online", 2: "away", 3: "offline"}


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )


class ErrorDetail(Model):
    code: str = Field(
        description="A tidings.v1.ErrorCode name (e.g. NOT_FOUND), or PAYLOAD_TOO_LARGE (413) "
        "and METHOD_NOT_ALLOWED (405), which only HTTP has"
    )
    message: str
    temporary: bool = Field(False, description="true: the same request may succeed later")
    retry_after_ms: int | None = Field(None, description="With RATE_LIMITED: when to retry")


class ErrorBody(Model):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": meaning}
    for status, meaning in {
        400: "BAD_REQUEST: the request is not well-formed (not JSON, not an object, an "
        "unknown field, a value of the wrong type)",
        401: "UNAUTHORIZED or TOKEN_EXPIRED",
        403: "FORBIDDEN",
        404: "NOT_FOUND (also for rooms the caller is not a member of)",
        409: "CONFLICT",
        413: "PAYLOAD_TOO_LARGE: the body is over TIDINGS_MAX_BODY_BYTES",
        422: "INVALID_ARGUMENT: well-formed, but a value breaks a rule (missing, empty, too "
        "long, out of range, not one of an enum's names)",
        429: "RATE_LIMITED (with Retry-After)",
        500: "INTERNAL: a bug; the same request fails the same way",
        503: "UNAVAILABLE: temporary (with Retry-After)",
    }.items()
}
"""Every error status a route of either API can answer, each with the one error body."""


class CreateRoomIn(Model):
    name: str = Field(min_length=1, max_length=MAX_ROOM_NAME_LENGTH)
    public: bool = True
    kind: Literal["group", "channel"] = Field(
        "group",
        description="channel: every member reads, only admins and owners post; members "
        "follow it as a room stream (docs/protocol.md)",
    )
    namespace: str = Field(
        "default",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="The namespace the room belongs to; your token must grant it "
        "(docs/namespaces.md)",
    )


class AddMemberIn(Model):
    user_id: UserId
    role: Literal["member", "admin", "owner"] = "member"


class ChangeRoleIn(Model):
    role: Literal["member", "admin", "owner"]


class SendIn(Model):
    client_msg_id: str = Field("", max_length=MAX_CLIENT_MSG_ID_LENGTH)
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"\S")


class EmitIn(Model):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="The event's name (docs/events.md)",
    )
    payload: Any = Field(None, description="Any JSON value (size-limited by the namespace)")
    volatile: bool = Field(
        False, description="Relay to connected members only (when the namespace does not decide)"
    )
    client_event_id: str = Field("", max_length=MAX_CLIENT_MSG_ID_LENGTH)


class EmitOut(Model):
    event: dict[str, Any] | None = Field(
        None, description="Durable: the logged tidings.v1.Envelope (its room position)"
    )
    duplicate: bool = False
    delivered: int = Field(0, description="Volatile: members online when it was relayed")
    answer: Any = Field(None, description="What a plugin handling the event answered")
    handler_error: str = ""


class RoomOut(Model):
    room_id: str
    kind: Literal["group", "direct", "channel"]
    name: str
    public: bool
    head: int = Field(description="Position of the room stream's last event")
    last_activity: str
    role: RoleName | None = None
    read_up_to: int = 0
    delivered_up_to: int = 0
    unread: int = Field(0, description="Messages from others after readUpTo, not deleted")
    streamed_since: int = Field(
        0,
        description="Room position from which the room is a room stream that clients follow "
        "over the WebSocket (the follow command); 0: its events reach members' inboxes",
    )


class MemberOut(Model):
    user_id: str
    role: RoleName
    joined_at: int = Field(description="Room position of the MemberJoined event")


class MessageOut(Model):
    position: int
    message_id: str
    author_id: str
    text: str
    client_msg_id: str
    posted_at: str
    trace_id: str
    edited: bool
    deleted: bool


class TimelineOut(Model):
    messages: list[MessageOut]
    has_more: bool


class EventOut(Model):
    event: dict[str, Any] = Field(description="tidings.v1.Envelope in the protobuf JSON mapping")
    duplicate: bool = False


class InboxEventOut(Model):
    position: int
    epoch: str
    event: dict[str, Any]


class InboxOut(Model):
    events: list[InboxEventOut]
    head: int
    epoch: str


class DeviceOut(Model):
    device_id: str
    status: StatusName
    last_activity: str = Field(description="ISO time of the device's last presence change")


class PresenceOut(Model):
    user_id: str
    online: bool
    devices: dict[str, StatusName]
