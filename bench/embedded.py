"""Embedded-mode benchmark: log + projector throughput, and send-to-receive latency.

Part 1 (in process): appends N messages through the command bus (the single writer), then
projects them, and prints events/s for each stage.
Part 2 (real server): starts `tidings serve` on 127.0.0.1, connects 10 WebSocket clients to one
room, has each send messages in turn, and prints send-to-receive latency p50/p99 over every
(message, recipient) pair (bench/compare.py runs the same against distributed mode). Every
loop is bounded in count and time.

Usage: python bench/embedded.py [--messages 2000] [--clients 10] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare import one_at_a_time_latency  # noqa: E402
from bench.scrape import summary  # noqa: E402
from domain import commands as c  # noqa: E402
from domain.values import EventMeta  # noqa: E402
from projections.projector import project  # noqa: E402
from projections.store_sqlite import SqliteProjectionStore  # noqa: E402
from streams.log_sqlite import EmbeddedLog  # noqa: E402
from streams.runner import ProjectionRunner  # noqa: E402
from tests.e2e.server import ServerProcess  # noqa: E402


async def log_and_projection_throughput(messages: int, members: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = EmbeddedLog(Path(tmp) / "log.sqlite")
        store = SqliteProjectionStore(Path(tmp) / "projections.sqlite")
        room_id = uuid.uuid4()
        alice = EventMeta("alice")
        await log.execute(c.CreateRoom(alice, room_id, "bench"))
        for i in range(members - 1):
            await log.execute(c.AddMember(alice, room_id, f"user{i}"))

        start = time.perf_counter()
        for i in range(messages):
            await log.execute(c.PostMessage(alice, room_id, f"m{i}", f"message {i}"))
        sequential = messages / (time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(
            *(
                log.execute(c.PostMessage(alice, room_id, f"p{i}", f"message {i}"))
                for i in range(messages)
            )
        )
        concurrent = messages / (time.perf_counter() - start)

        deliveries = 0

        def count(batch: object) -> None:
            nonlocal deliveries
            deliveries += len(batch)  # type: ignore[arg-type]

        runner = ProjectionRunner(log, store, project, count)
        total = await log.head()
        start = time.perf_counter()
        await runner.catch_up()
        projected = total / (time.perf_counter() - start)
        print(f"log append, one command at a time : {sequential:8.0f} events/s")
        print(f"log append, {messages} commands in flight: {concurrent:8.0f} events/s")
        print(
            f"projection ({members} members/room)    : {projected:8.0f} events/s "
            f"({deliveries} inbox deliveries, {deliveries / total:.1f} per event)"
        )
        log.close()
        await store.close()


async def send_to_receive_latency(clients: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data").start()
        try:
            p50, p99, n = await one_at_a_time_latency(server, clients, rounds)
            reported = summary(server.http_url)
        finally:
            server.stop()
    print(
        f"send-to-receive, {clients} clients in one room: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"over {n} deliveries"
    )
    print("the server's /metrics after it:")
    for line in reported:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    asyncio.run(log_and_projection_throughput(args.messages, args.members))
    asyncio.run(send_to_receive_latency(args.clients, args.rounds))


if __name__ == "__main__":
    main()
