"""The one place where errors become wire codes: WebSocket error codes and HTTP statuses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from api.auth import AuthError, TokenExpired
from api.connect_proxy import ProxyUnavailable
from api.limits import RateLimited
from api.plugins import PluginFailed
from domain.errors import Conflict, DomainError, Forbidden, InvalidArgument, NotFound
from projections.store import StoreUnavailable
from proto.wire import ErrorCode
from streams.log import LogUnavailable

__all__ = ["WireFault", "fault_of"]


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
