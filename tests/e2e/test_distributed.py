"""What only distributed mode has: several gateways, a separate processor, Kafka topics."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Rest, eventually
from tests.e2e.server import DistributedStack
from tests.infra import KAFKA

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedStack]:
    cluster = DistributedStack(tmp_path_factory.mktemp("distributed"), FAST).start()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def whole_stack(stack: DistributedStack) -> Iterator[None]:
    """Tests here kill gateways and the processor; the next one finds them running again."""
    yield
    stack.heal()


async def test_a_killed_gateways_clients_resume_exactly_on_another(
    stack: DistributedStack,
) -> None:
    room_id = Rest(stack, "alice").create_room()
    Rest(stack, "alice").post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    bob, _ = await WsClient.connect(stack.ws_urls[0], stack.token("bob"))
    alice, _ = await WsClient.connect(stack.ws_urls[1], stack.token("alice"))
    await alice.request("send", {"roomId": room_id, "text": "before"})
    await bob.next_message("alice")
    position, epoch = bob.position, bob.epoch

    stack.kill_gateway(0)
    await bob.closed(timeout=10)
    sent = []
    for i in range(5):
        reply = await alice.request("send", {"roomId": room_id, "text": f"while down {i}"})
        sent.append(reply["send"]["event"]["eventId"])

    bob, reply = await WsClient.connect(
        stack.ws_urls[1], stack.token("bob"), position=position, epoch=epoch
    )
    assert reply["connect"]["recovery"] == "RECOVERY_RECOVERED"
    got = [await bob.next_message("alice") for _ in range(5)]
    assert [p["event"]["eventId"] for p in got] == sent
    assert [int(p["position"]) for p in got] == list(range(position + 1, position + 6))
    live = await alice.request("send", {"roomId": room_id, "text": "live"})
    assert (await bob.next_message("alice"))["event"]["eventId"] == live["send"]["event"]["eventId"]
    await alice.request("send", {"roomId": room_id, "text": "sentinel"})
    assert await bob.events_before("sentinel") == []  # nothing twice
    await alice.close()
    await bob.close()
    stack.start_gateway(0)


async def test_a_killed_gateways_devices_go_offline_unless_they_reconnected(
    stack: DistributedStack,
) -> None:
    dora = Rest(stack, "dora", gateway=1)
    room_id = dora.create_room()
    for user in ("erin", "finn"):
        dora.post(f"/v1/rooms/{room_id}/members", {"userId": user})
    erin, _ = await WsClient.connect(stack.ws_urls[0], stack.token("erin"), device_id="erin-1")
    finn, _ = await WsClient.connect(stack.ws_urls[0], stack.token("finn"), device_id="finn-1")

    def online() -> dict[str, bool]:
        rows = dora.get(f"/v1/rooms/{room_id}/presence").json()
        return {row["userId"]: row["online"] for row in rows}

    await eventually(lambda: online().get("erin") and online().get("finn"), 20)
    stack.kill_gateway(0)  # no goodbye: nobody on gateway 0 can log them offline
    finn, _ = await WsClient.connect(stack.ws_urls[1], stack.token("finn"), device_id="finn-1")
    await eventually(lambda: online().get("erin") is False, 30)  # a lease (3 s) + a reap
    await asyncio.sleep(4)  # more rounds: a device that came back elsewhere stays online
    assert online()["finn"] is True
    await finn.close()
    await erin.close()
    stack.start_gateway(0)


async def test_a_killed_processor_loses_nothing_acknowledged(stack: DistributedStack) -> None:
    rest = Rest(stack, "carol", gateway=1)
    room_id = rest.create_room()
    carol, _ = await WsClient.connect(stack.ws_urls[1], stack.token("carol"))
    acknowledged = []
    for i in range(20):
        reply = await carol.request(
            "send", {"roomId": room_id, "clientMsgId": f"c{i}", "text": f"c{i}"}
        )
        acknowledged.append(reply["send"]["event"]["eventId"])
    stack.processor.kill()
    stack.processor.start()
    # A resend of an acknowledged message after the restart is recognised (retrying while
    # the new processor takes over answers UNAVAILABLE, temporary: true)...
    again = await send_retrying(carol, {"roomId": room_id, "clientMsgId": "c19", "text": "c19"})
    assert again["send"]["duplicate"] is True
    assert again["send"]["event"]["eventId"] == acknowledged[-1]
    after = await send_retrying(carol, {"roomId": room_id, "clientMsgId": "after", "text": "after"})
    acknowledged.append(after["send"]["event"]["eventId"])
    # ...and every acknowledged message is in the timeline exactly once, in order.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        timeline = rest.get(f"/v1/rooms/{room_id}/messages", limit=100).json()["messages"]
        if len(timeline) >= len(acknowledged) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [m["messageId"] for m in timeline] == acknowledged
    await carol.close()


async def send_retrying(
    client: WsClient, body: dict[str, Any], within: float = 90
) -> dict[str, Any]:
    """What a client does: resend (same clientMsgId) while the error is temporary."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        reply = await client.request("send", body, timeout=30)
        if "error" not in reply or not reply["error"].get("temporary"):
            return reply
        assert asyncio.get_running_loop().time() < deadline, reply
        await asyncio.sleep(0.5)


async def test_events_are_readable_without_tidings_code(stack: DistributedStack) -> None:
    rest = Rest(stack, "dave")
    room_id = rest.create_room("readable")
    rest.post(f"/v1/rooms/{room_id}/messages", {"text": "decode me"})
    env = {**os.environ, **stack.cli_env}
    decoded = subprocess.run(
        [sys.executable, "-m", "api.cli", "decode"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    lines = [json.loads(line) for line in decoded.splitlines()]
    texts = [e["event"].get("messagePosted", {}).get("text") for e in lines]
    assert "decode me" in texts

    # A plain Kafka client and protoc with the schema in proto/ decode the same bytes.
    topic = f"{stack.env['TIDINGS_TOPIC_PREFIX']}.events"
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, isolation_level="read_committed")
    await consumer.start()
    try:
        values: list[bytes] = []
        for partition in sorted(consumer.partitions_for_topic(topic) or {0, 1}):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            batch = await consumer.getmany(tp, timeout_ms=2000)
            values.extend(r.value for r in batch.get(tp, []))
    finally:
        await consumer.stop()
    raw = next(v for v in values if b"decode me" in v)
    protoc = str(Path(sys.executable).with_name("protoc"))
    text = subprocess.run(
        [protoc, "--decode", "tidings.v1.Envelope", "-I", ".", "proto/tidings/v1/events.proto"],
        input=raw,
        capture_output=True,
        cwd=ROOT,
        timeout=30,
        check=True,
    ).stdout.decode()
    assert 'text: "decode me"' in text and f'room_id: "{room_id}"' in text


async def test_events_of_an_aborted_transaction_are_never_projected(
    stack: DistributedStack,
) -> None:
    """The command processor writes events in transactions; one that aborts (a processor
    killed mid-batch, a wedged transaction abandoned) left records in the events topic that
    are not part of the log. The projectors read committed records only."""
    from aiokafka import AIOKafkaProducer

    from domain.room import Room
    from domain.values import EventMeta, room_stream
    from proto.codec import encode_event
    from streams.topics import Topics

    alice = Rest(stack, "alice")
    room_id = alice.create_room()
    ghost = Room.create_group(__import__("uuid").UUID(room_id), EventMeta("alice"), "x", True)
    ghost.post_message(EventMeta("alice"), "ghost", "never committed")
    envelope = encode_event(ghost.collect_events()[-1], "e")  # type: ignore[arg-type]
    envelope.position = 1000  # far ahead of the room's real stream: visible if projected
    topics = Topics(stack.env["TIDINGS_TOPIC_PREFIX"], int(stack.env["TIDINGS_PARTITIONS"]))
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, transactional_id=f"ghost-{room_id}")
    await producer.start()
    try:
        await producer.begin_transaction()
        key = room_stream(room_id).encode()
        await producer.send_and_wait(topics.events, envelope.SerializeToString(), key=key)
        await producer.abort_transaction()
    finally:
        await producer.stop()
    real = alice.post(f"/v1/rooms/{room_id}/messages", {"text": "committed", "clientMsgId": "r"})
    assert real.status_code == 201, real.text

    def timeline() -> list[str]:
        response = alice.get(f"/v1/rooms/{room_id}/messages", limit=50)
        return [m["text"] for m in response.json()["messages"]]

    assert await eventually(lambda: "committed" in timeline())
    assert "never committed" not in timeline()
    assert alice.get(f"/v1/rooms/{room_id}").json()["head"] < 1000
