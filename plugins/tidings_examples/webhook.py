"""A webhook observer: POSTs every logged event of its namespaces to a URL, signed, in log
order, at least once (a failed POST is retried, and the position moves on only past
delivered events, so a receiver that is down for a while receives everything afterwards).

Settings (``[plugins.webhook]``): ``url`` (http or https), ``secret`` (signs each body),
``kinds`` (payload kinds to send, e.g. ``["message_posted", "event_emitted"]``; default
all), ``timeout_seconds`` (default 5).

Each request carries the event as JSON (the protobuf JSON mapping of its envelope) and the
headers ``X-Tidings-Event-Id`` (dedupe on it: delivery is at least once) and
``X-Tidings-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from api.plugins import Plugin

__all__ = ["plugin", "sign"]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _camel(kind: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), kind)


def plugin(settings: Mapping[str, Any]) -> Plugin:
    url = settings.get("url")
    secret = settings.get("secret")
    timeout = settings.get("timeout_seconds", 5)
    kinds = settings.get("kinds")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url must be an http:// or https:// URL")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ValueError("secret must be a string of at least 16 characters")
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError("timeout_seconds must be a positive number")
    wanted = None if kinds is None else {_camel(k) for k in kinds}
    client = httpx.AsyncClient(timeout=timeout)

    async def post(event: Mapping[str, Any]) -> None:
        if wanted is not None and not wanted & event.keys():
            return
        body = orjson.dumps(event)
        response = await client.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Tidings-Event-Id": str(event.get("eventId", "")),
                "X-Tidings-Signature": sign(secret, body),
            },
        )
        response.raise_for_status()  # anything but 2xx: the runner retries this event

    return Plugin(observers={"post": post}, timeout_seconds=timeout + 1, close=client.aclose)
