"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["COMMANDS", "CONNECTIONS", "DISCONNECTS"]

COMMANDS = Counter(
    "tidings_commands_total", "Client commands by name and outcome", ["command", "outcome"]
)
CONNECTIONS = Gauge("tidings_connections", "Open WebSocket connections on this gateway")
DISCONNECTS = Counter("tidings_disconnects_total", "Closed connections by close code", ["code"])
