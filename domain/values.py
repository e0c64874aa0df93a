"""Small immutable values shared by events and commands."""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from dataclasses import dataclass, field
from enum import IntEnum

from domain.errors import InvalidArgument

__all__ = [
    "LARGE_ROOM_MEMBERS",
    "MAX_CLIENT_MSG_ID_LENGTH",
    "MAX_ROOM_NAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_USER_ID_LENGTH",
    "AckKind",
    "EventMeta",
    "PresenceStatus",
    "Role",
    "RoomKind",
    "check_device_id",
    "check_user_id",
    "direct_room_id",
    "event_id",
    "room_stream",
    "user_aggregate_id",
    "user_stream",
]

MAX_TEXT_LENGTH = 4000
MAX_ROOM_NAME_LENGTH = 200
MAX_CLIENT_MSG_ID_LENGTH = 128
MAX_USER_ID_LENGTH = 128
LARGE_ROOM_MEMBERS = 100
"""Default size past which a group room moves from inbox fan-out to a room stream (ADR 14)."""

# Fixed namespace so that derived ids are the same on every machine and every replay.
_NAMESPACE = uuid.UUID("6f1c3b1e-7d0a-4f57-9a51-2f4c9b1f7a10")
_NAMESPACE_BYTES = _NAMESPACE.bytes


class RoomKind(IntEnum):
    """Values match ``tidings.v1.RoomKind``."""

    GROUP = 1
    DIRECT = 2
    CHANNEL = 3


class Role(IntEnum):
    """Values match ``tidings.v1.Role``; a larger value has more rights."""

    MEMBER = 1
    ADMIN = 2
    OWNER = 3


class AckKind(IntEnum):
    DELIVERED = 1
    READ = 2


class PresenceStatus(IntEnum):
    ONLINE = 1
    AWAY = 2
    OFFLINE = 3


@dataclass(frozen=True, slots=True)
class EventMeta:
    """Who caused an event, from which device, under which trace."""

    user_id: str
    device_id: str = ""
    trace_id: str = ""
    namespace: str = ""
    """The namespace the event happens in (its room's; empty: default)."""
    namespaces: frozenset[str] = frozenset({"default"})
    """The namespaces the actor may act in (checked on commands, never logged)."""
    server: bool = field(default=False, compare=False)
    """The actor is an application backend acting through an API key (its device is
    ``apikey:<key id>``): in the rooms of its namespaces it holds every right of an owner
    without being a member (never logged: the device says it)."""
    request_id: str = ""
    """The backend's idempotency key: a room applies a request id once (logged)."""


# What an id may not hold: control (Cc), format (Cf: bidi marks, zero widths), private-use
# (Co) characters and separators (Zs, Zl, Zp) other than the space, whatever a log line or a
# contact list would show wrongly; as ranges of a regex character class (Python 3.11's
# unicodedata; tests/unit/test_user_ids.py derives it again). The string holds the characters
# themselves, not escapes, so the OpenAPI schema's pattern reads the same in every engine.
HIDDEN_CHARACTERS = (
    "\u0000-\u001f\u007f-\u00a0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    "\u08e2\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000"
    "\ue000-\uf8ff\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)


USER_ID_PATTERN = f"^[^{HIDDEN_CHARACTERS}]{{1,{MAX_USER_ID_LENGTH}}}$"
"""A user id: 1 to 128 characters, none of them hidden (the rule in the OpenAPI schema)."""
_USER_ID = re.compile(USER_ID_PATTERN)


def check_user_id(user_id: str) -> str:
    if not _USER_ID.match(user_id) or not _encodable(user_id):
        raise InvalidArgument(
            f"user ids are 1 to {MAX_USER_ID_LENGTH} characters, without control, format, "
            f"private-use or separator characters other than the space: {user_id!r}"
        )
    return user_id


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


MAX_DEVICE_ID_LENGTH = 64


def check_device_id(device_id: str) -> str:
    """Device ids are shown to contacts and written to logs: printable (no control,
    format or bidi characters) and short."""
    if len(device_id) > MAX_DEVICE_ID_LENGTH or not device_id.isprintable():
        raise InvalidArgument(f"deviceId is at most {MAX_DEVICE_ID_LENGTH} printable characters")
    return device_id


def room_stream(room_id: uuid.UUID | str) -> str:
    return f"room:{room_id}"


def user_stream(user_id: str) -> str:
    return f"user:{user_id}"


def user_aggregate_id(user_id: str) -> uuid.UUID:
    """The log's originator id of a user's stream (acks and presence)."""
    return uuid.uuid5(_NAMESPACE, user_stream(user_id))


def direct_room_id(user_a: str, user_b: str, namespace: str = "default") -> uuid.UUID:
    """The one direct conversation of a pair in a namespace: the same id whoever opens it
    first."""
    first, second = sorted((user_a, user_b))
    scope = "" if namespace == "default" else f"\n{namespace}"
    return uuid.uuid5(_NAMESPACE, f"direct\n{first}\n{second}{scope}")


def new_trace_id() -> str:
    """32 hex digits naming one command's trace: a W3C / OpenTelemetry trace id (not a
    secret: no system entropy needed)."""
    return f"{random.getrandbits(128) or 1:032x}"


def event_id(stream: str, position: int) -> str:
    """Event ids derive from (stream, position), so a replay yields the same ids.

    The same string as ``str(uuid.uuid5(namespace, f"{stream}#{position}"))``, built without
    the UUID object (it is computed for every event on the hot path)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{stream}#{position}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
