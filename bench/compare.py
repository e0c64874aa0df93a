"""Embedded vs distributed, side by side, through the real stack.

N WebSocket clients in M rooms (clients spread evenly; half on each gateway in distributed
mode). Every client sends K messages, one in flight at a time, all clients at once. Prints
delivered messages/s (one delivery = one message reaching one other member), send-to-deliver
latency p50/p99, and CPU seconds per 1,000 sent messages summed over every process of the
system (Tidings processes, plus the Kafka and Cassandra JVMs in distributed mode).
Bounded: K messages per client and a 300 s deadline.

Usage: python bench/compare.py [--clients 20] [--rooms 4] [--messages 25]
Needs Kafka and Cassandra running (make infra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.client import WsClient  # noqa: E402
from tests.e2e.conftest import Rest  # noqa: E402
from tests.e2e.server import DistributedStack, ServerProcess  # noqa: E402

DEADLINE = 300.0


def infra_pids() -> list[int]:
    run = Path(os.environ.get("TIDINGS_INFRA_DIR", Path.home() / ".cache/tidings/run"))
    pids = []
    for name in ("kafka/kafka.pid", "cassandra/cassandra.pid"):
        path = run / name
        if path.exists():
            pids.append(int(path.read_text().strip()))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


async def run_workload(
    stack: ServerProcess | DistributedStack, pids: list[int], clients: int, rooms: int, k: int
) -> dict[str, float]:
    owner = Rest(stack, "owner")
    room_ids = [owner.create_room(f"bench-{r}") for r in range(rooms)]
    members: dict[str, list[int]] = {room: [] for room in room_ids}
    for i in range(clients):
        room = room_ids[i % rooms]
        owner.post(f"/v1/rooms/{room}/members", {"userId": f"u{i}"})
        members[room].append(i)
    conns = []
    for i in range(clients):
        url = stack.ws_urls[i % len(stack.ws_urls)]
        conns.append((await WsClient.connect(url, stack.token(f"u{i}")))[0])
    await asyncio.sleep(1.0)
    for conn in conns:
        conn.drain_events()

    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    expected = sum(k * len(m) * (len(m) - 1) for m in members.values())

    async def sender(i: int) -> None:
        room = room_ids[i % rooms]
        for n in range(k):
            text = f"{i}:{n}"
            sent_at[text] = time.perf_counter()
            await conns[i].request("send", {"roomId": room, "text": text}, timeout=60)

    async def receiver(i: int, want: int) -> None:
        got = 0
        while got < want:
            push = await conns[i].next_event(timeout=60)
            posted = push["event"].get("messagePosted")
            if posted and push["event"]["actor"]["userId"] != f"u{i}":
                latencies.append(time.perf_counter() - sent_at[posted["text"]])
                got += 1

    wants = [k * (len(members[room_ids[i % rooms]]) - 1) for i in range(clients)]
    cpu_before = cpu_seconds(pids)
    start = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(
            *(sender(i) for i in range(clients)),
            *(receiver(i, wants[i]) for i in range(clients)),
        ),
        DEADLINE,
    )
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pids) - cpu_before
    for conn in conns:
        await conn.close()
    latencies.sort()
    sent = clients * k
    return {
        "sent": sent,
        "delivered": len(latencies),
        "expected": expected,
        "seconds": elapsed,
        "delivered_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
        "cpu_s_per_1k": cpu / sent * 1000,
    }


async def one_at_a_time_latency(
    stack: ServerProcess | DistributedStack, clients: int, rounds: int
) -> tuple[float, float, int]:
    """Light load: one message in flight in the whole system; latency until every other
    member has it. Returns p50 ms, p99 ms and the number of deliveries."""
    owner = Rest(stack, "light0")
    room_id = owner.create_room("light")
    for i in range(1, clients):
        owner.post(f"/v1/rooms/{room_id}/members", {"userId": f"light{i}"})
    conns = [
        (await WsClient.connect(stack.ws_urls[i % len(stack.ws_urls)], stack.token(f"light{i}")))[0]
        for i in range(clients)
    ]
    await asyncio.sleep(1.0)
    latencies: list[float] = []
    deadline = time.monotonic() + 120
    for r in range(rounds):
        for index, sender in enumerate(conns):
            if time.monotonic() > deadline:
                break
            text = f"{r}-{index}"
            sent_at = time.perf_counter()
            await sender.request("send", {"roomId": room_id, "text": text}, timeout=60)
            for receiver in conns:
                if receiver is sender:
                    continue
                while True:
                    push = await receiver.next_message(timeout=60)
                    if push["event"]["messagePosted"]["text"] == text:
                        latencies.append(time.perf_counter() - sent_at)
                        break
    for conn in conns:
        await conn.close()
    latencies.sort()
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)]
    return statistics.median(latencies) * 1000, p99 * 1000, len(latencies)


def tidings_pids(stack: ServerProcess | DistributedStack) -> list[int]:
    if isinstance(stack, ServerProcess):
        assert stack.process is not None and stack.process.popen is not None
        return [stack.process.popen.pid]
    processes = [stack.processor, *stack.gateways]
    return [p.popen.pid for p in processes if p.popen is not None]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--messages", type=int, default=25)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.python_version()}")
    print(f"workload: {args.clients} clients, {args.rooms} rooms, {args.messages} messages each")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        light = {}
        embedded = ServerProcess(Path(tmp) / "embedded").start()
        try:
            results["embedded"] = await run_workload(
                embedded, tidings_pids(embedded), args.clients, args.rooms, args.messages
            )
            light["embedded"] = await one_at_a_time_latency(embedded, 10, 3)
        finally:
            await asyncio.to_thread(embedded.stop)
        distributed = DistributedStack(Path(tmp) / "distributed").start()
        try:
            pids = tidings_pids(distributed) + infra_pids()
            name = "distributed (1 processor, 2 gateways)"
            results[name] = await run_workload(
                distributed, pids, args.clients, args.rooms, args.messages
            )
            light[name] = await one_at_a_time_latency(distributed, 10, 3)
        finally:
            await asyncio.to_thread(distributed.stop)
    print(f"{'mode':40} {'delivered/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'CPU s/1k msgs':>14}")
    for mode, r in results.items():
        print(
            f"{mode:40} {r['delivered_per_s']:12.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['cpu_s_per_1k']:14.2f}   ({r['delivered']:.0f}/{r['expected']:.0f} deliveries, "
            f"{r['seconds']:.1f} s)"
        )
    print("\nlight load: 10 clients in one room, one message in flight at a time")
    for mode, (p50, p99, n) in light.items():
        print(f"{mode:40} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({n} deliveries)")


if __name__ == "__main__":
    asyncio.run(main())
