"""Ports of the log of record: where commands become events, and where events are read.

Adapters: ``log_sqlite.py`` (embedded, eventsourcing's SQLite recorder) and, for the
distributed log, ``command_bus_kafka.py`` and ``log_kafka.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from domain.commands import Command
from proto.codec import Envelope

__all__ = [
    "CommandBus",
    "CommandResult",
    "EventLog",
    "LogRecord",
    "LogScanner",
    "LogUnavailable",
    "ProjectionProgress",
]


class LogUnavailable(Exception):
    """The log cannot be reached now; retrying the same command is safe (it is idempotent)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    envelope: Envelope
    """The event that answers the command (the original one for a duplicate)."""
    duplicate: bool = False
    offset: int = 0
    """Log offset of the last event appended (0 when nothing was appended)."""
    partition: int = 0
    """The log partition of ``offset`` (always 0 for the embedded log)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    offset: int
    """Position in the record's partition, strictly increasing in append order (gaps
    allowed); the embedded log has one partition, so there it orders the whole log."""
    data: bytes
    """A serialised ``tidings.v1.Envelope``."""
    partition: int = 0
    """The log partition (always 0 for the embedded log); offsets are per partition."""
    envelope: Envelope | None = None
    """``data`` decoded already, when the adapter has it at hand (records it just wrote);
    readers must not modify it."""


class CommandBus(ABC):
    """Runs commands through the single writer of their streams.

    Contract: when :meth:`execute` returns, the events it decided are durably in the log
    (and readable through :class:`EventLog`); when it raises a ``DomainError`` nothing was
    appended. Commands for one stream are decided one at a time, in arrival order.
    """

    @abstractmethod
    async def execute(self, command: Command) -> CommandResult: ...


class EventLog(ABC):
    """Reads the log of record in order."""

    @abstractmethod
    async def read(self, after: int, limit: int) -> list[LogRecord]:
        """Up to ``limit`` records with offset > ``after``, ascending."""

    @abstractmethod
    async def wait(self, after: int, timeout: float) -> None:
        """Returns once a record with offset > ``after`` may exist, or after ``timeout``."""

    @abstractmethod
    async def head(self) -> int:
        """The offset of the last record (0 when empty)."""


class ProjectionProgress(ABC):
    """How far the projections have caught up with the log (for read-your-writes)."""

    @abstractmethod
    async def wait_for(self, offset: int, timeout: float, partition: int = 0) -> bool:
        """True once every record of ``partition`` up to ``offset`` is projected;
        False after ``timeout``."""


class LogScanner(ABC):
    """Reads the whole committed log once, for tools (verify, replay, audit, export).

    Contract: :meth:`scan` yields every committed record after ``after`` up to the log's end
    at the time of the call, partition after partition, each in offset order, then stops.
    Every stream lives in one partition, so each stream is yielded in position order.
    :meth:`cursor` maps a record to an integer that strictly increases along a scan and is
    at least 1; ``scan(after=cursor(r))`` resumes just after ``r``. Memory use does not grow
    with the size of the log.
    """

    @abstractmethod
    def scan(self, after: int = 0) -> AsyncIterator[LogRecord]: ...

    @abstractmethod
    def cursor(self, record: LogRecord) -> int: ...

    @abstractmethod
    async def remaining(self, after: int = 0) -> int:
        """About how many records a scan after ``after`` would yield (for progress bars)."""
