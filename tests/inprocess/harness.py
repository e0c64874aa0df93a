"""The in-process gateway harness: FastAPI's TestClient over the embedded backend in a
temporary directory, a WebSocket client with numbered commands, tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from api.app import create_app
from api.auth import mint_token
from api.settings import Settings

GRACE = 2.0
"""Presence grace in these tests: long enough for a reconnect on a busy machine, short
enough for a test to wait it out."""

Frame = dict[str, Any]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "data_dir": tmp_path,
        "presence_grace_seconds": GRACE,
        "jwt_leeway_seconds": 0,
        "allowed_hosts": "testserver",
    }
    return Settings(**{**options, **overrides})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def token(
    settings: Settings,
    user: str,
    ttl: int = 3600,
    device: str = "",
    namespaces: tuple[str, ...] = (),
) -> str:
    secret = settings.development_secret()
    return mint_token(
        user,
        secret=secret,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        ttl_seconds=ttl,
        device_id=device,
        namespaces=namespaces,
    )


def bearer(settings: Settings, user: str) -> dict[str, str]:
    """An Authorization header with a token of ``user``."""
    return {"Authorization": f"Bearer {token(settings, user)}"}


class Ws:
    """A connected client: numbered commands, replies matched by id, pushes kept aside."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session
        self.pushes: list[Frame] = []
        self._ids = 0

    def command(self, name: str, /, **body: Any) -> Frame:
        self._ids += 1
        request = str(self._ids)
        self.session.send_json({"id": request, name: body})
        frame = self.until(lambda f: f.get("reply", {}).get("id") == request)
        return frame["reply"]  # type: ignore[no-any-return]

    def until(self, wanted: Callable[[Frame], bool], limit: int = 500) -> Frame:
        """Reads frames until one is ``wanted`` (pushes read on the way are kept)."""
        for _ in range(limit):
            frame: Frame = self.session.receive_json()
            if wanted(frame):
                return frame
            if "push" in frame:
                self.pushes.append(frame["push"])
        raise AssertionError(f"none of {limit} frames was the one wanted")

    def push(self, kind: str, **fields: Any) -> Frame:
        """The next push of this kind with these fields (kept or new)."""

        def wanted(push: Frame) -> bool:
            return kind in push and all(push[kind].get(k) == v for k, v in fields.items())

        for i, push in enumerate(self.pushes):
            if wanted(push):
                return self.pushes.pop(i)[kind]  # type: ignore[no-any-return]
        frame = self.until(lambda f: wanted(f.get("push", {})))
        return frame["push"][kind]  # type: ignore[no-any-return]


@pytest.fixture
def connect(client: TestClient, settings: Settings) -> Iterator[Callable[..., Ws]]:
    sessions: list[Any] = []

    def open_ws(
        user: str,
        device: str = "",
        ttl: int = 3600,
        namespace: str = "",
        granted: tuple[str, ...] = (),
    ) -> Ws:
        context = client.websocket_connect("/v1/ws")
        ws = Ws(context.__enter__())
        sessions.append(context)
        signed = token(
            settings, user, ttl, namespaces=granted or ((namespace,) if namespace else ())
        )
        reply = ws.command("connect", token=signed, deviceId=device, namespace=namespace)
        assert "connect" in reply, reply
        return ws

    yield open_ws
    for context in sessions:
        context.__exit__(None, None, None)


def shared_room(client: TestClient, settings: Settings, *users: str) -> str:
    owner = {"Authorization": f"Bearer {token(settings, users[0])}"}
    created = client.post("/v1/rooms", json={"name": "in-process", "public": True}, headers=owner)
    room_id: str = created.json()["roomId"]
    for user in users[1:]:
        headers = {"Authorization": f"Bearer {token(settings, user)}"}
        client.post(f"/v1/rooms/{room_id}/members", json={"userId": user}, headers=owner)
        assert client.get(f"/v1/rooms/{room_id}", headers=headers).status_code == 200
    return room_id
