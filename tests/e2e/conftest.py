from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.server import DistributedStack, ServerProcess

LARGE_ROOM_MEMBERS = 10
"""Group rooms with more members move to their room stream (small, for the tests)."""

FAST = {
    "TIDINGS_PRESENCE_GRACE_SECONDS": "0.5",
    "TIDINGS_CATCH_UP_LIMIT": "50",
    "TIDINGS_PRESENCE_LEASE_SECONDS": "3",
    "TIDINGS_LARGE_ROOM_MEMBERS": str(LARGE_ROOM_MEMBERS),
}

Server = ServerProcess | DistributedStack
T = TypeVar("T")


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The same protocol suite runs against both modes."""
    yield from running(request.param, tmp_path_factory.mktemp(f"tidings-{request.param}"), FAST)


def running(mode: str, workdir: Path, env: dict[str, str]) -> Iterator[Server]:
    """A started embedded server or distributed stack, stopped when the caller is done."""
    stack: Server = (
        ServerProcess(workdir / "data", env)
        if mode == "embedded"
        else DistributedStack(workdir, env)
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """An embedded server of its own, for tests that kill or reconfigure it."""
    process = ServerProcess(tmp_path / "data", FAST)
    yield process
    process.stop()


class Rest:
    def __init__(self, server: Server, user: str, gateway: int = 0) -> None:
        self.user = user
        self.client = httpx.Client(
            base_url=server.http_urls[gateway],
            headers={"Authorization": f"Bearer {server.token(user)}"},
            timeout=20,
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(path, json=body or {})

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(path)

    def create_room(self, name: str = "general", public: bool = True, kind: str = "group") -> str:
        response = self.post("/v1/rooms", {"name": name, "public": public, "kind": kind})
        assert response.status_code == 201, response.text
        room_id: str = response.json()["roomId"]
        return room_id


@pytest.fixture
def rest(server: Server) -> Callable[..., Rest]:
    return lambda user, gateway=0: Rest(server, user, gateway)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Polls ``check`` until it returns a truthy value (reads through another channel than
    the write are eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s (last: {result!r})")
        await asyncio.sleep(0.05)
