"""The operator tools on the event log: replay, verify, audit, export, analytics tap."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from domain import commands as c
from domain.values import EventMeta
from streams.log_sqlite import EmbeddedLog
from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Rest, eventually
from tests.e2e.server import DistributedStack, ServerProcess
from tests.e2e.server import run_cli as tidings
from tests.infra import ROOT, drop_keyspace, fresh_name

Server = ServerProcess | DistributedStack
PAYLOADS = {
    "roomCreated",
    "roomSettingsChanged",
    "memberJoined",
    "memberLeft",
    "memberRoleChanged",
    "messagePosted",
    "messageEdited",
    "messageDeleted",
    "acked",
    "presenceChanged",
    "eventEmitted",
}


async def conversation(server: Server) -> dict[str, Any]:
    """alice, bob and carol talk; returns what the audit should find."""
    alice_rest = Rest(server, "alice")
    room = alice_rest.create_room("audited")
    for user in ("bob", "carol"):
        alice_rest.post(f"/v1/rooms/{room}/members", {"userId": user})
    alice, _ = await WsClient.connect(server.ws_url, server.token("alice"))
    bob, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    carol, _ = await WsClient.connect(server.ws_url, server.token("carol"))
    sent = []
    for i in range(5):
        reply = await alice.request("send", {"roomId": room, "text": f"m{i}"})
        sent.append(reply["send"]["event"])
    ids = [e["eventId"] for e in sent]
    positions = [int(e["position"]) for e in sent]
    for i in range(2):  # durable application events: logged, replayed, audited
        body = {"roomId": room, "name": "board.mark", "payload": {"cell": i}}
        await bob.request("emit", {**body, "clientEventId": f"mark-{i}"})
    await bob.request("emit", {"roomId": room, "name": "cursor", "payload": 1, "volatile": True})
    await alice.request("edit", {"roomId": room, "messageId": ids[1], "text": "m1 edited"})
    deleted = await alice.request("delete", {"roomId": room, "messageId": ids[2]})
    await bob.request(
        "ack", {"roomId": room, "kind": "ACK_KIND_DELIVERED", "upTo": str(positions[3])}
    )
    await carol.request("ack", {"roomId": room, "kind": "ACK_KIND_READ", "upTo": str(positions[1])})
    left = await carol.request("leave", {"roomId": room})
    for client in (alice, bob, carol):
        await client.close()
    return {
        "room": room,
        "ids": ids,
        "positions": positions,
        "deleted_at": int(deleted["delete"]["event"]["position"]),
        "left": left,
    }


async def test_audit_answers_match_what_was_sent(fresh_server: ServerProcess) -> None:
    server = fresh_server.start()
    talk = await conversation(server)
    room, ids, positions = talk["room"], talk["ids"], talk["positions"]

    _, out = await tidings(server, "audit", "room", room, "--at-position", str(positions[2]))
    before = json.loads(out)
    assert [m["userId"] for m in before["members"]] == ["alice", "bob", "carol"]
    assert [m["text"] for m in before["messages"]] == ["m0", "m1", "m2"]

    _, out = await tidings(server, "audit", "room", room)
    now = json.loads(out)
    assert {m["userId"]: m["role"] for m in now["members"]} == {"alice": "owner", "bob": "member"}
    assert [m["text"] for m in now["messages"]] == ["m0", "m1 edited", "m3", "m4"]
    marks = [(e["name"], e["payload"], e["senderId"]) for e in now["events"]]
    assert marks == [("board.mark", {"cell": 0}, "bob"), ("board.mark", {"cell": 1}, "bob")]
    at_time = now["messages"][0]["postedAt"]
    _, out = await tidings(server, "audit", "room", room, "--at-time", at_time)
    assert [m["text"] for m in json.loads(out)["messages"]] == ["m0"]

    _, out = await tidings(server, "audit", "receipts", room, ids[1])
    receipts = {r["userId"]: r for r in json.loads(out)["recipients"]}
    assert receipts["bob"]["deliveredAt"] and receipts["bob"]["readAt"] is None
    assert receipts["carol"]["deliveredAt"] and receipts["carol"]["readAt"]
    _, out = await tidings(server, "audit", "receipts", room, ids[4])
    assert all(r["deliveredAt"] is None for r in json.loads(out)["recipients"])

    _, out = await tidings(server, "audit", "export", "--room", room)
    events = [json.loads(line) for line in out.splitlines()]
    assert [int(e["position"]) for e in events] == list(range(1, len(events) + 1))
    assert sum("messagePosted" in e for e in events) == 5
    names = [e["eventEmitted"]["name"] for e in events if "eventEmitted" in e]
    assert names == ["board.mark", "board.mark"]  # the volatile cursor is not in the log
    _, out = await tidings(server, "audit", "export", "--user", "carol")
    kinds = [next(k for k in e if k in PAYLOADS) for e in map(json.loads, out.splitlines())]
    assert "acked" in kinds and "memberLeft" in kinds and "messagePosted" not in kinds
    future = datetime.now(UTC).replace(year=2100).isoformat()
    _, out = await tidings(server, "audit", "export", "--all", "--since", future)
    assert out == ""


async def test_replay_verify_and_switch_to_the_rebuild(
    fresh_server: ServerProcess, tmp_path: Path
) -> None:
    server = fresh_server.start()
    talk = await conversation(server)
    bob, _ = await WsClient.connect(server.ws_url, server.token("bob"))
    position, epoch = bob.position, bob.epoch
    await bob.close()
    rebuilt = tmp_path / "rebuilt"
    kept, dropped = await keys_before_a_rebuild(server)
    await asyncio.sleep(1.5)  # the offline presence events, after the 0.5 s grace period

    code, out = await tidings(server, "replay", "--target-dir", str(rebuilt), "--quiet")
    assert code == 0 and "events/s" in out, out
    Rest(server, "alice").post(f"/v1/rooms/{talk['room']}/messages", {"text": "later"})
    code, out = await tidings(server, "replay", "--target-dir", str(rebuilt), "--quiet")
    assert out.startswith("replayed 1 of 1"), out  # resumed: only what is new
    code, out = await tidings(server, "verify", "--target-dir", str(rebuilt))
    assert code == 0 and json.loads(out)["ok"], out

    server.stop()
    for leftover in server.data_dir.glob("projections.sqlite*"):
        leftover.unlink()
    shutil.move(rebuilt / "projections.sqlite", server.data_dir / "projections.sqlite")
    server.restart()
    bob, reply = await WsClient.connect(
        server.ws_url, server.token("bob"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_EPOCH_CHANGED"
    await bob.close()
    texts = [
        m["text"]
        for m in Rest(server, "bob").get(f"/v1/rooms/{talk['room']}/messages").json()["messages"]
    ]
    assert texts == ["m0", "m1 edited", "", "m3", "m4", "later"]  # "" : the deleted one
    await keys_survived(server, kept, dropped)


async def test_export_of_a_large_history_runs_in_bounded_memory(tmp_path: Path) -> None:
    """Exports of 3,000 and 30,000 events peak at about the same resident memory."""
    peaks = {}
    for events in (3_000, 30_000):
        data = tmp_path / f"log-{events}"
        data.mkdir()
        log = EmbeddedLog(data / "log.sqlite")
        alice = EventMeta("alice")
        room_uuid = uuid.uuid4()
        await log.execute(c.CreateRoom(alice, room_uuid, "big"))
        room_id = str(room_uuid)
        for start in range(0, events, 500):
            await asyncio.gather(
                *(
                    log.execute(c.PostMessage(alice, room_uuid, f"c{i}", f"{i} " + "x" * 200))
                    for i in range(start, start + 500)
                )
            )
        log.close()
        server = ServerProcess(data)
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "api.cli",
            "audit",
            "export",
            "--room",
            room_id,
            env={**os.environ, **server.cli_env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        peak, lines = 0.0, 0
        watched = psutil.Process(process.pid)
        assert process.stdout is not None
        async for _ in process.stdout:
            lines += 1
            if lines % 500 == 0:
                peak = max(peak, watched.memory_info().rss / 2**20)
        await process.wait()
        assert lines == events + 2  # + RoomCreated and the owner's MemberJoined
        peaks[events] = (round(peak, 1), round(lines / (time.monotonic() - started)))
    print(f"export peak RSS MiB and events/s by history size: {peaks}")
    assert peaks[30_000][0] < peaks[3_000][0] + 15


async def test_distributed_replay_audit_analytics_and_switch(tmp_path: Path) -> None:
    stack = DistributedStack(tmp_path, FAST).start()
    rebuilt = fresh_name("rebuilt")
    try:
        talk = await conversation(stack)
        room, sent_per_room = talk["room"], {talk["room"]: 5}
        dave = Rest(stack, "dave")
        other = dave.create_room("other")
        for i in range(7):
            assert dave.post(f"/v1/rooms/{other}/messages", {"text": f"d{i}"}).status_code == 201
        sent_per_room[other] = 7
        bob, _ = await WsClient.connect(stack.ws_url, stack.token("bob"))
        position, epoch = bob.position, bob.epoch
        await bob.close()
        kept, dropped = await keys_before_a_rebuild(stack)

        # The analytics example in its own consumer group, decoding with the descriptor set.
        topic = f"{stack.env['TIDINGS_TOPIC_PREFIX']}.events"
        analytics = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "clients" / "analytics" / "analytics.py"),
            "--bootstrap",
            stack.env["TIDINGS_KAFKA_BOOTSTRAP"],
            "--topic",
            topic,
            "--group",
            fresh_name("analytics"),
            "--until-end",
            stdout=asyncio.subprocess.PIPE,
        )
        report, _ = await asyncio.wait_for(analytics.communicate(), 120)
        counts = json.loads(report)
        per_room = {r: sum(m.values()) for r, m in counts["messagesPerRoomPerMinute"].items()}
        assert {r: per_room.get(r, 0) for r in sent_per_room} == sent_per_room
        active = set().union(*[{n} for n in counts["activeUsersPerHour"].values()])
        assert max(active) >= 4  # alice, bob, carol, dave acted within the hour
        assert counts["applicationEventsByName"] == {"board.mark": 2}

        _, out = await tidings(stack, "audit", "export", "--room", room)
        assert sum("messagePosted" in json.loads(line) for line in out.splitlines()) == 5
        _, out = await tidings(stack, "audit", "receipts", room, talk["ids"][1])
        assert {r["userId"] for r in json.loads(out)["recipients"] if r["readAt"]} == {"carol"}

        code, out = await tidings(stack, "replay", "--keyspace", rebuilt, "--quiet")
        assert code == 0, out
        print(out.strip())
        code, out = await tidings(stack, "verify", "--keyspace", rebuilt, "--wait", "60")
        assert code == 0 and json.loads(out)["ok"], out

        # Switch: stop the writers of projections, finish the replay, point everyone at it.
        for process in [stack.processor, *stack.gateways]:
            process.stop()
        code, out = await tidings(stack, "replay", "--keyspace", rebuilt, "--quiet")
        assert code == 0, out
        old_keyspace = stack.env["TIDINGS_CASSANDRA_KEYSPACE"]
        stack.env["TIDINGS_CASSANDRA_KEYSPACE"] = rebuilt
        stack.processor.start()
        for index in range(len(stack.gateways)):
            await asyncio.to_thread(stack.start_gateway, index)
        await asyncio.to_thread(drop_keyspace, old_keyspace)

        bob, reply = await WsClient.connect(
            stack.ws_url, stack.token("bob"), position=position, epoch=epoch
        )
        assert reply["connect"]["recovery"] == "RECOVERY_EPOCH_CHANGED"
        alice, _ = await WsClient.connect(stack.ws_urls[1], stack.token("alice"))
        await alice.request("send", {"roomId": room, "text": "after the switch"}, timeout=30)
        pushed = await bob.next_message("alice", timeout=30)
        assert pushed["event"]["messagePosted"]["text"] == "after the switch"
        await alice.close()
        await bob.close()
        # Not recovered, but nothing lost: REST paging gives the whole history.
        texts: list[str] = []
        paging: dict[str, int] = {"limit": 3}
        while True:
            page = dave.get(f"/v1/rooms/{other}/messages", **paging).json()
            texts = [m["text"] for m in page["messages"]] + texts
            if not page["hasMore"]:
                break
            paging["before"] = page["messages"][0]["position"]
        assert texts == [f"d{i}" for i in range(7)]
        code, out = await tidings(stack, "verify", "--wait", "60")
        assert code == 0 and json.loads(out)["ok"], out
        await keys_survived(stack, kept, dropped)
    finally:
        await asyncio.to_thread(stack.stop)  # drops the switched-to keyspace


async def keys_before_a_rebuild(server: ServerProcess | DistributedStack) -> tuple[str, str]:
    """Two API keys, the second revoked: both facts are in the log only."""
    keys = []
    for name in ("kept", "dropped"):
        code, key = await tidings(server, "apikey", "create", "--name", name, "--scope", "read")
        assert code == 0
        keys.append(key.strip())
    code, _ = await tidings(server, "apikey", "revoke", keys[1].split("_")[1])
    assert code == 0
    return keys[0], keys[1]


async def keys_survived(server: ServerProcess | DistributedStack, kept: str, dropped: str) -> None:
    """After a rebuild the kept key works and the revoked one does not."""

    def status(key: str) -> int:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.get(f"{server.http_url}/api/v1/rooms", headers=headers).status_code

    await eventually(lambda: status(kept) == 200, timeout=30)
    assert status(dropped) == 401


async def test_decode_prints_the_embedded_log_as_json_lines(
    fresh_server: ServerProcess,
) -> None:
    server = fresh_server.start()
    talk = await conversation(server)
    code, out = await tidings(server, "decode")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["offset"] for line in lines] == list(range(1, len(lines) + 1))
    posted = [e["event"]["eventId"] for e in lines if "messagePosted" in e["event"]]
    assert posted == talk["ids"]
    code, out = await tidings(server, "decode", "--limit", "2")
    assert len(out.splitlines()) == 2
