from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.auth import AuthError, KeySetFile, TokenExpired, TokenVerifier, mint_token

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


# ------------------------------------------------------------------ key sets (JWKS)


def ec_key(kid: str) -> tuple[ec.EllipticCurvePrivateKey, dict[str, object]]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "ES256"}


def hmac_token(key: bytes, kid: str) -> str:
    """An HS256 token made by hand (pyjwt refuses to sign with a public key as secret)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims()).encode())
    signature = b64(hmac.new(key, header + b"." + body, hashlib.sha256).digest())
    return (header + b"." + body + b"." + signature).decode()


def key_set_verifier(path: Path) -> TokenVerifier:
    return TokenVerifier(audience="tidings", issuer="tidings", key_set=KeySetFile(path))


def test_a_key_set_checks_each_token_with_the_key_its_kid_names(tmp_path: Path) -> None:
    old, old_jwk = ec_key("2026-11")
    new, new_jwk = ec_key("2026-12")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [old_jwk, new_jwk]}))  # a rollover: both valid
    verify = key_set_verifier(path).verify
    for private, kid in ((old, "2026-11"), (new, "2026-12")):
        token = jwt.encode(claims(), private, algorithm="ES256", headers={"kid": kid})
        assert verify(token).user_id == "alice"
    swapped = jwt.encode(claims(), old, algorithm="ES256", headers={"kid": "2026-12"})
    with pytest.raises(AuthError):
        verify(swapped)
    with pytest.raises(AuthError, match="kid"):
        verify(jwt.encode(claims(), new, algorithm="ES256", headers={"kid": "unknown"}))
    with pytest.raises(AuthError, match="kid"):
        verify(jwt.encode(claims(), new, algorithm="ES256"))
    attacker, attacker_jwk = ec_key("2026-12")
    tricks = {"jku": "https://evil.example/jwks.json", "jwk": attacker_jwk, "kid": "2026-12"}
    with pytest.raises(AuthError):
        verify(jwt.encode(claims(), attacker, algorithm="ES256", headers=tricks))
    with pytest.raises(AuthError):  # key confusion: HS256 keyed by the public key's text
        verify(hmac_token(json.dumps(new_jwk).encode(), kid="2026-12"))

    path.write_text(json.dumps({"keys": [new_jwk]}))  # the old key retired
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    with pytest.raises(AuthError, match="kid"):
        verify(jwt.encode(claims(), old, algorithm="ES256", headers={"kid": "2026-11"}))


def test_a_key_set_without_usable_public_keys_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}))
    with pytest.raises(ValueError):
        KeySetFile(path)
    path.write_text("not json")
    with pytest.raises(ValueError):
        KeySetFile(path)
