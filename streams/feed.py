"""The event feed port: the log, read from a named reader's own saved position (plugin
observers, ``api/observers.py``).

Contract: :meth:`EventFeed.next_batch` returns the next committed records after the
position last committed under the feed's name (waiting up to ``wait`` seconds when there are
none), each partition in offset order; :meth:`EventFeed.commit` saves the position after the
records it is given. A feed opened again under the same name resumes after the last commit,
so a reader that commits after handling sees every record at least once. Feeds of one name
on several processes share the work (each record goes to one of them).

Adapters: ``feed_sqlite.py`` (the embedded log; positions in a SQLite file) and
``feed_kafka.py`` (a consumer group per name; positions are its committed offsets).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from streams.log import LogRecord

__all__ = ["EventFeed"]


class EventFeed(ABC):
    @abstractmethod
    async def next_batch(self, wait: float) -> list[LogRecord]: ...

    @abstractmethod
    async def commit(self, records: list[LogRecord]) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...
