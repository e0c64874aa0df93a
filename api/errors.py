"""The one place where errors become wire codes: WebSocket error codes and HTTP statuses."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from api.auth import AuthError, TokenExpired
from api.connect_proxy import ProxyUnavailable
from api.limits import RateLimited
from api.plugins import PluginFailed
from domain.errors import Conflict, DomainError, Forbidden, InvalidArgument, NotFound
from projections.store import StoreUnavailable
from proto.wire import ErrorCode
from streams.log import LogUnavailable

__all__ = ["WireFault", "fault_of", "fault_of_invalid_request"]


@dataclass(frozen=True, slots=True)
class WireFault:
    code: int
    """A ``tidings.v1.ErrorCode`` value."""
    name: str
    """The code's name, as REST error bodies carry it."""
    status: int
    """The HTTP status for REST."""
    message: str
    temporary: bool = False
    retry_after_ms: int = 0


_DOMAIN = (
    (InvalidArgument, ErrorCode.INVALID_ARGUMENT, 422),
    (NotFound, ErrorCode.NOT_FOUND, 404),
    (Forbidden, ErrorCode.FORBIDDEN, 403),
    (Conflict, ErrorCode.CONFLICT, 409),
)


def fault_of(exc: Exception) -> WireFault:
    """Maps any error to its wire code; unknown errors become INTERNAL without details."""

    def fault(code: int, status: int, message: str, temporary: bool = False) -> WireFault:
        return WireFault(code, ErrorCode.Name(code), status, message, temporary)

    if isinstance(exc, DomainError):
        for cls, code, status in _DOMAIN:
            if isinstance(exc, cls):
                return fault(code, status, str(exc))
        return fault(ErrorCode.BAD_REQUEST, 400, str(exc))
    if isinstance(exc, RateLimited):
        retry = max(1, math.ceil(exc.retry_after * 1000))
        return WireFault(ErrorCode.RATE_LIMITED, "RATE_LIMITED", 429, str(exc), True, retry)
    if isinstance(exc, TokenExpired):
        return fault(ErrorCode.TOKEN_EXPIRED, 401, str(exc))
    if isinstance(exc, AuthError):
        return fault(ErrorCode.UNAUTHORIZED, 401, str(exc))
    if isinstance(exc, StoreUnavailable | LogUnavailable):
        return fault(ErrorCode.UNAVAILABLE, 503, "temporarily unavailable; retry", True)
    if isinstance(exc, PluginFailed | ProxyUnavailable):
        return fault(ErrorCode.UNAVAILABLE, 503, str(exc), True)
    # A bug answers the same way every time: not temporary, so clients do not retry it.
    return fault(ErrorCode.INTERNAL, 500, "internal error")


# Pydantic error types that mean "not well-formed": the body is not JSON or not an object, a
# field is unknown, or a value has the wrong JSON type. Every other validation error (missing,
# empty, too long, out of range, not one of an enum's names) is a well-formed request the
# rules refuse. The WebSocket draws the same line (proto/wire.py, docs/protocol.md).
_SHAPE_ERRORS = frozenset({"json_invalid", "extra_forbidden", "model_attributes_type", "dict_type"})


def _is_shape_error(error: Mapping[str, Any]) -> bool:
    kind = str(error.get("type", ""))
    if kind == "missing" and tuple(error.get("loc", ())) == ("body",):
        return True  # no body at all
    return kind in _SHAPE_ERRORS or kind.endswith(("_type", "_parsing")) or kind == "int_from_float"


def fault_of_invalid_request(errors: Iterable[Mapping[str, Any]]) -> WireFault:
    """A REST request FastAPI could not validate: ``BAD_REQUEST`` (400) when any part of it
    is not well-formed, else ``INVALID_ARGUMENT`` (422); the message names each field."""
    errors = list(errors)
    shape = any(_is_shape_error(e) for e in errors)
    message = "; ".join(_describe(e) for e in errors)
    if shape:
        return WireFault(ErrorCode.BAD_REQUEST, "BAD_REQUEST", 400, message)
    return WireFault(ErrorCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", 422, message)


def _describe(error: Mapping[str, Any]) -> str:
    location = [str(p) for p in error.get("loc", ())]
    if location == ["body"]:
        return "body: must be a JSON object (Content-Type: application/json)"
    if error.get("type") == "json_invalid":
        # Pydantic locates a JSON syntax error as ("body", <character offset>).
        at = f" at character {location[1]}" if len(location) > 1 else ""
        return f"body: not valid JSON{at} ({error.get('ctx', {}).get('error', 'syntax error')})"
    return f"{'.'.join(location)}: {error.get('msg', 'invalid')}"
