"""Admin-scoped server API routes: API keys, the overview, audit answers and exports
(what the admin web UI at ``/admin`` shows; docs/server-api.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.apikeys import ApiKey, new_api_key
from api.cluster import ClusterView
from api.rest_models import ERROR_RESPONSES
from api.server_api import Admin, Service
from api.server_models import CreateKeyIn, KeyOut, NewKeyOut
from domain import commands as c
from domain.errors import ApiKeyNotFound, Forbidden, MessageNotFound, RoomNotFound
from domain.values import EventMeta, new_trace_id
from projections.audit import Cut, EventSelector, Receipts, RoomAsOf, aware
from projections.store import ApiKeyRow
from proto.codec import envelope_from_bytes, envelope_to_dict

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


def _everywhere(key: ApiKey) -> None:
    """The log holds every namespace: its audit takes an admin key for all of them."""
    if key.namespaces:
        raise Forbidden("audit answers need an admin key of every namespace")


def _key_out(row: ApiKeyRow) -> KeyOut:
    return KeyOut(
        key_id=row.key_id,
        name=row.name,
        scopes=list(row.scopes),
        namespaces=list(row.namespaces),
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


@router.get("/keys", summary="Every API key (revoked ones too); secrets are never shown")
async def list_keys(key: Admin, service: Service) -> list[KeyOut]:
    return [_key_out(row) for row in await service.store.api_keys()]


@router.post("/keys", status_code=201, summary="Create an API key (shown this once)")
async def create_key(body: CreateKeyIn, key: Admin, service: Service) -> NewKeyOut:
    requested = set(body.namespaces)
    if key.namespaces and (not requested or not requested <= key.namespaces):
        raise Forbidden("a key creates keys only for namespaces it acts in")
    new = new_api_key()
    meta = EventMeta(f"apikey:{key.name}", key.device_id, new_trace_id())
    command = c.CreateApiKey(
        meta, new.key_id, body.name, tuple(body.scopes), tuple(body.namespaces), new.secret_hash
    )
    result = await service.execute(command, wait_projected=True)
    created = result.envelope.api_key_created
    return NewKeyOut(
        key_id=new.key_id,
        name=created.name,
        scopes=list(created.scopes),
        namespaces=list(created.namespaces),
        created_at=result.envelope.occurred_at.ToJsonString(),
        created_by=meta.user_id,
        key=new.text,
    )


@router.delete("/keys/{key_id}", summary="Revoke an API key (every process within seconds)")
async def revoke_key(key_id: str, key: Admin, service: Service) -> KeyOut:
    meta = EventMeta(f"apikey:{key.name}", key.device_id, new_trace_id())
    await service.execute(c.RevokeApiKey(meta, key_id), wait_projected=True)
    row = await service.store.api_key(key_id)
    if row is None:
        raise ApiKeyNotFound(key_id)
    return _key_out(row)


@router.get(
    "/overview",
    summary="Every serving process with its numbers (those /metrics exposes) and the "
    "pipeline's lag",
)
async def overview(key: Admin, request: Request, service: Service) -> dict[str, Any]:
    runtime = request.app.state.runtime
    cluster = runtime.parts.cluster
    processes = [p.to_json() for p in await cluster.processes()] if cluster else []
    return {
        "mode": runtime.settings.mode,
        "readiness": await runtime.readiness(),
        "processes": processes,
        "lag": await _lag(cluster) if cluster else {},
        "online": len(await service.store.online_users()),
    }


async def _lag(cluster: ClusterView) -> dict[str, Any]:
    try:
        return await cluster.lag()
    except Exception as exc:  # the log cannot be reached now: say so, show the rest
        return {"error": f"lag unavailable: {type(exc).__name__}"}


@router.get("/audit/rooms/{room_id}", summary="A room as of a position or time (from the log)")
async def room_as_of(
    room_id: str,
    key: Admin,
    request: Request,
    at_position: Annotated[int | None, Query(alias="atPosition", ge=1)] = None,
    at_time: Annotated[datetime | None, Query(alias="atTime")] = None,
) -> dict[str, Any]:
    _everywhere(key)
    answer = RoomAsOf(room_id, Cut(at_position, aware(at_time)))
    async for envelope in _log(request):
        answer.observe(envelope)
    report: dict[str, Any] = answer.report()
    if not report["asOfPosition"]:
        raise RoomNotFound(room_id)  # none, or nothing in it up to the cut
    return report


@router.get(
    "/audit/receipts/{room_id}/{message_id}",
    summary="Who received and read a message, and when (from the log)",
)
async def receipts(room_id: str, message_id: str, key: Admin, request: Request) -> dict[str, Any]:
    _everywhere(key)
    answer = Receipts(room_id, message_id)
    async for envelope in _log(request):
        answer.observe(envelope)
    report: dict[str, Any] = answer.report()
    if not report["found"]:
        raise MessageNotFound(message_id)
    return report


@router.get(
    "/audit/export",
    summary="Events as JSON lines: a room's, a user's, or all",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One tidings.v1.Envelope (protobuf JSON mapping) per line",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def export(
    key: Admin,
    request: Request,
    room: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    _everywhere(key)
    selector = EventSelector(room_id=room, user_id=user, since=aware(since), until=aware(until))

    async def lines() -> AsyncIterator[bytes]:
        async for envelope in _log(request):
            if selector.selects(envelope):
                yield orjson.dumps(envelope_to_dict(envelope)) + b"\n"

    name = f"tidings-{room or user or 'all'}.jsonl".replace("/", "_")
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _log(request: Request) -> AsyncIterator[Any]:
    """The whole log, scanned from the start (the audit tools' one pass)."""
    from api.runtime import open_log_tools

    tools = await open_log_tools(request.app.state.runtime.settings)
    try:
        async for record in tools.scanner.scan():
            yield envelope_from_bytes(record.data)
    finally:
        await tools.close()
