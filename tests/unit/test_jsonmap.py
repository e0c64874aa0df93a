"""The fast JSON paths must give exactly json_format's answers (the documented mapping)."""

from __future__ import annotations

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from proto.codec import encode_event
from proto.jsonmap import to_dict
from proto.tidings.v1 import client_pb2 as cp
from proto.tidings.v1 import events_pb2 as pb
from proto.wire import WireError, parse_client_frame, reply_frame
from tests.unit.test_codec import every_kind_of_event


def server_frames() -> list[Message]:
    envelopes = [encode_event(e, "epoch-1") for e in every_kind_of_event()]
    frames: list[Message] = [
        cp.ServerFrame(reply=cp.Reply(id="1", send=cp.EventResult(event=e, duplicate=d)))
        for e in envelopes
        for d in (False, True)
    ]
    frames += [
        cp.ServerFrame(push=cp.Push(event=cp.InboxEvent(position=p, epoch="e", event=e)))
        for p, e in enumerate(envelopes)
    ]
    frames += [
        cp.ServerFrame(
            reply=cp.Reply(
                id="c",
                connect=cp.ConnectResult(
                    user_id="alice",
                    device_id="d",
                    inbox=cp.StreamPosition(position=2**62, epoch="e"),
                    recovery=cp.RECOVERY_RECOVERED,
                    missed=3,
                    heartbeat_interval_ms=25000,
                ),
            )
        ),
        cp.ServerFrame(reply=cp.Reply(id="x", error=cp.Error(code=cp.FORBIDDEN, message="m"))),
        cp.ServerFrame(reply=cp.Reply(id="l", leave=cp.Empty())),
        cp.ServerFrame(
            reply=cp.Reply(
                id="h",
                history=cp.HistoryResult(
                    messages=[cp.TimelineItem(position=1, text="t", edited=True)], has_more=True
                ),
            )
        ),
        cp.ServerFrame(push=cp.Push(ping=cp.Ping())),
        cp.ServerFrame(
            push=cp.Push(presence=cp.PresenceNotice(user_id="u", status=pb.PRESENCE_STATUS_AWAY))
        ),
        cp.Reply(id="unknown-enum", error=cp.Error(code=999)),  # type: ignore[arg-type]
    ]
    return frames


@pytest.mark.parametrize("message", server_frames())
def test_to_dict_equals_json_format(message: Message) -> None:
    assert to_dict(message) == json_format.MessageToDict(message)


@pytest.mark.parametrize("duplicate", [False, True])
@pytest.mark.parametrize("frame_id", ["", "7", 'q"uote'])
@pytest.mark.parametrize("field", ["send", "edit", "delete", "ack"])
def test_event_replies_equal_json_format(field: str, frame_id: str, duplicate: bool) -> None:
    for event in every_kind_of_event():
        result = cp.EventResult(event=encode_event(event, "e"), duplicate=duplicate)
        reply = cp.Reply(id=frame_id)
        getattr(reply, field).CopyFrom(result)
        expected = json_format.MessageToDict(cp.ServerFrame(reply=reply))
        assert orjson.loads(reply_frame(frame_id, field, result)) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"id":"1","send":{"roomId":"r","clientMsgId":"c","text":"hi ✓"}}',
        '{"id":"1","send":{"room_id":"r","text":""}}',
        '{"id":"1","send":{}}',
        '{"id":"2","join":{"roomId":"r"}}',
        '{"id":"3","typing":{"roomId":"r","typing":true}}',
        '{"id":"4","ack":{"roomId":"r","kind":"ACK_KIND_READ","upTo":"7"}}',
        '{"id":"5","history":{"roomId":"r","before":3,"limit":2}}',
        '{"pong":{}}',
    ],
)
def test_parsed_frames_equal_json_format(text: str) -> None:
    expected = json_format.Parse(text, cp.ClientFrame())
    assert parse_client_frame(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"id":"1","send":{"roomId":1}}',
        '{"id":"1","send":{"roomId":"r","nope":"x"}}',
        '{"id":"1","typing":{"typing":"yes"}}',
    ],
)
def test_bad_frames_are_still_refused_by_json_format(text: str) -> None:
    with pytest.raises(WireError):
        parse_client_frame(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"id":"1","ack":{"roomId":"r","kind":"FOO","upTo":"1"}}', cp.INVALID_ARGUMENT),
        ('{"id":"1","presence":{"status":"AWAY"}}', cp.INVALID_ARGUMENT),
        ('{"id":"1","send":null}', cp.BAD_REQUEST),
        ('{"id":"1","send":{"roomId":["r"]}}', cp.BAD_REQUEST),
        ('{"id":"1","history":{"roomId":"r","limit":"ten"}}', cp.BAD_REQUEST),
        (
            f'{{"id":"1","ack":{{"roomId":"r","kind":"ACK_KIND_READ","upTo":"{2**63}"}}}}',
            cp.INVALID_ARGUMENT,
        ),
        (f'{{"id":"1","history":{{"roomId":"r","limit":{2**31}}}}}', cp.INVALID_ARGUMENT),
    ],
)
def test_bad_frames_follow_the_rule_rest_follows(text: str, code: int) -> None:
    """The same rule as REST: a frame that is not well-formed is BAD_REQUEST (400), a value
    of the right type outside an enum or an integer's range is INVALID_ARGUMENT (422)."""
    with pytest.raises(WireError) as refused:
        parse_client_frame(text)
    assert refused.value.code == code
