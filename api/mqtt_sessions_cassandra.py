"""Cassandra adapter of :class:`api.mqtt_sessions.MqttSessions` (table ``mqtt_sessions``,
made by the keyspace migrations): any gateway finds a device's session."""

from __future__ import annotations

from api.mqtt_session import SavedSession
from api.mqtt_sessions import MqttSessions
from projections.store_cassandra import CassandraProjectionStore

__all__ = ["CassandraMqttSessions"]


class CassandraMqttSessions(MqttSessions):
    def __init__(self, store: CassandraProjectionStore) -> None:
        self._store = store

    async def load(self, user_id: str, client_id: str) -> SavedSession | None:
        rows = await self._store.execute(
            "SELECT state FROM mqtt_sessions WHERE user_id=? AND client_id=?",
            (user_id, client_id),
        )
        return SavedSession.from_json(rows[0].state) if rows else None

    async def save(self, user_id: str, client_id: str, session: SavedSession) -> None:
        await self._store.execute(
            "INSERT INTO mqtt_sessions (user_id, client_id, state) VALUES (?,?,?)",
            (user_id, client_id, session.to_json()),
        )

    async def drop(self, user_id: str, client_id: str) -> None:
        await self._store.execute(
            "DELETE FROM mqtt_sessions WHERE user_id=? AND client_id=?", (user_id, client_id)
        )
