"""Namespaces and application events in process (docs/namespaces.md, docs/events.md): what
a namespace accepts and how each event travels, and that nothing crosses namespaces."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.runtime import open_log_tools
from api.settings import Settings
from proto.codec import envelope_from_bytes
from tests.inprocess.harness import Ws, make_settings, token

NAMESPACES = """
[namespaces.game]
max_room_members = 3
typing = false

[namespaces.game.events.move]
durable = true

[namespaces.game.events.move.schema]
type = "object"
required = ["x", "y"]
additionalProperties = false
properties = { x = { type = "integer" }, y = { type = "integer" } }

[namespaces.game.events.cursor]
durable = false

[namespaces.news]
create_rooms = false

[namespaces.quiet]
receipts = false
presence = false
history = false
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "namespaces.toml"
    path.write_text(NAMESPACES)
    return make_settings(tmp_path / "data", namespaces_file=path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def auth(settings: Settings, user: str, *namespaces: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, user, namespaces=namespaces)}"}


def room_in(
    client: TestClient, settings: Settings, namespace: str, *users: str, kind: str = "group"
) -> str:
    """A room of ``namespace`` owned by users[0], with the others as members."""
    owner = auth(settings, users[0], namespace)
    body = {"name": "r", "namespace": namespace, "kind": kind}
    created = client.post("/v1/rooms", json=body, headers=owner)
    assert created.status_code == 201, created.text
    room_id: str = created.json()["roomId"]
    for user in users[1:]:
        added = client.post(f"/v1/rooms/{room_id}/members", json={"userId": user}, headers=owner)
        assert added.status_code == 201, added.text
    return room_id


def until_online(client: TestClient, settings: Settings, room: str, user: str) -> None:
    """Waits until the projections show ``user`` online (presence is asynchronous; a
    volatile event's delivery count reads it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = client.get(f"/v1/rooms/{room}/presence", headers=auth(settings, user)).json()
        if any(r["userId"] == user and r["online"] for r in rows):
            return
        time.sleep(0.02)
    raise AssertionError(f"{user} never showed online")


def inbox_names(client: TestClient, settings: Settings, user: str, *namespaces: str) -> list[str]:
    events = client.get("/v1/inbox", headers=auth(settings, user, *namespaces)).json()["events"]
    return [e["event"].get("eventEmitted", {}).get("name", "") for e in events]


# ------------------------------------------------------------------ application events


def test_a_durable_event_is_logged_acked_with_its_position_and_pushed_to_members(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_in(client, settings, "default", "alice", "bob")
    alice, bob = connect("alice"), connect("bob")
    payload = {"cell": [1, 2], "label": "x", "ok": True, "note": None}
    reply = alice.command(
        "emit", name="board.mark", payload=payload, roomId=room, clientEventId="m-1"
    )
    event = reply["emit"]["event"]
    assert int(event["position"]) == 4  # created, alice and bob joined, this
    assert event["eventEmitted"] == {
        "roomId": room,
        "name": "board.mark",
        "payload": payload,
        "clientEventId": "m-1",
    }
    pushed = bob.push("event")
    assert pushed["event"]["eventEmitted"]["payload"] == payload
    again = alice.command("emit", name="board.mark", payload={}, roomId=room, clientEventId="m-1")
    assert again["emit"]["duplicate"] is True
    assert again["emit"]["event"]["eventId"] == event["eventId"]
    assert inbox_names(client, settings, "bob").count("board.mark") == 1


def test_a_volatile_event_reaches_connected_members_and_never_the_log(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_in(client, settings, "default", "alice", "bob", "carol")
    alice, bob = connect("alice"), connect("bob")
    until_online(client, settings, room, "bob")
    reply = alice.command("emit", name="cursor", payload={"x": 1}, roomId=room, volatile=True)
    assert reply["emit"]["delivered"] == 1  # bob is online, carol is not
    assert "event" not in reply["emit"]
    assert bob.push("app") == {
        "roomId": room,
        "userId": "alice",
        "name": "cursor",
        "payload": {"x": 1},
    }
    assert "cursor" not in inbox_names(client, settings, "bob")


def test_events_to_one_user_need_a_shared_room(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    shared = room_in(client, settings, "default", "alice", "bob")
    alice, bob = connect("alice"), connect("bob")
    until_online(client, settings, shared, "bob")
    ping = alice.command("emit", name="ping", payload=1, userId="bob", volatile=True)
    assert ping["emit"]["delivered"] == 1
    assert bob.push("app", name="ping") == {"userId": "alice", "name": "ping", "payload": 1}
    stranger = alice.command("emit", name="ping", payload=1, userId="mallory", volatile=True)
    assert stranger["error"]["code"] == "NOT_FOUND"
    durable = alice.command("emit", name="note", payload="hi", userId="bob")  # direct room
    pushed = bob.push("event")["event"]
    while "eventEmitted" not in pushed:  # the direct room's creation comes first
        pushed = bob.push("event")["event"]
    assert pushed["eventEmitted"]["payload"] == "hi"
    assert durable["emit"]["event"]["stream"] != f"room:{shared}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "", "payload": 1}, "event names"),
        ({"name": "bad name", "payload": 1}, "event names"),
        ({"name": "big", "payload": "x" * 20_000}, "bytes"),
        ({"name": "nowhere", "payload": 1}, "roomId or to a userId"),
    ],
)
def test_bad_events_get_invalid_argument(
    client: TestClient,
    settings: Settings,
    connect: Callable[..., Ws],
    body: dict[str, Any],
    message: str,
) -> None:
    room = room_in(client, settings, "default", "alice")
    alice = connect("alice")
    target = {} if body["name"] == "nowhere" else {"roomId": room}
    reply = alice.command("emit", **body, **target)
    assert reply["error"]["code"] == "INVALID_ARGUMENT"
    assert message in reply["error"]["message"]
    assert alice.command("emit", name="fine", payload=1, roomId=room)["emit"]["event"]


def test_a_non_member_cannot_emit(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_in(client, settings, "default", "alice")
    mallory = connect("mallory")
    for volatile in (False, True):
        reply = mallory.command("emit", name="x", payload=1, roomId=room, volatile=volatile)
        assert reply["error"]["code"] == "NOT_FOUND"


# ------------------------------------------------------------------ namespace rules


def test_a_namespace_checks_its_events_against_their_schemas(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_in(client, settings, "game", "alice", "bob")
    alice = connect("alice", namespace="game")
    bob = connect("bob", namespace="game")
    moved = alice.command("emit", name="move", payload={"x": 1, "y": 2}, roomId=room)
    assert int(moved["emit"]["event"]["position"]) == 4
    assert bob.push("event")["event"]["namespace"] == "game"
    wrong = alice.command("emit", name="move", payload={"x": "one", "y": 2}, roomId=room)
    assert wrong["error"]["code"] == "INVALID_ARGUMENT"
    assert "schema of 'move' at x" in wrong["error"]["message"]
    missing = alice.command("emit", name="move", payload={"x": 1}, roomId=room)
    assert "'y' is a required property" in missing["error"]["message"]
    unknown = alice.command("emit", name="chat", payload={}, roomId=room)
    assert "accepts no event named 'chat'" in unknown["error"]["message"]
    # The namespace makes cursor volatile whatever the client asks.
    cursor = alice.command("emit", name="cursor", payload={"x": 0}, roomId=room)
    assert cursor["emit"]["delivered"] == 1 and "event" not in cursor["emit"]
    assert bob.push("app", name="cursor")["payload"] == {"x": 0.0}


def test_a_namespace_limits_rooms_typing_and_room_creation(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_in(client, settings, "game", "alice", "bob", "carol")
    full = client.post(
        f"/v1/rooms/{room}/members",
        json={"userId": "dave"},
        headers=auth(settings, "alice", "game"),
    )
    assert full.status_code == 409 and "full" in full.json()["error"]["message"]
    alice = connect("alice", namespace="game")
    typing = alice.command("typing", roomId=room, typing=True)
    assert typing["error"]["code"] == "FORBIDDEN"
    news = client.post(
        "/v1/rooms",
        json={"name": "n", "namespace": "news"},
        headers=auth(settings, "alice", "news"),
    )
    assert news.status_code == 403


def test_a_namespace_the_token_does_not_grant_is_refused(
    client: TestClient, settings: Settings
) -> None:
    for granted, namespace, code in [
        ((), "game", "FORBIDDEN"),
        (("default",), "game", "FORBIDDEN"),
        (("game",), "nowhere", "NOT_FOUND"),
        (("game",), "", "FORBIDDEN"),  # a token for game alone does not grant default
    ]:
        with client.websocket_connect("/v1/ws") as session:
            ws = Ws(session)
            signed = token(settings, "alice", namespaces=granted)
            reply = ws.command("connect", token=signed, namespace=namespace)
            assert reply["error"]["code"] == code, (granted, namespace)
    created = client.post(
        "/v1/rooms", json={"name": "g", "namespace": "game"}, headers=auth(settings, "alice")
    )
    assert created.status_code == 403


def test_nothing_crosses_namespaces(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    game = room_in(client, settings, "game", "alice", "bob")
    lobby = room_in(client, settings, "default", "alice", "bob")
    bob_default = connect("bob")
    bob_game = connect("bob", namespace="game")
    alice_game = connect("alice", namespace="game")
    alice_default = connect("alice")
    alice_game.command("emit", name="move", payload={"x": 1, "y": 1}, roomId=game)
    alice_default.command("send", roomId=lobby, text="hello lobby")
    alice_game.command("emit", name="cursor", payload={"x": 1}, roomId=game)
    # Each of bob's connections sees its own namespace's events only.
    assert bob_game.push("event")["event"]["eventEmitted"]["name"] == "move"
    assert bob_game.push("app")["name"] == "cursor"
    assert bob_default.push("event")["event"]["messagePosted"]["text"] == "hello lobby"
    marker = alice_default.command("send", roomId=lobby, text="last")
    assert bob_default.push("event", event=marker["send"]["event"])
    assert not [p for p in bob_default.pushes if "app" in p]
    assert all(
        "eventEmitted" not in p.get("event", {}).get("event", {}) for p in bob_default.pushes
    )
    # A connection in default cannot act on, or read, game's rooms.
    refused: list[tuple[str, dict[str, Any]]] = [
        ("send", {"roomId": game, "text": "x"}),
        ("emit", {"name": "move", "payload": {"x": 1, "y": 1}, "roomId": game}),
        ("history", {"roomId": game}),
        ("follow", {"roomId": game}),
    ]
    for command, body in refused:
        assert alice_default.command(command, **body)["error"]["code"] == "NOT_FOUND", command
    # Over REST, a token sees the namespaces it grants and nothing else.
    only_default = auth(settings, "bob")
    rooms = {r["roomId"] for r in client.get("/v1/rooms", headers=only_default).json()}
    assert rooms == {lobby}
    assert client.get(f"/v1/rooms/{game}", headers=only_default).status_code == 404
    assert client.get(f"/v1/rooms/{game}/messages", headers=only_default).status_code == 404
    assert "move" not in inbox_names(client, settings, "bob")
    assert "move" in inbox_names(client, settings, "bob", "game")
    both = {
        r["roomId"]
        for r in client.get("/v1/rooms", headers=auth(settings, "bob", "default", "game")).json()
    }
    assert both == {lobby, game}


def test_a_namespace_connection_resumes_its_own_events_only(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    game = room_in(client, settings, "game", "alice", "bob")
    lobby = room_in(client, settings, "default", "alice", "bob")
    alice_game, alice_default = connect("alice", namespace="game"), connect("alice")
    for i in range(3):
        alice_game.command("emit", name="move", payload={"x": i, "y": 0}, roomId=game)
        alice_default.command("send", roomId=lobby, text=f"m{i}")
    signed = token(settings, "bob", namespaces=("game",))
    with client.websocket_connect("/v1/ws") as session:
        epoch = Ws(session).command("connect", token=signed, namespace="game")["connect"]["inbox"]
    with client.websocket_connect("/v1/ws") as session:
        ws = Ws(session)
        start = {"position": "0", "epoch": epoch["epoch"]}
        reply = ws.command("connect", token=signed, namespace="game", inbox=start)
        assert reply["connect"]["recovery"] == "RECOVERY_RECOVERED"
        assert int(reply["connect"]["missed"]) == 1 + 3  # bob joining game's room, 3 moves
        pushed = [ws.push("event")["event"] for _ in range(4)]
        assert "memberJoined" in pushed[0]
        assert [e["eventEmitted"]["name"] for e in pushed[1:]] == ["move", "move", "move"]


def test_a_namespace_can_turn_off_receipts_presence_and_history(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_in(client, settings, "quiet", "alice", "bob")
    alice = connect("alice", namespace="quiet")
    sent = alice.command("send", roomId=room, text="hi")["send"]["event"]
    read = alice.command("ack", roomId=room, kind="ACK_KIND_READ", upTo=sent["position"])
    assert read["error"]["code"] == "FORBIDDEN" and "receipts" in read["error"]["message"]
    delivered = alice.command("ack", roomId=room, kind="ACK_KIND_DELIVERED", upTo=sent["position"])
    assert "ack" in delivered
    assert alice.command("presence", status="PRESENCE_STATUS_AWAY")["error"]["code"] == "FORBIDDEN"
    assert alice.command("history", roomId=room)["error"]["code"] == "FORBIDDEN"
    presence = client.get(f"/v1/rooms/{room}/presence", headers=auth(settings, "alice", "quiet"))
    assert presence.json() == []


def test_events_can_be_emitted_over_rest(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    game = room_in(client, settings, "game", "alice", "bob")
    bob = connect("bob", namespace="game")
    headers = auth(settings, "alice", "game")
    body = {"name": "move", "payload": {"x": 1, "y": 2}, "clientEventId": "r-1"}
    emitted = client.post(f"/v1/rooms/{game}/events", json=body, headers=headers)
    assert emitted.status_code == 200, emitted.text
    event = emitted.json()["event"]
    assert event["namespace"] == "game" and event["eventEmitted"]["payload"] == {"x": 1, "y": 2}
    assert bob.push("event")["event"]["eventId"] == event["eventId"]
    again = client.post(f"/v1/rooms/{game}/events", json=body, headers=headers).json()
    assert again["duplicate"] is True and again["event"]["eventId"] == event["eventId"]
    wrong = client.post(
        f"/v1/rooms/{game}/events", json={"name": "move", "payload": {"x": "1"}}, headers=headers
    )
    assert wrong.status_code == 422 and "schema" in wrong.json()["error"]["message"]
    elsewhere = client.post(f"/v1/rooms/{game}/events", json=body, headers=auth(settings, "alice"))
    assert elsewhere.status_code == 404


def test_payloads_json_cannot_hold_are_invalid_arguments(
    client: TestClient, settings: Settings
) -> None:
    room = room_in(client, settings, "default", "alice")
    headers = auth(settings, "alice")
    big_int = client.post(
        f"/v1/rooms/{room}/events",
        content='{"name": "n", "payload": 123456789012345678901234567890}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert big_int.status_code == 422, big_int.text
    assert "cannot be kept as JSON" in big_int.json()["error"]["message"]


def test_a_pair_has_one_direct_room_per_namespace(client: TestClient, settings: Settings) -> None:
    in_default = client.post("/v1/direct/bob", headers=auth(settings, "alice"))
    in_game = client.post("/v1/direct/bob?namespace=game", headers=auth(settings, "alice", "game"))
    assert in_default.status_code == in_game.status_code == 201, in_game.text
    assert in_default.json()["roomId"] != in_game.json()["roomId"]
    again = client.post("/v1/direct/bob?namespace=game", headers=auth(settings, "alice", "game"))
    assert again.status_code == 200 and again.json()["roomId"] == in_game.json()["roomId"]
    refused = client.post("/v1/direct/bob?namespace=game", headers=auth(settings, "alice"))
    assert refused.status_code == 403


def configured(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """The NamespaceConfigured events in the log, in order."""

    async def scan() -> list[tuple[str, dict[str, Any]]]:
        tools = await open_log_tools(settings)
        try:
            found = []
            async for record in tools.scanner.scan():
                envelope = envelope_from_bytes(record.data)
                if envelope.HasField("namespace_configured"):
                    n = envelope.namespace_configured
                    found.append((n.name, json.loads(n.settings_json)))
            return found
        finally:
            await tools.close()

    return asyncio.run(scan())


def test_the_namespaces_file_is_recorded_in_the_log_when_it_changes(tmp_path: Path) -> None:
    first = tmp_path / "first.toml"
    first.write_text(NAMESPACES)
    settings = make_settings(tmp_path / "data", namespaces_file=first)
    names = ["game", "news", "quiet", "default"]  # file order; default, undeclared, last
    for _ in range(2):  # a restart with the same file records nothing new
        with TestClient(create_app(settings)):
            recorded = wait_for(lambda: configured(settings), len(names))
        assert [name for name, _ in recorded] == names
    assert recorded[0][1]["typing"] is False and recorded[0][1]["max_room_members"] == 3
    changed = tmp_path / "changed.toml"
    changed.write_text(NAMESPACES + "\n[namespaces.default]\ntyping = false\n")
    settings = make_settings(tmp_path / "data", namespaces_file=changed)
    with TestClient(create_app(settings)):
        recorded = wait_for(lambda: configured(settings), len(names) + 1)
    # default, recorded last, changed: one more event; the others were the same.
    assert [name for name, _ in recorded] == [*names, "default"]
    assert recorded[-1][1]["typing"] is False and recorded[3][1]["typing"] is True


def wait_for(read: Callable[[], list[Any]], count: int) -> list[Any]:
    deadline = time.monotonic() + 30
    while len(found := read()) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found
