"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "COMMANDS",
    "CONNECTIONS",
    "DISCONNECTS",
    "PLUGIN_HOOKS",
    "command_totals",
    "count_command",
    "count_plugin",
]

COMMANDS = Counter(
    "tidings_commands_total", "Client commands by name and outcome", ["command", "outcome"]
)
CONNECTIONS = Gauge("tidings_connections", "Open WebSocket connections on this gateway")
DISCONNECTS = Counter("tidings_disconnects_total", "Closed connections by close code", ["code"])


_command_counters: dict[tuple[str, str], Counter] = {}


def count_command(command: str, outcome: str) -> None:
    """``COMMANDS.labels(command, outcome).inc()``, with the labelled child looked up once."""
    counter = _command_counters.get((command, outcome))
    if counter is None:
        counter = _command_counters[(command, outcome)] = COMMANDS.labels(command, outcome)
    counter.inc()


PLUGIN_HOOKS = Counter(
    "tidings_plugin_hooks_total",
    "Plugin hook runs by plugin, hook (filter, handler, observer) and outcome",
    ["plugin", "hook", "outcome"],
)


def count_plugin(plugin: str, hook: str, outcome: str) -> None:
    PLUGIN_HOOKS.labels(plugin, hook, outcome).inc()


def command_totals() -> tuple[dict[str, int], int]:
    """Client commands handled so far by name, and how many of them did not succeed."""
    totals: dict[str, int] = {}
    errors = 0
    for metric in COMMANDS.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue  # the _created timestamps
            command, value = sample.labels["command"], int(sample.value)
            totals[command] = totals.get(command, 0) + value
            errors += value if sample.labels["outcome"] != "ok" else 0
    return totals, errors
