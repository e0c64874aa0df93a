"""The Python SDK (clients/python/tidings_client) against real servers, both modes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tidings_client import (
    AppEvent,
    Client,
    ConnectionChanged,
    InboxEvent,
    RoomEvent,
    ServerClient,
    TidingsError,
)

from tests.e2e.conftest import FAST, Rest, Server, eventually
from tests.e2e.server import DistributedStack, ServerProcess, free_port
from tests.faults.proxy import FaultProxy


async def messages(client: Client, count: int, author: str = "") -> list[InboxEvent]:
    out: list[InboxEvent] = []
    while len(out) < count:
        event = await client.next_event(timeout=30)
        is_message = isinstance(event, InboxEvent) and event.kind == "messagePosted"
        if is_message and author in ("", event.actor):  # type: ignore[union-attr]
            out.append(event)  # type: ignore[arg-type]
    return out


async def state(client: Client) -> ConnectionChanged:
    while True:
        event = await client.next_event(timeout=60)
        if isinstance(event, ConnectionChanged) and event.state != "reconnecting":
            return event


async def test_sdk_chat_history_and_persisted_resume(
    server: Server, rest: Callable[..., Rest], tmp_path: Path
) -> None:
    room_id = rest("alice").create_room("sdk")
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    positions = tmp_path / "bob.json"
    async with (
        Client(server.ws_urls[0], server.token("alice")) as alice,
        Client(server.ws_urls[1], server.token("bob"), positions_file=positions) as bob,
    ):
        sent = await alice.send(room_id, "hello bob")
        (got,) = await messages(bob, 1, "alice")
        assert got.envelope["eventId"] == sent["eventId"] and got.text == "hello bob"
        page, more = await bob.history(room_id)
        assert [m["text"] for m in page] == ["hello bob"] and not more
        await bob.ack(room_id, int(sent["position"]))

    async with Client(server.ws_urls[0], server.token("alice")) as alice:
        missed = [await alice.send(room_id, f"missed {i}") for i in range(3)]
    # A new program reading the same positions file resumes exactly.
    async with Client(server.ws_urls[0], server.token("bob"), positions_file=positions) as bob:
        assert (await state(bob)).state == "resumed"
        got_now = await messages(bob, 3, "alice")
        assert [e.envelope["eventId"] for e in got_now] == [m["eventId"] for m in missed]


async def test_sdk_fills_a_gap_beyond_the_catch_up_limit_over_rest(
    server: Server, rest: Callable[..., Rest], tmp_path: Path
) -> None:
    room_id = rest("alice").create_room("far")
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "erin"})
    positions = tmp_path / "erin.json"
    async with Client(server.ws_url, server.token("erin"), positions_file=positions):
        pass
    for i in range(60):  # more than the catch-up limit (50 in these tests)
        rest("alice").post(f"/v1/rooms/{room_id}/messages", {"text": f"bulk {i}"})
    await eventually(lambda: rest("erin").get("/v1/inbox", limit=1).json()["head"] >= 61)
    async with Client(server.ws_url, server.token("erin"), positions_file=positions) as erin:
        got = await messages(erin, 60)
        assert [e.text for e in got] == [f"bulk {i}" for i in range(60)]
        # The server said the gap was too long for the socket; the SDK paged it over REST.
        assert (await state(erin)).recovery == "RECOVERY_TOO_FAR_BEHIND"


async def test_sdk_follows_a_channel_on_its_own_and_resumes_it(
    server: Server, rest: Callable[..., Rest], tmp_path: Path
) -> None:
    room_id = rest("cora").create_room("broadcast", kind="channel")
    positions = tmp_path / "finn.json"
    async with (
        Client(server.ws_urls[0], server.token("cora")) as cora,
        Client(server.ws_urls[1], server.token("finn"), positions_file=positions) as finn,
    ):
        await cora.follow(room_id)
        rest("cora").post(f"/v1/rooms/{room_id}/members", {"userId": "finn"})
        # finn's inbox announces the join; the SDK follows the channel from there.
        await asyncio.wait_for(_following(finn, room_id), 30)
        sent = await cora.send(room_id, "first")
        (got,) = await messages(finn, 1, "cora")
        assert isinstance(got, RoomEvent) and got.envelope["eventId"] == sent["eventId"]

    for i in range(60):  # beyond the catch-up limit: the SDK pages REST, then follows
        rest("cora").post(f"/v1/rooms/{room_id}/messages", {"text": f"while away {i}"})
    async with Client(server.ws_url, server.token("finn"), positions_file=positions) as finn:
        got_now = await messages(finn, 60, "cora")
        assert [e.text for e in got_now] == [f"while away {i}" for i in range(60)]
        async with Client(server.ws_url, server.token("cora")) as cora:
            await cora.send(room_id, "live")
        (live,) = await messages(finn, 1, "cora")
        assert live.text == "live"


async def _reconnecting(client: Client) -> None:
    while True:
        event = await client.next_event(timeout=60)
        if isinstance(event, ConnectionChanged) and event.state == "reconnecting":
            return


async def _following(client: Client, room_id: str) -> None:
    while room_id not in client.rooms:
        await asyncio.sleep(0.05)


@pytest.fixture(params=["embedded", "distributed"])
def killable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    stack: Server = (
        ServerProcess(tmp_path / "data", FAST)
        if request.param == "embedded"
        else DistributedStack(tmp_path / "stack", FAST)
    )
    stack.start()
    yield stack
    stack.stop()


def kill_and_restart(stack: Server) -> Callable[[], None]:
    """Kills the server the client uses (SIGKILL); returns how to start it again."""
    if isinstance(stack, ServerProcess):
        stack.kill()

        def restart() -> None:
            stack.restart()

        return restart
    stack.kill_gateway(0)
    return lambda: stack.start_gateway(0)


async def test_sdk_reconnects_and_resumes_after_the_server_is_killed(killable: Server) -> None:
    owner = Rest(killable, "alice")
    room_id = owner.create_room("crash")
    owner.post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    bob = Client(killable.ws_url, killable.token("bob"), backoff_initial=0.1, backoff_max=1.0)
    await bob.connect()
    try:
        assert (await state(bob)).state == "connected"
        first = await bob.send(room_id, "before the crash")
        restart = kill_and_restart(killable)
        # A send made while the server is down completes once it is back, exactly once.
        pending = asyncio.create_task(bob.send(room_id, "during the crash", timeout=90))
        await _reconnecting(bob)  # the send is waiting for a server
        restart()
        during = await pending
        assert (await state(bob)).state == "resumed"
        sent = await asyncio.to_thread(
            lambda: Rest(killable, "alice", 1).post(
                f"/v1/rooms/{room_id}/messages", {"text": "after"}
            )
        )
        assert sent.status_code == 201
        texts = []
        while "after" not in texts:
            event = await bob.next_event(timeout=60)
            if isinstance(event, InboxEvent) and event.kind == "messagePosted":
                texts.append(event.text)
        # Bob's own send reaches his inbox like any member's: once, before what followed.
        assert texts.count("during the crash") == 1
        assert texts.index("during the crash") < texts.index("after")
        timeline = Rest(killable, "alice", 1).get(f"/v1/rooms/{room_id}/messages").json()
        posted = [m["messageId"] for m in timeline["messages"]]
        assert posted.count(during["eventId"]) == 1
        assert posted[0] == first["eventId"] and len(posted) == 3
    finally:
        await bob.close()


async def test_sdk_emits_application_events_and_calls_their_handlers(
    server: Server, rest: Callable[..., Rest]
) -> None:
    room_id = rest("alice").create_room("events")
    rest("alice").post(f"/v1/rooms/{room_id}/members", {"userId": "bob"})
    async with (
        Client(server.ws_urls[0], server.token("alice")) as alice,
        Client(server.ws_urls[1], server.token("bob")) as bob,
    ):
        got: list[AppEvent] = []
        bob.on("board.mark", got.append)

        async def cursor(event: AppEvent) -> None:  # coroutine handlers too
            got.append(event)

        stop = bob.on("cursor", cursor)
        ack = await alice.emit("board.mark", {"cell": 3}, room=room_id, timeout=30)
        assert int(ack["event"]["position"]) == 4
        await eventually(lambda: len(got) == 1, timeout=30)
        assert (got[0].name, got[0].payload, got[0].sender) == ("board.mark", {"cell": 3}, "alice")
        assert got[0].durable and got[0].position == 4
        await eventually(lambda: bob_online(rest, room_id), timeout=30)
        relayed = await alice.emit("cursor", {"x": 1}, room=room_id, volatile=True)
        assert relayed["delivered"] == 1
        await eventually(lambda: len(got) == 2, timeout=30)
        assert not got[1].durable and got[1].payload == {"x": 1}
        stop()
        await alice.emit("cursor", {"x": 2}, room=room_id, volatile=True)
        await alice.send(room_id, "sentinel")
        await messages(bob, 1, "alice")
        assert len(got) == 2  # unregistered


def bob_online(rest: Callable[..., Rest], room_id: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = rest("bob").get(f"/v1/rooms/{room_id}/presence").json()
    return [r for r in rows if r["userId"] == "bob" and r["online"]]


async def test_server_client_creates_a_room_publishes_and_mints_tokens(server: Server) -> None:
    from tests.e2e.test_server_api import new_key

    key = await new_key(server, "rooms", "publish", "tokens", "read")
    async with ServerClient(server.http_urls[0], key) as backend:

        async def created() -> str | None:
            try:
                return await backend.create_room("sdk-made", owner="carol", request_id="sdk-1")
            except TidingsError as exc:
                assert exc.code == "UNAUTHORIZED"  # the fresh key is not projected yet
                return None

        room_id = await eventually(created, timeout=30)
        assert await backend.create_room("sdk-made", owner="carol", request_id="sdk-1") == room_id
        token = await backend.mint_token("carol")
        async with Client(server.ws_urls[1], token) as carol:
            await state(carol)
            posted = await backend.publish(room_id, "from the backend", as_="bot")
            (got,) = await messages(carol, 1, "bot")
            assert got.envelope["eventId"] == posted["event"]["eventId"]
        with pytest.raises(TidingsError) as refused:
            await backend.disconnect("carol")
        assert refused.value.code == "FORBIDDEN"


async def test_sdk_notices_a_vanished_network_within_a_heartbeat(
    fresh_server: ServerProcess,
) -> None:
    """A blackholed link closes no socket: the client's watchdog (heartbeat interval plus
    timeout, from the connect reply) drops it, and it resumes once the link is back."""
    fresh_server.env.update(
        {"TIDINGS_HEARTBEAT_INTERVAL_SECONDS": "1", "TIDINGS_HEARTBEAT_TIMEOUT_SECONDS": "1"}
    )
    server = fresh_server.start()
    with FaultProxy(free_port(), server.port) as proxy:
        url = f"ws://127.0.0.1:{proxy.listen_port}/v1/ws"
        client = Client(url, server.token("alice"), backoff_initial=0.1, backoff_max=0.5)
        await client.connect()
        try:
            assert (await state(client)).state == "connected"
            proxy.blackhole()
            started = asyncio.get_running_loop().time()
            while True:
                event = await client.next_event(timeout=15)
                if isinstance(event, ConnectionChanged) and event.state == "reconnecting":
                    break
            assert asyncio.get_running_loop().time() - started < 15
            proxy.blackhole(False)
            assert (await state(client)).state in ("resumed", "connected")
        finally:
            await client.close()
