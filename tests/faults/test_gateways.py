"""Gateways die; clients come back spread out, resume exactly, and sends stay exactly-once."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from tidings_client import Client, ConnectionChanged, InboxEvent, RoomEvent

from projections.checker import Acked
from tests.e2e.client import WsClient
from tests.e2e.server import DistributedStack
from tests.faults.workload import ARTIFACTS, Workload, assert_nothing_lost, verify

pytestmark = pytest.mark.timeout(600)  # thousands of messages and several faults

LISTENERS = 200
ROOMS = 40
MESSAGES = 2000
SPREAD = 5.0
"""The SDK's reconnect_spread for this test: first attempts spread over 5 s."""
MAX_SHARE_PER_SECOND = 0.35
"""Expected ~0.2 (1 s of a 5 s window); the bound leaves room for sampling noise."""


@dataclass
class Listener:
    user: str
    client: Client
    start: int = 0
    positions: list[int] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    resumed_at: list[float] = field(default_factory=list)
    recoveries: list[str] = field(default_factory=list)

    async def listen(self) -> None:
        async for event in self.client:
            if isinstance(event, InboxEvent):
                self.positions.append(event.position)
                self.event_ids.append(event.envelope["eventId"])
            elif isinstance(event, ConnectionChanged) and event.state != "reconnecting":
                self.resumed_at.append(time.monotonic())
                self.recoveries.append(event.recovery)


async def test_gateway_killed_with_hundreds_of_connections(stack: DistributedStack) -> None:
    # 40 rooms of 5 listeners and 1 sender; listeners sit on gateway 0, senders on gateway 1.
    workload = Workload(stack, users=10, rooms=ROOMS, members=1, messages=MESSAGES)
    workload.setup()
    for index, (room, members) in enumerate(workload.room_members.items()):
        headers = {"Authorization": f"Bearer {stack.token(members[0])}"}
        with httpx.Client(base_url=stack.http_urls[1], headers=headers, timeout=30) as http:
            for k in range(LISTENERS // ROOMS):
                user = f"listener{index * (LISTENERS // ROOMS) + k:03d}"
                added = http.post(f"/v1/rooms/{room}/members", json={"userId": user})
                assert added.status_code == 201, added.text
                members.append(user)
    listener_users = sorted(u for m in workload.room_members.values() for u in m[1:])

    listeners: list[Listener] = []
    for batch in range(0, LISTENERS, 50):
        clients = [
            Client(stack.ws_urls, stack.token(user), reconnect_spread=SPREAD)
            for user in listener_users[batch : batch + 50]
        ]
        await asyncio.gather(*(c.connect() for c in clients))
        listeners += [
            Listener(u, c) for u, c in zip(listener_users[batch : batch + 50], clients, strict=True)
        ]
    for listener in listeners:
        assert listener.client.url == stack.ws_urls[0]
        listener.start = listener.client.position or 0
    tasks = [asyncio.create_task(listener.listen()) for listener in listeners]

    senders = Workload(stack, users=10, rooms=ROOMS, messages=MESSAGES)
    senders.room_members = workload.room_members
    load = asyncio.create_task(senders.run())
    try:
        await senders.reached(0.3)
        killed_at = time.monotonic()
        stack.kill_gateway(0)
        await load
        report = await verify(stack, senders.acked, "gateway-sigkill-200-clients")
        assert_nothing_lost(report, MESSAGES)

        # Every listener ends at its inbox head, having seen each position once, in order.
        heads = {}
        async with httpx.AsyncClient(base_url=stack.http_urls[1], timeout=30) as http:
            for listener in listeners:
                headers = {"Authorization": f"Bearer {stack.token(listener.user)}"}
                inbox = await http.get("/v1/inbox", params={"limit": 1}, headers=headers)
                heads[listener.user] = inbox.json()["head"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            (x.positions or [x.start])[-1] < heads[x.user] for x in listeners
        ):
            await asyncio.sleep(0.5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(listener.client.close() for listener in listeners))

    gaps = duplicates = 0
    for listener in listeners:
        expected = list(range(listener.start + 1, heads[listener.user] + 1))
        duplicates += len(listener.event_ids) - len(set(listener.event_ids))
        gaps += len(set(expected) - set(listener.positions))
        assert listener.positions == expected, listener.user
        assert listener.recoveries[-1] == "RECOVERY_RECOVERED", listener.recoveries
        assert listener.client.url == stack.ws_urls[1]

    returns = [[t - killed_at for t in x.resumed_at if t > killed_at] for x in listeners]
    assert all(len(r) == 1 for r in returns), [len(r) for r in returns]  # one reconnect each
    back = [r[0] for r in returns]
    per_second = Counter(int(t) for t in back)
    busiest = max(per_second.values()) / LISTENERS
    summary = {
        "listeners": LISTENERS,
        "messages": MESSAGES,
        "deliveries": sum(len(listener.positions) for listener in listeners),
        "gaps": gaps,
        "duplicates": duplicates,
        "all_back_within_s": round(max(back), 2),
        "reconnects_per_second": dict(sorted(per_second.items())),
        "busiest_second_share": round(busiest, 3),
    }
    (ARTIFACTS / "gateway-sigkill-200-clients.storm.json").write_text(json.dumps(summary, indent=2))
    print(f"storm: {json.dumps(summary)}")
    assert max(back) < 30
    assert busiest <= MAX_SHARE_PER_SECOND, summary


async def test_same_client_message_id_gives_one_event_whatever_happens(
    stack: DistributedStack,
) -> None:
    workload = Workload(stack, users=2, rooms=1, members=2, messages=0)
    workload.setup()
    room = next(iter(workload.room_members))
    token = stack.token("user000")
    body = {"roomId": room, "clientMsgId": "the-one", "text": "exactly once"}

    async def send_over(url: str) -> str:
        client, _ = await WsClient.connect(url, token)
        try:
            reply = await client.request("send", body, timeout=30)
        finally:
            await client.close()
        event_id: str = reply["send"]["event"]["eventId"]
        return event_id

    # Concurrently over both gateways, and over REST.
    first = await asyncio.gather(*(send_over(stack.ws_urls[i % 2]) for i in range(10)))
    async with httpx.AsyncClient(timeout=30) as http:
        rest = await http.post(
            f"{stack.http_urls[1]}/v1/rooms/{room}/messages",
            json={"clientMsgId": "the-one", "text": "exactly once"},
            headers={"Authorization": f"Bearer {token}"},
        )
    # Across reconnects: new connections, each resending.
    again = [await send_over(stack.ws_urls[i % 2]) for i in range(4)]
    # After the gateway that first answered is killed and restarted.
    stack.kill_gateway(0)
    await asyncio.to_thread(stack.start_gateway, 0)
    after_restart = await send_over(stack.ws_urls[0])

    ids = {*first, rest.json()["event"]["eventId"], *again, after_restart}
    assert len(ids) == 1, ids
    report = await verify(stack, [Acked(ids.pop(), room, "the-one")], "duplicate-client-msg-id")
    assert_nothing_lost(report, 1)
    assert report["counts"]["log_messages"] == 1


FOLLOWERS = 100
BROADCASTS = 600


async def test_gateway_killed_under_fan_out_every_follower_resumes_exactly(
    stack: DistributedStack,
) -> None:
    """A channel's followers sit on gateway 0, its owner posts through gateway 1; gateway 0
    is SIGKILLed mid-broadcast. Every follower comes back through gateway 1 and, following
    the room stream from its saved position, ends with every room position exactly once."""
    owner = "caster"
    headers = {"Authorization": f"Bearer {stack.token(owner)}"}
    followers = [f"fan{i:03d}" for i in range(FOLLOWERS)]
    async with httpx.AsyncClient(base_url=stack.http_urls[1], headers=headers, timeout=30) as http:
        created = await http.post("/v1/rooms", json={"name": "live", "kind": "channel"})
        assert created.status_code == 201, created.text
        room = created.json()["roomId"]
        for user in followers:
            added = await http.post(f"/v1/rooms/{room}/members", json={"userId": user})
            assert added.status_code == 201, added.text

    clients = [Client(stack.ws_urls, stack.token(u), reconnect_spread=2.0) for u in followers]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.gather(*(c.follow(room) for c in clients))
    starts = {u: c.rooms[room][0] for u, c in zip(followers, clients, strict=True)}
    seen: dict[str, list[tuple[int, str]]] = {u: [] for u in followers}

    async def listen(user: str, client: Client) -> None:
        async for event in client:
            if isinstance(event, RoomEvent):
                seen[user].append((event.position, event.envelope["eventId"]))

    tasks = [asyncio.create_task(listen(u, c)) for u, c in zip(followers, clients, strict=True)]
    acked: list[Acked] = []

    async def broadcast() -> None:
        async with Client(stack.ws_urls[1], stack.token(owner)) as caster:
            for n in range(BROADCASTS):
                event = await caster.send(room, f"update {n}", client_msg_id=f"u-{n}", timeout=120)
                acked.append(Acked(event["eventId"], room, f"u-{n}"))

    load = asyncio.create_task(broadcast())
    try:
        deadline = time.monotonic() + 300
        while len(acked) < BROADCASTS * 0.3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stack.kill_gateway(0)
        await asyncio.wait_for(load, 300)
        report = await verify(stack, acked, "gateway-sigkill-room-stream")
        assert_nothing_lost(report, BROADCASTS)
        assert report["counts"]["room_stream_events"] >= BROADCASTS

        async with httpx.AsyncClient(base_url=stack.http_urls[1], timeout=30) as http:
            page = await http.get(f"/v1/rooms/{room}/stream", params={"limit": 1}, headers=headers)
            head = page.json()["head"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            (seen[u] or [(starts[u], "")])[-1][0] < head for u in followers
        ):
            await asyncio.sleep(0.5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(c.close() for c in clients))

    gaps = duplicates = 0
    for user in followers:
        positions = [p for p, _ in seen[user]]
        ids = [e for _, e in seen[user]]
        expected = list(range(starts[user] + 1, head + 1))
        duplicates += len(ids) - len(set(ids))
        gaps += len(set(expected) - set(positions))
        assert positions == expected, user
    for client in clients:
        assert client.url == stack.ws_urls[1]
    summary = {
        "followers": FOLLOWERS,
        "broadcasts": BROADCASTS,
        "gaps": gaps,
        "duplicates": duplicates,
    }
    (ARTIFACTS / "gateway-sigkill-room-stream.json").write_text(json.dumps(summary, indent=2))
    print(f"room stream: {json.dumps(summary)}")
