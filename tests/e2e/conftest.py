from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ServerProcess

FAST = {
    "TIDINGS_PRESENCE_GRACE_SECONDS": "0.5",
    "TIDINGS_CATCH_UP_LIMIT": "50",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("tidings") / "data", FAST).start()
    yield process
    process.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own, for tests that kill or reconfigure it."""
    process = ServerProcess(tmp_path / "data", FAST)
    yield process
    process.stop()


class Rest:
    def __init__(self, server: ServerProcess, user: str) -> None:
        self.user = user
        self.client = httpx.Client(
            base_url=server.http_url,
            headers={"Authorization": f"Bearer {server.token(user)}"},
            timeout=10,
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(path, json=body or {})

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(path)

    def create_room(self, name: str = "general", public: bool = True) -> str:
        response = self.post("/v1/rooms", {"name": name, "public": public})
        assert response.status_code == 201, response.text
        room_id: str = response.json()["roomId"]
        return room_id


@pytest.fixture
def rest(server: ServerProcess) -> Any:
    return lambda user: Rest(server, user)
