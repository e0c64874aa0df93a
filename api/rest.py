"""REST endpoints (FastAPI). Every route authenticates with a Bearer JWT and every room read
checks membership; errors are ``{"error": {"code", "message", "temporary"}}`` bodies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import AuthError
from api.events import EmitRequest, emit
from api.rest_models import (
    ERROR_RESPONSES,
    KIND_NAMES,
    ROLE_NAMES,
    ROLE_VALUES,
    STATUS_NAMES,
    AddMemberIn,
    ChangeRoleIn,
    CreateRoomIn,
    DeviceOut,
    EmitIn,
    EmitOut,
    EventOut,
    InboxEventOut,
    InboxOut,
    MemberOut,
    MessageOut,
    PresenceOut,
    RoomOut,
    SendIn,
    TimelineOut,
)
from api.server_models import DirectoryOut, directory_out
from api.service import Scope, Tidings, parse_room_id
from domain import commands as c
from domain.errors import InvalidArgument, RoomNotFound, UserNotFound
from domain.namespaces import DEFAULT_NAMESPACE, check_namespace_name
from domain.values import EventMeta, Role, RoomKind, check_device_id, check_user_id, new_trace_id
from projections.store import MessageRow, PresenceRow, RoomRow
from proto.codec import envelope_to_dict

__all__ = ["router"]

_bearer = HTTPBearer(auto_error=False)

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


def tidings(request: Request) -> Tidings:
    service: Tidings = request.app.state.runtime.service
    return service


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise AuthError("send Authorization: Bearer <token>")
    runtime = request.app.state.runtime
    claims = runtime.verifier.verify(credentials.credentials)
    device = claims.device_id or REST_DEVICE
    if claims.issued_at <= await runtime.service.store.revoked_at(claims.user_id, device):
        raise AuthError("token revoked")
    request.state.scope = claims.namespaces
    user_id: str = claims.user_id
    return user_id


def current_scope(request: Request, user: Annotated[str, Depends(current_user)]) -> Scope:
    """The namespaces the caller's token grants: REST reads and acts in all of them."""
    scope: Scope = request.state.scope
    return scope


User = Annotated[str, Depends(current_user)]
Granted = Annotated[Scope, Depends(current_scope)]
Service = Annotated[Tidings, Depends(tidings)]


REST_DEVICE = "rest"
"""The device REST requests act as (only a revocation of every device applies to it)."""

INT64_MAX = 2**63 - 1
Limit = Annotated[int, Query(ge=1, le=INT64_MAX)]


def user_named(user_id: str) -> str:
    """A user named in a path: one whose id cannot exist is not found (404). In a body, an
    id that breaks the rule is an invalid argument (422), as every other value
    (``check_user_id``)."""
    try:
        return check_user_id(user_id)
    except InvalidArgument:
        raise UserNotFound() from None


def _meta(user_id: str, scope: Scope) -> EventMeta:
    return EventMeta(user_id, REST_DEVICE, new_trace_id(), namespaces=scope)


def _room_out(row: RoomRow) -> RoomOut:
    return RoomOut(
        room_id=row.room_id,
        kind=KIND_NAMES.get(row.kind, "group"),
        name=row.name,
        public=row.public,
        head=row.head,
        last_activity=row.last_activity,
        role=ROLE_NAMES.get(row.role),
        read_up_to=row.read_up_to,
        delivered_up_to=row.delivered_up_to,
        unread=row.unread,
        streamed_since=row.streamed_since,
    )


def message_out(row: MessageRow) -> MessageOut:
    return MessageOut(
        position=row.position,
        message_id=row.message_id,
        author_id=row.author_id,
        text=row.text,
        client_msg_id=row.client_msg_id,
        posted_at=row.posted_at,
        trace_id=row.trace_id,
        edited=row.edited,
        deleted=row.deleted,
    )


def presence_out(row: PresenceRow) -> PresenceOut:
    return PresenceOut(
        user_id=row.user_id,
        online=row.online,
        devices={d: STATUS_NAMES.get(s, "offline") for d, s in row.devices.items()},
    )


@router.get("/rooms", summary="My rooms with unread counts")
async def list_rooms(user: User, service: Service, scope: Granted) -> list[RoomOut]:
    return [_room_out(r) for r in await service.rooms(user, scope)]


@router.post(
    "/rooms", status_code=201, summary="Create a group room or a channel (you become its owner)"
)
async def create_room(body: CreateRoomIn, user: User, service: Service, scope: Granted) -> RoomOut:
    room_id = uuid.uuid4()
    kind = RoomKind.CHANNEL if body.kind == "channel" else RoomKind.GROUP
    namespace = check_namespace_name(body.namespace)
    command = c.CreateRoom(_meta(user, scope), room_id, body.name, body.public, kind, namespace)
    await service.execute(command, wait_projected=True)
    return _room_out(await service.room(user, str(room_id), scope))


@router.get(
    "/rooms/public",
    summary="The directory: public rooms of my namespaces, searchable by name",
)
async def public_rooms(
    user: User,
    service: Service,
    scope: Granted,
    q: Annotated[str, Query(max_length=200, description="Part of the name")] = "",
    after: Annotated[str, Query(max_length=64, description="nextAfter of the last page")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DirectoryOut:
    rows = await service.store.directory(scope, query=q, after=after, limit=limit)
    return directory_out(rows, limit)


@router.get("/rooms/{room_id}", summary="One of my rooms")
async def get_room(room_id: str, user: User, service: Service, scope: Granted) -> RoomOut:
    return _room_out(await service.room(user, room_id, scope))


@router.post(
    "/direct/{peer_id}",
    status_code=201,
    summary="Open the direct conversation with a user (created on first use)",
    responses={200: {"model": RoomOut, "description": "It existed already"}},
)
async def open_direct(
    peer_id: str,
    user: User,
    service: Service,
    scope: Granted,
    response: Response,
    namespace: Annotated[
        str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="Its namespace")
    ] = "default",
) -> RoomOut:
    command = c.OpenDirect(_meta(user, scope), user_named(peer_id), namespace)
    result = await service.execute(command, wait_projected=True)
    response.status_code = 200 if result.duplicate else 201
    return _room_out(await service.room(user, result.envelope.room_created.room_id, scope))


@router.get("/rooms/{room_id}/members", summary="Members of a room")
async def list_members(
    room_id: str, user: User, service: Service, scope: Granted
) -> list[MemberOut]:
    rows = await service.members(user, room_id, scope)
    return [
        MemberOut(user_id=m.user_id, role=ROLE_NAMES[m.role], joined_at=m.joined_at) for m in rows
    ]


@router.post("/rooms/{room_id}/members", status_code=201, summary="Add (invite) a member")
async def add_member(
    room_id: str, body: AddMemberIn, user: User, service: Service, scope: Granted
) -> MemberOut:
    result = await service.execute(
        c.AddMember(
            _meta(user, scope),
            parse_room_id(room_id),
            check_user_id(body.user_id),
            Role(ROLE_VALUES[body.role]),
        ),
        wait_projected=True,
    )
    return MemberOut(user_id=body.user_id, role=body.role, joined_at=result.envelope.position)


@router.put(
    "/rooms/{room_id}/members/{member_id}",
    summary="Change a member's role (owners only; the last owner cannot step down)",
)
async def change_role(
    room_id: str, member_id: str, body: ChangeRoleIn, user: User, service: Service, scope: Granted
) -> MemberOut:
    role = Role(ROLE_VALUES[body.role])
    command = c.ChangeRole(_meta(user, scope), parse_room_id(room_id), user_named(member_id), role)
    await service.execute(command, wait_projected=True)
    joined = [
        m.joined_at for m in await service.members(user, room_id, scope) if m.user_id == member_id
    ]
    return MemberOut(user_id=member_id, role=body.role, joined_at=joined[0] if joined else 0)


@router.delete(
    "/rooms/{room_id}/members/{member_id}",
    status_code=204,
    summary="Remove a member (admins), or leave (your own id)",
)
async def remove_member(
    room_id: str, member_id: str, user: User, service: Service, scope: Granted
) -> None:
    rid = parse_room_id(room_id)
    command: c.Command = (
        c.LeaveRoom(_meta(user, scope), rid)
        if member_id == user
        else c.RemoveMember(_meta(user, scope), rid, user_named(member_id))
    )
    await service.execute(command, wait_projected=True)


@router.get("/rooms/{room_id}/messages", summary="Room timeline paged by position")
async def list_messages(
    room_id: str,
    user: User,
    service: Service,
    scope: Granted,
    before: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="Exclusive upper bound")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=INT64_MAX, description="Exclusive lower bound")
    ] = None,
    limit: Limit = 50,
) -> TimelineOut:
    rows, has_more = await service.timeline(
        user, room_id, before=before, after=after, limit=limit, scope=scope
    )
    return TimelineOut(messages=[message_out(r) for r in rows], has_more=has_more)


@router.post(
    "/rooms/{room_id}/messages",
    status_code=201,
    summary="Send a message (idempotent by clientMsgId)",
    responses={200: {"description": "Sent before with this clientMsgId", "model": EventOut}},
)
async def send_message(
    room_id: str, body: SendIn, user: User, service: Service, scope: Granted, response: Response
) -> EventOut:
    result = await service.execute(
        c.PostMessage(_meta(user, scope), parse_room_id(room_id), body.client_msg_id, body.text),
        wait_projected=True,
    )
    response.status_code = 200 if result.duplicate else 201
    return EventOut(event=envelope_to_dict(result.envelope), duplicate=result.duplicate)


@router.post(
    "/rooms/{room_id}/events",
    summary="Emit an application event in a room (docs/events.md)",
)
async def emit_event(
    room_id: str, body: EmitIn, user: User, service: Service, scope: Granted
) -> EmitOut:
    namespace = await service.namespace_of(str(parse_room_id(room_id)))
    if namespace not in scope:
        raise RoomNotFound(room_id)
    stamp = "" if namespace == DEFAULT_NAMESPACE else namespace
    meta = EventMeta(user, REST_DEVICE, new_trace_id(), stamp, scope)
    request = EmitRequest(body.name, body.payload, room_id, "", body.volatile, body.client_event_id)
    emission = await emit(service, meta, scope, request)
    return EmitOut(
        event=envelope_to_dict(emission.event) if emission.event is not None else None,
        duplicate=emission.duplicate,
        delivered=emission.delivered,
        answer=emission.answer,
        handler_error=emission.handler_error,
    )


@router.get("/rooms/{room_id}/messages/{message_id}", summary="One message")
async def get_message(
    room_id: str, message_id: str, user: User, service: Service, scope: Granted
) -> MessageOut:
    return message_out(await service.message(user, room_id, message_id, scope))


@router.get("/inbox", summary="My inbox events after a position (for resume beyond the limit)")
async def get_inbox(
    user: User,
    service: Service,
    scope: Granted,
    after: Annotated[int, Query(ge=0, le=INT64_MAX, description="Exclusive lower bound")] = 0,
    limit: Limit = 100,
) -> InboxOut:
    entries, head = await service.inbox(user, after=after, limit=limit, scope=scope)
    epoch = service.store.epoch
    return InboxOut(
        events=[
            InboxEventOut(position=e.position, epoch=epoch, event=envelope_to_dict(e.envelope))
            for e in entries
        ],
        head=head,
        epoch=epoch,
    )


@router.get(
    "/rooms/{room_id}/stream",
    summary="A room stream's events after a room position (to resume beyond the limit)",
)
async def get_room_stream(
    room_id: str,
    user: User,
    service: Service,
    scope: Granted,
    after: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="Exclusive lower bound (a room position)")
    ] = 0,
    limit: Limit = 100,
) -> InboxOut:
    events, stream = await service.room_stream(user, room_id, after=after, limit=limit, scope=scope)
    epoch = service.store.epoch
    return InboxOut(
        events=[
            InboxEventOut(position=e.position, epoch=epoch, event=envelope_to_dict(e))
            for e in events
        ],
        head=stream.head,
        epoch=epoch,
    )


@router.get("/rooms/{room_id}/presence", summary="Presence of a room's members")
async def room_presence(
    room_id: str, user: User, service: Service, scope: Granted
) -> list[PresenceOut]:
    return [presence_out(r) for r in await service.room_presence(user, room_id, scope)]


@router.get("/users/online", summary="Online users who share a room with me")
async def online_users(user: User, service: Service, scope: Granted) -> list[PresenceOut]:
    return [presence_out(r) for r in await service.online_contacts(user, scope)]


@router.delete(
    "/rooms/{room_id}/bans/{member_id}",
    status_code=204,
    summary="Lift a ban: a member removed from the room may join again (admins)",
)
async def lift_ban(
    room_id: str, member_id: str, user: User, service: Service, scope: Granted
) -> None:
    command = c.LiftBan(_meta(user, scope), parse_room_id(room_id), user_named(member_id))
    await service.execute(command, wait_projected=True)


@router.get("/devices", summary="My devices, with their presence and last activity")
async def list_devices(user: User, service: Service, scope: Granted) -> list[DeviceOut]:
    return [
        DeviceOut(
            device_id=d.device_id,
            status=STATUS_NAMES.get(d.status, "offline"),
            last_activity=d.last_activity,
        )
        for d in await service.store.devices(user)
    ]


@router.post(
    "/devices/{device_id}/revoke",
    status_code=204,
    summary="Log a device out: its sockets close and its tokens issued until now are refused",
)
async def revoke_device(device_id: str, user: User, service: Service, scope: Granted) -> None:
    await service.execute(
        c.RevokeSessions(_meta(user, scope), check_device_id(device_id)),
        wait_projected=True,
    )


@router.post(
    "/sessions/revoke",
    status_code=204,
    summary="Log out everywhere: every socket of yours closes and every token issued "
    "until now is refused (this one included)",
)
async def revoke_sessions(user: User, service: Service, scope: Granted) -> None:
    await service.execute(c.RevokeSessions(_meta(user, scope), ""), wait_projected=True)
