"""API keys: how an application's backend acts on Tidings (docs/server-api.md).

A key is created and revoked by events of its own stream (``apikey:<key id>``), so keys
survive rebuilds and every change is audited. The log holds the SHA-256 of the key's secret,
never the secret: the secret is 256 random bits, so its hash cannot be reversed or guessed.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Any

from eventsourcing.domain import DomainEvent

from domain.errors import InvalidArgument
from domain.values import EventMeta

__all__ = [
    "ApiKeyCreated",
    "ApiKeyRevoked",
    "Scope",
    "api_key_aggregate_id",
    "api_key_created",
    "api_key_revoked",
    "api_key_stream",
    "check_key_id",
    "check_key_name",
    "check_scopes",
]


class Scope(StrEnum):
    """What a key may do. ``admin`` includes every other scope, the admin UI and keys."""

    PUBLISH = "publish"
    """Post messages and application events as a system or bot identity."""
    ROOMS = "rooms"
    """Create, update and delete rooms; add, remove and change the role of members."""
    READ = "read"
    """List rooms, members, online users and presence; read history."""
    SESSIONS = "sessions"
    """Disconnect a user or one device; revoke a user's sessions."""
    TOKENS = "tokens"
    """Mint user tokens."""
    ADMIN = "admin"


_KEY_ID = re.compile(r"^[0-9a-f]{12}$")
MAX_KEY_NAME_LENGTH = 100


def check_key_id(key_id: str) -> str:
    if not _KEY_ID.match(key_id):
        raise InvalidArgument("key ids are 12 lowercase hex digits")
    return key_id


def check_key_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_KEY_NAME_LENGTH or not name.isprintable():
        raise InvalidArgument(f"key names are 1 to {MAX_KEY_NAME_LENGTH} printable characters")
    return name


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[Scope, ...]:
    known = {s.value for s in Scope}
    unknown = sorted(set(scopes) - known)
    if unknown or not scopes:
        raise InvalidArgument(f"scopes are one or more of {sorted(known)}; unknown: {unknown}")
    return tuple(sorted({Scope(s) for s in scopes}))


def api_key_stream(key_id: str) -> str:
    return f"apikey:{key_id}"


_STREAMS = uuid.UUID("3b9e5f0c-51a4-4c36-9f0e-7d2b8e6a4c11")


def api_key_aggregate_id(key_id: str) -> uuid.UUID:
    """The log's originator id of a key's stream."""
    return uuid.uuid5(_STREAMS, api_key_stream(key_id))


class ApiKeyCreated(DomainEvent):
    """A key came into use (position 1 of its stream)."""

    meta: EventMeta
    key_id: str
    name: str
    scopes: tuple[str, ...]
    namespaces: tuple[str, ...]
    """The namespaces it acts in; empty: every namespace."""
    secret_hash: str
    """SHA-256 of the secret, hex."""


class ApiKeyRevoked(DomainEvent):
    """A key stopped working (position 2 of its stream, the last)."""

    meta: EventMeta
    key_id: str


def api_key_created(
    meta: EventMeta,
    key_id: str,
    name: str,
    scopes: tuple[str, ...],
    namespaces: tuple[str, ...],
    secret_hash: str,
) -> ApiKeyCreated:
    fields: dict[str, Any] = {
        **_header(meta, key_id, 1),
        "name": name,
        "scopes": scopes,
        "namespaces": namespaces,
        "secret_hash": secret_hash,
    }
    return ApiKeyCreated(**fields)


def api_key_revoked(meta: EventMeta, key_id: str) -> ApiKeyRevoked:
    return ApiKeyRevoked(**_header(meta, key_id, 2))


def _header(meta: EventMeta, key_id: str, position: int) -> dict[str, Any]:
    return {
        "originator_id": api_key_aggregate_id(key_id),
        "originator_version": position,
        "timestamp": DomainEvent.create_timestamp(),
        "meta": meta,
        "key_id": key_id,
    }
