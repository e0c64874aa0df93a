"""Namespaces, application events and plugins end to end, in both modes (docs/namespaces.md,
docs/events.md, docs/plugins.md): real servers, real WebSocket clients, a real HTTP
endpoint for the webhook."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tidings_examples.webhook import sign

from tests.e2e.client import WsClient
from tests.e2e.conftest import FAST, Server, eventually, running
from tests.e2e.server import DistributedStack, ServerProcess, run_cli
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.timeout(300)

SECRET = "e2e-webhook-secret-0123456789"
WEBHOOK_DOWN_SECONDS = 30.0
"""How long the webhook endpoint stays down (the issue's scenario: down for 30 s)."""


def namespaces_file(path: Path, webhook_url: str) -> Path:
    path.write_text(
        f"""
[namespaces.default]
plugins = ["word_filter", "dice"]

[namespaces.game]
max_room_members = 4
typing = false

[namespaces.game.events.move]
durable = true

[namespaces.game.events.move.schema]
type = "object"
required = ["x", "y"]
properties = {{ x = {{ type = "integer" }}, y = {{ type = "integer" }} }}

[namespaces.game.events.cursor]
durable = false

[namespaces.hooks]
plugins = ["webhook"]

[plugins.word_filter]
words = ["darn"]

[plugins.webhook]
url = "{webhook_url}"
secret = "{SECRET}"
kinds = ["message_posted", "event_emitted"]
timeout_seconds = 2
"""
    )
    return path


class Deployment:
    """A server (or stack) with namespaces and plugins, and the webhook endpoint it posts to
    (not listening until a test starts it)."""

    def __init__(self, server: Server, receiver: WebhookReceiver) -> None:
        self.server = server
        self.receiver = receiver

    def http(self, user: str, *namespaces: str) -> httpx.Client:
        token = self.server.token(user, namespaces=namespaces)
        return httpx.Client(
            base_url=self.server.http_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        )

    def room(self, namespace: str, *users: str) -> str:
        with self.http(users[0], namespace) as owner:
            created = owner.post("/v1/rooms", json={"name": "e2e", "namespace": namespace})
            assert created.status_code == 201, created.text
            room_id: str = created.json()["roomId"]
            for user in users[1:]:
                added = owner.post(f"/v1/rooms/{room_id}/members", json={"userId": user})
                assert added.status_code == 201, added.text
        return room_id

    async def connect(
        self, user: str, namespace: str = "", gateway: int = 0, **options: Any
    ) -> WsClient:
        token = self.server.token(user, namespaces=(namespace,) if namespace else ())
        client, reply = await WsClient.connect(
            self.server.ws_urls[gateway], token, namespace=namespace, **options
        )
        assert "connect" in reply, reply
        return client


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp(f"namespaces-{request.param}")
    receiver = WebhookReceiver()  # its port is reserved; it listens when a test says so
    env = {
        **FAST,
        "TIDINGS_NAMESPACES_FILE": str(namespaces_file(workdir / "ns.toml", receiver.url)),
    }
    for server in running(request.param, workdir, env):
        yield Deployment(server, receiver)
    receiver.stop()


async def online(deployment: Deployment, room: str, user: str) -> None:
    """Waits until the projections show ``user`` online (a volatile event's delivery count
    reads them)."""

    def shown() -> bool:
        with deployment.http(user) as http:
            rows = http.get(f"/v1/rooms/{room}/presence").json()
        return any(r["userId"] == user and r["online"] for r in rows)

    await eventually(shown, timeout=30)


async def test_events_are_acked_with_positions_and_reach_members_once(
    deployment: Deployment,
) -> None:
    room = deployment.room("default", "alice", "bob")
    alice = await deployment.connect("alice")
    bob = await deployment.connect("bob", gateway=1)
    await online(deployment, room, "bob")
    durable = await alice.request(
        "emit", {"roomId": room, "name": "board.mark", "payload": {"cell": [1, 2]}}
    )
    event = durable["emit"]["event"]
    assert int(event["position"]) == 4 and event["eventEmitted"]["payload"] == {"cell": [1, 2]}
    pushed = await bob.next_event()
    while "eventEmitted" not in pushed["event"]:  # the room's earlier events may still come
        pushed = await bob.next_event()
    assert pushed["event"]["eventId"] == event["eventId"]
    volatile = await alice.request(
        "emit", {"roomId": room, "name": "cursor", "payload": {"x": 5}, "volatile": True}
    )
    assert volatile["emit"]["delivered"] == 1 and "event" not in volatile["emit"]
    assert (await bob.next_notice("app"))["payload"] == {"x": 5}
    # The volatile event is nowhere in the log: bob's inbox holds the durable one only.
    with deployment.http("bob") as http:
        inbox = http.get("/v1/inbox").json()["events"]
    names = [e["event"]["eventEmitted"]["name"] for e in inbox if "eventEmitted" in e["event"]]
    assert names == ["board.mark"]
    await alice.close()
    await bob.close()


async def test_two_namespaces_do_not_see_each_other(deployment: Deployment) -> None:
    game = deployment.room("game", "gina", "hal")
    lobby = deployment.room("default", "gina", "hal")
    hal_default = await deployment.connect("hal")
    hal_game = await deployment.connect("hal", "game", gateway=1)
    gina_game = await deployment.connect("gina", "game")
    gina_default = await deployment.connect("gina", gateway=1)
    await gina_game.request("emit", {"roomId": game, "name": "move", "payload": {"x": 1, "y": 2}})
    await gina_game.request(
        "emit", {"roomId": game, "name": "cursor", "payload": {"x": 1}, "volatile": True}
    )
    # gina's presence in game, and her cursor, reach hal's game connection...
    game_notices: list[dict[str, Any]] = []

    def seen_in_game() -> bool:
        while not hal_game.notices.empty():
            game_notices.append(hal_game.notices.get_nowait())
        presence = [n["presence"] for n in game_notices if "presence" in n]
        gina = [p for p in presence if p["userId"] == "gina" and p["deviceId"].startswith("game:")]
        return bool(gina) and any(n.get("app", {}).get("name") == "cursor" for n in game_notices)

    await eventually(seen_in_game, timeout=30)
    await gina_default.request("send", {"roomId": lobby, "text": "sentinel"})
    # hal's default connection: the lobby's message, nothing of game (its events, its
    # volatile cursor, gina's presence there).
    before = await hal_default.events_before("sentinel")
    assert all("eventEmitted" not in e["event"] for e in before)
    notices = []
    while not hal_default.notices.empty():
        notices.append(hal_default.notices.get_nowait())
    assert not [n for n in notices if "app" in n]
    assert not [n for n in notices if n.get("presence", {}).get("deviceId", "").startswith("game:")]
    # hal's game connection: game's events, and no lobby message.
    moved = await hal_game.next_event()
    while "eventEmitted" not in moved["event"]:
        assert "messagePosted" not in moved["event"]
        moved = await hal_game.next_event()
    assert moved["event"]["namespace"] == "game"
    # Commands and reads across namespaces find nothing.
    crossing: list[tuple[str, dict[str, Any]]] = [
        ("send", {"roomId": game, "text": "x"}),
        ("history", {"roomId": game}),
        ("emit", {"roomId": lobby, "name": "move", "payload": {"x": 1, "y": 1}}),
    ]
    for command, body in crossing:
        client = hal_default if command != "emit" else hal_game
        reply = await client.request(command, body)
        assert reply["error"]["code"] == "NOT_FOUND", (command, reply)
    with deployment.http("hal") as only_default:
        assert {r["roomId"] for r in only_default.get("/v1/rooms").json()} >= {lobby}
        assert game not in {r["roomId"] for r in only_default.get("/v1/rooms").json()}
        assert only_default.get(f"/v1/rooms/{game}/messages").status_code == 404
        assert only_default.get(f"/v1/rooms/{game}/presence").status_code == 404
    with deployment.http("hal", "game") as only_game:
        assert {r["roomId"] for r in only_game.get("/v1/rooms").json()} == {game}
    # A token without the namespace is refused there.
    refused, reply = await WsClient.connect(
        deployment.server.ws_url, deployment.server.token("hal"), namespace="game"
    )
    assert reply["error"]["code"] == "FORBIDDEN"
    assert await refused.closed() == 4001
    for client in (hal_default, hal_game, gina_game, gina_default):
        await client.close()


async def test_a_schema_invalid_payload_gets_its_documented_error(
    deployment: Deployment,
) -> None:
    game = deployment.room("game", "ivy")
    ivy = await deployment.connect("ivy", "game")
    bad = await ivy.request("emit", {"roomId": game, "name": "move", "payload": {"x": "1"}})
    assert bad["error"]["code"] == "INVALID_ARGUMENT"
    assert "does not match the schema of 'move'" in bad["error"]["message"]
    unknown = await ivy.request("emit", {"roomId": game, "name": "chat", "payload": 1})
    assert unknown["error"]["code"] == "INVALID_ARGUMENT"
    good = await ivy.request("emit", {"roomId": game, "name": "move", "payload": {"x": 1, "y": 1}})
    assert int(good["emit"]["event"]["position"]) == 3
    await ivy.close()


async def test_a_durable_event_survives_a_sigkill_and_is_resumed_once(
    deployment: Deployment,
) -> None:
    room = deployment.room("default", "jo", "kim")
    kim = await deployment.connect("kim")
    position, epoch = kim.position, kim.epoch
    await kim.close()
    jo = await deployment.connect("jo")
    acked = []
    for i in range(5):
        body = {"roomId": room, "name": "step", "payload": {"i": i}, "clientEventId": f"s{i}"}
        acked.append((await jo.request("emit", body))["emit"]["event"]["eventId"])
    await jo.close()
    server = deployment.server
    if isinstance(server, ServerProcess):
        server.kill()
        server.restart()
    else:
        assert isinstance(server, DistributedStack)
        server.processor.kill()
        server.kill_gateway(0)
        server.start_gateway(0)
        server.heal()  # the processor, and one command through the whole pipeline
    kim = await deployment.connect("kim", position=position, epoch=epoch)
    jo = await deployment.connect("jo")
    resent = await jo.request(
        "emit", {"roomId": room, "name": "step", "payload": {}, "clientEventId": "s4"}
    )
    assert resent["emit"]["duplicate"] is True
    assert resent["emit"]["event"]["eventId"] == acked[-1]
    await jo.request("send", {"roomId": room, "text": "after"})
    before = await kim.events_before("after")
    resumed = [e["event"]["eventId"] for e in before if "eventEmitted" in e["event"]]
    assert resumed == acked  # each once, in order, none lost
    await kim.close()
    await jo.close()


async def test_the_example_plugins_filter_and_answer(deployment: Deployment) -> None:
    room = deployment.room("default", "lee", "max")
    lee = await deployment.connect("lee")
    max_ = await deployment.connect("max", gateway=1)
    sent = await lee.request("send", {"roomId": room, "text": "darn it"})
    assert sent["send"]["event"]["messagePosted"]["text"] == "**** it"
    rolled = await lee.request(
        "emit", {"roomId": room, "name": "dice.roll", "payload": {"sides": 6}, "volatile": True}
    )
    answer = rolled["emit"]["answer"]
    assert 1 <= answer["roll"] <= 6 and answer["by"] == "lee"
    # The roll itself and the bot's report, in either order (volatile relays are unordered).
    told = {n["name"]: n for n in [await max_.next_notice("app"), await max_.next_notice("app")]}
    assert told["dice.rolled"]["payload"] == answer and told["dice.roll"]["userId"] == "lee"
    await lee.close()
    await max_.close()


async def test_the_namespaces_file_is_recorded_in_the_log(deployment: Deployment) -> None:
    async def recorded() -> set[str]:
        _, out = await run_cli(deployment.server, "audit", "export", "--all")
        events = [json.loads(line) for line in out.splitlines()]
        return {e["namespaceConfigured"]["name"] for e in events if "namespaceConfigured" in e}

    deadline = time.monotonic() + 120  # gateways record them in the background at start
    while (names := await recorded()) != {"default", "game", "hooks"}:
        assert time.monotonic() < deadline, names
        await asyncio.sleep(0.5)


async def test_a_webhook_down_for_30_s_then_receives_everything_once_in_order(
    deployment: Deployment,
) -> None:
    """Runs last in the module: the webhook endpoint has been down since the start."""
    rooms = [deployment.room("hooks", "nia"), deployment.room("hooks", "nia")]
    nia = await deployment.connect("nia", "hooks")
    started = time.monotonic()
    sent: dict[str, list[str]] = {room: [] for room in rooms}
    for i in range(10):
        for room in rooms:
            if i % 2:
                reply = await nia.request("send", {"roomId": room, "text": f"t{i}"})
                sent[room].append(reply["send"]["event"]["eventId"])
            else:
                body = {"roomId": room, "name": "tick", "payload": i}
                reply = await nia.request("emit", body)
                sent[room].append(reply["emit"]["event"]["eventId"])
    await nia.close()
    # The scenario itself, not a wait for a condition: the endpoint stays down (nothing
    # listens on its port) for 30 s while the observers keep retrying.
    await asyncio.sleep(max(0.0, WEBHOOK_DOWN_SECONDS - (time.monotonic() - started)))
    assert deployment.receiver.events() == []
    deployment.receiver.start()
    expected = sum(len(ids) for ids in sent.values())
    await eventually(lambda: len(deployment.receiver.events()) >= expected, timeout=90)
    received = deployment.receiver.received
    ids = [event["eventId"] for _, event, _ in received]
    assert len(ids) == len(set(ids)) == expected  # each once
    for room_ids in sent.values():
        assert [i for i in ids if i in set(room_ids)] == room_ids  # in order per room
    headers, _, raw = received[0]
    assert hmac.compare_digest(headers["X-Tidings-Signature"], sign(SECRET, raw))


async def test_the_directory_and_namespaced_keys_do_not_cross_namespaces(
    deployment: Deployment,
) -> None:
    with deployment.http("nora", "game") as nora, deployment.http("dan") as dan:
        game = nora.post("/v1/rooms", json={"name": "arena-dir", "namespace": "game"})
        plain = dan.post("/v1/rooms", json={"name": "arena-dir"})
        assert game.status_code == plain.status_code == 201
        game_id, plain_id = game.json()["roomId"], plain.json()["roomId"]
        seen_by_game = [
            r["roomId"] for r in nora.get("/v1/rooms/public?q=arena-dir").json()["rooms"]
        ]
        seen_by_default = [
            r["roomId"] for r in dan.get("/v1/rooms/public?q=arena-dir").json()["rooms"]
        ]
    assert seen_by_game == [game_id]
    assert seen_by_default == [plain_id]
    code, key = await run_cli(
        deployment.server,
        "apikey",
        "create",
        "--name",
        "game-bot",
        "--scope",
        "read",
        "--scope",
        "publish",
        "--namespace",
        "game",
    )
    assert code == 0
    headers = {"Authorization": f"Bearer {key.strip()}"}
    async with httpx.AsyncClient(
        base_url=deployment.server.http_url + "/api", headers=headers
    ) as api:

        async def listed() -> list[str] | None:
            answer = await api.get("/v1/rooms", params={"q": "arena-dir"})
            return (
                [r["roomId"] for r in answer.json()["rooms"]] if answer.status_code == 200 else None
            )

        assert await eventually(listed, timeout=30) == [game_id]
        outside = await api.post(f"/v1/rooms/{plain_id}/messages", json={"text": "hi"})
        assert outside.status_code == 404
        inside = await api.post(f"/v1/rooms/{game_id}/messages", json={"text": "hi"})
        assert inside.status_code == 201, inside.text
