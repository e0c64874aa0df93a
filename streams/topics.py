"""Kafka topic names, keys and settings (see ADR 5)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topics"]

DAY_MS = 24 * 3600 * 1000

FETCH_MAX_WAIT_MS = 25
"""How long the broker holds a Tidings consumer's fetch that finds nothing to return. Reads
of transactional topics (events, replies) may wait that long for a commit to become
visible, so it bounds a hop's added latency; shorter costs idle polling (at 10 ms, 0.3 of a
core for an idle stack on the 2-core box)."""


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic Tidings uses. ``commands`` and ``events`` must have the same partition
    count: the command processor that owns commands partition p writes events partition p."""

    prefix: str = "tidings"
    partitions: int = 4

    @property
    def commands(self) -> str:
        """CommandRecord, key = stream id (``room:<id>`` / ``user:<id>``)."""
        return f"{self.prefix}.commands"

    @property
    def events(self) -> str:
        """Envelope, key = stream id. The log of record: kept forever."""
        return f"{self.prefix}.events"

    @property
    def inbox(self) -> str:
        """InboxRecord, key = user id (fan-out of room events to members)."""
        return f"{self.prefix}.inbox"

    @property
    def replies(self) -> str:
        """CommandReply, key = gateway id."""
        return f"{self.prefix}.replies"

    @property
    def live(self) -> str:
        """LiveRecord for gateways, key = user id (or empty for multi-user notices)."""
        return f"{self.prefix}.live"

    def configs(self) -> dict[str, tuple[int, dict[str, str]]]:
        """name -> (partitions, topic config)."""
        forever = {"retention.ms": "-1", "cleanup.policy": "delete"}
        return {
            self.commands: (self.partitions, {"retention.ms": str(7 * DAY_MS)}),
            self.events: (self.partitions, forever),
            self.inbox: (self.partitions, {"retention.ms": str(7 * DAY_MS)}),
            self.replies: (1, {"retention.ms": str(3600 * 1000)}),
            self.live: (self.partitions, {"retention.ms": str(3600 * 1000)}),
        }
