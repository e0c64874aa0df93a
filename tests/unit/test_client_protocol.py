"""The Python SDK's protocol core against the shared JSON cases (clients/fixtures/), which
the JavaScript SDK's tests run too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tidings_client.events import ConnectionChanged, InboxEvent, PresenceNotice, TypingNotice
from tidings_client.protocol import (
    Action,
    ClientProtocol,
    Emit,
    Follow,
    PageInbox,
    Positions,
    Reply,
    Send,
    TidingsError,
)

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "clients" / "fixtures" / "protocol.json").read_text()
)


def protocol_in(state: dict[str, Any]) -> ClientProtocol:
    rooms = {room: (int(p), e) for room, (p, e) in state["rooms"].items()}
    protocol = ClientProtocol(Positions(state["position"], state["epoch"], rooms))
    protocol.user_id = state.get("userId", "")
    return protocol


def positions(protocol: ClientProtocol) -> dict[str, Any]:
    p = protocol.positions
    return {
        "position": p.position,
        "epoch": p.epoch,
        "rooms": {room: list(at) for room, at in p.rooms.items()},
    }


def emitted(action: Emit) -> dict[str, Any]:
    event = action.event
    if isinstance(event, InboxEvent):
        return {
            "type": "event",
            "kind": event.kind,
            "roomId": event.room_id,
            "roomPosition": event.room_position,
            "position": event.position,
        }
    if isinstance(event, PresenceNotice):
        return {
            "type": "presence",
            "userId": event.user_id,
            "status": event.status,
            "online": event.online,
        }
    assert isinstance(event, TypingNotice)
    return {"type": "typing", "roomId": event.room_id, "userId": event.user_id, "typing": True}


def follows(actions: list[Action]) -> list[dict[str, Any]]:
    return [
        {"roomId": a.room_id, "position": a.position, "epoch": a.epoch}
        for a in actions
        if isinstance(a, Follow)
    ]


@pytest.mark.parametrize("case", CASES["pushes"], ids=lambda c: c["name"])
def test_pushes(case: dict[str, Any]) -> None:
    protocol = protocol_in(case["state"])
    actions = [a for frame in case["frames"] for a in protocol.receive(frame)]
    expect = case["expect"]
    assert [emitted(a) for a in actions if isinstance(a, Emit)] == expect["emitted"]
    assert [a.frame for a in actions if isinstance(a, Send)] == expect["sent"]
    assert follows(actions) == expect["follows"]
    assert positions(protocol) == expect["positions"]


@pytest.mark.parametrize("case", CASES["connects"], ids=lambda c: c["name"])
def test_connects(case: dict[str, Any]) -> None:
    protocol = protocol_in(case["state"])
    assert protocol.connect_frame("T", "D") == case["connectFrame"]
    actions = protocol.connected(case["reply"])
    expect = case["expect"]
    changes = [a.event for a in actions if isinstance(a, Emit)]
    assert [c.state for c in changes if isinstance(c, ConnectionChanged)] == expect["connection"]
    pages = [{"after": a.after, "head": a.head} for a in actions if isinstance(a, PageInbox)]
    assert pages == ([expect["pageInbox"]] if expect["pageInbox"] else [])
    assert follows(actions) == expect["follows"]
    assert positions(protocol) == expect["positions"]


def test_replies_are_matched_to_their_commands_by_id() -> None:
    protocol = ClientProtocol()
    first, frame = protocol.command("send", {"roomId": "r", "text": "hi"})
    second, _ = protocol.command("join", {"roomId": "r"})
    assert frame == {"id": first, "send": {"roomId": "r", "text": "hi"}} and first != second
    reply = {"reply": {"id": second, "join": {}}}
    assert protocol.receive(reply) == [Reply(second, reply["reply"])]


def test_a_refused_connect_raises_the_servers_error() -> None:
    refused = {"id": "connect", "error": {"code": "UNAUTHORIZED", "message": "bad token"}}
    with pytest.raises(TidingsError) as error:
        ClientProtocol().connected(refused)
    assert error.value.code == "UNAUTHORIZED" and not error.value.temporary


def test_positions_survive_saving() -> None:
    saved = Positions(7, "e1", {"r": (3, "e1")})
    assert Positions.from_json(saved.to_json()) == saved
    assert Positions.from_json('{"position": null, "epoch": ""}') == Positions()


def test_a_rate_limited_reply_carries_its_retry_hint() -> None:
    error = TidingsError.from_reply(
        {"code": "RATE_LIMITED", "message": "slow down", "temporary": True, "retryAfterMs": 250}
    )
    assert error.temporary and error.retry_after == 0.25
    assert TidingsError.from_reply({"code": "INTERNAL", "message": "bug"}).retry_after == 0.0
