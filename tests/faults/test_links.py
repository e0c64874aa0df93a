"""Degraded links between Tidings and its backends, through a fault proxy (latency, cut
connections, blackhole): no loss, no duplicates, dead peers noticed within a bound."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST
from tests.e2e.server import DistributedStack, free_port
from tests.faults.proxy import FaultProxy
from tests.faults.workload import Workload, assert_alive, assert_nothing_lost, verify
from tests.infra import CASSANDRA_PORT

pytestmark = pytest.mark.timeout(600)

KAFKA_PROXIED_PORT = 9094
KAFKA_PROXY_PORT = 19094
"""infra/kafka.sh advertises its PROXIED listener (9094) at this proxy port."""
BLACKHOLE_SECONDS = 10.0


async def degrade(proxy: FaultProxy, workload: Workload) -> None:
    """Latency, then a cut, then (by the caller) a blackhole, each at a point of the load."""
    await workload.reached(0.2)
    proxy.set_latency(0.05)
    await asyncio.sleep(5)
    proxy.set_latency(0)
    await workload.reached(0.4)
    assert proxy.cut() > 0
    await workload.reached(0.6)


async def test_kafka_link_latency_cut_and_blackhole(tmp_path: Path) -> None:
    with FaultProxy(KAFKA_PROXY_PORT, KAFKA_PROXIED_PORT) as proxy:
        env = {**FAST, "TIDINGS_KAFKA_BOOTSTRAP": f"127.0.0.1:{KAFKA_PROXY_PORT}"}
        stack = DistributedStack(tmp_path, env).start()
        try:
            workload = Workload(stack, messages=2000)
            workload.setup()
            room = next(iter(workload.room_members))
            owner = workload.room_members[room][0]
            probe, _ = await WsClient.connect(stack.ws_url, stack.token(owner))
            load = asyncio.create_task(workload.run())
            await degrade(proxy, workload)

            proxy.blackhole()
            started = time.monotonic()
            reply = await probe.request(
                "send", {"roomId": room, "clientMsgId": "probe", "text": "?"}, timeout=60
            )
            detected = time.monotonic() - started
            await asyncio.sleep(max(0.0, BLACKHOLE_SECONDS - detected))
            proxy.blackhole(False)
            healed = time.monotonic()
            await load
            recovered = time.monotonic() - healed
            await probe.close()
            report = await verify(stack, workload.acked, "kafka-link-faults")
            assert_alive(stack)
        finally:
            await asyncio.to_thread(stack.stop)
    print(
        f"kafka link: blackholed send answered in {detected:.1f} s; "
        f"load done {recovered:.1f} s after heal"
    )
    assert reply["error"]["code"] == "UNAVAILABLE" and reply["error"]["temporary"], reply
    assert detected < 15  # the command bus gives up after 10 s
    assert not workload.failed
    assert_nothing_lost(report, workload.messages)


async def test_cassandra_link_latency_cut_and_blackhole(tmp_path: Path) -> None:
    with FaultProxy(free_port(), CASSANDRA_PORT) as proxy:
        env = {**FAST, "TIDINGS_CASSANDRA_PORT": str(proxy.listen_port)}
        stack = DistributedStack(tmp_path, env).start()
        try:
            workload = Workload(stack, messages=2000)
            workload.setup()
            owner = workload.room_members[next(iter(workload.room_members))][0]
            headers = {"Authorization": f"Bearer {stack.token(owner)}"}
            load = asyncio.create_task(workload.run())
            await degrade(proxy, workload)

            async with httpx.AsyncClient(base_url=stack.http_url, headers=headers) as http:
                while (await http.get("/v1/rooms", timeout=30)).status_code != 200:
                    await asyncio.sleep(0.2)  # healthy again after the cut
                proxy.blackhole()
                started = time.monotonic()
                statuses: list[int] = []
                durations: list[float] = []
                while time.monotonic() - started < BLACKHOLE_SECONDS:
                    asked = time.monotonic()
                    statuses.append((await http.get("/v1/rooms", timeout=30)).status_code)
                    durations.append(time.monotonic() - asked)
                    await asyncio.sleep(0.1)
                proxy.blackhole(False)
                healed = time.monotonic()
                while (await http.get("/v1/rooms", timeout=30)).status_code != 200:
                    await asyncio.sleep(0.2)
                back = time.monotonic() - healed
            await load
            report = await verify(stack, workload.acked, "cassandra-link-faults")
            assert_alive(stack)
        finally:
            await asyncio.to_thread(stack.stop)
    first_503 = statuses.index(503) if 503 in statuses else -1
    print(
        f"cassandra link: {len(statuses)} reads in the blackhole, statuses "
        f"{sorted(set(statuses))}, first 503 after {sum(durations[: first_503 + 1]):.1f} s, "
        f"slowest read {max(durations):.1f} s; reads back {back:.1f} s after heal"
    )
    assert statuses[0] == 503 and set(statuses) == {503}  # no read hangs on a dead peer
    assert max(durations) < 8  # the 5 s request timeout, then NoHostAvailable at once
    assert back < 20
    assert not workload.failed
    assert_nothing_lost(report, workload.messages)
