"""The MQTT listener's pure parts: topics, the QoS 1 window, what a session saves, and the
3.1.1 framing (rewritten into MQTT 5's, and written back in 3.1.1's short form)."""

from __future__ import annotations

import mqtt5
import orjson
import pytest

from api.mqtt_codec import MQTT_5, MQTT_311, MqttCodec, MqttProtocolError
from api.mqtt_session import (
    InvalidTopic,
    Outbox,
    SavedSession,
    delivery_for,
    filter_room,
    matches,
    publish_target,
    topic_of,
    topic_of_json,
    valid_filter,
    wants_room,
)

ROOM = "6df8aa2b-23ee-483b-bee4-a8ee1481dce4"


def _string(text: str) -> bytes:
    return len(text.encode()).to_bytes(2, "big") + text.encode()


def _packet(first: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([first, len(body)]) + body


def test_events_are_published_on_their_room_or_the_inbox() -> None:
    assert topic_of({"stream": f"room:{ROOM}", "messagePosted": {}}) == f"rooms/{ROOM}"
    emitted = {"stream": f"room:{ROOM}", "eventEmitted": {"name": "cursor"}}
    assert topic_of(emitted) == f"rooms/{ROOM}/events/cursor"
    assert topic_of({"stream": "user:alice", "sessionsRevoked": {}}) == "inbox"


@pytest.mark.parametrize(
    "event",
    [
        {"eventId": "e", "stream": f"room:{ROOM}", "messagePosted": {"text": '"stream":"x"'}},
        {"stream": f"room:{ROOM}", "eventEmitted": {"name": "cursor", "roomId": ROOM}},
        {"eventId": "e", "stream": "user:alice", "sessionsRevoked": {}},
        {"eventId": "e"},
    ],
)
def test_the_topic_read_from_json_is_the_decoded_ones(event: dict[str, object]) -> None:
    assert topic_of_json(orjson.dumps(event).decode()) == topic_of(event)


def test_devices_publish_to_a_room_or_a_room_event_only() -> None:
    assert publish_target(f"rooms/{ROOM}") == (ROOM, None)
    assert publish_target(f"rooms/{ROOM}/events/cursor") == (ROOM, "cursor")
    for topic in ("inbox", "rooms/", f"rooms/{ROOM}/x", "a/b", f"rooms/{ROOM}/events/"):
        with pytest.raises(InvalidTopic):
            publish_target(topic)


def test_filters_follow_mqtt_wildcard_rules() -> None:
    assert all(valid_filter(f) for f in ("inbox", "rooms/+", "rooms/#", "#", "+/+/events/+"))
    assert not any(valid_filter(f) for f in ("", "rooms/a#", "rooms/#/x", "rooms/a+", "a\0"))
    assert matches("rooms/+", f"rooms/{ROOM}")
    assert not matches("rooms/+", f"rooms/{ROOM}/events/x")
    assert matches("rooms/#", f"rooms/{ROOM}/events/x")
    assert matches(f"rooms/{ROOM}/events/+", f"rooms/{ROOM}/events/x")
    assert not matches(f"rooms/{ROOM}", "rooms/other")
    assert filter_room(f"rooms/{ROOM}/#") == ROOM
    assert filter_room("rooms/+") is None and filter_room("inbox") is None


def test_a_room_filter_gives_its_topic_and_inbox_takes_the_rest() -> None:
    subscriptions = {f"rooms/{ROOM}": 1, "inbox": 0}
    assert delivery_for(subscriptions, f"rooms/{ROOM}") == (f"rooms/{ROOM}", 1)
    assert delivery_for(subscriptions, "rooms/other") == ("inbox", 0)
    assert delivery_for({"rooms/+": 1}, "inbox") is None


def test_the_durable_position_waits_for_the_oldest_unacked_event() -> None:
    outbox = Outbox(position=10, window=2)
    first = outbox.offer(11, qos=1)
    assert outbox.offer(12, qos=0) is None  # passed over or QoS 0: nothing to wait for
    second = outbox.offer(13, qos=1)
    assert first is not None and second is not None and first != second
    assert outbox.room == 0 and outbox.done() == 10
    assert not outbox.acked(second)  # 11 still unacked
    assert outbox.done() == 10
    assert outbox.acked(first)
    assert outbox.done() == 13 and outbox.room == 2
    with pytest.raises(ValueError):
        outbox.offer(15, qos=1)  # events are offered in inbox order, none skipped


def test_room_streams_share_the_window_and_keep_their_own_positions() -> None:
    outbox = Outbox(position=5, window=3)
    outbox.start("room-a", 40)
    inbox_id = outbox.offer(6, qos=1)
    room_id = outbox.offer(41, qos=1, stream="room-a")
    assert outbox.offer(42, qos=0, stream="room-a") is None
    assert outbox.room == 1 and set(outbox.streams) == {"", "room-a"}
    assert (outbox.done(), outbox.done("room-a")) == (5, 40)
    assert outbox.acked(room_id or 0) and outbox.done("room-a") == 42 and outbox.done() == 5
    outbox.start("room-a", 1)  # already followed: stays where it is
    assert outbox.offered("room-a") == 42
    outbox.stop("room-a")  # left the room: its events in flight no longer count
    assert outbox.room == 2 and outbox.streams == [""]
    assert outbox.acked(inbox_id or 0) and outbox.done() == 6


def test_a_room_stream_is_followed_when_a_subscription_can_match_it() -> None:
    assert wants_room({"rooms/+": 1}, ROOM) and wants_room({"#": 1}, ROOM)
    assert wants_room({f"rooms/{ROOM}/events/+": 1}, ROOM) and wants_room({"inbox": 0}, ROOM)
    assert not wants_room({"rooms/other": 1}, ROOM) and not wants_room({}, ROOM)


def test_packet_ids_wrap_and_skip_those_in_flight() -> None:
    outbox = Outbox(position=0, window=3)
    ids = [outbox.offer(p, qos=1) for p in range(1, 4)]
    outbox.acked(ids[1] or 0)
    assert outbox.offer(4, qos=1) not in (ids[0], ids[2])


def test_a_saved_session_survives_its_json() -> None:
    saved = SavedSession(
        7, "epoch1", {"rooms/+": 1}, rooms={ROOM: 12}, received={3: "mqtt-abc"}, expires_at=None
    )
    assert SavedSession.from_json(saved.to_json()) == saved


def test_a_311_client_is_read_as_mqtt5_and_answered_in_311() -> None:
    codec = MqttCodec(max_packet_size=4096)
    flags = 0xC0 | 0x04  # user name, password, a will; no clean session
    connect = _string("MQTT") + bytes([MQTT_311, flags, 0, 60]) + _string("dev1")
    connect += _string("will") + _string("bye") + _string("alice") + _string("token")
    publish = _packet(0x34, _string(f"rooms/{ROOM}") + (7).to_bytes(2, "big") + b"hi")
    subscribe = _packet(0x82, (9).to_bytes(2, "big") + _string("rooms/+") + b"\x01")
    data = _packet(0x10, connect) + publish + subscribe + b"\x40\x02\x00\x05\xc0\x00"
    packets = codec.feed(data[:5]) + codec.feed(data[5:])
    assert codec.version == MQTT_311
    first, pub, sub, ack, ping = packets
    assert isinstance(first, mqtt5.ConnectPacket)
    assert (first.client_id, first.username, first.password) == ("dev1", "alice", b"token")
    assert not first.clean_start and first.will is not None and first.will.payload == b"bye"
    assert isinstance(pub, mqtt5.PublishPacket)
    assert (pub.topic, pub.qos, pub.packet_id, pub.payload) == (f"rooms/{ROOM}", 2, 7, b"hi")
    assert isinstance(sub, mqtt5.SubscribePacket) and sub.topic_filters[0].pattern == "rooms/+"
    assert isinstance(ack, mqtt5.PubAckPacket) and ack.packet_id == 5
    assert isinstance(ping, mqtt5.PingReqPacket)
    assert codec.encode(mqtt5.ConnAckPacket(session_present=True)) == b"\x20\x02\x01\x00"
    refused = mqtt5.ConnAckPacket(reason_code=mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD)
    assert codec.encode(refused) == b"\x20\x02\x00\x04"
    out = mqtt5.PublishPacket("inbox", b"x", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=4)
    assert codec.encode(out) == b"\x32\x0a" + _string("inbox") + b"\x00\x04x"
    suback = mqtt5.SubAckPacket(9, [mqtt5.SubAckReasonCode(1), mqtt5.SubAckReasonCode(135)])
    assert codec.encode(suback) == b"\x90\x04\x00\x09\x01\x80"
    assert codec.encode(mqtt5.PubRecPacket(7)) == b"\x50\x02\x00\x07"
    assert codec.encode(mqtt5.DisconnectPacket()) is None  # 3.1.1: the socket just closes


def test_an_mqtt5_client_is_read_as_is() -> None:
    codec = MqttCodec(max_packet_size=4096)
    connect = mqtt5.ConnectPacket("dev", password=b"t", session_expiry_interval=60)
    (packet,) = codec.feed(connect.write())
    assert codec.version == MQTT_5 and isinstance(packet, mqtt5.ConnectPacket)
    assert packet.session_expiry_interval == 60


@pytest.mark.parametrize(
    "data",
    [
        b"\x30\x02\x00\x00",  # not a CONNECT first
        _packet(0x10, _string("MQTT") + bytes([3, 2, 0, 60]) + _string("x")),  # MQTT 3.1
        b"\x10\xff\xff\xff\xff\x01",  # a remaining length of five bytes
    ],
)
def test_what_is_not_mqtt_is_refused(data: bytes) -> None:
    with pytest.raises(MqttProtocolError):
        MqttCodec(max_packet_size=4096).feed(data)


def test_a_packet_over_the_limit_is_refused_before_it_is_read() -> None:
    codec = MqttCodec(max_packet_size=64)
    codec.feed(mqtt5.ConnectPacket("dev").write())
    with pytest.raises(MqttProtocolError, match="over the limit"):
        codec.feed(mqtt5.PublishPacket("rooms/x", b"x" * 100).write()[:10])
