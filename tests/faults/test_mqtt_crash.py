"""SIGKILL with MQTT QoS 1 publishes in flight, in both modes: every publish the server
PUBACKed is in the log once afterwards (``tidings verify``), and a device's persistent
session, away through the crash, gets every logged message in order, each once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import mqtt5
import pytest

from projections.checker import Acked
from tests.e2e.conftest import FAST, Rest, eventually
from tests.e2e.mqtt_clients import Device, RawDevice
from tests.e2e.server import DistributedStack, ServerProcess
from tests.faults.workload import verify

pytestmark = pytest.mark.timeout(300)

PUBLISHES = 400


def publish_all(raw: RawDevice, room_id: str, acked: list[Acked], done: threading.Event) -> None:
    """Sends every publish at once (QoS 1), then records each PUBACK's event until the
    server is gone."""
    for n in range(1, PUBLISHES + 1):
        packet = mqtt5.PublishPacket(
            f"rooms/{room_id}", f"m{n}".encode(), qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=n
        )
        raw.send(packet)
    try:
        while len(acked) < PUBLISHES:
            ack = raw.receive_a(mqtt5.PubAckPacket)
            assert ack.reason_code == 0, ack
            acked.append(Acked(dict(ack.user_properties)["eventId"], room_id))
    except OSError:
        pass  # killed
    finally:
        done.set()


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_killed_with_qos1_publishes_in_flight_loses_none_pubacked(
    tmp_path: Path, mode: str
) -> None:
    server: ServerProcess | DistributedStack
    if mode == "embedded":
        server = ServerProcess(tmp_path / "data", FAST).start()
    else:  # its start and stop run event loops of their own
        server = await asyncio.to_thread(DistributedStack(tmp_path, FAST).start)
    try:
        room_id = Rest(server, "alice").create_room("mqtt-crash")
        token = server.token("alice")
        listener = Device(server.mqtt_ports[-1], token, "tablet", persistent=True)
        listener.subscribe(f"rooms/{room_id}")
        listener.close()

        raw = RawDevice(server.mqtt_ports[0], token, "phone")
        acked: list[Acked] = []
        done = threading.Event()
        sender = threading.Thread(target=publish_all, args=(raw, room_id, acked, done))
        sender.start()
        await eventually(lambda: len(acked) >= PUBLISHES // 4 or done.is_set(), timeout=60)
        if isinstance(server, ServerProcess):
            server.kill()
            await asyncio.to_thread(sender.join, 30)
            await asyncio.to_thread(server.restart)
        else:
            server.kill_gateway(0)  # the gateway the publishes go through
            await asyncio.to_thread(sender.join, 30)
            await asyncio.to_thread(server.start_gateway, 0)
        raw.close()
        assert 0 < len(acked) < PUBLISHES, "the kill came while publishes were in flight"

        report = await verify(server, acked, f"mqtt-sigkill-{mode}")
        assert report["ok"], report
        assert report["counts"]["acknowledged_in_log"] == len(acked)

        listener = Device(server.mqtt_ports[-1], token, "tablet", persistent=True)
        assert listener.session_present
        logged = report["counts"]["log_messages"]
        texts = listener.texts(logged, timeout=60)
        assert texts == [f"m{n}" for n in range(1, logged + 1)]  # in order, each once
        listener.close()
    finally:
        await asyncio.to_thread(server.stop)
