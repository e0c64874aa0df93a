"""Rate limits: token buckets per connection, per user and per address (pure; the caller
passes the time).

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; each command
takes one. A refusal says how long until a token is there, which the client receives as
``retryAfterMs`` with a ``RATE_LIMITED`` error (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BucketsByKey", "CommandBudget", "GatewayLimits", "Rate", "RateLimited", "TokenBucket"]


class RateLimited(Exception):
    """Over a budget: retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int


class TokenBucket:
    __slots__ = ("_tokens", "_updated", "rate")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self._tokens = float(rate.burst)
        self._updated = now

    def take(self, now: float) -> float:
        """Takes a token: 0.0 when there was one, else the seconds until there is one."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate.per_second

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.rate.burst

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.rate.burst), self._tokens + elapsed * self.rate.per_second)
        self._updated = now


class BucketsByKey:
    """One bucket per key (a user, an address). Full buckets are forgotten from time to
    time, so memory follows the keys active in the last ``burst / rate`` seconds."""

    def __init__(self, rate: Rate, sweep_every: int = 10_000) -> None:
        self.rate = rate
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_every = sweep_every
        self._taken = 0

    def take(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, now)
        self._taken += 1
        if self._taken % self._sweep_every == 0:
            self._sweep(now)
        return bucket.take(now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


WRITES = frozenset(
    {"join", "leave", "send", "edit", "delete", "ack", "presence", "typing", "refresh"}
)
READS = frozenset({"history", "follow"})


class CommandBudget:
    """The budgets of one connection: writes (per connection and per user) and reads.
    ``connect``, ``unfollow`` and ``pong`` are free (connects are limited per address,
    before the upgrade)."""

    __slots__ = ("_reads", "_user_writes", "_writes")

    def __init__(self, writes: Rate, reads: Rate, user_writes: BucketsByKey, now: float) -> None:
        self._writes = TokenBucket(writes, now)
        self._reads = TokenBucket(reads, now)
        self._user_writes = user_writes

    def take(self, command: str, user_id: str, now: float) -> float:
        """0.0 when the command may run, else the seconds to wait."""
        if command in WRITES:
            wait = self._writes.take(now)
            return wait or self._user_writes.take(user_id, now)
        if command in READS:
            return self._reads.take(now)
        return 0.0


@dataclass(frozen=True, slots=True)
class GatewayLimits:
    """Every limit of one gateway, with the state shared by its connections."""

    writes: Rate
    reads: Rate
    user_writes: BucketsByKey
    connects: BucketsByKey
    max_connections_per_user: int
    max_refused_in_a_row: int

    def budget(self, now: float) -> CommandBudget:
        return CommandBudget(self.writes, self.reads, self.user_writes, now)
