"""JWT verification (pyjwt) with an algorithm allow-list, and development token minting.

Tokens must carry ``sub``, ``exp``, ``iat``, ``aud`` and ``iss``; the audience and issuer must
match the configured ones; the algorithm must be one of the configured family (HMAC with a
shared secret, or RS256/ES256 with a public key or a key set — never both, so a public key
can never be used as an HMAC secret). With a key set (JWKS), a token names its key by
``kid`` in its header; two keys are valid at once during a rollover; header parameters that
point elsewhere (``jku``, ``x5u``, ``jwk``) are never followed.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from domain.errors import InvalidArgument
from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import check_user_id

__all__ = ["AuthError", "Claims", "KeySetFile", "TokenExpired", "TokenVerifier", "mint_token"]

HMAC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")


class AuthError(Exception):
    """The token is missing, malformed, badly signed, or for another audience or issuer."""


class TokenExpired(AuthError):
    pass


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    expires_at: float
    issued_at: float = 0.0
    device_id: str = ""
    """The device a token is bound to (claim ``did``): its connections are that device, so
    revoking the device refuses the token for good."""
    namespaces: frozenset[str] = frozenset({DEFAULT_NAMESPACE})
    """The namespaces the token grants (claim ``ns``, a list of names; default only when
    absent: docs/namespaces.md)."""


class KeySetFile:
    """A JWKS file of RSA / EC public keys, read again whenever it changes (rotation:
    publish the new key beside the old one, switch the issuer, then drop the old key)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._load()  # a missing or malformed file fails at start, not at the first token

    def _load(self) -> None:
        stat = os.stat(self._path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            key_set = jwt.PyJWKSet.from_json(self._path.read_text())
        except (jwt.PyJWKSetError, ValueError) as exc:
            raise ValueError(f"{self._path}: not a usable JWKS: {exc}") from exc
        keys = {k.key_id: k for k in key_set.keys if k.key_id}
        if not keys or any(k.key_type not in ("RSA", "EC") for k in keys.values()):
            raise ValueError(f"{self._path}: needs RSA or EC public keys, each with a kid")
        self._keys, self._stamp = keys, stamp

    def key_for(self, token: str) -> jwt.PyJWK:
        with contextlib.suppress(OSError, ValueError):
            self._load()  # a rotation half written: keep the keys read last
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthError("invalid token: no key with this kid")
        return key


class TokenVerifier:
    def __init__(
        self,
        *,
        audience: str,
        issuer: str,
        secret: str | None = None,
        public_key: str | None = None,
        key_set: KeySetFile | None = None,
        algorithms: tuple[str, ...] | None = None,
        leeway: float = 10.0,
    ) -> None:
        if [secret, public_key, key_set].count(None) != 2:
            raise ValueError("configure exactly one of a JWT secret, public key or key set")
        allowed = HMAC_ALGORITHMS if secret is not None else ASYMMETRIC_ALGORITHMS
        self._algorithms = list(algorithms or allowed)
        if not set(self._algorithms) <= set(allowed):
            raise ValueError(f"algorithms {self._algorithms} do not fit the key; use {allowed}")
        self._key = secret if secret is not None else public_key
        self._key_set = key_set
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway

    def verify(self, token: str) -> Claims:
        if not token:
            raise AuthError("a token is required")
        key, algorithms = self._key, self._algorithms
        if self._key_set is not None:
            jwk = self._key_set.key_for(token)
            key, algorithms = jwk.key, [a for a in algorithms if a == jwk.algorithm_name]
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["sub", "exp", "iat", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        try:
            user_id = check_user_id(str(claims["sub"]))
        except InvalidArgument as exc:
            raise AuthError(str(exc)) from exc
        device = claims.get("did", "")
        if not isinstance(device, str):
            raise AuthError("invalid token: did must be a string")
        granted = claims.get("ns", [DEFAULT_NAMESPACE])
        if not isinstance(granted, list) or not all(isinstance(n, str) for n in granted):
            raise AuthError("invalid token: ns must be a list of namespace names")
        return Claims(
            user_id, float(claims["exp"]), float(claims["iat"]), device, frozenset(granted)
        )


def mint_token(
    user_id: str,
    *,
    secret: str,
    audience: str,
    issuer: str,
    ttl_seconds: int = 24 * 3600,
    now: float | None = None,
    device_id: str = "",
    namespaces: tuple[str, ...] = (),
) -> str:
    """An HS256 token for ``user_id`` (development and tests), bound to a device if given,
    granting ``namespaces`` (only default when empty)."""
    issued = int(now if now is not None else time.time())
    payload: dict[str, object] = {
        "sub": check_user_id(user_id),
        "aud": audience,
        "iss": issuer,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if device_id:
        payload["did"] = device_id
    if namespaces:
        payload["ns"] = list(namespaces)
    return jwt.encode(payload, secret, algorithm="HS256")
