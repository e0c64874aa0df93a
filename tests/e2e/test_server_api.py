"""The server API (docs/server-api.md) against real servers in both modes: keys made with
``tidings apikey``, a backend posting to a room, refusals, idempotency, disconnect and
revoke on every gateway, the room directory across namespaces."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from api.session import CloseCode
from tests.e2e.client import WsClient
from tests.e2e.conftest import Rest, Server, eventually
from tests.e2e.server import run_cli

CLOSE_WITHIN = 5.0
"""Disconnect and revoke close the target's sockets within this (the issue's bound)."""


async def new_key(server: Server, *scopes: str, namespaces: tuple[str, ...] = ()) -> str:
    args = [f"--scope={s}" for s in scopes] + [f"--namespace={n}" for n in namespaces]
    code, out = await run_cli(server, "apikey", "create", "--name", "test", *args)
    assert code == 0
    return out.strip()


def backend(server: Server, key: str, gateway: int = 0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.http_urls[gateway] + "/api",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


async def accepted(call: Any) -> httpx.Response:
    """Retries while a fresh key is not yet in the projection (it is, within seconds)."""

    async def attempt() -> httpx.Response | None:
        response: httpx.Response = await call()
        return None if response.status_code == 401 else response

    response: httpx.Response = await eventually(attempt, timeout=30)
    return response


async def test_a_backend_publishes_live_and_after_resume_once_per_request(
    server: Server, rest: Any
) -> None:
    alice: Rest = rest("alice")
    room_id = alice.create_room("orders")
    key = await new_key(server, "publish")
    client, reply = await WsClient.connect(server.ws_urls[1], server.token("alice"))
    assert "connect" in reply
    async with backend(server, key) as api:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        body = {"text": "order 42 shipped", "as": "shop-bot"}
        first = await accepted(
            lambda: api.post(f"/v1/rooms/{room_id}/messages", json=body, headers=headers)
        )
        assert first.status_code == 201, first.text
        event = first.json()["event"]
        assert event["actor"] == {"userId": "shop-bot", "deviceId": event["actor"]["deviceId"]}
        assert event["actor"]["deviceId"].startswith("apikey:")
        live = await client.next_message("shop-bot", timeout=20)
        assert live["event"]["messagePosted"]["text"] == "order 42 shipped"
        again = await api.post(f"/v1/rooms/{room_id}/messages", json=body, headers=headers)
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert again.json()["event"]["eventId"] == event["eventId"]
    await client.close()
    # After a resume from before the message it arrives once, and the timeline has it once.
    resumed, _ = await WsClient.connect(
        server.ws_urls[0], server.token("alice"), position=0, epoch=client.epoch
    )
    texts = []
    while True:
        try:
            push = await resumed.next_message("shop-bot", timeout=3)
        except TimeoutError:
            break
        texts.append(push["event"]["messagePosted"]["text"])
    assert texts == ["order 42 shipped"]
    await resumed.close()
    timeline = alice.get(f"/v1/rooms/{room_id}/messages").json()["messages"]
    assert [m["text"] for m in timeline if m["authorId"] == "shop-bot"] == ["order 42 shipped"]


async def test_keys_without_the_scope_revoked_keys_and_user_tokens_are_refused(
    server: Server, rest: Any
) -> None:
    room_id = rest("alice").create_room("guarded")
    reader = await new_key(server, "read")
    publisher = await new_key(server, "publish")
    body = {"text": "nope"}
    async with backend(server, reader) as api:
        refused = await accepted(lambda: api.post(f"/v1/rooms/{room_id}/messages", json=body))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "FORBIDDEN"
    user_token = server.token("alice")
    async with backend(server, user_token) as api:
        response = await api.get("/v1/rooms")
        assert response.status_code == 401
        assert "not a user token" in response.json()["error"]["message"]
    async with backend(server, publisher) as api:
        ok = await accepted(lambda: api.post(f"/v1/rooms/{room_id}/messages", json=body))
        assert ok.status_code == 201
        key_id = publisher.split("_")[1]
        code, _ = await run_cli(server, "apikey", "revoke", key_id)
        assert code == 0
        _, listing = await run_cli(server, "apikey", "list")
        assert key_id in listing

        async def refused_everywhere() -> bool:
            for url in server.http_urls:
                answer = await api.post(
                    f"{url}/api/v1/rooms/{room_id}/messages", json={"text": "after revoke"}
                )
                if answer.status_code != 401:
                    return False
            return True

        await eventually(refused_everywhere, timeout=15)


async def test_disconnect_and_revoke_close_the_sockets_on_every_gateway(server: Server) -> None:
    key = await new_key(server, "sessions")
    clients = []
    for index, url in enumerate(server.ws_urls):
        client, reply = await WsClient.connect(
            url, server.token("mallory"), device_id=f"dev-{index}"
        )
        assert "connect" in reply
        clients.append(client)
    async with backend(server, key) as api:
        answer = await accepted(lambda: api.post("/v1/users/mallory/disconnect", json={}))
        assert answer.status_code == 200
        codes = await asyncio.gather(*(c.closed(timeout=CLOSE_WITHIN) for c in clients))
        assert codes == [CloseCode.DISCONNECTED] * len(clients)
        # Disconnected clients may come back; a revocation keeps them out.
        again = [
            (await WsClient.connect(url, server.token("mallory", ttl=3600)))[0]
            for url in server.ws_urls
        ]
        revoked = await api.post("/v1/users/mallory/revoke", json={})
        assert revoked.status_code == 200, revoked.text
        assert "sessionsRevoked" in revoked.json()["event"]
        codes = await asyncio.gather(*(c.closed(timeout=CLOSE_WITHIN) for c in again))
        assert codes == [CloseCode.REVOKED] * len(again)


async def test_rooms_members_history_and_batch(server: Server, rest: Any) -> None:
    key = await new_key(server, "rooms", "read", "publish")
    async with backend(server, key) as api:
        headers = {"Idempotency-Key": "project-7"}
        create = {"name": "Project 7", "owner": "olga", "public": False}
        made = await accepted(lambda: api.post("/v1/rooms", json=create, headers=headers))
        assert made.status_code == 201, made.text
        room_id = made.json()["event"]["roomCreated"]["roomId"]
        repeat = await api.post("/v1/rooms", json=create, headers=headers)
        assert repeat.status_code == 200 and repeat.json()["duplicate"]
        batch = await api.post(
            "/v1/batch",
            json={
                "requests": [
                    {
                        "method": "POST",
                        "path": f"/v1/rooms/{room_id}/members",
                        "body": {"userId": "pat", "role": "admin"},
                        "idempotencyKey": "add-pat",
                    },
                    {
                        "method": "POST",
                        "path": f"/v1/rooms/{room_id}/messages",
                        "body": {"text": "welcome pat"},
                    },
                    {"method": "GET", "path": f"/v1/rooms/{room_id}/members"},
                ]
            },
        )
        statuses = [r["status"] for r in batch.json()["responses"]]
        assert statuses == [201, 201, 200], batch.text
        members = {m["userId"]: m["role"] for m in batch.json()["responses"][2]["body"]}
        assert members == {"olga": "owner", "pat": "admin"}
        history = (await api.get(f"/v1/rooms/{room_id}/messages")).json()["messages"]
        assert [m["text"] for m in history] == ["welcome pat"]
        renamed = await api.patch(f"/v1/rooms/{room_id}", json={"name": "Project Seven"})
        assert renamed.status_code == 200
        found = (await api.get("/v1/rooms", params={"q": "seven"})).json()["rooms"]
        assert [r["roomId"] for r in found] == [room_id] and found[0]["members"] == 2
        assert (await api.delete(f"/v1/rooms/{room_id}")).status_code == 200
        assert (await api.get(f"/v1/rooms/{room_id}")).status_code == 404
        assert (await api.get("/v1/rooms", params={"q": "seven"})).json()["rooms"] == []
    assert rest("pat").get(f"/v1/rooms/{room_id}").status_code == 404


async def test_the_directory_lists_public_rooms_of_the_callers_namespaces(
    server: Server, rest: Any
) -> None:
    marker = uuid.uuid4().hex[:6]
    alice: Rest = rest("alice")
    public = alice.create_room(f"lobby-{marker}")
    alice.create_room(f"secret-{marker}", public=False)
    response = alice.get("/v1/rooms/public", q=marker)
    assert [r["roomId"] for r in response.json()["rooms"]] == [public]
    assert response.json()["rooms"][0]["members"] == 1
    # Paging: after the only room, nothing.
    assert alice.get("/v1/rooms/public", q=marker, after=public).json()["rooms"] == []
    # A user found it by name and joins it by its id.
    client, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    joined = await client.request("join", {"roomId": public})
    assert "error" not in joined, joined
    await client.close()
    listed = alice.get("/v1/rooms/public", q=marker).json()["rooms"]
    assert listed[0]["members"] == 2
