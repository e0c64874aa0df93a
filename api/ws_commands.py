"""What each client command does, for :class:`api.ws.Connection`: build the domain command
or the query, run it through the service, shape the result for the reply.

A handler returns its reply's result field and message; errors propagate to the
connection, which maps them to wire codes (``api.errors``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from google.protobuf import json_format
from google.protobuf.message import Message

from api.auth import AuthError
from api.events import EmitRequest, emit
from api.service import parse_room_id
from domain import commands as c
from domain.errors import InsufficientRole, InvalidArgument
from domain.values import AckKind, EventMeta, PresenceStatus
from proto.codec import value_to_python
from proto.tidings.v1 import client_pb2 as cp
from proto.wire import ClientFrame
from streams.log import CommandResult

if TYPE_CHECKING:
    from api.session import Session
    from api.ws import GatewayContext

__all__ = ["CommandHandlers"]


class CommandHandlers:
    """The connection's command handlers (a mixin: they use its context and session)."""

    __slots__ = ()

    ctx: GatewayContext
    session: Session
    _last_write: CommandResult | None
    _presence_device: str

    async def _run(self, command: c.Command) -> cp.EventResult:
        """Executes a command for this connection (which remembers its last write)."""
        raise NotImplementedError

    async def _join(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        room_id = parse_room_id(frame.join.room_id)
        event = await self._run(c.JoinRoom(meta, room_id))
        await self.ctx.service.wait_projected(self._last_write)  # REST reads see the join
        return "join", cp.RoomResult(room_id=str(room_id), event=event)

    async def _leave(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        await self._run(c.LeaveRoom(meta, parse_room_id(frame.leave.room_id)))
        return "leave", cp.Empty()

    async def _send(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        s = frame.send
        return "send", await self._run(
            c.PostMessage(meta, parse_room_id(s.room_id), s.client_msg_id, s.text)
        )

    async def _edit(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        e = frame.edit
        return "edit", await self._run(
            c.EditMessage(meta, parse_room_id(e.room_id), e.message_id, e.text)
        )

    async def _delete(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        d = frame.delete
        return "delete", await self._run(
            c.DeleteMessage(meta, parse_room_id(d.room_id), d.message_id)
        )

    async def _ack(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        a = frame.ack
        try:
            kind = AckKind(a.kind)
        except ValueError:
            raise InvalidArgument("kind must be ACK_KIND_DELIVERED or ACK_KIND_READ") from None
        return "ack", await self._run(c.AckRoom(meta, parse_room_id(a.room_id), kind, a.up_to))

    async def _presence(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        try:
            status = PresenceStatus(frame.presence.status)
        except ValueError:
            raise InvalidArgument("status must be ONLINE, AWAY or OFFLINE") from None
        if not self._presence_device:
            raise InsufficientRole("presence is off in this namespace")
        await self._run(c.ChangePresence(replace(meta, device_id=self._presence_device), status))
        self.ctx.presence.chose(meta.user_id, self._presence_device, status)
        return "presence", cp.Empty()

    async def _typing(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        t = frame.typing
        await self.ctx.service.typing(meta.user_id, t.room_id, t.typing, meta.namespaces)
        return "typing", cp.Empty()

    async def _emit(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        e = frame.emit
        payload = value_to_python(e.payload) if e.HasField("payload") else None
        request = EmitRequest(e.name, payload, e.room_id, e.user_id, e.volatile, e.client_event_id)
        emission = await emit(self.ctx.service, meta, meta.namespaces, request)
        result = cp.EmitResult(
            duplicate=emission.duplicate,
            delivered=emission.delivered,
            handler_error=emission.handler_error,
        )
        if emission.event is not None:
            result.event.CopyFrom(emission.event)
        if emission.answer is not None:
            try:
                json_format.ParseDict(emission.answer, result.answer)
            except (json_format.ParseError, TypeError, ValueError):
                result.handler_error = "the plugin's answer is not JSON"
        return "emit", result

    async def _history(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        h = frame.history
        await self.ctx.service.wait_projected(self._last_write)
        rows, has_more = await self.ctx.service.timeline(
            meta.user_id,
            h.room_id,
            before=h.before if h.HasField("before") else None,
            after=h.after if h.HasField("after") else None,
            limit=h.limit if h.HasField("limit") else 50,
            scope=meta.namespaces,
        )
        items = [
            cp.TimelineItem(
                position=r.position,
                message_id=r.message_id,
                author_id=r.author_id,
                text=r.text,
                client_msg_id=r.client_msg_id,
                edited=r.edited,
                deleted=r.deleted,
                posted_at=r.posted_at,
                trace_id=r.trace_id,
            )
            for r in rows
        ]
        return "history", cp.HistoryResult(messages=items, has_more=has_more)

    async def _refresh(self, frame: ClientFrame, meta: EventMeta) -> tuple[str, Message]:
        claims = self.ctx.verifier.verify(frame.refresh.token)
        if claims.user_id != self.session.user_id:
            raise AuthError("a refreshed token must be for the same user")
        if claims.device_id not in ("", self.session.device_id):
            raise AuthError("a refreshed token must be for the same device")
        revoked = await self.ctx.service.store.revoked_at(claims.user_id, self.session.device_id)
        if claims.issued_at <= revoked:
            raise AuthError("token revoked")
        if not self.session.refresh(claims.expires_at, claims.issued_at, time.time()):
            raise AuthError("the session reached its maximum age; connect again")
        return "refresh", cp.Empty()
