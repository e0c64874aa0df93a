"""Resume is exact or explicit; a SIGKILLed server keeps every acknowledged message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.e2e.client import WsClient
from tests.e2e.conftest import Rest, Server, eventually
from tests.e2e.server import ServerProcess


async def test_reconnect_gets_exactly_the_missed_events_then_live(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room()
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    bob, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    await bob.request("join", {"roomId": room_id})
    await alice.request("send", {"roomId": room_id, "text": "before"})
    # bob comes back through the other gateway (the same one in embedded mode)
    await bob.next_message("alice")
    position, epoch = bob.position, bob.epoch
    await bob.close()

    missed = []
    for i in range(3):
        reply = await alice.request("send", {"roomId": room_id, "text": f"missed {i}"})
        missed.append(reply["send"]["event"]["eventId"])

    # Sends are acknowledged once logged; wait until bob's inbox holds them, so that the
    # reply must count exactly the three (and not leave them to live pushes).
    await eventually(lambda: rest("bob").get("/v1/inbox", limit=1).json()["head"] >= position + 3)
    bob, reply = await WsClient.connect(
        server.ws_urls[1], server.token("bob"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_RECOVERED"
    assert int(reply["connect"].get("missed", 0)) == 3
    recovered = [await bob.next_event() for _ in range(3)]
    assert [p["event"]["eventId"] for p in recovered] == missed
    assert [int(p["position"]) for p in recovered] == [position + 1, position + 2, position + 3]

    live = await alice.request("send", {"roomId": room_id, "text": "live"})
    nxt = await bob.next_event()
    assert nxt["event"]["eventId"] == live["send"]["event"]["eventId"]
    assert int(nxt["position"]) == position + 4
    await alice.request("send", {"roomId": room_id, "text": "sentinel"})
    assert await bob.events_before("sentinel") == []  # nothing twice
    await alice.close()
    await bob.close()


async def test_resume_while_messages_keep_arriving_has_no_gap_or_duplicate(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room()
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    bob, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    position, epoch = bob.position, bob.epoch
    await bob.close()

    started = asyncio.Event()

    async def keep_sending() -> None:
        for i in range(40):
            await alice.request("send", {"roomId": room_id, "text": f"m{i}"})
            started.set()

    sender = asyncio.create_task(keep_sending())
    await started.wait()  # bob resumes while the messages keep arriving
    bob, reply = await WsClient.connect(
        server.ws_url, server.token("bob"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_RECOVERED"
    await sender
    texts: list[str] = []
    while len(texts) < 40:
        push = await bob.next_message("alice")
        texts.append(push["event"]["messagePosted"]["text"])
    assert texts == [f"m{i}" for i in range(40)]
    await alice.request("send", {"roomId": room_id, "text": "sentinel"})
    assert await bob.events_before("sentinel") == []
    await alice.close()
    await bob.close()


async def test_explicit_not_recovered_answers(server: Server, rest: Callable[..., Rest]) -> None:
    room_id = rest("alice").create_room()
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "gina"})
    gina, _ = await WsClient.connect(server.ws_url, server.token("gina"))
    position, epoch = gina.position, gina.epoch
    await gina.close()

    future, reply = await WsClient.connect(
        server.ws_url, server.token("gina"), position=position + 100, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_FUTURE_POSITION"
    await future.close()
    other, reply = await WsClient.connect(
        server.ws_url, server.token("gina"), position=position, epoch="another-epoch"
    )
    assert reply["connect"]["recovery"] == "RECOVERY_EPOCH_CHANGED"
    await other.close()

    # Beyond the catch-up limit (50 in these tests): not recovered, page the rest over REST.
    alice = rest("alice")
    for i in range(60):
        alice.post(f"/v1/rooms/{room_id}/messages", {"text": f"bulk {i}"})
    await eventually(lambda: rest("gina").get("/v1/inbox", limit=1).json()["head"] >= position + 60)
    behind, reply = await WsClient.connect(
        server.ws_url, server.token("gina"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_TOO_FAR_BEHIND"
    head = int(reply["connect"]["inbox"]["position"])

    paged, after = [], position
    while after < head:
        page = rest("gina").get("/v1/inbox", after=after, limit=25).json()
        assert page["epoch"] == epoch
        paged.extend(page["events"])
        after = page["events"][-1]["position"]
    assert [e["position"] for e in paged] == list(range(position + 1, head + 1))
    texts = [e["event"]["messagePosted"]["text"] for e in paged if "messagePosted" in e["event"]]
    assert texts == [f"bulk {i}" for i in range(60)]

    alice.post(f"/v1/rooms/{room_id}/messages", {"text": "now live"})
    # No partial recovery passed off as complete: the first push is the new message.
    assert await behind.events_before("now live") == []
    assert behind.position == head + 1
    await behind.close()


async def test_sigkill_keeps_every_acknowledged_message_and_position(
    fresh_server: ServerProcess,
) -> None:
    server = fresh_server.start()
    rest_alice = Rest(server, "alice")
    room_id = rest_alice.create_room()
    rest_alice.post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    bob, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    position, epoch = bob.position, bob.epoch
    await bob.close()

    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    acknowledged = []
    for i in range(30):
        body = {"roomId": room_id, "clientMsgId": f"k{i}", "text": f"k{i}"}
        reply = await alice.request("send", body)
        acknowledged.append(reply["send"]["event"]["eventId"])
    server.kill()
    await alice.close()

    server.restart()
    rest_alice = Rest(server, "alice")
    timeline = rest_alice.get(f"/v1/rooms/{room_id}/messages", limit=100).json()["messages"]
    assert [m["messageId"] for m in timeline] == acknowledged

    bob, reply = await WsClient.connect(
        server.ws_url, server.token("bob"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_RECOVERED"
    recovered = [await bob.next_message("alice") for _ in range(30)]
    assert [p["event"]["eventId"] for p in recovered] == acknowledged

    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    resent = await alice.request("send", {"roomId": room_id, "clientMsgId": "k29", "text": "k29"})
    assert resent["send"]["duplicate"] is True
    assert resent["send"]["event"]["eventId"] == acknowledged[-1]
    after = await alice.request("send", {"roomId": room_id, "text": "after restart"})
    last_position = int(timeline[-1]["position"])
    assert int(after["send"]["event"]["position"]) == last_position + 1
    await alice.close()
    await bob.close()


async def test_rebuilt_projections_change_the_epoch_and_keep_all_history(
    fresh_server: ServerProcess,
) -> None:
    server = fresh_server.start()
    alice = Rest(server, "alice")
    room_id = alice.create_room()
    for i in range(5):
        alice.post(f"/v1/rooms/{room_id}/messages", {"text": f"m{i}"})
    client, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    position, epoch = client.position, client.epoch
    await client.close()
    server.stop()
    for leftover in server.data_dir.glob("projections.sqlite*"):
        leftover.unlink()  # disposable: rebuilt from the log on start
    server.restart()
    alice = Rest(server, "alice")
    texts = [m["text"] for m in alice.get(f"/v1/rooms/{room_id}/messages").json()["messages"]]
    assert texts == [f"m{i}" for i in range(5)]
    client, reply = await WsClient.connect(
        server.ws_url, server.token("alice"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_EPOCH_CHANGED"
    assert reply["connect"]["inbox"]["epoch"] != epoch
    await client.close()
