"""Plugins in process (docs/plugins.md): the three example plugins, loaded from their entry
points, and how the host contains plugins that fail."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tidings_examples.webhook import sign

import api.runtime
from api.app import create_app
from api.metrics import PLUGIN_HOOKS
from api.plugins import Call, Emitter, Inbound, Plugin, Plugins, Reject, load_plugins
from api.settings import Settings
from domain.namespaces import Namespaces
from tests.inprocess.harness import Ws, make_settings, token
from tests.webhook_receiver import WebhookReceiver

SECRET = "webhook-secret-0123456789"


def namespaces_file(tmp_path: Path, webhook_url: str) -> Path:
    path = tmp_path / "namespaces.toml"
    path.write_text(
        f"""
[namespaces.default]
plugins = ["word_filter", "dice", "webhook"]

[plugins.word_filter]
words = ["darn", "heck"]

[plugins.webhook]
url = "{webhook_url}"
secret = "{SECRET}"
kinds = ["message_posted", "event_emitted"]
"""
    )
    return path


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def settings(tmp_path: Path, receiver: WebhookReceiver) -> Settings:
    return make_settings(tmp_path / "data", namespaces_file=namespaces_file(tmp_path, receiver.url))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def auth(settings: Settings, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, user)}"}


def room_of(client: TestClient, settings: Settings, *users: str) -> str:
    created = client.post("/v1/rooms", json={"name": "p"}, headers=auth(settings, users[0]))
    room_id: str = created.json()["roomId"]
    for user in users[1:]:
        client.post(
            f"/v1/rooms/{room_id}/members", json={"userId": user}, headers=auth(settings, users[0])
        )
    return room_id


def wait_until(condition: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)
    return result


# ------------------------------------------------------------------ the examples


def test_the_word_filter_masks_messages_and_event_payloads(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_of(client, settings, "alice", "bob")
    alice = connect("alice")
    sent = alice.command("send", roomId=room, text="Darn, what the heck")
    assert sent["send"]["event"]["messagePosted"]["text"] == "****, what the ****"
    over_rest = client.post(
        f"/v1/rooms/{room}/messages", json={"text": "oh darn"}, headers=auth(settings, "alice")
    )
    assert over_rest.json()["event"]["messagePosted"]["text"] == "oh ****"
    emitted = alice.command("emit", name="note", payload={"t": ["darned", "darn"]}, roomId=room)
    assert emitted["emit"]["event"]["eventEmitted"]["payload"] == {"t": ["darned", "****"]}


def test_the_dice_bot_answers_and_tells_the_room(
    client: TestClient, settings: Settings, connect: Callable[..., Ws]
) -> None:
    room = room_of(client, settings, "alice", "bob")
    alice, bob = connect("alice"), connect("bob")
    reply = alice.command("emit", name="dice.roll", payload={"sides": 20}, roomId=room)
    answer = reply["emit"]["answer"]
    assert 1 <= answer["roll"] <= 20 and answer["sides"] == 20 and answer["by"] == "alice"
    assert reply["emit"]["event"]["eventEmitted"]["name"] == "dice.roll"  # durable here
    assert bob.push("app", name="dice.rolled")["payload"] == answer
    echo = alice.command("emit", name="echo", payload=[1, "two"], roomId=room, volatile=True)
    assert echo["emit"]["answer"] == [1, "two"]
    bad = alice.command("emit", name="dice.roll", payload={"sides": 1000}, roomId=room)
    assert "error" in bad["emit"]["answer"]


def test_the_webhook_posts_logged_events_signed_in_order(
    client: TestClient, settings: Settings, connect: Callable[..., Ws], receiver: WebhookReceiver
) -> None:
    room = room_of(client, settings, "alice")
    alice = connect("alice")
    sent = [alice.command("send", roomId=room, text=f"m{i}")["send"]["event"] for i in range(5)]
    alice.command("emit", name="cursor", payload=1, roomId=room, volatile=True)  # not logged
    wait_until(lambda: len(receiver.events()) >= 5)
    assert [e["eventId"] for e in receiver.events()] == [e["eventId"] for e in sent]
    headers, event, body = receiver.received[0]
    assert hmac.compare_digest(headers["X-Tidings-Signature"], sign(SECRET, body))
    assert headers["X-Tidings-Event-Id"] == event["eventId"]


def test_the_webhook_resumes_after_a_restart_without_resending(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    settings = make_settings(
        tmp_path / "data", namespaces_file=namespaces_file(tmp_path, receiver.url)
    )
    with TestClient(create_app(settings)) as client:
        room = room_of(client, settings, "alice")
        for i in range(3):
            client.post(
                f"/v1/rooms/{room}/messages",
                json={"text": f"a{i}"},
                headers=auth(settings, "alice"),
            )
        wait_until(lambda: len(receiver.events()) >= 3)
    with TestClient(create_app(settings)) as client:
        client.post(
            f"/v1/rooms/{room}/messages", json={"text": "b"}, headers=auth(settings, "alice")
        )
        wait_until(lambda: len(receiver.events()) >= 4)
        texts = [e["messagePosted"]["text"] for e in receiver.events()]
        assert texts == ["a0", "a1", "a2", "b"]


def test_a_bad_plugin_setting_stops_the_start_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "namespaces.toml"
    path.write_text(
        '[namespaces.default]\nplugins = ["webhook"]\n[plugins.webhook]\nurl = "ftp://x"\n'
    )
    settings = make_settings(tmp_path / "data", namespaces_file=path)
    with (
        pytest.raises(ValueError, match="plugin 'webhook' did not start: url must be"),
        TestClient(create_app(settings)),
    ):
        pass
    path = tmp_path / "other.toml"  # files are read once per path
    path.write_text('[namespaces.default]\nplugins = ["nonesuch"]\n')
    settings = make_settings(tmp_path / "data2", namespaces_file=path)
    with (
        pytest.raises(ValueError, match=r"plugin 'nonesuch' .* is not installed"),
        TestClient(create_app(settings)),
    ):
        pass


# ------------------------------------------------------------------ failures, contained


async def _raises(inbound: Inbound) -> Inbound:
    raise RuntimeError("a bug in the filter")


async def _refuses(inbound: Inbound) -> Inbound:
    if "spam" in inbound.text:
        raise Reject("no spam here")
    return inbound


async def _sleeps(call: Call, emitter: Emitter) -> Any:
    await asyncio.sleep(30)


async def _crashes(call: Call, emitter: Emitter) -> Any:
    raise RuntimeError("a bug in the handler")


@pytest.fixture
def failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Settings]]:
    """A gateway whose default namespace runs plugins that misbehave."""
    path = tmp_path / "namespaces.toml"
    path.write_text('[namespaces.default]\nplugins = ["refuses", "slow", "broken"]\n')
    plugins = Plugins(
        {
            "refuses": Plugin(filters=[_refuses]),
            "slow": Plugin(handlers={"slow": _sleeps, "crash": _crashes}, timeout_seconds=0.2),
            "broken": Plugin(filters=[_raises]),
        }
    )

    def fake_load(namespaces: Namespaces, settings: Any) -> Plugins:
        return plugins

    monkeypatch.setattr(api.runtime, "load_plugins", fake_load)
    settings = make_settings(tmp_path / "data", namespaces_file=path)
    with TestClient(create_app(settings)) as client:
        yield client, settings


def test_a_filter_that_raises_refuses_the_command_and_the_gateway_goes_on(
    failing: tuple[TestClient, Settings],
) -> None:
    client, settings = failing
    room = room_of(client, settings, "alice")
    before = PLUGIN_HOOKS.labels("broken", "filter", "failed")._value.get()
    with client.websocket_connect("/v1/ws") as session:
        ws = Ws(session)
        ws.command("connect", token=token(settings, "alice"))
        reply = ws.command("send", roomId=room, text="hello")
        assert reply["error"]["code"] == "UNAVAILABLE" and reply["error"]["temporary"]
        assert "plugin broken failed" in reply["error"]["message"]
        spam = ws.command("send", roomId=room, text="buy spam")
        assert spam["error"] == {"code": "FORBIDDEN", "message": "no spam here"}
        assert "connect" not in ws.command("history", roomId=room)  # still served
    assert PLUGIN_HOOKS.labels("broken", "filter", "failed")._value.get() == before + 1
    messages = client.get(f"/v1/rooms/{room}/messages", headers=auth(settings, "alice"))
    assert messages.json()["messages"] == []  # nothing reached the log


def test_a_handler_that_times_out_or_fails_leaves_the_event_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "namespaces.toml"
    path.write_text('[namespaces.default]\nplugins = ["slow"]\n')
    plugins = Plugins(
        {"slow": Plugin(handlers={"slow": _sleeps, "crash": _crashes}, timeout_seconds=0.2)}
    )
    monkeypatch.setattr(api.runtime, "load_plugins", lambda namespaces, settings: plugins)
    settings = make_settings(tmp_path / "data", namespaces_file=path)
    with TestClient(create_app(settings)) as client:
        room = room_of(client, settings, "alice")
        with client.websocket_connect("/v1/ws") as session:
            ws = Ws(session)
            ws.command("connect", token=token(settings, "alice"))
            slow = ws.command("emit", name="slow", payload=1, roomId=room)["emit"]
            assert slow["handlerError"] == "plugin slow timed out; retry later"
            assert int(slow["event"]["position"]) == 3  # accepted and logged all the same
            crash = ws.command("emit", name="crash", payload=1, roomId=room)["emit"]
            assert crash["handlerError"] == "plugin slow failed; retry later"
            assert ws.command("emit", name="other", payload=1, roomId=room)["emit"]["event"]


def test_load_plugins_reads_entry_points_and_settings() -> None:
    namespaces = Namespaces.from_dict({"chat": {"plugins": ["word_filter"]}})
    plugins = load_plugins(list(namespaces), {"word_filter": {"words": ["x"], "action": "reject"}})
    inbound = Inbound("message", "chat", "r", "u", text="an x here")
    with pytest.raises(Exception, match="blocked word"):
        asyncio.run(plugins.admit(inbound, namespaces["chat"]))
    clean = Inbound("message", "chat", "r", "u", text="fine")
    assert asyncio.run(plugins.admit(clean, namespaces["chat"])).text == "fine"
