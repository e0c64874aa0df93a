"""The connect proxy: for apps that issue no JWTs, the app's backend says who connects.

When ``TIDINGS_CONNECT_PROXY_URL`` is set, a connect whose token is not a valid Tidings JWT
is posted to that URL as JSON ``{"token", "deviceId", "namespace", "remoteAddr"}``, signed
with HMAC-SHA256 over ``<timestamp>.<body>`` (headers ``X-Tidings-Timestamp`` and
``X-Tidings-Signature: sha256=<hex>``). The app answers 200 with ``{"userId", "namespaces"?,
"expiresAt"?}`` to admit, or 401/403 (optionally ``{"reason"}``) to refuse. A timeout, a
network error or any other answer is the proxy being unavailable: the client is told
UNAVAILABLE (temporary) and reconnects later (docs/server-api.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from api.auth import AuthError, Claims
from domain.errors import InvalidArgument
from domain.namespaces import DEFAULT_NAMESPACE
from domain.values import check_user_id

__all__ = ["ConnectProxy", "ProxyUnavailable", "sign"]

DEFAULT_LIFETIME = 24 * 3600


class ProxyUnavailable(Exception):
    """The app's backend did not answer usefully in time: try again later."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class ConnectProxy:
    def __init__(self, url: str, secret: str | None, timeout: float) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._client = httpx.AsyncClient(timeout=timeout)

    async def authenticate(self, token: str, device_id: str, namespace: str, remote: str) -> Claims:
        body = orjson.dumps(
            {"token": token, "deviceId": device_id, "namespace": namespace, "remoteAddr": remote}
        )
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Tidings-Timestamp": timestamp}
        if self._secret:
            headers["X-Tidings-Signature"] = sign(self._secret, timestamp, body)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise ProxyUnavailable(
                f"the connect proxy did not answer within {self._timeout} s; retry"
            ) from None
        except httpx.HTTPError:
            raise ProxyUnavailable("the connect proxy cannot be reached; retry") from None
        if response.status_code in (401, 403):
            raise AuthError(f"refused by the app: {_reason(response)}")
        if response.status_code != 200:
            raise ProxyUnavailable(f"the connect proxy answered {response.status_code}; retry")
        return _claims(response)

    async def close(self) -> None:
        await self._client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return "no reason given"
    reason = data.get("reason") if isinstance(data, dict) else None
    return str(reason)[:200] if reason else "no reason given"


def _claims(response: httpx.Response) -> Claims:
    try:
        data: Any = response.json()
        user_id = check_user_id(str(data["userId"]))
        namespaces = data.get("namespaces") or [DEFAULT_NAMESPACE]
        if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
            raise ValueError("namespaces is a list of names")
        now = time.time()
        expires_at = float(data.get("expiresAt") or now + DEFAULT_LIFETIME)
    except (ValueError, KeyError, TypeError, InvalidArgument) as exc:
        raise ProxyUnavailable(f"the connect proxy's answer is not usable: {exc}") from None
    return Claims(user_id, expires_at, now, "", frozenset(namespaces))
