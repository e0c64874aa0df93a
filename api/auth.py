"""JWT verification (pyjwt) with an algorithm allow-list, and development token minting.

Tokens must carry ``sub``, ``exp``, ``iat``, ``aud`` and ``iss``; the audience and issuer must
match the configured ones; the algorithm must be one of the configured family (HMAC with a
shared secret, or RS256/ES256 with a public key — never both, so a public key can never be
used as an HMAC secret).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from domain.errors import InvalidArgument
from domain.values import check_user_id

__all__ = ["AuthError", "Claims", "TokenExpired", "TokenVerifier", "mint_token"]

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


class TokenVerifier:
    def __init__(
        self,
        *,
        audience: str,
        issuer: str,
        secret: str | None = None,
        public_key: str | None = None,
        algorithms: tuple[str, ...] | None = None,
        leeway: float = 10.0,
    ) -> None:
        if (secret is None) == (public_key is None):
            raise ValueError("configure exactly one of a JWT secret or a JWT public key")
        allowed = HMAC_ALGORITHMS if secret is not None else ASYMMETRIC_ALGORITHMS
        self._algorithms = list(algorithms or allowed)
        if not set(self._algorithms) <= set(allowed):
            raise ValueError(f"algorithms {self._algorithms} do not fit the key; use {allowed}")
        self._key = secret if secret is not None else public_key
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway

    def verify(self, token: str) -> Claims:
        if not token:
            raise AuthError("a token is required")
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=self._algorithms,
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
        return Claims(user_id, float(claims["exp"]))


def mint_token(
    user_id: str,
    *,
    secret: str,
    audience: str,
    issuer: str,
    ttl_seconds: int = 24 * 3600,
    now: float | None = None,
) -> str:
    """An HS256 token for ``user_id`` (development and tests)."""
    issued = int(now if now is not None else time.time())
    payload = {
        "sub": check_user_id(user_id),
        "aud": audience,
        "iss": issuer,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(payload, secret, algorithm="HS256")
