"""SQLite adapter of :class:`api.mqtt_sessions.MqttSessions` (``mqtt_sessions.db``).

A session is saved at most a few times a second per device (after PUBACKs, coalesced by
the driver), a small row: written on the event loop like the embedded projections (ADR 13),
in WAL mode with ``synchronous=NORMAL``, which survives the process being killed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from api.mqtt_session import SavedSession
from api.mqtt_sessions import MqttSessions

__all__ = ["SqliteMqttSessions"]


class SqliteMqttSessions(MqttSessions):
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mqtt_sessions (user_id TEXT, client_id TEXT, "
            "state TEXT NOT NULL, PRIMARY KEY (user_id, client_id))"
        )

    async def load(self, user_id: str, client_id: str) -> SavedSession | None:
        row = self._db.execute(
            "SELECT state FROM mqtt_sessions WHERE user_id=? AND client_id=?",
            (user_id, client_id),
        ).fetchone()
        return SavedSession.from_json(row[0]) if row else None

    async def save(self, user_id: str, client_id: str, session: SavedSession) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO mqtt_sessions (user_id, client_id, state) VALUES (?,?,?)",
            (user_id, client_id, session.to_json()),
        )

    async def drop(self, user_id: str, client_id: str) -> None:
        self._db.execute(
            "DELETE FROM mqtt_sessions WHERE user_id=? AND client_id=?", (user_id, client_id)
        )

    async def close(self) -> None:
        self._db.close()
