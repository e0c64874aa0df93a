"""Access to the real Kafka and Cassandra servers started by infra/*.sh (make test does).

A missing server is a test failure, never a skip: run `infra/kafka.sh start` and
`infra/cassandra.sh start` (or `make test`, which starts both).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KAFKA = os.environ.get("TIDINGS_TEST_KAFKA", "127.0.0.1:9092")
CASSANDRA_HOST = "127.0.0.1"
CASSANDRA_PORT = int(os.environ.get("TIDINGS_TEST_CASSANDRA_PORT", "9042"))


def require(service: str) -> None:
    """Fails the test unless the service answers (the infra scripts' own readiness probe)."""
    address = KAFKA if service == "kafka" else f"{CASSANDRA_HOST}:{CASSANDRA_PORT}"
    probe = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "ready.py"), service, address],
        capture_output=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.fail(f"{service} is not running at {address}: run infra/{service}.sh start")


def fresh_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def drop_keyspace(keyspace: str) -> None:
    """Tests clean up after themselves: a 1 GB Cassandra cannot hold hundreds of keyspaces."""
    from cassandra.cluster import Cluster

    cluster = Cluster([CASSANDRA_HOST], port=CASSANDRA_PORT, protocol_version=5)
    try:
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
    finally:
        cluster.shutdown()


def delete_topics(prefix: str) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(f"{prefix}.")]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    asyncio.run(run())
