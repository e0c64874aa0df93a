"""The gateway in process: FastAPI's TestClient over the embedded backend in a temporary
directory (no uvicorn, no sockets), for what the end-to-end tests do not reach cheaply:
token refresh, presence commands and their grace period, history paging both ways, and
readiness when the projection runner dies."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from api.settings import Settings
from tests.inprocess.harness import GRACE, Ws, client, connect, settings, shared_room, token

__all__ = ["client", "connect", "settings"]  # fixtures


def test_refresh_keeps_a_connection_past_its_first_token(
    connect: Callable[..., Ws], settings: Settings
) -> None:
    refreshed = connect("alice", ttl=1)
    control = connect("alice", device="other", ttl=1)
    assert refreshed.command("refresh", token=token(settings, "alice")) == {
        "id": "2",
        "refresh": {},
    }
    wrong = refreshed.command("refresh", token=token(settings, "mallory"))
    assert wrong["error"]["code"] == "UNAUTHORIZED"
    # The control connection is closed once its token expires (the ticker runs each second)...
    with pytest.raises(Exception) as closed:
        control.until(lambda f: False)
    assert getattr(closed.value, "code", None) == 4003
    # ... while the refreshed one still answers.
    assert "presence" in refreshed.command("presence", status="PRESENCE_STATUS_ONLINE")


def test_history_pages_before_and_after(
    connect: Callable[..., Ws], client: TestClient, settings: Settings
) -> None:
    room_id = shared_room(client, settings, "alice")
    alice = connect("alice")
    positions = [
        int(alice.command("send", roomId=room_id, text=f"m{i}")["send"]["event"]["position"])
        for i in range(5)
    ]

    def page(**bounds: int) -> tuple[list[str], bool]:
        reply = alice.command("history", roomId=room_id, limit=2, **bounds)["history"]
        return [m["text"] for m in reply.get("messages", [])], reply.get("hasMore", False)

    assert page() == (["m3", "m4"], True)
    assert page(before=positions[3]) == (["m1", "m2"], True)
    assert page(before=positions[1]) == (["m0"], False)
    assert page(after=positions[0]) == (["m1", "m2"], True)
    assert page(after=positions[3]) == (["m4"], False)


def test_presence_changes_reach_room_members_and_survive_a_quick_reconnect(
    connect: Callable[..., Ws], client: TestClient, settings: Settings
) -> None:
    room_id = shared_room(client, settings, "alice", "bob")
    bob = connect("bob", device="bob-phone")
    alice = connect("alice", device="alice-laptop")
    assert bob.push("presence", userId="alice")["status"] == "PRESENCE_STATUS_ONLINE"

    alice.command("presence", status="PRESENCE_STATUS_AWAY")
    assert bob.push("presence", userId="alice") == {
        "userId": "alice",
        "deviceId": "alice-laptop",
        "status": "PRESENCE_STATUS_AWAY",
        "online": True,
    }

    # A reconnect within the grace period never shows offline; an away device is online
    # again (a connect is activity): one ONLINE push, then the typing push.
    alice.session.close()
    alice = connect("alice", device="alice-laptop")
    back = bob.push("presence", userId="alice")
    assert back["status"] == "PRESENCE_STATUS_ONLINE" and back["online"]
    alice.command("typing", roomId=room_id, typing=True)
    bob.push("typing", userId="alice")
    assert not [p for p in bob.pushes if p.get("presence", {}).get("userId") == "alice"]

    # A plain reconnect (online when it dropped) logs nothing at all.
    alice.session.close()
    alice = connect("alice", device="alice-laptop")
    alice.command("typing", roomId=room_id, typing=True)
    bob.push("typing", userId="alice")
    assert not [p for p in bob.pushes if p.get("presence", {}).get("userId") == "alice"]

    # Gone for good: offline once the grace period is over.
    gone = time.monotonic()
    alice.session.close()
    offline = bob.push("presence", userId="alice")
    assert offline["status"] == "PRESENCE_STATUS_OFFLINE" and not offline.get("online")
    assert time.monotonic() - gone >= GRACE * 0.9


def test_a_dead_projection_runner_makes_the_gateway_unready(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/readyz").status_code == 200
    store = client.app.app.app.state.runtime.parts.store  # type: ignore[attr-defined]

    async def projector_bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a projector")

    monkeypatch.setattr(store, "apply", projector_bug)
    headers = {"Authorization": f"Bearer {token(settings, 'alice')}"}
    # Logged, but projecting it kills the runner (the answer is whatever the wait for the
    # projection gives: not the point here).
    client.post("/v1/rooms", json={"name": "doomed", "public": True}, headers=headers)
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 503:
        assert time.monotonic() < deadline, "the gateway stayed ready"
        time.sleep(0.05)
    assert client.get("/readyz").json()["ready"] is False


def test_role_rules_over_rest(client: TestClient, settings: Settings) -> None:
    """Only owners add owners and change roles; the last owner can neither step down nor
    leave a room with other members (each answer is the documented code)."""
    room_id = shared_room(client, settings, "olga", "adam", "mia")

    def as_user(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(settings, user)}"}

    members = f"/v1/rooms/{room_id}/members"
    made_admin = client.put(f"{members}/adam", json={"role": "admin"}, headers=as_user("olga"))
    assert made_admin.status_code == 200 and made_admin.json()["role"] == "admin"

    by_admin = client.post(
        members, json={"userId": "zoe", "role": "owner"}, headers=as_user("adam")
    )
    assert by_admin.status_code == 403 and by_admin.json()["error"]["code"] == "FORBIDDEN"
    promoted = client.put(f"{members}/mia", json={"role": "admin"}, headers=as_user("adam"))
    assert promoted.status_code == 403
    step_down = client.put(f"{members}/olga", json={"role": "member"}, headers=as_user("olga"))
    assert step_down.status_code == 409 and step_down.json()["error"]["code"] == "CONFLICT"
    leave = client.delete(f"{members}/olga", headers=as_user("olga"))
    assert leave.status_code == 409

    roles = {m["userId"]: m["role"] for m in client.get(members, headers=as_user("olga")).json()}
    assert roles == {"olga": "owner", "adam": "admin", "mia": "member"}
    # With a second owner, the first may step down.
    assert client.put(f"{members}/mia", json={"role": "owner"}, headers=as_user("olga")).is_success
    assert client.put(
        f"{members}/olga", json={"role": "member"}, headers=as_user("olga")
    ).is_success
