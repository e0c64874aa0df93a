"""Domain errors: every rule a command can break.

Hierarchy (mapped to wire codes only in ``api/errors.py``)::

    DomainError
    ├── InvalidArgument          a value is out of range (empty text, bad position, ...)
    ├── NotFound
    │   ├── RoomNotFound
    │   ├── NotAMember           (the same answer as RoomNotFound)
    │   ├── MemberNotFound
    │   ├── UserNotFound
    │   ├── BanNotFound
    │   └── MessageNotFound
    ├── Forbidden
    │   ├── NotTheAuthor
    │   ├── InsufficientRole
    │   ├── RoomNotJoinable
    │   └── Banned
    └── Conflict
        ├── AlreadyAMember
        ├── LastOwnerCannotLeave
        └── NotARoomStream
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyAMember",
    "ApiKeyNotFound",
    "BanNotFound",
    "Banned",
    "Conflict",
    "DomainError",
    "Forbidden",
    "InsufficientRole",
    "InvalidArgument",
    "LastOwnerCannotLeave",
    "MemberNotFound",
    "MessageNotFound",
    "NamespaceNotFound",
    "NamespaceNotGranted",
    "NotAMember",
    "NotARoomStream",
    "NotFound",
    "NotTheAuthor",
    "Rejected",
    "RoomFull",
    "RoomNotFound",
    "RoomNotJoinable",
    "UserNotFound",
    "error_for_code",
]


class DomainError(Exception):
    """A command broke a rule; nothing was appended.

    ``code`` names the rule for other processes (a command processor's rejection crosses
    to the gateway by it): stable, unlike class names, and unique per class.
    """

    code: ClassVar[str] = "rule_broken"


def error_for_code(code: str, message: str) -> DomainError:
    """The error another process reported by its code (a plain DomainError if unknown)."""
    cls = _by_code().get(code, DomainError)
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


def _by_code() -> dict[str, type[DomainError]]:
    found, todo = {}, [DomainError]
    while todo:
        cls = todo.pop()
        found[cls.code] = cls
        todo.extend(cls.__subclasses__())
    return found


class InvalidArgument(DomainError):
    code = "invalid_argument"


class NotFound(DomainError):
    code = "not_found"


NO_SUCH_ROOM = "no such room, or you are not a member of it"
"""One answer for a room that does not exist and one the caller may not see: a stranger
cannot tell them apart (a direct room's id is derived from its two users)."""


class RoomNotFound(NotFound):
    code = "room_not_found"

    def __init__(self, room_id: object) -> None:
        super().__init__(NO_SUCH_ROOM)


class BanNotFound(NotFound):
    code = "ban_not_found"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"{user_id} is not banned from this room")


class UserNotFound(NotFound):
    code = "user_not_found"

    def __init__(self) -> None:
        super().__init__("no such user: user ids are 1 to 128 printable characters")


class MemberNotFound(NotFound):
    code = "member_not_found"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"{user_id} is not a member of this room")


class MessageNotFound(NotFound):
    code = "message_not_found"

    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id} does not exist in this room")


class Forbidden(DomainError):
    code = "forbidden"


class NotAMember(NotFound):
    """The caller is not a member: answered exactly as a room that does not exist."""

    code = "not_a_member"

    def __init__(self, user_id: str) -> None:
        super().__init__(NO_SUCH_ROOM)


class NotTheAuthor(Forbidden):
    code = "not_the_author"

    def __init__(self) -> None:
        super().__init__("only the author may change this message")


class InsufficientRole(Forbidden):
    code = "insufficient_role"


class RoomNotJoinable(Forbidden):
    code = "room_not_joinable"


class Banned(Forbidden):
    code = "banned"

    def __init__(self) -> None:
        super().__init__("you were removed from this room; an admin must lift the ban")


class Conflict(DomainError):
    code = "conflict"


class AlreadyAMember(Conflict):
    code = "already_a_member"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"{user_id} is already a member of this room")


class NotARoomStream(Conflict):
    code = "not_a_room_stream"

    def __init__(self) -> None:
        super().__init__("this room is not a room stream: its events reach your inbox")


class LastOwnerCannotLeave(Conflict):
    code = "last_owner_cannot_leave"

    def __init__(self) -> None:
        super().__init__("the last owner must hand ownership to another member first")


class NamespaceNotFound(NotFound):
    code = "namespace_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"namespace {name!r} does not exist")


class NamespaceNotGranted(Forbidden):
    """The caller's token does not grant the namespace (claim ``ns``)."""

    code = "namespace_not_granted"

    def __init__(self, name: str) -> None:
        super().__init__(f"your token does not grant namespace {name!r}")


class RoomFull(Conflict):
    code = "room_full"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the room is full: rooms of this namespace hold {limit} members")


class Rejected(Forbidden):
    """A plugin's filter refused the command (docs/plugins.md); the message is the plugin's."""

    code = "rejected"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key {key_id!r}")
