"""SIGKILL during load: nothing acknowledged is lost, nothing is applied twice.

Each test runs a bounded chat workload (tests/faults/workload.py), kills a process several
times while it runs, and ends with ``tidings verify``: every acknowledged send is in the log
exactly once, streams are dense and ordered, every inbox is dense and duplicate-free, and
the live projections equal a rebuild from the log.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import FAST
from tests.e2e.server import DistributedStack, ServerProcess
from tests.faults.workload import Workload, assert_nothing_lost, verify

pytestmark = pytest.mark.timeout(600)  # thousands of messages and several faults


async def test_embedded_server_killed_during_load_loses_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", FAST).start()
    try:
        workload = Workload(server, messages=2000)
        workload.setup()
        load = asyncio.create_task(workload.run())
        for share in (0.25, 0.6):
            await workload.reached(share)
            server.kill()
            await asyncio.to_thread(server.restart)
        await load
        report = await verify(server, workload.acked, "embedded-sigkill")
    finally:
        server.stop()
    assert not workload.failed
    assert_nothing_lost(report, workload.messages)

    # The checker is not a rubber stamp: damage the projection and it says where.
    with sqlite3.connect(server.data_dir / "projections.sqlite") as db:
        db.execute("DELETE FROM inbox WHERE user_id='user003' AND position=5")
        db.execute("DELETE FROM messages WHERE position=(SELECT max(position) FROM messages)")
    damaged = await verify(server, workload.acked, "embedded-damaged", wait=0)
    assert not damaged["ok"]
    assert damaged["counts"]["inbox_gaps"] == 1
    assert damaged["counts"]["projection_differences"] >= 2  # a timeline and an inbox


async def test_processor_killed_repeatedly_during_load_loses_nothing(
    stack: DistributedStack,
) -> None:
    workload = Workload(stack, messages=2000)
    workload.setup()
    load = asyncio.create_task(workload.run())
    for share in (0.2, 0.45, 0.7):
        await workload.reached(share)
        stack.processor.kill()  # the command processor and the Faust projectors
        await asyncio.sleep(1.0)
        stack.processor.start()
    await load
    report = await verify(stack, workload.acked, "processor-sigkill")
    assert not workload.failed
    assert_nothing_lost(report, workload.messages)
