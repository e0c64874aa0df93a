"""One protocol vocabulary (ADR 0019, docs/protocol.md "Bad input" and "One vocabulary"):
each class of bad input gets the same error code on the WebSocket and over REST; positions,
roles and statuses follow the one documented translation between the two; the connect
reply's ``inbox.position`` and ``missed`` mean what the docs say; presence follows connects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.settings import Settings
from proto.tidings.v1 import events_pb2 as pb
from tests.inprocess.harness import Ws, bearer, shared_room, token

# (class of bad input, the WebSocket command body, the REST request: method, path, body)
# with "{room}" standing for a room both may use. Each pair is the same mistake.
BAD_INPUT: list[tuple[str, str, str, Any, tuple[str, str, Any]]] = [
    ("not JSON", "BAD_REQUEST", "raw", '{"id":"1","send":', ("POST", "messages", b'{"text":')),
    ("not an object", "BAD_REQUEST", "raw", "[1]", ("POST", "messages", b"[1]")),
    (
        "unknown field",
        "BAD_REQUEST",
        "send",
        {"text": "x", "colour": "red"},
        ("POST", "messages", {"text": "x", "colour": "red"}),
    ),
    ("wrong type", "BAD_REQUEST", "send", {"text": 9}, ("POST", "messages", {"text": 9})),
    (
        "not an integer",
        "BAD_REQUEST",
        "history",
        {"limit": "ten"},
        ("GET", "messages?limit=ten", None),
    ),
    ("missing value", "INVALID_ARGUMENT", "send", {}, ("POST", "messages", {})),
    ("empty value", "INVALID_ARGUMENT", "send", {"text": ""}, ("POST", "messages", {"text": ""})),
    (
        "too long",
        "INVALID_ARGUMENT",
        "send",
        {"text": "x" * 5000},
        ("POST", "messages", {"text": "x" * 5000}),
    ),
    ("zero limit", "INVALID_ARGUMENT", "history", {"limit": 0}, ("GET", "messages?limit=0", None)),
    (
        "beyond int64",
        "INVALID_ARGUMENT",
        "history",
        {"before": str(2**63)},
        ("GET", f"messages?before={2**63}", None),
    ),
    (
        "a rule of the domain",
        "INVALID_ARGUMENT",
        "emit",
        {"name": "poke", "userId": "bad\u001eid"},
        ("POST", "members", {"userId": "bad\u001eid"}),
    ),
    (
        "not an enum name",
        "INVALID_ARGUMENT",
        "presence",
        {"status": "PRESENCE_STATUS_BORED"},
        ("POST", "members", {"userId": "zed", "role": "king"}),
    ),
]
REST_STATUS = {"BAD_REQUEST": 400, "INVALID_ARGUMENT": 422}


@pytest.mark.parametrize(
    ("case", "code", "command", "body", "rest"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT]
)
def test_each_class_of_bad_input_gets_one_code_on_both_transports(
    client: TestClient,
    settings: Settings,
    connect: Callable[..., Ws],
    case: str,
    code: str,
    command: str,
    body: Any,
    rest: tuple[str, str, Any],
) -> None:
    room = shared_room(client, settings, "alice")
    ws = connect("alice")
    if command == "raw":
        ws.session.send_text(body)
    else:
        if command in ("send", "history"):
            body = {"roomId": room, **body}
        ws.session.send_text(json.dumps({"id": "bad", command: body}))
    reply = ws.until(lambda f: "reply" in f)["reply"]
    assert reply["error"]["code"] == code, (case, reply)

    method, path, payload = rest
    headers = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    url = f"/v1/rooms/{room}/{path}"
    if isinstance(payload, bytes):
        headers["Content-Type"] = "application/json"
        answer = client.request(method, url, content=payload, headers=headers)
    else:
        answer = client.request(method, url, json=payload, headers=headers)
    assert answer.status_code == REST_STATUS[code], (case, answer.text)
    assert answer.json()["error"]["code"] == code
    assert ".9" not in answer.json()["error"]["message"]  # fields by name, not by offset


def test_positions_roles_and_statuses_follow_the_one_translation(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    """WebSocket frames are the protobuf JSON mapping (int64 as decimal strings, enum values
    by their full names); REST resources carry numbers and the names' last word in lower
    case (ROLE_OWNER is "owner"). Envelopes are the protobuf mapping on both."""
    room = shared_room(client, settings, "alice", "bob")
    headers = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    alice = connect("alice", device="laptop")
    sent = alice.command("send", roomId=room, text="hello")["send"]
    ws_history = alice.command("history", roomId=room)["history"]["messages"][-1]
    rest_history = client.get(f"/v1/rooms/{room}/messages", headers=headers).json()["messages"]
    assert ws_history["position"] == str(rest_history[-1]["position"])
    assert sent["event"]["position"] == ws_history["position"]
    rest_sent = client.post(f"/v1/rooms/{room}/messages", json={"text": "again"}, headers=headers)
    assert isinstance(rest_sent.json()["event"]["position"], str)  # an envelope: protobuf

    members = client.get(f"/v1/rooms/{room}/members", headers=headers).json()
    assert {m["role"] for m in members} <= {rest_name(n) for n in names(pb.Role)}
    alice.command("presence", status="PRESENCE_STATUS_AWAY")
    presence = client.get(f"/v1/rooms/{room}/presence", headers=headers).json()
    mine = [p["devices"]["laptop"] for p in presence if p["userId"] == "alice"]
    assert mine == [rest_name("PRESENCE_STATUS_AWAY")] == ["away"], presence

    # Every enum REST shows is the translation of the protobuf enum's names.
    spec = client.get("/openapi.json").json()["components"]["schemas"]
    for schema, field, enum in (
        ("MemberOut", "role", pb.Role),
        ("PresenceOut", "devices", pb.PresenceStatus),
        ("RoomOut", "kind", pb.RoomKind),
    ):
        rest_values = set(_enum_of(spec[schema]["properties"][field]))
        proto_values = {rest_name(n) for n in names(enum) if not n.endswith("_UNSPECIFIED")}
        assert rest_values == proto_values, (schema, field)


def rest_name(proto_name: str) -> str:
    """The documented translation: ROLE_OWNER -> owner, PRESENCE_STATUS_AWAY -> away."""
    prefixes = ("PRESENCE_STATUS_", "ROOM_KIND_", "ROLE_", "ACK_KIND_")
    for prefix in prefixes:
        if proto_name.startswith(prefix):
            return proto_name[len(prefix) :].lower()
    raise AssertionError(proto_name)


def names(enum: Any) -> list[str]:
    return list(enum.DESCRIPTOR.values_by_name)


def _enum_of(prop: dict[str, Any]) -> list[str]:
    if "enum" in prop:
        return list(prop["enum"])
    if isinstance(prop.get("additionalProperties"), dict):
        return _enum_of(prop["additionalProperties"])
    for option in prop.get("anyOf", []) + prop.get("allOf", []):
        if "enum" in option:
            return list(option["enum"])
    raise AssertionError(prop)


def test_the_connect_reply_says_where_pushes_continue_and_how_many_are_replayed(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = shared_room(client, settings, "alice", "bob")
    connect("bob", device="phone")
    head = int(client.get("/v1/inbox?after=0", headers=bearer(settings, "bob")).json()["head"])
    alice = connect("alice")
    for text in ("one", "two", "three"):
        alice.command("send", roomId=room, text=text)
    with client.websocket_connect("/v1/ws") as session:
        again = Ws(session)
        reply = again.command(
            "connect",
            token=token(settings, "bob"),
            deviceId="phone",
            inbox={"position": str(head), "epoch": _epoch(client, settings)},
        )["connect"]
        assert reply["recovery"] == "RECOVERY_RECOVERED"
        assert reply["inbox"]["position"] == str(head)  # pushes continue after your position
        replayed = [again.push("event") for _ in range(int(reply["missed"]))]
        assert [int(e["position"]) for e in replayed] == list(range(head + 1, head + 4))
    with client.websocket_connect("/v1/ws") as session:
        fresh = Ws(session).command("connect", token=token(settings, "bob"))["connect"]
        assert fresh["recovery"] == "RECOVERY_NOT_REQUESTED"
        assert fresh["inbox"]["position"] == str(head + 3)  # the head: nothing is replayed
        assert "missed" not in fresh  # zero, omitted by the protobuf JSON mapping


def _epoch(client: TestClient, settings: Settings) -> str:
    return str(client.get("/v1/inbox?after=0", headers=bearer(settings, "bob")).json()["epoch"])


def test_an_away_device_that_reconnects_within_the_grace_period_is_online_again(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    shared_room(client, settings, "alice", "bob")
    alice = connect("alice")
    bob = connect("bob", device="phone")
    alice.push("presence", userId="bob", status="PRESENCE_STATUS_ONLINE")
    bob.command("presence", status="PRESENCE_STATUS_AWAY")
    alice.push("presence", userId="bob", status="PRESENCE_STATUS_AWAY")
    bob.session.close()
    with client.websocket_connect("/v1/ws") as session:  # within the grace period
        Ws(session).command("connect", token=token(settings, "bob"), deviceId="phone")
        assert alice.push("presence", userId="bob", status="PRESENCE_STATUS_ONLINE")["online"]
