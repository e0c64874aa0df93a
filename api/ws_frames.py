"""Frames in their WebSocket wire form, built once however many sockets they go to.

Server frames are unmasked, so the bytes of a text frame are the same for every socket: a
:class:`SharedFrame` (a room push, written to every follower) is serialised once.
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode

__all__ = ["SharedFrame", "wire_of"]


class SharedFrame(str):
    """A text frame sent unchanged to many sockets; :func:`wire_of` caches its wire form."""

    wire: bytes | None = None


def wire_of(frame: str) -> bytes:
    """The frame as an unmasked, unfragmented WebSocket text frame."""
    if type(frame) is SharedFrame:
        if frame.wire is None:
            frame.wire = Frame(Opcode.TEXT, frame.encode()).serialize(mask=False)
        return frame.wire
    return Frame(Opcode.TEXT, frame.encode()).serialize(mask=False)
