"""The asyncio client.

One background task owns the connection: it connects, sends ``connect`` with the last inbox
position, turns the server's recovery answer into events, reads frames, and on any failure
reconnects with jittered exponential backoff, rotating through the gateway URLs it was given.
After an established connection drops, the first attempt waits a random time within
``reconnect_spread`` seconds (full jitter), so the clients of a crashed gateway come back
spread out instead of all in the same second. Positions can be persisted to a file so that a
restarted program resumes too. Sends carry a client message id and are retried on
disconnects and temporary errors, which the server makes safe (one message per id).

Channels and large rooms are room streams: the client follows one when its inbox says so
(the room moved to its stream, or you joined one), re-follows each with its last room
position on every reconnect (paging REST first when too far behind), and emits each room
event once, whichever stream brought it.

The protocol's decisions are made by :class:`tidings_client.protocol.ClientProtocol`
(no I/O); this module carries out its actions with websockets and httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tidings_client.events import AppEvent, ConnectionChanged, Event, InboxEvent
from tidings_client.protocol import (
    Action,
    ClientProtocol,
    Emit,
    Follow,
    PageInbox,
    PageRoom,
    Positions,
    Reply,
    Send,
    TidingsError,
)

__all__ = ["Client", "TidingsError"]

log = logging.getLogger("tidings_client")

TokenProvider = Callable[[], str | Awaitable[str]]
AppEventHandler = Callable[[AppEvent], Awaitable[None] | None]
_FATAL = frozenset({"UNAUTHORIZED", "TOKEN_EXPIRED", "FORBIDDEN", "NOT_FOUND"})
"""Connect refusals that retrying with the same token cannot change (a bad or expired token, a
namespace the token does not grant or that does not exist)."""


class _Disconnected(Exception):
    pass


class Client:
    def __init__(
        self,
        url: str | Sequence[str],
        token: str | None = None,
        *,
        token_provider: TokenProvider | None = None,
        device_id: str = "",
        namespace: str = "",
        positions_file: str | Path | None = None,
        http_url: str | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        reconnect_spread: float = 3.0,
    ) -> None:
        if token is None and token_provider is None:
            raise ValueError("give a token or a token_provider")
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("give at least one url")
        self._url_index = 0  # the caller orders the URLs (shuffle them to spread load)
        self._http_url = http_url
        self._token = token
        self._token_provider = token_provider
        self.device_id = device_id or f"py-{uuid.uuid4().hex[:10]}"
        self.namespace = namespace
        """The namespace the connection works in (the token must grant it)."""
        self._handlers: dict[str, list[AppEventHandler]] = {}
        self._positions_file = Path(positions_file) if positions_file else None
        self._backoff = (backoff_initial, backoff_max)
        self._reconnect_spread = reconnect_spread
        self.protocol = ClientProtocol(self._load_positions())
        self._background: set[asyncio.Task[None]] = set()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._fatal: TidingsError | None = None
        self._established = False

    @property
    def user_id(self) -> str:
        return self.protocol.user_id

    @property
    def position(self) -> int | None:
        """The last inbox position received (what a reconnect resumes from)."""
        return self.protocol.positions.position

    @property
    def epoch(self) -> str:
        return self.protocol.positions.epoch

    @property
    def rooms(self) -> dict[str, tuple[int, str]]:
        """Followed room streams: room id -> (last room position, epoch)."""
        return self.protocol.positions.rooms

    @property
    def url(self) -> str:
        """The gateway this client is (or will next be) connected to."""
        return self.urls[self._url_index]

    @property
    def http_url(self) -> str:
        return self._http_url or self.url.replace("ws", "http", 1).rsplit("/v1/ws", 1)[0]

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout: float = 30.0) -> None:
        """Starts the connection loop and waits for the first successful connect."""
        self._task = asyncio.create_task(self._run(), name="tidings-client")
        await self._wait_ready(timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._ws is not None:
            await self._ws.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._events.get()

    async def next_event(self, timeout: float | None = None) -> Event:
        return await asyncio.wait_for(self._events.get(), timeout)

    # ------------------------------------------------------------------ application events

    def on(self, name: str, handler: AppEventHandler) -> Callable[[], None]:
        """Calls ``handler`` (a function or a coroutine function) with each application
        event named ``name``, durable or volatile; returns a function that unregisters it.
        Events also stay in the iteration (``async for event in client``)."""
        self._handlers.setdefault(name, []).append(handler)
        return lambda: self._handlers.get(name, []).remove(handler)

    async def emit(
        self,
        name: str,
        payload: Any = None,
        *,
        room: str | None = None,
        user: str | None = None,
        volatile: bool = False,
        client_event_id: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Emits an application event to a room or a user and returns its acknowledgement:
        ``event`` (durable: the logged event, with its room position), ``delivered``
        (volatile: recipients online), and ``answer`` / ``handlerError`` when a server plugin
        handles the name. A durable event is retried until acknowledged, exactly once (it
        carries a client event id); TimeoutError after ``timeout`` seconds, as Socket.IO's
        ``emitWithAck`` with a timeout."""
        body: dict[str, Any] = {"name": name, "payload": payload, "volatile": volatile}
        if room:
            body["roomId"] = room
        if user:
            body["userId"] = user
        if volatile:
            return await self.request("emit", body, timeout)
        body["clientEventId"] = client_event_id or uuid.uuid4().hex
        return await self._request_retrying("emit", body, timeout)

    async def _dispatch(self, event: Event) -> None:
        app = event if isinstance(event, AppEvent) else None
        if isinstance(event, InboxEvent):
            app = AppEvent.of(event)
        if app is None:
            return
        for handler in list(self._handlers.get(app.name, ())):
            try:
                result = handler(app)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("tidings event handler for %r failed", app.name)

    # ------------------------------------------------------------------ commands

    async def send(
        self, room_id: str, text: str, *, client_msg_id: str | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Sends a message exactly once, however many retries it takes; returns its event."""
        body = {"roomId": room_id, "clientMsgId": client_msg_id or uuid.uuid4().hex, "text": text}
        result = await self._request_retrying("send", body, timeout)
        event: dict[str, Any] = result["event"]
        return event

    async def join(self, room_id: str) -> dict[str, Any]:
        return await self.request("join", {"roomId": room_id})

    async def leave(self, room_id: str) -> None:
        await self.request("leave", {"roomId": room_id})

    async def edit(self, room_id: str, message_id: str, text: str) -> dict[str, Any]:
        return await self.request(
            "edit", {"roomId": room_id, "messageId": message_id, "text": text}
        )

    async def delete(self, room_id: str, message_id: str) -> dict[str, Any]:
        return await self.request("delete", {"roomId": room_id, "messageId": message_id})

    async def ack(self, room_id: str, up_to: int, *, read: bool = True) -> dict[str, Any]:
        kind = "ACK_KIND_READ" if read else "ACK_KIND_DELIVERED"
        body = {"roomId": room_id, "kind": kind, "upTo": str(up_to)}
        return await self._request_retrying("ack", body, 30)

    async def typing(self, room_id: str, typing: bool = True) -> None:
        await self.request("typing", {"roomId": room_id, "typing": typing})

    async def set_presence(self, status: str) -> None:
        await self.request("presence", {"status": f"PRESENCE_STATUS_{status.upper()}"})

    async def history(
        self, room_id: str, *, before: int | None = None, limit: int = 50
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of the room's timeline (newest last) and whether older messages exist."""
        body: dict[str, Any] = {"roomId": room_id, "limit": limit}
        if before is not None:
            body["before"] = str(before)
        result = await self._request_retrying("history", body, 30)
        return list(result.get("messages", [])), bool(result.get("hasMore", False))

    async def follow(self, room_id: str, position: int | None = None, epoch: str = "") -> None:
        """Follows a room stream (a channel or a large room) from ``position``, or from its
        head; missed events are emitted first. The client does this by itself for rooms its
        inbox announces, and again after every reconnect."""
        result = await self.request("follow", self.protocol.follow_frame(room_id, position, epoch))
        await self._carry_out(self.protocol.followed(room_id, position, result))

    async def unfollow(self, room_id: str) -> None:
        self.protocol.unfollowed(room_id)
        self._save_positions()
        await self.request("unfollow", {"roomId": room_id})

    async def request(
        self, command: str, body: dict[str, Any], timeout: float = 15
    ) -> dict[str, Any]:
        """One command on the current connection; TidingsError if the server refuses it."""
        await self._wait_ready(timeout)
        assert self._ws is not None
        frame_id, frame = self.protocol.command(command, body)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = future
        try:
            await self._ws.send(json.dumps(frame))
            reply = await asyncio.wait_for(future, timeout)
        except websockets.ConnectionClosed as exc:
            raise _Disconnected() from exc
        finally:
            self._pending.pop(frame_id, None)
        if "error" in reply:
            raise TidingsError.from_reply(reply["error"])
        result: dict[str, Any] = reply.get(command, {})
        return result

    async def _request_retrying(
        self, command: str, body: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        attempt = 0
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            wait = 0.0
            try:
                return await self.request(command, body, timeout=max(remaining, 0.1))
            except (_Disconnected, TimeoutError):
                pass
            except TidingsError as exc:
                if not exc.temporary:
                    raise
                wait = exc.retry_after  # RATE_LIMITED says how long
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{command} did not succeed within {timeout} s")
            await asyncio.sleep(max(wait, self._delay(attempt)))
            attempt += 1

    # ------------------------------------------------------------------ the connection loop

    def _delay(self, attempt: int) -> float:
        initial, ceiling = self._backoff
        return float(min(ceiling, initial * 2**attempt) * random.uniform(0.5, 1.0))

    async def _wait_ready(self, timeout: float) -> None:
        if self._fatal is not None:
            raise self._fatal
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise self._fatal or TimeoutError("not connected") from None
        if self._fatal is not None:
            raise self._fatal

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._established = False
            try:
                await self._session()
            except TidingsError as exc:
                if exc.code in _FATAL and self._token_provider is None:
                    self._fatal = exc
                    self._ready.set()  # wake waiters so they see the error
                    return
                log.warning("tidings connect refused: %s", exc)
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                log.info("tidings connection lost: %r", exc)
            except Exception:
                log.exception("tidings connection failed")
            finally:
                self._ready.clear()
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(_Disconnected())
                self._pending.clear()
            await self._events.put(ConnectionChanged("reconnecting"))
            self._url_index = (self._url_index + 1) % len(self.urls)  # stateless gateways
            if self._established:
                attempt = 0
                await asyncio.sleep(random.uniform(0, self._reconnect_spread))
            else:
                await asyncio.sleep(self._delay(attempt))
                attempt += 1

    async def _session(self) -> None:
        async with websockets.connect(self.url, max_size=2**22) as ws:
            self._ws = ws
            token = await self._current_token()
            connect = self.protocol.connect_frame(token, self.device_id, self.namespace)
            await ws.send(json.dumps(connect))
            reply = await self._connect_reply(ws)
            actions = self.protocol.connected(reply)
            follows = [a for a in actions if isinstance(a, Follow)]
            await self._carry_out([a for a in actions if not isinstance(a, Follow)])
            self._established = True
            self._ready.set()
            await self._carry_out(follows)
            # The server pings every heartbeat interval: silence for longer than the interval
            # plus the timeout means the network is gone (no socket closes when it vanishes).
            result = reply.get("connect", {})
            silence = result.get("heartbeatIntervalMs", 0) + result.get("heartbeatTimeoutMs", 0)
            while True:
                try:
                    # In this task: with asyncio.wait_for, which runs recv in a task of its
                    # own, clients stalled after a server restart (tests/faults; the cause
                    # was not pinned down). The timeout cancels this await only.
                    async with asyncio.timeout(silence / 1000 or None):
                        raw = await ws.recv()
                except TimeoutError:
                    return  # reconnect
                await self._carry_out(self.protocol.receive(json.loads(raw)))

    @staticmethod
    async def _connect_reply(ws: ClientConnection) -> dict[str, Any]:
        """The reply to ``connect`` (servers send nothing before it; older ones might)."""
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if "reply" in frame:
                reply: dict[str, Any] = frame["reply"]
                return reply

    async def _carry_out(self, actions: Sequence[Action]) -> None:
        for action in actions:
            match action:
                case Emit(event):
                    await self._events.put(event)
                    if self._handlers:
                        await self._dispatch(event)
                case Reply(request_id, reply):
                    future = self._pending.get(request_id)
                    if future is not None and not future.done():
                        future.set_result(reply)
                case Send(frame):
                    if self._ws is not None:
                        await self._ws.send(json.dumps(frame))
                case Follow(room_id, position, epoch):
                    # In the background: the reply comes through the frame loop.
                    self._in_background(self.follow(room_id, position, epoch))
                case PageInbox(after, head):
                    await self._page("/v1/inbox", after, head, self.protocol.paged_inbox)
                case PageRoom(room_id, after, head, epoch):
                    await self.request("unfollow", {"roomId": room_id})
                    path = f"/v1/rooms/{room_id}/stream"
                    last = await self._page(path, after, head, self.protocol.paged_room)
                    await self.follow(room_id, last, epoch)
        if self.protocol.changed:
            self._save_positions()

    async def _page(
        self, path: str, after: int, head: int, take: Callable[[dict[str, Any]], list[Action]]
    ) -> int:
        """Reads events after ``after`` up to ``head`` over REST, each through ``take``;
        returns the last position read."""
        headers = {"Authorization": f"Bearer {await self._current_token()}"}
        async with httpx.AsyncClient(base_url=self.http_url, headers=headers, timeout=30) as http:
            while after < head:
                response = await http.get(path, params={"after": after, "limit": 200})
                response.raise_for_status()
                events = response.json()["events"]
                if not events:
                    break
                for item in events:
                    await self._carry_out(take(item))
                after = int(events[-1]["position"])
        return after

    def _in_background(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except (_Disconnected, TimeoutError, TidingsError, httpx.HTTPError) as exc:
                log.info("tidings background work stopped (a reconnect redoes it): %r", exc)
            except Exception:
                log.exception("tidings background work failed")

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _current_token(self) -> str:
        if self._token_provider is None:
            assert self._token is not None
            return self._token
        token = self._token_provider()
        return await token if inspect.isawaitable(token) else token

    # ------------------------------------------------------------------ positions

    def _save_positions(self) -> None:
        self.protocol.changed = False
        if self._positions_file is not None:
            tmp = self._positions_file.with_suffix(".tmp")
            tmp.write_text(self.protocol.positions.to_json())
            os.replace(tmp, self._positions_file)

    def _load_positions(self) -> Positions:
        if self._positions_file is not None and self._positions_file.exists():
            return Positions.from_json(self._positions_file.read_text())
        return Positions()
