"""``tidings checktoken``: would the server accept this token, and if not, why not.

Checks it as a gateway does at connect: signature, algorithm, audience, issuer, expiry
(the same verifier, from the same settings), then the revocations in the projections.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from api.auth import AuthError
from api.backend import Closers
from api.runtime import open_backend, token_verifier
from api.settings import DEV_SECRET_FILE, Settings

__all__ = ["run_checktoken"]


async def run_checktoken(settings: Settings, token: str, device: str = "") -> int:
    if settings.development_mode and not (settings.data_dir / DEV_SECRET_FILE).exists():
        raise FileNotFoundError(
            f"no development secret in {settings.data_dir}: no token of this server can "
            "be checked there (give --data-dir, or the server's TIDINGS_JWT_SECRET)"
        )
    try:
        claims = token_verifier(settings).verify(token)
    except AuthError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    closers = Closers()
    try:
        store = await open_backend(settings).open_projections(closers)
        revoked = await store.revoked_at(claims.user_id, device or claims.device_id or "rest")
    finally:
        await closers.close()
    if claims.issued_at <= revoked:
        at = datetime.fromtimestamp(revoked, UTC).isoformat()
        print(f"refused: revoked at {at} (the token was issued before)", file=sys.stderr)
        return 1
    expires = datetime.fromtimestamp(claims.expires_at, UTC).isoformat()
    namespaces = ", ".join(sorted(claims.namespaces))
    device_note = f", device {claims.device_id}" if claims.device_id else ""
    print(f"accepted: user {claims.user_id}{device_note}, namespaces {namespaces}, until {expires}")
    return 0
