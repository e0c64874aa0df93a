"""MQTT devices (paho-mqtt, Debian's mosquitto clients, raw packets) on the same rooms and
inboxes as WebSocket clients, in both modes (docs/mqtt.md)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import mqtt5
import pytest

from projections.checker import Acked
from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, LARGE_ROOM_MEMBERS, Rest, Server, eventually
from tests.e2e.mqtt_clients import Device, RawDevice
from tests.e2e.server import ServerProcess
from tests.e2e.test_server_api import accepted, backend, new_key
from tests.faults.workload import verify


def timeline(rest: Rest, room_id: str) -> list[str]:
    messages = rest.get(f"/v1/rooms/{room_id}/messages", limit=100).json()["messages"]
    return [m["text"] for m in messages]


async def test_an_mqtt_device_and_a_browser_client_chat_in_one_room(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room("mqtt-chat")
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "mia"})
    device = Device(server.mqtt_ports[0], server.token("mia"), "mia-sensor", version=5)
    assert device.subscribe(f"rooms/{room_id}") == [1]
    browser, _ = await WsClient.connect(server.ws_urls[1], server.token("alice"))
    await browser.request("send", {"roomId": room_id, "text": "hello device"})
    topic, qos, body = device.next_message()
    while "messagePosted" not in body["event"]:  # mia's own join came first
        topic, qos, body = device.next_message()
    assert (topic, qos) == (f"rooms/{room_id}", 1)
    assert body["event"]["messagePosted"]["text"] == "hello device"
    assert body["event"]["actor"]["userId"] == "alice" and int(body["position"]) > 0

    def mia_online() -> bool:
        presence = rest("alice").get(f"/v1/rooms/{room_id}/presence").json()
        return {p["userId"]: p["online"] for p in presence}.get("mia") is True

    await eventually(mia_online)  # a device counts for presence like a browser
    device.publish(f"rooms/{room_id}", "hello browser", qos=1)
    got = await browser.next_message("mia")
    assert got["event"]["messagePosted"]["text"] == "hello browser"
    assert device.texts(1) == ["hello browser"]  # the device hears itself, like a browser
    device.close()
    await eventually(lambda: not mia_online())  # after the grace period
    await browser.close()


@pytest.mark.parametrize("version", [4, 5])
async def test_a_persistent_session_gets_exactly_what_it_missed(
    server: Server, rest: Callable[..., Rest], version: int
) -> None:
    alice = rest("alice")
    room_id = alice.create_room(f"missed-{version}")
    alice.post(f"/v1/rooms/{room_id}/members", {"userId": f"max{version}"})
    token = server.token(f"max{version}")
    device = Device(server.mqtt_ports[0], token, "phone", version=version, persistent=True)
    assert not device.session_present
    device.subscribe("rooms/+")
    alice.post(f"/v1/rooms/{room_id}/messages", {"text": "before"})
    assert device.texts(1) == ["before"]
    device.close()

    missed = [f"while away {i}" for i in range(30)]
    for text in missed:
        assert alice.post(f"/v1/rooms/{room_id}/messages", {"text": text}).status_code == 201
    # Back through the other gateway (distributed mode): the session is in the store.
    device = Device(server.mqtt_ports[1], token, "phone", version=version, persistent=True)
    assert device.session_present
    assert device.texts(len(missed)) == missed  # in order, at QoS 1, none before or twice
    alice.post(f"/v1/rooms/{room_id}/messages", {"text": "live again"})
    assert device.texts(1) == ["live again"]
    device.close()
    await asyncio.sleep(0)
    again = Device(server.mqtt_ports[0], token, "phone", version=version, persistent=True)
    alice.post(f"/v1/rooms/{room_id}/messages", {"text": "sentinel"})
    assert again.texts(1) == ["sentinel"]  # nothing PUBACKed came back
    again.close()

    clean = Device(server.mqtt_ports[0], token, "phone", version=version, persistent=False)
    assert not clean.session_present  # a clean session forgets the old one
    clean.close()


async def test_a_qos2_publish_retransmitted_three_times_is_one_event(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room("exactly-once")
    raw = RawDevice(server.mqtt_ports[0], server.token("alice"), "alice-raw", expiry=600)
    acked: list[Acked] = []
    for attempt in range(3):
        raw.send(
            mqtt5.PublishPacket(
                f"rooms/{room_id}",
                b"only once",
                qos=mqtt5.QoS.EXACTLY_ONCE,
                packet_id=7,
                duplicate=attempt > 0,
            )
        )
        received = raw.receive_a(mqtt5.PubRecPacket)
        assert received.packet_id == 7 and received.reason_code == 0
        acked.append(Acked(dict(received.user_properties)["eventId"], room_id))
    assert len({a.event_id for a in acked}) == 1  # every PUBREC names the same event
    raw.send(mqtt5.PubRelPacket(7))
    assert raw.receive_a(mqtt5.PubCompPacket).packet_id == 7
    # The packet id is free again: a new message under it is a new event.
    raw.send(
        mqtt5.PublishPacket(f"rooms/{room_id}", b"next", qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=7)
    )
    assert raw.receive_a(mqtt5.PubRecPacket).reason_code == 0
    raw.send(mqtt5.PubRelPacket(7))
    raw.receive_a(mqtt5.PubCompPacket)
    raw.close()
    assert await eventually(lambda: timeline(rest("alice"), room_id) == ["only once", "next"])
    report = await verify(server, acked[:1], "mqtt-qos2")  # tidings verify
    assert report["ok"], report
    assert report["counts"]["acknowledged_in_log"] == 1


async def test_a_non_member_is_refused_and_gets_nothing(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room("members-only")
    raw = RawDevice(server.mqtt_ports[0], server.token("mallory"), "mallory-5")
    raw.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter(f"rooms/{room_id}")]))
    assert raw.receive_a(mqtt5.SubAckPacket).reason_codes == [mqtt5.SubAckReasonCode.NOT_AUTHORIZED]
    raw.send(mqtt5.PublishPacket(f"rooms/{room_id}", b"let me in", qos=mqtt5.QoS(1), packet_id=2))
    assert raw.receive_a(mqtt5.PubAckPacket).reason_code == mqtt5.PubAckReasonCode.NOT_AUTHORIZED
    raw.send(mqtt5.PublishPacket("inbox", b"?", qos=mqtt5.QoS(1), packet_id=3))
    assert (
        raw.receive_a(mqtt5.PubAckPacket).reason_code == mqtt5.PubAckReasonCode.TOPIC_NAME_INVALID
    )
    raw.close()

    # 3.1.1 has no refusal codes for a publish: SUBACK says 0x80, a refused publish closes.
    old = Device(server.mqtt_ports[0], server.token("mallory"), "mallory-4", version=4)
    assert old.subscribe(f"rooms/{room_id}") == [128]
    old.client.publish(f"rooms/{room_id}", "let me in", qos=1)
    await eventually(lambda: not old.client.is_connected())
    old.close()
    assert timeline(rest("alice"), room_id) == []

    wrong = RawDevice(server.mqtt_ports[0], "not-a-token", "x")
    assert wrong.connack.reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD
    wrong.close()


async def test_mqtt_over_websocket_at_slash_mqtt(server: Server, rest: Callable[..., Rest]) -> None:
    room_id = rest("alice").create_room("mqtt-ws")
    port = int(server.http_url.rsplit(":", 1)[1])
    device = Device(port, server.token("alice"), "alice-ws", transport="websockets")
    device.subscribe(f"rooms/{room_id}")
    device.publish(f"rooms/{room_id}", "over websocket")
    assert device.texts(1) == ["over websocket"]
    device.close()


async def test_mosquitto_clients_publish_and_keep_a_session(
    server: Server, rest: Callable[..., Rest]
) -> None:
    """Debian's mosquitto_sub and mosquitto_pub, an implementation independent of ours:
    a subscriber makes a persistent session and leaves; what is published meanwhile (over
    3.1.1 at QoS 1 and over 5 at QoS 2) is what it gets when it comes back."""
    assert shutil.which("mosquitto_sub"), "mosquitto-clients is installed by .ci/run"
    room_id = rest("alice").create_room("mosquitto")
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    where = ["-h", "127.0.0.1", "-p", str(server.mqtt_ports[0]), "-t", f"rooms/{room_id}"]
    bob = [*where, "-q", "1", "-u", "bob", "-P", server.token("bob"), "-i", "bob-sub", "-c"]
    # -E: leave once subscribed (the session stays: -c, no clean session).
    subprocess.run(["mosquitto_sub", *bob, "-V", "mqttv311", "-E"], check=True, timeout=30)
    alice = [*where, "-u", "alice", "-P", server.token("alice")]
    for version, qos in (("mqttv311", "1"), ("mqttv5", "2")):
        subprocess.run(
            ["mosquitto_pub", *alice, "-V", version, "-q", qos, "-m", f"from {version}"],
            check=True,
            timeout=30,
        )
    back = subprocess.run(
        ["mosquitto_sub", *bob, "-V", "mqttv311", "-C", "2", "-W", "30"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    events = [json.loads(line)["event"] for line in back.stdout.splitlines()]
    assert [e["messagePosted"]["text"] for e in events] == ["from mqttv311", "from mqttv5"]


async def test_sessions_expire_are_taken_over_and_end_on_request(
    server: Server, rest: Callable[..., Rest]
) -> None:
    port, token = server.mqtt_ports[0], server.token("olga")
    first = RawDevice(port, token, "olga-phone", expiry=1)
    assert not first.connack.session_present
    # Another connection with the client id takes the session over (MQTT 5: 0x8E).
    second = RawDevice(port, token, "olga-phone", expiry=1)
    assert second.connack.session_present
    gone = first.receive_a(mqtt5.DisconnectPacket)
    assert gone.reason_code == mqtt5.DisconnectReasonCode.SESSION_TAKEN_OVER
    first.close()
    second.send(mqtt5.PublishPacket("rooms/not-a-room", b"x", qos=mqtt5.QoS(1), packet_id=1))
    assert second.receive_a(mqtt5.PubAckPacket).reason_code == 0x90  # topic name invalid
    second.send(mqtt5.DisconnectPacket())
    second.close()
    closed_at = time.time()
    # One second after the disconnect, the session is gone.
    await eventually(lambda: time.time() > closed_at + 1.5, timeout=5)
    third = RawDevice(port, token, "olga-phone", expiry=600)
    assert not third.connack.session_present
    # A DISCONNECT with a session expiry of 0 ends a kept session at once.
    third.send(mqtt5.DisconnectPacket(session_expiry_interval=0))
    third.close()
    fourth = RawDevice(port, token, "olga-phone", expiry=600)
    assert not fourth.connack.session_present
    # A backend's disconnect reaches an MQTT device too, through another gateway.
    key = await new_key(server, "sessions")
    async with backend(server, key, gateway=1) as api:
        await accepted(
            lambda: api.post("/v1/users/olga/disconnect", json={"deviceId": "olga-phone"})
        )
    ended = await asyncio.to_thread(fourth.receive_a, mqtt5.DisconnectPacket)
    assert ended.reason_code == mqtt5.DisconnectReasonCode.ADMINISTRATIVE_ACTION
    fourth.close()


@pytest.mark.parametrize("version", [4, 5])
async def test_channels_and_large_rooms_come_from_their_room_streams(
    server: Server, rest: Callable[..., Rest], version: int
) -> None:
    """Room streams (docs/protocol.md) over MQTT: a channel followed from the SUBSCRIBE, a
    room that grows into a stream while the device is away (exactly once across the
    move), a channel joined while connected; all resumed by a persistent session."""
    alice, nick = rest("alice"), f"nick{version}"
    token = server.token(nick)
    channel = alice.create_room(f"news-{version}", kind="channel")
    alice.post(f"/v1/rooms/{channel}/members", {"userId": nick})
    group = alice.create_room(f"growing-{version}")
    alice.post(f"/v1/rooms/{group}/members", {"userId": nick})
    device = Device(server.mqtt_ports[0], token, "watch", version=version, persistent=True)
    device.subscribe("rooms/+")
    alice.post(f"/v1/rooms/{channel}/messages", {"text": "c1"})
    topic, _, body = device.next_message()
    while "messagePosted" not in body["event"]:
        topic, _, body = device.next_message()
    assert topic == f"rooms/{channel}" and int(body["roomPosition"]) > 0
    assert body["event"]["messagePosted"]["roomId"] == channel  # put back into the compact push
    device.close()

    alice.post(f"/v1/rooms/{channel}/messages", {"text": "c2"})
    alice.post(f"/v1/rooms/{group}/messages", {"text": "g1"})
    for i in range(LARGE_ROOM_MEMBERS):  # the group moves to its room stream
        alice.post(f"/v1/rooms/{group}/members", {"userId": f"crowd{version}-{i}"})
    await eventually(lambda: alice.get(f"/v1/rooms/{group}").json()["streamedSince"] > 0)
    alice.post(f"/v1/rooms/{group}/messages", {"text": "g2"})
    alice.post(f"/v1/rooms/{channel}/messages", {"text": "c3"})
    alice.post(f"/v1/rooms/{group}/messages", {"text": "g3"})

    device = Device(server.mqtt_ports[1], token, "watch", version=version, persistent=True)
    assert device.session_present
    texts = device.texts(5)
    assert [t for t in texts if t.startswith("c")] == ["c2", "c3"]  # each stream in order
    assert [t for t in texts if t.startswith("g")] == ["g1", "g2", "g3"]  # once across the move
    late = alice.create_room(f"late-{version}", kind="channel")
    alice.post(f"/v1/rooms/{late}/members", {"userId": nick})  # joined while connected
    alice.post(f"/v1/rooms/{late}/messages", {"text": "l1"})
    alice.post(f"/v1/rooms/{group}/messages", {"text": "g4"})
    assert sorted(device.texts(2)) == ["g4", "l1"]
    device.close()


async def test_an_api_key_with_the_tokens_scope_connects_a_named_user(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room("keyed")
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "pia"})
    key, publish_only = await new_key(server, "tokens"), await new_key(server, "publish")
    for known in (key, publish_only):  # a fresh key reaches the projection within seconds
        async with backend(server, known) as api:
            assert (await accepted(lambda: api.get("/v1/users/online"))).status_code == 403
    port = server.mqtt_ports[0]
    raw = RawDevice(port, key, "pia-gateway", username="pia")
    assert raw.connack.reason_code == 0
    raw.send(mqtt5.PublishPacket(f"rooms/{room_id}", b"via key", qos=mqtt5.QoS(1), packet_id=1))
    assert raw.receive_a(mqtt5.PubAckPacket).reason_code == 0
    raw.close()
    assert timeline(rest("alice"), room_id) == ["via key"]
    refused = RawDevice(port, publish_only, "pia-gateway", username="pia")
    assert refused.connack.reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD
    refused.close()
    nameless = RawDevice(port, key, "pia-gateway")
    assert nameless.connack.reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD
    nameless.close()


async def test_a_device_that_does_not_read_is_cut_off(tmp_path: Path) -> None:
    """A QoS 0 subscriber whose socket is full: its queue passes the connection's bound
    (``TIDINGS_MAX_QUEUED_BYTES``) and it is disconnected; the server goes on."""
    server = ServerProcess(tmp_path / "data", {**FAST, "TIDINGS_MAX_QUEUED_BYTES": "65536"})
    server.start()
    try:
        alice = Rest(server, "alice")
        room_id = alice.create_room("firehose")
        stalled = RawDevice(server.mqtt_ports[0], server.token("alice"), "stalled")
        stalled.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter("rooms/+", max_qos=mqtt5.QoS(0))]))
        assert isinstance(stalled.receive(), mqtt5.SubAckPacket)  # then it reads no more
        text = "x" * 4000
        cut = False
        for n in range(5000):  # bounded: the socket buffers hold a few MB at most
            alice.post(f"/v1/rooms/{room_id}/messages", {"text": f"{n} {text}"[:4000]})
            metrics = "" if n % 50 else httpx.get(f"{server.http_url}/metrics", timeout=20).text
            if 'tidings_disconnects_total{code="4008"}' in metrics:
                cut = True
                break
        assert cut, "the stalled device was never cut off"
        healthy = Device(server.mqtt_ports[0], server.token("alice"), "healthy")
        healthy.subscribe(f"rooms/{room_id}")
        alice.post(f"/v1/rooms/{room_id}/messages", {"text": "still serving"})
        assert healthy.texts(1) == ["still serving"]
        healthy.close()
        stalled.close()
    finally:
        server.stop()
