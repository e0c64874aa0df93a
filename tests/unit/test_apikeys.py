"""API keys on the wire: format, hashing, the verifier's cache and revocation."""

from __future__ import annotations

import dataclasses

import pytest

from api.apikeys import ApiKeyVerifier, new_api_key
from api.auth import AuthError
from domain.apikeys import Scope
from projections.store import ApiKeyRow


class Keys:
    """The projection's side: rows by key id, and how often they were read."""

    def __init__(self) -> None:
        self.rows: dict[str, ApiKeyRow] = {}
        self.reads = 0

    async def api_key(self, key_id: str) -> ApiKeyRow | None:
        self.reads += 1
        return self.rows.get(key_id)


def issued(*scopes: str) -> tuple[str, ApiKeyRow]:
    new = new_api_key()
    row = ApiKeyRow(new.key_id, "shop", scopes, (), new.secret_hash, "now", "operator")
    return new.text, row


async def test_a_key_is_checked_against_its_hash_and_cached() -> None:
    keys = Keys()
    text, row = issued("publish")
    keys.rows[row.key_id] = row
    verifier = ApiKeyVerifier(keys, cache_seconds=60)  # type: ignore[arg-type]
    key = await verifier.verify(text)
    assert key.allows(Scope.PUBLISH) and not key.allows(Scope.READ)
    await verifier.verify(text)
    assert keys.reads == 1
    with pytest.raises(AuthError, match="unknown API key"):
        await verifier.verify(text[:-1] + ("A" if text[-1] != "A" else "B"))


async def test_a_revocation_is_seen_once_the_cache_expires() -> None:
    keys = Keys()
    text, row = issued("admin")
    keys.rows[row.key_id] = row
    verifier = ApiKeyVerifier(keys, cache_seconds=0)  # type: ignore[arg-type]
    assert (await verifier.verify(text)).allows(Scope.TOKENS)  # admin holds every scope
    keys.rows[row.key_id] = dataclasses.replace(row, revoked_at="later")
    with pytest.raises(AuthError, match="revoked"):
        await verifier.verify(text)


@pytest.mark.parametrize("text", ["", "tdk_", "eyJhbGciOi.x.y", "tdk_0123456789ab_short"])
async def test_anything_not_shaped_like_a_key_is_refused_before_a_lookup(text: str) -> None:
    keys = Keys()
    with pytest.raises(AuthError, match="not a user token"):
        await ApiKeyVerifier(keys).verify(text)  # type: ignore[arg-type]
    assert keys.reads == 0


async def test_the_operator_key_needs_no_projection() -> None:
    keys = Keys()
    operator = new_api_key()
    verifier = ApiKeyVerifier(keys, cache_seconds=0, operator=operator)  # type: ignore[arg-type]
    assert (await verifier.verify(operator.text)).allows(Scope.ADMIN)
    assert keys.reads == 0
