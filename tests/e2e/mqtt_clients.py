"""MQTT clients for the tests: paho-mqtt (a real client library, in its own thread) and a
raw socket that sends exactly the packets a test writes (retransmissions, refusals)."""

from __future__ import annotations

import queue
import socket
import time
from typing import Any

import mqtt5
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["Device", "RawDevice", "split_packet"]


def split_packet(buffer: bytes) -> tuple[mqtt5.Packet | None, bytes]:
    """The first whole MQTT 5 packet in ``buffer`` (None if there is none yet) and the rest."""
    try:
        packet, size = mqtt5.read(memoryview(buffer))
    except IndexError:
        return None, buffer
    return packet, buffer[size:]


class Device:
    """A paho client: ``version`` 4 (3.1.1) or 5; ``persistent`` keeps its session
    (3.1.1: clean_session false; 5: a session expiry of an hour)."""

    def __init__(
        self,
        port: int,
        token: str,
        client_id: str,
        *,
        version: int = 5,
        persistent: bool = False,
        transport: str = "tcp",
    ) -> None:
        protocol = paho.MQTTv5 if version == 5 else paho.MQTTv311
        options: dict[str, Any] = {} if version == 5 else {"clean_session": not persistent}
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
            client_id=client_id,
            protocol=protocol,
            transport=transport,  # type: ignore[arg-type]
            **options,
        )
        if transport == "websockets":
            self.client.ws_set_options(path="/mqtt")
        self.client.username_pw_set("device", token)
        self.messages: queue.Queue[tuple[str, int, dict[str, Any]]] = queue.Queue()
        self.connacks: queue.Queue[tuple[bool, int]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        connect: dict[str, Any] = {}
        if version == 5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if persistent:
                properties.SessionExpiryInterval = 3600
            connect = {"clean_start": not persistent, "properties": properties}
        self.client.connect("127.0.0.1", port, keepalive=30, **connect)
        self.client.loop_start()
        self.session_present, self.reason = self.connacks.get(timeout=20)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        import json

        self.messages.put((message.topic, message.qos, json.loads(message.payload)))

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connacks.put((bool(flags.session_present), int(reason.value)))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self.subacks.put([int(code.value) for code in codes])

    def subscribe(self, *patterns: str, qos: int = 1) -> list[int]:
        self.client.subscribe([(pattern, qos) for pattern in patterns])
        return self.subacks.get(timeout=20)

    def publish(self, topic: str, payload: str | bytes, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=20)
        assert info.is_published()

    def next_message(self, timeout: float = 20) -> tuple[str, int, dict[str, Any]]:
        return self.messages.get(timeout=timeout)

    def texts(self, count: int, timeout: float = 20) -> list[str]:
        """The texts of the next ``count`` messages posted (other events are skipped)."""
        texts: list[str] = []
        deadline = time.monotonic() + timeout
        while len(texts) < count:
            _, _, body = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
            posted = body["event"].get("messagePosted")
            if posted:
                texts.append(posted["text"])
        return texts

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class RawDevice:
    """MQTT 5 packet by packet over a socket (``mqtt5`` writes and reads them)."""

    def __init__(
        self, port: int, token: str, client_id: str, expiry: int = 0, username: str | None = None
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buffer = b""
        self.send(
            mqtt5.ConnectPacket(
                client_id,
                username=username,
                password=token.encode(),
                session_expiry_interval=expiry,
                keep_alive=30,
            )
        )
        connack = self.receive()
        assert isinstance(connack, mqtt5.ConnAckPacket)
        self.connack = connack

    def send(self, packet: mqtt5.Packet) -> None:
        self.sock.sendall(packet.write())

    def receive(self) -> mqtt5.Packet:
        while True:
            packet, self.buffer = split_packet(self.buffer)
            if packet is not None:
                return packet
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.buffer += data

    def receive_a(self, kind: type[Any]) -> Any:
        """The next packet of this kind (messages pushed meanwhile are passed over)."""
        while True:
            packet = self.receive()
            if isinstance(packet, kind):
                return packet
            if isinstance(packet, mqtt5.PublishPacket) and packet.qos:
                self.send(mqtt5.PubAckPacket(packet.packet_id or 0))

    def close(self) -> None:
        self.sock.close()
