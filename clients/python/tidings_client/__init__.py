"""Tidings Python client: reconnects, resumes exactly, retries sends safely.

async with Client("ws://127.0.0.1:8000/v1/ws", token="...") as client:
    await client.send(room_id, "hello")
    async for event in client:
        print(event)
"""

from tidings_client.client import Client, TidingsError
from tidings_client.events import (
    ConnectionChanged,
    Event,
    InboxEvent,
    PresenceNotice,
    RoomEvent,
    TypingNotice,
)

__all__ = [
    "Client",
    "ConnectionChanged",
    "Event",
    "InboxEvent",
    "PresenceNotice",
    "RoomEvent",
    "TidingsError",
    "TypingNotice",
]
