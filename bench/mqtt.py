"""MQTT beside WebSocket on one embedded server, in one run: publish-to-deliver latency
(one message in flight, until every other member of a 10-member room has it) and the
messages per second the gateway sustains when every member publishes (QoS 1, a few in
flight each), delivered to every other member.

Both transports run the same workload against the same server; the MQTT clients are
asyncio clients on the ``mqtt5`` codec, the WebSocket ones tests/e2e/client.py's.
Bounded: ``--rounds`` light rounds and ``--messages`` under load, two minutes each at most.

Usage: python bench/mqtt.py [--rounds 20] [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import mqtt5

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.client import WsClient  # noqa: E402
from tests.e2e.conftest import Rest  # noqa: E402
from tests.e2e.mqtt_clients import split_packet  # noqa: E402
from tests.e2e.server import ServerProcess  # noqa: E402

MEMBERS = 10
IN_FLIGHT = 4
LIMIT_SECONDS = 120


class Member(Protocol):
    texts: asyncio.Queue[tuple[str, float]]

    async def send(self, room_id: str, text: str) -> None: ...

    async def close(self) -> None: ...


class MqttMember:
    """A QoS 1 device: publishes and waits for the PUBACK; queues the texts it receives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.texts: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._ids = itertools.count(1)
        self._buffer = b""
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, port: int, token: str, client_id: str, room_id: str) -> MqttMember:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        member = cls(reader, writer)
        writer.write(mqtt5.ConnectPacket(client_id, password=token.encode()).write())
        assert isinstance(await member._packet(), mqtt5.ConnAckPacket)
        filters = [mqtt5.TopicFilter(f"rooms/{room_id}", max_qos=mqtt5.QoS.AT_LEAST_ONCE)]
        writer.write(mqtt5.SubscribePacket(1, filters).write())
        assert isinstance(await member._packet(), mqtt5.SubAckPacket)
        member._task = asyncio.create_task(member._read())
        return member

    async def _packet(self) -> mqtt5.Packet:
        while True:
            packet, self._buffer = split_packet(self._buffer)
            if packet is not None:
                return packet
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("closed")
            self._buffer += data

    async def _read(self) -> None:
        while True:
            packet = await self._packet()
            if isinstance(packet, mqtt5.PublishPacket):
                if packet.qos:
                    self.writer.write(mqtt5.PubAckPacket(packet.packet_id or 0).write())
                event = json.loads(packet.payload)["event"]
                if "messagePosted" in event:
                    self.texts.put_nowait((event["messagePosted"]["text"], time.perf_counter()))
            elif isinstance(packet, mqtt5.PubAckPacket):
                self._acks.pop(packet.packet_id).set_result(None)

    async def send(self, room_id: str, text: str) -> None:
        packet_id = next(self._ids) % 65535 + 1
        done = self._acks[packet_id] = asyncio.get_running_loop().create_future()
        packet = mqtt5.PublishPacket(
            f"rooms/{room_id}", text.encode(), qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id
        )
        self.writer.write(packet.write())
        await done

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.writer.close()


class WsMember:
    def __init__(self, client: WsClient) -> None:
        self.client = client
        self.texts: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            push = await self.client.next_event(timeout=3600)
            posted = push["event"].get("messagePosted")
            if posted:
                self.texts.put_nowait((posted["text"], time.perf_counter()))

    async def send(self, room_id: str, text: str) -> None:
        await self.client.request("send", {"roomId": room_id, "text": text}, timeout=60)

    async def close(self) -> None:
        self._task.cancel()
        await self.client.close()


async def members(server: ServerProcess, transport: str) -> tuple[str, list[Member]]:
    owner = Rest(server, f"{transport}0")
    room_id = owner.create_room(transport)
    for i in range(1, MEMBERS):
        owner.post(f"/v1/rooms/{room_id}/members", {"userId": f"{transport}{i}"})
    result: list[Member] = []
    for i in range(MEMBERS):
        token = server.token(f"{transport}{i}")
        if transport == "mqtt":
            result.append(await MqttMember.open(server.mqtt_ports[0], token, f"b{i}", room_id))
        else:
            result.append(WsMember((await WsClient.connect(server.ws_url, token))[0]))
    return room_id, result


async def received_by_all(others: list[Member], text: str) -> float:
    """When the last of ``others`` got ``text``."""
    last = 0.0
    for member in others:
        while True:
            got, at = await asyncio.wait_for(member.texts.get(), 60)
            if got == text:
                last = max(last, at)
                break
    return last


async def light(room_id: str, group: list[Member], rounds: int) -> tuple[float, float]:
    """p50 and p99 ms from a publish until every other member has it."""
    latencies = []
    deadline = time.monotonic() + LIMIT_SECONDS
    for r, sender in itertools.product(range(rounds), group):
        if time.monotonic() > deadline:
            break
        text = f"light {r} {id(sender)}"
        started = time.perf_counter()
        await sender.send(room_id, text)
        done = await received_by_all([m for m in group if m is not sender], text)
        latencies.append((done - started) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[max(int(len(latencies) * 0.99) - 1, 0)]


async def heavy(room_id: str, group: list[Member], messages: int) -> tuple[float, float]:
    """Messages per second sent, and deliveries per second, with everyone publishing."""
    for member in group:  # what the light phase left
        while not member.texts.empty():
            member.texts.get_nowait()
    each = messages // len(group)
    deadline = time.monotonic() + LIMIT_SECONDS

    async def publisher(index: int, member: Member) -> None:
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one(n: int) -> None:
            try:
                await member.send(room_id, f"heavy {index} {n}")
            finally:
                slots.release()

        sends = []
        for n in range(each):
            if time.monotonic() > deadline:
                break
            await slots.acquire()
            sends.append(asyncio.create_task(one(n)))
        await asyncio.gather(*sends)

    expected = each * len(group) * (len(group) - 1)

    async def deliveries() -> int:
        count = 0
        while count < expected and time.monotonic() < deadline:
            queues = [m.texts for m in group]
            for q in queues:
                while not q.empty():
                    q.get_nowait()
                    count += 1
            await asyncio.sleep(0.01)
        return count

    started = time.perf_counter()
    counting = asyncio.create_task(deliveries())
    await asyncio.gather(*(publisher(i, m) for i, m in enumerate(group)))
    sent_seconds = time.perf_counter() - started
    delivered = await counting
    return each * len(group) / sent_seconds, delivered / (time.perf_counter() - started)


async def main(rounds: int, messages: int, transports: list[str]) -> None:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data").start()  # rate limits off
        try:
            for transport in transports:
                room_id, group = await members(server, transport)
                p50, p99 = await light(room_id, group, rounds)
                sent, delivered = await heavy(room_id, group, messages)
                rows.append(
                    {"transport": transport, "p50": p50, "p99": p99, "in": sent, "out": delivered}
                )
                for member in group:
                    await member.close()
        finally:
            server.stop()
    print(
        f"one embedded server, a room of {MEMBERS}; light: one message in flight; "
        f"load: every member publishing, {IN_FLIGHT} in flight each ({messages} messages)"
    )
    print(f"{'transport':<10} {'p50 ms':>8} {'p99 ms':>8} {'msgs in/s':>10} {'deliveries/s':>13}")
    for r in rows:
        print(
            f"{r['transport']:<10} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['in']:>10.0f} "
            f"{r['out']:>13.0f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--only", choices=["websocket", "mqtt"], help="one transport (profiling)")
    args = parser.parse_args()
    asyncio.run(
        main(args.rounds, args.messages, [args.only] if args.only else ["websocket", "mqtt"])
    )
