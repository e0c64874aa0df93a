"""Every kind of bad input gets its documented answer; only the offender is affected."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import websockets

from tests.e2e.client import WsClient
from tests.e2e.conftest import Rest, Server, eventually
from tests.e2e.server import SECRET, ServerProcess


async def test_malformed_frames_get_error_codes_and_the_connection_survives(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room()
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    cases = [
        ("{not json", "BAD_REQUEST"),
        ("[1, 2]", "BAD_REQUEST"),
        ('{"id":"x1","teleport":{}}', "UNKNOWN_COMMAND"),
        ('{"id":"x2","send":{"roomId":123}}', "BAD_REQUEST"),
        ('{"id":"x3","send":{"roomId":"r","colour":"red"}}', "BAD_REQUEST"),
        ('{"send":{"roomId":"r","text":"no id"}}', "BAD_REQUEST"),
    ]
    for text, code in cases:
        await alice.send_raw(text)
        reply = await asyncio.wait_for(alice.stray_replies.get(), 5)
        assert reply["error"]["code"] == code, text
    await alice.send_raw(b"\x00binary")
    reply = await asyncio.wait_for(alice.stray_replies.get(), 5)
    assert reply["error"]["code"] == "BAD_REQUEST"
    ok = await alice.request("send", {"roomId": room_id, "text": "still here"})
    assert "send" in ok
    await alice.close()


async def test_domain_errors_map_to_codes(server: Server, rest: Callable[..., Rest]) -> None:
    room_id = rest("alice").create_room()
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    unknown = await alice.request("send", {"roomId": str(uuid.uuid4()), "text": "hi"})
    assert unknown["error"]["code"] == "NOT_FOUND"
    garbage = await alice.request("join", {"roomId": "not-a-room"})
    assert garbage["error"]["code"] == "NOT_FOUND"
    twice = await alice.request("join", {"roomId": room_id})
    assert twice["error"]["code"] == "CONFLICT"
    empty = await alice.request("send", {"roomId": room_id, "text": "   "})
    assert empty["error"]["code"] == "INVALID_ARGUMENT"
    long = await alice.request("send", {"roomId": room_id, "text": "x" * 4001})
    assert long["error"]["code"] == "INVALID_ARGUMENT"
    bad_ack = await alice.request("ack", {"roomId": room_id, "kind": "ACK_KIND_READ", "upTo": 999})
    assert bad_ack["error"]["code"] == "INVALID_ARGUMENT"
    last_owner = await alice.request("leave", {"roomId": room_id})
    assert "leave" in last_owner  # the only member may leave
    await alice.close()


async def test_oversized_frames_close_with_1009(server: Server) -> None:
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    await alice.send_raw(json.dumps({"id": "big", "send": {"roomId": "r", "text": "x" * 70_000}}))
    assert await alice.closed() == 1009
    bob, reply = await WsClient.connect(server.ws_url, server.token("bob"))
    assert "connect" in reply  # the server is fine
    await bob.close()


async def test_bad_tokens_close_with_4001(server: Server) -> None:
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "alice", "aud": "tidings", "iss": "tidings", "iat": now - 600, "exp": now - 300},
        SECRET,
        algorithm="HS256",
    )
    wrong_audience = jwt.encode(
        {"sub": "alice", "aud": "other", "iss": "tidings", "iat": now, "exp": now + 60},
        SECRET,
        algorithm="HS256",
    )
    for token, code in [
        ("garbage", "UNAUTHORIZED"),
        (expired, "TOKEN_EXPIRED"),
        (wrong_audience, "UNAUTHORIZED"),
        (server.token("alice").replace(".", ".x", 1), "UNAUTHORIZED"),
    ]:
        client, reply = await WsClient.connect(server.ws_url, token)
        assert reply["error"]["code"] == code
        assert await client.closed() == 4001


async def test_first_frame_must_be_connect(server: Server) -> None:
    async with websockets.connect(server.ws_url) as ws:
        await ws.send('{"id":"1","send":{"roomId":"r","text":"hi"}}')
        reply = json.loads(await ws.recv())
        assert reply["reply"]["error"]["code"] == "UNAUTHORIZED"
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4001


async def test_rest_rejects_missing_bad_and_foreign_requests(
    server: Server, rest: Callable[..., Rest]
) -> None:
    no_token = httpx.get(f"{server.http_url}/v1/rooms")
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] == "UNAUTHORIZED"
    bad = httpx.get(f"{server.http_url}/v1/rooms", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    alice = rest("alice")
    invalid = alice.post("/v1/rooms", {"name": ""})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "INVALID_ARGUMENT"
    extra = alice.post("/v1/rooms", {"name": "x", "colour": "red"})  # not well-formed
    assert extra.status_code == 400 and extra.json()["error"]["code"] == "BAD_REQUEST"
    assert alice.get("/v1/rooms/not-a-uuid").status_code == 404
    assert alice.get(f"/v1/rooms/{uuid.uuid4()}/messages").status_code == 404
    assert alice.get("/v1/inbox", limit=0).status_code == 422


async def test_non_members_read_nothing(server: Server, rest: Callable[..., Rest]) -> None:
    alice, mallory = rest("alice"), rest("mallory")
    room_id = alice.create_room("secret", public=False)
    sent = alice.post(f"/v1/rooms/{room_id}/messages", {"text": "the plan"}).json()
    message_id = sent["event"]["messagePosted"]["messageId"]
    for path in [
        f"/v1/rooms/{room_id}",
        f"/v1/rooms/{room_id}/messages",
        f"/v1/rooms/{room_id}/messages/{message_id}",
        f"/v1/rooms/{room_id}/members",
        f"/v1/rooms/{room_id}/presence",
    ]:
        response = mallory.get(path)
        assert response.status_code == 404, path
        assert "the plan" not in response.text
    assert mallory.post(f"/v1/rooms/{room_id}/messages", {"text": "hi"}).status_code == 404
    assert all(r["roomId"] != room_id for r in mallory.get("/v1/rooms").json())
    assert mallory.get("/v1/inbox").json()["events"] == []

    ws, _ = await WsClient.connect(server.ws_url, server.token("mallory"))
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("history", {"roomId": room_id}),
        ("send", {"roomId": room_id, "text": "hi"}),
        ("typing", {"roomId": room_id, "typing": True}),
        ("join", {"roomId": room_id}),
        ("ack", {"roomId": room_id, "kind": "ACK_KIND_READ", "upTo": 1}),
        ("delete", {"roomId": room_id, "messageId": message_id}),
    ]
    for command, body in attempts:
        reply = await ws.request(command, body)
        assert reply["error"]["code"] == "NOT_FOUND", command
    alice.post(f"/v1/rooms/{room_id}/messages", {"text": "more secrets"})
    own_room = mallory.create_room("mine")
    mallory.post(f"/v1/rooms/{own_room}/messages", {"text": "sentinel"})
    before = await ws.events_before("sentinel")  # only what her own room brought
    assert {e["event"]["stream"] for e in before} <= {f"room:{own_room}"}
    await ws.close()


async def test_a_client_that_does_not_answer_pings_is_dropped(fresh_server: ServerProcess) -> None:
    fresh_server.env.update(
        {"TIDINGS_HEARTBEAT_INTERVAL_SECONDS": "1", "TIDINGS_HEARTBEAT_TIMEOUT_SECONDS": "1"}
    )
    server = fresh_server.start()
    silent, reply = await WsClient.connect(server.ws_url, server.token("alice"))
    assert reply["connect"]["heartbeatIntervalMs"] == 1000
    silent.answer_pings = False
    polite, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    assert await silent.closed(timeout=10) == 4004
    answered = polite.pings_answered
    await eventually(lambda: polite.pings_answered >= answered + 2, timeout=30)
    assert polite.ws.close_code is None  # answering, it outlived two more heartbeats
    await polite.close()


async def test_a_client_that_stops_reading_is_disconnected(fresh_server: ServerProcess) -> None:
    fresh_server.env.update(
        {"TIDINGS_MAX_QUEUED_FRAMES": "50", "TIDINGS_MAX_QUEUED_BYTES": "200000"}
    )
    server = fresh_server.start()
    alice = Rest(server, "alice")
    room_id = alice.create_room()
    alice.post(f"/v1/rooms/{room_id}/members", {"userId": "slow"})
    alice.post(f"/v1/rooms/{room_id}/members", {"userId": "fast"})
    # A tiny receive window, and a client library that stops reading once 1 frame is queued.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    slow, _ = await WsClient.connect(server.ws_url, server.token("slow"), max_queue=1, sock=sock)
    slow._reader.cancel()
    fast, _ = await WsClient.connect(server.ws_url, server.token("fast"))
    writer, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    text = "y" * 3900
    for i in range(1500):
        await writer.request("send", {"roomId": room_id, "text": f"{i} {text}"})
    received = 0
    while received < 1500:
        await fast.next_message("alice")
        received += 1
    # Counted once the connection is gone: after the close frame could not be sent either.
    await eventually(
        lambda: (
            'tidings_disconnects_total{code="4008"}' in httpx.get(f"{server.http_url}/metrics").text
        )
    )
    await fast.close()
    await writer.close()
