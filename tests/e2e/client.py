"""A minimal protocol client for end-to-end tests (real ``websockets`` connections)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


class WsClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.notices: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.stray_replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.room_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.rooms: dict[str, int] = {}
        """Room stream -> room position of the last room push received."""
        self.position = 0
        self.epoch = ""
        self.answer_pings = True
        self.pings_answered = 0
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str,
        *,
        position: int | None = None,
        epoch: str = "",
        device_id: str = "",
        namespace: str = "",
        **ws_options: Any,
    ) -> tuple[WsClient, dict[str, Any]]:
        ws = await websockets.connect(url, **ws_options)
        client = cls(ws)
        body: dict[str, Any] = {"token": token}
        if namespace:
            body["namespace"] = namespace
        if device_id:
            body["deviceId"] = device_id
        if position is not None:
            body["inbox"] = {"position": str(position), "epoch": epoch}
        reply = await client.request("connect", body)
        if "connect" in reply:
            client.epoch = reply["connect"]["inbox"]["epoch"]
            client.position = int(reply["connect"]["inbox"].get("position", 0))
        return client, reply

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                if "reply" in frame:
                    future = self._waiting.pop(frame["reply"].get("id", ""), None)
                    if future is not None and not future.done():
                        future.set_result(frame["reply"])
                    else:
                        await self.stray_replies.put(frame["reply"])
                elif "event" in frame["push"]:
                    push = frame["push"]["event"]
                    self.position = int(push["position"])
                    await self.events.put(push)
                elif "room" in frame["push"]:
                    push = frame["push"]["room"]
                    self.rooms[push["event"]["stream"]] = int(push["event"]["position"])
                    await self.room_events.put(push)
                elif "ping" in frame["push"]:
                    if self.answer_pings:
                        await self.ws.send('{"pong":{}}')
                        self.pings_answered += 1
                else:
                    await self.notices.put(frame["push"])

    async def request(
        self, command: str, body: dict[str, Any], timeout: float = 10
    ) -> dict[str, Any]:
        frame_id = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[frame_id] = future
        await self.ws.send(json.dumps({"id": frame_id, command: body}))
        return await asyncio.wait_for(future, timeout)

    async def follow(
        self, room_id: str, position: int | None = None, epoch: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"roomId": room_id}
        if position is not None:
            body["position"] = position
            body["epoch"] = epoch
        return await self.request("follow", body)

    async def next_room_event(self, timeout: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.room_events.get(), timeout)

    def drain_room_events(self) -> list[dict[str, Any]]:
        out = []
        while not self.room_events.empty():
            out.append(self.room_events.get_nowait())
        return out

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def next_event(self, timeout: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def next_message(self, author: str = "", timeout: float = 10) -> dict[str, Any]:
        """The next inbox event that is a MessagePosted (by ``author``, if given)."""
        while True:
            push = await self.next_event(timeout)
            event = push["event"]
            if "messagePosted" in event and author in ("", event["actor"]["userId"]):
                return push

    async def next_notice(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        while True:
            notice = await asyncio.wait_for(self.notices.get(), timeout)
            if kind in notice:
                found: dict[str, Any] = notice[kind]
                return found

    async def events_before(self, sentinel: str, timeout: float = 10) -> list[dict[str, Any]]:
        """The inbox events that come before the message with text ``sentinel`` (sent after
        whatever must, or must not, arrive first: a check that does not depend on time)."""
        before: list[dict[str, Any]] = []
        while True:
            push = await self.next_event(timeout)
            if push["event"].get("messagePosted", {}).get("text") == sentinel:
                return before
            before.append(push)

    async def room_events_before(self, sentinel: str, timeout: float = 10) -> list[dict[str, Any]]:
        """As :meth:`events_before`, for the room streams this client follows."""
        before: list[dict[str, Any]] = []
        while True:
            push = await self.next_room_event(timeout)
            if push["event"].get("messagePosted", {}).get("text") == sentinel:
                return before
            before.append(push)

    def drain_events(self) -> list[dict[str, Any]]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out

    async def closed(self, timeout: float = 10) -> int | None:
        """Waits for the server to close the connection; returns its close code."""
        await asyncio.wait_for(self.ws.wait_closed(), timeout)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
