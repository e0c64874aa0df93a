"""Application events (docs/events.md): ``emit`` a named JSON payload to a room or a user.

The namespace decides which names it accepts, whether each is durable (a command, through
the log, like a message) or volatile (relayed to connected recipients, never logged), and
the JSON Schema its payload must match. Plugin filters see an event before it is accepted;
a plugin handler for its name answers the sender after.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import orjson

from api.plugins import Call, Emitter, Inbound
from api.service import Scope, Tidings, parse_room_id
from domain import commands as c
from domain.errors import InvalidArgument, NotAMember
from domain.namespaces import DEFAULT_NAMESPACE, NamespaceRules
from domain.values import EventMeta, check_user_id, direct_room_id, new_trace_id
from projections.changes import AppEventNotice
from proto.codec import Envelope

__all__ = ["Emission", "EmitRequest", "emit"]


@dataclass(frozen=True, slots=True)
class EmitRequest:
    name: str
    payload: Any
    """Decoded JSON."""
    room_id: str = ""
    user_id: str = ""
    volatile: bool = False
    client_event_id: str = ""


@dataclass(frozen=True, slots=True)
class Emission:
    """What the sender is told: the logged event (durable) or how many recipients were
    online (volatile), and a plugin handler's answer."""

    event: Envelope | None = None
    duplicate: bool = False
    delivered: int = 0
    answer: Any = None
    handler_error: str = ""


async def emit(service: Tidings, meta: EventMeta, scope: Scope, request: EmitRequest) -> Emission:
    """Checks, filters and sends one application event for ``meta``'s user, acting in the
    namespace ``meta.namespace`` (the connection's)."""
    rules = service.namespaces[meta.namespace or DEFAULT_NAMESPACE]
    rule = rules.event_rule(request.name, request.volatile)
    if not (request.room_id or request.user_id) or (request.room_id and request.user_id):
        raise InvalidArgument("emit to a roomId or to a userId")
    payload = _checked_payload(rules, request.name, request.payload, rule.schema)
    sent = Inbound(
        "event", rules.name, request.room_id, meta.user_id, name=request.name, payload=payload
    )
    filtered = (await service.plugins.admit(sent, rules)).payload
    if filtered is not payload:  # what a filter made must fit the namespace's rules too
        payload = _checked_payload(rules, request.name, filtered, rule.schema)
    if rule.durable:
        emission = await _durable(service, meta, request, payload)
    else:
        emission = await _volatile(service, meta, scope, request, payload)
    position = emission.event.position if emission.event is not None else 0
    if emission.duplicate:
        return emission
    call = Call(rules.name, request.room_id, meta.user_id, request.name, payload, position)
    answer, error = await service.plugins.answer(
        rules, call, functools.partial(_PluginEmitter, service, meta, scope)
    )
    return Emission(emission.event, False, emission.delivered, answer, error)


def _checked_payload(
    rules: NamespaceRules, name: str, payload: Any, schema: Mapping[str, Any] | None
) -> Any:
    try:
        size = len(orjson.dumps(payload))
    except orjson.JSONEncodeError as exc:  # integers past 64 bits, nesting past 254 levels
        raise InvalidArgument(f"the payload cannot be kept as JSON: {exc}") from None
    if size > rules.max_payload_bytes:
        raise InvalidArgument(
            f"the payload is {size} bytes; namespace {rules.name!r} takes at most "
            f"{rules.max_payload_bytes}"
        )
    if schema is not None:
        error = jsonschema.exceptions.best_match(
            _validator(rules.name, name, schema).iter_errors(payload)
        )
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise InvalidArgument(
                f"the payload does not match the schema of {name!r} at {where}: {error.message}"
            )
    return payload


@functools.lru_cache(maxsize=1024)
def _validator_of(namespace: str, name: str, schema_json: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def _validator(
    namespace: str, name: str, schema: Mapping[str, Any]
) -> jsonschema.Draft202012Validator:
    return _validator_of(namespace, name, json.dumps(schema, sort_keys=True))


async def _durable(
    service: Tidings, meta: EventMeta, request: EmitRequest, payload: Any
) -> Emission:
    if request.user_id:
        # To one user, durably: through the direct room of the two, opened on first use.
        namespace = meta.namespace or DEFAULT_NAMESPACE
        peer = check_user_id(request.user_id)
        await service.execute(c.OpenDirect(meta, peer, namespace))
        room_id = direct_room_id(meta.user_id, peer, namespace)
    else:
        room_id = parse_room_id(request.room_id)
    text = orjson.dumps(payload).decode()
    result = await service.execute(
        c.EmitEvent(meta, room_id, request.name, text, request.client_event_id)
    )
    return Emission(event=result.envelope, duplicate=result.duplicate)


async def _volatile(
    service: Tidings, meta: EventMeta, scope: Scope, request: EmitRequest, payload: Any
) -> Emission:
    if request.room_id:
        if not meta.server:  # a backend (API key) reaches every room of its namespaces
            await service.require_member(meta.user_id, request.room_id, scope)
        members = [m.user_id for m in await service.store.members(request.room_id)]
        recipients = tuple(u for u in members if u != meta.user_id)
    else:
        target = check_user_id(request.user_id)
        if not await _share_a_room(service, meta.user_id, target, scope):
            raise NotAMember(target)  # a stranger cannot tell whether the user exists
        recipients = (target,)
    text = orjson.dumps(payload).decode()
    notice = AppEventNotice(
        recipients, request.room_id, meta.user_id, request.name, text, meta.namespace
    )
    await service.relay([notice])
    online = [row for row in await service.store.presence(list(recipients)) if row.online]
    return Emission(delivered=len(online))


async def _share_a_room(service: Tidings, user_id: str, other: str, scope: Scope) -> bool:
    mine = {row.room_id for row in await service.rooms(user_id, scope)}
    return any(row.room_id in mine for row in await service.store.rooms_of(other))


class _PluginEmitter(Emitter):
    """Lets a plugin's handler emit further events as the caller, from ``plugin:<name>``."""

    def __init__(self, service: Tidings, meta: EventMeta, scope: Scope, plugin: str) -> None:
        self._service = service
        self._meta = EventMeta(
            meta.user_id, f"plugin:{plugin}", new_trace_id(), meta.namespace, meta.namespaces
        )
        self._scope = scope

    async def emit(self, name: str, payload: Any, *, room_id: str, volatile: bool = False) -> None:
        request = EmitRequest(name, payload, room_id=room_id, volatile=volatile)
        rules = self._service.namespaces[self._meta.namespace or DEFAULT_NAMESPACE]
        rule = rules.event_rule(name, volatile)
        payload = _checked_payload(rules, name, payload, rule.schema)
        if rule.durable:
            await _durable(self._service, self._meta, request, payload)
        else:
            await _volatile(self._service, self._meta, self._scope, request, payload)
