"""Server API request and response bodies (docs/server-api.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.rest_models import Model, RoleName, UserId
from domain.values import (
    MAX_ROOM_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_USER_ID_LENGTH,
    USER_ID_PATTERN,
)
from projections.store import DirectoryRow

__all__ = [
    "BatchIn",
    "BatchOut",
    "BroadcastIn",
    "BroadcastOut",
    "CreateKeyIn",
    "DirectoryOut",
    "DisconnectIn",
    "KeyOut",
    "LoggedOut",
    "NewKeyOut",
    "PublishEventIn",
    "PublishIn",
    "RoleIn",
    "ServerAddMemberIn",
    "ServerCreateRoomIn",
    "TokenIn",
    "TokenOut",
    "UpdateRoomIn",
    "directory_out",
]

Identity = Field(
    "system",
    alias="as",
    min_length=1,
    max_length=MAX_USER_ID_LENGTH,
    pattern=USER_ID_PATTERN,
    description="The system or bot identity the message is posted as (a user id)",
)


class PublishIn(Model):
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    identity: str = Identity


class PublishEventIn(Model):
    name: str = Field(min_length=1, max_length=64)
    payload: Any = None
    volatile: bool = False
    identity: str = Identity


class BroadcastIn(Model):
    room_ids: list[str] = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    identity: str = Identity


class LoggedOut(Model):
    """A write's answer: the event it logged (the original one for a repeated request)."""

    event: dict[str, Any]
    duplicate: bool = False


class EmittedOut(Model):
    event: dict[str, Any] | None = Field(
        None, description="Durable: the logged tidings.v1.Envelope; null when volatile"
    )
    duplicate: bool = False
    delivered: int = Field(0, description="Volatile: members online when it was relayed")


class BroadcastOut(Model):
    results: list[dict[str, Any]] = Field(
        description="Per room, in order: {roomId, event, duplicate} or {roomId, error}"
    )


class ServerCreateRoomIn(Model):
    name: str = Field(min_length=1, max_length=MAX_ROOM_NAME_LENGTH)
    public: bool = True
    kind: Literal["group", "channel"] = "group"
    namespace: str = "default"
    owner: str = Field(
        "", max_length=MAX_USER_ID_LENGTH, description="Its first owner (default: the identity)"
    )
    identity: str = Identity
    room_id: str = Field("", description="Its id (default: derived from the Idempotency-Key)")


class UpdateRoomIn(Model):
    name: str | None = Field(None, min_length=1, max_length=MAX_ROOM_NAME_LENGTH)
    public: bool | None = None


class ServerAddMemberIn(Model):
    user_id: UserId
    role: RoleName = "member"


class RoleIn(Model):
    role: RoleName


class DirectoryOut(Model):
    rooms: list[dict[str, Any]]
    next_after: str = Field("", description="Pass as ?after= for the next page; empty: done")


class DisconnectIn(Model):
    device_id: str = Field("", max_length=64, description="Only this device (default: all)")


class TokenIn(Model):
    user_id: UserId
    ttl_seconds: int = Field(3600, ge=60, le=30 * 24 * 3600)
    device_id: str = Field("", max_length=64)
    namespaces: list[str] = Field(default_factory=list, max_length=32)


class TokenOut(Model):
    token: str
    expires_at: int


class BatchRequest(Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/v1/", description="A server API path, e.g. /v1/rooms")
    body: Any = None
    idempotency_key: str = Field("", max_length=128)


class BatchIn(Model):
    requests: list[BatchRequest] = Field(min_length=1, max_length=100)


class BatchOut(Model):
    responses: list[dict[str, Any]] = Field(description="Per request, in order: {status, body}")


class CreateKeyIn(Model):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)
    namespaces: list[str] = Field(default_factory=list)


class KeyOut(Model):
    key_id: str
    name: str
    scopes: list[str]
    namespaces: list[str]
    created_at: str
    created_by: str
    revoked_at: str = ""


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, never stored")


def directory_out(rows: list[DirectoryRow], limit: int) -> DirectoryOut:
    kinds = {1: "group", 3: "channel"}
    return DirectoryOut(
        rooms=[
            {
                "roomId": r.room_id,
                "namespace": r.namespace,
                "name": r.name,
                "kind": kinds.get(r.kind, "group"),
                "public": r.public,
                "members": r.members,
            }
            for r in rows
        ],
        next_after=rows[-1].room_id if len(rows) == limit else "",
    )
