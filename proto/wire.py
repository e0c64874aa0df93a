"""The client protocol on the wire: JSON text frames <-> ``tidings.v1`` client messages.

Inbound frames are parsed strictly (unknown fields are errors). Outbound frames are the
protobuf JSON mapping; inbox pushes are assembled from the envelope's JSON, encoded once per
event however many recipients it has.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from proto.jsonmap import to_dict
from proto.tidings.v1 import client_pb2 as cp
from proto.tidings.v1 import events_pb2 as pb

__all__ = [
    "COMMANDS",
    "ClientFrame",
    "ErrorCode",
    "Recovery",
    "WireError",
    "error_frame",
    "inbox_push_body",
    "inbox_push_frame",
    "message_to_dict",
    "parse_client_frame",
    "ping_frame",
    "presence_frame",
    "reply_frame",
    "room_push_frame",
    "typing_frame",
]

ClientFrame = cp.ClientFrame
ErrorCode = cp.ErrorCode
Recovery = cp.Recovery

COMMANDS = frozenset(f.name for f in cp.ClientFrame.DESCRIPTOR.oneofs_by_name["command"].fields)
_JSON_COMMANDS = {
    f.json_name: f.name for f in cp.ClientFrame.DESCRIPTOR.oneofs_by_name["command"].fields
} | {name: name for name in COMMANDS}


class WireError(ValueError):
    """A frame the server cannot accept; ``frame_id`` is echoed when it could be read."""

    def __init__(self, code: int, message: str, frame_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.frame_id = frame_id


def parse_client_frame(text: str | bytes) -> cp.ClientFrame:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise WireError(cp.BAD_REQUEST, f"frame is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WireError(cp.BAD_REQUEST, "frame must be a JSON object")
    frame_id = data.get("id", "")
    frame_id = frame_id if isinstance(frame_id, str) else ""
    commands = [key for key in data if key != "id"]
    unknown = [key for key in commands if key not in _JSON_COMMANDS]
    if unknown:
        raise WireError(cp.UNKNOWN_COMMAND, f"unknown command {unknown[0]!r}", frame_id)
    if len(commands) != 1:
        raise WireError(cp.BAD_REQUEST, "a frame carries exactly one command", frame_id)
    if not isinstance(data[commands[0]], dict):
        raise WireError(cp.BAD_REQUEST, f"command {commands[0]!r} must be a JSON object", frame_id)
    frame = _parse_simple(data, commands[0])
    if frame is None:
        frame = cp.ClientFrame()
        try:
            json_format.ParseDict(data, frame)
        except json_format.ParseError as exc:
            # One rule with REST (docs/protocol.md, "Bad input"): a frame that is not
            # well-formed is BAD_REQUEST; a value of the right type outside an enum or an
            # integer's range is INVALID_ARGUMENT (numbers outside an enum are refused by
            # the command handlers).
            code = cp.INVALID_ARGUMENT if _out_of_range(str(exc)) else cp.BAD_REQUEST
            raise WireError(code, str(exc), frame_id) from exc
    if not frame.id and frame.WhichOneof("command") != "pong":
        raise WireError(cp.BAD_REQUEST, "field 'id' is required", frame_id)
    return frame


def _out_of_range(parse_error: str) -> bool:
    return "Invalid enum value" in parse_error or "Value out of range" in parse_error


def _simple_fields(command: str) -> tuple[type[Message], dict[str, tuple[str, type]]]:
    """A command's message class, and JSON key -> (field name, Python type) of its string
    and bool fields."""
    descriptor = cp.ClientFrame.DESCRIPTOR.fields_by_name[command].message_type
    assert descriptor is not None
    kinds = {FieldDescriptor.TYPE_STRING: str, FieldDescriptor.TYPE_BOOL: bool}
    fields: dict[str, tuple[str, type]] = {}
    for field in descriptor.fields:
        if field.type in kinds and not field.is_repeated:
            fields[field.json_name] = fields[field.name] = (field.name, kinds[field.type])
    return getattr(cp, descriptor.name), fields


_SIMPLE = {name: _simple_fields(name) for name in COMMANDS}


def _parse_simple(data: dict[str, Any], key: str) -> cp.ClientFrame | None:
    """The frame of a command whose fields are all strings and bools with values of those
    types (send, join, typing...), built without json_format; None for anything else, which
    ParseDict then parses (and explains, if it is wrong)."""
    command = _JSON_COMMANDS[key]
    body = data[key]
    frame_id = data.get("id", "")
    if not isinstance(body, dict) or not isinstance(frame_id, str):
        return None
    message, fields = _SIMPLE[command]
    kwargs: dict[str, Any] = {}
    for name, value in body.items():
        spec = fields.get(name)
        if spec is None or type(value) is not spec[1] or spec[0] in kwargs:
            return None
        kwargs[spec[0]] = value
    frame = cp.ClientFrame(id=frame_id)
    try:
        body_message = getattr(frame, command)
        body_message.SetInParent()  # an empty command body is still that command
        body_message.MergeFrom(message(**kwargs))
    except (ValueError, TypeError):
        return None
    return frame


def message_to_dict(message: Message) -> dict[str, Any]:
    return to_dict(message)


def _dumps(frame: cp.ServerFrame) -> str:
    return orjson.dumps(message_to_dict(frame)).decode()


def reply_frame(frame_id: str, result_field: str, result: Message) -> str:
    if isinstance(result, cp.EventResult) and result.HasField("event"):
        return _event_reply_frame(frame_id, result_field, result)
    reply = cp.Reply(id=frame_id)
    getattr(reply, result_field).CopyFrom(result)
    return _dumps(cp.ServerFrame(reply=reply))


def _event_reply_frame(frame_id: str, result_field: str, result: cp.EventResult) -> str:
    """The reply to a command answered by an event, around the event's cached JSON (the
    same JSON its pushes carry)."""
    head = b'{"reply":{' + (b'"id":' + orjson.dumps(frame_id) + b"," if frame_id else b"")
    field = cp.Reply.DESCRIPTOR.fields_by_name[result_field].json_name.encode()
    duplicate = b',"duplicate":true' if result.duplicate else b""
    body = b'"' + field + b'":{"event":' + envelope_json(result.event) + duplicate + b"}}}"
    return (head + body).decode()


def error_frame(
    frame_id: str, code: int, message: str, temporary: bool = False, retry_after_ms: int = 0
) -> str:
    error = cp.Error(
        code=code,  # type: ignore[arg-type]
        message=message,
        temporary=temporary,
        retry_after_ms=retry_after_ms,
    )
    return _dumps(cp.ServerFrame(reply=cp.Reply(id=frame_id, error=error)))


def inbox_push_frame(position: int, epoch: str, envelope_json: bytes) -> str:
    """``{"push":{"event":{"position":"7","epoch":"…","event":{…}}}}`` without re-encoding."""
    head = orjson.dumps({"position": str(position), "epoch": epoch})[:-1]
    return (b'{"push":{"event":' + head + b',"event":' + envelope_json + b"}}}").decode()


_INBOX_PUSH_HEAD = len('{"push":{"event":')


def inbox_push_body(frame: str) -> str:
    """The ``{"position","epoch","event"}`` object of an :func:`inbox_push_frame`, as is
    (MQTT devices get it as their payload)."""
    return frame[_INBOX_PUSH_HEAD:-2]


def room_push_frame(epoch: str, envelope: pb.Envelope) -> str:
    """``{"push":{"room":{"epoch":"…","event":{…}}}}``: built once per room-stream event
    and written to every follower. The event is compact: it leaves out what the push
    already says (the payload's roomId: the stream names the room; a message's messageId:
    it is the eventId), the trace id and the log's epoch (docs/protocol.md)."""
    event = to_dict(envelope)
    event.pop("traceId", None)
    event.pop("epoch", None)
    kind = envelope.WhichOneof("payload")
    if kind is not None:
        payload = event[_JSON_NAMES[kind]]
        payload.pop("roomId", None)
        if kind == "message_posted":
            payload.pop("messageId", None)
    return orjson.dumps({"push": {"room": {"epoch": epoch, "event": event}}}).decode()


_JSON_NAMES = {f.name: f.json_name for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["payload"].fields}


def presence_frame(user_id: str, device_id: str, status: int, online: bool) -> str:
    notice = cp.PresenceNotice(
        user_id=user_id,
        device_id=device_id,
        status=status,  # type: ignore[arg-type]
        online=online,
    )
    return _dumps(cp.ServerFrame(push=cp.Push(presence=notice)))


def typing_frame(room_id: str, user_id: str, typing: bool) -> str:
    notice = cp.TypingNotice(room_id=room_id, user_id=user_id, typing=typing)
    return _dumps(cp.ServerFrame(push=cp.Push(typing=notice)))


def app_event_frame(room_id: str, user_id: str, name: str, payload: str) -> str:
    """A volatile application event; ``payload`` is JSON text, spliced in as it is."""
    head = _dumps(
        cp.ServerFrame(push=cp.Push(app=cp.AppEvent(room_id=room_id, user_id=user_id, name=name)))
    )
    # {"push":{"app":{...}}}: the payload goes in as the last field of the app object.
    return f'{head[:-3]},"payload":{payload}}}}}}}'


_PING = _dumps(cp.ServerFrame(push=cp.Push(ping=cp.Ping())))


def ping_frame() -> str:
    return _PING


_ENVELOPE_JSON: dict[tuple[str, str, int, int], bytes] = {}
_ENVELOPE_JSON_SIZE = 512


def envelope_json(envelope: pb.Envelope) -> bytes:
    """The envelope's JSON mapping, cached by event id for the latest events: an event is
    encoded once for its reply and every push. Id, epoch and time name one log entry, which
    never changes (the time tells apart logs that reuse an id, such as tests' fresh logs)."""
    at = envelope.occurred_at
    key = (envelope.event_id, envelope.epoch, at.seconds, at.nanos)
    data = _ENVELOPE_JSON.get(key)
    if data is None:
        data = _ENVELOPE_JSON[key] = orjson.dumps(to_dict(envelope))
        if len(_ENVELOPE_JSON) > _ENVELOPE_JSON_SIZE:
            del _ENVELOPE_JSON[next(iter(_ENVELOPE_JSON))]
    return data
