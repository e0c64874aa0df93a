"""Persistent MQTT sessions: where a device's session waits between its connections.

Adapters: ``mqtt_sessions_sqlite.py`` (embedded: a file in the data directory) and
``mqtt_sessions_cassandra.py`` (a table in the keyspace, so a device can come back through
any gateway). This is the gateways' own state, not a projection: replaying the log does
not rebuild it, and a rebuild that changes the epoch makes every saved session void
(:attr:`api.mqtt_session.SavedSession.epoch`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from api.mqtt_session import SavedSession

__all__ = ["MqttSessions"]


class MqttSessions(ABC):
    """Contract: :meth:`save` is durable when it returns (it survives the process being
    killed); :meth:`load` returns what the last save for that user and client id stored,
    or None after :meth:`drop` or when none was saved. Users' sessions are apart: two
    users with the same client id have two sessions."""

    @abstractmethod
    async def load(self, user_id: str, client_id: str) -> SavedSession | None: ...

    @abstractmethod
    async def save(self, user_id: str, client_id: str, session: SavedSession) -> None: ...

    @abstractmethod
    async def drop(self, user_id: str, client_id: str) -> None: ...

    async def close(self) -> None:
        return None
