"""API keys on the wire: their format, and checking a presented key against the projection.

A key reads ``tdk_<key id>_<secret>``: the id names the key (in the log, in lists, in the
audit trail), the secret (256 random bits, urlsafe base64) proves it. The projection holds
the secret's SHA-256 only. A checked key is cached for ``cache_seconds``, so a revocation
takes effect in every process within that time plus the projection's lag.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from api.auth import AuthError
from domain.apikeys import Scope
from projections.store import ApiKeyRow, ProjectionReader

__all__ = ["ApiKey", "ApiKeyVerifier", "NewKey", "new_api_key", "secret_hash"]

_FORMAT = re.compile(r"^tdk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret_hash: str
    text: str
    """The whole key, shown once."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, secret_hash(secret), f"tdk_{key_id}_{secret}")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A working key: what it may do, and where."""

    key_id: str
    name: str
    scopes: frozenset[str]
    namespaces: frozenset[str]
    """Empty: every namespace."""

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    @property
    def device_id(self) -> str:
        """The device its acts are logged with."""
        return f"apikey:{self.key_id}"


class ApiKeyVerifier:
    def __init__(
        self, store: ProjectionReader, cache_seconds: float = 2.0, operator: NewKey | None = None
    ) -> None:
        """``operator``: an admin key known to this process only (never logged), for the
        operator's tools on the same machine (``api/server_lock.py``)."""
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKeyRow | None]] = {}
        if operator is not None:
            row = ApiKeyRow(
                operator.key_id, "operator", ("admin",), (), operator.secret_hash, "", ""
            )
            self._cache[operator.key_id] = (float("inf"), row)

    async def verify(self, text: str) -> ApiKey:
        """The key ``text`` names, if its secret matches and it is not revoked."""
        match = _FORMAT.match(text)
        if match is None:
            raise AuthError("the server API takes an API key (tdk_...), not a user token")
        key_id, secret = match.groups()
        row = await self._row(key_id)
        if row is None or not hmac.compare_digest(row.secret_hash, secret_hash(secret)):
            raise AuthError("unknown API key")
        if row.revoked_at:
            raise AuthError("API key revoked")
        return ApiKey(row.key_id, row.name, frozenset(row.scopes), frozenset(row.namespaces))

    async def _row(self, key_id: str) -> ApiKeyRow | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and (
            cached[0] == float("inf") or now - cached[0] < self._cache_seconds
        ):
            return cached[1]
        row = await self._store.api_key(key_id)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] == float("inf")}
        self._cache[key_id] = (now, row)
        return row
