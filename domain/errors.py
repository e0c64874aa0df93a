"""Domain errors: every rule a command can break.

Hierarchy (mapped to wire codes only in ``api/errors.py``)::

    DomainError
    ├── InvalidArgument          a value is out of range (empty text, bad position, ...)
    ├── NotFound
    │   ├── RoomNotFound
    │   └── MessageNotFound
    ├── Forbidden
    │   ├── NotAMember
    │   ├── NotTheAuthor
    │   ├── InsufficientRole
    │   └── RoomNotJoinable
    └── Conflict
        ├── AlreadyAMember
        └── LastOwnerCannotLeave
"""

from __future__ import annotations

__all__ = [
    "AlreadyAMember",
    "Conflict",
    "DomainError",
    "Forbidden",
    "InsufficientRole",
    "InvalidArgument",
    "LastOwnerCannotLeave",
    "MessageNotFound",
    "NotAMember",
    "NotFound",
    "NotTheAuthor",
    "RoomNotFound",
    "RoomNotJoinable",
    "rebuild_error",
]


class DomainError(Exception):
    """A command broke a rule; nothing was appended."""


def rebuild_error(name: str, message: str) -> DomainError:
    """The error a remote command processor reported, by class name (DomainError if unknown)."""
    cls = next((c for c in _all_errors() if c.__name__ == name), DomainError)
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


def _all_errors() -> list[type[DomainError]]:
    found, todo = [], [DomainError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


class InvalidArgument(DomainError):
    pass


class NotFound(DomainError):
    pass


class RoomNotFound(NotFound):
    def __init__(self, room_id: object) -> None:
        super().__init__(f"room {room_id} does not exist")


class MessageNotFound(NotFound):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id} does not exist in this room")


class Forbidden(DomainError):
    pass


class NotAMember(Forbidden):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"{user_id} is not a member of this room")


class NotTheAuthor(Forbidden):
    def __init__(self) -> None:
        super().__init__("only the author may change this message")


class InsufficientRole(Forbidden):
    pass


class RoomNotJoinable(Forbidden):
    pass


class Conflict(DomainError):
    pass


class AlreadyAMember(Conflict):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"{user_id} is already a member of this room")


class LastOwnerCannotLeave(Conflict):
    def __init__(self) -> None:
        super().__init__("the last owner must hand ownership to another member first")
