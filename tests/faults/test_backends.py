"""Kafka and Cassandra go down during load; Tidings rides it out without a hand on it.

The servers are the real ones started by infra/*.sh; each test restores its server before it
returns (the rest of the suite shares them).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.e2e.server import DistributedStack
from tests.faults.workload import Workload, assert_alive, assert_nothing_lost, infra, verify

pytestmark = pytest.mark.timeout(600)  # thousands of messages and several faults


async def test_kafka_broker_killed_and_restarted_during_load(stack: DistributedStack) -> None:
    workload = Workload(stack, messages=2000)
    workload.setup()
    load = asyncio.create_task(workload.run())
    try:
        await workload.reached(0.3)
        infra("kafka", "kill")  # SIGKILL: no controlled shutdown
        await asyncio.sleep(3)
    finally:
        await asyncio.to_thread(infra, "kafka", "start")
    await load
    report = await verify(stack, workload.acked, "kafka-sigkill")
    assert_alive(stack)
    assert not workload.failed
    assert_nothing_lost(report, workload.messages)


async def test_cassandra_stopped_for_30_seconds_during_load(stack: DistributedStack) -> None:
    workload = Workload(stack, messages=2000)
    workload.setup()
    room = next(iter(workload.room_members))
    owner = workload.room_members[room][0]
    headers = {"Authorization": f"Bearer {stack.token(owner)}"}
    answers: list[tuple[int, str | None, Any]] = []

    def read_during_outage(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with httpx.Client(base_url=stack.http_urls[1], headers=headers, timeout=20) as http:
            while time.monotonic() < deadline:
                for path in (f"/v1/rooms/{room}/messages", "/v1/rooms", "/v1/inbox"):
                    r = http.get(path, params={"limit": 50} if "messages" in path else None)
                    answers.append((r.status_code, r.headers.get("retry-after"), r.json()))
                time.sleep(0.5)

    load = asyncio.create_task(workload.run())
    await workload.reached(0.3)
    infra("cassandra", "stop")
    try:
        await asyncio.to_thread(read_during_outage, 30)
    finally:
        await asyncio.to_thread(infra, "cassandra", "start")
    await load
    report = await verify(stack, workload.acked, "cassandra-stop-30s")
    assert_alive(stack)
    assert not workload.failed
    assert_nothing_lost(report, workload.messages)

    statuses = {status for status, _, _ in answers}
    assert statuses <= {200, 503}, statuses  # never a 500
    assert 503 in statuses  # the outage did reach REST
    assert all(retry for status, retry, _ in answers if status == 503)
    # Whatever was answered with 200 is true: the same messages are in the final timeline.
    final = full_timeline(stack.http_url, room, headers)
    for status, _, body in answers:
        if status == 200 and isinstance(body, dict) and "messages" in body:
            for m in body["messages"]:
                assert final[m["messageId"]] == m["text"]


def full_timeline(url: str, room: str, headers: dict[str, str]) -> dict[str, str]:
    """message id -> text for the whole room, paged over REST."""
    messages: dict[str, str] = {}
    after = 0
    with httpx.Client(base_url=url, headers=headers, timeout=20) as http:
        while True:
            page = http.get(f"/v1/rooms/{room}/messages", params={"after": after, "limit": 200})
            page.raise_for_status()
            rows = page.json()["messages"]
            if not rows:
                return messages
            messages.update({m["messageId"]: m["text"] for m in rows})
            after = rows[-1]["position"]
