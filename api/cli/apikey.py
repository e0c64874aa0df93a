"""The ``tidings apikey`` driver: create, list and revoke API keys (docs/server-api.md).

Creating and revoking are commands: in distributed mode they go to the command processor;
in embedded mode to the log directly, or, while a server runs on the data directory (the
log's single writer), to that server with the operator key it left there.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import httpx

from api.apikeys import new_api_key
from api.backend import Closers, ServerHoldsLog
from api.runtime import open_backend
from api.server_lock import read_operator_key
from api.settings import Settings
from domain import commands as c
from domain.apikeys import check_scopes
from domain.errors import DomainError
from domain.values import EventMeta, new_trace_id

__all__ = ["run_apikey"]

OPERATOR = EventMeta("operator", "cli")


async def run_apikey(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.apikey == "list":
            return await _list(settings)
        if args.apikey == "create":
            return await _create(settings, args.name, args.scope, args.namespace)
        return await _revoke(settings, args.key_id)
    except DomainError as exc:
        print(f"tidings apikey: {exc}", file=sys.stderr)
        return 1


async def _create(settings: Settings, name: str, scopes: list[str], namespaces: list[str]) -> int:
    check_scopes(scopes)
    body = {"name": name, "scopes": scopes, "namespaces": namespaces}
    new = new_api_key()
    command = c.CreateApiKey(
        EventMeta("operator", "cli", new_trace_id()),
        new.key_id,
        name,
        tuple(scopes),
        tuple(namespaces),
        new.secret_hash,
    )
    answer = await _execute(settings, command, "POST", "/api/v1/keys", body)
    key = answer.get("key", new.text) if isinstance(answer, dict) else new.text
    print(key)
    print("(shown once: only its hash is stored)", file=sys.stderr)
    return 0


async def _revoke(settings: Settings, key_id: str) -> int:
    command = c.RevokeApiKey(EventMeta("operator", "cli", new_trace_id()), key_id)
    await _execute(settings, command, "DELETE", f"/api/v1/keys/{key_id}", None)
    print(f"revoked {key_id} (every process refuses it within seconds)", file=sys.stderr)
    return 0


async def _list(settings: Settings) -> int:
    closers = Closers()
    try:
        store = await open_backend(settings).open_projections(closers)
        rows = await store.api_keys()
    finally:
        await closers.close()
    print(f"{'KEY ID':<14}{'NAME':<24}{'SCOPES':<28}{'NAMESPACES':<20}{'CREATED':<28}REVOKED")
    for r in rows:
        namespaces = ",".join(r.namespaces) or "*"
        print(
            f"{r.key_id:<14}{r.name[:23]:<24}{','.join(r.scopes)[:27]:<28}"
            f"{namespaces[:19]:<20}{r.created_at[:27]:<28}{r.revoked_at or '-'}"
        )
    return 0


async def _execute(
    settings: Settings, command: c.Command, method: str, path: str, body: Any
) -> Any:
    """Runs the command on the log's writer: this process, or the running server."""
    closers = Closers()
    try:
        bus = await open_backend(settings).open_command_bus(closers)
        result = await bus.execute(command)
        return {"duplicate": result.duplicate}
    except ServerHoldsLog as held:
        url, key = read_operator_key(held.key_file)
        async with httpx.AsyncClient(base_url=url, timeout=30, verify=False) as client:
            response = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {key}"}
            )
        answer = response.json()
        if response.status_code >= 400:
            message = answer.get("error", {}).get("message", response.text)
            raise DomainErrorFromServer(message) from None
        return answer
    finally:
        await closers.close()


class DomainErrorFromServer(DomainError):
    """The running server refused the request (its message says why): exit 1, like a
    refusal decided here."""

    code = "server_refused"
