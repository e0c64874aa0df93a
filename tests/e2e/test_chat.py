"""Two users chat through a real server; the basics of the protocol end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.e2e.client import WsClient
from tests.e2e.conftest import Rest, Server, eventually


async def test_two_users_chat(server: Server, rest: Callable[..., Rest]) -> None:
    room_id = rest("alice").create_room("chat")
    alice, reply = await WsClient.connect(server.ws_url, server.token("alice"))
    assert reply["connect"]["userId"] == "alice"
    assert reply["connect"]["recovery"] == "RECOVERY_NOT_REQUESTED"
    bob, _ = await WsClient.connect(server.ws_urls[1], server.token("bob"))  # other gateway
    joined = await bob.request("join", {"roomId": room_id})
    assert joined["join"]["roomId"] == room_id

    sent = await alice.request("send", {"roomId": room_id, "clientMsgId": "a-1", "text": "hi bob"})
    event = sent["send"]["event"]
    got = await bob.next_message()
    assert got["event"]["eventId"] == event["eventId"]
    assert got["event"]["messagePosted"]["text"] == "hi bob"
    assert got["event"]["actor"]["userId"] == "alice"
    assert got["event"]["traceId"]  # the trace id travels from the command to the push

    await bob.request("send", {"roomId": room_id, "clientMsgId": "b-1", "text": "hi alice"})
    assert (await alice.next_message("bob"))["event"]["messagePosted"]["text"] == "hi alice"

    history = await alice.request("history", {"roomId": room_id, "limit": 10})
    assert [m["text"] for m in history["history"]["messages"]] == ["hi bob", "hi alice"]
    await alice.close()
    await bob.close()


async def test_same_client_message_id_gives_one_message(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room()
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    body = {"roomId": room_id, "clientMsgId": "once", "text": "only once"}
    first = await alice.request("send", body)
    again = await alice.request("send", body)
    assert again["send"]["duplicate"] is True
    assert again["send"]["event"] == first["send"]["event"]
    # Over REST too, and concurrently.
    replies = await asyncio.gather(*(alice.request("send", body) for _ in range(5)))
    assert {r["send"]["event"]["eventId"] for r in replies} == {first["send"]["event"]["eventId"]}
    http = rest("alice").post(f"/v1/rooms/{room_id}/messages", {"clientMsgId": "once", "text": "x"})
    assert http.status_code == 200 and http.json()["duplicate"] is True
    timeline = rest("alice").get(f"/v1/rooms/{room_id}/messages").json()["messages"]
    assert [m["text"] for m in timeline] == ["only once"]
    await alice.close()


async def test_edit_delete_and_read_receipts(server: Server, rest: Callable[..., Rest]) -> None:
    room_id = rest("alice").create_room()
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    bob, _ = await WsClient.connect(server.ws_urls[1], server.token("bob"))
    await bob.request("join", {"roomId": room_id})
    sent = await alice.request("send", {"roomId": room_id, "text": "typo"})
    message_id = sent["send"]["event"]["messagePosted"]["messageId"]
    position = int(sent["send"]["event"]["position"])
    assert "error" not in await alice.request(
        "edit", {"roomId": room_id, "messageId": message_id, "text": "fixed"}
    )
    forbidden = await bob.request("edit", {"roomId": room_id, "messageId": message_id, "text": "x"})
    assert forbidden["error"]["code"] == "FORBIDDEN"

    def unread() -> dict[str, int]:
        return {r["roomId"]: r["unread"] for r in rest("bob").get("/v1/rooms").json()}

    await eventually(lambda: unread().get(room_id) == 1)
    ack = await bob.request("ack", {"roomId": room_id, "kind": "ACK_KIND_READ", "upTo": position})
    assert ack["ack"]["event"]["acked"]["upTo"] == str(position)
    receipt = None
    while receipt is None:
        push = await alice.next_event()
        receipt = push["event"].get("acked")
    assert receipt["userId"] == "bob"
    await eventually(lambda: unread()[room_id] == 0)
    await alice.request("delete", {"roomId": room_id, "messageId": message_id})

    def deleted() -> bool:
        message = rest("bob").get(f"/v1/rooms/{room_id}/messages/{message_id}").json()
        return bool(message["deleted"] is True and message["text"] == "")

    await eventually(deleted)
    await alice.close()
    await bob.close()


async def test_typing_and_presence_reach_other_members(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room()
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "dora"})
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    dora, _ = await WsClient.connect(server.ws_urls[1], server.token("dora"), device_id="tablet")
    online = await alice.next_notice("presence")
    while online["userId"] != "dora":
        online = await alice.next_notice("presence")
    assert online["online"] is True and online["deviceId"] == "tablet"
    presence = rest("alice").get(f"/v1/rooms/{room_id}/presence").json()
    assert {p["userId"]: p["online"] for p in presence}["dora"] is True
    online = rest("alice").get("/v1/users/online").json()
    assert "dora" in {p["userId"] for p in online}

    await dora.request("typing", {"roomId": room_id, "typing": True})
    typing = await alice.next_notice("typing")
    assert typing == {"roomId": room_id, "userId": "dora", "typing": True}

    await dora.close()
    offline = await alice.next_notice("presence")
    while offline["userId"] != "dora":
        offline = await alice.next_notice("presence")
    assert offline.get("online", False) is False
    await alice.close()


async def test_rest_rooms_members_and_direct_conversations(
    server: Server, rest: Callable[..., Rest]
) -> None:
    alice, erin = rest("alice"), rest("erin")
    first = alice.post("/v1/direct/erin")
    assert first.status_code == 201, first.text
    again = erin.post("/v1/direct/alice")
    assert again.status_code == 200
    assert first.json()["roomId"] == again.json()["roomId"]
    assert first.json()["kind"] == "direct"
    members = alice.get(f"/v1/rooms/{first.json()['roomId']}/members").json()
    assert sorted(m["userId"] for m in members) == ["alice", "erin"]

    room_id = alice.create_room("private", public=False)
    assert alice.post(f"/v1/rooms/{room_id}/members", {"userId": "erin"}).status_code == 201
    assert alice.post(f"/v1/rooms/{room_id}/members", {"userId": "erin"}).status_code == 409
    assert erin.post(f"/v1/rooms/{room_id}/members", {"userId": "fred"}).status_code == 403
    assert erin.delete(f"/v1/rooms/{room_id}/members/erin").status_code == 204
    assert erin.get(f"/v1/rooms/{room_id}/messages").status_code == 404
    assert alice.delete(f"/v1/rooms/{room_id}/members/alice").status_code == 204
    spec = alice.get("/openapi.json").json()
    assert "/v1/rooms/{room_id}/messages" in spec["paths"]


async def test_timeline_paging_over_rest(server: Server, rest: Callable[..., Rest]) -> None:
    alice = rest("alice")
    room_id = alice.create_room()
    for i in range(7):
        alice.post(f"/v1/rooms/{room_id}/messages", {"text": f"m{i}"})
    page = alice.get(f"/v1/rooms/{room_id}/messages", limit=3).json()
    assert [m["text"] for m in page["messages"]] == ["m4", "m5", "m6"] and page["hasMore"]
    older = alice.get(
        f"/v1/rooms/{room_id}/messages", limit=3, before=page["messages"][0]["position"]
    ).json()
    assert [m["text"] for m in older["messages"]] == ["m1", "m2", "m3"] and older["hasMore"]
    oldest = alice.get(
        f"/v1/rooms/{room_id}/messages", limit=3, before=older["messages"][0]["position"]
    ).json()
    assert [m["text"] for m in oldest["messages"]] == ["m0"] and not oldest["hasMore"]
    one = page["messages"][0]
    fetched = alice.get(f"/v1/rooms/{room_id}/messages/{one['messageId']}").json()
    assert fetched == one
