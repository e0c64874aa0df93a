from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.auth import AuthError, TokenExpired, TokenVerifier, mint_token

SECRET = "s" * 48


def verifier(**kwargs: object) -> TokenVerifier:
    return TokenVerifier(audience="tidings", issuer="tidings", secret=SECRET, **kwargs)  # type: ignore[arg-type]


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "alice",
        "aud": "tidings",
        "iss": "tidings",
        "iat": now,
        "exp": now + 60,
    }
    base.update(overrides)
    return base


def test_a_minted_token_verifies() -> None:
    token = mint_token("alice", secret=SECRET, audience="tidings", issuer="tidings")
    assert verifier().verify(token).user_id == "alice"


@pytest.mark.parametrize(
    "payload",
    [
        claims(aud="someone-else"),
        claims(iss="evil"),
        {k: v for k, v in claims().items() if k != "exp"},
        {k: v for k, v in claims().items() if k != "sub"},
        claims(sub=""),
    ],
    ids=["audience", "issuer", "no-exp", "no-sub", "empty-sub"],
)
def test_wrong_claims_are_rejected(payload: dict[str, object]) -> None:
    with pytest.raises(AuthError):
        verifier().verify(jwt.encode(payload, SECRET, algorithm="HS256"))


def test_expired_tokens_are_rejected_beyond_the_leeway() -> None:
    now = int(time.time())
    stale = jwt.encode(claims(exp=now - 60, iat=now - 120), SECRET, algorithm="HS256")
    with pytest.raises(TokenExpired):
        verifier(leeway=10).verify(stale)
    recent = jwt.encode(claims(exp=now - 5, iat=now - 120), SECRET, algorithm="HS256")
    assert verifier(leeway=10).verify(recent).user_id == "alice"


def test_wrong_signature_and_alg_none_are_rejected() -> None:
    with pytest.raises(AuthError):
        verifier().verify(jwt.encode(claims(), "x" * 48, algorithm="HS256"))
    unsigned = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        verifier().verify(unsigned)
    with pytest.raises(AuthError):
        verifier().verify("not-a-jwt")


def test_es256_with_a_public_key_and_no_hmac_confusion() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    asym = TokenVerifier(audience="tidings", issuer="tidings", public_key=public_pem)
    assert asym.verify(jwt.encode(claims(), private, algorithm="ES256")).user_id == "alice"
    with pytest.raises(AuthError):
        asym.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))


def test_mixing_key_families_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(audience="a", issuer="i", secret=SECRET, algorithms=("RS256",))
    with pytest.raises(ValueError):
        TokenVerifier(audience="a", issuer="i")
