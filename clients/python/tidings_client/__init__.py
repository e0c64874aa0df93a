"""Tidings Python client: reconnects, resumes exactly, retries sends safely.

async with Client("ws://127.0.0.1:8000/v1/ws", token="...") as client:
    await client.send(room_id, "hello")
    client.on("cursor.moved", lambda event: print(event.payload))
    await client.emit("cursor.moved", {"x": 1}, room=room_id, volatile=True)
    async for event in client:
        print(event)

A backend uses the server API with an API key: ``ServerClient`` (``tidings_client.server``).
"""

from tidings_client.client import Client, TidingsError
from tidings_client.events import (
    AppEvent,
    ConnectionChanged,
    Event,
    InboxEvent,
    PresenceNotice,
    RoomEvent,
    TypingNotice,
)
from tidings_client.server import ServerClient

__all__ = [
    "AppEvent",
    "Client",
    "ConnectionChanged",
    "Event",
    "InboxEvent",
    "PresenceNotice",
    "RoomEvent",
    "ServerClient",
    "TidingsError",
    "TypingNotice",
]
