"""Readiness probes for the infra scripts: exit 0 when the server really answers.

kafka HOST:PORT      -> a metadata request succeeds
cassandra HOST:PORT  -> SELECT release_version FROM system.local returns a row
"""

from __future__ import annotations

import asyncio
import logging
import sys


async def kafka_ready(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


def cassandra_ready(address: str) -> None:
    from cassandra.cluster import Cluster

    host, port = address.rsplit(":", 1)
    cluster = Cluster([host], port=int(port), connect_timeout=3, protocol_version=5)
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        assert row is not None
    finally:
        cluster.shutdown()


def main() -> int:
    logging.disable(logging.CRITICAL)
    kind, address = sys.argv[1], sys.argv[2]
    try:
        if kind == "kafka":
            asyncio.run(asyncio.wait_for(kafka_ready(address), 5))
        else:
            cassandra_ready(address)
    except Exception:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
