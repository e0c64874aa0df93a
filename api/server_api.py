"""The server API (``/api/v1``): how an application's backend acts on Tidings with an API
key (docs/server-api.md). User tokens are never accepted here.

A backend acts as a named identity (``as``, default ``system``) with an owner's rights in
every room of its key's namespaces, without being a member (``EventMeta.server``). Every
write takes an ``Idempotency-Key``: a room applies it once, and a repeat answers with the
event logged the first time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.apikeys import ApiKey
from api.auth import AuthError, mint_token
from api.events import EmitRequest, emit
from api.rest import INT64_MAX, Limit, message_out, presence_out, user_named
from api.rest_models import (
    ERROR_RESPONSES,
    ROLE_NAMES,
    ROLE_VALUES,
    MemberOut,
    PresenceOut,
    TimelineOut,
)
from api.server_models import (
    BatchIn,
    BatchOut,
    BroadcastIn,
    BroadcastOut,
    DirectoryOut,
    DisconnectIn,
    EmittedOut,
    LoggedOut,
    PublishEventIn,
    PublishIn,
    RoleIn,
    ServerAddMemberIn,
    ServerCreateRoomIn,
    TokenIn,
    TokenOut,
    UpdateRoomIn,
    directory_out,
)
from api.service import Tidings, parse_room_id
from domain import commands as c
from domain.apikeys import Scope
from domain.errors import DomainError, Forbidden, InvalidArgument, RoomNotFound
from domain.namespaces import DEFAULT_NAMESPACE, check_namespace_name
from domain.values import EventMeta, Role, RoomKind, check_device_id, check_user_id, new_trace_id
from projections.changes import DisconnectNotice
from projections.store import RoomRow
from proto.codec import envelope_to_dict
from streams.log import CommandResult

__all__ = ["Admin", "Service", "needs", "router", "scope_of"]

_bearer = HTTPBearer(auto_error=False)
router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
_REPEATED: dict[int | str, dict[str, object]] = {
    200: {"model": LoggedOut, "description": "A repeated Idempotency-Key: what it logged then"}
}

_REQUESTS = uuid.UUID("9a4e2f7c-0b3d-4e61-8c5a-1f2e3d4c5b6a")


async def api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    if credentials is None:
        raise AuthError("send Authorization: Bearer <API key>")
    key: ApiKey = await request.app.state.runtime.api_keys.verify(credentials.credentials)
    return key


def needs(scope: Scope) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency: the caller's key, which must hold ``scope`` (or admin)."""

    async def check(key: Annotated[ApiKey, Depends(api_key)]) -> ApiKey:
        if not key.allows(scope):
            raise Forbidden(f"this API key lacks the {scope.value!r} scope")
        return key

    return check


Publisher = Annotated[ApiKey, Depends(needs(Scope.PUBLISH))]
RoomKeeper = Annotated[ApiKey, Depends(needs(Scope.ROOMS))]
Reader = Annotated[ApiKey, Depends(needs(Scope.READ))]
Sessions = Annotated[ApiKey, Depends(needs(Scope.SESSIONS))]
Minter = Annotated[ApiKey, Depends(needs(Scope.TOKENS))]
Admin = Annotated[ApiKey, Depends(needs(Scope.ADMIN))]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="The request's id: a room applies it once (use a UUID)",
    ),
]


def tidings(request: Request) -> Tidings:
    service: Tidings = request.app.state.runtime.service
    return service


Service = Annotated[Tidings, Depends(tidings)]


def scope_of(key: ApiKey, service: Tidings) -> frozenset[str]:
    """The namespaces a key acts in: its own, or every namespace."""
    return key.namespaces or service.namespaces.names


def _meta(key: ApiKey, service: Tidings, identity: str, request_id: str = "") -> EventMeta:
    return EventMeta(
        check_user_id(identity),
        key.device_id,
        new_trace_id(),
        namespaces=scope_of(key, service),
        server=True,
        request_id=request_id,
    )


def _logged(result: CommandResult, response: Response | None = None) -> LoggedOut:
    if response is not None:
        response.status_code = 200 if result.duplicate else 201
    return LoggedOut(event=envelope_to_dict(result.envelope), duplicate=result.duplicate)


async def room_in_scope(service: Tidings, key: ApiKey, room_id: str) -> RoomRow:
    """The room, if it exists in one of the key's namespaces (else it is not found)."""
    row = await service.store.room(str(parse_room_id(room_id)))
    if row is None or await service.namespace_of(row.room_id) not in scope_of(key, service):
        raise RoomNotFound(room_id)
    return row


# ---------------------------------------------------------------- publishing


@router.post(
    "/rooms/{room_id}/messages",
    status_code=201,
    summary="Post a message to a room as a system or bot identity",
    responses=_REPEATED,
)
async def publish(
    room_id: str,
    body: PublishIn,
    key: Publisher,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    meta = _meta(key, service, body.identity, idempotency_key)
    command = c.PostMessage(meta, parse_room_id(room_id), idempotency_key, body.text)
    return _logged(await service.execute(command, wait_projected=True), response)


@router.post(
    "/rooms/{room_id}/events",
    status_code=201,
    summary="Emit an application event in a room (durable unless volatile)",
    responses={200: {"model": EmittedOut, "description": "A repeated Idempotency-Key"}},
)
async def publish_event(
    room_id: str,
    body: PublishEventIn,
    key: Publisher,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = "",
) -> EmittedOut:
    row = await room_in_scope(service, key, room_id)
    namespace = await service.namespace_of(row.room_id)
    meta = _meta(key, service, body.identity, idempotency_key)
    stamped = replace(meta, namespace="" if namespace == DEFAULT_NAMESPACE else namespace)
    request = EmitRequest(body.name, body.payload, room_id, "", body.volatile, idempotency_key)
    emission = await emit(service, stamped, meta.namespaces, request)
    response.status_code = 200 if emission.duplicate else 201
    event = envelope_to_dict(emission.event) if emission.event is not None else None
    return EmittedOut(event=event, duplicate=emission.duplicate, delivered=emission.delivered)


@router.post("/broadcast", summary="Post one message to many rooms (each applies it once)")
async def broadcast(
    body: BroadcastIn, key: Publisher, service: Service, idempotency_key: IdempotencyKey = ""
) -> BroadcastOut:
    meta = _meta(key, service, body.identity, idempotency_key)
    results: list[dict[str, Any]] = []
    for room_id in body.room_ids:
        try:
            command = c.PostMessage(meta, parse_room_id(room_id), idempotency_key, body.text)
            result = await service.execute(command)
        except DomainError as exc:
            results.append({"roomId": room_id, "error": {"code": exc.code, "message": str(exc)}})
            continue
        logged = _logged(result)
        results.append({"roomId": room_id, "event": logged.event, "duplicate": logged.duplicate})
    return BroadcastOut(results=results)


# ---------------------------------------------------------------- rooms and members


@router.post(
    "/rooms", status_code=201, summary="Create a group room or a channel", responses=_REPEATED
)
async def create_room(
    body: ServerCreateRoomIn,
    key: RoomKeeper,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    if body.room_id:
        room_id = parse_room_id(body.room_id)
    elif idempotency_key:
        room_id = uuid.uuid5(_REQUESTS, f"{key.key_id}\n{idempotency_key}")
    else:
        room_id = uuid.uuid4()
    meta = _meta(key, service, body.owner or body.identity, idempotency_key)
    kind = RoomKind.CHANNEL if body.kind == "channel" else RoomKind.GROUP
    namespace = check_namespace_name(body.namespace)
    command = c.CreateRoom(meta, room_id, body.name, body.public, kind, namespace)
    return _logged(await service.execute(command, wait_projected=True), response)


@router.patch("/rooms/{room_id}", summary="Rename a room or make it public or private")
async def update_room(
    room_id: str,
    body: UpdateRoomIn,
    key: RoomKeeper,
    service: Service,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    row = await room_in_scope(service, key, room_id)
    name = body.name if body.name is not None else row.name
    public = body.public if body.public is not None else row.public
    meta = _meta(key, service, "system", idempotency_key)
    command = c.ChangeRoomSettings(meta, parse_room_id(room_id), name, public)
    return _logged(await service.execute(command, wait_projected=True))


@router.delete("/rooms/{room_id}", summary="Delete a room: every member leaves it, for good")
async def delete_room(
    room_id: str, key: RoomKeeper, service: Service, idempotency_key: IdempotencyKey = ""
) -> LoggedOut:
    meta = _meta(key, service, "system", idempotency_key)
    command = c.DeleteRoom(meta, parse_room_id(room_id))
    return _logged(await service.execute(command, wait_projected=True))


@router.post(
    "/rooms/{room_id}/members", status_code=201, summary="Add a member", responses=_REPEATED
)
async def add_member(
    room_id: str,
    body: ServerAddMemberIn,
    key: RoomKeeper,
    service: Service,
    response: Response,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    meta = _meta(key, service, "system", idempotency_key)
    role = Role(ROLE_VALUES[body.role])
    command = c.AddMember(meta, parse_room_id(room_id), check_user_id(body.user_id), role)
    return _logged(await service.execute(command, wait_projected=True), response)


@router.put("/rooms/{room_id}/members/{user_id}", summary="Change a member's role")
async def change_role(
    room_id: str,
    user_id: str,
    body: RoleIn,
    key: RoomKeeper,
    service: Service,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    meta = _meta(key, service, "system", idempotency_key)
    role = Role(ROLE_VALUES[body.role])
    command = c.ChangeRole(meta, parse_room_id(room_id), user_named(user_id), role)
    return _logged(await service.execute(command, wait_projected=True))


@router.delete("/rooms/{room_id}/members/{user_id}", summary="Remove a member (a ban)")
async def remove_member(
    room_id: str,
    user_id: str,
    key: RoomKeeper,
    service: Service,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    meta = _meta(key, service, "system", idempotency_key)
    command = c.RemoveMember(meta, parse_room_id(room_id), user_named(user_id))
    return _logged(await service.execute(command, wait_projected=True))


# ---------------------------------------------------------------- reads


@router.get("/rooms", summary="Rooms of the key's namespaces, searchable by name")
async def list_rooms(
    key: Reader,
    service: Service,
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    namespace: Annotated[str, Query(max_length=32)] = "",
) -> DirectoryOut:
    scope = scope_of(key, service)
    namespaces = scope & {namespace} if namespace else scope
    rows = await service.store.directory(
        namespaces, query=q, after=after, limit=limit, public_only=False
    )
    return directory_out(rows, limit)


@router.get("/rooms/{room_id}", summary="One room")
async def get_room(room_id: str, key: Reader, service: Service) -> dict[str, Any]:
    row = await room_in_scope(service, key, room_id)
    kinds = {1: "group", 2: "direct", 3: "channel"}
    return {
        "roomId": row.room_id,
        "namespace": await service.namespace_of(row.room_id),
        "name": row.name,
        "kind": kinds.get(row.kind, "group"),
        "public": row.public,
        "head": row.head,
        "lastActivity": row.last_activity,
    }


@router.get("/rooms/{room_id}/members", summary="A room's members")
async def list_members(room_id: str, key: Reader, service: Service) -> list[MemberOut]:
    row = await room_in_scope(service, key, room_id)
    return [
        MemberOut(user_id=m.user_id, role=ROLE_NAMES[m.role], joined_at=m.joined_at)
        for m in await service.store.members(row.room_id)
    ]


@router.get("/rooms/{room_id}/messages", summary="A room's history, paged by position")
async def history(
    room_id: str,
    key: Reader,
    service: Service,
    before: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    after: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None,
    limit: Limit = 50,
) -> TimelineOut:
    row = await room_in_scope(service, key, room_id)
    page = min(limit, service.history_page_max)
    rows = await service.store.timeline(row.room_id, before=before, after=after, limit=page + 1)
    more = len(rows) > page
    rows = rows[:page] if after is not None else rows[-page:]
    return TimelineOut(messages=[message_out(r) for r in rows], has_more=more)


@router.get("/rooms/{room_id}/presence", summary="Presence of a room's members")
async def room_presence(room_id: str, key: Reader, service: Service) -> list[PresenceOut]:
    row = await room_in_scope(service, key, room_id)
    members = [m.user_id for m in await service.store.members(row.room_id)]
    return [presence_out(r) for r in await service.store.presence(members)]


@router.get("/presence", summary="Presence of the given users")
async def presence(
    key: Reader,
    service: Service,
    user: Annotated[list[str], Query(max_length=200, description="Repeat for several")],
) -> list[PresenceOut]:
    return [presence_out(r) for r in await service.store.presence([user_named(u) for u in user])]


@router.get("/users/online", summary="Every user with a device online")
async def online_users(key: Reader, service: Service) -> list[PresenceOut]:
    return [presence_out(r) for r in await service.store.online_users()]


# ---------------------------------------------------------------- sessions and tokens


@router.post(
    "/users/{user_id}/disconnect",
    summary="Close a user's connections (or one device's) on every gateway; they may reconnect",
)
async def disconnect(
    user_id: str, body: DisconnectIn, key: Sessions, service: Service
) -> dict[str, str]:
    notice = DisconnectNotice(user_named(user_id), check_device_id(body.device_id))
    await service.relay([notice])
    return {"status": "disconnecting"}


@router.post(
    "/users/{user_id}/revoke",
    summary="Revoke a user's sessions (or one device's): sockets close, tokens until now fail",
)
async def revoke(
    user_id: str,
    body: DisconnectIn,
    key: Sessions,
    service: Service,
    idempotency_key: IdempotencyKey = "",
) -> LoggedOut:
    meta = _meta(key, service, user_named(user_id), idempotency_key)
    command = c.RevokeSessions(meta, check_device_id(body.device_id))
    return _logged(await service.execute(command, wait_projected=True))


@router.post("/tokens", summary="Mint a user token (HS256 deployments)")
async def mint(body: TokenIn, key: Minter, request: Request, service: Service) -> TokenOut:
    settings = request.app.state.runtime.settings
    secret = settings.jwt_secret or (
        settings.development_secret() if settings.development_mode else None
    )
    if secret is None:
        raise InvalidArgument("tokens are minted only with an HS256 secret (TIDINGS_JWT_SECRET)")
    granted = set(body.namespaces) or {DEFAULT_NAMESPACE}
    if not granted <= scope_of(key, service):
        raise Forbidden("a key grants only namespaces it acts in")
    now = int(time.time())
    token = mint_token(
        body.user_id,
        secret=secret,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        ttl_seconds=body.ttl_seconds,
        now=now,
        device_id=check_device_id(body.device_id),
        namespaces=tuple(sorted(body.namespaces)),
    )
    return TokenOut(token=token, expires_at=now + body.ttl_seconds)


# ---------------------------------------------------------------- batch


@router.post("/batch", summary="Several server API calls in one request, in order")
async def batch(
    body: BatchIn,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> BatchOut:
    """Each call is made as if sent alone with the same key: its own scope check, its own
    idempotency key; one failing does not stop the others."""
    if credentials is None:
        raise AuthError("send Authorization: Bearer <API key>")
    await request.app.state.runtime.api_keys.verify(credentials.credentials)
    transport = httpx.ASGITransport(app=request.app)
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://batch") as client:
        for call in body.requests:
            if call.path.startswith("/v1/batch"):
                refusal = {"code": "INVALID_ARGUMENT", "message": "a batch holds no batch"}
                out.append({"status": 422, "body": {"error": refusal}})
                continue
            headers = {"Authorization": f"Bearer {credentials.credentials}"}
            if call.idempotency_key:
                headers["Idempotency-Key"] = call.idempotency_key
            answer = await client.request(
                call.method,
                call.path,
                json=call.body if call.method not in ("GET", "DELETE") else None,
                headers=headers,
            )
            out.append({"status": answer.status_code, "body": _body_of(answer)})
    return BatchOut(responses=out)


def _body_of(answer: httpx.Response) -> Any:
    """A call's answer: JSON, or the text of one that is not (an export's JSON lines)."""
    if not answer.content:
        return None
    try:
        return answer.json()
    except ValueError:
        return answer.text
