"""The application service behind both WebSocket and REST: commands and authorised reads.

Every read checks membership first: a user reads only rooms they belong to. Commands go to
the command bus, whose single writer enforces the domain rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from uuid import UUID

import structlog

from api.plugins import Inbound, Plugins
from domain.commands import AckRoom, Command, EditMessage, PostMessage
from domain.errors import (
    InsufficientRole,
    InvalidArgument,
    MessageNotFound,
    NotAMember,
    NotARoomStream,
    RoomNotFound,
)
from domain.namespaces import DEFAULT_NAMESPACE, NamespaceRules, Namespaces
from domain.values import AckKind
from projections.changes import Delivery, InboxEntry, TypingNotice
from projections.store import (
    MemberRow,
    MessageRow,
    PresenceRow,
    ProjectionStore,
    RoomRow,
    StreamHead,
)
from proto.codec import Envelope
from streams import tracing
from streams.log import CommandBus, CommandResult, ProjectionProgress

__all__ = ["DEFAULT_SCOPE", "Relay", "Scope", "Tidings", "parse_room_id", "visible_in"]

log = structlog.get_logger(__name__)

READ_YOUR_WRITES_TIMEOUT = 5.0

Relay = Callable[[Sequence[Delivery]], Awaitable[None]]
"""relay(deliveries): ephemeral notices (typing, volatile events) to connected users,
on every gateway."""

Scope = frozenset[str]
"""The namespaces a caller may read and act in (their token's, or their connection's)."""
DEFAULT_SCOPE: Scope = frozenset({DEFAULT_NAMESPACE})
NAMESPACE_CACHE_SIZE = 100_000


def visible_in(envelope: Envelope, scope: Scope) -> bool:
    """Whether an inbox event shows in ``scope``: its room's namespace is in it, or it is
    the user's own (a revocation)."""
    if envelope.stream.startswith("user:"):
        return True
    return (envelope.namespace or DEFAULT_NAMESPACE) in scope


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
        relay: Relay,
        *,
        history_page_max: int = 200,
        namespaces: Namespaces | None = None,
        plugins: Plugins | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.progress = progress
        self.relay = relay
        self.history_page_max = history_page_max
        self.namespaces = namespaces or Namespaces()
        self.plugins = plugins or Plugins()
        self._receipts_off = {rules.name for rules in self.namespaces if not rules.receipts}
        self._namespace_of: dict[str, str] = {}
        """Room id -> namespace (a room never changes namespace)."""

    # ------------------------------------------------------------------ commands

    async def execute(self, command: Command, *, wait_projected: bool = False) -> CommandResult:
        """Runs a command (a message through its namespace's filters first); with
        ``wait_projected`` also waits until reads reflect it."""
        if isinstance(command, PostMessage | EditMessage) and self.plugins.by_name:
            command = await self._filtered(command)
        elif isinstance(command, AckRoom) and command.kind is AckKind.READ and self._receipts_off:
            rules = await self.rules_for(command.meta.namespace, str(command.room_id))
            if not rules.receipts:
                raise InsufficientRole("read receipts are off in this namespace")
        with tracing.step(
            "command", command.meta.trace_id, None, {"command": type(command).__name__}
        ):
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
        if tracing.enabled() and isinstance(command, AckRoom) and command.kind is AckKind.READ:
            await self._trace_read(command)
        return result

    async def _trace_read(self, ack: AckRoom) -> None:
        """A read receipt joins the trace of the message it marks read (the ack is a trace
        of its own too): a point in time, child of the message's projection."""
        try:
            rows = await self.store.timeline(
                str(ack.room_id), before=None, after=ack.up_to - 1, limit=1
            )
        except Exception as exc:  # tracing never fails a command
            log.warning("read_not_traced", error=repr(exc))
            return
        if rows and rows[0].position == ack.up_to:
            reader = {"reader": ack.meta.user_id}
            with tracing.step("read", rows[0].trace_id, "project", reader, shared=False):
                pass

    async def _filtered(self, command: PostMessage | EditMessage) -> PostMessage | EditMessage:
        room_id = str(command.room_id)
        rules = await self.rules_for(command.meta.namespace, room_id)
        sent = Inbound("message", rules.name, room_id, command.meta.user_id, text=command.text)
        admitted = await self.plugins.admit(sent, rules)
        return command if admitted.text == command.text else replace(command, text=admitted.text)

    async def rules_for(self, namespace: str, room_id: str) -> NamespaceRules:
        """The rules of the namespace a command acts in: the connection's, or (over REST,
        which may act in several) the room's."""
        return self.namespaces[namespace or await self.namespace_of(room_id)]

    async def namespace_of(self, room_id: str) -> str:
        namespace = self._namespace_of.get(room_id)
        if namespace is None:
            namespace = await self.store.room_namespace(room_id)
            if len(self._namespace_of) >= NAMESPACE_CACHE_SIZE:
                self._namespace_of.clear()
            self._namespace_of[room_id] = namespace
        return namespace

    async def wait_projected(self, result: CommandResult | None) -> None:
        """Waits (boundedly) until reads reflect the command's events."""
        if result is not None and result.offset:
            await self.progress.wait_for(
                result.offset, READ_YOUR_WRITES_TIMEOUT, partition=result.partition
            )

    # ------------------------------------------------------------------ authorised reads

    async def require_member(self, user_id: str, room_id: str, scope: Scope = DEFAULT_SCOPE) -> int:
        """The user's role in the room, if it is in a namespace of ``scope``; NotAMember or
        RoomNotFound otherwise (a room of another namespace does not exist for them)."""
        parse_room_id(room_id)
        role = await self.store.role_of(room_id, user_id)
        if role and await self.namespace_of(room_id) in scope:
            return role
        if role:
            raise RoomNotFound(room_id)
        if await self.store.room(room_id) is None:
            raise RoomNotFound(room_id)
        raise NotAMember(user_id)

    async def rooms(self, user_id: str, scope: Scope = DEFAULT_SCOPE) -> list[RoomRow]:
        rows = await self.store.rooms_of(user_id)
        return [row for row in rows if await self.namespace_of(row.room_id) in scope]

    async def room(self, user_id: str, room_id: str, scope: Scope = DEFAULT_SCOPE) -> RoomRow:
        await self.require_member(user_id, room_id, scope)
        row = await self.store.room_of(user_id, room_id)
        if row is None:
            raise RoomNotFound(room_id)
        return row

    async def members(
        self, user_id: str, room_id: str, scope: Scope = DEFAULT_SCOPE
    ) -> list[MemberRow]:
        await self.require_member(user_id, room_id, scope)
        return await self.store.members(room_id)

    async def timeline(
        self,
        user_id: str,
        room_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
        scope: Scope = DEFAULT_SCOPE,
    ) -> tuple[list[MessageRow], bool]:
        """A page of messages and whether more exist in the paging direction."""
        if limit < 1:
            raise InvalidArgument("limit must be at least 1")
        limit = min(limit, self.history_page_max)  # a page holds at most that many
        if (before is not None and before < 1) or (after is not None and after < 0):
            raise InvalidArgument("before must be >= 1 and after >= 0")
        await self.require_member(user_id, room_id, scope)
        if not self.namespaces[await self.namespace_of(room_id)].history:
            raise InsufficientRole("history is off in this namespace")
        rows = await self.store.timeline(room_id, before=before, after=after, limit=limit + 1)
        has_more = len(rows) > limit
        if has_more:
            rows = rows[:limit] if after is not None else rows[1:]
        return rows, has_more

    async def message(
        self, user_id: str, room_id: str, message_id: str, scope: Scope = DEFAULT_SCOPE
    ) -> MessageRow:
        await self.require_member(user_id, room_id, scope)
        row = await self.store.message(room_id, message_id)
        if row is None:
            raise MessageNotFound(message_id)
        return row

    async def inbox(
        self, user_id: str, *, after: int, limit: int, scope: Scope = DEFAULT_SCOPE
    ) -> tuple[list[InboxEntry], int]:
        """Inbox entries after a position (those of ``scope``'s namespaces and the user's
        own), and the current head."""
        if limit < 1:
            raise InvalidArgument("limit must be at least 1")
        limit = min(limit, self.history_page_max)  # a page holds at most that many
        if after < 0:
            raise InvalidArgument("after must be >= 0")
        head = await self.store.inbox_head(user_id)
        entries = await self.store.inbox(user_id, after=after, limit=limit)
        return [e for e in entries if visible_in(e.envelope, scope)], head

    async def room_stream(
        self, user_id: str, room_id: str, *, after: int, limit: int, scope: Scope = DEFAULT_SCOPE
    ) -> tuple[list[Envelope], StreamHead]:
        """Room-stream events after a room position, and the stream's start and head."""
        if limit < 1:
            raise InvalidArgument("limit must be at least 1")
        limit = min(limit, self.history_page_max)  # a page holds at most that many
        if after < 0:
            raise InvalidArgument("after must be >= 0")
        await self.require_member(user_id, room_id, scope)
        stream = await self.store.room_stream_head(room_id)
        if stream is None:
            raise NotARoomStream()
        return await self.store.room_stream(room_id, after=after, limit=limit), stream

    async def room_presence(
        self, user_id: str, room_id: str, scope: Scope = DEFAULT_SCOPE
    ) -> list[PresenceRow]:
        await self.require_member(user_id, room_id, scope)
        if not self.namespaces[await self.namespace_of(room_id)].presence:
            return []
        if await self.store.quiet_rooms([room_id]):  # a direct room not answered yet
            return await self.store.presence([user_id])
        members = await self.store.members(room_id)
        return await self.store.presence([m.user_id for m in members])

    async def online_contacts(
        self, user_id: str, scope: Scope = DEFAULT_SCOPE
    ) -> list[PresenceRow]:
        """Online users who share presence with ``user_id`` through a room of ``scope`` (and
        the user, if online): not through a direct room its peer has not answered."""
        contacts = {user_id}
        rooms = [room.room_id for room in await self.rooms(user_id, scope)]
        quiet = await self.store.quiet_rooms(rooms)
        for room_id in rooms:
            if room_id not in quiet:
                contacts.update(m.user_id for m in await self.store.members(room_id))
        return [row for row in await self.store.presence(sorted(contacts)) if row.online]

    # ------------------------------------------------------------------ ephemeral

    async def typing(
        self, user_id: str, room_id: str, typing: bool, scope: Scope = DEFAULT_SCOPE
    ) -> None:
        """Relays a typing notice to the room's other connected members; nothing is logged."""
        await self.require_member(user_id, room_id, scope)
        namespace = await self.namespace_of(room_id)
        if not self.namespaces[namespace].typing:
            raise InsufficientRole("typing notices are off in this namespace")
        members = [m.user_id for m in await self.store.members(room_id)]
        others = tuple(u for u in members if u != user_id)
        stamp = "" if namespace == DEFAULT_NAMESPACE else namespace
        await self.relay([TypingNotice(others, room_id, user_id, typing, stamp)])
