"""The MqttSessions contract, run against every adapter: what was saved is loaded, by
user and client id, until dropped; a save survives the store being closed and reopened."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from api.mqtt_session import SavedSession
from api.mqtt_sessions import MqttSessions
from api.mqtt_sessions_cassandra import CassandraMqttSessions
from api.mqtt_sessions_sqlite import SqliteMqttSessions
from tests.contract.test_projection_store import cassandra_store

Opener = Callable[[], contextlib.AbstractAsyncContextManager[MqttSessions]]


@contextlib.asynccontextmanager
async def sqlite_sessions(tmp: Path) -> AsyncIterator[Opener]:
    @contextlib.asynccontextmanager
    async def open_sessions() -> AsyncIterator[MqttSessions]:
        sessions = SqliteMqttSessions(tmp / "mqtt_sessions.db")
        try:
            yield sessions
        finally:
            await sessions.close()

    yield open_sessions


@contextlib.asynccontextmanager
async def cassandra_sessions(tmp: Path) -> AsyncIterator[Opener]:
    async with cassandra_store(tmp) as store:

        @contextlib.asynccontextmanager
        async def open_sessions() -> AsyncIterator[MqttSessions]:
            yield CassandraMqttSessions(store)

        yield open_sessions


FACTORIES = {"sqlite": sqlite_sessions, "cassandra": cassandra_sessions}


@pytest.fixture(params=sorted(FACTORIES))
async def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    async with FACTORIES[request.param](tmp_path) as open_sessions:
        yield open_sessions


async def test_a_saved_session_is_loaded_again_even_after_a_reopen(opener: Opener) -> None:
    saved = SavedSession(
        42, "e1", {"rooms/+": 1}, rooms={"r1": 3}, received={7: "mqtt-x"}, expires_at=9.5
    )
    async with opener() as sessions:
        assert await sessions.load("alice", "phone") is None
        await sessions.save("alice", "phone", saved)
    async with opener() as sessions:
        assert await sessions.load("alice", "phone") == saved
        assert await sessions.load("bob", "phone") is None  # another user's client id
        assert await sessions.load("alice", "tablet") is None


async def test_the_last_save_wins_and_a_drop_forgets(opener: Opener) -> None:
    async with opener() as sessions:
        await sessions.save("alice", "phone", SavedSession(1, "e1"))
        await sessions.save("alice", "phone", SavedSession(2, "e1", {"inbox": 1}))
        await sessions.save("bob", "phone", SavedSession(5, "e1"))
        loaded = await sessions.load("alice", "phone")
        assert loaded is not None and (loaded.position, loaded.subscriptions) == (2, {"inbox": 1})
        await sessions.drop("alice", "phone")
        assert await sessions.load("alice", "phone") is None
        assert await sessions.load("bob", "phone") == SavedSession(5, "e1")
        await sessions.drop("alice", "phone")  # dropping what is gone is fine
