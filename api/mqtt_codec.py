"""MQTT packets to and from bytes, for both protocol versions, without I/O.

MQTT 5 is the ``mqtt5`` library's (a sans-I/O codec, in Rust). MQTT 3.1.1 has the same
packets without properties and with fewer reason codes, so a 3.1.1 packet from a client is
rewritten into its MQTT 5 form (an empty property list where 5 has one) and read by the
same codec, and what the server sends a 3.1.1 client is written here in that version's
shorter form (ADR 21). The rest of the listener sees MQTT 5 packet objects only.
"""

from __future__ import annotations

import mqtt5

__all__ = [
    "MQTT_5",
    "MQTT_311",
    "MqttCodec",
    "MqttProtocolError",
    "protocol_level",
]

MQTT_311 = 4
MQTT_5 = 5

_CONNECT, _PUBLISH, _SUBSCRIBE, _UNSUBSCRIBE = 1, 3, 8, 10
_NO_PROPERTIES = b"\x00"


class MqttProtocolError(ValueError):
    """The client's bytes are not a packet of its protocol version (or too large)."""


def _length_prefix(length: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _fixed_header(data: memoryview) -> tuple[int, int] | None:
    """(header length, body length) of the packet at the start of ``data``, or None when
    its header is not complete yet."""
    length, shift = 0, 0
    for i in range(1, min(len(data), 5)):
        byte = data[i]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return i + 1, length
        shift += 7
    if len(data) >= 5:
        raise MqttProtocolError("malformed remaining length")
    return None


def protocol_level(connect: bytes | memoryview) -> int:
    """The protocol level a CONNECT packet asks for (4: 3.1.1, 5: 5.0)."""
    header = _fixed_header(memoryview(connect))
    if header is None or connect[0] >> 4 != _CONNECT:
        raise MqttProtocolError("the first packet must be CONNECT")
    start = header[0]
    name_length = int.from_bytes(connect[start : start + 2], "big")
    level_at = start + 2 + name_length
    if len(connect) <= level_at:
        raise MqttProtocolError("CONNECT too short")
    return int(connect[level_at])


def _as_mqtt5(packet: bytes) -> bytes:
    """A 3.1.1 packet from a client in its MQTT 5 form: the same fields, with an empty
    property list where MQTT 5 has one (packets without one are the same in both)."""
    kind = packet[0] >> 4
    start, _ = _fixed_header(memoryview(packet)) or (0, 0)
    body = packet[start:]
    if kind == _CONNECT:
        name_end = 2 + int.from_bytes(body[:2], "big")
        flags = body[name_end + 1]
        header = body[:name_end] + bytes([MQTT_5]) + body[name_end + 1 : name_end + 4]
        payload = body[name_end + 4 :]
        if flags & 0x04:  # a will: its properties come before its topic
            id_end = 2 + int.from_bytes(payload[:2], "big")
            payload = payload[:id_end] + _NO_PROPERTIES + payload[id_end:]
        body = header + _NO_PROPERTIES + payload
    elif kind == _PUBLISH:
        topic_end = 2 + int.from_bytes(body[:2], "big")
        if packet[0] & 0x06:  # QoS 1 or 2: a packet id follows the topic
            topic_end += 2
        body = body[:topic_end] + _NO_PROPERTIES + body[topic_end:]
    elif kind in (_SUBSCRIBE, _UNSUBSCRIBE):
        body = body[:2] + _NO_PROPERTIES + body[2:]
    else:
        return packet
    return packet[:1] + _length_prefix(len(body)) + body


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _length_prefix(len(body)) + body


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


_CONNACK_311 = {0: 0, 132: 1, 133: 2, 136: 3, 137: 3, 134: 4}
"""MQTT 5 CONNACK reason code -> 3.1.1 return code (the rest: 5, not authorized)."""


def _as_mqtt311(packet: mqtt5.Packet) -> bytes | None:
    """What the server sends, in 3.1.1's form; None for what 3.1.1 has no packet for."""
    match packet:
        case mqtt5.ConnAckPacket():
            code = _CONNACK_311.get(int(packet.reason_code), 5)
            return _packet(0x20, bytes([int(packet.session_present), code]))
        case mqtt5.PublishPacket():
            first = 0x30 | (0x08 if packet.duplicate else 0) | (int(packet.qos) << 1)
            pid = packet.packet_id.to_bytes(2, "big") if packet.packet_id else b""
            return _packet(first | int(packet.retain), _string(packet.topic) + pid + packet.payload)
        case mqtt5.PubAckPacket() | mqtt5.PubRecPacket() | mqtt5.PubCompPacket():
            first = {mqtt5.PubAckPacket: 0x40, mqtt5.PubRecPacket: 0x50}.get(type(packet), 0x70)
            return _packet(first, packet.packet_id.to_bytes(2, "big"))
        case mqtt5.PubRelPacket():
            return _packet(0x62, packet.packet_id.to_bytes(2, "big"))
        case mqtt5.SubAckPacket():
            codes = bytes(min(int(code), 0x80) for code in packet.reason_codes)
            return _packet(0x90, packet.packet_id.to_bytes(2, "big") + codes)
        case mqtt5.UnsubAckPacket():
            return _packet(0xB0, packet.packet_id.to_bytes(2, "big"))
        case mqtt5.PingRespPacket():
            return b"\xd0\x00"
    return None  # DISCONNECT from the server and AUTH are MQTT 5 only


class MqttCodec:
    """One connection's framing: :meth:`feed` bytes as they come, get whole packets;
    :meth:`encode` what to send. The version is the CONNECT's (until then, 5)."""

    def __init__(self, max_packet_size: int) -> None:
        self.version = MQTT_5
        self.max_packet_size = max_packet_size
        self._buffer = bytearray()
        self._connected = False

    def feed(self, data: bytes) -> list[mqtt5.Packet]:
        """The whole packets ``data`` completes; raises :class:`MqttProtocolError`."""
        self._buffer += data
        packets: list[mqtt5.Packet] = []
        while self._buffer:
            header = _fixed_header(memoryview(self._buffer))
            if header is None:
                break
            size = header[0] + header[1]
            if size > self.max_packet_size:
                raise MqttProtocolError(f"a packet of {size} bytes is over the limit")
            if len(self._buffer) < size:
                break
            raw = bytes(self._buffer[:size])
            del self._buffer[:size]
            packets.append(self._decode(raw))
        return packets

    def _decode(self, raw: bytes) -> mqtt5.Packet:
        if not self._connected:
            level = protocol_level(raw)
            if level not in (MQTT_311, MQTT_5):
                raise MqttProtocolError(f"protocol level {level} is not supported (4 or 5)")
            self.version = level
            self._connected = True
        elif raw[0] >> 4 == _CONNECT:
            raise MqttProtocolError("a second CONNECT")
        try:
            packet, _ = mqtt5.read(memoryview(_as_mqtt5(raw) if self.version == MQTT_311 else raw))
        except (IndexError, ValueError) as exc:
            raise MqttProtocolError(f"malformed packet: {exc}") from None
        return packet

    def encode(self, packet: mqtt5.Packet) -> bytes | None:
        """The packet's bytes in the connection's version; None when that version has
        no such packet (a server DISCONNECT to a 3.1.1 client: close the socket)."""
        if self.version == MQTT_311:
            return _as_mqtt311(packet)
        return packet.write()
