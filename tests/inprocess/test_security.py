"""Security checks in process (docs/security.md lists each protection and its test):
handshake origin and host, body and query limits, input rules, rate and connection limits,
revocation, bans, hidden rooms, production switches, files at rest."""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.session import CloseCode
from api.settings import Settings
from tests.inprocess.harness import Ws, bearer, make_settings, token

Headers = dict[str, str]
SOCKETS: list[Any] = []
"""Sockets a test opened, closed before its gateway stops."""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Settings]]]:
    """A gateway with the given settings; closed at the end of the test."""
    opened: list[TestClient] = []

    def start(**overrides: Any) -> tuple[TestClient, Settings]:
        settings = make_settings(tmp_path / f"data-{len(opened)}", **overrides)
        client = TestClient(create_app(settings)).__enter__()
        opened.append(client)
        return client, settings

    yield start
    while SOCKETS:
        with contextlib.suppress(Exception):
            SOCKETS.pop().__exit__(None, None, None)
    for client in opened:
        client.__exit__(None, None, None)


def open_ws(client: TestClient, headers: Headers | None = None) -> Ws:
    context = client.websocket_connect("/v1/ws", headers=dict(headers or {}))
    session = context.__enter__()
    SOCKETS.append(context)
    return Ws(session)


def connect(client: TestClient, settings: Settings, user: str, device: str = "") -> Ws:
    ws = open_ws(client)
    reply = ws.command("connect", token=token(settings, user), deviceId=device)
    assert "connect" in reply, reply
    return ws


def inbox_event(ws: Ws, payload: str) -> dict[str, Any]:
    """The next inbox event carrying ``payload`` (kept earlier or read now)."""

    def carries(push: dict[str, Any]) -> bool:
        return payload in push.get("event", {}).get("event", {})

    for push in ws.pushes:
        if carries(push):
            return push["event"]["event"]  # type: ignore[no-any-return]
    frame = ws.until(lambda f: carries(f.get("push", {})))
    return frame["push"]["event"]["event"]  # type: ignore[no-any-return]


def refused_status(client: TestClient, headers: Headers) -> int:
    with pytest.raises(WebSocketDenialResponse) as refused:
        client.websocket_connect("/v1/ws", headers=dict(headers)).__enter__()
    return refused.value.status_code


def closed_with(ws: Ws) -> int:
    """Reads until the server closes the socket; its close code."""
    with pytest.raises(WebSocketDisconnect) as closed:
        for _ in range(1000):
            ws.session.receive_json()
    return closed.value.code


# ------------------------------------------------------------------ handshake


def test_only_allowed_origins_open_a_socket(serve: Callable[..., Any]) -> None:
    client, _ = serve()
    open_ws(client)  # no Origin: a native app
    open_ws(client, {"origin": "http://testserver"})  # the page's own origin
    for origin in (
        "https://evil.example",
        "null",
        "http://testserver.evil.example",
        "http://evil.example/http://testserver",
        "https://testserver",  # another scheme is another origin
    ):
        assert refused_status(client, {"origin": origin}) == 403, origin
    listed, _ = serve(allowed_origins="https://app.example.com, https://admin.example.com")
    open_ws(listed, {"origin": "https://app.example.com"})
    assert refused_status(listed, {"origin": "http://testserver"}) == 403


def test_a_host_that_is_not_served_is_refused(serve: Callable[..., Any]) -> None:
    """DNS rebinding: the browser sends the attacker's name in Host."""
    client, _ = serve(allowed_hosts="")  # development mode: loopback names only
    evil = {"host": "evil.example"}
    response = client.post("/dev/token", json={"userId": "alice"}, headers=evil)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert "token" not in response.json()
    assert refused_status(client, evil) == 400
    local = client.post("/dev/token", json={"userId": "alice"}, headers={"host": "127.0.0.1:8000"})
    assert local.status_code == 200


def test_weak_secrets_and_development_mode_on_public_addresses_are_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings(data_dir=tmp_path, jwt_secret="abc")
    with pytest.raises(ValueError, match="loopback only"):
        Settings(data_dir=tmp_path, host="0.0.0.0").check_listen()
    Settings(data_dir=tmp_path, host="::1").check_listen()
    Settings(data_dir=tmp_path, host="0.0.0.0", jwt_secret="k" * 32).check_listen()


# ------------------------------------------------------------------ request limits and input


def test_bodies_over_the_limit_are_refused_before_they_are_read(
    serve: Callable[..., Any],
) -> None:
    client, settings = serve(max_body_bytes=1024)
    headers = bearer(settings, "alice")
    room = client.post("/v1/rooms", json={"name": "r"}, headers=headers).json()["roomId"]
    big = {"text": "x" * 2000}
    response = client.post(f"/v1/rooms/{room}/messages", json=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"text": "'
        yield b"x" * 2000
        yield b'"}'

    streamed = client.post(f"/v1/rooms/{room}/messages", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    history = client.get(f"/v1/rooms/{room}/messages", headers=headers).json()
    assert history["messages"] == []


def test_integer_parameters_beyond_int64_are_422_not_500(serve: Callable[..., Any]) -> None:
    client, settings = serve()
    headers = bearer(settings, "alice")
    room = client.post("/v1/rooms", json={"name": "r"}, headers=headers).json()["roomId"]
    for path in (
        f"/v1/rooms/{room}/messages?after={10**30}",
        f"/v1/rooms/{room}/messages?before={2**63}",
        f"/v1/inbox?after={10**30}",
        f"/v1/inbox?limit={10**30}",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 422, path
        assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert client.get(f"/v1/inbox?after={2**63 - 1}", headers=headers).status_code == 200


def test_null_commands_are_bad_requests(serve: Callable[..., Any]) -> None:
    client, settings = serve()
    ws = connect(client, settings, "alice")
    for command in ("send", "join", "history", "ping", "presence"):
        ws.session.send_text(f'{{"id":"n","{command}":null}}')
        reply = ws.until(lambda f: "reply" in f)["reply"]
        assert reply["error"]["code"] in ("BAD_REQUEST", "UNKNOWN_COMMAND"), reply
    missing = ws.command("history", roomId="00000000-0000-0000-0000-000000000000")
    assert missing["error"]["code"] == "NOT_FOUND"  # the connection lives on


@pytest.mark.parametrize(
    "device", ["a\x00b", "\x1b[31mred", "line\nbreak", "evil\u202egnp.exe", "d" * 65]
)
def test_device_ids_must_be_printable_and_short(serve: Callable[..., Any], device: str) -> None:
    client, settings = serve()
    ws = open_ws(client)
    reply = ws.command("connect", token=token(settings, "alice"), deviceId=device)
    assert reply["error"]["code"] == "INVALID_ARGUMENT"
    assert closed_with(ws) == CloseCode.UNAUTHORIZED
    assert client.get("/v1/devices", headers=bearer(settings, "alice")).json() == []


# ------------------------------------------------------------------ limits


def test_a_flood_of_sends_is_refused_with_a_retry_hint_then_cut(
    serve: Callable[..., Any],
) -> None:
    client, settings = serve(
        send_rate=1, send_burst=5, max_rate_limited_in_a_row=20, user_send_burst=1000
    )
    headers = bearer(settings, "alice")
    room = client.post("/v1/rooms", json={"name": "r"}, headers=headers).json()["roomId"]
    ws = connect(client, settings, "alice")
    answers = [ws.command("send", roomId=room, text=f"m{i}") for i in range(19)]
    accepted = [a for a in answers if "send" in a]
    refused = [a["error"] for a in answers if "error" in a]
    assert 5 <= len(accepted) <= 7  # the burst, and what refilled meanwhile
    assert refused and all(e["code"] == "RATE_LIMITED" and e["temporary"] for e in refused)
    assert all(0 < e["retryAfterMs"] <= 1000 for e in refused)
    for i in range(40):  # ignoring the answers: disconnected
        ws.session.send_json({"id": f"x{i}", "send": {"roomId": room, "text": "spam"}})
    assert closed_with(ws) == CloseCode.RATE_LIMITED
    stored = client.get(f"/v1/rooms/{room}/messages?limit=100", headers=headers).json()
    assert len(stored["messages"]) <= 7 + 2  # nothing refused was logged


def test_connections_per_user_and_connects_per_address_are_capped(
    serve: Callable[..., Any],
) -> None:
    client, settings = serve(max_connections_per_user=2, connect_burst=6, connect_rate=0.01)
    connect(client, settings, "alice")
    connect(client, settings, "alice")
    third = open_ws(client)
    reply = third.command("connect", token=token(settings, "alice"))
    assert reply["error"]["code"] == "RATE_LIMITED"
    assert closed_with(third) == CloseCode.RATE_LIMITED
    connect(client, settings, "bob")  # another user is not affected
    open_ws(client)  # the fifth and sixth handshakes from this address
    open_ws(client)
    with pytest.raises(WebSocketDenialResponse) as refused:
        open_ws(client)
    assert refused.value.status_code == 429
    assert int(refused.value.headers["retry-after"]) >= 1


# ------------------------------------------------------------------ revocation and devices


def wait_for_next_second() -> None:
    """Tokens carry whole seconds: one issued after a revocation must be in a later second."""
    start = int(time.time())
    deadline = time.monotonic() + 5
    while int(time.time()) == start and time.monotonic() < deadline:
        time.sleep(0.05)


def online_devices(
    client: TestClient, settings: Settings, user: str, wanted: set[str]
) -> list[dict[str, Any]]:
    """The user's devices once ``wanted`` are all online: presence reaches the projection
    asynchronously (and coalesced), so a fresh connection shows up a moment later."""
    deadline = time.monotonic() + 20
    while True:
        devices = client.get("/v1/devices", headers=bearer(settings, user)).json()
        online = {d["deviceId"] for d in devices if d["status"] == "online"}
        if wanted <= online or time.monotonic() > deadline:
            assert wanted <= online, devices
            return list(devices)
        time.sleep(0.02)


def test_revoking_a_device_closes_its_sockets_and_refuses_its_tokens(
    serve: Callable[..., Any],
) -> None:
    client, settings = serve()
    lost = connect(client, settings, "alice", device="lost-phone")
    laptop = connect(client, settings, "alice", device="laptop")
    old_token = token(settings, "alice")
    devices = online_devices(client, settings, "alice", {"lost-phone", "laptop"})
    assert all(d["lastActivity"] for d in devices)

    revoked = client.post("/v1/devices/lost-phone/revoke", headers=bearer(settings, "alice"))
    assert revoked.status_code == 204
    assert closed_with(lost) == CloseCode.REVOKED
    revocation = inbox_event(laptop, "sessionsRevoked")  # other devices learn it
    assert revocation["sessionsRevoked"]["deviceId"] == "lost-phone"
    again = open_ws(client)
    reply = again.command("connect", token=old_token, deviceId="lost-phone")
    assert reply["error"]["code"] == "UNAUTHORIZED" and "revoked" in reply["error"]["message"]
    assert laptop.command("refresh", token=old_token) == {"id": "2", "refresh": {}}
    wait_for_next_second()
    connect(client, settings, "alice", device="lost-phone")  # a token issued since


def test_a_token_bound_to_a_revoked_device_is_refused_whatever_device_it_names(
    serve: Callable[..., Any],
) -> None:
    client, settings = serve()
    bound = token(settings, "alice", device="tablet")
    ws = open_ws(client)
    assert ws.command("connect", token=bound)["connect"]["deviceId"] == "tablet"
    other = open_ws(client)
    refused = other.command("connect", token=bound, deviceId="laptop")
    assert refused["error"]["code"] == "INVALID_ARGUMENT"
    laptop = connect(client, settings, "alice", device="laptop")
    swapped = laptop.command("refresh", token=token(settings, "alice", device="tablet"))
    assert swapped["error"]["code"] == "UNAUTHORIZED"
    assert client.post("/v1/devices/tablet/revoke", headers=bearer(settings, "alice")).is_success
    assert closed_with(ws) == CloseCode.REVOKED
    for device in ("", "tablet"):
        again = open_ws(client)
        reply = again.command("connect", token=bound, deviceId=device)
        assert reply["error"]["code"] == "UNAUTHORIZED", device
    rest = client.get("/v1/rooms", headers={"Authorization": f"Bearer {bound}"})
    assert rest.status_code == 401


def test_revoking_every_session_refuses_rest_and_refresh_too(serve: Callable[..., Any]) -> None:
    client, settings = serve()
    headers = bearer(settings, "alice")
    ws = connect(client, settings, "alice", device="tablet")
    assert client.post("/v1/sessions/revoke", headers=headers).status_code == 204
    assert closed_with(ws) == CloseCode.REVOKED
    response = client.get("/v1/rooms", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    assert client.get("/v1/rooms", headers=bearer(settings, "bob")).status_code == 200
    wait_for_next_second()
    fresh = connect(client, settings, "alice", device="tablet")
    assert fresh.command("refresh", token=token(settings, "alice")) == {"id": "2", "refresh": {}}


# ------------------------------------------------------------------ privacy and moderation


def test_a_stranger_cannot_tell_a_hidden_room_from_none(serve: Callable[..., Any]) -> None:
    client, settings = serve()
    alice, mallory = bearer(settings, "alice"), bearer(settings, "mallory")
    private = client.post("/v1/rooms", json={"name": "p", "public": False}, headers=alice)
    direct = client.post("/v1/direct/bob", headers=alice).json()["roomId"]
    missing = "6f1c1e4e-0000-4000-8000-000000000000"
    answers = {
        room: client.get(f"/v1/rooms/{room}/messages", headers=mallory)
        for room in (private.json()["roomId"], direct, missing)
    }
    assert {r.status_code for r in answers.values()} == {404}
    assert len({r.text for r in answers.values()}) == 1
    ws = connect(client, settings, "mallory")
    replies = [ws.command("join", roomId=room)["error"] for room in answers]
    assert len({(e["code"], e["message"]) for e in replies}) == 1


def test_a_removed_member_stays_out_until_the_ban_is_lifted(serve: Callable[..., Any]) -> None:
    client, settings = serve()
    alice, bob = bearer(settings, "alice"), bearer(settings, "bob")
    room = client.post("/v1/rooms", json={"name": "open"}, headers=alice).json()["roomId"]
    bob_ws = connect(client, settings, "bob")
    assert "join" in bob_ws.command("join", roomId=room)
    assert client.delete(f"/v1/rooms/{room}/members/bob", headers=alice).status_code == 204
    refused = bob_ws.command("join", roomId=room)["error"]
    assert refused["code"] == "FORBIDDEN" and "ban" in refused["message"]
    assert client.delete(f"/v1/rooms/{room}/bans/bob", headers=bob).status_code == 404
    assert client.delete(f"/v1/rooms/{room}/bans/bob", headers=alice).status_code == 204
    assert inbox_event(bob_ws, "banLifted")["banLifted"]["userId"] == "bob"
    assert "join" in bob_ws.command("join", roomId=room)


# ------------------------------------------------------------------ production switches, files


def test_metrics_and_docs_can_be_closed(serve: Callable[..., Any]) -> None:
    client, _ = serve(metrics_token="m" * 40, api_docs=False)
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {'m' * 40}"}).is_success
    for closed in ("/docs", "/redoc", "/openapi.json", "/api/docs", "/api/openapi.json"):
        assert client.get(closed).status_code == 404, closed
    open_client, _ = serve()
    assert open_client.get("/openapi.json").status_code == 200


def test_the_page_may_not_be_framed_or_sniffed(serve: Callable[..., Any]) -> None:
    client, _ = serve()
    page = client.get("/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"


def test_the_data_directory_is_private(serve: Callable[..., Any], tmp_path: Path) -> None:
    client, settings = serve()
    connect(client, settings, "alice")  # something written
    data = settings.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = list(data.iterdir())
    assert any(f.name == "dev-jwt-secret" for f in files)
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file


def test_a_direct_room_shares_presence_once_answered(serve: Callable[..., Any]) -> None:
    client, settings = serve()
    mallory, bob = bearer(settings, "mallory"), bearer(settings, "bob")
    room = client.post("/v1/direct/bob", headers=mallory).json()["roomId"]
    bob_ws = connect(client, settings, "bob", device="bob-phone")
    watcher = connect(client, settings, "mallory")
    online = client.get("/v1/users/online", headers=mallory).json()
    assert all(row["userId"] != "bob" for row in online)
    presence = client.get(f"/v1/rooms/{room}/presence", headers=mallory).json()
    assert [row["userId"] for row in presence] == ["mallory"]  # bob's devices stay hidden

    assert "send" in bob_ws.command("send", roomId=room, text="who is this?")
    assert inbox_event(watcher, "directAnswered")  # answered: from here on, shared
    rows = {r["userId"]: r for r in client.get(f"/v1/rooms/{room}/presence", headers=bob).json()}
    assert rows["bob"]["devices"] == {"bob-phone": "online"}
    mine = client.get(f"/v1/rooms/{room}/presence", headers=mallory).json()
    assert {row["userId"] for row in mine} == {"mallory", "bob"}
