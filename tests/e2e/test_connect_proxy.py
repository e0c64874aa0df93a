"""The connect proxy (docs/server-api.md) against real servers in both modes: the app's
backend admits, refuses, and does not answer in time; requests are signed."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from api.connect_proxy import sign
from api.session import CloseCode
from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Rest, Server, running
from tests.webhook_receiver import WebhookReceiver

SECRET = "proxy-secret-0123456789abcdef"
TIMEOUT = 1.0
"""The proxy's timeout in these servers; the slow answer takes three times as long."""


def app_backend(body: dict[str, Any]) -> tuple[int, Any, float]:
    """The app's view of its own sessions."""
    token = body["token"]
    if token.startswith("session-"):
        return 200, {"userId": token.removeprefix("session-"), "namespaces": ["default"]}, 0.0
    if token == "slow":
        return 200, {"userId": "late"}, TIMEOUT * 3
    if token == "broken":
        return 500, {}, 0.0
    return 403, {"reason": "no such session"}, 0.0


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def proxied(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, WebhookReceiver]]:
    backend = WebhookReceiver(answer=app_backend).start()
    env = {
        **FAST,
        "TIDINGS_CONNECT_PROXY_URL": backend.url,
        "TIDINGS_CONNECT_PROXY_SECRET": SECRET,
        "TIDINGS_CONNECT_PROXY_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    workdir = tmp_path_factory.mktemp(f"proxy-{request.param}")
    for server in running(request.param, workdir, env):
        yield server, backend
    backend.stop()


async def test_the_app_admits_a_session_and_the_user_chats(
    proxied: tuple[Server, WebhookReceiver],
) -> None:
    server, backend = proxied
    client, reply = await WsClient.connect(server.ws_url, "session-alice", device_id="web")
    assert "connect" in reply, reply
    bob = Rest(server, "bob")
    room_id = bob.create_room("via proxy")
    assert bob.post(f"/v1/rooms/{room_id}/members", {"userId": "alice"}).status_code == 201
    assert bob.post(f"/v1/rooms/{room_id}/messages", {"text": "hi alice"}).status_code == 201
    got = await client.next_message("bob", timeout=30)  # she is alice, as the app said
    assert got["event"]["messagePosted"]["text"] == "hi alice"
    await client.close()
    headers, body, raw = next(r for r in backend.received if r[1]["token"] == "session-alice")
    assert body == {
        "token": "session-alice",
        "deviceId": "web",
        "namespace": "",
        "remoteAddr": "127.0.0.1",
    }
    expected = sign(SECRET, headers["X-Tidings-Timestamp"], raw)
    assert hmac.compare_digest(headers["X-Tidings-Signature"], expected)
    # A Tidings JWT still works without asking the app.
    asked = len(backend.received)
    client, reply = await WsClient.connect(server.ws_url, server.token("bob"))
    assert "connect" in reply and len(backend.received) == asked
    await client.close()


async def test_the_app_refuses_and_the_client_is_told_for_good(
    proxied: tuple[Server, WebhookReceiver],
) -> None:
    server, _ = proxied
    client, reply = await WsClient.connect(server.ws_url, "forged")
    assert reply["error"]["code"] == "UNAUTHORIZED"
    assert "no such session" in reply["error"]["message"]
    assert await client.closed() == CloseCode.UNAUTHORIZED


@pytest.mark.parametrize("token", ["slow", "broken"])
async def test_an_app_that_does_not_answer_usefully_is_a_temporary_error(
    proxied: tuple[Server, WebhookReceiver], token: str
) -> None:
    server, _ = proxied
    client, reply = await WsClient.connect(server.ws_url, token)
    assert reply["error"]["code"] == "UNAVAILABLE"
    assert reply["error"].get("temporary") is True, reply
    assert await client.closed(timeout=TIMEOUT * 10) == CloseCode.TRY_AGAIN_LATER
