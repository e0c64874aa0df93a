"""Kafka topic names, keys and settings (see ADR 5)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topics"]

DAY_MS = 24 * 3600 * 1000

FETCH_MAX_WAIT_MS = 500
"""How long the broker holds a Tidings consumer's fetch that finds nothing to return. The
broker answers a held fetch as soon as a record becomes readable, a transaction's commit
included (read_committed), so the wait adds no latency (measured on Kafka 4.1: a commit
reaches a consumer holding a 2 s fetch within 2 ms); it sets how often an idle consumer asks
again. At 25 ms an idle stack spent a third of a core polling; at 500, an eighth."""


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
