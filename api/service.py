"""The application service behind both WebSocket and REST: commands and authorised reads.

Every read checks membership first: a user reads only rooms they belong to. Commands go to
the command bus, whose single writer enforces the domain rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from uuid import UUID

import structlog

from domain.commands import Command
from domain.errors import (
    InvalidArgument,
    MessageNotFound,
    NotAMember,
    NotARoomStream,
    RoomNotFound,
)
from projections.changes import InboxEntry
from projections.store import (
    MemberRow,
    MessageRow,
    PresenceRow,
    ProjectionStore,
    RoomRow,
    StreamHead,
)
from proto.codec import Envelope
from streams.log import CommandBus, CommandResult, ProjectionProgress

__all__ = ["Tidings", "TypingRelay", "parse_room_id"]

log = structlog.get_logger(__name__)

READ_YOUR_WRITES_TIMEOUT = 5.0

TypingRelay = Callable[[Iterable[str], str, str, bool], Awaitable[None]]
"""relay(recipients, room_id, user_id, typing): an ephemeral notice to connected users."""


def parse_room_id(value: str) -> UUID:
    """Room ids are UUIDs; anything else names no room."""
    try:
        return UUID(value)
    except (ValueError, TypeError):
        raise RoomNotFound(value) from None


class Tidings:
    def __init__(
        self,
        bus: CommandBus,
        store: ProjectionStore,
        progress: ProjectionProgress,
        typing_relay: TypingRelay,
        *,
        history_page_max: int = 200,
    ) -> None:
        self.bus = bus
        self.store = store
        self.progress = progress
        self.typing_relay = typing_relay
        self.history_page_max = history_page_max

    # ------------------------------------------------------------------ commands

    async def execute(self, command: Command, *, wait_projected: bool = False) -> CommandResult:
        """Runs a command; with ``wait_projected`` also waits until reads reflect it."""
        result = await self.bus.execute(command)
        log.debug(  # at info, a JSON line per message would cost as much as the message
            "command_executed",
            command=type(command).__name__,
            stream=result.envelope.stream,
            position=result.envelope.position,
            duplicate=result.duplicate,
            trace_id=command.meta.trace_id,
        )
        if wait_projected:
            await self.wait_projected(result)
        return result

    async def wait_projected(self, result: CommandResult | None) -> None:
        """Waits (boundedly) until reads reflect the command's events."""
        if result is not None and result.offset:
            await self.progress.wait_for(
                result.offset, READ_YOUR_WRITES_TIMEOUT, partition=result.partition
            )

    # ------------------------------------------------------------------ authorised reads

    async def require_member(self, user_id: str, room_id: str) -> int:
        """The user's role in the room; NotAMember or RoomNotFound otherwise."""
        parse_room_id(room_id)
        role = await self.store.role_of(room_id, user_id)
        if role:
            return role
        if await self.store.room(room_id) is None:
            raise RoomNotFound(room_id)
        raise NotAMember(user_id)

    async def rooms(self, user_id: str) -> list[RoomRow]:
        return await self.store.rooms_of(user_id)

    async def room(self, user_id: str, room_id: str) -> RoomRow:
        await self.require_member(user_id, room_id)
        row = await self.store.room_of(user_id, room_id)
        if row is None:
            raise RoomNotFound(room_id)
        return row

    async def members(self, user_id: str, room_id: str) -> list[MemberRow]:
        await self.require_member(user_id, room_id)
        return await self.store.members(room_id)

    async def timeline(
        self,
        user_id: str,
        room_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> tuple[list[MessageRow], bool]:
        """A page of messages and whether more exist in the paging direction."""
        if limit < 1:
            raise InvalidArgument("limit must be at least 1")
        limit = min(limit, self.history_page_max)  # a page holds at most that many
        if (before is not None and before < 1) or (after is not None and after < 0):
            raise InvalidArgument("before must be >= 1 and after >= 0")
        await self.require_member(user_id, room_id)
        rows = await self.store.timeline(room_id, before=before, after=after, limit=limit + 1)
        has_more = len(rows) > limit
        if has_more:
            rows = rows[:limit] if after is not None else rows[1:]
        return rows, has_more

    async def message(self, user_id: str, room_id: str, message_id: str) -> MessageRow:
        await self.require_member(user_id, room_id)
        row = await self.store.message(room_id, message_id)
        if row is None:
            raise MessageNotFound(message_id)
        return row

    async def inbox(self, user_id: str, *, after: int, limit: int) -> tuple[list[InboxEntry], int]:
        """Inbox entries after a position, and the current head."""
        if limit < 1:
            raise InvalidArgument("limit must be at least 1")
        limit = min(limit, self.history_page_max)  # a page holds at most that many
        if after < 0:
            raise InvalidArgument("after must be >= 0")
        head = await self.store.inbox_head(user_id)
        return await self.store.inbox(user_id, after=after, limit=limit), head

    async def room_stream(
        self, user_id: str, room_id: str, *, after: int, limit: int
    ) -> tuple[list[Envelope], StreamHead]:
        """Room-stream events after a room position, and the stream's start and head."""
        if limit < 1:
            raise InvalidArgument("limit must be at least 1")
        limit = min(limit, self.history_page_max)  # a page holds at most that many
        if after < 0:
            raise InvalidArgument("after must be >= 0")
        await self.require_member(user_id, room_id)
        stream = await self.store.room_stream_head(room_id)
        if stream is None:
            raise NotARoomStream()
        return await self.store.room_stream(room_id, after=after, limit=limit), stream

    async def room_presence(self, user_id: str, room_id: str) -> list[PresenceRow]:
        await self.require_member(user_id, room_id)
        if await self.store.quiet_rooms([room_id]):  # a direct room not answered yet
            return await self.store.presence([user_id])
        members = await self.store.members(room_id)
        return await self.store.presence([m.user_id for m in members])

    async def online_contacts(self, user_id: str) -> list[PresenceRow]:
        """Online users who share presence with ``user_id`` through a room (and the user,
        if online): not through a direct room its peer has not answered."""
        contacts = {user_id}
        rooms = [room.room_id for room in await self.store.rooms_of(user_id)]
        quiet = await self.store.quiet_rooms(rooms)
        for room_id in rooms:
            if room_id not in quiet:
                contacts.update(m.user_id for m in await self.store.members(room_id))
        return [row for row in await self.store.presence(sorted(contacts)) if row.online]

    # ------------------------------------------------------------------ ephemeral

    async def typing(self, user_id: str, room_id: str, typing: bool) -> None:
        """Relays a typing notice to the room's other connected members; nothing is logged."""
        await self.require_member(user_id, room_id)
        members = [m.user_id for m in await self.store.members(room_id)]
        await self.typing_relay([u for u in members if u != user_id], room_id, user_id, typing)
