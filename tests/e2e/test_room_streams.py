"""Channels and large rooms are followed as room streams, exactly like the inbox: resume is
exact or explicit, and a room that grows past the large-room size hands over from the inbox
to its stream with nothing lost or doubled. Runs against both modes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, LARGE_ROOM_MEMBERS, Rest, Server, eventually

CATCH_UP_LIMIT = int(FAST["TIDINGS_CATCH_UP_LIMIT"])


def room_position(rest: Rest, room_id: str) -> int:
    """The room position of the user's own join (where their following starts)."""
    room = rest.get(f"/v1/rooms/{room_id}").json()
    members = rest.get(f"/v1/rooms/{room_id}/members").json()
    assert room["streamedSince"] > 0, room
    return int(next(m["joinedAt"] for m in members if m["userId"] == rest.user))


async def posted_positions(client: WsClient, count: int) -> list[int]:
    pushes = [await client.next_room_event() for _ in range(count)]
    return [int(p["event"]["position"]) for p in pushes]


async def test_a_channel_is_followed_and_resumed_exactly(
    server: Server, rest: Callable[..., Rest]
) -> None:
    owner = rest("olga")
    room_id = owner.create_room("news", kind="channel")
    assert owner.get(f"/v1/rooms/{room_id}").json()["kind"] == "channel"
    reader = rest("rita")
    assert owner.post(f"/v1/rooms/{room_id}/members", {"userId": "rita"}).status_code == 201
    joined = room_position(reader, room_id)
    # Everybody reads, only admins and owners post.
    refused = reader.post(f"/v1/rooms/{room_id}/messages", {"text": "me too"})
    assert refused.status_code == 403, refused.text

    olga, _ = await WsClient.connect(server.ws_url, server.token("olga"))
    rita, _ = await WsClient.connect(server.ws_urls[-1], server.token("rita"))
    # rita's inbox told her about the join; she follows from its room position.
    follow = await rita.follow(room_id, joined, olga.epoch)
    assert follow["follow"]["recovery"] == "RECOVERY_RECOVERED", follow
    epoch = follow["follow"]["position"]["epoch"]
    sent = [await olga.request("send", {"roomId": room_id, "text": f"n{i}"}) for i in range(3)]
    positions = [int(s["send"]["event"]["position"]) for s in sent]
    assert await posted_positions(rita, 3) == positions == [joined + 1, joined + 2, joined + 3]
    last = positions[-1]
    await rita.close()

    missed = [await olga.request("send", {"roomId": room_id, "text": f"m{i}"}) for i in range(3)]
    rita, _ = await WsClient.connect(server.ws_url, server.token("rita"))
    follow = await rita.follow(room_id, last, epoch)
    assert follow["follow"]["recovery"] == "RECOVERY_RECOVERED", follow
    recovered = [await rita.next_room_event() for _ in range(3)]
    assert [p["event"]["eventId"] for p in recovered] == [
        m["send"]["event"]["eventId"] for m in missed
    ]
    live = await olga.request("send", {"roomId": room_id, "text": "live"})
    push = await rita.next_room_event()
    assert push["event"]["eventId"] == live["send"]["event"]["eventId"]
    assert push["epoch"] == epoch
    await olga.request("send", {"roomId": room_id, "text": "sentinel"})
    assert await rita.room_events_before("sentinel") == []  # nothing twice
    await olga.close()
    await rita.close()


async def test_each_not_recovered_outcome_is_explicit(
    server: Server, rest: Callable[..., Rest]
) -> None:
    owner = rest("otto")
    room_id = owner.create_room("announcements", kind="channel")
    owner.post(f"/v1/rooms/{room_id}/members", {"userId": "ria"})
    otto, _ = await WsClient.connect(server.ws_url, server.token("otto"))
    ria, _ = await WsClient.connect(server.ws_url, server.token("ria"))
    head = (await ria.follow(room_id))["follow"]
    assert head["recovery"] == "RECOVERY_NOT_REQUESTED"
    start, epoch = int(head["position"].get("position", 0)), head["position"]["epoch"]
    await ria.request("unfollow", {"roomId": room_id})
    for i in range(CATCH_UP_LIMIT + 1):
        await otto.ws.send(f'{{"id":"b{i}","send":{{"roomId":"{room_id}","text":"{i}"}}}}')
    last = await otto.request("send", {"roomId": room_id, "text": "last"})
    top = int(last["send"]["event"]["position"])

    async def outcome(position: int, epoch: str) -> str:
        reply = await ria.follow(room_id, position, epoch)
        await ria.request("unfollow", {"roomId": room_id})
        return str(reply["follow"]["recovery"])

    deadline = asyncio.get_running_loop().time() + 30  # distributed mode projects after
    while await outcome(top, epoch) != "RECOVERY_RECOVERED":  # the send's answer
        assert asyncio.get_running_loop().time() < deadline, "the stream never reached the top"
        await asyncio.sleep(0.1)
    assert await outcome(start, epoch) == "RECOVERY_TOO_FAR_BEHIND"
    assert await outcome(top + 5, epoch) == "RECOVERY_FUTURE_POSITION"
    assert await outcome(top, "another-epoch") == "RECOVERY_EPOCH_CHANGED"
    assert await outcome(top - 2, epoch) == "RECOVERY_RECOVERED"
    # Not a member, or not a room stream: refused.
    stranger, _ = await WsClient.connect(server.ws_url, server.token("stranger"))
    refused = await stranger.follow(room_id)
    assert refused["error"]["code"] == "NOT_FOUND", refused
    small = rest("otto").create_room("small")
    not_a_stream = await otto.follow(small)
    assert not_a_stream["error"]["code"] == "CONFLICT", not_a_stream
    for client in (otto, ria, stranger):
        await client.close()


class Member:
    """A client as the SDKs behave: reads the inbox, follows the room stream when the inbox
    says where it starts, and emits each room event once (by room position)."""

    def __init__(self, user: str, client: WsClient) -> None:
        self.user = user
        self.client = client
        self.seen: dict[str, list[int]] = {}
        self.messages: list[str] = []
        self.last: dict[str, int] = {}

    def _emit(self, event: dict[str, Any]) -> None:
        stream, position = event["stream"], int(event["position"])
        if position <= self.last.get(stream, 0):
            return
        self.last[stream] = position
        if "messagePosted" in event:
            self.messages.append(event["messagePosted"]["text"])

    async def pump(self, until: Callable[[], bool], timeout: float = 30.0) -> None:
        async def run() -> None:
            while not until():
                inbox = self.client.drain_events()
                for push in inbox:
                    event = push["event"]
                    self._emit(event)
                    if "roomStreamStarted" in event:
                        room_id = event["roomStreamStarted"]["roomId"]
                        reply = await self.client.follow(
                            room_id, int(event["position"]), self.client.epoch
                        )
                        assert reply["follow"]["recovery"] == "RECOVERY_RECOVERED", reply
                for push in self.client.drain_room_events():
                    self._emit(push["event"])
                if not inbox:
                    await asyncio.sleep(0.02)

        await asyncio.wait_for(run(), timeout)


async def test_a_room_growing_past_the_size_moves_to_its_stream_losing_nothing(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("gina").create_room("growing")
    names = [f"g{i}" for i in range(LARGE_ROOM_MEMBERS + 2)]
    early, late = names[:3], names[3:]
    for user in early:
        rest("gina").post(f"/v1/rooms/{room_id}/members", {"userId": user})
    clients = {}
    for i, user in enumerate(["gina", *early]):
        client, _ = await WsClient.connect(server.ws_urls[i % 2], server.token(user))
        clients[user] = Member(user, client)
    writer = clients["gina"].client
    texts: list[str] = []

    async def talk() -> None:
        for i in range(30):
            texts.append(f"t{i}")
            await writer.request("send", {"roomId": room_id, "text": f"t{i}"})

    async def grow() -> None:
        for user in late:  # the room moves to its stream during the traffic
            rest("gina").post(f"/v1/rooms/{room_id}/members", {"userId": user})

    await asyncio.gather(talk(), grow())
    assert rest("gina").get(f"/v1/rooms/{room_id}").json()["streamedSince"] > 0
    for member in clients.values():
        await member.pump(lambda m=member: len(m.messages) >= len(texts))  # type: ignore[misc]
        assert member.messages == texts, member.user  # every message, once, in order
    await asyncio.sleep(0.2)
    for member in clients.values():
        assert member.client.drain_room_events() == []
        await member.client.close()


async def test_receipts_and_unread_counts_in_a_room_stream(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("uma").create_room("bulletin", kind="channel")
    rest("uma").post(f"/v1/rooms/{room_id}/members", {"userId": "uri"})
    uma, _ = await WsClient.connect(server.ws_url, server.token("uma"))
    uri, _ = await WsClient.connect(server.ws_url, server.token("uri"))
    await uma.follow(room_id)
    sent = [await uma.request("send", {"roomId": room_id, "text": f"u{i}"}) for i in range(3)]
    first = int(sent[0]["send"]["event"]["position"])
    await eventually(lambda: rest("uri").get(f"/v1/rooms/{room_id}").json()["unread"] == 3)
    ack = await uri.request("ack", {"roomId": room_id, "kind": "ACK_KIND_READ", "upTo": first})
    assert "ack" in ack, ack
    await eventually(lambda: rest("uri").get(f"/v1/rooms/{room_id}").json()["unread"] == 2)
    assert rest("uri").get(f"/v1/rooms/{room_id}").json()["readUpTo"] == first
    # The receipt is in the stream, at its room position, for everyone following.
    while True:
        push = await uma.next_room_event()
        if "acked" in push["event"]:
            assert push["event"]["acked"]["userId"] == "uri"
            break
    await uma.close()
    await uri.close()


async def test_a_member_who_leaves_stops_receiving_the_stream(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("lena").create_room("club", kind="channel")
    rest("lena").post(f"/v1/rooms/{room_id}/members", {"userId": "leo"})
    lena, _ = await WsClient.connect(server.ws_url, server.token("lena"))
    leo, _ = await WsClient.connect(server.ws_urls[-1], server.token("leo"))
    await leo.follow(room_id)
    await lena.request("send", {"roomId": room_id, "text": "one"})
    await leo.next_room_event()
    assert (await leo.request("leave", {"roomId": room_id})).get("leave") is not None
    left = await leo.next_room_event()
    assert "memberLeft" in left["event"]
    await lena.request("send", {"roomId": room_id, "text": "after"})
    await asyncio.sleep(0.5)
    assert leo.drain_room_events() == []
    await lena.close()
    await leo.close()
